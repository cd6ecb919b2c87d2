"""The jobs as functions: a study from its settings, an assignment, the whole optimization.

:func:`plan_study` is what ``roadopt optimize`` and scenario files run: it resolves the
candidates (from a network-design instance, a file, or generated for OSM networks), the
budget and the objective, then calls :func:`optimizer.optimize`. Its keyword defaults are
the settings' (:mod:`optimizer.jobs.settings`). :func:`run_optimize` and
:func:`run_assign` run a whole :class:`~optimizer.jobs.settings.Job`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from networks import open_study
from networks.counts import read_counts
from networks.protected import ProtectedAreas, read_protected
from networks.sources import Study

from ..appraisal import Appraisal
from ..assignment import assign, drop_disconnected
from ..calibration import Calibration, calibrate
from ..candidate_files import read_candidates
from ..candidates import CandidateSet, from_instance
from ..corridors import regional_candidates
from ..costs import read_costs
from ..errors import UsageError
from ..generate import generate_candidates
from ..protect import Protection, protect_candidates
from ..results import AssignmentResult, Plan
from ..search import optimize
from .settings import (
    AssignJob,
    CalibrationSettings,
    CandidateSettings,
    CostSettings,
    OptimizeJob,
    OptimizeSettings,
    StudySettings,
    parse_weights,
)

__all__ = [
    "DEFAULT_BUDGET_SHARE",
    "PlanRun",
    "calibrate_study",
    "design_hour_factor",
    "open_job_study",
    "plan_study",
    "run_assign",
    "run_optimize",
]

log = logging.getLogger(__name__)

#: Budget for generated candidates when none is given: 30% of the total cost of all
#: candidates, enough for a few upgrades out of many so that the choice matters.
DEFAULT_BUDGET_SHARE = 0.3


@dataclass(frozen=True, eq=False)
class PlanRun:
    """A finished optimization: the study, the candidates and the plan.

    ``protection``: what the protected areas excluded and priced (None without them);
    ``calibration``: the demand's adjustment to traffic counts (None without counts).
    """

    study: Study
    candidates: CandidateSet
    plan: Plan
    protection: Protection | None = None
    calibration: Calibration | None = None


def open_job_study(s: StudySettings, *, need_demand: bool = True) -> Study:
    """The :class:`networks.Study` a job's study settings describe (demand scaled)."""
    demand: dict[str, Any] = {
        "external_share": s.external_share,
        "min_population": s.min_population,
        "trip_rate": s.trip_rate,
        "design_hour_factor": s.design_hour_factor,
        "growth_factor": s.growth_factor,
        "deterrence_beta": s.deterrence_beta,
        "connectors_per_zone": s.connectors_per_zone,
    }
    if s.gateway_refs is not None:
        demand["gateway_refs"] = list(s.gateway_refs)
    kwargs: dict[str, Any] = {
        "profile": s.profile,
        "consolidate": s.consolidate,
        "tolerance": s.tolerance,
        "zones": int(s.zones) if s.zones is not None and s.zones.isdigit() else s.zones,
        "seed": s.seed,
        "od_period": s.od_period,
        "crs": s.crs,
        "trips": s.trips,
        "dem": s.dem,
        "heavy_share": s.heavy_share,
        "demand_options": demand,
    }
    if s.gateway_classes is not None:
        kwargs["gateway_classes"] = list(s.gateway_classes)
    kind = s.source_kind
    if kind == "file":
        study = open_study(s.network, **kwargs)
    elif kind == "dataset":
        study = open_study(s.dataset, **kwargs)
    elif kind == "place":
        study = open_study(place=s.place, **kwargs)
    elif kind == "bbox":
        study = open_study(bbox=s.bbox, **kwargs)
    elif kind == "polygon":
        import shapely

        study = open_study(polygon=shapely.Polygon(s.polygon), **kwargs)
    else:
        study = open_study(**kwargs)
    if study.demand is None:
        if need_demand:
            raise UsageError(
                f"no trips file found for {s.network or s.dataset} by the _net/_trips naming "
                "rule; give one with --trips FILE (in a scenario: network.trips)"
            )
        return study
    if s.demand_scale != 1.0:
        study = replace(
            study,
            demand=study.demand.scaled(s.demand_scale),
            meta={**study.meta, "demand_scale": s.demand_scale},
        )
    return study


