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
* ``connectivity``: path times at free flow (equilibrium times are never lower).

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from networks.demand import Demand

from .assignment import assign
from .candidates import CandidateSet
from .connectivity import ZoneRoles, connectivity, resilience, zone_roles
from .design import DesignModel
from .errors import InfeasibleBudgetError, UsageError
from .results import AssignmentResult, Plan, Status

__all__ = ["OBJECTIVES", "Appraisal", "optimize"]

log = logging.getLogger(__name__)

OBJECTIVES = ("tstt", "connectivity")
DEFAULT_WEIGHTS = {"internal": 0.5, "external": 0.5, "resilience": 0.0}
_TIME_TO_HOURS = {
    "min": 1 / 60,
    "minute": 1 / 60,
    "minutes": 1 / 60,
    "h": 1.0,
    "hr": 1.0,
    "hour": 1.0,
    "hours": 1.0,
    "s": 1 / 3600,
    "sec": 1 / 3600,
    "seconds": 1 / 3600,
}


@dataclass(frozen=True)
class Appraisal:
    """Money terms of a plan: value of travel time saved against the building cost.

    The annual benefit is the total travel time saved in the demand's period (vehicle
    hours) times ``value_of_time`` (base currency units per vehicle-hour) times
    ``periods_per_year``, reported in the candidates' cost unit (for example thousand
    CNY); its present value uses an annuity over ``years`` at ``discount_rate``.
    Defaults are planning conventions to be set by the user: 250 working days with two
    peak hours each (500 periods a year for a peak-hour demand), 20 years at 5%, and a
    value of time of 40 currency units per vehicle-hour (of the order of Chinese appraisal
    practice for cars, in CNY).
    """

    value_of_time: float = 40.0
    periods_per_year: float = 500.0
    years: int = 20
    discount_rate: float = 0.05

    @property
    def annuity(self) -> float:
        r = self.discount_rate
        return float(self.years) if r == 0 else (1 - (1 + r) ** -self.years) / r


@dataclass
class _Eval:
    value: float
    metrics: dict[str, float]
    result: AssignmentResult
    feasible: bool = True


