"""Exceptions of the optimizer side; they subclass builtins (and the ``networks`` ones)."""

from __future__ import annotations

from networks.errors import (
    DatasetNotFoundError,
    FileFormatError,
    InvalidDemandError,
    InvalidNetworkError,
    RoadoptError,
)

__all__ = [
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


class InfeasibleBudgetError(OptionError):
    """A budget (or budget share) that is negative or not a number."""
