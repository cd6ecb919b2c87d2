"""The design master problem in OR-Tools CP-SAT: budget, exclusivity, prerequisites.

The only module of roadopt that imports OR-Tools. :class:`DesignModel` holds one boolean
per candidate and the rules every plan of a :class:`~optimizer.problem.DesignProblem` must
obey; the bilevel search
(:mod:`optimizer.search`) asks it for feasible plans that maximise an estimate of benefit,
under the decisions fixed at a node of the search tree (passed as CP-SAT assumptions, so
the model is built once). A ``constraints`` hook lets users add their own rules before
solving (``hook(model, y)`` with ``y`` the dict of candidate id -> BoolVar).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .problem import DesignProblem

if TYPE_CHECKING:
    from ortools.sat.python import cp_model


def _cp_model() -> Any:
    """OR-Tools' CP-SAT module, imported on first use.

    It weighs about 50 MB with the pandas it loads; commands that search no plan
    (``roadopt assign``, ``info``) never load it.
    """
    from ortools.sat.python import cp_model

    return cp_model


__all__ = ["DesignModel", "integer_costs"]


def integer_costs(costs: np.ndarray, budget: float) -> tuple[list[int], int, float]:
    """Integer cost coefficients and budget for CP-SAT, exact where the data allow.

    Costs are scaled by the smallest power of ten (up to 1e6) that makes them whole;
    otherwise by ``1e6 / max cost`` and rounded up (budget rounded down), which can only
    exclude plans within rounding of the budget. A budget above the total cost is capped at
    it (every plan is affordable either way). Returns ``(costs, budget, scale)``.
    """
    costs = np.asarray(costs, dtype=np.float64)
    scale = None
    for k in range(7):
        s = 10.0**k
        v = costs * s
        if np.all(np.abs(v - np.rint(v)) <= 1e-9 * np.maximum(1.0, np.abs(v))) and (
            v.max(initial=0) < 2**52
        ):
            scale = s
            break
    if scale is None:
        scale = 1e6 / max(float(costs.max(initial=1.0)), 1e-300)
        ints = [math.ceil(c * scale - 1e-9) for c in costs]
    else:
        ints = [round(c * scale) for c in costs]
    b = budget * scale
    # a budget above the total cost affords every plan: cap it there (CP-SAT takes int64)
    b_int = min(math.floor(b + 1e-9 * max(1.0, abs(b))), sum(ints)) if b < 2**62 else sum(ints)
    return ints, b_int, scale


class DesignModel:
    """Feasible plans of a design problem, as a CP-SAT model.

    Parameters
    ----------
    problem
        The checked design problem (:class:`optimizer.problem.DesignProblem`): its
        candidates, budget and user constraints hook ``hook(model, y)`` (``y``: id ->
        BoolVar).
    time_limit
        Seconds per CP-SAT solve.
    """

    def __init__(self, problem: DesignProblem, *, time_limit: float = 10.0) -> None:
        candidates = problem.candidates
        self.problem = problem
        self.cs = candidates
        self._cp = _cp_model()
        self.model = self._cp.CpModel()
        n = len(candidates)
        self.y = [self.model.new_bool_var(c.id) for c in candidates.candidates]
        costs, b_int, self.scale = integer_costs(candidates.costs, problem.budget)
        self.int_costs = costs
        if n:
            self.model.add(sum(c * v for c, v in zip(costs, self.y, strict=True)) <= b_int)
        for members in candidates.groups().values():
            self.model.add_at_most_one([self.y[k] for k in members])
        for k, r in candidates.prerequisites():
            self.model.add_implication(self.y[k], self.y[r])
        if problem.constraints is not None:
            problem.constraints(
                self.model, {c.id: v for c, v in zip(candidates.candidates, self.y, strict=True)}
            )
        self.time_limit = time_limit
        self.solves = 0
        self.hooked = problem.constraints is not None

    def _solver(self) -> cp_model.CpSolver:
        solver = self._cp.CpSolver()
        # measured on 2 cores: one worker with linearization level 2 proves budgeted
        # selections fast, the default portfolio does not (see the field notes)
        solver.parameters.num_workers = 1
        solver.parameters.linearization_level = 2
        solver.parameters.max_time_in_seconds = self.time_limit
        solver.parameters.random_seed = 0
        return solver

    def propose(
        self,
        weights: np.ndarray,
        *,
        fixed_in: np.ndarray | None = None,
        fixed_out: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """The feasible plan maximising ``sum(weights * plan)`` under fixed decisions.

        Returns None when no feasible plan agrees with the fixed decisions. Ties are
        broken towards cheaper plans (a tiny cost penalty), so a zero weight adds nothing.
        """
        n = len(self.cs)
        if n == 0:
            return np.zeros(0, dtype=bool)
        self.model.clear_assumptions()
        lits: list[Any] = []
        if fixed_in is not None:
            lits += [self.y[k] for k in np.flatnonzero(fixed_in)]
        if fixed_out is not None:
            lits += [self.y[k].negated() for k in np.flatnonzero(fixed_out)]
        if lits:
            self.model.add_assumptions(lits)
        w = np.asarray(weights, dtype=np.float64)
        top = max(float(np.abs(w).max(initial=0.0)), 1e-300)
        # integer objective: benefit first, then lower cost
        wi = [round(v / top * 1_000_000) * 1000 for v in w]
        cmax = max(self.int_costs) if self.int_costs else 1
        ci = [round(c / max(cmax, 1) * 999) for c in self.int_costs]
        self.model.maximize(sum((a - b) * v for a, b, v in zip(wi, ci, self.y, strict=True)))
        solver = self._solver()
        status = solver.solve(self.model)
        self.solves += 1
        self.model.clear_assumptions()
        if status not in (self._cp.OPTIMAL, self._cp.FEASIBLE):
            return None
        return np.array([bool(solver.value(v)) for v in self.y], dtype=bool)

    def feasible(self, plan: np.ndarray, *, cheap: bool = False) -> bool:
        """Whether a plan satisfies every constraint, user constraints included.

        With ``cheap`` and no user constraints, the rules are checked directly (budget,
        groups, prerequisites) instead of by a CP-SAT solve.
        """
        plan = np.asarray(plan, dtype=bool)
        if cheap and not self.hooked:
            return self.problem.feasible(plan)
        return self.propose(np.zeros(len(self.cs)), fixed_in=plan, fixed_out=~plan) is not None
