"""Settings of roadopt's jobs, each written once: type, default, unit, help and checks.

Every setting is a field of a frozen dataclass below, declared with :func:`setting`. The
field's name is the Python API's keyword (``rgap``, ``budget_share``, ``n_zones``); its
metadata says where it lives in a scenario file (table and key, e.g. ``[assignment]
gap``) and on the command line (``--gap``). From these classes

* :mod:`optimizer.jobs.cli` builds every option of ``assign``, ``optimize``, ``run``,
  ``batch`` and ``info``, with its help text, unit and default;
* :mod:`optimizer.jobs.scenario` builds the TOML schema, its type checks and its errors
  (file, line and key);
* :mod:`optimizer.jobs.batch` takes its sweep keys (a field name, a unique key, or
  ``table.key``);
* the plan document's ``settings`` block is :meth:`Job.document` of the run.

Defaults that the algorithms also have are read from their signatures
(:func:`default_of`), and the job functions (:func:`optimizer.plan_study`,
:func:`optimizer.run_batch`) take theirs from these classes, so each default is written
once; ``tests/test_settings.py`` checks that every API keyword of the same name agrees.
Adding a setting is one :func:`setting` line (and passing it on where it is used).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import MISSING, dataclass, field, replace
from typing import Any, ClassVar

from networks import BUILTIN_NETWORKS, open_study
from networks.counts import read_counts
from networks.roads import PROFILES
from networks.sources import check_crs, check_tolerance
from networks.terrain import apply_terrain
from networks.zoning import demand_model

from ..access import ACCESS_PENALTY, check_access_targets
from ..assignment import METHODS as ASSIGN_METHODS
from ..assignment import ON_DISCONNECTED, assign, check_options
from ..calibration import calibrate
from ..corridors import (
    CORRIDOR_NEIGHBOURS,
    CORRIDOR_STANDARD,
    CORRIDOR_VARIANTS,
    GAP_DETOUR_FACTOR,
    parse_standard,
    regional_candidates,
)
from ..errors import OptionError
from ..generate import generate_candidates
from ..problem import OBJECTIVES, check_budget, check_min_resilience, resolve_weights
from ..search import METHODS as SEARCH_METHODS
from ..search import optimize

__all__ = [
    "AppraisalSettings",
    "AssignJob",
    "AssignOutputSettings",
    "AssignSettings",
    "BatchSettings",
    "CalibrationSettings",
    "CandidateSettings",
    "ConsoleSettings",
    "CostSettings",
    "InfoSettings",
    "Job",
    "OptimizeJob",
    "OptimizeSettings",
    "OutputSettings",
    "RunSettings",
    "ScenarioSettings",
    "Section",
    "Spec",
    "StudySettings",
    "default_of",
    "is_path",
    "setting",
    "specs",
]
from .appraisal_settings import AppraisalSettings
from .setting_types import (
    Field,
    Section,
    Spec,
    _parse_numbers,
    _positive,
    default_of,
    is_path,
    parse_weights,
    setting,
    specs,
)


def _check_zones(value: str) -> None:
    if value.isdigit() and int(value) < 1:
        raise OptionError("zones", f"is {value}; give at least one zone")


# ---------------------------------------------------------------------- the sections
NETWORK_SOURCES = ("builtin", "file", "dataset", "place", "bbox", "polygon")
#: scenario key that names a network of each kind
_SOURCE_KEY = {"file": "network", "dataset": "dataset", "place": "place", "bbox": "bbox",
               "polygon": "polygon"}  # fmt: skip


@dataclass(frozen=True)
class StudySettings(Section):
    """The network and its demand (:func:`networks.open_study`): ``[network]``, ``[demand]``.

    At most one network source: ``network`` (a file or a dataset name), ``dataset``,
    ``place``, ``bbox`` or ``polygon``; none is the built-in region of small towns north of
    Bayreuth with its terrain (``"builtin-town"`` names the small town of earlier versions).
    """

    TITLE: ClassVar[str] = "network and demand"
    API: ClassVar[tuple[Callable[..., Any], ...]] = (open_study, demand_model, apply_terrain)

    TABLE: ClassVar[str] = "network"

    network: str | None = setting(
        None,
        "an existing network file or a dataset name (default: the built-in region of small "
        "towns north of Bayreuth with its terrain; builtin-town: a small town)",
        key="path",
        metavar="NETWORK",
        positional=True,
        path=True,
        keep=BUILTIN_NETWORKS,
    )
    kind: str | None = setting(
        None,
        "what the network is: builtin, file, dataset, place, bbox or polygon (default: "
        "the kind of the source key given)",
        key="source",
        cli=False,
        choices=NETWORK_SOURCES,
    )
    dataset: str | None = setting(None, "a dataset name (networks.datasets)", cli=False)
    place: str | None = setting(
        None,
        'a place to download from OpenStreetMap, e.g. "Ziliujing District, Zigong, Sichuan, '
        'China" (needs the internet)',
        key="query",
        metavar="NAME",
    )
    bbox: tuple[float, ...] | None = setting(
        None,
        "a bounding box to download, west,south,east,north",
        unit="degrees",
        metavar="W,S,E,N",
        parse=_parse_numbers(4, "four numbers west,south,east,north"),
    )
    polygon: tuple[tuple[float, ...], ...] | None = setting(
        None, "a polygon to download, [[lon, lat], ...]", unit="degrees", cli=False
    )
    trips: str | None = setting(
        None,
        "TNTP trips file (default: by the _net/_trips naming rule); for an OSM area, an OD "
        "matrix CSV origin,destination,trips (with --od-period)",
        metavar="FILE",
        path=True,
    )
    profile: str = setting(
        default_of(open_study, "profile"),
        "road-class defaults for OpenStreetMap roads",
        choices=tuple(PROFILES),
    )
    crs: str | None = setting(
        None,
        "CRS of a TNTP network's node coordinates, for GeoPackage output",
        metavar="EPSG:XXXX",
        check=check_crs,
    )
    consolidate: bool = setting(
        True,
        "merge the nodes of complex intersections (OpenStreetMap)",
        cli_help="keep every OpenStreetMap node of complex intersections",
    )
    tolerance: float = setting(
        default_of(open_study, "tolerance"),
        "intersection consolidation tolerance",
        unit="m",
        check=check_tolerance,
        metavar="M",
    )
    dem: tuple[str, ...] | None = setting(
        None,
        "digital elevation model covering the area: SRTM .hgt/.hgt.zip tiles or GeoTIFFs; "
        "gives every link its grade and terrain class, which lower speeds and capacities "
        "on hills and raise the cost of works there",
        metavar="FILE",
        path=True,
    )
    heavy_share: float = setting(
        default_of(open_study, "heavy_share"),
        "share of heavy vehicles (trucks, buses) in the traffic, for the terrain's effect "
        "on speeds and capacities (with --dem)",
        metavar="P",
        check=_positive("heavy_share", strict=False, at_most=1.0),
    )
    zones: str | None = setting(
        None,
        "internal zones: places (one per named settlement, OSM place=*), N (k-means, the "
        "fallback), or a zone FILE (GeoPackage, GeoJSON or Shapefile polygons with "
        "optional name, population, employment, productions, attractions); default: "
        "places, else k-means",
        table="demand",
        metavar="N|places|FILE",
        path=True,
        keep=("places", "kmeans"),
        whole_numbers=True,
        check=_check_zones,
    )
    min_population: float | None = setting(
        None,
        "keep a hamlet with at least this tagged population as its own zone (default: "
        "merge hamlets into the nearest village)",
        unit="persons",
        table="demand",
        metavar="P",
        check=_positive("min_population", strict=False),
    )
    trip_rate: float | None = setting(
        None,
        "daily vehicle trips per unit of zone activity (default: by unit and road profile, "
        "networks.gravity.TRIP_RATE)",
        unit="vehicle trips per unit and day",
        table="demand",
        metavar="R",
        check=_positive("trip_rate"),
    )
    design_hour_factor: float = setting(
        default_of(demand_model, "design_hour_factor"),
        "share of the day's trips in the design hour (the K factor; 8-12 % AASHTO/HCM "
        "practice, 0.085-0.13 JTG B01-2014)",
        unit="share of the daily trips",
        table="demand",
        metavar="K",
        check=_positive("design_hour_factor", at_most=1.0),
    )
    growth_factor: float = setting(
        default_of(demand_model, "growth_factor"),
        "design-year over base-year trips (e.g. 1.04 ** 15 = 1.8 for 4 % a year over 15 years)",
        unit="ratio",
        table="demand",
        metavar="G",
        check=_positive("growth_factor"),
    )
    deterrence_beta: float = setting(
        default_of(demand_model, "deterrence_beta"),
        "gravity deterrence exp(-beta t) on free-flow minutes (0.1: a mean trip of 10 min)",
        unit="1/min",
        table="demand",
        metavar="B",
        check=_positive("deterrence_beta"),
    )
    connectors_per_zone: int = setting(
        default_of(demand_model, "connectors_per_zone"),
        "connectors from each zone to its main roads, at most",
        table="demand",
        metavar="N",
        check=_positive("connectors_per_zone"),
    )
    demand_scale: float = setting(
        1.0,
        "factor on every trip",
        table="demand",
        key="scale",
        metavar="F",
        check=_positive("demand_scale"),
    )
    od_period: str | None = setting(
        None, "the period a --trips OD CSV covers", table="demand", metavar="TEXT"
    )
    external_share: float = setting(
        default_of(demand_model, "external_share"),
        "share of trip ends at the gateways (synthesised demand)",
        table="demand",
        check=_positive("external_share", strict=False, at_most=1.0),
        metavar="S",
    )
    gateway_classes: tuple[str, ...] | None = setting(
        None,
        "road classes whose crossings of the study-area edge become gateways (default: "
        "motorway, trunk, primary, secondary, tertiary and their ramps)",
        table="demand",
        metavar="CLASS",
    )
    gateway_refs: tuple[str, ...] | None = setting(
        None,
        "keep only gateways on roads with these refs (e.g. G85)",
        table="demand",
        metavar="REF",
    )
    seed: int = setting(
        default_of(open_study, "seed"), "seed of every random choice", table="", metavar="N"
    )

    def check(self) -> None:
        """One network source at most, its kind consistent; the kind recorded."""
        given = [k for k in ("network", "dataset", "place", "bbox", "polygon") if getattr(self, k)]
        if len(given) > 1:
            raise OptionError(given[1], "name one network source: " + " or ".join(given))
        if self.kind is not None:
            keys = {f.name: f.key for f in specs(StudySettings)}
            need = _SOURCE_KEY.get(self.kind)
            if need is not None and getattr(self, need) is None:
                raise OptionError("kind", f"source = {self.kind!r} needs a '{keys[need]}' key")
            if given and given[0] != need:
                raise OptionError(
                    "kind", f"source = {self.kind!r} does not match the '{keys[given[0]]}' key"
                )
        if self.polygon is not None and (
            len(self.polygon) < 3 or any(len(p) != 2 for p in self.polygon)
        ):
            raise OptionError("polygon", "must be at least three [lon, lat] pairs")
        if self.bbox is not None and len(self.bbox) != 4:
            raise OptionError("bbox", "must be [west, south, east, north] in degrees")
        object.__setattr__(self, "kind", self.source_kind)  # recorded, not inferred again

    @property
    def source_kind(self) -> str:
        """The kind of network this names (given or inferred)."""
        if self.kind is not None:
            return self.kind
        for kind, name in _SOURCE_KEY.items():
            if getattr(self, name) is not None:
                return kind
        return "builtin"


def _check_cost_options(s: Section) -> None:
    for name in ("toll_factor", "distance_factor"):
        v = getattr(s, name)
        if not math.isfinite(v):
            raise OptionError(name, f"must be a finite number, got {v}")


@dataclass(frozen=True)
class CostSettings(Section):
    """The generalized cost of every link (``[assignment]``): time + factors x toll, length."""

    TITLE: ClassVar[str] = "generalized cost"
    API: ClassVar[tuple[Callable[..., Any], ...]] = (assign, optimize, generate_candidates)

    TABLE: ClassVar[str] = "assignment"

    toll_factor: float = setting(
        default_of(assign, "toll_factor"),
        "generalized cost per toll unit",
        unit="time units per toll unit",
        metavar="F",
    )
    distance_factor: float = setting(
        default_of(assign, "distance_factor"),
        "generalized cost per length unit",
        unit="time units per length unit",
        metavar="F",
    )

    def check(self) -> None:
        """Finite factors."""
        _check_cost_options(self)


@dataclass(frozen=True)
class AssignSettings(CostSettings):
    """A user-equilibrium assignment (:func:`optimizer.assign`): ``[assignment]``."""

    TITLE: ClassVar[str] = "assignment"
    API: ClassVar[tuple[Callable[..., Any], ...]] = (assign,)

    method: str = setting(
        default_of(assign, "method"),
        "algorithm (auto: the fastest for the gap)",
        choices=("auto", *ASSIGN_METHODS),
    )
    rgap: float = setting(
        default_of(assign, "rgap"),
        "target relative gap (TSTT - SPTT) / TSTT",
        key="gap",
        flag="gap",
        metavar="G",
    )
    max_iter: int | None = setting(
        None, "iteration limit (default: 1000 sweeps for bush, 10000 otherwise)", metavar="N"
    )
    time_limit: float | None = setting(None, "algorithm time limit", unit="s", metavar="S")
    on_disconnected: str = setting(
        default_of(assign, "on_disconnected"),
        "trips between zones that no path joins: raise (an error naming them) or drop "
        "(with a warning)",
        cli_help="drop trips between zones no path joins, with a warning (default: an error "
        "naming them)",
        flag="drop-disconnected",
        const="drop",
        choices=ON_DISCONNECTED,
    )

    def check(self) -> None:
        """The checks of :func:`optimizer.assign` itself (:func:`check_options`)."""
        check_options(**self.values())


@dataclass(frozen=True)
class CalibrationSettings(Section):
    """The demand adjusted to traffic counts before the search: ``[calibration]``.

    Spiess's (1990) gradient method, :func:`optimizer.calibration.calibrate`.
    """

    TITLE: ClassVar[str] = "calibration to traffic counts"
    API: ClassVar[tuple[Callable[..., Any], ...]] = (calibrate, read_counts)

    TABLE: ClassVar[str] = "calibration"

    counts: str | None = setting(
        None,
        "traffic counts CSV (way_id, link_id or lon,lat; direction; count in the demand's "
        "period): adjust the OD matrix to them before the search",
        metavar="FILE",
        path=True,
    )
    count_tolerance: float = setting(
        default_of(read_counts, "tolerance"),
        "largest distance from a lon,lat count to its link",
        unit="m",
        key="snap_tolerance",
        metavar="M",
        check=_positive("count_tolerance"),
    )
    calibration_steps: int = setting(
        default_of(calibrate, "max_iter"),
        "adjustment steps at most, each followed by an equilibrium",
        unit="steps",
        key="steps",
        metavar="N",
        check=_positive("calibration_steps", strict=False),
    )
    min_improvement: float = setting(
        default_of(calibrate, "min_improvement"),
        "stop when a step lowers the squared count error by less than this share of it",
        unit="share of the error",
        flag="calibration-min-improvement",
        metavar="S",
        check=_positive("min_improvement", strict=False, at_most=0.999),
    )
    step: float = setting(
        default_of(calibrate, "step"),
        "step size as a multiple of Spiess's optimal step",
        unit="times the optimal step",
        flag="calibration-step",
        metavar="F",
        check=_positive("step", at_most=2.0),
    )
    max_decrease: float = setting(
        default_of(calibrate, "max_decrease"),
        "largest fall of any OD cell in one step",
        unit="share of the cell",
        flag="calibration-max-decrease",
        metavar="S",
        check=_positive("max_decrease", at_most=0.999),
    )
    calibration_rgap: float = setting(
        default_of(calibrate, "rgap"),
        "relative gap of the calibration's equilibria",
        key="equilibrium_gap",
        flag="calibration-gap",
        metavar="G",
        check=_positive("calibration_rgap"),
    )


#: Candidate generators: ``regional`` (corridors, sections, gap-closing roads, interchange
#: connectors: :func:`optimizer.regional_candidates`) and ``local`` (street-scale
#: widenings, class upgrades, short missing links: :func:`optimizer.generate_candidates`).
CANDIDATE_SCALES = ("auto", "regional", "local")


def _check_standards(value: Any) -> None:
    for v in (value,) if isinstance(value, str) else value:
        parse_standard(v)


@dataclass(frozen=True)
class CandidateSettings(Section):
    """Where the upgrade candidates come from: ``[candidates]``."""

    TITLE: ClassVar[str] = "candidates"
    API: ClassVar[tuple[Callable[..., Any], ...]] = (regional_candidates,)

    TABLE: ClassVar[str] = "candidates"

    candidates: str | None = setting(
        None,
        "candidate upgrades: a CSV/GeoJSON file, or auto (generated for OSM networks); "
        "default: the instance file's candidates, else auto",
        key="source",
        metavar="FILE|auto",
        path=True,
        keep=("auto", "instance"),
    )
    scale: str = setting(
        "auto",
        "generated candidates: regional (whole corridors to a design standard, congested "
        "sections, new roads closing gaps, interchange connectors) or local (street-scale "
        "widenings, class upgrades, short missing links); auto: regional where the zones "
        "are settlements spread over 5 km or more",
        choices=CANDIDATE_SCALES,
    )
    max_candidates: int | None = setting(
        None,
        "number of generated candidates (default 40 regional, 12 local)",
        key="max",
        metavar="N",
        check=_positive("max_candidates"),
    )
    corridor_standard: str = setting(
        CORRIDOR_STANDARD,
        "design standard of corridor upgrades and new roads: jtg-1, jtg-2, jtg-3 (JTG "
        "B01-2014 class-1/2/3 highways) or CLASS:LANES:SPEED[/SPEED[/SPEED]] (OSM class, "
        "lanes per direction, design speeds in km/h for plain/rolling/mountainous terrain)",
        key="standard",
        metavar="STD",
        check=_check_standards,
    )
    corridor_variants: tuple[str, ...] = setting(
        CORRIDOR_VARIANTS,
        "standards of the exclusive variants offered on each corridor (comma-separated)",
        key="variants",
        metavar="STD,...",
        check=_check_standards,
    )
    neighbours: int = setting(
        CORRIDOR_NEIGHBOURS,
        "corridors and gap-closing roads join each settlement to this many nearest ones",
        metavar="K",
        check=_positive("neighbours"),
    )
    detour_factor: float = setting(
        GAP_DETOUR_FACTOR,
        "new roads close gaps whose network route is longer than this times the straight line",
        metavar="F",
        check=_positive("detour_factor"),
    )
    alignment: str = setting(
        "terrain",
        "alignment of new roads: terrain (least-cost over the DEM, around forbidden areas) "
        "or straight",
        choices=("terrain", "straight"),
    )
    costs: str | None = setting(
        None,
        "unit costs by road class (CSV: road_class,new_build_per_km,widen_per_lane_km,"
        "upgrade_per_km[,unit]) over the defaults of optimizer.costs",
        metavar="FILE",
        path=True,
    )
    protected: str | None = setting(
        None,
        "protected areas (polygons: GeoPackage, GeoJSON, Shapefile; column rule = forbid "
        "or a cost multiplier >= 1): no upgrade touching a forbidden one is offered",
        metavar="FILE",
        path=True,
    )


@dataclass(frozen=True)
class OptimizeSettings(Section):
    """The design search (:func:`optimizer.optimize`): ``[optimize]``."""

    TITLE: ClassVar[str] = "design search"

    TABLE: ClassVar[str] = "optimize"

    budget: float | None = setting(None, "budget", unit="the candidates' cost unit", metavar="B")
    budget_share: float | None = setting(
        None,
        "budget as a share of the total cost of all candidates (default for generated "
        "candidates: 0.3)",
        metavar="S",
    )
    objective: str = setting(
        "auto",
        "what to minimise (auto: access in a regional study of settlements, connectivity "
        "where there are gateways, else tstt)",
        choices=("auto", *OBJECTIVES),
    )
    access_targets: dict[str, float] | None = setting(
        None,
        "access targets in minutes by class, e.g. expressway=30,trunk=15 (default: "
        "expressway=30 and trunk=15 in China, primary=15 under the generic profile)",
        key="access_target",
        flag="access-target",
        metavar="T",
        parse=parse_weights,
        check=check_access_targets,
    )
    access_penalty: float = setting(
        ACCESS_PENALTY,
        "extra objective minutes per minute beyond an access target",
        metavar="P",
        check=_positive("access_penalty", strict=False),
    )
    require_access: bool = setting(
        False,
        "only plans that bring every settlement within every access target (else: "
        "infeasible, with the shortfall)",
    )
    weights: dict[str, float] | None = setting(
        None,
        "objective weights, e.g. internal=0.5,external=0.5[,resilience=10] (connectivity; "
        "default internal=0.5,external=0.5) or equity=1 (access: the worst settlement's "
        "score)",
        metavar="W",
        parse=parse_weights,
        check=resolve_weights,
    )
    min_resilience: float | None = setting(
        None,
        "required share of internal activity that keeps a gateway when any one link is closed",
        metavar="R",
        check=check_min_resilience,
    )
    method: str = setting(
        default_of(optimize, "method"),
        "search method (bnb: exact branch and bound)",
        choices=SEARCH_METHODS,
    )
    rgap: float = setting(
        default_of(optimize, "rgap"),
        "equilibrium relative gap for scoring plans",
        key="gap",
        flag="gap",
        metavar="G",
        check=_positive("rgap"),
    )
    time_limit: float | None = setting(
        None,
        "search time limit; the best plan so far is returned with its proven gap",
        unit="s",
        metavar="S",
        check=_positive("time_limit"),
    )

    on_disconnected: str = setting(
        "raise",
        "trips between zones that the existing roads do not join: raise (an error naming "
        "them) or drop (with a warning; the plans are judged on the rest)",
        cli_help="drop the trips between zones that the existing roads do not join, with a "
        "warning (default: an error naming them)",
        flag="drop-disconnected",
        const="drop",
        choices=ON_DISCONNECTED,
    )

    def check(self) -> None:
        """A budget or a budget share, not both (:func:`check_budget`)."""
        check_budget(self.budget, self.budget_share, required=False)


@dataclass(frozen=True)
class OutputSettings(Section):
    """Where a job writes: ``[output]`` and the CLI's output options."""

    TITLE: ClassVar[str] = "output"

    TABLE: ClassVar[str] = "output"

    out: str | None = setting(
        None,
        "output folder (default: a new folder under ./roadopt-out/ per run, NAME-001, "
        "NAME-002, ..., with roadopt-out/latest pointing at the newest)",
        key="dir",
        metavar="DIR",
        path=True,
    )
    overwrite: bool = setting(
        False, "replace an explicit output folder that holds a different run", toml=False
    )
    summary: str | None = setting(
        None, "also write the plan document here", metavar="PLAN.json", toml=False
    )
    report: bool = setting(
        True,
        "write network.gpkg, map.png, convergence.png and report.html besides plan.json "
        "and plan.csv",
        cli_help="write only plan.json and plan.csv (no network.gpkg, maps or report.html)",
    )


