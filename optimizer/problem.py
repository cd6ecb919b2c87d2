"""The network-design problem: candidates, budget, rules and objective, checked once.

A :class:`DesignProblem` is built and validated once (:meth:`DesignProblem.build`) and
handed to the searches of :mod:`optimizer.search`. It owns

* the budget test (:meth:`~DesignProblem.fits`, through
  :func:`optimizer.candidates.fits_budget`);
* the rules every plan obeys: the budget, exclusive groups and prerequisites
  (:meth:`~DesignProblem.feasible`), and the candidates still open at a node of a search
  (:meth:`~DesignProblem.affordable`); user rules on top of these live in the CP-SAT master
  (:mod:`optimizer.design`);
* the objective as a function of a plan's equilibrium figures (:meth:`~DesignProblem.value`):

  - ``tstt``: total system travel time ``sum_a x_a c_a(x_a)`` at user equilibrium (the
    network's time unit times its flow unit, e.g. vehicle-minutes per peak hour);
  - ``connectivity``: ``w_int * internal + w_ext * external + w_res * (1 - resilience)``
    (minutes; :mod:`optimizer.connectivity`);
  - ``access``: ``access + w_equity * access_worst``, the settlements' population-weighted
    access score to the trunk network with its penalty beyond the targets, plus the worst
    settlement's score (minutes; :mod:`optimizer.access`);

* the side constraints ``resilience >= min_resilience`` and, with ``require_access``,
  every settlement within every access target (:meth:`~DesignProblem.admissible`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from networks.demand import Demand

from .access import ACCESS_PENALTY, HANSEN_BETA, default_access_targets
from .access import access_targets as find_access_targets
from .candidates import CandidateSet, fits_budget
from .connectivity import ZoneRoles, zone_roles
from .errors import InfeasibleBudgetError, OptionError, UsageError

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_WEIGHTS",
    "OBJECTIVES",
    "DesignProblem",
    "check_budget",
    "check_min_resilience",
    "resolve_weights",
]

OBJECTIVES = ("tstt", "connectivity", "access")
#: Weights of the connectivity objective: internal and external connectivity count alike
#: (minutes), resilience not at all unless asked for; ``equity`` weighs the worst
#: settlement's access score in the access objective (0: the mean alone).
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "internal": 0.5,
    "external": 0.5,
    "resilience": 0.0,
    "equity": 0.0,
}

#: Slack (minutes) of the ``require_access`` rule: equilibrium times carry the solver's
#: tolerance.
ACCESS_SLACK_MIN = 1e-6


def check_budget(budget: float | None, budget_share: float | None, *, required: bool) -> None:
    """Check a budget given in cost units or as a share of the candidates' total cost.

    Parameters
    ----------
    required
        Whether one of the two must be given (a search needs one; a whole job may fall
        back to its default share).

    Raises
    ------
    OptionError
        When both are given (or neither, with ``required``).
    InfeasibleBudgetError
        For a negative or non-finite value.
    """
    if budget is not None and budget_share is not None:
        raise OptionError(
            "budget_share",
            "give a budget (cost units) or a budget share of the candidates' total cost, not both",
        )
    if required and budget is None and budget_share is None:
        raise OptionError(
            "budget",
            "give a budget (cost units) or a budget share of the candidates' total cost",
        )
    if budget_share is not None and (not np.isfinite(budget_share) or budget_share < 0):
        raise InfeasibleBudgetError("budget_share", f"{budget_share} must be a number >= 0")
    if budget_share is not None and budget_share > 1:
        raise OptionError(
            "budget_share",
            f"{budget_share:g} is more than 1: it is a share of the total cost of all "
            "candidates (1 affords every one); give an amount with --budget instead",
        )
    if budget is not None and (not np.isfinite(budget) or budget < 0):
        raise InfeasibleBudgetError("budget", f"{budget} must be a number >= 0")


def resolve_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    """All connectivity weights: :data:`DEFAULT_WEIGHTS` updated by the given ones."""
    w = dict(DEFAULT_WEIGHTS)
    if weights:
        unknown = set(weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise OptionError(
                "weights",
                f"unknown weight(s) {sorted(unknown)}; use {', '.join(DEFAULT_WEIGHTS)}",
            )
        try:
            w.update({k: float(v) for k, v in weights.items()})
        except (TypeError, ValueError):
            raise OptionError("weights", "weights must be numbers >= 0") from None
        if any(v < 0 or not np.isfinite(v) for v in w.values()):
            raise OptionError("weights", "weights must be numbers >= 0")
        _share_weights(weights, w)
    return w


def _share_weights(given: Mapping[str, float], w: dict[str, float]) -> None:
    """``internal`` and ``external`` are shares of the objective: each in [0, 1], sum 1.

    One given alone sets the other to its complement; both given must sum to 1.
    """
    shares = [k for k in ("internal", "external") if k in given]
    for k in shares:
        if w[k] > 1:
            raise OptionError(
                "weights",
                f"{k}={w[k]:g}: internal and external are shares of the objective, "
                "between 0 and 1, summing to 1 (e.g. internal=0.7,external=0.3)",
            )
    if len(shares) == 1:
        other = "external" if shares[0] == "internal" else "internal"
        w[other] = 1.0 - w[shares[0]]
    elif len(shares) == 2 and abs(w["internal"] + w["external"] - 1.0) > 1e-9:
        raise OptionError(
            "weights",
            f"internal={w['internal']:g} and external={w['external']:g} sum to "
            f"{w['internal'] + w['external']:g}; as shares of the objective they sum to 1",
        )


def check_min_resilience(min_resilience: float | None) -> None:
    """A required resilience is a share: between 0 and 1."""
    if min_resilience is not None and not 0 <= min_resilience <= 1:
        raise OptionError("min_resilience", f"{min_resilience} must be between 0 and 1")


@dataclass(frozen=True, eq=False)
class DesignProblem:
    """A checked network-design problem (build it with :meth:`build`).

    Attributes
    ----------
    candidates : CandidateSet
        The upgrade options over their extended network.
    demand : Demand
        Trips between zones (internal zones and gateways for ``connectivity``).
    budget : float
        Maximum total cost of a plan, in the candidates' cost unit.
    objective : str
        ``tstt`` or ``connectivity`` (see the module docstring).
    weights : mapping str -> float
        ``internal``, ``external`` and ``resilience`` weights (all of them).
    min_resilience : float or None
        Plans whose resilience falls below this share are not admissible.
    roles : ZoneRoles or None
        Internal zones and gateways as node indices, where the objective or a rule needs
        them (or the demand has gateways).
    budget_share : float or None
        The share of the candidates' total cost the budget was given as, if it was.
    toll_factor, distance_factor : float
        Generalized-cost weights of every equilibrium, as for :func:`optimizer.assign`.
    constraints : callable or None
        User hook ``hook(model, y)`` adding rules to the CP-SAT master.
    require_access : bool
        Plans leaving a settlement beyond an access target are not admissible.
    """

    candidates: CandidateSet
    demand: Demand
    budget: float
    objective: str
    weights: Mapping[str, float]
    min_resilience: float | None
    roles: ZoneRoles | None
    budget_share: float | None = None
    toll_factor: float = 0.0
    distance_factor: float = 0.0
    constraints: Callable[..., Any] | None = None
    require_access: bool = False

    @classmethod
    def build(
        cls,
        candidates: CandidateSet,
        demand: Demand,
        *,
        objective: str,
        network: Any = None,
        budget: float | None = None,
        budget_share: float | None = None,
        weights: Mapping[str, float] | None = None,
        min_resilience: float | None = None,
        activity: np.ndarray | None = None,
        toll_factor: float = 0.0,
        distance_factor: float = 0.0,
        constraints: Callable[..., Any] | None = None,
        access_targets: Mapping[str, float] | None = None,
        access_penalty: float = ACCESS_PENALTY,
        require_access: bool = False,
        settlement_names: Sequence[str] | None = None,
        gateway_classes: Sequence[str] | None = None,
        hansen_beta: float = HANSEN_BETA,
    ) -> DesignProblem:
        """Check the inputs of a design problem and build it.

        Parameters
        ----------
        network
            The existing network, when given only checked to be the candidates' base.
        budget, budget_share
            The budget in the candidates' cost unit, or as a share of the total cost of
            all candidates: exactly one of them.
        activity
            Weight per internal zone for external connectivity and resilience (and the
            settlements' population for access).
        access_targets, access_penalty, require_access, hansen_beta
            Access targets by class (minutes; default those of the network's road profile,
            :func:`optimizer.access.default_access_targets`), the penalty per minute beyond one, the
            rule that every settlement meets them, and the Hansen decay
            (:mod:`optimizer.access`). The access figures are reported for any objective
            where the problem has settlements (``settlement_names``) or asks for them.
        settlement_names, gateway_classes
            Names of the internal zones; the road class of each gateway (the fallback of
            an access class without access points).

        Raises
        ------
        UsageError, InfeasibleBudgetError
            For an unknown objective or weight, a budget given twice or not at all, a
            negative budget, a resilience outside 0..1, or an objective whose zones are
            missing (gateways for external connectivity, internal trips for internal).
        """
        if objective not in OBJECTIVES:
            raise OptionError(
                "objective",
                f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}",
            )
        check_budget(budget, budget_share, required=True)
        if budget_share is not None:
            budget = budget_share * candidates.total_cost
        assert budget is not None
        if network is not None and network.num_links != candidates.num_base_links:
            raise UsageError("the candidate set was built on another network (link counts differ)")
        w = resolve_weights(weights)
        check_min_resilience(min_resilience)
        roles = None
        has_gateways = bool((~np.asarray(demand.internal, dtype=bool)).any())
        wants_access = objective == "access" or require_access
        if (
            objective == "connectivity"
            or min_resilience is not None
            or has_gateways
            or wants_access
            or settlement_names is not None
        ):
            roles = zone_roles(candidates.network, demand, activity)
            if roles.gateway_nodes.size == 0 and (
                (objective == "connectivity" and (w["external"] > 0 or w["resilience"] > 0))
                or min_resilience is not None
            ):
                raise UsageError(
                    "external connectivity and resilience need gateways (external "
                    "zones), and this demand has none; set the external and "
                    "resilience weights to 0 or add gateways"
                )
            if (
                objective == "connectivity"
                and w["internal"] > 0
                and roles.internal_demand.sum() <= 0
            ):
                raise UsageError(
                    "internal connectivity needs trips between internal zones; set "
                    "the internal weight to 0"
                )
            roles = _with_access(
                roles,
                wants_access or access_targets is not None,
                access_targets=(
                    access_targets
                    if access_targets is not None
                    else default_access_targets(candidates.network.extra.get("profile"))
                ),
                gateway_classes=gateway_classes,
                names=settlement_names,
                penalty=access_penalty,
                beta=hansen_beta,
            )
        return cls(
            candidates=candidates,
            demand=demand,
            budget=float(budget),
            objective=objective,
            weights=w,
            min_resilience=min_resilience,
            roles=roles,
            budget_share=budget_share,
            toll_factor=float(toll_factor),
            distance_factor=float(distance_factor),
            constraints=constraints,
            require_access=bool(require_access),
        )

    # ------------------------------------------------------------------ plans
    @property
    def size(self) -> int:
        """Number of candidates (the length of a plan vector)."""
        return len(self.candidates)

    def empty(self) -> np.ndarray:
        """The plan that builds nothing."""
        return np.zeros(self.size, dtype=bool)

    def cost(self, plan: np.ndarray) -> float:
        """Total cost of a plan (the candidates' cost unit)."""
        return float(self.candidates.costs[np.asarray(plan, dtype=bool)].sum())

    def fits(self, cost: float) -> bool:
        """Whether a total cost fits the budget (up to rounding of float sums)."""
        return fits_budget(cost, self.budget)

    def feasible(self, plan: np.ndarray) -> bool:
        """Budget, exclusive groups and prerequisites respected (user rules aside)."""
        return self.candidates.is_feasible(plan, self.budget)

    def with_requirements(self, plan: np.ndarray) -> np.ndarray:
        """The plan with every candidate its chosen candidates require added."""
        out = np.asarray(plan, dtype=bool).copy()
        for a, b in self.candidates.prerequisites():
            if out[a]:
                out[b] = True
        return out

    def affordable(self, fixed_in: np.ndarray, fixed_out: np.ndarray) -> np.ndarray:
        """Undecided candidates that could still join: fit the budget left, no group clash."""
        cs = self.candidates
        left = self.budget - self.cost(fixed_in)
        free = ~(fixed_in | fixed_out) & fits_budget(cs.costs, left)
        for members in cs.groups().values():
            if fixed_in[members].any():
                free[members] = False
        for k, r in cs.prerequisites():
            if fixed_out[r]:
                free[k] = False
        return free

    # ------------------------------------------------------------------ objective
    def value(self, metrics: Mapping[str, float]) -> float:
        """The objective of a plan from its equilibrium figures (lower is better)."""
        if self.objective == "tstt":
            return metrics["tstt"]
        w = self.weights
        if self.objective == "access":
            v = metrics["access"]
            if w.get("equity", 0):
                v += w["equity"] * metrics["access_worst"]
            return v
        v = 0.0
        if w.get("internal", 0):
            v += w["internal"] * metrics["internal"]
        if w.get("external", 0):
            v += w["external"] * metrics["external"]
        if w.get("resilience", 0):
            v += w["resilience"] * (1.0 - metrics["resilience"])
        return v

    def admissible(self, metrics: Mapping[str, float]) -> bool:
        """Whether a plan's figures meet ``min_resilience`` and ``require_access``."""
        if self.require_access and not metrics.get("access_excess", math.inf) <= ACCESS_SLACK_MIN:
            return False
        return self.min_resilience is None or metrics.get("resilience", 1.0) >= self.min_resilience

    @property
    def access(self) -> Any:
        """The settlements' :class:`~optimizer.access.AccessTargets` (None without)."""
        return None if self.roles is None else self.roles.access

    def summary(self) -> dict[str, Any]:
        """The problem's terms as JSON-ready values (the plan's ``settings``)."""
        return {
            "objective": self.objective,
            "weights": dict(self.weights),
            "min_resilience": self.min_resilience,
            "budget": self.budget,
            "budget_share": self.budget_share,
            "candidates": self.size,
            "cost_unit": self.candidates.cost_unit,
            "toll_factor": self.toll_factor,
            "distance_factor": self.distance_factor,
            "require_access": self.require_access,
            **({"access": self.access.summary()} if self.access is not None else {}),
        }


def _with_access(
    roles: ZoneRoles,
    required: bool,
    *,
    access_targets: Mapping[str, float] | None,
    gateway_classes: Sequence[str] | None,
    names: Sequence[str] | None,
    penalty: float,
    beta: float,
) -> ZoneRoles:
    """The roles with the settlements' access targets, where they can be measured.

    Raises the :class:`OptionError` of :func:`optimizer.access.access_targets` only when the
    objective or a rule needs them; a study that merely reports them goes without.
    """
    if not required and names is None:
        return roles
    g = None
    if gateway_classes is not None and len(gateway_classes) == roles.gateway_nodes.size:
        g = gateway_classes
    try:
        targets = find_access_targets(
            roles.access_nodes,
            roles.access_kind,
            roles.gateway_nodes,
            population=roles.activity,
            targets=access_targets,
            gateway_classes=g,
            names=names,
            penalty=penalty,
            beta=beta,
        )
    except OptionError:
        if required:
            raise
        log.info("no access targets can be measured in this area; access is not reported")
        return roles
    return replace(roles, access=targets)
