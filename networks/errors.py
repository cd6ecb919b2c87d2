"""Exceptions raised for bad input.

Every exception subclasses a builtin so that callers may catch ``ValueError`` or
``FileNotFoundError`` without importing roadopt. Messages say what was wrong, where (file,
line, field) and what to do about it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BoundingBoxError",
    "DEMCoverageError",
    "DatasetNotFoundError",
    "FileFormatError",
    "InvalidDemandError",
    "InvalidNetworkError",
    "NoDrivableRoadsError",
    "OSMQueryError",
    "OptionError",
    "OutputWriteError",
    "PlaceNotFoundError",
    "RoadoptError",
    "UsageError",
]


class RoadoptError(Exception):
    """Base class of every error roadopt raises on purpose."""


class InvalidNetworkError(RoadoptError, ValueError):
    """A network whose data the algorithms must never see (negative capacity, NaN, ...)."""


class InvalidDemandError(RoadoptError, ValueError):
    """Demand that does not fit its network (unknown zones, negative trips, ...)."""


class DatasetNotFoundError(RoadoptError, FileNotFoundError):
    """A network name that is neither an existing file nor a known dataset."""


class FileFormatError(RoadoptError, ValueError):
    """A malformed input file.

    Parameters
    ----------
    path
        The file.
    message
        What was wrong and what was expected.
    line
        1-based line number, when the problem sits on one line.
    field
        Name of the offending field, when there is one.
    """

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.detail = message
        where = self.path if line is None else f"{self.path}, line {line}"
        what = message if field is None else f"field '{field}': {message}"
        super().__init__(f"{where}: {what}")


class OutputWriteError(RoadoptError, OSError):
    """An output file that could not be written (a full disk, no permission, ...).

    The message reads ``could not write <path>: <reason>; <what to do>``; ``errno`` is the
    original error's, so ``errno.ENOSPC`` and the like can still be tested.

    Parameters
    ----------
    path
        The file that was being written (not its temporary twin).
    reason
        Why it failed, for example ``"No space left on device"``.
    errno
        The ``errno`` of the underlying ``OSError``, when it has one.
    """

    def __init__(self, path: str | Path, reason: str, *, errno: int | None = None) -> None:
        super().__init__(f"could not write {path}: {reason}")
        self.path = str(path)
        self.reason = reason
        self.errno = errno


class DEMCoverageError(RoadoptError, ValueError):
    """A digital elevation model that does not cover the whole study area (or has voids there)."""


class OSMQueryError(RoadoptError, ValueError):
    """An OpenStreetMap request that cannot be answered (download failed, bad query)."""


class PlaceNotFoundError(OSMQueryError):
    """A place name that the geocoder (Nominatim, through osmnx) cannot resolve to an area."""


class NoDrivableRoadsError(OSMQueryError):
    """An area or file that holds no drivable road of the profile's classes."""


class BoundingBoxError(OSMQueryError):
    """A bounding box that is not ``(west, south, east, north)`` in degrees."""


class UsageError(RoadoptError, ValueError):
    """A combination of options that does not make sense (the CLI exits with status 2)."""


class OptionError(UsageError):
    """One option (a keyword argument, a setting) has a value that cannot be used.

    The application wing names the option as its user wrote it: ``--gap`` on the command
    line, ``assignment.gap`` with the line in a scenario file, ``rgap`` in Python.

    Attributes
    ----------
    option : str
        The keyword (setting field) name.
    detail : str
        What is wrong, without the option's name.
    """

    def __init__(self, option: str, detail: str) -> None:
        super().__init__(f"{option}: {detail}")
        self.option = option
        self.detail = detail
