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

import inspect
import math
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any, ClassVar

from networks import open_study
from networks.roads import PROFILES
from networks.sources import check_tolerance
from networks.terrain import apply_terrain
from networks.zoning import demand_model

from ..appraisal import Appraisal
from ..assignment import METHODS as ASSIGN_METHODS
from ..assignment import ON_DISCONNECTED, assign, check_options
from ..errors import OptionError
from ..generate import generate_candidates
from ..problem import OBJECTIVES, check_budget, check_min_resilience, resolve_weights
from ..search import METHODS as SEARCH_METHODS
from ..search import optimize

__all__ = [
    "AssignJob",
    "AssignOutputSettings",
    "AssignSettings",
    "BatchSettings",
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
    "setting",
    "specs",
]


def default_of(func: Callable[..., Any], name: str) -> Any:
    """The default of keyword ``name`` in ``func``'s signature (where it is written)."""
    p = inspect.signature(func).parameters[name]
    if p.default is inspect.Parameter.empty:
        raise TypeError(f"{func.__qualname__}() has no default for {name!r}")
    return p.default


@dataclass(frozen=True)
class Spec:
    """Where a setting lives and how it is shown (the metadata of one field).

    Attributes
    ----------
    help : str
        One line for people (the CLI help and the TOML documentation).
    unit : str or None
        Unit of the value, shown with the help.
    source : str or None
        Where the default comes from (a paper, a standard, a measurement).
    table : str or None
        TOML table; None: the section's :attr:`Section.TABLE`; ``""``: top level.
    key : str or None
        TOML key (default: the field name); ``toml=False``: not in scenario files.
    flag : str or None
        CLI option without the dashes (default: the field name with dashes);
        ``cli=False``: not on the command line. ``short``: a one-letter alias (``-v``).
    positional : bool
        A positional CLI argument (``flag`` is then its metavar).
    metavar, choices, const, group
        argparse details: the value's name, the allowed values, a value the option
        stores (a switch such as ``--drop-disconnected``), a mutually exclusive group.
    path : bool
        A file path (or a list of them): ``${VAR}`` is expanded and relative paths resolve against the
        scenario file's folder (unless the value is one of ``keep``).
    keep : tuple of str
        Words a path setting may hold instead of a path (``auto``).
    check : callable or None
        ``value -> None``, raising :class:`OptionError` for a bad value.
    parse : callable or None
        CLI text -> value (for lists and tables). A list setting without one is a
        repeatable CLI option: each use adds one value (``--dem A --dem B``).
    cli_help : str or None
        Help of the CLI option where it reads differently from the setting's: the
        ``--no-...`` switch of a setting that is on by default, a ``const`` switch.
    """

    help: str
    unit: str | None = None
    source: str | None = None
    table: str | None = None
    key: str | None = None
    toml: bool = True
    flag: str | None = None
    short: str | None = None
    cli: bool = True
    positional: bool = False
    metavar: str | None = None
    choices: tuple[Any, ...] | None = None
    const: Any = None
    group: str | None = None
    path: bool = False
    keep: tuple[str, ...] = ()
    check: Callable[[Any], None] | None = None
    parse: Callable[[str], Any] | None = None
    cli_help: str | None = None


def setting(default: Any, help: str, **spec: Any) -> Any:
    """Declare one setting: its default, its help line and :class:`Spec` details."""
    return field(default=default, metadata={"spec": Spec(help=help, **spec)})


# ---------------------------------------------------------------------- field access
@dataclass(frozen=True)
class Field:
    """A setting as the derivations see it: name, type, default, where it lives."""

    name: str
    owner: type
    type: Any
    default: Any
    spec: Spec

    @property
    def table(self) -> str:
        t = self.spec.table
        return self.owner.TABLE if t is None else t  # type: ignore[attr-defined]

    @property
    def key(self) -> str:
        return self.spec.key or self.name

    @property
    def dotted(self) -> str:
        """``table.key`` (or ``key`` at the top level): how scenario errors name it."""
        return f"{self.table}.{self.key}" if self.table else self.key

    @property
    def flag(self) -> str:
        return self.spec.flag or self.name.replace("_", "-")

    @property
    def option(self) -> str:
        """The CLI option as typed (``--gap``; a bool that defaults on: ``--no-report``)."""
        if self.spec.positional:
            return self.flag.upper()
        if self.base is bool and self.default is True and self.spec.const is None:
            return f"--no-{self.flag}"
        return f"--{self.flag}"

    @property
    def optional(self) -> bool:
        return _unwrap(self.type)[1]

    @property
    def base(self) -> Any:
        return _unwrap(self.type)[0]

    @property
    def repeatable(self) -> bool:
        """A list setting given on the command line one value per use of its option."""
        return typing.get_origin(self.base) is tuple and self.spec.parse is None

    def describe(self, *, cli: bool = False) -> str:
        """The help line with unit and default (the ``--no-`` option's own on the CLI)."""
        s = self.spec
        if cli and s.cli_help is not None:
            return s.cli_help
        out = s.help
        if s.unit:
            out += f" [{s.unit}]"
        if cli and self.repeatable:
            out += " (repeat for more)"
        if not cli and s.choices is not None:
            out += f" (one of {', '.join(map(str, s.choices))})"
        if not cli and self.base is bool:
            out += f" (default: {str(self.default).lower()})"
        if (
            (s.const is None or not cli)
            and self.base is not bool
            and self.default is not None
            and self.default is not MISSING
        ):
            d = self.default
            d = ",".join(map(str, d)) if isinstance(d, tuple) else d
            out += f" (default: {d})"
        return out


