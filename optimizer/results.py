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
        """The history as lists, JSON-ready."""
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
        """Whether the solve reached its target gap."""
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


@dataclass(frozen=True, eq=False)
class Plan:
    """The outcome of a network-design search.

    Attributes
    ----------
    selected : tuple of str
        Ids of the chosen candidates.
    selected_details : list of dict
        One JSON-ready row per chosen candidate (id, kind, cost, end nodes, benefit, ...).
    cost : float
        Total cost of the plan (the candidates' cost unit).
    budget : float
        The budget it had to respect.
    objective_name : str
        ``tstt``, ``connectivity`` or ``access``.
    objective, objective_before : float
        Objective value with the plan and with no upgrade (lower is better).
    lower_bound : float or None
        A proven lower bound on the objective of every feasible plan, where the search
        proved one.
    gap : float or None
        ``(objective - lower_bound) / objective``.
    status : Status
        ``optimal`` (the search closed within its tolerance) or ``feasible``.
    evaluations : int
        Equilibrium solves (user-equilibrium plans plus system-optimum bounds).
    seconds : float
        Wall time of the search.
    metrics_before, metrics_after : dict
        TSTT, connectivity (internal, external), resilience, equilibrium gap.
    appraisal : dict
        Money: annual benefit, present value, benefit/cost ratio of the plan.
    baseline : dict or None
        The benefit-per-cost greedy plan, for comparison.
    message : str
        Anything the user should know (for example: budget below the cheapest option).
    plan : bool array
        The plan as a vector over the candidate set.
    network : Network
        The network with the plan applied (closed links: ``closed``).
    closed : bool array
        Links of the extended network left unbuilt.
    result, result_before : AssignmentResult
        Equilibria with and without the plan.
    history : list of dict
        Incumbent and bound over time.
    settlements : list of dict
        Per settlement (where the problem has access targets): name, population, time to
        each access class before and after the plan (minutes), its target, whether within
        it (:func:`optimizer.access.settlement_rows`).
    """

    selected: tuple[str, ...]
    selected_details: list[dict]
    cost: float
    budget: float
    objective_name: str
    objective: float
    objective_before: float
    lower_bound: float | None
    gap: float | None
    status: Status
    evaluations: int
    seconds: float
    metrics_before: dict[str, Any]
    metrics_after: dict[str, Any]
    appraisal: dict[str, Any]
    baseline: dict[str, Any] | None
    message: str
    plan: np.ndarray
    network: Any = field(repr=False, default=None)
    closed: np.ndarray | None = field(repr=False, default=None)
    result: AssignmentResult | None = field(repr=False, default=None)
    result_before: AssignmentResult | None = field(repr=False, default=None)
    history: list[dict] = field(repr=False, default_factory=list)
    settings: dict[str, Any] = field(repr=False, default_factory=dict)
    settlements: list[dict[str, Any]] = field(repr=False, default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The plan document (``plan.json``), JSON-ready."""
        return {
            "objective_name": self.objective_name,
            "objective": _num(self.objective),
            "objective_before": _num(self.objective_before),
            "tstt": _num(self.metrics_after.get("tstt")),
            "tstt_before": _num(self.metrics_before.get("tstt")),
            "selected": self.selected_details,
            "cost": float(self.cost),
            "budget": float(self.budget),
            "lower_bound": _num(self.lower_bound),
            "gap": _num(self.gap),
            "status": str(self.status),
            "evaluations": int(self.evaluations),
            "seconds": float(self.seconds),
            "seconds_per_equilibrium": _num(self.settings.get("seconds_per_equilibrium")),
            "metrics_before": {k: _num(v) for k, v in self.metrics_before.items()},
            "metrics_after": {k: _num(v) for k, v in self.metrics_after.items()},
            "appraisal": {k: _num(v) for k, v in self.appraisal.items()},
            "baseline": self.baseline,
            "message": self.message,
            "settings": self.settings,
            **({"settlements": self.settlements} if self.settlements else {}),
        }

    def __repr__(self) -> str:
        return (
            f"Plan(status={self.status!s}, selected={list(self.selected)}, cost={self.cost:.6g},"
            f" objective={self.objective:.8g}, before={self.objective_before:.8g}, "
            f"lower_bound={self.lower_bound}, evaluations={self.evaluations}, "
            f"seconds={self.seconds:.2f})"
        )


def _num(v: Any) -> Any:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return None if not np.isfinite(f) else f