@dataclass
class _Evaluator:
    """Scores plans (user equilibrium) and bounds cones of plans (relaxations), with caches."""

    cs: CandidateSet
    demand: Demand
    objective: str
    weights: Mapping[str, float]
    roles: ZoneRoles | None
    min_resilience: float | None
    rgap: float
    method: str
    toll_factor: float
    distance_factor: float
    cache: dict[bytes, _Eval] = field(default_factory=dict)
    bounds: dict[bytes, float] = field(default_factory=dict)
    n_ue: int = 0
    n_so: int = 0
    warm: AssignmentResult | None = None
    warm_so: AssignmentResult | None = None

    def _ue(self, plan: np.ndarray) -> AssignmentResult:
        net, closed = self.cs.apply(plan)
        kw = {
            "method": self.method,
            "rgap": self.rgap,
            "closed_links": closed,
            "toll_factor": self.toll_factor,
            "distance_factor": self.distance_factor,
        }
        r = assign(net, self.demand, warm_start=self.warm, **kw)
        self.n_ue += 1
        if not r.converged and self.warm is not None:
            log.warning(
                "a warm-started equilibrium stopped at gap %.2e; solving it cold", r.relative_gap
            )
            r = assign(net, self.demand, **kw)
            self.n_ue += 1
        self.warm = r
        return r

    def metrics(self, plan: np.ndarray, r: AssignmentResult) -> dict[str, float]:
        out = {
            "tstt": float(r.tstt),
            "relative_gap": float(r.relative_gap),
            "objective_beckmann": float(r.objective),
        }
        if self.roles is not None:
            net, closed = self.cs.apply(plan)
            out.update(connectivity(net, self.roles, r.cost, closed))
            if self.roles.gateway_nodes.size:
                out["resilience"] = resilience(net, self.roles, closed)
        return out

    def value_of(self, m: Mapping[str, float]) -> float:
        if self.objective == "tstt":
            return m["tstt"]
        w = self.weights
        v = 0.0
        if w.get("internal", 0):
            v += w["internal"] * m["internal"]
        if w.get("external", 0):
            v += w["external"] * m["external"]
        if w.get("resilience", 0):
            v += w["resilience"] * (1.0 - m["resilience"])
        return v

    def evaluate(self, plan: np.ndarray) -> _Eval:
        key = np.asarray(plan, dtype=bool).tobytes()
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        r = self._ue(plan)
        m = self.metrics(plan, r)
        ok = self.min_resilience is None or m.get("resilience", 1.0) >= self.min_resilience
        # the cache keeps figures, not the bushes (those weigh zones x links each); the
        # latest full result stays as the next warm start
        ev = _Eval(self.value_of(m), m, replace(r, state=None), ok)
        self.cache[key] = ev
        return ev

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
        net, closed = self.cs.optimistic(fixed_in, free)
        lb = 0.0
        if (
            self.roles is not None
            and self.min_resilience is not None
            and (resilience(net, self.roles, closed) < self.min_resilience)
        ):
            self.bounds[key] = math.inf
            return math.inf
        if self.objective == "tstt":
            so = net.replace(alpha=net.alpha * (net.beta + 1.0), validate=False)

            def enough(info: dict) -> bool:
                proven = info["objective"] - info["relative_gap"] * info["tstt"]
                return proven >= threshold or info["objective"] < threshold

            r = assign(
                so,
                self.demand,
                method=self.method,
                rgap=self.rgap,
                closed_links=closed,
                warm_start=self.warm_so,
                toll_factor=self.toll_factor,
                distance_factor=self.distance_factor,
                progress=False,
                callback=None if threshold is None or not np.isfinite(threshold) else enough,
            )
            self.n_so += 1
            self.warm_so = r
            # Frank-Wolfe dual bound of the convex system-optimum problem
            lb = float(r.objective - max(0.0, r.tstt - r.sptt))
        else:
            free_cost = net.free_flow_time + net.generalized_constant(
                self.toll_factor, self.distance_factor
            )
            m = connectivity(net, self.roles, free_cost, closed)
            if self.weights.get("resilience", 0):
                m["resilience"] = resilience(net, self.roles, closed)
            lb = self.value_of(m)
        self.bounds[key] = lb
        return lb


def _affordable(
    cs: CandidateSet, budget: float, fixed_in: np.ndarray, fixed_out: np.ndarray
) -> np.ndarray:
    """Free candidates that could still join: fit the remaining budget, no group clash."""
    costs = cs.costs
    left = budget - float(costs[fixed_in].sum())
    free = ~(fixed_in | fixed_out) & (costs <= left * (1 + 1e-12) + 1e-9)
    for members in cs.groups().values():
        if fixed_in[members].any():
            free[members] = False
    for k, r in cs.prerequisites():
        if fixed_out[r]:
            free[k] = False
    return free


class _Progress:
    def __init__(self, what: str, callback: Callable[[dict], Any] | None) -> None:
        from ._progress import progress_bar

        self.t0 = time.perf_counter()
        self.last = self.t0
        self.what = what
        self.callback = callback
        self.history: list[dict] = []
        self.bar = progress_bar(what, unit="node")

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def note(
        self, incumbent: float, bound: float, nodes: int, evaluations: int, force: bool = False
    ) -> bool:
        now = time.perf_counter()
        gap = (incumbent - bound) / abs(incumbent) if incumbent and np.isfinite(bound) else None
        row = {
            "seconds": now - self.t0,
            "incumbent": incumbent,
            "bound": bound,
            "gap": gap,
            "nodes": nodes,
            "evaluations": evaluations,
        }
        last = self.history[-1] if self.history else None
        if (
            force
            or last is None
            or last["incumbent"] != incumbent
            or (last["bound"] != bound and np.isfinite(bound))
        ):
            self.history.append(row)
        if not self.bar.disable:
            self.bar.n = nodes
            self.bar.set_postfix_str(
                f"incumbent {incumbent:.6g}"
                + ("" if gap is None else f", gap {100 * gap:.3f}%")
                + f", {evaluations} equilibria",
                refresh=False,
            )
            self.bar.update(0)
            if force:
                self.bar.close()
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