@dataclass(frozen=True)
class AssignOutputSettings(Section):
    """What ``roadopt assign`` writes (command line only)."""

    TITLE: ClassVar[str] = "output"

    out: str | None = setting(
        None,
        "write link flows and costs (.csv, .gpkg or .geojson; geometry needs node "
        "coordinates and a CRS)",
        metavar="FLOWS",
        toml=False,
    )
    summary: str | None = setting(None, "write a JSON summary", metavar="SUMMARY.json", toml=False)

    def check(self) -> None:
        """Flows go to a file the writers know."""
        if self.out and not self.out.lower().endswith((".csv", ".gpkg", ".geojson", ".json")):
            raise OptionError("out", f"{self.out}: write flows to a .csv, .gpkg or .geojson file")


@dataclass(frozen=True)
class ConsoleSettings(Section):
    """How much the CLI says (command line only)."""

    TITLE: ClassVar[str] = "messages"

    verbose: bool = setting(
        False, "debug logging; tracebacks", short="-v", toml=False, group="verbosity"
    )
    quiet: bool = setting(
        False, "only warnings and errors", short="-q", toml=False, group="verbosity"
    )


@dataclass(frozen=True)
class InfoSettings(Section):
    """``roadopt info`` (command line only)."""

    TITLE: ClassVar[str] = "info"

    json: bool = setting(False, "print JSON instead of text", toml=False)


