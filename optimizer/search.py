"""The bilevel search: choose upgrades within a budget; the equilibrium judges every plan.

Upper level: choose a plan (a yes/no decision per candidate) under a budget, exclusive
groups and prerequisites (the OR-Tools master problem, :mod:`optimizer.design`). Lower
level: drivers re-route, a static user equilibrium (:func:`optimizer.assign`), so a plan's
value is what the equilibrium says; adding a road can make things worse (Braess).

``method="bnb"`` (default) is a best-first branch and bound over the candidates
(LeBlanc 1975; Wang, Meng and Yang 2013, "Global optimization methods for the discrete
network design problem", Transportation Research B 50; Rey 2020). A node fixes some
candidates in and some out; its bound is the objective of a relaxation on the *optimistic*
network where every still-possible candidate is built:

* ``tstt``: the system optimum (never above the user equilibrium of the same network, and
  never rising as links open), with its Frank-Wolfe dual bound so that it is a proven
  lower bound even though it is solved to a finite gap;
* ``connectivity`` and ``access``: path times at free flow (equilibrium times are never
  lower); a cone whose free-flow figures already break ``min_resilience`` or
  ``require_access`` holds no admissible plan.

At each node the master proposes the feasible completion with the highest estimated
benefit; its equilibrium improves the incumbent. A node whose bound cannot beat the
incumbent (by more than the tolerance) is pruned. When no node is left, the plan is
optimal within the equilibrium tolerance; at a time limit the plan is feasible with a
proven gap. ``method="enumerate"`` scores every feasible plan (a test oracle for small
sets) and ``method="greedy"`` is the benefit-per-cost baseline.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from networks.demand import Demand

from .access import ACCESS_PENALTY, settlement_rows
from .appraisal import Appraisal, appraise
from .assignment import assign
from .candidates import CandidateSet
from .connectivity import connectivity, resilience, settlement_times
from .design import DesignModel
from .errors import OptionError, UsageError
from .problem import DEFAULT_WEIGHTS, OBJECTIVES, DesignProblem
from .results import AssignmentResult, Plan, Status

__all__ = ["DEFAULT_WEIGHTS", "METHODS", "OBJECTIVES", "Appraisal", "optimize", "solve"]

log = logging.getLogger(__name__)

#: Equilibria kept as warm starts (the nearest plan's bushes start the next solve), and
#: the memory they may take together (bytes; at least the latest one is always kept).
WARM_KEEP = 16
WARM_BYTES = 256 * 2**20


@dataclass
class _Eval:
    value: float
    metrics: dict[str, float]
    result: AssignmentResult
    feasible: bool = True


@dataclass
class _Evaluator:
    """Scores plans (user equilibrium) and bounds cones of plans (relaxations), with caches."""

    problem: DesignProblem
    rgap: float
    method: str
    cache: dict[bytes, _Eval] = field(default_factory=dict)
    bounds: dict[bytes, float] = field(default_factory=dict)
    n_ue: int = 0
    n_so: int = 0
    #: Proposed plans not scored: their own bound showed they cannot beat the incumbent.
    n_skipped: int = 0
    #: Seconds spent in equilibria (user and system optimum), for the time per solve.
    ue_seconds: float = 0.0
    so_seconds: float = 0.0
    warm: AssignmentResult | None = None
    warm_so: AssignmentResult | None = None
    #: Equilibria kept as warm starts, by plan: (plan, result, stamp).
    warm_pool: dict[bytes, tuple[np.ndarray, AssignmentResult, int]] = field(default_factory=dict)
    _stamp: Iterator[int] = field(default_factory=itertools.count)

    @property
    def cs(self) -> CandidateSet:
        return self.problem.candidates

    @property
    def demand(self) -> Demand:
        return self.problem.demand

    def _assign_kw(self, closed: np.ndarray, rgap: float) -> dict[str, Any]:
        return {
            "method": self.method,
            "rgap": rgap,
            "closed_links": closed,
            "toll_factor": self.problem.toll_factor,
            "distance_factor": self.problem.distance_factor,
        }

    def _assign(self, *args: Any, so: bool = False, **kw: Any) -> AssignmentResult:
        """:func:`assign`, counted and timed (user equilibrium, or ``so``)."""
        t = time.perf_counter()
        r = assign(*args, **kw)
        dt = time.perf_counter() - t
        if so:
            self.n_so += 1
            self.so_seconds += dt
        else:
            self.n_ue += 1
            self.ue_seconds += dt
        return r

    def _nearest_warm(self, plan: np.ndarray) -> AssignmentResult | None:
        """The kept equilibrium of the plan nearest to ``plan`` (fewest candidates apart).

        Ties go to the latest. Bushes of a nearby plan need fewest repairs (a closed
        link's bushes are rebuilt) and fewest sweeps.
        """
        if not self.warm_pool:
            return self.warm
        best = min(
            self.warm_pool.values(),
            key=lambda e: (int(np.count_nonzero(e[0] != plan)), -e[2]),
        )
        return best[1]

    def _keep_warm(self, plan: np.ndarray, r: AssignmentResult) -> None:
        """Keep ``r`` as a warm start, within :data:`WARM_BYTES` (at least the latest)."""
        self.warm = r
        st = r.state
        size = sum(
            int(getattr(st, k).nbytes)
            for k in ("flow", "link_open", "xo", "in_bush")
            if getattr(st, k, None) is not None
        )
        keep = max(1, min(WARM_KEEP, WARM_BYTES // max(size, 1)))
        self.warm_pool[plan.tobytes()] = (plan.copy(), r, next(self._stamp))
        while len(self.warm_pool) > keep:
            oldest = min(self.warm_pool, key=lambda k: self.warm_pool[k][2])
            del self.warm_pool[oldest]

    def _ue(self, plan: np.ndarray) -> AssignmentResult:
        plan = np.asarray(plan, dtype=bool)
        net, closed = self.cs.apply(plan)
        kw = self._assign_kw(closed, self.rgap)
        warm = self._nearest_warm(plan)
        r = self._assign(net, self.demand, warm_start=warm, **kw)
        if not r.converged and warm is not None:
            log.warning(
                "a warm-started equilibrium stopped at gap %.2e; solving it cold", r.relative_gap
            )
            r = self._assign(net, self.demand, **kw)
        self._keep_warm(plan, r)
        return r

    def metrics(self, plan: np.ndarray, r: AssignmentResult) -> dict[str, float]:
        out = {
            "tstt": float(r.tstt),
            "relative_gap": float(r.relative_gap),
            "objective_beckmann": float(r.objective),
        }
        roles = self.problem.roles
        if roles is not None:
            net, closed = self.cs.apply(plan)
            out.update(connectivity(net, roles, r.cost, closed))
            if roles.gateway_nodes.size:
                out["resilience"] = resilience(net, roles, closed)
        return out

    def _scored(self, plan: np.ndarray, r: AssignmentResult) -> _Eval:
        m = self.metrics(plan, r)
        return _Eval(self.problem.value(m), m, r, self.problem.admissible(m))

    def evaluate(self, plan: np.ndarray) -> _Eval:
        key = np.asarray(plan, dtype=bool).tobytes()
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        ev = self._scored(plan, self._ue(plan))
        # the cache keeps figures, not the bushes (those weigh zones x links each); the
        # latest full result stays as the next warm start
        ev = replace(ev, result=replace(ev.result, state=None))
        self.cache[key] = ev
        return ev

    def figures(self, plan: np.ndarray) -> tuple[float, Mapping[str, float]]:
        """``(objective value, figures)`` of a plan (for the appraisal)."""
        e = self.evaluate(plan)
        return e.value, e.metrics

    def polished(self, plan: np.ndarray, rgap: float) -> _Eval:
        """Evaluate a plan from a cold start at ``rgap`` (not cached, not warm-started)."""
        net, closed = self.cs.apply(plan)
        r = self._assign(net, self.demand, **self._assign_kw(closed, rgap))
        return self._scored(plan, r)

    def bound(
        self, fixed_in: np.ndarray, free: np.ndarray, threshold: float | None = None
    ) -> float:
        """A lower bound on the objective of every plan between fixed_in and fixed_in|free.

        Returns +inf when the optimistic network cannot meet ``min_resilience``. With a
        ``threshold`` (the value a bound must reach to prune), the system optimum is solved
        only as far as it matters: it stops once its proven bound passes the threshold, or
        once its objective (an upper estimate of the optimum) falls below it, since no
        further iteration could then prune. Either way the bound returned is proven.
        """
        both = np.asarray(fixed_in, dtype=bool) | np.asarray(free, dtype=bool)
        key = both.tobytes()
        hit = self.bounds.get(key)
        if hit is not None:
            return hit
        pb = self.problem
        net, closed = self.cs.optimistic(fixed_in, free)
        lb = 0.0
        m: dict[str, float] = {}
        rules = pb.min_resilience is not None or pb.require_access
        if pb.roles is not None and (rules or pb.objective != "tstt"):
            m = _free_flow_figures(pb, net, closed)
            if not pb.admissible(m):
                self.bounds[key] = math.inf
                return math.inf
        if pb.objective == "tstt":
            so = net.replace(alpha=net.alpha * (net.beta + 1.0), validate=False)

            def enough(info: dict) -> bool:
                proven = info["objective"] - info["relative_gap"] * info["tstt"]
                return proven >= threshold or info["objective"] < threshold

            r = self._assign(
                so,
                self.demand,
                so=True,
                warm_start=self.warm_so,
                callback=None if threshold is None or not np.isfinite(threshold) else enough,
                **self._assign_kw(closed, self.rgap),
            )
            self.warm_so = r
            # Frank-Wolfe dual bound of the convex system-optimum problem
            lb = float(r.objective - max(0.0, r.tstt - r.sptt))
        else:
            assert pb.roles is not None  # a connectivity problem has its zones' roles
            lb = pb.value(m)
        self.bounds[key] = lb
        return lb

    @property
    def solves(self) -> int:
        return self.n_ue + self.n_so


def _free_flow_figures(pb: DesignProblem, net: Any, closed: np.ndarray) -> dict[str, float]:
    """Connectivity and access figures at free flow (resilience where needed).

    They are never above those of any equilibrium on a network with no more links.
    """
    assert pb.roles is not None
    m = connectivity(net, pb.roles, _free_time(pb, net), closed)
    if pb.min_resilience is not None or pb.weights.get("resilience", 0):
        m["resilience"] = resilience(net, pb.roles, closed)
    return m


class _Progress:
    """The search's history, a periodic log line and the user's callback."""

    def __init__(self, what: str, callback: Callable[[dict], Any] | None) -> None:
        self.t0 = time.perf_counter()
        self.last = self.t0
        self.what = what
        self.callback = callback
        self.history: list[dict] = []

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def note(
        self, incumbent: float, bound: float, nodes: int, evaluations: int, force: bool = False
    ) -> bool:
        """Record a row; returns True when the callback asks the search to stop."""
        now = time.perf_counter()
        gap = (incumbent - bound) / abs(incumbent) if incumbent and np.isfinite(bound) else None
        row = {
            "seconds": now - self.t0,
            "incumbent": incumbent,
            "bound": bound,
            "gap": gap,
            "nodes": nodes,
            "evaluations": evaluations,
            "done": force,
        }
        last = self.history[-1] if self.history else None
        if (
            force
            or last is None
            or last["incumbent"] != incumbent
            or (last["bound"] != bound and np.isfinite(bound))
        ):
            self.history.append({k: v for k, v in row.items() if k != "done"})
        if force or now - self.last >= 2.0:
            self.last = now
            log.info(
                "%s: %d nodes, incumbent %.8g, bound %s, gap %s, %d equilibria, %.1f s",
                self.what,
                nodes,
                incumbent,
                "-" if not np.isfinite(bound) else f"{bound:.8g}",
                "-" if gap is None else f"{100 * gap:.3f}%",
                evaluations,
                now - self.t0,
            )
        if self.callback is not None:
            return self.callback(row) is True
        return False


@dataclass
class _Search:
    """What every search method works with."""

    problem: DesignProblem
    ev: _Evaluator
    master: DesignModel
    tol: float
    time_limit: float | None
    prog: _Progress

    def out_of_time(self) -> bool:
        return self.time_limit is not None and self.prog.elapsed() > self.time_limit


@dataclass
class _Outcome:
    """What a search found: the plan, its value, a proven lower bound and the status."""

    plan: np.ndarray
    value: float
    lower: float | None
    status: Status
    greedy: tuple[np.ndarray, float] | None = None


def _single_estimates(s: _Search, before: _Eval) -> np.ndarray:
    """Estimate the benefit of each candidate alone (with what it requires).

    These are the master's proposal weights and the branching order.
    """
    pb = s.problem
    est = np.zeros(pb.size)
    for k in range(pb.size):
        trial = pb.empty()
        trial[k] = True
        trial = pb.with_requirements(trial)
        if pb.feasible(trial):
            e = s.ev.evaluate(trial)
            est[k] = before.value - e.value if e.feasible else -abs(before.value)
        if s.out_of_time():
            break
    return est


def _branch_and_bound(
    s: _Search, weights: np.ndarray, start: np.ndarray | None = None
) -> tuple[np.ndarray, float, float, bool]:
    ev, master, pb, prog, tol = s.ev, s.master, s.problem, s.prog, s.tol
    n = pb.size
    empty = pb.empty()
    best_plan = empty
    base = ev.evaluate(empty)
    best = base.value if base.feasible and master.feasible(empty) else math.inf
    if start is not None and pb.feasible(start) and master.feasible(start):
        e = ev.evaluate(start)  # a known plan (the greedy one): never return worse
        if e.feasible and e.value < best:
            best_plan, best = start.copy(), e.value
    order = np.lexsort((np.arange(n), -weights))  # branching priority: benefit first
    counter = itertools.count()
    root_free = pb.affordable(empty, empty)
    # entries: (bound, tie, fixed in, fixed out, whether the bound is the node's own); a
    # child enters with its parent's bound and gets its own only when it comes up, so
    # children pruned by a better incumbent meanwhile never cost a relaxation
    heap = [(ev.bound(empty, root_free), next(counter), empty, empty.copy(), True)]
    pruned_lb = math.inf
    nodes = 0
    exhausted = True

    def consider(plan: np.ndarray | None) -> None:
        nonlocal best, best_plan
        if plan is None or not pb.feasible(plan):
            return
        if np.isfinite(best) and plan.tobytes() not in ev.cache:
            # the plan's own bound (a system optimum, far cheaper than its equilibrium):
            # a plan that cannot beat the incumbent needs no equilibrium
            own = ev.bound(plan, empty, best - tol * abs(best))
            if beaten(own):
                ev.n_skipped += 1
                return
        e = ev.evaluate(plan)
        if e.feasible and (
            e.value < best - 1e-12 * abs(best) if np.isfinite(best) else e.value < best
        ):
            best, best_plan = e.value, plan.copy()

    def beaten(bound: float) -> bool:
        """Whether a cone whose bound is ``bound`` cannot improve the incumbent."""
        return np.isfinite(best) and bound >= best - tol * abs(best)

    while heap:
        lb, _, fin, fout, own = heapq.heappop(heap)
        if beaten(lb):
            pruned_lb = min(pruned_lb, lb)
            continue
        free = pb.affordable(fin, fout)
        if not own:
            lb = max(lb, ev.bound(fin, free, best - tol * abs(best)))
            if beaten(lb):
                pruned_lb = min(pruned_lb, lb)
                continue
            if heap and lb > heap[0][0]:  # no longer the most promising: back in line
                heapq.heappush(heap, (lb, next(counter), fin, fout, True))
                continue
        nodes += 1
        open_lb = min([lb] + [h[0] for h in heap])
        if prog.note(best, min(open_lb, pruned_lb), nodes, ev.solves) or s.out_of_time():
            heapq.heappush(heap, (lb, next(counter), fin, fout, True))
            exhausted = False
            break
        proposal = master.propose(weights, fixed_in=fin, fixed_out=~(fin | free))
        if proposal is None:
            continue  # no feasible plan agrees with this node
        consider(proposal)
        if master.feasible(fin, cheap=True):
            consider(fin)
        cands = [int(k) for k in order if free[k]]
        if not cands:
            continue
        c = cands[0]
        kin, kout = fin.copy(), fout.copy()
        kin[c] = True
        oin, oout = fin.copy(), fout.copy()
        oout[c] = True
        for cin, cout in ((kin, kout), (oin, oout)):
            if not pb.fits(pb.cost(cin)):
                continue
            heapq.heappush(heap, (lb, next(counter), cin, cout, False))
    # every plan lies in a pruned cone, an open cone or was scored itself
    open_lb = min((h[0] for h in heap), default=math.inf)
    lower = min(pruned_lb, open_lb)
    prog.note(best, min(lower, best), nodes, ev.solves, force=True)
    return best_plan, best, lower, exhausted


def _feasible_plans(pb: DesignProblem, limit: int = 2**20) -> Iterator[np.ndarray]:
    """Every plan that satisfies budget, exclusivity and prerequisites (depth-first)."""
    cs = pb.candidates
    n = pb.size
    costs = cs.costs
    groups = {k: g for g, members in cs.groups().items() for k in members}
    count = 0

    def rec(k: int, plan: np.ndarray, spent: float, used_groups: set) -> Iterator[np.ndarray]:
        nonlocal count
        if k == n:
            if all(not plan[a] or plan[b] for a, b in cs.prerequisites()):
                count += 1
                if count > limit:
                    raise UsageError(f"more than {limit} feasible plans: use method='bnb'")
                yield plan.copy()
            return
        yield from rec(k + 1, plan, spent, used_groups)
        g = groups.get(k)
        if pb.fits(spent + costs[k]) and (g is None or g not in used_groups):
            plan[k] = True
            yield from rec(k + 1, plan, spent + costs[k], used_groups | ({g} if g else set()))
            plan[k] = False

    yield from rec(0, pb.empty(), 0.0, set())


def _greedy(s: _Search, time_limit: float | None) -> tuple[np.ndarray, float]:
    """Add the candidate with the best improvement per unit cost until none improves."""
    ev, pb, master = s.ev, s.problem, s.master
    plan = pb.empty()
    cur = ev.evaluate(plan).value
    costs = pb.candidates.costs
    while True:
        best_k, best_ratio, best_val = -1, 0.0, cur
        for k in range(pb.size):
            if plan[k]:
                continue
            trial = plan.copy()
            trial[k] = True
            trial = pb.with_requirements(trial)  # bring required candidates along
            if not pb.feasible(trial) or not master.feasible(trial):
                continue
            e = ev.evaluate(trial)
            if not e.feasible:
                continue
            extra = float(costs[trial & ~plan].sum())
            gain = cur - e.value
            ratio = gain / extra if extra > 0 else (math.inf if gain > 0 else 0.0)
            if gain > 1e-12 * abs(cur) and ratio > best_ratio:
                best_k, best_ratio, best_val = k, ratio, e.value
            if time_limit is not None and s.prog.elapsed() > time_limit:
                break
        if best_k < 0:
            return plan, cur
        plan[best_k] = True
        plan = pb.with_requirements(plan)
        cur = best_val


# ---------------------------------------------------------------------- the searches
def _search_bnb(s: _Search, before: _Eval, baseline: bool) -> _Outcome:
    weights = _single_estimates(s, before)
    greedy = _greedy(s, s.time_limit) if baseline else None
    plan, value, lower, exhausted = _branch_and_bound(
        s, weights, None if greedy is None else greedy[0]
    )
    status = Status.OPTIMAL if exhausted else Status.FEASIBLE
    return _Outcome(plan, value, lower, status, greedy)


def _search_enumerate(s: _Search, before: _Eval, baseline: bool) -> _Outcome:
    pb, ev, master = s.problem, s.ev, s.master
    hooked = pb.constraints is not None
    ok = before.feasible and (not hooked or master.feasible(pb.empty()))
    best_plan, best_val = pb.empty(), before.value if ok else math.inf
    done = True
    for plan in _feasible_plans(pb):
        if hooked and not master.feasible(plan):
            continue
        e = ev.evaluate(plan)
        if e.feasible and e.value < best_val:
            best_plan, best_val = plan, e.value
        if s.out_of_time():
            done = False
            break
    greedy = _greedy(s, None) if baseline else None
    status = Status.OPTIMAL if done else Status.FEASIBLE
    return _Outcome(best_plan, best_val, best_val if done else None, status, greedy)


def _search_greedy(s: _Search, before: _Eval, baseline: bool) -> _Outcome:
    plan, value = _greedy(s, s.time_limit)
    return _Outcome(plan, value, None, Status.FEASIBLE)


_SEARCHES: dict[str, Callable[[_Search, _Eval, bool], _Outcome]] = {
    "bnb": _search_bnb,
    "enumerate": _search_enumerate,
    "greedy": _search_greedy,
}
#: Search methods: ``bnb`` (exact branch and bound), ``enumerate`` (every feasible plan),
#: ``greedy`` (benefit-per-cost baseline).
METHODS = tuple(_SEARCHES)


# ---------------------------------------------------------------------- public entry points
def optimize(
    network: Any,
    demand: Demand,
    candidates: CandidateSet,
    *,
    budget: float | None = None,
    budget_share: float | None = None,
    objective: str = "tstt",
    weights: Mapping[str, float] | None = None,
    min_resilience: float | None = None,
    activity: np.ndarray | None = None,
    method: str = "bnb",
    rgap: float = 1e-8,
    tolerance: float | None = None,
    time_limit: float | None = None,
    assignment_method: str = "bush",
    toll_factor: float = 0.0,
    distance_factor: float = 0.0,
    appraisal: Appraisal | None = None,
    baseline: bool = True,
    constraints: Callable | None = None,
    callback: Callable[[dict], Any] | None = None,
    access_targets: Mapping[str, float] | None = None,
    access_penalty: float = ACCESS_PENALTY,
    require_access: bool = False,
    settlement_names: Sequence[str] | None = None,
    gateway_classes: Sequence[str] | None = None,
) -> Plan:
    """Choose the upgrades that minimise an equilibrium objective within a budget.

    Parameters
    ----------
    network
        The existing network (only used to check that it is the candidates' base; the
        search works on ``candidates.network``, which extends it).
    demand
        Trips between zones (internal zones and gateways for ``connectivity``).
    candidates
        The upgrade options (:mod:`optimizer.candidates`).
    budget, budget_share
        The budget in the candidates' cost unit, or as a share of the total cost of all
        candidates. One is required.
    objective
        ``"tstt"``: total system travel time at equilibrium (network time unit x flow
        unit, e.g. vehicle-minutes per peak hour). ``"connectivity"``: ``weights``
        ``internal`` x internal connectivity + ``external`` x external connectivity
        (minutes) + ``resilience`` x (1 - resilience) (minutes per share of activity).
    weights
        Default :data:`DEFAULT_WEIGHTS` (``internal`` 0.5, ``external`` 0.5,
        ``resilience`` 0).
    min_resilience
        Plans whose resilience (share of internal activity with two link-disjoint paths to
        the gateways) falls below this are not admissible.
    activity
        Weight per internal zone for external connectivity and resilience.
    method
        One of :data:`METHODS`: ``"bnb"`` (exact branch and bound), ``"enumerate"`` (all
        feasible plans, up to about a million) or ``"greedy"`` (benefit-per-cost baseline).
    rgap
        Relative gap every equilibrium is solved to; "optimal" means optimal within it.
        The plan and the no-upgrade case are finally re-solved cold at ``rgap / 100``
        (at most 1e-9) for the reported figures.
    tolerance
        Relative optimality tolerance of the search (default: ``max(rgap, 1e-6)``).
    time_limit
        Seconds; the best plan so far is returned with status ``feasible`` and its gap.
    assignment_method
        Equilibrium method (``"bush"`` warm-starts best).
    toll_factor, distance_factor
        Generalized cost weights, as for :func:`optimizer.assign`.
    appraisal
        Money terms (value of time, annualisation); see :class:`Appraisal`.
    baseline
        Also run the greedy baseline and report it beside the plan.
    constraints
        Hook ``hook(model, y)`` adding user constraints to the CP-SAT master.
    callback
        Called with progress dicts (``seconds``, ``incumbent``, ``bound``, ``gap``,
        ``nodes``, ``evaluations``, ``done``); returning True stops the search.
    access_targets, access_penalty
        ``objective="access"``: minutes to the trunk network by class (default
        :data:`optimizer.access.ACCESS_TARGET_MINUTES`) and the objective minutes per
        minute beyond a target (:mod:`optimizer.access`).
    require_access
        Only plans that bring every settlement within every access target are admissible.
    settlement_names, gateway_classes
        Names of the internal zones (the plan's ``settlements`` rows) and the road class of
        each gateway (the fallback of an access class without access points).

    Returns
    -------
    Plan
        Status ``optimal`` (proven within the tolerance), ``feasible`` (a time limit or a
        heuristic method) or ``infeasible`` (no plan within the budget meets
        ``min_resilience`` or ``require_access``; the message says by how much). A budget below every option
        returns the empty plan with a message.

    Raises
    ------
    UsageError, InfeasibleBudgetError, InvalidCandidatesError
        For bad input, before any equilibrium is solved.
    """
    t0 = time.perf_counter()
    if method not in _SEARCHES:
        raise OptionError(
            "method", f"unknown method {method!r}; choose one of {', '.join(METHODS)}"
        )
    problem = DesignProblem.build(
        candidates,
        demand,
        network=network,
        budget=budget,
        budget_share=budget_share,
        objective=objective,
        weights=weights,
        min_resilience=min_resilience,
        activity=activity,
        toll_factor=toll_factor,
        distance_factor=distance_factor,
        constraints=constraints,
        access_targets=access_targets,
        access_penalty=access_penalty,
        require_access=require_access,
        settlement_names=settlement_names,
        gateway_classes=gateway_classes,
    )
    return solve(
        problem,
        method=method,
        rgap=rgap,
        tolerance=tolerance,
        time_limit=time_limit,
        assignment_method=assignment_method,
        appraisal=appraisal,
        baseline=baseline,
        callback=callback,
        started=t0,
    )


def solve(
    problem: DesignProblem,
    *,
    method: str,
    rgap: float,
    tolerance: float | None,
    time_limit: float | None,
    assignment_method: str,
    appraisal: Appraisal | None,
    baseline: bool,
    callback: Callable[[dict], Any] | None = None,
    started: float | None = None,
) -> Plan:
    """Search a checked :class:`~optimizer.problem.DesignProblem`.

    The keywords are :func:`optimize`'s (whose defaults they have there); ``started`` is
    the ``time.perf_counter()`` the reported seconds count from.
    """
    t0 = time.perf_counter() if started is None else started
    search = _SEARCHES.get(method)
    if search is None:
        raise OptionError(
            "method", f"unknown method {method!r}; choose one of {', '.join(METHODS)}"
        )
    tol = max(rgap, 1e-6) if tolerance is None else float(tolerance)
    s = _Search(
        problem,
        _Evaluator(problem, rgap, assignment_method),
        DesignModel(problem),
        tol,
        time_limit,
        _Progress(f"optimize ({problem.objective}, {method})", callback),
    )
    empty = problem.empty()
    before = s.ev.evaluate(empty)
    costs = problem.candidates.costs
    message = ""
    if problem.size == 0 or costs.min(initial=math.inf) > problem.budget:
        message = (
            f"the budget {problem.budget:.6g} is below the cheapest option "
            f"({costs.min(initial=math.inf):.6g}); no upgrade is affordable"
        )
        log.warning(message)
        value = before.value if before.feasible else math.inf
        outcome = _Outcome(empty, value, value, Status.OPTIMAL)
    else:
        outcome = search(s, before, baseline)
    if not np.isfinite(outcome.value):
        why = _infeasible_message(s)
        log.warning(why)
        message = f"{message}; {why}" if message else why
        outcome = _Outcome(empty, math.inf, None, Status.INFEASIBLE, outcome.greedy)
    return _finish(s, method, outcome, message, rgap, appraisal, baseline, t0)


def _infeasible_message(s: _Search) -> str:
    """Why no plan is admissible: what every affordable upgrade would reach at free flow."""
    pb = s.problem
    affordable = pb.affordable(pb.empty(), pb.empty())
    net, closed = pb.candidates.optimistic(pb.empty(), affordable)
    m = _free_flow_figures(pb, net, closed) if pb.roles is not None else {}
    why = []
    if pb.min_resilience is not None and m.get("resilience", 0.0) < pb.min_resilience:
        reach = m.get("resilience", math.nan)
        why.append(
            f"no plan within the budget meets min_resilience {pb.min_resilience:.6g}: even "
            f"with every affordable upgrade built the resilience is at most {reach:.6g} "
            f"(short by {pb.min_resilience - reach:.3g}); lower min_resilience or raise the "
            "budget"
        )
    if pb.require_access and pb.access is not None:
        why.append(_access_shortfall(pb, net, closed))
    return "; ".join(why) or "no plan within the budget is admissible"


def _access_shortfall(pb: DesignProblem, net: Any, closed: np.ndarray) -> str:
    """Why ``require_access`` fails: the worst settlement beyond its target.

    With every affordable upgrade built; and the least budget found (by dropping
    candidates, dearest first, from all of them) that would meet every target.
    """
    targets = pb.access
    assert pb.roles is not None and targets is not None
    t = settlement_times(net, pb.roles, _free_time(pb, net), closed)
    excess = t - targets.minutes[None, :]
    i, c = np.unravel_index(int(np.argmax(excess)), excess.shape)
    if excess[i, c] > 0:
        text = (
            "no plan within the budget brings every settlement within its access targets: "
            "even with every affordable upgrade built, at free flow, "
            f"{targets.names[i]} stays {excess[i, c]:.1f} min beyond its {targets.kinds[c]} "
            f"target ({targets.minutes[c]:g} min)"
        )
    else:
        text = (
            "no plan within the budget brings every settlement within its access targets at "
            "equilibrium: the upgrades that would do it at free flow cost more together "
            "than the budget, or congestion keeps a settlement beyond"
        )
    everything = pb.with_requirements(np.ones(pb.size, dtype=bool))
    every_net, every_closed = pb.candidates.apply(everything)
    if _meets(pb, every_net, every_closed):
        plan = everything.copy()
        for k in np.argsort(-pb.candidates.costs, kind="stable").tolist():
            trial = plan.copy()
            trial[k] = False
            if (pb.with_requirements(trial) != trial).any():
                continue  # a chosen candidate requires it
            n2, c2 = pb.candidates.apply(trial)
            if _meets(pb, n2, c2):
                plan = trial
        ok = pb.candidates.is_feasible(plan, math.inf)
        text += (
            f"; upgrades costing {pb.cost(plan):.6g} {pb.candidates.cost_unit} "
            f"({', '.join(pb.candidates.candidates[k].id for k in np.flatnonzero(plan))}) "
            f"would meet every target at free flow (budget {pb.budget:.6g}): raise the budget "
            "to about that, or relax the targets"
            + ("" if ok else " (they include exclusive variants, so no single plan does)")
        )
    else:
        t_all = settlement_times(every_net, pb.roles, _free_time(pb, every_net), every_closed)
        worst = float((t_all - targets.minutes[None, :]).max())
        text += (
            f"; not even every candidate together meets them (worst remaining excess "
            f"{worst:.1f} min at free flow): relax the targets or add candidates"
        )
    return text


def _free_time(pb: DesignProblem, net: Any) -> np.ndarray:
    """Free-flow generalized link costs of a network under the problem's cost weights."""
    return net.free_flow_time + net.generalized_constant(pb.toll_factor, pb.distance_factor)


def _meets(pb: DesignProblem, net: Any, closed: np.ndarray) -> bool:
    """Whether every settlement meets every access target at free flow."""
    assert pb.roles is not None and pb.access is not None
    t = settlement_times(net, pb.roles, _free_time(pb, net), closed)
    return bool((t - pb.access.minutes[None, :]).max() <= 1e-9)


def _finish(
    s: _Search,
    method: str,
    outcome: _Outcome,
    message: str,
    rgap: float,
    appraisal: Appraisal | None,
    baseline: bool,
    t0: float,
) -> Plan:
    """Re-solve both ends cold, appraise the plan and assemble the :class:`Plan`."""
    pb, ev = s.problem, s.ev
    cs = pb.candidates
    base_row = None
    if baseline and outcome.greedy is not None and outcome.status != Status.INFEASIBLE:
        gp, gv = outcome.greedy
        base_row = {
            "method": "greedy benefit per cost",
            "objective": float(gv),
            "feasible": bool(s.master.feasible(gp)),
            "cost": pb.cost(gp),
            "selected": [cs.candidates[k].id for k in np.flatnonzero(gp)],
        }
    # report both ends from cold solves at a tighter gap: search values carry the
    # equilibrium tolerance (and depend on the warm start they came from)
    polish = max(min(rgap * 1e-2, 1e-9), 1e-12)
    best_plan = outcome.plan
    before = ev.polished(pb.empty(), polish)
    after = ev.polished(best_plan, polish)
    # an infeasible problem has no objective value: the empty plan is not admissible
    best_val = math.nan if outcome.status == Status.INFEASIBLE else after.value
    lower = outcome.lower
    if lower is not None and np.isfinite(best_val):
        lower = min(lower, best_val)
    details, appraisal_row = appraise(
        pb,
        best_plan,
        before.metrics,
        after.metrics,
        after.value,
        appraisal or Appraisal(),
        ev.figures,
    )
    net_after, closed = cs.apply(best_plan)
    settlements = []
    if pb.access is not None and pb.roles is not None:
        net_before, closed_before = cs.apply(pb.empty())
        settlements = settlement_rows(
            settlement_times(net_before, pb.roles, before.result.cost, closed_before),
            settlement_times(net_after, pb.roles, after.result.cost, closed),
            pb.access,
        )
    gap = None
    if lower is not None and np.isfinite(lower) and np.isfinite(best_val) and best_val:
        gap = max(0.0, (best_val - lower) / abs(best_val))
    plan = Plan(
        selected=tuple(cs.candidates[k].id for k in np.flatnonzero(best_plan)),
        selected_details=details,
        cost=pb.cost(best_plan),
        budget=pb.budget,
        objective_name=pb.objective,
        objective=float(best_val),
        objective_before=float(before.value),
        lower_bound=None if lower is None or not np.isfinite(lower) else float(lower),
        gap=gap,
        status=outcome.status,
        evaluations=ev.solves,
        seconds=time.perf_counter() - t0,
        metrics_before=before.metrics,
        metrics_after=after.metrics,
        appraisal=appraisal_row,
        baseline=base_row,
        message=message,
        plan=best_plan,
        network=net_after,
        closed=closed,
        result=after.result,
        result_before=before.result,
        history=s.prog.history,
        settlements=settlements,
        settings={
            "method": method,
            **pb.summary(),
            "report_rgap": polish,
            "rgap": rgap,
            "tolerance": s.tol,
            "time_limit": s.time_limit,
            "assignment_method": ev.method,
            "ue_solves": ev.n_ue,
            "so_solves": ev.n_so,
            "ue_seconds": ev.ue_seconds,
            "so_seconds": ev.so_seconds,
            "plans_skipped_by_bound": ev.n_skipped,
            "seconds_per_equilibrium": (ev.ue_seconds + ev.so_seconds) / max(ev.solves, 1),
            "master_solves": s.master.solves,
        },
    )
    log.info(
        "plan: %s, objective %.8g (before %.8g), cost %.6g of %.6g, %d equilibria, %.1f s",
        plan.status,
        plan.objective,
        plan.objective_before,
        plan.cost,
        pb.budget,
        plan.evaluations,
        plan.seconds,
    )
    return plan