def calibrate_study(
    study: Study,
    s: CalibrationSettings,
    *,
    toll_factor: float = CostSettings.toll_factor,
    distance_factor: float = CostSettings.distance_factor,
    callback: Callable[[dict], Any] | None = None,
) -> tuple[Study, Calibration | None]:
    """The study with its demand adjusted to the counts of ``s`` (unchanged without counts).

    Reads the counts on the study's network (:func:`networks.counts.read_counts`) and runs
    :func:`optimizer.calibration.calibrate` with the settings' method parameters.
    """
    if s.counts is None:
        return study, None
    if study.demand is None:
        raise UsageError(f"network '{study.network.name}' has no demand to calibrate")
    counts = read_counts(s.counts, study.network, tolerance=s.count_tolerance)
    cal = calibrate(
        study.network,
        study.demand,
        counts,
        max_iter=s.calibration_steps,
        min_improvement=s.min_improvement,
        step=s.step,
        max_decrease=s.max_decrease,
        rgap=s.calibration_rgap,
        toll_factor=toll_factor,
        distance_factor=distance_factor,
        callback=callback,
    )
    meta = {**study.meta, "calibrated_to": str(s.counts)}
    return replace(study, demand=cal.demand, meta=meta), cal


def settlement_names(study: Study) -> tuple[str, ...] | None:
    """The names of a study's internal zones where they are settlements (else None)."""
    zones = getattr(study.model, "zones", None)
    names = tuple(getattr(zones, "names", ()) or ())
    demand = study.demand
    if not names or demand is None or len(names) != int(np.asarray(demand.internal).sum()):
        return None
    return names if any(names) else None


#: A study is regional (settlements far enough apart for corridors between them) when its
#: settlement zones span at least this many km; a town's named quarters do not.
REGIONAL_MIN_EXTENT_KM = 5.0


def is_regional(study: Study) -> bool:
    """Whether a study's zones are settlements spread over a region.

    Named settlement zones (:func:`settlement_names`) whose centres lie at least
    :data:`REGIONAL_MIN_EXTENT_KM` apart at the farthest, on a network with access points
    to the trunk network.
    """
    net = study.network
    zones = getattr(study.model, "zones", None)
    if settlement_names(study) is None or zones is None or net.crs is None:
        return False
    if not (net.extra.get("access_points") or {}).get("node_ids"):
        return False
    xy = np.column_stack([np.asarray(zones.x, float), np.asarray(zones.y, float)])
    if len(xy) < 2 or not np.isfinite(xy).all():
        return False
    span = float(np.max(np.ptp(xy, axis=0)))  # metres (OSM studies are in UTM)
    return span >= REGIONAL_MIN_EXTENT_KM * 1000.0


def _gateway_classes(study: Study) -> tuple[str, ...] | None:
    gws = getattr(study.model, "gateways", None)
    return None if gws is None else tuple(str(c) for c in gws.road_class)


def _activity(study: Study) -> np.ndarray | None:
    zones = getattr(study.model, "zones", None)
    demand = study.demand
    if zones is None or demand is None:
        return None
    act = np.asarray(zones.activity, dtype=np.float64)
    return act if act.shape == (int(np.asarray(demand.internal).sum()),) else None


def resolve_candidates(
    study: Study,
    candidates: str | Path | CandidateSet | None,
    *,
    profile: str,
    max_candidates: int | None,
    seed: int,
    toll_factor: float,
    distance_factor: float,
    areas: ProtectedAreas | None = None,
    scale: str = CandidateSettings.scale,
    regional: Mapping[str, Any] | None = None,
) -> tuple[CandidateSet, Protection | None]:
    """Candidates from the instance file, a CSV/GeoJSON file, or generated (``"auto"``).

    With ``areas``, every set passes :func:`optimizer.protect.protect_candidates`: a given
    or read set as a whole, generated proposals before their ranking (so that a forbidden
    proposal leaves its place to the next best). Generated sets are regional
    (:func:`optimizer.regional_candidates`, with the keywords ``regional``) where ``scale``
    says so, or ``auto`` and the zones are settlements; else local
    (:func:`optimizer.generate_candidates`).
    """
    net = study.network

    def protect(cs: CandidateSet) -> tuple[CandidateSet, Protection | None]:
        if areas is None:
            return cs, None
        p = protect_candidates(cs, areas)
        return p.candidates, p

    if isinstance(candidates, CandidateSet):
        return protect(candidates)
    if candidates is None:
        candidates = "instance" if net.candidates is not None else "auto"
    if candidates == "instance":
        return protect(from_instance(net))
    if candidates == "auto":
        assert study.demand is not None  # plan_study checked it
        if "osm_way_ids" not in net.extra:
            raise UsageError(
                f"network '{net.name}' is not an OpenStreetMap network: automatic candidates "
                "need road classes and coordinates; give --candidates FILE"
            )
        pool: list[Protection] = []

        def screen(cs: CandidateSet) -> CandidateSet:
            pool.append(protect_candidates(cs, areas))  # type: ignore[arg-type]
            return pool[-1].candidates

        limit: dict[str, Any] = (
            {} if max_candidates is None else {"max_candidates": max_candidates}
        )
        names = settlement_names(study)
        if scale == "regional" or (scale == "auto" and is_regional(study)):
            cs = regional_candidates(
                net,
                study.demand,
                profile=profile,
                settlement_names=names,
                gateway_classes=_gateway_classes(study),
                activity=_activity(study),
                toll_factor=toll_factor,
                distance_factor=distance_factor,
                areas=areas,
                screen=None if areas is None else screen,
                **limit,
                **dict(regional or {}),
            )
        else:
            cs = generate_candidates(
                net,
                study.demand,
                profile=profile,
                seed=seed,
                toll_factor=toll_factor,
                distance_factor=distance_factor,
                screen=None if areas is None else screen,
                **limit,
                **{k: v for k, v in dict(regional or {}).items() if k == "costs"},
            )
        return cs, (pool[0].restricted_to(cs) if pool else None)
    return protect(read_candidates(candidates, net))