def _branch_and_bound(
    ev: _Evaluator,
    master: DesignModel,
    cs: CandidateSet,
    budget: float,
    weights: np.ndarray,
    tol: float,
    time_limit: float | None,
    prog: _Progress,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, float, float, bool]:
    n = len(cs)
    empty = np.zeros(n, dtype=bool)
    best_plan = empty
    base = ev.evaluate(empty)
    best = base.value if base.feasible and master.feasible(empty) else math.inf
    if start is not None and cs.is_feasible(start, budget) and master.feasible(start):
        e = ev.evaluate(start)  # a known plan (the greedy one): never return worse
        if e.feasible and e.value < best:
            best_plan, best = start.copy(), e.value
    order = np.lexsort((np.arange(n), -weights))  # branching priority: benefit first
    counter = itertools.count()
    root_free = _affordable(cs, budget, empty, empty)
    # entries: (bound, tie, fixed in, fixed out, whether the bound is the node's own); a
    # child enters with its parent's bound and gets its own only when it comes up, so
    # children pruned by a better incumbent meanwhile never cost a relaxation
    heap = [(ev.bound(empty, root_free), next(counter), empty, empty.copy(), True)]
    pruned_lb = math.inf
    nodes = 0
    exhausted = True

    def consider(plan: np.ndarray | None) -> None:
        nonlocal best, best_plan
        if plan is None or not cs.is_feasible(plan, budget):
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
        free = _affordable(cs, budget, fin, fout)
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
        if prog.note(best, min(open_lb, pruned_lb), nodes, ev.n_ue + ev.n_so) or (
            time_limit is not None and prog.elapsed() > time_limit
        ):
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
            if float(cs.costs[cin].sum()) > budget * (1 + 1e-12) + 1e-9:
                continue
            heapq.heappush(heap, (lb, next(counter), cin, cout, False))
    # every plan lies in a pruned cone, an open cone or was scored itself
    open_lb = min((h[0] for h in heap), default=math.inf)
    lower = min(pruned_lb, open_lb)
    prog.note(best, min(lower, best), nodes, ev.n_ue + ev.n_so, force=True)
    return best_plan, best, lower, exhausted


def _feasible_plans(cs: CandidateSet, budget: float, limit: int = 2**20):
    """Every plan that satisfies budget, exclusivity and prerequisites (depth-first)."""
    n = len(cs)
    costs = cs.costs
    groups = {k: g for g, members in cs.groups().items() for k in members}
    count = 0

    def rec(k: int, plan: np.ndarray, spent: float, used_groups: set):
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
        if spent + costs[k] <= budget * (1 + 1e-12) + 1e-9 and (g is None or g not in used_groups):
            plan[k] = True
            yield from rec(k + 1, plan, spent + costs[k], used_groups | ({g} if g else set()))
            plan[k] = False

    yield from rec(0, np.zeros(n, dtype=bool), 0.0, set())


