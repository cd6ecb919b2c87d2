"""Scenario files: one TOML file describes a whole run, so it can be repeated exactly.

The schema is derived from the settings of :mod:`optimizer.jobs.settings`: ``command``
(``optimize`` or ``assign``) picks the job (:data:`~optimizer.jobs.settings.JOBS`), and
every table and key of that job's sections is allowed, with the type, choices and checks
of its setting; anything else is an error that names the key and its line. Print the
schema with ``python -m optimizer.jobs.scenario`` (:func:`schema_text`). An example::

    name = "ziliujing-2030"          # label (default: the file name)
    command = "optimize"             # "optimize" (default) or "assign"
    seed = 0                         # seed of every random choice

    [network]                        # default: the built-in region
    path = "town.osm.pbf"            # or dataset / query (a place) / bbox / polygon
    profile = "china"
    dem = ["N29E104.hgt.zip"]        # heights and grades: SRTM tiles or GeoTIFFs

    [demand]
    n_zones = 12
    scale = 1.0

    [optimize]
    budget_share = 0.3
    weights = { internal = 0.5, external = 0.5 }

    [output]
    dir = "out"

Paths are relative to the scenario file; ``${VAR}`` (any environment variable, for
example ``${ROADOPT_DATA_DIR}``) is expanded in every string. The Zigong presets in
``networks/presets`` are scenario files.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import Any

from networks.errors import FileFormatError

from ..errors import OptionError
from .setting_types import (
    Field,
    Section,
    _whole,
    coerce,
    is_path,
    specs,
)
from .settings import (
    COMMANDS,
    JOBS,
    GatewayNote,
    Job,
)

__all__ = [
    "Scenario",
    "job_from_doc",
    "load_scenario",
    "preset_path",
    "presets",
    "run_scenario",
    "run_scenario_into",
    "scenario_from_dict",
    "schema",
    "schema_markdown",
    "schema_text",
]

#: Keys that moved to another table: (table, key) -> where they are now.
MOVED: dict[tuple[str, str], str] = {
    ("optimize", "value_of_time"): "[appraisal] value_of_time",
}

#: Array-of-tables a scenario may hold for documentation only (not used by code).
NOTES: dict[str, type[Section]] = {"gateway": GatewayNote}


@dataclass(frozen=True, eq=False)
class Scenario:
    """A checked scenario: its job settings, where it came from, its notes."""

    job: Job
    path: Path | None
    text: str = ""
    notes: tuple[Section, ...] = ()

    @property
    def name(self) -> str:
        """The scenario's name (its ``name`` key, else the file name)."""
        return str(self.job.meta.name or (self.path.stem if self.path else "scenario"))

    @property
    def command(self) -> str:
        """``optimize`` or ``assign``."""
        return self.job.meta.command

    @property
    def doc(self) -> dict[str, Any]:
        """Every setting of the run as a scenario document (paths resolved)."""
        return self.job.document()

    def get(self, table: str, key: str, default: Any = None) -> Any:
        """A value of :attr:`doc` by table and key."""
        return self.doc.get(table, {}).get(key, default)


def schema(job: type[Job]) -> dict[str, dict[str, Field]]:
    """TOML table -> key -> setting, for a job type (``""`` is the top level)."""
    out: dict[str, dict[str, Field]] = {}
    for f in job.fields():
        if f.spec.toml:
            out.setdefault(f.table, {})[f.key] = f
    return out


def schema_text() -> str:
    """The scenario schema of every command, for people (one line per key)."""
    lines = []
    for command, job in JOBS.items():
        lines.append(f'# command = "{command}"')
        for table, keys in schema(job).items():
            lines.append(f"[{table}]" if table else "# top level")
            for key, f in keys.items():
                lines.append(f"{key:18s} {f.describe()}")
            lines.append("")
    for table, cls in NOTES.items():
        lines.append(f"[[{table}]]  {(cls.__doc__ or '').strip().splitlines()[0]}")
        lines += [f"{f.key:18s} {f.describe()}" for f in specs(cls)]
    return "\n".join(lines) + "\n"


