"""Small file helpers shared by the readers and writers.

Atomic writes, text decoding, numbers written so that they read back exactly.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import FileFormatError, OutputWriteError

__all__ = [
    "atomic_path",
    "atomic_write_text",
    "decode_text",
    "format_float",
    "geojson_source",
    "open_atomic",
    "read_text_file",
]

#: Byte-order marks of the encodings decoded besides UTF-8; UTF-32 first, since its
#: little-endian mark begins with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)

#: What to do when a write fails, by errno.
_WRITE_HINTS = {
    errno.ENOSPC: "free some disk space or write to another disk",
    errno.EDQUOT: "the disk quota is used up; free some space or write elsewhere",
    errno.EACCES: "check the folder's permissions or write elsewhere",
    errno.EPERM: "check the folder's permissions or write elsewhere",
    errno.EROFS: "the disk is read-only; write elsewhere",
    errno.EISDIR: "a folder of that name is in the way; choose another file name",
}


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched, so an
    interrupted write never leaves a half-written output behind.

    Raises
    ------
    OutputWriteError
        For any ``OSError`` while the file is made, written or renamed (a full disk, no
        permission, ...): the message names ``path``, the reason and what to do. It is an
        ``OSError`` with the original ``errno``.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp" + target.suffix, dir=target.parent
        )
        os.close(fd)
    except OSError as exc:
        blocker = next((a for a in target.parents if a.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise OutputWriteError(
                target,
                f"{blocker} is a file, not a folder; choose another output folder",
                errno=exc.errno,
            ) from exc
        raise _write_error(target, exc) from exc
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp makes owner-only files: give the usual permissions
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, OutputWriteError):
            raise _write_error(target, exc) from exc
        raise


def _write_error(target: Path, exc: OSError) -> OutputWriteError:
    """``exc`` restated as "could not write <target>: <reason>; <what to do>"."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = _WRITE_HINTS.get(exc.errno) if exc.errno is not None else None
    return OutputWriteError(
        target, reason if hint is None else f"{reason}; {hint}", errno=exc.errno
    )


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
    """Read a text file, rejecting empty, binary and non-UTF-8 files with a clear message.

    Parameters
    ----------
    path
        File to read.
    what
        What the file should be, for the error message (for example ``"TNTP network"``).

    Returns
    -------
    str
        The text (see :func:`decode_text` for the encodings read).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    FileFormatError
        For a folder, an empty or binary file, or text that is not UTF-8 (naming the line).
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    if p.is_dir():
        raise FileFormatError(p, f"is a folder, expected a {what} file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise FileFormatError(p, f"cannot be read: {exc.strerror or exc}") from None
    text = decode_text(data, p, what=what)
    if not text.strip():
        raise FileFormatError(p, f"the file is empty, expected a {what} file")
    return text


def decode_text(data: bytes, path: str | os.PathLike[str], *, what: str = "text") -> str:
    """Decode the bytes of a text file: UTF-8 (with or without a BOM), UTF-16 or UTF-32.

    UTF-16 and UTF-32 are recognised by their byte-order mark (as Windows tools such as
    Notepad or Excel's "Unicode text" write them). Anything else must be UTF-8: text in a
    legacy encoding (Windows-1252, Latin-1, ...) is refused rather than stored garbled.

    Parameters
    ----------
    data
        The file's bytes.
    path
        The file, for the messages.
    what
        What the file should be, for the messages.

    Raises
    ------
    FileFormatError
        For a binary file, a file that does not decode in the encoding its BOM names, and
        text that is not UTF-8 (naming the first bad line and what to do).
    """
    where = os.fspath(path)
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                line = data[: exc.start].decode(codec, errors="replace").count("\n") + 1
                raise FileFormatError(
                    where,
                    f"starts with a {label} byte-order mark but is not valid {label} text "
                    f"(byte {exc.start}); save it as UTF-8",
                    line=line,
                ) from None
    if b"\x00" in data[:65536]:
        utf16 = _bomless_utf16(data[:4096])
        if utf16:
            raise FileFormatError(
                where,
                f"looks like {utf16} text without a byte-order mark; save it as UTF-8 "
                f"(expected a {what} file)",
            )
        raise FileFormatError(
            where, f"looks like a binary file, expected a {what} file (plain text)"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.end]
        legacy = bad.decode("cp1252", errors="replace")
        example = (
            ""
            if "\ufffd" in legacy
            else f"; byte{'s' if len(bad) > 1 else ''} {bad.hex(' ').upper()} there would "
            f"be {legacy!r} in Windows-1252"
        )
        raise FileFormatError(
            where,
            "not UTF-8 (it looks like Windows-1252/Latin-1); save it as UTF-8 (Excel: "
            f"'CSV UTF-8'; an editor: 'save with encoding UTF-8'){example}",
            line=line,
        ) from None


def geojson_source(path: str | os.PathLike[str]) -> Path | io.BytesIO:
    """What to hand geopandas for a vector file: GeoJSON text checked to be UTF-8 first.

    GDAL reads GeoJSON as UTF-8 and fails deep inside pyogrio on other bytes; this refuses
    them with :func:`decode_text`'s message (file, line, what to do), and re-encodes a
    UTF-16 or UTF-32 file (with a BOM) as UTF-8 in memory. Files that are not GeoJSON
    (``.gpkg``, ``.shp``, ...) are returned as they are.
    """
    p = Path(path)
    if p.suffix.lower() not in (".geojson", ".json") or not p.is_file():
        return p
    data = p.read_bytes()
    text = decode_text(data, p, what="GeoJSON")
    if any(data.startswith(bom) for bom, _, _ in _BOMS):
        return io.BytesIO(text.encode("utf-8"))
    return p


def _bomless_utf16(head: bytes) -> str | None:
    """``"UTF-16LE"``/``"UTF-16BE"`` when ``head`` reads as mostly-ASCII UTF-16, else None."""
    n = len(head) - len(head) % 2
    if n < 4:
        return None
    even, odd = head[0:n:2], head[1:n:2]

    def text_like(b: bytes) -> bool:
        return sum(1 for c in b if c in (9, 10, 13) or 32 <= c < 127) > 0.9 * len(b)

    if odd.count(0) > 0.9 * len(odd) and text_like(even):
        return "UTF-16LE"
    if even.count(0) > 0.9 * len(even) and text_like(odd):
        return "UTF-16BE"
    return None


def format_float(value: float) -> str:
    """The shortest text that reads back to the same float.

    Whole numbers below 1e15 in magnitude are written without a decimal point (``"3"``,
    ``"-12"``); any other value as :func:`repr` writes it, the shortest round-trip form
    (``"0.1"``, ``"1e-07"``, ``"inf"``, ``"nan"``). ``float(format_float(x)) == x`` for
    every finite ``x`` (a negative zero is written ``"0"``).
    """
    x = float(value)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)
