"""Result objects: frozen dataclasses carrying a status, never raising for non-convergence."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

__all__ = ["AssignmentResult", "History", "Status"]


class Status(StrEnum):
    """How a solve ended."""

    CONVERGED = "converged"
    MAX_ITER = "max_iter"
    TIME_LIMIT = "time_limit"
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"


@dataclass(frozen=True, eq=False)
class History:
    """Per-iteration record of a solve (arrays of equal length)."""

    iteration: np.ndarray
    relative_gap: np.ndarray
    objective: np.ndarray
    seconds: np.ndarray

    def as_dict(self) -> dict[str, list]:
        return {
            "iteration": self.iteration.tolist(),
            "relative_gap": self.relative_gap.tolist(),
            "objective": self.objective.tolist(),
            "seconds": self.seconds.tolist(),
        }

    def __len__(self) -> int:
        return int(self.iteration.shape[0])


@dataclass(frozen=True, eq=False)
class AssignmentResult:
    """A static user-equilibrium assignment.

    Attributes
    ----------
    flow : float64 array (m,)
        Link flows (the network's flow unit), in link order.
    cost : float64 array (m,)
        Generalized link costs at ``flow``: BPR time plus ``toll_factor * toll +
        distance_factor * length`` (the network's time unit).
    relative_gap : float
        ``(TSTT - SPTT) / TSTT`` at ``flow``, intrazonal trips excluded.
    average_excess_cost : float
        ``(TSTT - SPTT) / total demand`` (time unit per trip).
    objective : float
        Beckmann objective: the sum over links of the integral of the generalized cost.
    tstt : float
        Total system travel (generalized) cost, ``sum(flow * cost)``.
    sptt : float
        Demand times shortest path costs at ``cost``.
    iterations : int
        Iterations (FW-type methods) or sweeps over all bushes (bush method).
    seconds : float
        Algorithm time, after compilation and input reading.
    method : str
        The method that ran.
    status : Status
        ``converged``, ``max_iter`` or ``time_limit``.
    rgap_target : float
        The requested relative gap.
    history : History
        Gap and objective per iteration.
    dropped_demand : float
        Trips between disconnected zones dropped at the user's request (0 otherwise).
    toll_factor, distance_factor : float
        The generalized-cost weights used.
    """

    flow: np.ndarray
    cost: np.ndarray
    relative_gap: float
    average_excess_cost: float
    objective: float
    tstt: float
    sptt: float
    iterations: int
    seconds: float
    method: str
    status: Status
    rgap_target: float
    history: History
    dropped_demand: float = 0.0
    toll_factor: float = 0.0
    distance_factor: float = 0.0
    state: Any = field(default=None, repr=False)

    @property
    def converged(self) -> bool:
        return self.status == Status.CONVERGED

    def summary(self) -> dict[str, Any]:
        """The figures scripts and reports need, as plain JSON-ready values."""
        return {
            "method": self.method,
            "status": str(self.status),
            "relative_gap": float(self.relative_gap),
            "average_excess_cost": float(self.average_excess_cost),
            "objective": float(self.objective),
            "tstt": float(self.tstt),
            "sptt": float(self.sptt),
            "iterations": int(self.iterations),
            "seconds": float(self.seconds),
            "rgap_target": float(self.rgap_target),
            "dropped_demand": float(self.dropped_demand),
            "toll_factor": float(self.toll_factor),
            "distance_factor": float(self.distance_factor),
        }

    def __repr__(self) -> str:
        return (
            f"AssignmentResult(method={self.method!r}, status={self.status!s}, "
            f"relative_gap={self.relative_gap:.3e}, objective={self.objective:.10g}, "
            f"iterations={self.iterations}, seconds={self.seconds:.3f})"
        )