def _type_name(f: Field) -> str:
    """A setting's TOML type in words (``number``, ``text``, ``list of text``...)."""
    import typing

    base = f.base
    words = {bool: "true/false", int: "whole number", float: "number", str: "text"}
    if typing.get_origin(base) is tuple:
        args = [a for a in typing.get_args(base) if a is not Ellipsis]
        return "list of " + (words.get(args[0], "values") if args else "values")
    if typing.get_origin(base) is dict or base is dict:
        return "table of numbers"
    return words.get(base, "text")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def schema_markdown() -> str:
    """The scenario-file reference as Markdown (``docs/scenario-schema.md``).

    One table per command and TOML table: key, type, default, unit, what it does, and the
    command-line option that sets the same thing. Generated from the settings types of
    :mod:`.settings`; ``tests/test_scenario.py`` checks that the file in ``docs/`` is
    current (regenerate it with ``python -m optimizer.jobs.scenario --markdown``).
    """
    out = [
        "# Scenario files: every table and key",
        "",
        "Generated from `optimizer/jobs/settings.py` by "
        "`python -m optimizer.jobs.scenario --markdown`; do not edit by hand.",
        "",
        "A scenario file is TOML. `command` (top level) is `optimize` or `assign`; the",
        "tables below hold the settings of that command, each the same setting as the",
        "command-line option named in the last column. Relative paths resolve against the",
        "scenario file's folder and `${VAR}` is replaced by the environment variable VAR",
        "(e.g. `${ROADOPT_DATA_DIR}`). `roadopt presets` lists bundled scenario files to",
        "start from; `roadopt presets NAME` prints one.",
        "",
    ]
    for command, job in JOBS.items():
        out += [f'## `command = "{command}"`', ""]
        for table, keys in schema(job).items():
            out += [f"### `[{table}]`" if table else "### top level", ""]
            out += [
                "| key | type | default | unit | meaning | option |",
                "|---|---|---|---|---|---|",
            ]
            for key, f in keys.items():
                d = f.default
                if d is MISSING:
                    default = "(required)"
                elif d is None:
                    default = "(none)"
                elif isinstance(d, bool):
                    default = str(d).lower()
                elif isinstance(d, tuple):
                    default = ", ".join(map(str, d)) or "(none)"
                else:
                    default = str(d)
                meaning = f.spec.help
                if f.spec.choices is not None:
                    meaning += f" (one of {', '.join(map(str, f.spec.choices))})"
                if f.spec.source:
                    meaning += f" (source: {f.spec.source})"
                option = f"`{f.option}`" if f.spec.cli else ""
                out.append(
                    f"| `{key}` | {_type_name(f)} | {_cell(default)} | {_cell(f.spec.unit or '')} "
                    f"| {_cell(meaning)} | {option} |"
                )
            out.append("")
    for table, cls in NOTES.items():
        out += [f"## `[[{table}]]`", "", _cell((cls.__doc__ or "").strip().splitlines()[0]), ""]
        out += ["| key | type | default | unit | meaning |", "|---|---|---|---|---|"]
        for f in specs(cls):
            d = "(required)" if f.default is MISSING else f.default
            out.append(
                f"| `{f.key}` | {_type_name(f)} | {_cell(d)} | {_cell(f.spec.unit or '')} "
                f"| {_cell(f.spec.help)} |"
            )
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _line_of(text: str, table: str | None, key: str) -> int | None:
    """1-based line of ``key = ...`` (inside ``[table]`` when given) in the TOML text."""
    current = None
    for k, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        m = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?$", s)
        if m:
            current = m.group(1)
            continue
        if re.match(rf"^\"?{re.escape(key)}\"?\s*=", s) and (table is None or current == table):
            return k
        if table is None and current is None and s.startswith(f"[{key}"):
            return k
    return None


def error_at(where: str, text: str, table: str | None, key: str, msg: str) -> FileFormatError:
    """A scenario error naming the file, the line of ``table.key`` and the key."""
    table = table or None
    line = _line_of(text, table, key)
    name = key if table is None else f"{table}.{key}"
    return FileFormatError(where, msg, line=line, field=name)


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: str, where: str, text: str, f: Field) -> str:
    def sub(m: re.Match) -> str:
        v = os.environ.get(m.group(1))
        if v is None:
            raise error_at(
                where,
                text,
                f.table,
                f.key,
                f"uses ${{{m.group(1)}}}, but that environment variable is not set",
            )
        return v

    return _VAR.sub(sub, value)


