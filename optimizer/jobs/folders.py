"""Output folders: one complete run per folder, whatever happens while it is written.

A run never writes into its output folder directly. It writes into a hidden staging folder
beside it (``.NAME.staging-XXXX``) and, once every file is there, the staging folder takes
the output folder's place (the old folder is renamed aside, the staging folder renamed in,
the old one removed). A run killed while writing therefore leaves the folder as it was (the
previous run, complete) or, between the two renames, absent; never a mix of two runs.
Staging and set-aside folders left by killed runs are removed by the next run beside them.

Without an explicit folder (``--out`` or ``[output] dir``), each run gets a new folder
under ``./roadopt-out/``: ``<name>-001``, ``<name>-002``, ... (the name from the scenario
or the network), and ``roadopt-out/latest`` points at the newest. With an explicit folder,
a folder holding a different run is refused unless ``overwrite``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .documents import jsonable
from .outputs import RUN_FILE

__all__ = ["DEFAULT_BASE", "LATEST", "OutputFolder", "output_folder", "run_name"]

log = logging.getLogger(__name__)

#: Where runs without an explicit output folder go (relative to the working directory).
DEFAULT_BASE = "roadopt-out"
#: The link (or, where links are not allowed, the one-line file) naming the newest run.
LATEST = "latest"
_STAGING = ".staging-"
_ASIDE = ".old-"


def run_name(text: str | None) -> str:
    """A folder-name stem from a scenario or network name: lower case, ``[a-z0-9_-]``."""
    if not text:
        return "run"
    stem = Path(str(text)).name
    for suffix in (".gz", ".bz2", ".zip", ".pbf", ".osm", ".graphml", ".toml", ".txt", ".tntp"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    stem = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-_")
    return stem[:60] or "run"


@dataclass
class OutputFolder:
    """Where a run's files go, and how they get there (:meth:`staged`).

    Not frozen: :attr:`path` becomes the folder the run really went to (a numbered
    folder moves on to the next free number when another run took it meanwhile).
    """

    #: The folder the run's files end up in.
    path: Path
    #: A folder numbered under :data:`DEFAULT_BASE` (no explicit folder was given).
    numbered: bool = False

    @contextlib.contextmanager
    def staged(self) -> Iterator[Path]:
        """Yield a staging folder; on success it becomes :attr:`path` (see the module)."""
        parent = self.path.parent
        parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(parent)
        stage = Path(
            tempfile.mkdtemp(prefix=f".{self.path.name}{_STAGING}{os.getpid()}-", dir=parent)
        )
        umask = os.umask(0)  # mkdtemp makes owner-only folders: give the usual permissions
        os.umask(umask)
        os.chmod(stage, 0o777 & ~umask)
        try:
            yield stage
            final = self._swap_in(stage)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        if self.numbered:
            _point_latest(final)
        self.path = final

    def _swap_in(self, stage: Path) -> Path:
        target = self.path
        if self.numbered:  # another run may have taken the number meanwhile
            while True:
                try:
                    os.rename(stage, target)
                    return target
                except OSError:
                    if not target.exists():
                        raise
                    target = _next_numbered(target.parent, _stem_of(target.name))
        if not target.exists():
            os.rename(stage, target)
            return target
        _carry_foreign_files(target, stage)
        aside = Path(
            tempfile.mkdtemp(prefix=f".{target.name}{_ASIDE}{os.getpid()}-", dir=target.parent)
        )
        os.rmdir(aside)
        os.rename(target, aside)
        os.rename(stage, target)
        shutil.rmtree(aside, ignore_errors=True)
        return target


def output_folder(
    out: str | os.PathLike[str] | None,
    *,
    name: str | None,
    overwrite: bool,
    key: dict[str, Any],
    base: str | os.PathLike[str] = DEFAULT_BASE,
) -> OutputFolder:
    """Choose and check a run's output folder; nothing is created yet.

    Parameters
    ----------
    out
        The folder asked for, or None for a new numbered folder under ``base``.
    name
        The scenario's or network's name, for a numbered folder (:func:`run_name`).
    overwrite
        Replace an explicit folder that holds a different run.
    key
        The run's settings; an explicit folder holding a run with the same settings is
        replaced without ``overwrite``.
    base
        The parent of numbered folders.

    Raises
    ------
    UsageError
        ``out`` is a file, the working directory or one above it, or holds a different
        run (or other files) and ``overwrite`` is not set.
    """
    if out is None:
        b = Path(base)
        if b.exists() and not b.is_dir():
            raise UsageError(f"{b} exists and is not a folder: give an output folder with --out")
        return OutputFolder(_next_numbered(b, run_name(name)), numbered=True)
    d = Path(out)
    if d.exists() and not d.is_dir():
        raise UsageError(f"--out {d}: exists and is not a folder")
    here = Path.cwd().resolve()
    if d.resolve() == here or d.resolve() in here.parents:
        raise UsageError(
            f"--out {d}: is the working folder or one above it; give the run a folder of "
            "its own (e.g. --out roadopt-out/NAME)"
        )
    if not d.exists() or overwrite:
        return OutputFolder(d)
    run_file = d / RUN_FILE
    if run_file.exists():
        try:
            old = json.loads(run_file.read_text(encoding="utf-8")).get("run", {}).get("settings")
        except (json.JSONDecodeError, OSError, AttributeError):
            old = None
        if old != jsonable(key):
            raise UsageError(
                f"{d} holds the outputs of a different run; choose another --out "
                "folder, pass --overwrite, or leave out --out for a new folder under "
                f"./{DEFAULT_BASE}/"
            )
    elif any(not p.name.startswith(".") for p in d.iterdir()):
        raise UsageError(
            f"{d} is not empty and holds no roadopt run; choose another --out "
            "folder or pass --overwrite (its other files are kept)"
        )
    return OutputFolder(d)


def remove_leftovers(parent: Path) -> None:
    """Remove the staging and set-aside folders of killed runs beside ``parent``'s folders.

    Their names carry the pid of the run that made them: those of a run still alive (one
    writing beside this one) are left alone.
    """
    with contextlib.suppress(OSError):
        for p in parent.iterdir():
            if not p.name.startswith(".") or not p.is_dir():
                continue
            m = re.search(rf"(?:{re.escape(_STAGING)}|{re.escape(_ASIDE)})(\d+)?-?", p.name)
            if m is None:
                continue
            if m.group(1) is not None and _alive(int(m.group(1))):
                continue
            log.info("removing %s, left by an interrupted run", p)
            shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs (this one counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's
        return True
    return True


def _stem_of(folder: str) -> str:
    m = re.fullmatch(r"(.*)-\d{3,}", folder)
    return m.group(1) if m else folder


def _next_numbered(base: Path, stem: str) -> Path:
    """``base/stem-NNN`` with NNN one above the highest taken."""
    taken = [0]
    if base.is_dir():
        pat = re.compile(re.escape(stem) + r"-(\d{3,})")
        for p in base.iterdir():
            m = pat.fullmatch(p.name)
            if m:
                taken.append(int(m.group(1)))
    return base / f"{stem}-{max(taken) + 1:03d}"


def _run_files() -> set[str]:
    """The names of every file a run writes (:mod:`.outputs` and :mod:`.report`)."""
    from .outputs import CALIBRATION_TABLE, FLOW_FILES, PLAN_TABLE
    from .report import REPORT_FILES

    return {RUN_FILE, PLAN_TABLE, CALIBRATION_TABLE, *FLOW_FILES, *REPORT_FILES}


def _carry_foreign_files(old: Path, stage: Path) -> None:
    """Move the files of ``old`` that no run writes (notes, the user's own) into ``stage``."""
    ours = _run_files()
    for p in old.iterdir():
        if p.name in ours or p.name.startswith(".") or (stage / p.name).exists():
            continue
        shutil.move(str(p), str(stage / p.name))


def _point_latest(folder: Path) -> None:
    """Make ``base/latest`` point at ``folder`` (a relative link, else a one-line file)."""
    link = folder.parent / LATEST
    tmp = folder.parent / f".{LATEST}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.symlink(folder.name, tmp, target_is_directory=True)
    except OSError:  # no links here (some Windows set-ups): a file naming the folder
        tmp.write_text(folder.name + "\n", encoding="utf-8")
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    os.replace(tmp, link)