def _greedy(
    ev: _Evaluator,
    cs: CandidateSet,
    budget: float,
    master: DesignModel | None,
    time_limit: float | None,
    prog: _Progress,
) -> tuple[np.ndarray, float]:
    """Add the candidate with the best improvement per unit cost until none improves."""
    n = len(cs)
    plan = np.zeros(n, dtype=bool)
    cur = ev.evaluate(plan).value
    costs = cs.costs
    while True:
        best_k, best_ratio, best_val = -1, 0.0, cur
        for k in range(n):
            if plan[k]:
                continue
            trial = plan.copy()
            trial[k] = True
            for a, b in cs.prerequisites():  # bring required candidates along
                if trial[a]:
                    trial[b] = True
            if not cs.is_feasible(trial, budget) or (
                master is not None and not master.feasible(trial)
            ):
                continue
            e = ev.evaluate(trial)
            if not e.feasible:
                continue
            extra = float(costs[trial & ~plan].sum())
            gain = cur - e.value
            ratio = gain / extra if extra > 0 else (math.inf if gain > 0 else 0.0)
            if gain > 1e-12 * abs(cur) and ratio > best_ratio:
                best_k, best_ratio, best_val = k, ratio, e.value
            if time_limit is not None and prog.elapsed() > time_limit:
                break
        if best_k < 0:
            return plan, cur
        plan[best_k] = True
        for a, b in cs.prerequisites():
            if plan[a]:
                plan[b] = True
        cur = best_val


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
        Default ``{"internal": 0.5, "external": 0.5, "resilience": 0.0}``.
    min_resilience
        Plans whose resilience (share of internal activity with two link-disjoint paths to
        the gateways) falls below this are infeasible.
    activity
        Weight per internal zone for external connectivity and resilience.
    method
        ``"bnb"`` (exact branch and bound), ``"enumerate"`` (all feasible plans, up to
        about a million) or ``"greedy"`` (benefit-per-cost baseline).
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
        Called with progress dicts; returning True stops the search.

    Returns
    -------
    Plan
        Status ``optimal`` or ``feasible``; infeasibility of the budget is not an error:
        a budget below every option returns the empty plan with a message.

    Raises
    ------
    UsageError, InfeasibleBudgetError, InvalidCandidatesError
        For bad input, before any equilibrium is solved.
    """
    t0 = time.perf_counter()
    if objective not in OBJECTIVES:
        raise UsageError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    if method not in ("bnb", "enumerate", "greedy"):
        raise UsageError(f"unknown method {method!r}; choose bnb, enumerate or greedy")
    if (budget is None) == (budget_share is None):
        raise UsageError(
            "give a budget (cost units) or a budget share of the candidates' "
            "total cost, not both and not neither"
        )
    if budget_share is not None:
        if not np.isfinite(budget_share) or budget_share < 0:
            raise InfeasibleBudgetError(f"budget share {budget_share} must be >= 0")
        budget = budget_share * candidates.total_cost
    assert budget is not None
    if not np.isfinite(budget) or budget < 0:
        raise InfeasibleBudgetError(f"budget {budget} must be a number >= 0")
    if network is not None and network.num_links != candidates.num_base_links:
        raise UsageError("the candidate set was built on another network (link counts differ)")
    w = dict(DEFAULT_WEIGHTS)
    if weights:
        unknown = set(weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise UsageError(
                f"unknown weight(s) {sorted(unknown)}; use internal, external, resilience"
            )
        w.update({k: float(v) for k, v in weights.items()})
        if any(v < 0 or not np.isfinite(v) for v in w.values()):
            raise UsageError("weights must be numbers >= 0")
    ext = candidates.network
    roles = None
    has_gateways = bool((~np.asarray(demand.internal, dtype=bool)).any())
    if objective == "connectivity" or min_resilience is not None or has_gateways:
        roles = zone_roles(ext, demand, activity)
        if roles.gateway_nodes.size == 0 and (
            (objective == "connectivity" and (w["external"] > 0 or w["resilience"] > 0))
            or min_resilience is not None
        ):
            raise UsageError(
                "external connectivity and resilience need gateways (external "
                "zones), and this demand has none; set the external and "
                "resilience weights to 0 or add gateways"
            )
        if objective == "connectivity" and w["internal"] > 0 and roles.internal_demand.sum() <= 0:
            raise UsageError(
                "internal connectivity needs trips between internal zones; set "
                "the internal weight to 0"
            )
    if min_resilience is not None and not 0 <= min_resilience <= 1:
        raise UsageError(f"min_resilience {min_resilience} must be between 0 and 1")
    tol = max(rgap, 1e-6) if tolerance is None else float(tolerance)
    master = DesignModel(candidates, budget, constraints=constraints)
    ev = _Evaluator(
        candidates,
        demand,
        objective,
        w,
        roles,
        min_resilience,
        rgap,
        assignment_method,
        toll_factor,
        distance_factor,
    )
    n = len(candidates)
    empty = np.zeros(n, dtype=bool)
    before = ev.evaluate(empty)
    message = ""
    costs = candidates.costs
    if n == 0 or costs.min(initial=math.inf) > budget:
        message = (
            f"the budget {budget:.6g} is below the cheapest option "
            f"({costs.min(initial=math.inf):.6g}); no upgrade is affordable"
        )
        log.warning(message)
    prog = _Progress(f"optimize ({objective}, {method})", callback)

    # estimated benefit of each candidate alone (with what it requires): the master's
    # proposal weights and the branching order
    weights_est = np.zeros(n)
    if method == "bnb" and not message:
        for k in range(n):
            trial = empty.copy()
            trial[k] = True
            for a, b in candidates.prerequisites():
                if trial[a]:
                    trial[b] = True
            if candidates.is_feasible(trial, budget):
                e = ev.evaluate(trial)
                weights_est[k] = before.value - e.value if e.feasible else -abs(before.value)
            if time_limit is not None and prog.elapsed() > time_limit:
                break

    lower: float | None = None
    status = Status.FEASIBLE
    if message:
        best_plan, best_val, lower, status = empty, before.value, before.value, Status.OPTIMAL
        if not before.feasible:
            best_val = math.inf
    elif method == "bnb":
        start = None
        if baseline:  # the greedy plan seeds the incumbent: bnb is never worse than it
            greedy_plan, greedy_val = _greedy(ev, candidates, budget, master, time_limit, prog)
            start = greedy_plan
        best_plan, best_val, lower, exhausted = _branch_and_bound(
            ev, master, candidates, budget, weights_est, tol, time_limit, prog, start
        )
        status = Status.OPTIMAL if exhausted else Status.FEASIBLE
    elif method == "enumerate":
        ok = before.feasible and (constraints is None or master.feasible(empty))
        best_plan, best_val = empty, before.value if ok else math.inf
        done = True
        for plan in _feasible_plans(candidates, budget):
            if constraints is not None and not master.feasible(plan):
                continue
            e = ev.evaluate(plan)
            if e.feasible and e.value < best_val:
                best_plan, best_val = plan, e.value
            if time_limit is not None and prog.elapsed() > time_limit:
                done = False
                break
        status = Status.OPTIMAL if done else Status.FEASIBLE
        lower = best_val if done else None
    else:
        best_plan, best_val = _greedy(ev, candidates, budget, master, time_limit, prog)
    if not np.isfinite(best_val):
        raise UsageError(
            "no plan meets min_resilience within the budget; lower it or raise the budget"
        )
    base_row = None
    if baseline and method != "greedy" and not message:
        if method == "bnb":
            gp, gv = greedy_plan, greedy_val
        else:
            gp, gv = _greedy(ev, candidates, budget, master, None, prog)
        base_row = {
            "method": "greedy benefit per cost",
            "objective": float(gv),
            "feasible": bool(master.feasible(gp)),
            "cost": float(costs[gp].sum()),
            "selected": [candidates.candidates[k].id for k in np.flatnonzero(gp)],
        }
    # report both ends from cold solves at a tighter gap: search values carry the
    # equilibrium tolerance (and depend on the warm start they came from)
    polish = max(min(rgap * 1e-2, 1e-9), 1e-12)
    before = _polished(ev, empty, polish)
    after = _polished(ev, best_plan, polish)
    best_val = after.value
    if lower is not None:
        lower = min(lower, best_val)
    app = appraisal or Appraisal()
    details, appraisal_row = _appraise(ev, candidates, best_plan, before, after, app)
    net_after, closed = candidates.apply(best_plan)
    gap = None
    if lower is not None and np.isfinite(lower) and best_val:
        gap = max(0.0, (best_val - lower) / abs(best_val))
    plan = Plan(
        selected=tuple(candidates.candidates[k].id for k in np.flatnonzero(best_plan)),
        selected_details=details,
        cost=float(costs[best_plan].sum()),
        budget=float(budget),
        objective_name=objective,
        objective=float(best_val),
        objective_before=float(before.value),
        lower_bound=None if lower is None or not np.isfinite(lower) else float(lower),
        gap=gap,
        status=status,
        evaluations=ev.n_ue + ev.n_so,
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
        history=prog.history,
        settings={
            "method": method,
            "objective": objective,
            "weights": w,
            "report_rgap": polish,
            "min_resilience": min_resilience,
            "rgap": rgap,
            "tolerance": tol,
            "time_limit": time_limit,
            "assignment_method": assignment_method,
            "budget": float(budget),
            "budget_share": budget_share,
            "candidates": len(candidates),
            "cost_unit": candidates.cost_unit,
            "ue_solves": ev.n_ue,
            "so_solves": ev.n_so,
            "master_solves": master.solves,
        },
    )
    log.info(
        "plan: %s, objective %.8g (before %.8g), cost %.6g of %.6g, %d equilibria, %.1f s",
        status,
        plan.objective,
        plan.objective_before,
        plan.cost,
        budget,
        plan.evaluations,
        plan.seconds,
    )
    return plan


def _polished(ev: _Evaluator, plan: np.ndarray, rgap: float) -> _Eval:
    """Evaluate a plan from a cold start at ``rgap`` (not cached, not warm-started)."""
    net, closed = ev.cs.apply(plan)
    r = assign(
        net,
        ev.demand,
        method=ev.method,
        rgap=rgap,
        closed_links=closed,
        toll_factor=ev.toll_factor,
        distance_factor=ev.distance_factor,
        progress=False,
    )
    ev.n_ue += 1
    m = ev.metrics(plan, r)
    ok = ev.min_resilience is None or m.get("resilience", 1.0) >= ev.min_resilience
    return _Eval(ev.value_of(m), m, r, ok)


def cost_unit_scale(unit: str) -> float:
    """Base currency units in one cost unit: 1e3 for "thousand CNY", 1e6 for "million"."""
    words = unit.strip().lower().split()
    scale = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "billion": 1e9}
    return scale.get(words[0], 1.0) if words else 1.0


def _appraise(
    ev: _Evaluator, cs: CandidateSet, plan: np.ndarray, before: _Eval, after: _Eval, app: Appraisal
) -> tuple[list[dict], dict]:
    """Benefit in money of the plan and (leave-one-out) of each chosen upgrade.

    The value of time is in base currency units per vehicle-hour; benefits are reported in
    the candidates' cost unit (``"thousand CNY"`` divides by 1,000), so benefit/cost
    ratios compare like with like.
    """
    unit = cs.network.units.time.strip().lower()
    to_hours = _TIME_TO_HOURS.get(unit)
    per_cost_unit = cost_unit_scale(cs.cost_unit)
    factor = (
        None
        if to_hours is None
        else to_hours * app.value_of_time * app.periods_per_year / per_cost_unit
    )

    def money(saved: float) -> float | None:
        return None if factor is None else saved * factor

    saved = before.metrics["tstt"] - after.metrics["tstt"]
    cost = float(cs.costs[plan].sum())
    annual = money(saved)
    pv = None if annual is None else annual * app.annuity
    row = {
        "tstt_saved": saved,
        "annual_benefit": annual,
        "present_value": pv,
        "benefit_cost_ratio": None if pv is None or cost <= 0 else pv / cost,
        "value_of_time": app.value_of_time,
        "periods_per_year": app.periods_per_year,
        "years": app.years,
        "discount_rate": app.discount_rate,
        "time_unit": cs.network.units.time,
        "money_unit": cs.cost_unit,
    }
    details = []
    for k in np.flatnonzero(plan):
        c = cs.candidates[k]
        d = c.summary(cs.network)
        without = plan.copy()
        without[k] = False
        for a, b in cs.prerequisites():  # drop what needed this one
            if b == k:
                without[a] = False
        e = ev.evaluate(without)
        own = e.metrics["tstt"] - after.metrics["tstt"]
        d["tstt_saved"] = own
        d["objective_gain"] = e.value - after.value
        m = money(own)
        d["annual_benefit"] = m
        d["benefit_cost_ratio"] = None if m is None or c.cost <= 0 else m * app.annuity / c.cost
        details.append(d)
    return details, row
