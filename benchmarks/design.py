"""Shared tools of the network-design suites (``dndp``, ``design-osm``).

* :class:`TimeSplit` records where a search spends its time: user-equilibrium solves,
  system-optimum (bound) solves, the cold re-solves that report the final figures, the
  CP-SAT master and the rest (connectivity metrics, Python bookkeeping). It wraps the
  functions :mod:`optimizer.search` calls, for the duration of a ``with`` block only;
  the optimizer itself is not changed.
* :func:`plan_record` turns a :class:`optimizer.results.Plan` into a JSON-ready dict.
* :func:`agreement` compares two objectives (bnb against enumeration or greedy).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "AGREE_RTOL",
    "TimeSplit",
    "agreement",
    "plan_record",
    "search_seconds",
    "time_to_incumbent",
    "warmup_search",
]

#: Two objectives "agree" within this relative tolerance: the search's default optimality
#: tolerance (``max(rgap, 1e-6)``); every objective is re-solved at ``rgap / 100`` before
#: it is reported, so the same plan reproduces to about 1e-9.
AGREE_RTOL = 1e-6


class TimeSplit:
    """Where a search's time goes, by what :mod:`optimizer.search` was doing.

    ``with TimeSplit() as split: optimize(...)`` then ``split.seconds`` holds ``ue``
    (equilibria of plans), ``so`` (system optima of the bounds), ``polish`` (cold re-solves
    of the reported plan and of the no-build case), ``master`` (CP-SAT proposals and
    feasibility checks) and ``calls`` per kind. Other time (connectivity metrics, free-flow
    bounds, bookkeeping) is the total minus these.
    """

    _KIND_BY_CALLER: ClassVar[dict[str, str]] = {"_ue": "ue", "bound": "so", "polished": "polish"}

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {"ue": 0.0, "so": 0.0, "polish": 0.0, "master": 0.0}
        self.calls: dict[str, int] = {k: 0 for k in self.seconds}
        self._undo: list[Callable[[], None]] = []

    def _wrap(self, owner: Any, name: str, kind: str | None) -> None:
        original = getattr(owner, name)
        split = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            caller = sys._getframe(1)
            if caller.f_code.co_name == "_assign" and caller.f_back is not None:
                caller = caller.f_back  # the evaluator's timed wrapper: who called it
            k = kind or split._KIND_BY_CALLER.get(caller.f_code.co_name, "ue")
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                split.seconds[k] += time.perf_counter() - t0
                split.calls[k] += 1

        setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, original))

    def __enter__(self) -> TimeSplit:
        from optimizer import design, search

        self._wrap(search, "assign", None)
        self._wrap(design.DesignModel, "propose", "master")
        self._wrap(design.DesignModel, "feasible", "master")
        return self

    def __exit__(self, *exc: object) -> None:
        while self._undo:
            self._undo.pop()()

    def as_dict(self, total: float) -> dict[str, Any]:
        known = sum(self.seconds.values())
        return {
            "seconds": {**self.seconds, "other": max(0.0, total - known)},
            "calls": dict(self.calls),
        }


def search_seconds(plan: Any) -> float | None:
    """Seconds of the search itself (estimates + branch and bound or enumeration).

    The last row of the plan's history is written when the search ends, before the greedy
    baseline and the final re-solves; ``plan.seconds`` includes those.
    """
    hist = getattr(plan, "history", None) or []
    return float(hist[-1]["seconds"]) if hist else None


def time_to_incumbent(plan: Any, rtol: float = AGREE_RTOL) -> float | None:
    """Seconds until the search first held an incumbent within ``rtol`` of its final one."""
    hist = getattr(plan, "history", None) or []
    if not hist:
        return None
    final = hist[-1]["incumbent"]
    if final is None or not math.isfinite(final):
        return None
    for row in hist:
        inc = row["incumbent"]
        if inc is not None and math.isfinite(inc) and inc <= final + rtol * abs(final):
            return float(row["seconds"])
    return None


def agreement(a: float | None, b: float | None, rtol: float = AGREE_RTOL) -> dict[str, Any]:
    """``(a - b) / |b|`` and whether ``a`` and ``b`` agree within ``rtol``."""
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return {"relative_difference": None, "agree": None}
    rel = (a - b) / abs(b) if b else a - b
    return {"relative_difference": rel, "agree": abs(rel) <= rtol}


def plan_record(plan: Any, *, scale: float = 1.0) -> dict[str, Any]:
    """The figures of a plan that the reports use (objectives divided by ``scale``)."""
    s = plan.settings
    lb = plan.lower_bound
    base = plan.baseline or {}
    return {
        "objective": plan.objective / scale,
        "objective_before": plan.objective_before / scale,
        "lower_bound": None if lb is None else lb / scale,
        "gap": plan.gap,
        "status": str(plan.status),
        "selected": list(plan.selected),
        "cost": plan.cost,
        "budget": plan.budget,
        "ue_solves": s.get("ue_solves"),
        "so_solves": s.get("so_solves"),
        "master_solves": s.get("master_solves"),
        "evaluations": plan.evaluations,
        "seconds": plan.seconds,
        "search_seconds": search_seconds(plan),
        "time_to_incumbent": time_to_incumbent(plan),
        "greedy": None
        if not base
        else {
            "objective": base["objective"] / scale,
            "selected": list(base.get("selected", [])),
            "cost": base.get("cost"),
            "feasible": base.get("feasible"),
        },
        "message": plan.message,
        "history": [
            {
                k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in r.items()
            }
            for r in _thin_history(plan.history)
        ],
    }


def _thin_history(rows: list[dict], most: int = 200) -> list[dict]:
    if len(rows) <= most:
        return list(rows)
    idx = np.unique(np.linspace(0, len(rows) - 1, most).astype(np.int64))
    return [rows[int(i)] for i in idx]


_WARM = False


def warmup_search() -> float:
    """Compile the kernels and run one tiny search, so that no case pays for start-up."""
    global _WARM
    from .assignment import warmup

    t0 = time.perf_counter()
    warmup()
    if not _WARM:
        from networks.synthetic import braess
        from optimizer.candidates import Candidate, CandidateSet, extend_network
        from optimizer.search import optimize

        base, dem = braess(with_middle=False)
        full, _ = braess(with_middle=True)
        mid = int(
            np.flatnonzero((full.node_ids[full.init] == 3) & (full.node_ids[full.term] == 4))[0]
        )
        ext = extend_network(
            base,
            {
                "init": [full.init[mid]],
                "term": [full.term[mid]],
                "free_flow_time": [full.free_flow_time[mid]],
                "capacity": [full.capacity[mid]],
                "length": [1.0],
            },
        )
        cs = CandidateSet(
            ext, base.num_links, (Candidate("mid", "new_link", 1.0, np.array([base.num_links])),)
        )
        for method in ("bnb", "enumerate"):
            optimize(base, dem, cs, budget=1.0, method=method, baseline=method == "bnb")
        _WARM = True
    return time.perf_counter() - t0