def _value(f: Field, raw: Any, base: Path | None, where: str, text: str) -> Any:
    """A TOML value checked and converted for its setting (paths resolved)."""
    try:
        v = coerce(_whole(f, raw), f.type)
    except ValueError as exc:
        raise error_at(where, text, f.table, f.key, str(exc)) from None
    if isinstance(v, str):
        v = _path_value(f, _expand(v, where, text, f), base)
    elif isinstance(v, tuple) and all(isinstance(x, str) for x in v):
        v = tuple(_path_value(f, _expand(x, where, text, f), base) for x in v)
    return v


def _path_value(f: Field, v: str, base: Path | None) -> str:
    """A path setting's value resolved against the scenario's folder (others as they are)."""
    if is_path(f, v):
        p = Path(v).expanduser()
        if not p.is_absolute() and base is not None:
            p = base / p
        v = str(p)
    return v


def _section_values(doc: Mapping[str, Any], table: str) -> Mapping[str, Any]:
    """The key/value pairs of a table (the top level's plain values for ``""``)."""
    if not table:
        return {k: v for k, v in doc.items() if not isinstance(v, (dict, list))}
    return doc.get(table, {})


def job_from_doc(
    doc: Mapping[str, Any], *, base: Path | None = None, where: str = "scenario", text: str = ""
) -> tuple[Job, tuple[Section, ...]]:
    """Check a scenario document and build its job (and notes).

    Raises
    ------
    FileFormatError
        Naming the key and line of an unknown key, a wrong type, a value outside its
        choices, a missing required value, a value its setting refuses or an unset
        environment variable.
    """
    command = doc.get("command", "optimize")
    if command not in COMMANDS:
        raise error_at(
            where, text, None, "command", f"is {command!r}; choose one of {', '.join(COMMANDS)}"
        )
    job_cls = JOBS[command]
    tables = schema(job_cls)
    for key, val in doc.items():
        if key in tables.get("", {}) or key in NOTES:
            continue
        if key not in tables:
            known = [*tables.get("", {}), *(t for t in tables if t), *NOTES]
            raise error_at(where, text, None, key, f"unknown key; known: {', '.join(known)}")
        if not isinstance(val, dict):
            raise error_at(where, text, None, key, f"must be a table, e.g. [{key}]")
        for k2 in val:
            if (key, k2) in MOVED:
                raise error_at(where, text, key, k2, f"has moved: write it as {MOVED[key, k2]}")
            if k2 not in tables[key]:
                raise error_at(
                    where,
                    text,
                    key,
                    k2,
                    f"unknown key in [{key}] for command = {command!r}; known: "
                    f"{', '.join(tables[key])}",
                )
    sections: dict[str, Any] = {}
    for name, cls in job_cls.SECTIONS.items():
        values: dict[str, Any] = {}
        for f in specs(cls):
            if not f.spec.toml:
                continue
            found = _section_values(doc, f.table)
            if f.key in found:
                values[f.name] = _value(f, found[f.key], base, where, text)
        sections[name] = _build(cls, values, job_cls, where, text)
    notes = []
    for note_table, note_cls in NOTES.items():
        items = doc.get(note_table, [])
        if not isinstance(items, list) or not all(isinstance(v, dict) for v in items):
            raise error_at(
                where, text, None, note_table, f"must be an array of note_tables [[{note_table}]]"
            )
        keys = {f.key: f for f in specs(note_cls)}
        for item in items:
            given: dict[str, Any] = {}
            for k, v in item.items():
                if k not in keys:
                    raise error_at(
                        where, text, note_table, k, f"unknown key in [[{note_table}]]; known: "
                        f"{', '.join(keys)}"
                    )  # fmt: skip
                given[keys[k].name] = _value(keys[k], v, base, where, text)
            notes.append(_build(note_cls, given, job_cls, where, text))
    return job_cls(**sections), tuple(notes)