def plan_study(
    study: Study,
    *,
    candidates: str | Path | CandidateSet | None = CandidateSettings.candidates,
    budget: float | None = OptimizeSettings.budget,
    budget_share: float | None = OptimizeSettings.budget_share,
    objective: str = OptimizeSettings.objective,
    weights: str | Mapping[str, float] | None = OptimizeSettings.weights,
    min_resilience: float | None = OptimizeSettings.min_resilience,
    method: str = OptimizeSettings.method,
    rgap: float = OptimizeSettings.rgap,
    time_limit: float | None = OptimizeSettings.time_limit,
    max_candidates: int | None = CandidateSettings.max_candidates,
    protected: str | Path | ProtectedAreas | None = CandidateSettings.protected,
    scale: str = CandidateSettings.scale,
    corridor_standard: str = CandidateSettings.corridor_standard,
    corridor_variants: tuple[str, ...] = CandidateSettings.corridor_variants,
    neighbours: int = CandidateSettings.neighbours,
    detour_factor: float = CandidateSettings.detour_factor,
    alignment: str = CandidateSettings.alignment,
    costs: str | Path | None = CandidateSettings.costs,
    access_targets: Mapping[str, float] | None = OptimizeSettings.access_targets,
    access_penalty: float = OptimizeSettings.access_penalty,
    require_access: bool = OptimizeSettings.require_access,
    on_disconnected: str = OptimizeSettings.on_disconnected,
    appraisal: Appraisal | None = None,
    toll_factor: float = CostSettings.toll_factor,
    distance_factor: float = CostSettings.distance_factor,
    seed: int = StudySettings.seed,
    callback: Callable[[dict], Any] | None = None,
) -> PlanRun:
    """Optimize upgrades for a study (see :func:`optimizer.optimize`).

    Keywords and defaults are the settings of :mod:`optimizer.jobs.settings`
    (``CandidateSettings``, ``OptimizeSettings``, ``CostSettings``), whose help states
    units.

    Parameters
    ----------
    candidates
        ``None``: the instance's candidate links, else generated (``"auto"``, OSM
        networks only); a CSV/GeoJSON path; or a :class:`CandidateSet`.
    budget, budget_share
        For an instance file one is required; for generated candidates the default is
        :data:`DEFAULT_BUDGET_SHARE` of their total cost.
    objective
        ``"tstt"``, ``"connectivity"``, ``"access"`` or ``"auto"``: access where the zones
        are settlements (and the area has access points), connectivity where the demand
        has gateways (OSM areas), TSTT otherwise.
    scale, corridor_standard, corridor_variants, neighbours, detour_factor, alignment
        The generated candidates (:func:`optimizer.regional_candidates`).
    costs
        A cost file (:func:`optimizer.costs.read_costs`) over the default unit costs.
    access_targets, access_penalty, require_access
        The access objective and rule (:mod:`optimizer.access`).
    on_disconnected
        ``"drop"``: trips between zones the existing network does not join are dropped
        (:func:`optimizer.assignment.drop_disconnected`, recorded in the study's meta)
        before the search; ``"raise"``: an error naming them.
    weights
        ``"internal=0.5,external=0.5"`` or a mapping.
    protected
        Protected areas (a polygon file or :class:`networks.protected.ProtectedAreas`):
        no candidate touching a forbidden one is offered, those touching a multiplier
        area cost more (:mod:`optimizer.protect`); the record is ``PlanRun.protection``.
    appraisal
        Money terms (default :class:`optimizer.Appraisal`); the K factor of a
        design-hour demand is added where it has none (:func:`design_hour_factor`).
    callback
        Progress rows of the search (see :func:`optimizer.optimize`).
    """
    net, demand = study.network, study.demand
    if demand is None:
        raise UsageError(f"network '{net.name}' has no demand: give a trips file (--trips)")
    if on_disconnected == "drop":
        demand, pairs, trips = drop_disconnected(net, demand)
        if pairs:
            meta = {**study.meta, "dropped_disconnected": {"pairs": pairs, "trips": trips}}
            study = replace(study, demand=demand, meta=meta)
    is_instance = net.candidates is not None and candidates in (None, "instance")
    if budget is None and budget_share is None:
        if is_instance:
            raise UsageError(
                f"'{net.name}' is a network-design instance: give --budget (in its cost "
                "unit) or --budget-share (a share of the total cost of all candidates)"
            )
        budget_share = DEFAULT_BUDGET_SHARE
    if protected is not None and not isinstance(protected, ProtectedAreas):
        protected = read_protected(protected, crs=net.crs)
    names = settlement_names(study)
    if objective == "auto":
        if is_regional(study):
            objective = "access"
        else:
            objective = "connectivity" if (~np.asarray(demand.internal)).any() else "tstt"
    table = read_costs(costs) if costs is not None else None
    regional: dict[str, Any] = {
        "objective": objective,
        "access_targets": access_targets,
        "access_penalty": access_penalty,
        "corridor_standard": corridor_standard,
        "corridor_variants": corridor_variants,
        "neighbours": neighbours,
        "detour_factor": detour_factor,
        "alignment": alignment,
        **({"costs": table} if table is not None else {}),
    }
    w = parse_weights(weights) if isinstance(weights, str) else weights
    if w and "equity" in w:
        regional["equity"] = float(w["equity"])
    cs, protection = resolve_candidates(
        study,
        candidates,
        profile=study.meta.get("profile", StudySettings.profile),
        max_candidates=max_candidates,
        seed=seed,
        toll_factor=toll_factor,
        distance_factor=distance_factor,
        areas=protected,
        scale=scale,
        regional=regional,
    )
    appraisal = appraisal or Appraisal()
    k = design_hour_factor(study)
    if appraisal.design_hour_factor is None and k is not None:
        appraisal = replace(appraisal, design_hour_factor=k)
    appraisal.unit_of(cs.cost_unit)  # the money units agree, before the search
    base = net.replace(candidates=None, validate=False) if net.candidates is not None else net
    plan = optimize(
        base,
        demand,
        cs,
        budget=budget,
        budget_share=budget_share,
        objective=objective,
        weights=w,
        min_resilience=min_resilience,
        activity=_activity(study),
        method=method,
        rgap=rgap,
        time_limit=time_limit,
        appraisal=appraisal,
        toll_factor=toll_factor,
        distance_factor=distance_factor,
        callback=callback,
        access_targets=access_targets,
        access_penalty=access_penalty,
        require_access=require_access,
        settlement_names=names,
        gateway_classes=_gateway_classes(study),
    )
    return PlanRun(study, cs, plan, protection)


