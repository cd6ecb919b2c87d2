"""The whole optimization job as one function: study -> candidates -> budget -> plan.

:func:`plan_study` is what ``roadopt optimize`` and scenario files run: it resolves the
candidates (from a network-design instance, a file, or generated for OSM networks), the
budget and the objective, then calls :func:`optimizer.search.optimize`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from networks.sources import Study

from ..candidates import CandidateSet, from_instance
from ..errors import UsageError
from ..results import Plan
from ..search import Appraisal, optimize

__all__ = ["DEFAULT_BUDGET_SHARE", "PlanRun", "parse_weights", "plan_study"]

log = logging.getLogger(__name__)

#: Budget for generated candidates when none is given: 30% of the total cost of all
#: candidates, enough for a few upgrades out of many so that the choice matters.
DEFAULT_BUDGET_SHARE = 0.3


@dataclass(frozen=True, eq=False)
class PlanRun:
    """A finished optimization: the study, the candidates and the plan."""

    study: Study
    candidates: CandidateSet
    plan: Plan


def parse_weights(text: str | Mapping[str, float] | None) -> dict[str, float] | None:
    """``"internal=0.5,external=0.5"`` -> ``{"internal": 0.5, "external": 0.5}``."""
    if text is None or isinstance(text, Mapping):
        return None if text is None else dict(text)
    out: dict[str, float] = {}
    for part in str(text).split(","):
        if not part.strip():
            continue
        key, sep, val = part.partition("=")
        try:
            if not sep:
                raise ValueError
            out[key.strip()] = float(val)
        except ValueError:
            raise UsageError(
                f"weights {text!r}: write name=value pairs such as internal=0.5,external=0.5"
            ) from None
    return out


def resolve_candidates(
    study: Study,
    candidates: str | Path | CandidateSet | None,
    *,
    profile: str = "generic",
    max_candidates: int = 12,
    seed: int = 0,
) -> CandidateSet:
    """Candidates from the instance file, a CSV/GeoJSON file, or generated (``"auto"``)."""
    net = study.network
    if isinstance(candidates, CandidateSet):
        return candidates
    if candidates is None:
        candidates = "instance" if net.candidates is not None else "auto"
    if candidates == "instance":
        return from_instance(net)
    from ..candidate_files import read_candidates
    from ..generate import generate_candidates

    if candidates == "auto":
        if "osm_way_ids" not in net.extra:
            raise UsageError(
                f"network '{net.name}' is not an OpenStreetMap network: automatic candidates "
                "need road classes and coordinates; give --candidates FILE"
            )
        return generate_candidates(
            net, study.demand, profile=profile, max_candidates=max_candidates, seed=seed
        )
    return read_candidates(candidates, net)


def plan_study(
    study: Study,
    *,
    candidates: str | Path | CandidateSet | None = None,
    budget: float | None = None,
    budget_share: float | None = None,
    objective: str = "auto",
    weights: str | Mapping[str, float] | None = None,
    min_resilience: float | None = None,
    method: str = "bnb",
    rgap: float = 1e-8,
    time_limit: float | None = None,
    max_candidates: int = 12,
    appraisal: Appraisal | None = None,
    toll_factor: float = 0.0,
    distance_factor: float = 0.0,
    seed: int = 0,
    callback: Any = None,
) -> PlanRun:
    """Optimize upgrades for a study (see :func:`optimizer.search.optimize`).

    Parameters
    ----------
    candidates
        ``None``: the instance's candidate links, else generated (``"auto"``, OSM
        networks only); a CSV/GeoJSON path; or a :class:`CandidateSet`.
    budget, budget_share
        For an instance file one is required; for generated candidates the default is
        :data:`DEFAULT_BUDGET_SHARE` of their total cost.
    objective
        ``"tstt"``, ``"connectivity"`` or ``"auto"``: connectivity where the demand has
        gateways (OSM areas), TSTT otherwise.
    weights
        ``"internal=0.5,external=0.5"`` or a mapping.
    """
    net, demand = study.network, study.demand
    if demand is None:
        raise UsageError(f"network '{net.name}' has no demand: give a trips file (--trips)")
    is_instance = net.candidates is not None and candidates in (None, "instance")
    if budget is None and budget_share is None:
        if is_instance:
            raise UsageError(
                f"'{net.name}' is a network-design instance: give --budget (in its cost "
                "unit) or --budget-share (a share of the total cost of all candidates)"
            )
        budget_share = DEFAULT_BUDGET_SHARE
    cs = resolve_candidates(
        study,
        candidates,
        profile=study.meta.get("profile", "generic"),
        max_candidates=max_candidates,
        seed=seed,
    )
    if objective == "auto":
        objective = "connectivity" if (~np.asarray(demand.internal)).any() else "tstt"
    activity = None
    model = study.model
    if model is not None and getattr(model, "zones", None) is not None:
        act = np.asarray(model.zones.activity, dtype=np.float64)
        if act.shape == (int(np.asarray(demand.internal).sum()),):
            activity = act
    base = net.replace(candidates=None, validate=False) if net.candidates is not None else net
    plan = optimize(
        base,
        demand,
        cs,
        budget=budget,
        budget_share=budget_share,
        objective=objective,
        weights=parse_weights(weights),
        min_resilience=min_resilience,
        activity=activity,
        method=method,
        rgap=rgap,
        time_limit=time_limit,
        appraisal=appraisal,
        toll_factor=toll_factor,
        distance_factor=distance_factor,
        callback=callback,
    )
    return PlanRun(study, cs, plan)