def _build(
    cls: type[Section], values: dict[str, Any], job: type[Job], where: str, text: str
) -> Section:
    try:
        return cls(**values)
    except OptionError as exc:
        f = next((f for f in specs(cls) if f.name == exc.option), None)
        if f is None:
            f = next(f for f in job.fields() if f.name == exc.option)
        raise error_at(where, text, f.table, f.key, exc.detail) from None


def scenario_from_dict(
    doc: Mapping[str, Any], *, base: Path | None = None, where: str = "scenario"
) -> Scenario:
    """Check a scenario given as a dict (paths relative to ``base``)."""
    job, notes = job_from_doc(doc, base=base, where=where)
    return Scenario(job, None, "", notes)


def preset_path(name: str) -> Path | None:
    """The file of the bundled preset ``name`` (None: no such preset)."""
    from importlib import resources

    cand = resources.files("networks") / "presets" / f"{name}.toml"
    return Path(str(cand)) if cand.is_file() else None


def presets() -> list[str]:
    """Names of the bundled scenario presets (``roadopt run NAME``)."""
    from importlib import resources

    folder = resources.files("networks") / "presets"
    return sorted(Path(str(p)).stem for p in folder.iterdir() if str(p).endswith(".toml"))


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file (a bundled preset name works too).

    Raises
    ------
    FileFormatError
        Naming the key and line of an unknown key, a wrong type, a value outside its
        choices, a missing required value or an unset environment variable.
    """
    p = Path(path)
    if not p.exists() and not p.suffix:
        found = preset_path(str(path))
        if found is None:
            raise FileNotFoundError(f"{path}: no such scenario file or bundled preset")
        p = found
    elif not p.exists():
        raise FileNotFoundError(f"{p}: no such scenario file")
    text = p.read_text(encoding="utf-8")
    where = str(p)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise FileFormatError(
            where, f"is not valid TOML: {exc}", line=int(m.group(1)) if m else None
        ) from None
    if "sweep" in doc:
        raise error_at(
            where, text, None, "sweep", "a [sweep] table makes this a sweep file: run it with "
            "roadopt batch"
        )  # fmt: skip
    job, notes = job_from_doc(doc, base=p.parent, where=where, text=text)
    return Scenario(job, p, text, notes)


def run_scenario(
    sc: Scenario, *, out: str | Path | None = None, overwrite: bool = False, write: bool = True
) -> Any:
    """Run a scenario: an assignment or an optimization, writing its outputs.

    The outputs go to ``out``, else the scenario's ``[output] dir``, else a new folder
    ``./roadopt-out/<scenario>-NNN`` (:mod:`.folders`); they appear there only once
    complete. Returns the :class:`optimizer.AssignmentResult` (``command = "assign"``) or
    the :class:`optimizer.jobs.pipeline.PlanRun` (``command = "optimize"``).
    """
    return run_scenario_into(sc, out=out, overwrite=overwrite, write=write)[0]


def run_scenario_into(
    sc: Scenario, *, out: str | Path | None = None, overwrite: bool = False, write: bool = True
) -> tuple[Any, Path | None]:
    """:func:`run_scenario`, also returning the folder the outputs went to (None: none)."""
    from .folders import output_folder
    from .outputs import write_assign_outputs, write_plan_outputs
    from .pipeline import open_job_study, run_assign, run_optimize

    settings = sc.doc
    source = str(sc.path) if sc.path else None
    study = open_job_study(sc.job.study)  # input errors before output-folder checks
    folder = None
    if write:
        folder = output_folder(
            out if out is not None else sc.job.output.out,
            name=sc.name,
            overwrite=overwrite,
            key=settings,
        )
    result: Any
    if sc.command == "assign":
        study, result = run_assign(sc.job, study=study)  # type: ignore[arg-type]
        if folder is not None:
            with folder.staged() as stage:
                write_assign_outputs(study, result, stage, settings, scenario_file=source)
    else:
        result = run_optimize(sc.job, study=study)  # type: ignore[arg-type]
        if folder is not None:
            with folder.staged() as stage:
                write_plan_outputs(
                    result,
                    stage,
                    settings=settings,
                    report=sc.job.output.report,
                    scenario_file=source,
                )
    return result, None if folder is None else folder.path


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(schema_markdown() if "--markdown" in sys.argv[1:] else schema_text(), end="")