def run_optimize(
    job: OptimizeJob,
    *,
    study: Study | None = None,
    callback: Callable[[dict], Any] | None = None,
) -> PlanRun:
    """Run an optimize job: open, calibrate (:func:`calibrate_study`) and plan its study.

    The study is opened unless given; its demand is adjusted to the job's counts where
    there are any, then :func:`plan_study` runs.
    """
    if study is None:
        study = open_job_study(job.study)
    study, cal = calibrate_study(study, job.calibration, **job.costs.values())
    appraisal = job.appraisal.appraisal(
        design_hour_factor=design_hour_factor(study), heavy_share=job.study.heavy_share
    )
    run = plan_study(
        study,
        **job.candidates.values(),
        **job.optimize.values(),
        **job.costs.values(),
        appraisal=appraisal,
        seed=job.study.seed,
        callback=callback,
    )
    return run if cal is None else replace(run, calibration=cal)


def design_hour_factor(study: Study) -> float | None:
    """K of a design-hour demand (design-hour trips over daily trips), else None.

    The synthesised demand of an OpenStreetMap study is the design hour's
    (:func:`networks.zoning.demand_model`); the appraisal annualises it with K.
    """
    demand, model = study.demand, study.model
    if demand is None or demand.period != "design hour" or model is None:
        return None
    k = getattr(model, "parameters", {}).get("design_hour_factor")
    return None if k is None else float(k)


def run_assign(
    job: AssignJob,
    *,
    study: Study | None = None,
    callback: Callable[[dict], Any] | None = None,
) -> tuple[Study, AssignmentResult]:
    """Run an assign job: open its study (unless given) and solve the equilibrium."""
    if study is None:
        study = open_job_study(job.study)
    if study.demand is None:
        raise UsageError(f"network '{study.network.name}' has no demand: give a trips file")
    result = assign(study.network, study.demand, callback=callback, **job.assignment.values())
    return study, result
