"""Exceptions of the optimizer side; they subclass builtins (and the ``networks`` ones)."""

from __future__ import annotations

from networks.errors import (
    DatasetNotFoundError,
    FileFormatError,
    InvalidDemandError,
    InvalidNetworkError,
    OptionError,
    RoadoptError,
    UsageError,
)

__all__ = [
    "CandidateFileError",
    "DatasetNotFoundError",
    "DisconnectedDemandError",
    "FileFormatError",
    "InfeasibleBudgetError",
    "InvalidCandidatesError",
    "InvalidDemandError",
    "InvalidNetworkError",
    "OptionError",
    "RoadoptError",
    "UsageError",
]


class DisconnectedDemandError(InvalidDemandError):
    """Trips between zones that no path connects.

    Attributes
    ----------
    pairs : list of (origin_id, destination_id, trips)
        The disconnected OD pairs (external zone ids).
    """

    def __init__(self, message: str, pairs: list[tuple[int, int, float]]) -> None:
        super().__init__(message)
        self.pairs = pairs


class InvalidCandidatesError(RoadoptError, ValueError):
    """Candidate upgrades that cannot be used (unknown nodes, negative cost, ...)."""


class CandidateFileError(FileFormatError, InvalidCandidatesError):
    """A candidates file that cannot be used; names the file, line or feature and field."""


class InfeasibleBudgetError(OptionError):
    """A budget (or budget share) that is negative or not a number."""