@dataclass(frozen=True)
class PresetsSettings(Section):
    """``roadopt presets`` (command line only)."""

    TITLE: ClassVar[str] = "presets"

    name: str | None = setting(
        None,
        "a preset to print (its TOML, to copy and edit); without one, the list",
        metavar="NAME",
        positional=True,
        toml=False,
    )


@dataclass(frozen=True)
class RunSettings(Section):
    """``roadopt run`` (command line only)."""

    TITLE: ClassVar[str] = "scenario"

    scenario: str = setting(
        MISSING,
        "a .toml scenario file or the name of a bundled preset (ziliujing, daan, yantan, ...)",
        metavar="SCENARIO",
        positional=True,
        toml=False,
    )
    out: str | None = setting(
        None,
        "output folder (default: the scenario's [output] dir, else a new folder "
        "./roadopt-out/SCENARIO-NNN)",
        metavar="DIR",
        toml=False,
    )
    overwrite: bool = setting(
        False, "replace an output folder that holds a different run", toml=False
    )


EXECUTORS = ("serial", "process", "dask")


@dataclass(frozen=True)
class BatchSettings(Section):
    """``roadopt batch`` and :func:`optimizer.run_batch` (command line only)."""

    TITLE: ClassVar[str] = "batch"

    sweep: str = setting(
        MISSING,
        "a scenario file with a [sweep] table",
        metavar="SWEEP.toml",
        positional=True,
        toml=False,
    )
    executor: str = setting("process", "where scenarios run", choices=EXECUTORS, toml=False)
    workers: int | None = setting(
        None,
        "parallel workers (default: the number of cores)",
        metavar="N",
        toml=False,
        check=_positive("workers"),
    )
    scheduler: str | None = setting(
        None,
        "an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (with --executor dask)",
        metavar="ADDRESS",
        toml=False,
    )
    timeout: float = setting(
        10.0,
        "seconds to wait for the Dask scheduler",
        unit="s",
        metavar="S",
        toml=False,
        check=_positive("timeout"),
    )
    out: str | None = setting(
        None,
        "results folder (default: beside the sweep file, named after it)",
        metavar="DIR",
        toml=False,
    )