_FIELDS: dict[type, tuple[Field, ...]] = {}


def specs(cls: type) -> tuple[Field, ...]:
    """The settings of a section class, in declaration order."""
    hit = _FIELDS.get(cls)
    if hit is None:
        hints = typing.get_type_hints(cls)
        hit = tuple(
            Field(f.name, cls, hints[f.name], f.default, f.metadata["spec"])
            for f in fields(cls)
            if "spec" in f.metadata
        )
        _FIELDS[cls] = hit
    return hit


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """``(type without None, whether None is allowed)``."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else tp), True
    return tp, False


# ---------------------------------------------------------------------- values
_NAMES = {
    str: "a string",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
}


def _expected(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is tuple:
        return "an array"
    if origin is dict:
        return "an inline table"
    return _NAMES.get(tp, str(tp))


def coerce(value: Any, tp: Any) -> Any:
    """``value`` as type ``tp`` (lists as tuples, whole numbers as floats), or an error text.

    Raises
    ------
    ValueError
        With the text ``is <value>; expected <what>``.
    """
    base, optional = _unwrap(tp)
    if value is None and optional:
        return None
    bad = ValueError(f"is {value!r}; expected {_expected(base)}")
    origin = typing.get_origin(base)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad
        item = typing.get_args(base)[0]
        try:
            return tuple(coerce(v, item) for v in value)
        except ValueError:
            raise bad from None
    if origin is dict:
        if not isinstance(value, Mapping):
            raise bad
        item = typing.get_args(base)[1]
        try:
            return {str(k): coerce(v, item) for k, v in value.items()}
        except ValueError:
            raise bad from None
    if base is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if base is str:
        if not isinstance(value, str):
            raise bad
        return value
    raise TypeError(f"setting type {tp!r} is not supported")


@dataclass(frozen=True)
class Section:
    """A group of settings: one TOML table (or part of one) and one block of options.

    Subclasses declare their fields with :func:`setting`. Construction checks every value
    (type, choices, the field's own check, then :meth:`check` across fields) and raises
    :class:`OptionError` naming the field.
    """

    TABLE: ClassVar[str] = ""
    #: heading of the section's options in ``--help``
    TITLE: ClassVar[str] = "options"
    #: the API functions whose keywords these settings are (defaults must agree; the job
    #: functions of :mod:`optimizer.jobs.pipeline` and :mod:`optimizer.jobs.batch` are
    #: checked by the tests, which know them)
    API: ClassVar[tuple[Callable[..., Any], ...]] = ()

    def __post_init__(self) -> None:
        for f in specs(type(self)):
            value = getattr(self, f.name)
            try:
                value = coerce(value, f.type)
            except ValueError as exc:
                raise OptionError(f.name, str(exc)) from None
            object.__setattr__(self, f.name, value)
            if value is None:
                continue
            if f.spec.choices is not None and value not in f.spec.choices:
                raise OptionError(
                    f.name,
                    f"is {value!r}; choose one of {', '.join(map(str, f.spec.choices))}",
                )
            if f.spec.check is not None:
                f.spec.check(value)
        self.check()

    def check(self) -> None:
        """Checks across fields (none by default)."""

    def values(self) -> dict[str, Any]:
        """Field name -> value: the keywords of the API this section feeds."""
        return {f.name: getattr(self, f.name) for f in specs(type(self))}


def _positive(name: str, *, strict: bool = True, at_most: float | None = None):
    def check(v: float) -> None:
        ok = math.isfinite(v) and (v > 0 if strict else v >= 0)
        if at_most is not None:
            ok = ok and v <= at_most
        if not ok:
            rule = "> 0" if strict else ">= 0"
            if at_most is not None:
                rule += f" and <= {at_most:g}"
            raise OptionError(name, f"is {v!r}; must be a number {rule}")

    return check


# ---------------------------------------------------------------------- CLI parsers
def _parse_numbers(count: int, what: str) -> Callable[[str], tuple[float, ...]]:
    def parse(text: str) -> tuple[float, ...]:
        try:
            vals = tuple(float(v) for v in text.split(","))
        except ValueError:
            raise ValueError(f"{text}: give {what}") from None
        if len(vals) != count:
            raise ValueError(f"{text}: give {what}")
        return vals

    return parse


def parse_weights(text: str) -> dict[str, float]:
    """``"internal=0.5,external=0.5"`` -> ``{"internal": 0.5, "external": 0.5}``."""
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
            raise ValueError(
                f"{text!r}: write name=value pairs such as internal=0.5,external=0.5"
            ) from None
    return out


def _parse_words(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split(",") if w.strip())


# ---------------------------------------------------------------------- the sections
NETWORK_SOURCES = ("builtin", "file", "dataset", "place", "bbox", "polygon")
#: scenario key that names a network of each kind
_SOURCE_KEY = {"file": "network", "dataset": "dataset", "place": "place", "bbox": "bbox",
               "polygon": "polygon"}  # fmt: skip


@dataclass(frozen=True)
class StudySettings(Section):
    """The network and its demand (:func:`networks.open_study`): ``[network]``, ``[demand]``.

    At most one network source: ``network`` (a file or a dataset name), ``dataset``,
    ``place``, ``bbox`` or ``polygon``; none is the built-in town.
    """

    TITLE: ClassVar[str] = "network and demand"
    API: ClassVar[tuple[Callable[..., Any], ...]] = (open_study, demand_model, apply_terrain)

    TABLE: ClassVar[str] = "network"

    network: str | None = setting(
        None,
        "an existing network file or a dataset name (default: the built-in example)",
        key="path",
        metavar="NETWORK",
        positional=True,
        path=True,
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
    )
    consolidate: bool = setting(
        True,
        "merge the nodes of complex intersections (OpenStreetMap)",
        cli=False,
        cli_help="keep every OpenStreetMap node of complex intersections",
    )
    tolerance: float = setting(
        default_of(open_study, "tolerance"),
        "intersection consolidation tolerance",
        unit="m",
        cli=False,
        check=check_tolerance,
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
    n_zones: int | None = setting(
        None,
        "number of internal zones (k-means; default: by network size)",
        table="demand",
        flag="zones",
        metavar="N",
        check=_positive("n_zones"),
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
        cli=False,
        check=_positive("external_share", strict=False, at_most=1.0),
    )
    gateway_classes: tuple[str, ...] | None = setting(
        None,
        "road classes whose boundary crossings become gateways (default: the reader's)",
        table="demand",
        cli=False,
    )
    gateway_refs: tuple[str, ...] | None = setting(
        None,
        "keep only gateways on roads with these refs (e.g. G85)",
        table="demand",
        cli=False,
    )
    seed: int = setting(default_of(open_study, "seed"), "seed of every random choice", table="")

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
class CandidateSettings(Section):
    """Where the upgrade candidates come from: ``[candidates]``."""

    TITLE: ClassVar[str] = "candidates"
    API: ClassVar[tuple[Callable[..., Any], ...]] = (generate_candidates,)

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
    max_candidates: int = setting(
        default_of(generate_candidates, "max_candidates"),
        "number of generated candidates",
        key="max",
        metavar="N",
        check=_positive("max_candidates"),
    )


@dataclass(frozen=True)
class OptimizeSettings(Section):
    """The design search (:func:`optimizer.optimize`): ``[optimize]``."""

    TITLE: ClassVar[str] = "design search"
    API: ClassVar[tuple[Callable[..., Any], ...]] = (Appraisal,)

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
        "what to minimise (auto: connectivity where there are gateways, else tstt)",
        choices=("auto", *OBJECTIVES),
    )
    weights: dict[str, float] | None = setting(
        None,
        "connectivity weights, e.g. internal=0.5,external=0.5[,resilience=10] (default: "
        "internal=0.5,external=0.5)",
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
    value_of_time: float = setting(
        Appraisal.value_of_time,
        "value of time for the money appraisal",
        unit="currency units per vehicle-hour",
        metavar="V",
        check=_positive("value_of_time", strict=False),
    )

    def check(self) -> None:
        """A budget or a budget share, not both (:func:`check_budget`)."""
        check_budget(self.budget, self.budget_share, required=False)


@dataclass(frozen=True)
class OutputSettings(Section):
    """Where a job writes: ``[output]`` and the CLI's output options."""

    TITLE: ClassVar[str] = "output"

    TABLE: ClassVar[str] = "output"

    out: str = setting("roadopt-out", "output folder", key="dir", metavar="DIR", path=True)
    overwrite: bool = setting(
        False, "replace an output folder that holds a different run", toml=False
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
        "output folder (default: the scenario's [output] dir, else ./roadopt-out)",
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
        "costs": CostSettings,
        "candidates": CandidateSettings,
        "optimize": OptimizeSettings,
        "output": OutputSettings,
    }
    costs: CostSettings = field(default_factory=CostSettings)
    candidates: CandidateSettings = field(default_factory=CandidateSettings)
    optimize: OptimizeSettings = field(default_factory=OptimizeSettings)


#: the job type of each scenario ``command``
JOBS: dict[str, type[Job]] = {"assign": AssignJob, "optimize": OptimizeJob}
