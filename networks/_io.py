"""Small file helpers shared by the readers and writers.

Atomic writes, text decoding, numbers written so that they read back exactly.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import FileFormatError

__all__ = ["atomic_path", "atomic_write_text", "format_float", "open_atomic", "read_text_file"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched, so an
    interrupted write never leaves a half-written output behind.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp" + target.suffix, dir=target.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp makes owner-only files: give the usual permissions
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike[str], mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a file for writing that appears at ``path`` only once it is complete."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8, newline line ends)."""
    with open_atomic(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def read_text_file(path: str | os.PathLike[str], *, what: str = "text") -> str:
    """Read a text file, rejecting empty and binary files with a clear message.

    Parameters
    ----------
    path
        File to read.
    what
        What the file should be, for the error message (for example ``"TNTP network"``).
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    if p.is_dir():
        raise FileFormatError(p, f"is a folder, expected a {what} file")
    data = p.read_bytes()
    if not data.strip():
        raise FileFormatError(p, f"the file is empty, expected a {what} file")
    if b"\x00" in data[:65536]:
        raise FileFormatError(p, f"looks like a binary file, expected a {what} file (plain text)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def format_float(value: float) -> str:
    """The shortest text that reads back to the same float.

    Whole numbers below 1e15 in magnitude are written without a decimal point (``"3"``,
    ``"-12"``); any other value as :func:`repr` writes it, the shortest round-trip form
    (``"0.1"``, ``"1e-07"``, ``"inf"``, ``"nan"``). ``float(format_float(x)) == x`` for
    every finite ``x`` (a negative zero is written ``"0"``).
    """
    x = float(value)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)