COMMANDS = ("optimize", "assign")


@dataclass(frozen=True)
class ScenarioSettings(Section):
    """What a scenario file says about itself (top level)."""

    TITLE: ClassVar[str] = "scenario"

    name: str | None = setting(None, "short name (default: the file name)", cli=False)
    title: str | None = setting(None, "a title for people", cli=False)
    description: str | None = setting(None, "free text", cli=False)
    command: str = setting("optimize", "what the scenario runs", choices=COMMANDS, cli=False)


@dataclass(frozen=True)
class GatewayNote(Section):
    """A note on a road expected to serve as a gateway (``[[gateway]]``; not used by code)."""

    TITLE: ClassVar[str] = "gateway notes"

    TABLE: ClassVar[str] = "gateway"

    road: str | None = setting(None, "road name", cli=False)
    ref: str | None = setting(None, "road reference, e.g. G85", cli=False)
    road_class: str | None = setting(None, "road class", key="class", cli=False)
    note: str | None = setting(None, "free text", cli=False)


# ---------------------------------------------------------------------- jobs
@dataclass(frozen=True)
class Job:
    """The settings of one run of a command: its sections, in TOML order."""

    SECTIONS: ClassVar[dict[str, type[Section]]] = {}

    meta: ScenarioSettings = field(default_factory=ScenarioSettings)
    study: StudySettings = field(default_factory=StudySettings)
    output: OutputSettings = field(default_factory=OutputSettings)

    @classmethod
    def fields(cls) -> Iterator[Field]:
        """Every setting of the job."""
        for section in cls.SECTIONS.values():
            yield from specs(section)

    def __post_init__(self) -> None:
        want = next(c for c, j in JOBS.items() if j is type(self))
        if self.meta.command != want:
            raise OptionError("command", f"is {self.meta.command!r}; a {type(self).__name__} "
                              f"runs command = {want!r}")  # fmt: skip

    def sections(self) -> Iterator[tuple[str, Section]]:
        """``(name, section)`` pairs in TOML order."""
        for name in self.SECTIONS:
            yield name, getattr(self, name)

    def document(self) -> dict[str, Any]:
        """Every setting as a scenario document (``table -> key -> value``), defaults too.

        This is the ``settings`` block of the plan document: a complete, reloadable record.
        """
        doc: dict[str, Any] = {}
        for _, sec in self.sections():
            for f in specs(type(sec)):
                if not f.spec.toml:
                    continue
                v = getattr(sec, f.name)
                if v is None:
                    continue
                v = list(v) if isinstance(v, tuple) else v
                (doc.setdefault(f.table, {}) if f.table else doc)[f.key] = v
        return doc

    def with_values(self, **values: Any) -> Job:
        """A copy with some settings (by field name) changed, checked again."""
        if set(values) & set(_SOURCE_KEY.values()) and "kind" not in values:
            values = {**values, "kind": None}  # a new network source: infer its kind again
        out = self
        for name, sec in self.sections():
            own = {k: v for k, v in values.items() if k in {f.name for f in specs(type(sec))}}
            if own:
                changed: dict[str, Any] = {name: replace(sec, **own)}
                out = replace(out, **changed)
        return out


@dataclass(frozen=True)
class AssignJob(Job):
    """``command = "assign"``: a user-equilibrium assignment of a study."""

    SECTIONS: ClassVar[dict[str, type[Section]]] = {
        "meta": ScenarioSettings,
        "study": StudySettings,
        "assignment": AssignSettings,
        "output": OutputSettings,
    }
    meta: ScenarioSettings = field(default_factory=lambda: ScenarioSettings(command="assign"))
    assignment: AssignSettings = field(default_factory=AssignSettings)


@dataclass(frozen=True)
class OptimizeJob(Job):
    """``command = "optimize"``: candidates, a budget and the design search for a study."""

    SECTIONS: ClassVar[dict[str, type[Section]]] = {
        "meta": ScenarioSettings,
        "study": StudySettings,
        "calibration": CalibrationSettings,
        "costs": CostSettings,
        "candidates": CandidateSettings,
        "optimize": OptimizeSettings,
        "appraisal": AppraisalSettings,
        "output": OutputSettings,
    }
    calibration: CalibrationSettings = field(default_factory=CalibrationSettings)
    costs: CostSettings = field(default_factory=CostSettings)
    candidates: CandidateSettings = field(default_factory=CandidateSettings)
    optimize: OptimizeSettings = field(default_factory=OptimizeSettings)
    appraisal: AppraisalSettings = field(default_factory=AppraisalSettings)


#: the job type of each scenario ``command``
JOBS: dict[str, type[Job]] = {"assign": AssignJob, "optimize": OptimizeJob}
