"""Candidate upgrades from CSV/GeoJSON files, and generated automatically for OSM networks.

Three verbs, each returning or taking a :class:`~optimizer.candidates.CandidateSet`:

- :func:`read_candidates` reads a user's candidates (CSV or GeoJSON) against a network;
- :func:`write_candidates` writes any set back (CSV or GeoJSON, atomically) so that reading
  the file against the same *base* network rebuilds the same set;
- :func:`generate_candidates` proposes widenings, class upgrades, missing links and
  trunk-access roads for an OpenStreetMap network, prices them with :data:`DEFAULT_COSTS`
  and keeps the best few.

File schema
-----------
One row (CSV) or one feature (GeoJSON, the same names as properties) per candidate. Blank
cells mean "not given"; CSV lines starting with ``#`` are comments. Values are in the
network's units (OSM networks: km, km/h, minutes, veh/h per direction); costs in the set's
cost unit. Where a field says "per link", it takes one value for every link the candidate
builds or changes, or a ``;``-separated list with one value per link in link order (the
links of ``link_id``, then the reverse links that ``both_directions`` adds).

Every kind:

``id`` (required)
    A unique name.
``kind`` (required)
    ``new_link``, ``widen`` or ``upgrade``.
``cost`` (required)
    Building cost, a number >= 0.
``init_node``, ``term_node``
    External node ids (OSM node ids, TNTP node numbers) of the link's tail and head.
    Required for ``new_link``; for ``widen``/``upgrade`` required unless ``link_id`` is
    given (then, when present, they must be the first listed link's end nodes).
``link_id``
    External link id(s), ``;``-separated. ``widen``/``upgrade``: exactly the links to
    change (this is how to pick one of parallel links, or a whole road of several links).
    ``new_link``: the ids the new link(s) get (default: after the largest existing id).
``both_directions``
    ``true``/``false`` (also ``yes``/``no``, ``1``/``0``; default false): also build, or
    also change, the reverse link ``term_node -> init_node`` (for a change: the reverse
    link of the same OSM way where there are several).
``group``
    Mutually exclusive group: at most one candidate of a group is chosen.
``requires``
    Ids of candidates that must be chosen too, ``;``-separated.
``label``
    A description for people.
``cost_unit``
    The unit of ``cost`` (for example ``thousand CNY``); the same in every row.

``new_link``:

``capacity`` (per link)
    veh/h per direction. Default, on networks with a road profile (OSM networks):
    ``lanes x`` the profile's capacity per lane of ``road_class``.
``free_flow_time`` (per link), or ``length`` and ``speed`` (per link)
    Time is ``length / speed`` in the network's time unit (OSM: km and km/h give
    minutes). ``speed`` defaults to the profile's speed of ``road_class``; ``length`` to
    the length of the feature's LineString (GeoJSON), else is required. Given
    ``free_flow_time`` alone, ``length`` defaults to the feature's line, else the straight
    line between the nodes.
``alpha``, ``beta`` (per link)
    BPR parameters, default 0.15 and 4.
``toll`` (per link), ``link_type``
    Optional: toll (default 0) and link type code (default: the OSM class code on OSM
    networks, else 0).
``lanes`` (per link)
    Lanes per direction; default the profile's lanes of ``road_class`` (else unknown).
``road_class``
    OSM ``highway`` value of the new road (reports, defaults above).

``widen``:

``add_lanes``
    Integer >= 1: lanes added in each direction. Capacity and lanes scale by
    ``(lanes + add_lanes) / lanes`` per link; unknown lanes count as 1.
``capacity_factor`` (per link)
    Instead of ``add_lanes``: capacity is multiplied by this factor (>= 1).
``lanes_factor`` (per link)
    Optional with ``capacity_factor``: lanes are multiplied by this factor (>= 1).

``upgrade`` (at least one of):

``speed`` (per link)
    The new speed, no lower than today's; free-flow time becomes ``length / speed``
    unless ``free_flow_time`` is given.
``free_flow_time`` (per link)
    The new free-flow time, no higher than today's.
``capacity_factor`` (per link)
    Capacity multiplied by this factor (>= 1).
``road_class``
    The class after the upgrade; on networks with a road profile, where ``speed`` or
    ``capacity_factor`` is not given, speed and capacity per lane come from the profile's
    table for that class (never lowering either). It must rank above the link's class.

A ``widen`` or ``upgrade`` may change a link that a ``new_link`` candidate builds: it must
then list that candidate in ``requires``, and acts on the new link(s) between its nodes.

Errors in a file raise :class:`CandidateFileError` (a :class:`~networks.errors.FileFormatError`
and an :class:`~optimizer.errors.InvalidCandidatesError`) naming the file, the line (CSV) or
feature (GeoJSON), the field and what to do.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from networks._io import atomic_write_text, format_float, read_text_file
from networks.demand import Demand
from networks.errors import FileFormatError
from networks.network import Network

from .candidates import KINDS, Candidate, CandidateSet, extend_network
from .errors import InvalidCandidatesError
from .results import AssignmentResult

__all__ = [
    "ACCESS_CLASS",
    "ACCESS_DETOUR_FACTOR",
    "ACCESS_MAX_M",
    "ACCESS_RADIUS_M",
    "CIRCUITY_FACTOR",
    "COST_UNIT",
    "DEDUP_RADIUS_M",
    "DEFAULT_COSTS",
    "DETOUR_FACTOR",
    "FIELDS",
    "GRADE_SEPARATED",
    "MAX_LANES_PER_DIRECTION",
    "MISSING_LINK_CLASS",
    "MISSING_LINK_MAX_M",
    "MISSING_LINK_MIN_M",
    "NEW_BUILD_COST_PER_KM",
    "SOURCES",
    "TERRAIN_FACTOR",
    "UPGRADE_COST_PER_KM",
    "UPGRADE_TO",
    "VC_THRESHOLD",
    "WIDEN_COST_PER_LANE_KM",
    "WIDEN_OPTIONS",
    "CandidateFileError",
    "CostTable",
    "generate_candidates",
    "read_candidates",
    "write_candidates",
]

log = logging.getLogger(__name__)


# ====================================================================== defaults
#: Currency unit of the default cost tables.
COST_UNIT = "thousand CNY"

# Cost tables, thousand CNY (2020s prices) per km, flat or rolling terrain, land acquisition
# and resettlement excluded. They are planning defaults of the right order of magnitude for
# Chinese rural, county and small-town roads, not estimates: typical published programme
# averages run at about 0.5-1.5 million CNY/km for hardening or building 4.5-6.5 m village
# and township roads (track/unclassified), 3-6 million for class-3 county roads (tertiary),
# 8-15 million for class-2 highways (secondary), 20-40 million for class-1 highways and
# four-lane national-road sections (primary/trunk) and 60-100 million for expressways in the
# plains (far more in Sichuan's mountains: see TERRAIN_FACTOR). Town streets (residential)
# cost more per km than rural roads of the same width (drainage, kerbs, utilities). For a
# real study replace them (pass a CostTable) with unit costs from the local estimate norms
# (JTG 3830-2018 and the provincial price lists). A ``*_link`` ramp costs like its road.

#: New construction, two-way road of the class's usual cross-section, per km.
NEW_BUILD_COST_PER_KM: dict[str, float] = {
    "motorway": 80000.0,
    "trunk": 30000.0,
    "primary": 20000.0,
    "secondary": 10000.0,
    "tertiary": 5000.0,
    "unclassified": 2500.0,
    "residential": 3000.0,
    "living_street": 2500.0,
    "road": 2500.0,
    "service": 1500.0,
    "track": 1000.0,
}

#: Widening: one added lane (3.5-3.75 m, with subgrade, pavement and drainage moved), per
#: lane-km; a lane in each direction of a two-way road counts twice.
WIDEN_COST_PER_LANE_KM: dict[str, float] = {
    "motorway": 15000.0,
    "trunk": 8000.0,
    "primary": 6000.0,
    "secondary": 4000.0,
    "tertiary": 3000.0,
    "unclassified": 2000.0,
    "residential": 2500.0,
    "living_street": 2500.0,
    "road": 2000.0,
    "service": 1500.0,
    "track": 1000.0,
}

#: Upgrading an existing road to the standard of the *target* class on its corridor
#: (pavement widened to the standard width, resurfacing, junction and curve fixes), per km:
#: roughly half of building new.
UPGRADE_COST_PER_KM: dict[str, float] = {
    "motorway": 50000.0,
    "trunk": 18000.0,
    "primary": 12000.0,
    "secondary": 6000.0,
    "tertiary": 3000.0,
    "unclassified": 1200.0,
    "residential": 1500.0,
    "living_street": 1000.0,
    "road": 1200.0,
    "service": 800.0,
    "track": 500.0,
}

#: Cost multiplier by road profile. 1.0 for flat and rolling terrain; ``china-mountain``
#: (hilly Sichuan, e.g. Zigong's counties) 1.6: cuttings, retaining walls, bridges and
#: tunnels make mountain roads roughly 1.5-2 times as dear per km as plain ones in the
#: estimate norms. A ``terrain_factor`` argument overrides it.
TERRAIN_FACTOR: dict[str, float] = {"generic": 1.0, "china": 1.0, "china-mountain": 1.6}

#: Route length of a new road over the straight line between its ends, by profile: a road
#: follows the ground (1.2 in flat country, 1.5 on mountain slopes).
CIRCUITY_FACTOR: dict[str, float] = {"generic": 1.2, "china": 1.2, "china-mountain": 1.5}

#: Volume/capacity at or above which a road is congested enough to widen. When no link
#: reaches it, the ``max_candidates`` links of highest v/c are proposed instead (they score
#: low, but the optimizer still sees the option).
VC_THRESHOLD = 0.7

#: Lanes added per direction by the widening options of one road (mutually exclusive).
WIDEN_OPTIONS: tuple[int, ...] = (1, 2)

#: No widening beyond this many lanes per direction.
MAX_LANES_PER_DIRECTION = 4

#: The next class up for class upgrades: a village track is hardened into a township road,
#: a town street or township road becomes a collector (county road), a collector an
#: arterial (class-2 highway).
UPGRADE_TO: dict[str, str] = {
    "track": "unclassified",
    "road": "unclassified",
    "living_street": "residential",
    "residential": "tertiary",
    "unclassified": "tertiary",
    "tertiary": "secondary",
}

#: Missing links join nodes at most this far apart in a straight line (metres) ...
MISSING_LINK_MAX_M = 600.0
#: ... and at least this far (shorter gaps are junction geometry, not missing roads) ...
MISSING_LINK_MIN_M = 50.0
#: ... whose shortest network route (by length, the shorter direction) is more than this
#: many times the straight line. Town grids have circuity 1.2-1.5; 3 means a real barrier.
DETOUR_FACTOR = 3.0
#: Class of a missing link (a collector street / county road).
MISSING_LINK_CLASS = "tertiary"

#: Trunk access: nodes within this distance (metres) of a zone's node may start the road ...
ACCESS_RADIUS_M = 1000.0
#: ... which is at most this long in a straight line (metres) ...
ACCESS_MAX_M = 3000.0
#: ... and proposed when the network route from the zone's node to the nearest access node
#: of the highest-class road is more than this times the straight line (the start node is
#: the one giving the zone the shortest route over the new road, which must beat today's).
ACCESS_DETOUR_FACTOR = 2.0
#: Class of a trunk-access road.
ACCESS_CLASS = "secondary"

#: Missing links with an end within this distance (metres) of an end of a better one are
#: alternatives for the same gap: only the best is kept.
DEDUP_RADIUS_M = 200.0

#: Classes without at-grade junctions: new roads never end on them (a motorway is reached
#: at the local end of its ramps).
GRADE_SEPARATED: tuple[str, ...] = ("motorway", "motorway_link")

#: The generators of :func:`generate_candidates`, in the order they are reserved a place.
SOURCES: tuple[str, ...] = ("widen", "upgrade", "missing", "access")

#: Pairs of nodes checked for missing links at most (a seeded sample beyond that).
MAX_PAIRS = 200_000


@dataclass(frozen=True)
class CostTable:
    """Unit costs by road class (OSM ``highway`` value; ``*_link`` costs like its road).

    Attributes
    ----------
    new_build_per_km : mapping str -> float
        New two-way road, per km.
    widen_per_lane_km : mapping str -> float
        One added lane, per lane-km.
    upgrade_per_km : mapping str -> float
        Upgrading to the class (the *target* class), per km.
    unit : str
        Currency unit of all three.
    """

    new_build_per_km: Mapping[str, float] = field(
        default_factory=lambda: dict(NEW_BUILD_COST_PER_KM)
    )
    widen_per_lane_km: Mapping[str, float] = field(
        default_factory=lambda: dict(WIDEN_COST_PER_LANE_KM)
    )
    upgrade_per_km: Mapping[str, float] = field(default_factory=lambda: dict(UPGRADE_COST_PER_KM))
    unit: str = COST_UNIT

    @staticmethod
    def _lookup(table: Mapping[str, float], road_class: str, what: str) -> float:
        for key in (road_class, str(road_class).removesuffix("_link"), "road"):
            if key in table:
                return float(table[key])
        raise KeyError(f"no {what} cost for road class {road_class!r}; add it to the table")

    def new_build(self, road_class: str) -> float:
        """Cost per km of a new road of a class."""
        return self._lookup(self.new_build_per_km, road_class, "new-build")

    def widen(self, road_class: str) -> float:
        """Cost per lane-km of widening a road of a class."""
        return self._lookup(self.widen_per_lane_km, road_class, "widening")

    def upgrade(self, target_class: str) -> float:
        """Cost per km of upgrading a road to ``target_class``."""
        return self._lookup(self.upgrade_per_km, target_class, "upgrade")


#: The default cost tables (thousand CNY).
DEFAULT_COSTS = CostTable()


class CandidateFileError(FileFormatError, InvalidCandidatesError):
    """A candidates file that cannot be used; names the file, line or feature and field."""


# ====================================================================== shared helpers
#: Columns :func:`write_candidates` writes, in order (every name :func:`read_candidates`
#: knows).
FIELDS: tuple[str, ...] = (
    "id",
    "kind",
    "cost",
    "cost_unit",
    "init_node",
    "term_node",
    "link_id",
    "both_directions",
    "group",
    "requires",
    "road_class",
    "capacity",
    "free_flow_time",
    "length",
    "speed",
    "lanes",
    "alpha",
    "beta",
    "toll",
    "link_type",
    "add_lanes",
    "capacity_factor",
    "lanes_factor",
    "label",
)

_TIME_PER_HOUR = {"min": 60.0, "minute": 60.0, "minutes": 60.0, "h": 1.0, "hour": 1.0}
_TIME_PER_HOUR.update({"hours": 1.0, "s": 3600.0, "sec": 3600.0, "seconds": 3600.0})
_LENGTH_SPEED = {("km", "km/h"), ("mi", "mph"), ("mi", "mi/h"), ("m", "m/h")}
_METRES_PER_LENGTH_UNIT = {"km": 1000.0, "m": 1.0, "mi": 1609.344}


def _time_factor(network: Network) -> float | None:
    """``f`` such that time = length / speed * f in the network's units; None if unknown."""
    u = network.units
    if (u.length, u.speed) not in _LENGTH_SPEED:
        return None
    return _TIME_PER_HOUR.get(u.time)


def _road_profile(network: Network, profile: Any = None) -> Any:
    """The road profile for class defaults: given, the network's own, generic, or None.

    A network built from OSM records its profile in ``extra["profile"]``; another network
    whose units are km and km/h and whose classes are OSM classes gets the generic profile.
    """
    from networks.roads import PROFILES, get_profile

    if profile is not None:
        return get_profile(profile)
    name = network.extra.get("profile")
    if name in PROFILES:
        return PROFILES[name]
    if (network.units.length, network.units.speed) == ("km", "km/h") and any(
        c in PROFILES["generic"].table for c in set(network.road_class.tolist())
    ):
        return PROFILES["generic"]
    return None


def _is_osm(network: Network) -> bool:
    return "osm_way_ids" in network.extra


def _way_ids(network: Network, link: int) -> tuple[int, ...]:
    ways = network.extra.get("osm_way_ids")
    if ways is None or len(ways) != network.num_links or ways[link] is None:
        return ()
    return tuple(int(w) for w in ways[link])


def _link_type(network: Network, road_class: str) -> int:
    if not _is_osm(network):
        return 0
    from networks.roads import LINK_TYPE

    return LINK_TYPE.get(road_class, 0)


def _straight_line(network: Network, a: int, b: int) -> Any:
    import shapely

    return shapely.LineString(
        [(float(network.x[a]), float(network.y[a])), (float(network.x[b]), float(network.y[b]))]
    )


def _metres_per_crs_unit(crs: str | None) -> float | None:
    """Metres per coordinate unit of a projected CRS (1 when unknown); None if geographic."""
    if crs is None:
        return 1.0
    import pyproj

    c = pyproj.CRS.from_user_input(crs)
    if c.is_geographic:
        return None
    try:
        return float(c.axis_info[0].unit_conversion_factor)
    except (IndexError, AttributeError):
        return 1.0


def _reverse_links(
    network: Network, link: int, allowed: np.ndarray, *, exclude: Iterable[int] = ()
) -> list[int]:
    """Links ``term -> init`` of ``link`` among ``allowed`` (a mask), best match first.

    Same OSM ways first, then the same class; within those, the closest length.
    """
    a, b = int(network.init[link]), int(network.term[link])
    out = network.fs_links[network.fs_indptr[b] : network.fs_indptr[b + 1]]
    rev = [int(k) for k in out if network.term[k] == a and allowed[k] and k not in exclude]
    if len(rev) <= 1:
        return rev
    ways = _way_ids(network, link)
    same = [k for k in rev if ways and _way_ids(network, k) == ways]
    if not same:
        same = [k for k in rev if network.road_class[k] == network.road_class[link]]
    pool = same or rev
    return sorted(pool, key=lambda k: (abs(network.length[k] - network.length[link]), k))


# ====================================================================== reading
def _as_int(t: Any) -> int:
    """An integer from an int, an integral float or a string (``"12"``, ``"12.0"``)."""
    if isinstance(t, bool):
        raise ValueError(t)
    if isinstance(t, (int, np.integer)):
        return int(t)
    if isinstance(t, float):
        if t.is_integer():
            return int(t)
        raise ValueError(t)
    text = str(t).strip()
    try:
        return int(text)
    except ValueError:
        x = float(text)
        if x.is_integer() and abs(x) < 2**53:
            return int(x)
        raise


class _Row:
    """One candidate's raw fields, with where it came from for error messages."""

    def __init__(
        self,
        path: Path,
        values: Mapping[str, Any],
        *,
        line: int | None = None,
        feature: int | None = None,
        geometry: Any = None,
    ) -> None:
        self.path = path
        self.values = dict(values)
        self.line = line
        self.feature = feature
        self.geometry = geometry

    def error(self, fld: str | None, message: str) -> CandidateFileError:
        if self.feature is not None:
            cid = self.raw("id")
            message = f"feature {self.feature}" + (f" ('{cid}')" if cid else "") + f": {message}"
        return CandidateFileError(self.path, message, line=self.line, field=fld)

    def raw(self, name: str) -> Any:
        v = self.values.get(name)
        if v is None:
            return None
        if isinstance(v, str):
            v = v.strip()
            return v or None
        if isinstance(v, float) and math.isnan(v):
            return None
        return v

    def text(self, name: str, *, required: bool = False, hint: str = "") -> str | None:
        v = self.raw(name)
        if v is None:
            if required:
                raise self.error(name, f"missing; {hint or 'give a value'}")
            return None
        return str(v)

    def _tokens(self, name: str) -> list[Any] | None:
        v = self.raw(name)
        if v is None:
            return None
        if isinstance(v, (list, tuple)):
            return list(v)
        if isinstance(v, str):
            return [t.strip() for t in v.split(";")]
        return [v]

    def numbers(
        self,
        name: str,
        *,
        required: bool = False,
        minimum: float | None = None,
        positive: bool = False,
        hint: str = "",
        count: int | None = None,
    ) -> np.ndarray | None:
        """A number or a ``;`` list of numbers; broadcast to ``count`` values if given."""
        toks = self._tokens(name)
        if toks is None:
            if required:
                raise self.error(name, f"missing; {hint or 'give a number'}")
            return None
        vals = []
        for t in toks:
            if isinstance(t, bool):
                raise self.error(name, f"{t!r} is not a number; {hint or 'give a number'}")
            try:
                x = float(t)
            except (TypeError, ValueError):
                raise self.error(
                    name, f"{t!r} is not a number; {hint or 'give a plain number such as 12.5'}"
                ) from None
            if not math.isfinite(x):
                raise self.error(name, f"{t!r} is not a finite number; give a finite number")
            if minimum is not None and x < minimum:
                raise self.error(name, f"{t} is below {minimum:g}; it must be >= {minimum:g}")
            if positive and x <= 0:
                raise self.error(name, f"{t} must be > 0")
            vals.append(x)
        arr = np.asarray(vals, dtype=np.float64)
        if count is not None:
            if arr.size == 1:
                arr = np.full(count, arr[0])
            elif arr.size != count:
                raise self.error(
                    name,
                    f"{arr.size} values for {count} link(s); give one value, or one per link "
                    "separated by ';'",
                )
        return arr

    def number(self, name: str, **kw: Any) -> float | None:
        arr = self.numbers(name, **kw)
        if arr is None:
            return None
        if arr.size != 1:
            raise self.error(name, "give a single number here, not a ';' list")
        return float(arr[0])

    def integers(self, name: str, *, required: bool = False, hint: str = "") -> list[int] | None:
        toks = self._tokens(name)
        if toks is None:
            if required:
                raise self.error(name, f"missing; {hint or 'give an integer id'}")
            return None
        out = []
        for t in toks:
            try:
                out.append(_as_int(t))
            except (TypeError, ValueError):
                raise self.error(
                    name, f"{t!r} is not an integer id; {hint or 'give an id'}"
                ) from None
        return out

    def integer(self, name: str, **kw: Any) -> int | None:
        vals = self.integers(name, **kw)
        if vals is None:
            return None
        if len(vals) != 1:
            raise self.error(name, "give a single integer here, not a ';' list")
        return vals[0]

    def flag(self, name: str) -> bool:
        v = self.raw(name)
        if v is None:
            return False
        if isinstance(v, bool):
            return v
        s = str(v).strip().lower()
        if s in ("true", "yes", "y", "1", "1.0", "t"):
            return True
        if s in ("false", "no", "n", "0", "0.0", "f"):
            return False
        raise self.error(name, f"{v!r} is not a yes/no value; write true or false")


def read_candidates(
    path: str | Path,
    network: Network,
    *,
    cost_unit: str | None = None,
    profile: Any = None,
) -> CandidateSet:
    """Read candidate upgrades from a CSV or GeoJSON file (schema: the module docstring).

    Parameters
    ----------
    path
        ``.csv`` (or ``.txt``) or ``.geojson``/``.json`` file.
    network
        The network the candidates belong to: its existing links come first in the
        extended network; every ``new_link`` row is appended after them, in file order.
    cost_unit
        Unit of the costs. Default: the file's ``cost_unit`` column, else the network's
        ``units.cost``. A different unit in the file is an error.
    profile
        Road profile for class defaults (a name or :class:`networks.osm.RoadProfile`);
        default: the network's own (OSM networks), the generic profile for other networks
        with km and km/h units and OSM classes, else none (then give speeds and
        capacities explicitly).

    Returns
    -------
    CandidateSet
        In file order.

    Raises
    ------
    CandidateFileError
        A ``FileFormatError`` and ``InvalidCandidatesError``: empty file; missing,
        negative or non-numeric cost; unknown kind; duplicate id; unknown node or link
        ids; no link between the nodes of a widen/upgrade; requires naming unknown ids;
        contradictory prerequisites; an upgrade that would lower capacity or speed or
        raise free-flow time; and every other malformed value.
    FileNotFoundError
        When ``path`` does not exist.
    """
    p = Path(path)
    kind = _file_kind(p)
    rows = _read_csv(p) if kind == "csv" else _read_geojson(p, network)
    return _build(rows, network, p, cost_unit=cost_unit, profile=_road_profile(network, profile))


def _file_kind(p: Path) -> str:
    suffix = p.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".geojson", ".json"):
        return "geojson"
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    head = p.read_bytes()[:256].lstrip()
    if head.startswith(b"{"):
        return "geojson"
    raise FileFormatError(
        p,
        "unknown candidates file type; use a .csv or .geojson file (schema: "
        "optimizer.candidate_sources)",
    )


def _read_csv(p: Path) -> list[_Row]:
    text = read_text_file(p, what="candidates CSV")
    # comments become blank lines so that line numbers stay those of the file
    lines = ["" if ln.lstrip().startswith("#") else ln for ln in text.splitlines()]
    reader = csv.reader(io.StringIO("\n".join(lines)))
    header: list[str] | None = None
    rows: list[_Row] = []
    for rec in reader:
        if not any(c.strip() for c in rec):
            continue
        if header is None:
            header = [h.strip().lower() for h in rec]
            unknown = [h for h in header if h and h not in FIELDS]
            if unknown:
                log.warning("%s: ignoring unknown column(s) %s", p, ", ".join(unknown))
            for req in ("id", "kind", "cost"):
                if req not in header:
                    raise CandidateFileError(
                        p,
                        f"no '{req}' column; the header must name at least id, kind and cost "
                        f"(found: {', '.join(header)})",
                        line=reader.line_num,
                        field=req,
                    )
            continue
        if len(rec) > len(header):
            extra = rec[len(header) :]
            if any(c.strip() for c in extra):
                raise CandidateFileError(
                    p,
                    f"{len(rec)} fields but the header has {len(header)}; quote values that "
                    "contain commas",
                    line=reader.line_num,
                )
        values = {h: (rec[k] if k < len(rec) else "") for k, h in enumerate(header) if h}
        rows.append(_Row(p, values, line=reader.line_num))
    if header is None:
        raise CandidateFileError(p, "the file is empty; expected a header and candidate rows")
    if not rows:
        raise CandidateFileError(
            p, "no candidates: the file has a header but no rows; add one row per candidate"
        )
    return rows


def _read_geojson(p: Path, network: Network) -> list[_Row]:
    text = read_text_file(p, what="GeoJSON")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CandidateFileError(
            p,
            f"not valid JSON ({exc.msg}); expected a GeoJSON FeatureCollection",
            line=exc.lineno,
        ) from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise CandidateFileError(
            p, "not a GeoJSON FeatureCollection; write one feature per candidate"
        )
    feats = data.get("features") or []
    if not feats:
        raise CandidateFileError(p, "no candidates: the FeatureCollection has no features")
    src_crs = "EPSG:4326"
    crs_member = data.get("crs")
    if isinstance(crs_member, dict):
        src_crs = (crs_member.get("properties") or {}).get("name") or src_crs
    transform = _geometry_transform(src_crs, network.crs)
    import shapely
    from shapely.geometry import shape

    rows = []
    for k, f in enumerate(feats, 1):
        if not isinstance(f, dict) or f.get("type") != "Feature":
            raise CandidateFileError(p, f"feature {k}: not a GeoJSON Feature")
        props = f.get("properties") or {}
        if not isinstance(props, dict):
            raise CandidateFileError(p, f"feature {k}: properties must be an object")
        values = {str(key).strip().lower(): v for key, v in props.items()}
        geom = None
        if f.get("geometry"):
            try:
                geom = shape(f["geometry"])
            except Exception as exc:  # shapely raises several types for bad geometry
                raise CandidateFileError(
                    p, f"feature {k}: unreadable geometry ({exc}); use a LineString"
                ) from None
            if geom.geom_type == "MultiLineString":
                geom = shapely.line_merge(geom)
            if transform is not None and not geom.is_empty:
                geom = shapely.transform(geom, transform, interleaved=False)
        rows.append(_Row(p, values, feature=k, geometry=geom))
    return rows


def _geometry_transform(src: str, dst: str | None) -> Any:
    """A vectorised ``(x, y) -> (x, y)`` from ``src`` to ``dst`` (None: same, or unknown)."""
    if dst is None:
        return None
    import pyproj

    s, d = pyproj.CRS.from_user_input(src), pyproj.CRS.from_user_input(dst)
    if s.equals(d):
        return None
    tr = pyproj.Transformer.from_crs(s, d, always_xy=True)

    def fn(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return tr.transform(x, y)

    return fn


@dataclass
class _Parsed:
    row: _Row
    id: str
    kind: str
    cost: float
    group: str | None
    requires: tuple[str, ...]
    label: str
    road_class: str | None
    links: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def _node(row: _Row, name: str, network: Network, *, required: bool) -> int | None:
    v = row.integer(name, required=required, hint="give the external node id (OSM node id)")
    if v is None:
        return None
    try:
        return network.node_index(v)
    except KeyError:
        raise row.error(
            name,
            f"node {v} is not in network '{network.name}'; use the network's external node "
            "ids (OSM node ids, TNTP node numbers)",
        ) from None


def _build(
    rows: Sequence[_Row],
    network: Network,
    path: Path,
    *,
    cost_unit: str | None,
    profile: Any,
) -> CandidateSet:
    # ---------------------------------------------------------------- pass 1: common
    parsed: list[_Parsed] = []
    where: dict[str, _Row] = {}
    units = {r.text("cost_unit") for r in rows} - {None}
    if len(units) > 1:
        raise CandidateFileError(
            path, f"rows use different cost units ({', '.join(sorted(units))}); use one"
        )
    file_unit = next(iter(units)) if units else None
    if cost_unit is not None and file_unit is not None and cost_unit != file_unit:
        raise CandidateFileError(
            path,
            f"the file's costs are in {file_unit!r}, not {cost_unit!r}; convert them or "
            "drop the cost_unit argument",
            field="cost_unit",
        )
    unit = cost_unit or file_unit or network.units.cost
    for row in rows:
        cid = row.text("id", required=True, hint="give every candidate a unique id")
        assert cid is not None
        if cid in where:
            first = where[cid]
            at = f"line {first.line}" if first.line else f"feature {first.feature}"
            raise row.error("id", f"duplicate id '{cid}' (first used on {at}); ids must be unique")
        where[cid] = row
        kind = row.text("kind", required=True, hint="give new_link, widen or upgrade") or ""
        kind = kind.lower()
        if kind not in KINDS:
            raise row.error("kind", f"unknown kind '{kind}'; use one of {', '.join(KINDS)}")
        cost = row.number(
            "cost",
            required=True,
            minimum=0.0,
            hint=f"give the building cost (a number >= 0, {unit})",
        )
        assert cost is not None
        req = tuple(t.strip() for t in (row.text("requires") or "").split(";") if t.strip())
        parsed.append(
            _Parsed(
                row=row,
                id=cid,
                kind=kind,
                cost=cost,
                group=row.text("group"),
                requires=tuple(dict.fromkeys(req)),
                label=row.text("label") or "",
                road_class=row.text("road_class"),
            )
        )
    _check_prerequisites(parsed)

    # ---------------------------------------------------------------- pass 2: new links
    m0 = network.num_links
    specs: list[dict[str, Any]] = []
    explicit_ids: dict[int, str] = {}
    base_ids = set(network.link_ids.tolist())
    for c in parsed:
        if c.kind != "new_link":
            continue
        spec = _new_link_spec(c, network, profile)
        if spec["link_ids"] is not None:
            for lid in spec["link_ids"]:
                if lid in base_ids or lid in explicit_ids:
                    other = "an existing link" if lid in base_ids else f"'{explicit_ids[lid]}'"
                    raise c.row.error(
                        "link_id",
                        f"link id {lid} is already used by {other}; give an unused id or "
                        "leave link_id blank",
                    )
                explicit_ids[lid] = c.id
        specs.append(spec)
    nxt = max([int(network.link_ids.max()) if m0 else 0, *explicit_ids]) + 1
    new: dict[str, list[Any]] = {
        k: []
        for k in (
            "init",
            "term",
            "free_flow_time",
            "capacity",
            "alpha",
            "beta",
            "length",
            "toll",
            "speed",
            "lanes",
            "road_class",
            "link_type",
            "link_ids",
            "geometry",
            "osm_way_ids",
            "name",
            "ref",
        )
    }
    pos = m0
    for spec in specs:
        k = len(spec["init"])
        ids = spec["link_ids"]
        if ids is None:
            ids = list(range(nxt, nxt + k))
            nxt += k
        spec["cand"].links = np.arange(pos, pos + k, dtype=np.int64)
        pos += k
        for key in new:
            if key == "link_ids":
                new[key].extend(ids)
            elif key in ("osm_way_ids",):
                new[key].extend([()] * k)
            elif key in ("name", "ref"):
                new[key].extend([""] * k)
            else:
                new[key].extend(list(spec[key]))
    try:
        lists = ("geometry", "osm_way_ids", "name", "ref")
        arrays = {key: v if key in lists else np.asarray(v) for key, v in new.items()}
        arrays["road_class"] = np.asarray(new["road_class"], dtype=object)
        ext = extend_network(network, arrays) if specs else network
    except ValueError as exc:
        raise CandidateFileError(path, f"the new links are invalid: {exc}") from None

    # ---------------------------------------------------------------- pass 3: changes
    builders = {c.id: c for c in parsed if c.kind == "new_link"}
    ext_index = {int(v): k for k, v in enumerate(ext.link_ids.tolist())}
    cands: list[Candidate] = []
    for c in parsed:
        if c.kind == "new_link":
            cands.append(
                Candidate(
                    id=c.id,
                    kind=c.kind,
                    cost=c.cost,
                    links=c.links,
                    road_class=c.road_class,
                    group=c.group,
                    requires=c.requires,
                    label=c.label,
                )
            )
            continue
        links = _resolve_links(c, ext, m0, builders, ext_index)
        scale, setv = _effects(c, ext, links, profile)
        cands.append(
            Candidate(
                id=c.id,
                kind=c.kind,
                cost=c.cost,
                links=links,
                scale=scale,
                set=setv,
                road_class=c.road_class,
                group=c.group,
                requires=c.requires,
                label=c.label,
            )
        )
    try:
        cs = CandidateSet(ext, m0, tuple(cands), cost_unit=unit)
    except InvalidCandidatesError as exc:
        raise CandidateFileError(path, str(exc)) from None
    log.info("%s: %d candidates (%s)", path, len(cs), cs.summary()["kinds"])
    return cs


def _check_prerequisites(parsed: Sequence[_Parsed]) -> None:
    by_id = {c.id: c for c in parsed}
    for c in parsed:
        for r in c.requires:
            if r not in by_id:
                raise c.row.error(
                    "requires",
                    f"requires unknown candidate '{r}'; name candidates of this file "
                    "(ids separated by ';')",
                )
            if r == c.id:
                raise c.row.error("requires", f"'{c.id}' requires itself; remove it")
    # everything each candidate needs, transitively
    closure: dict[str, set[str]] = {}
    for c in parsed:
        seen: set[str] = set()
        stack = list(c.requires)
        while stack:
            r = stack.pop()
            if r in seen:
                continue
            seen.add(r)
            stack.extend(by_id[r].requires)
        closure[c.id] = seen - {c.id}
    for c in parsed:
        need = sorted(closure[c.id])
        if c.group:
            clash = [r for r in need if by_id[r].group == c.group]
            if clash:
                raise c.row.error(
                    "requires",
                    f"contradictory prerequisites: '{c.id}' requires '{clash[0]}', which is "
                    f"in the same exclusive group '{c.group}' (at most one of a group is "
                    "chosen); drop the requirement or the group",
                )
        groups: dict[str, str] = {}
        for r in need:
            g = by_id[r].group
            if g and g in groups:
                raise c.row.error(
                    "requires",
                    f"contradictory prerequisites: '{c.id}' needs both '{groups[g]}' and "
                    f"'{r}', which exclude each other (group '{g}')",
                )
            if g:
                groups[g] = r


def _new_link_spec(c: _Parsed, network: Network, profile: Any) -> dict[str, Any]:
    row = c.row
    a = _node(row, "init_node", network, required=True)
    b = _node(row, "term_node", network, required=True)
    assert a is not None and b is not None
    if a == b:
        raise row.error("term_node", "a new link must join two different nodes")
    both = row.flag("both_directions")
    k = 2 if both else 1
    ends = [(a, b), (b, a)][:k]
    cls = c.road_class or ""
    known = profile is not None and cls in profile.table
    if c.road_class and profile is not None and not known:
        raise row.error(
            "road_class",
            f"unknown road class '{cls}' for profile '{profile.name}'; use an OSM highway "
            f"value ({', '.join(profile.table)})",
        )
    ids = row.integers("link_id")
    if ids is not None and len(ids) != k:
        raise row.error(
            "link_id",
            f"{len(ids)} link id(s) for {k} new link(s); give one id per direction "
            "separated by ';', or leave it blank",
        )
    lanes = row.numbers("lanes", minimum=0.0, count=k)
    if lanes is None:
        lanes = np.full(k, profile.lanes(cls) if known else np.nan)
    capacity = row.numbers("capacity", positive=True, count=k)
    if capacity is None:
        if not known:
            raise row.error(
                "capacity",
                "missing; give the capacity (veh/h per direction), or a road_class of the "
                "network's road profile to take it from",
            )
        capacity = np.where(np.isfinite(lanes), lanes, 1.0) * profile.capacity_per_lane(cls)
    # geometry: the feature's line (oriented init -> term), else the straight line
    geoms: list[Any] = [None] * k
    geom_len = None
    if row.geometry is not None and not row.geometry.is_empty:
        g = row.geometry
        if g.geom_type != "LineString":
            raise row.error(
                None, f"the geometry of a new link must be a LineString, not {g.geom_type}"
            )
        import shapely

        pa = shapely.Point(network.x[a], network.y[a])
        pb = shapely.Point(network.x[b], network.y[b])
        first = shapely.Point(g.coords[0])
        if network.has_coordinates and first.distance(pb) < first.distance(pa):
            g = shapely.reverse(g)
        geoms = [g, shapely.reverse(g)][:k]
        mpu = _metres_per_crs_unit(network.crs)
        per = _METRES_PER_LENGTH_UNIT.get(network.units.length)
        if mpu is not None and per is not None:
            geom_len = float(g.length) * mpu / per
    elif network.has_coordinates:
        geoms = [_straight_line(network, i, j) for i, j in ends]
    length = row.numbers("length", minimum=0.0, count=k)
    speed = row.numbers("speed", positive=True, count=k)
    fft = row.numbers("free_flow_time", minimum=0.0, count=k)
    if fft is None:
        if length is None:
            if geom_len is None:
                raise row.error(
                    "length",
                    "missing; give free_flow_time, or length and speed (or a LineString "
                    "geometry in a GeoJSON file)",
                )
            length = np.full(k, geom_len)
        if speed is None:
            if not known:
                raise row.error(
                    "speed",
                    "missing; give free_flow_time, or speed with length, or a road_class of "
                    "the network's road profile",
                )
            speed = np.full(k, profile.speed(cls))
        f = _time_factor(network)
        if f is None:
            raise row.error(
                "free_flow_time",
                f"missing, and the network's units ({network.units.length}, "
                f"{network.units.speed}) do not say how length/speed converts to time; give "
                "free_flow_time",
            )
        fft = length / speed * f
    else:
        if length is None:
            if geom_len is not None:
                length = np.full(k, geom_len)
            elif network.has_coordinates:
                mpu = _metres_per_crs_unit(network.crs) or 1.0
                per = _METRES_PER_LENGTH_UNIT.get(network.units.length, 1.0)
                d = math.hypot(network.x[a] - network.x[b], network.y[a] - network.y[b])
                length = np.full(k, d * mpu / per)
            else:
                length = np.zeros(k)
        if speed is None:
            f = _time_factor(network)
            speed = np.where(
                (fft > 0) & (f is not None), length / np.maximum(fft, 1e-300) * (f or 0.0), 0.0
            )
    toll = row.numbers("toll", minimum=0.0, count=k)
    link_type = row.integers("link_type")
    if link_type is not None and len(link_type) not in (1, k):
        raise row.error("link_type", f"give one link type, or one per link ({k})")
    alpha = row.numbers("alpha", minimum=0.0, count=k)
    beta = row.numbers("beta", minimum=0.0, count=k)
    return {
        "cand": c,
        "init": [e[0] for e in ends],
        "term": [e[1] for e in ends],
        "free_flow_time": fft,
        "capacity": capacity,
        "alpha": np.full(k, 0.15) if alpha is None else alpha,
        "beta": np.full(k, 4.0) if beta is None else beta,
        "length": length,
        "speed": speed,
        "lanes": lanes,
        "road_class": [cls] * k,
        "link_type": [_link_type(network, cls)] * k
        if link_type is None
        else (link_type * k)[:k]
        if len(link_type) == 1
        else link_type,
        "toll": np.zeros(k) if toll is None else toll,
        "link_ids": ids,
        "geometry": geoms,
    }


def _resolve_links(
    c: _Parsed,
    ext: Network,
    m0: int,
    builders: Mapping[str, _Parsed],
    ext_index: Mapping[int, int],
) -> np.ndarray:
    """Positions in the extended network of the links a widen/upgrade row changes."""
    row = c.row
    allowed = np.zeros(ext.num_links, dtype=bool)
    allowed[:m0] = True
    required_new: dict[int, str] = {}
    for r in c.requires:
        b = builders.get(r)
        if b is not None:
            allowed[b.links] = True
            required_new.update({int(k): r for k in b.links})
    new_owner = {int(k): b.id for b in builders.values() for k in b.links}
    a = _node(row, "init_node", ext, required=False)
    t = _node(row, "term_node", ext, required=False)
    ids = row.integers("link_id")
    if ids is not None:
        links = []
        for lid in ids:
            k = ext_index.get(lid)
            if k is None:
                raise row.error(
                    "link_id", f"link {lid} is not in network '{ext.name}'; use its link ids"
                )
            if not allowed[k]:
                raise row.error(
                    "link_id",
                    f"link {lid} is built by candidate '{new_owner[k]}'; add it to requires",
                )
            links.append(k)
        first = links[0]
        if (a is not None and a != ext.init[first]) or (t is not None and t != ext.term[first]):
            raise row.error(
                "link_id",
                f"link {ids[0]} joins {ext.node_ids[ext.init[first]]} -> "
                f"{ext.node_ids[ext.term[first]]}, not init_node -> term_node; fix either",
            )
        if len(set(links)) != len(links):
            raise row.error("link_id", "a link is listed twice; list each link once")
    else:
        if a is None or t is None:
            missing = "init_node" if a is None else "term_node"
            raise row.error(
                missing, "missing; give init_node and term_node (external node ids), or link_id"
            )
        out = ext.fs_links[ext.fs_indptr[a] : ext.fs_indptr[a + 1]]
        joining = [int(k) for k in out if ext.term[k] == t]
        mine = [k for k in joining if k in required_new]
        ok = mine or [k for k in joining if allowed[k]]
        if not ok:
            na, nt = ext.node_ids[a], ext.node_ids[t]
            owners = sorted({new_owner[k] for k in joining if k in new_owner})
            if owners:
                raise row.error(
                    "requires",
                    f"the link {na} -> {nt} is built by candidate '{owners[0]}'; add "
                    f"requires = '{owners[0]}'",
                )
            raise row.error(
                "term_node",
                f"no link from node {na} to node {nt}; a {c.kind} changes an existing link "
                "(check the direction, or use kind new_link to build one)",
            )
        if len(ok) > 1:
            raise row.error(
                "link_id",
                f"{len(ok)} parallel links join {ext.node_ids[a]} -> {ext.node_ids[t]} "
                f"(link ids {', '.join(str(ext.link_ids[k]) for k in ok)}); give link_id to "
                "pick one",
            )
        links = ok
    if row.flag("both_directions"):
        for k in list(links):
            rev = _reverse_links(ext, k, allowed, exclude=links)
            already = [
                j for j in links if ext.init[j] == ext.term[k] and ext.term[j] == ext.init[k]
            ]
            if already:
                continue
            if not rev:
                raise row.error(
                    "both_directions",
                    f"no link from {ext.node_ids[ext.term[k]]} back to "
                    f"{ext.node_ids[ext.init[k]]} (a one-way road?); set both_directions "
                    "to false",
                )
            links.append(rev[0])
    return np.asarray(links, dtype=np.int64)


def _effects(
    c: _Parsed, ext: Network, links: np.ndarray, profile: Any
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    row = c.row
    k = links.size
    cur_lanes = np.where(np.isfinite(ext.lanes[links]), ext.lanes[links], 1.0)
    cur_cap = ext.capacity[links]
    cur_fft = ext.free_flow_time[links]
    cur_speed = ext.speed[links]
    length = ext.length[links]
    scale: dict[str, np.ndarray] = {}
    setv: dict[str, np.ndarray] = {}
    add = row.number("add_lanes")
    capf = row.numbers("capacity_factor", count=k)
    lanesf = row.numbers("lanes_factor", count=k)
    speed = row.numbers("speed", positive=True, count=k)
    fft = row.numbers("free_flow_time", minimum=0.0, count=k)
    if add is not None:
        if not float(add).is_integer() or add < 1:
            raise row.error("add_lanes", f"{add:g} is not a whole number >= 1; give 1, 2, ...")
        if capf is not None:
            raise row.error("capacity_factor", "give add_lanes or capacity_factor, not both")
        f = (cur_lanes + add) / cur_lanes
        scale["capacity"] = f
        scale["lanes"] = f.copy()
    for name, arr in (("capacity_factor", capf), ("lanes_factor", lanesf)):
        if arr is not None and np.any(arr < 1):
            raise row.error(
                name,
                f"factor {arr.min():g} < 1 would lower "
                f"{'capacity' if name == 'capacity_factor' else 'lanes'}; an upgrade may only "
                "raise it (factors >= 1)",
            )
    if capf is not None:
        scale["capacity"] = capf
    if lanesf is not None:
        scale["lanes"] = lanesf
    cls = c.road_class
    if cls is not None and c.kind == "upgrade":
        from networks.roads import class_rank

        if profile is not None and cls not in profile.table:
            raise row.error(
                "road_class",
                f"unknown road class '{cls}' for profile '{profile.name}'; use one of "
                f"{', '.join(profile.table)}",
            )
        now = [str(ext.road_class[j]) for j in links if ext.road_class[j]]
        low = [x for x in now if class_rank(x) <= class_rank(cls)]
        if low:
            raise row.error(
                "road_class",
                f"'{cls}' does not rank above the link's class '{low[0]}'; an upgrade must "
                "go up the hierarchy (give speed/capacity_factor instead)",
            )
        if profile is None and speed is None and fft is None and capf is None:
            raise row.error(
                "road_class",
                "the network has no road profile to take the class's speed and capacity "
                "from; give speed, free_flow_time or capacity_factor",
            )
        if profile is not None:
            if speed is None and fft is None:
                speed = np.maximum(cur_speed, profile.speed(cls))
            if capf is None:
                scale["capacity"] = np.maximum(
                    1.0, cur_lanes * profile.capacity_per_lane(cls) / np.maximum(cur_cap, 1e-300)
                )
    if speed is not None:
        lower = np.flatnonzero(speed < cur_speed)
        if lower.size:
            j = links[lower[0]]
            raise row.error(
                "speed",
                f"{speed[lower[0]]:g} is below link {ext.link_ids[j]}'s speed "
                f"{cur_speed[lower[0]]:g}; an upgrade may not lower speed",
            )
        setv["speed"] = speed
        if fft is None:
            f = _time_factor(ext)
            if f is None:
                raise row.error(
                    "free_flow_time",
                    "missing, and the network's units do not say how length/speed converts "
                    "to time; give free_flow_time too",
                )
            setv["free_flow_time"] = np.minimum(cur_fft, length / speed * f)
    if fft is not None:
        higher = np.flatnonzero(fft > cur_fft * (1 + 1e-12) + 1e-12)
        if higher.size:
            j = links[higher[0]]
            raise row.error(
                "free_flow_time",
                f"{fft[higher[0]]:g} is above link {ext.link_ids[j]}'s free-flow time "
                f"{cur_fft[higher[0]]:g}; an upgrade may not raise it",
            )
        setv["free_flow_time"] = fft
    if not scale and not setv:
        need = (
            "add_lanes (a whole number >= 1) or capacity_factor (>= 1)"
            if c.kind == "widen"
            else "speed, free_flow_time, capacity_factor or road_class"
        )
        raise row.error(None, f"a {c.kind} needs {need}")
    return scale, setv


# ====================================================================== writing
def _fmt(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return "" if math.isnan(v) else format_float(v)
    return str(v)


def _per_link(values: np.ndarray) -> Any:
    """One value when all are equal (NaN-aware), else the list."""
    vals = np.asarray(values, dtype=np.float64)
    if vals.size and (np.all(vals == vals[0]) or np.all(np.isnan(vals))):
        return float(vals[0])
    return [float(x) for x in vals]


def _candidate_record(cs: CandidateSet, c: Candidate) -> dict[str, Any]:
    net = cs.network
    ids = net.node_ids
    links = np.asarray(c.links, dtype=np.int64)
    first = int(links[0])
    rec: dict[str, Any] = {
        "id": c.id,
        "kind": c.kind,
        "cost": float(c.cost),
        "cost_unit": cs.cost_unit,
        "init_node": int(ids[net.init[first]]),
        "term_node": int(ids[net.term[first]]),
        "link_id": [int(net.link_ids[k]) for k in links],
        "both_directions": False,
        "group": c.group,
        "requires": list(c.requires) or None,
        "road_class": c.road_class,
        "label": c.label,
    }
    if c.kind == "new_link":
        if links.size == 2:
            a, b = links
            if not (net.init[a] == net.term[b] and net.term[a] == net.init[b]):
                raise InvalidCandidatesError(
                    f"candidate '{c.id}' builds two links that are not the two directions of "
                    "one road; the file format cannot describe it (split it in two)"
                )
            rec["both_directions"] = True
        elif links.size != 1:
            raise InvalidCandidatesError(
                f"candidate '{c.id}' builds {links.size} links; the file format describes a "
                "new link or a two-way pair only (split it)"
            )
        for name in ("capacity", "free_flow_time", "length", "lanes", "alpha", "beta"):
            rec[name] = _per_link(getattr(net, name)[links])
        if np.all(net.speed[links] > 0):  # 0: unknown
            rec["speed"] = _per_link(net.speed[links])
        if np.any(net.toll[links] != 0):
            rec["toll"] = _per_link(net.toll[links])
        lt = net.link_type[links]
        if np.any(lt != [_link_type(net, str(net.road_class[k])) for k in links]):
            rec["link_type"] = [int(x) for x in lt] if np.any(lt != lt[0]) else int(lt[0])
        if c.road_class is None and net.road_class[first]:
            rec["road_class"] = str(net.road_class[first])
        return rec
    cap = c.scale.get("capacity")
    lan = c.scale.get("lanes")
    if cap is not None and lan is not None and np.array_equal(cap, lan):
        cur = np.where(np.isfinite(net.lanes[links]), net.lanes[links], 1.0)
        add = np.round((np.asarray(cap) - 1.0) * cur)
        if add.size and np.all(add == add[0]) and add[0] >= 1:
            if np.array_equal((cur + add[0]) / cur, np.asarray(cap)):
                rec["add_lanes"] = int(add[0])
                cap = lan = None
    if cap is not None:
        rec["capacity_factor"] = _per_link(cap)
    if lan is not None:
        rec["lanes_factor"] = _per_link(lan)
    if "speed" in c.set:
        rec["speed"] = _per_link(c.set["speed"])
    if "free_flow_time" in c.set:
        rec["free_flow_time"] = _per_link(c.set["free_flow_time"])
    return rec


def write_candidates(cs: CandidateSet, path: str | Path) -> Path:
    """Write a candidate set to CSV (``.csv``) or GeoJSON (``.geojson``/``.json``), atomically.

    Every row names its links explicitly (``link_id``; external ids of the extended
    network) and carries exact values (floats in shortest round-trip form), so that
    ``read_candidates(path, base)`` with the set's base network (its first
    ``num_base_links`` links) rebuilds the same set: the same candidates, effects, costs,
    and new links with the same ids and attributes (a new link's geometry comes back as
    the straight line, or the GeoJSON feature's line).

    GeoJSON features carry the links' geometry in lon/lat (RFC 7946) when the network has
    a CRS (else no geometry).

    Parameters
    ----------
    cs
        The candidates.
    path
        Output file.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InvalidCandidatesError
        For a ``new_link`` candidate that builds anything other than one link or the two
        directions of one road (the format cannot describe it).
    """
    p = Path(path)
    records = [_candidate_record(cs, c) for c in cs.candidates]
    suffix = p.suffix.lower()
    if suffix in (".geojson", ".json"):
        atomic_write_text(p, _geojson_text(cs, records))
        return p
    if suffix not in (".csv", ".txt"):
        raise ValueError(f"{p}: unknown output type; use .csv or .geojson")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FIELDS)
    for rec in records:
        w.writerow([_cell(rec.get(f)) for f in FIELDS])
    atomic_write_text(p, buf.getvalue())
    return p


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, list):
        return ";".join(_fmt(x) for x in v)
    return _fmt(v)


def _geojson_text(cs: CandidateSet, records: Sequence[Mapping[str, Any]]) -> str:
    net = cs.network
    geoms: list[Any] = [None] * len(records)
    if net.crs is not None and net.has_coordinates:
        import shapely

        from networks.export import link_geometries

        lines = link_geometries(net)
        tr = _geometry_transform(net.crs, "EPSG:4326")
        for i, c in enumerate(cs.candidates):
            parts = [lines[int(k)] for k in c.links]
            if c.kind == "new_link":
                parts = parts[:1]
            g = parts[0] if len(parts) == 1 else shapely.MultiLineString(parts)
            if tr is not None:
                g = shapely.transform(g, tr, interleaved=False)
            geoms[i] = shapely.geometry.mapping(g)
    feats = []
    for rec, g in zip(records, geoms, strict=True):
        props: dict[str, Any] = {}
        for f in FIELDS:
            v = rec.get(f)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            if isinstance(v, list):
                v = v[0] if len(v) == 1 and f in ("link_id",) else _cell(v)
            props[f] = v
        feats.append({"type": "Feature", "properties": props, "geometry": g})
    return json.dumps({"type": "FeatureCollection", "features": feats}, indent=1) + "\n"


# ====================================================================== generating
@dataclass
class _Proposal:
    """A generated candidate before selection (new links not yet appended)."""

    source: str
    id: str
    kind: str
    cost: float
    benefit: float  # veh-h per demand period, first-order estimate
    links: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    scale: dict[str, np.ndarray] = field(default_factory=dict)
    set: dict[str, np.ndarray] = field(default_factory=dict)
    new: dict[str, Any] | None = None  # new link pair: a, b (internal nodes) and attributes
    road_class: str | None = None
    group: str | None = None
    label: str = ""

    @property
    def score(self) -> float:
        return self.benefit / self.cost if self.cost > 0 else math.inf

    @property
    def pair(self) -> tuple[int, int] | None:
        if self.new is None:
            return None
        a, b = self.new["a"], self.new["b"]
        return (min(a, b), max(a, b))


class _Context:
    """What every generator needs, computed once: roads, names, shortest-path costs."""

    def __init__(
        self,
        network: Network,
        demand: Demand,
        result: AssignmentResult,
        prof: Any,
        terrain: float,
        circuity: float,
        costs: CostTable,
    ) -> None:
        self.net = net = network
        self.prof = prof
        self.terrain = terrain
        self.circuity = circuity
        self.costs = costs
        self.flow = np.asarray(result.flow, dtype=np.float64)
        self.cost = np.asarray(result.cost, dtype=np.float64)
        self.time_factor = _time_factor(net) or 60.0
        m, n = net.num_links, net.num_nodes
        self.xy = np.column_stack([net.x, net.y])
        self.mpu = _metres_per_crs_unit(net.crs) or 1.0
        self.per_km = 1000.0 / self.mpu  # crs units per km
        # reverse twins: the two directions of one road
        twin = np.full(m, -1, dtype=np.int64)
        free = np.ones(m, dtype=bool)
        for k in range(m):
            if twin[k] >= 0:
                continue
            free[k] = False
            rev = _reverse_links(net, k, free)
            if rev:
                twin[k], twin[rev[0]] = rev[0], k
                free[rev[0]] = False
        self.twin = twin
        # road keys: the OSM ways of a link (else the link's own id)
        keys = []
        for k in range(m):
            ways = _way_ids(net, k)
            keys.append(
                ways
                if ways
                else (f"L{int(net.link_ids[min(k, twin[k]) if twin[k] >= 0 else k])}",)
            )
        self.keys = keys
        self.key_name = _key_names(keys)
        names = net.extra.get("name")
        refs = net.extra.get("ref")
        self.names = list(names) if names is not None and len(names) == m else [""] * m
        self.refs = list(refs) if refs is not None and len(refs) == m else [""] * m
        # nodes where a new road may end: not on a grade-separated road
        cls = net.road_class
        gs = np.isin(cls, [c for c in GRADE_SEPARATED if c != "motorway_link"])
        at_grade = ~np.isin(cls, list(GRADE_SEPARATED))
        on_gs = np.zeros(n, dtype=bool)
        on_gs[net.init[gs]] = True
        on_gs[net.term[gs]] = True
        touches_local = np.zeros(n, dtype=bool)
        touches_local[net.init[at_grade]] = True
        touches_local[net.term[at_grade]] = True
        self.eligible = touches_local & ~on_gs
        # demand: OD pairs and shortest costs at equilibrium
        zone_nodes = net.node_indices(demand.zone_node_ids, what="zone node")
        self.zone_nodes = zone_nodes
        self.internal = np.asarray(demand.internal, dtype=bool)
        self.zone_ids = np.asarray(demand.zone_ids)
        mat = sp.coo_array(demand.matrix) if sp.issparse(demand.matrix) else None
        if mat is None:
            dense = np.asarray(demand.matrix, dtype=np.float64)
            r, c = np.nonzero(dense)
            t = dense[r, c]
        else:
            r, c, t = mat.row, mat.col, mat.data
        keep = (r != c) & (t > 0) & (zone_nodes[r] != zone_nodes[c])
        r, c, t = r[keep], c[keep], t[keep]
        self.od_trips = t
        g = _graph(net, np.maximum(self.cost, 1e-9))
        onodes, oinv = np.unique(zone_nodes[r], return_inverse=True)
        dnodes, dinv = np.unique(zone_nodes[c], return_inverse=True)
        self.d_from = dijkstra(g, directed=True, indices=onodes) if onodes.size else None
        self.d_to = dijkstra(g.T.tocsr(), directed=True, indices=dnodes) if dnodes.size else None
        self.oinv, self.dinv = oinv, dinv
        self.od_cost = self.d_from[oinv, zone_nodes[c]] if self.d_from is not None else np.zeros(0)
        self.length_graph = _graph(net, np.maximum(net.length, 1e-9))

    # ------------------------------------------------------------ pieces
    def road_name(self, links: Iterable[int], key_name: str) -> str:
        for k in links:
            if self.names[k]:
                return str(self.names[k])
        for k in links:
            if self.refs[k]:
                return str(self.refs[k])
        return f"way {key_name}" if not key_name.startswith("L") else f"link {key_name[1:]}"

    def node_name(self, i: int) -> str:
        net = self.net
        around = np.concatenate(
            [
                net.fs_links[net.fs_indptr[i] : net.fs_indptr[i + 1]],
                net.bs_links[net.bs_indptr[i] : net.bs_indptr[i + 1]],
            ]
        )
        names = sorted({str(self.names[k]) for k in around if self.names[k]})
        if names:
            return "/".join(names[:2])
        return f"node {int(net.node_ids[i])}"

    def straight_m(self, a: int, b: int) -> float:
        return float(np.hypot(*(self.xy[a] - self.xy[b]))) * self.mpu

    def fixed_flow_saving(
        self, links: np.ndarray, cap_factor: np.ndarray, new_fft: np.ndarray
    ) -> float:
        """Travel time saved at today's flows (veh-h per period) by new capacity/time."""
        net = self.net
        x = self.flow[links]
        cap = net.capacity[links]
        a, b = net.alpha[links], net.beta[links]
        ok = cap > 0
        ratio = np.where(ok, x / np.where(ok, cap, 1.0), 0.0)
        before = net.free_flow_time[links] * (1 + a * ratio**b)
        after = new_fft * (1 + a * (ratio / cap_factor) ** b)
        return float(np.sum(x * (before - after))) / self.time_factor

    def new_link_saving(self, a: int, b: int, t: float, cap: float) -> float:
        """All-or-nothing saving (veh-h per period) of a new link a -> b of time ``t``.

        Trips whose shortest cost at equilibrium exceeds the cost via the new link are
        moved onto it, those saving most first, up to its capacity.
        """
        if self.d_from is None or self.d_to is None:
            return 0.0
        s = self.od_cost - self.d_from[self.oinv, a] - t - self.d_to[self.dinv, b]
        pos = np.isfinite(s) & (s > 0)
        if not pos.any():
            return 0.0
        s, trips = s[pos], self.od_trips[pos]
        order = np.argsort(-s, kind="stable")
        s, trips = s[order], trips[order]
        before = np.concatenate([[0.0], np.cumsum(trips)[:-1]])
        moved = np.clip(cap - before, 0.0, trips)
        return float(np.sum(moved * s)) / self.time_factor

    def new_road(self, a: int, b: int, cls: str) -> dict[str, Any]:
        """Attributes of a new two-way road a <-> b of class ``cls``."""
        from networks.roads import BPR_BY_CLASS

        prof = self.prof
        straight_km = self.straight_m(a, b) / 1000.0
        length = straight_km * self.circuity
        speed = prof.speed(cls)
        lanes = prof.lanes(cls)
        cap = lanes * prof.capacity_per_lane(cls)
        alpha, beta = prof.bpr.get(cls, BPR_BY_CLASS.get(cls, (0.15, 4.0)))
        return {
            "a": a,
            "b": b,
            "class": cls,
            "length": length,
            "speed": speed,
            "lanes": lanes,
            "capacity": cap,
            "alpha": float(alpha),
            "beta": float(beta),
            "fft": length / speed * self.time_factor,
            "straight_km": straight_km,
        }


def _graph(network: Network, weights: np.ndarray) -> sp.csr_array:
    """A CSR graph with the cheapest of parallel links (for scipy's dijkstra)."""
    n = network.num_nodes
    order = np.lexsort((weights, network.term, network.init))
    a, b, w = network.init[order], network.term[order], weights[order]
    first = np.ones(a.shape[0], dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return sp.csr_array((w[first], (a[first], b[first])), shape=(n, n))


def _key_names(keys: Sequence[tuple]) -> dict[tuple, str]:
    """A short readable name per road key: its first way id, made unique by ``.2``, ..."""
    out: dict[tuple, str] = {}
    used: dict[str, int] = {}
    for key in sorted(set(keys), key=lambda t: tuple(str(x) for x in t)):
        base = str(key[0])
        used[base] = used.get(base, 0) + 1
        out[key] = base if used[base] == 1 else f"{base}.{used[base]}"
    return out


def _check_generate_inputs(network: Network, demand: Demand, result: AssignmentResult | None):
    u = network.units
    if (u.length, u.speed, u.time) != ("km", "km/h", "min"):
        raise InvalidCandidatesError(
            f"network '{network.name}' has units {u.length}/{u.speed}/{u.time}; candidates "
            "are generated for networks in km, km/h and minutes (built from OpenStreetMap)"
        )
    if not network.has_coordinates:
        raise InvalidCandidatesError(
            f"network '{network.name}' has no node coordinates; generating candidates needs "
            "them (build the network from OpenStreetMap)"
        )
    if _metres_per_crs_unit(network.crs) is None:
        raise InvalidCandidatesError(
            f"network '{network.name}' is in geographic coordinates ({network.crs}); "
            "project it to metres (OSM networks come in UTM)"
        )
    if result is not None and np.shape(result.flow) != (network.num_links,):
        raise InvalidCandidatesError(
            f"the assignment result has {np.shape(result.flow)[0]} link flows but the network "
            f"has {network.num_links} links; pass a result computed on this network"
        )


def generate_candidates(
    network: Network,
    demand: Demand,
    *,
    result: AssignmentResult | None = None,
    profile: Any = None,
    max_candidates: int = 12,
    seed: int = 0,
    terrain_factor: float | None = None,
    circuity: float | None = None,
    costs: CostTable | None = None,
    include: Sequence[str] = SOURCES,
    min_per_source: int = 1,
    vc_threshold: float = VC_THRESHOLD,
    missing_link_max_m: float = MISSING_LINK_MAX_M,
    detour_factor: float = DETOUR_FACTOR,
    access_max_m: float = ACCESS_MAX_M,
) -> CandidateSet:
    """Propose, price and rank candidate upgrades for an OpenStreetMap network.

    Four generators (``include``), each documented with its thresholds as module constants:

    ``widen``
        Roads with links at v/c >= ``vc_threshold`` (else the ``max_candidates`` links of
        highest v/c): for each OSM way, its selected links and their reverse twins (the
        two directions of a two-way road) get exclusive options of :data:`WIDEN_OPTIONS`
        more lanes per direction (``widen-<way>-+1``, ``widen-<way>-+2``; at most
        :data:`MAX_LANES_PER_DIRECTION`). Cost: km x lanes added (each direction) x
        :attr:`CostTable.widen` of the class x terrain.
    ``upgrade``
        Ways of the classes in :data:`UPGRADE_TO` carrying the most flow x length (veh-km):
        the whole way moves one class up (``upgrade-<way>``): the target class's speed and
        capacity per lane from the profile, never lowering either. Cost: km x
        :attr:`CostTable.upgrade` of the target class x terrain.
    ``missing``
        Node pairs closer than ``missing_link_max_m`` (and :data:`MISSING_LINK_MIN_M`) in a
        straight line whose shortest network route is longer than ``detour_factor`` times
        it: a new two-way :data:`MISSING_LINK_CLASS` road (``new-<a>-<b>``, external node
        ids, smaller first) of length straight line x circuity; near duplicates
        (:data:`DEDUP_RADIUS_M`) are dropped.
    ``access``
        Internal zones whose network route to the nearest (straight line) access node of
        the highest-class road (motorway and trunk where present, reached at the local
        end of motorway ramps; else the highest class present) is more than
        :data:`ACCESS_DETOUR_FACTOR` times the straight line: a new two-way
        :data:`ACCESS_CLASS` road (``access-<a>-<b>``) to that node from the node within
        :data:`ACCESS_RADIUS_M` of the zone that gives the zone the shortest route over
        it, at most ``access_max_m`` long, and only if that route beats today's.

    New roads never end on grade-separated roads (:data:`GRADE_SEPARATED`). New-road cost:
    km x :attr:`CostTable.new_build` of the class x terrain.

    Ranking: each proposal's benefit is a first-order estimate of travel time saved in the
    demand period (veh-h): at today's equilibrium flows for widen/upgrade; by moving the
    trips that would gain onto the new road, best first, up to its capacity (all or
    nothing at today's costs) for new roads; new roads that would carry no trip are
    dropped. Proposals are ranked by benefit per cost
    (ties: by id); the best ``min_per_source`` of each generator are kept first, so that
    every kind reaches the optimizer, then the best of the rest up to ``max_candidates``.
    The result is deterministic.

    Parameters
    ----------
    network
        An OSM network (minutes, km, km/h, veh/h; node x/y in metres, e.g. UTM).
    demand
        Its demand (internal zones and gateways).
    result
        An equilibrium on ``network`` with ``demand``; default ``assign(network, demand,
        rgap=1e-6)``.
    profile
        Road profile for class speeds and capacities (name or
        :class:`networks.osm.RoadProfile`); default the network's own (``generic`` when
        unknown).
    max_candidates
        How many candidates to keep at most.
    seed
        Seed of the sample of node pairs on networks with more than :data:`MAX_PAIRS` pairs
        to check for missing links (the only random step).
    terrain_factor
        Cost multiplier; default :data:`TERRAIN_FACTOR` of the profile (1.6 for
        ``china-mountain``, else 1.0).
    circuity
        New-road length over straight-line distance; default :data:`CIRCUITY_FACTOR` of the
        profile.
    costs
        Unit costs (default :data:`DEFAULT_COSTS`, thousand CNY); the set's cost unit is
        ``costs.unit``.
    include
        Generators to run, a subset of :data:`SOURCES`.
    min_per_source
        Places reserved for the best proposals of each generator.
    vc_threshold, missing_link_max_m, detour_factor, access_max_m
        Thresholds, see above.

    Returns
    -------
    CandidateSet
        Best first; its network is ``network`` with the kept new roads appended (straight
        LineString geometry, ``road_class``, empty OSM way ids and names).

    Raises
    ------
    InvalidCandidatesError
        For a network not in OSM units or without projected coordinates, a result of
        another network, or unknown generator names.
    """
    unknown = [s for s in include if s not in SOURCES]
    if unknown:
        raise InvalidCandidatesError(
            f"unknown generator(s) {unknown}; choose from {', '.join(SOURCES)}"
        )
    if max_candidates < 0:
        raise InvalidCandidatesError(f"max_candidates must be >= 0, got {max_candidates}")
    _check_generate_inputs(network, demand, result)
    prof = _road_profile(network, profile)
    if prof is None:
        from networks.roads import PROFILES

        prof = PROFILES["generic"]
    terrain = (
        float(terrain_factor) if terrain_factor is not None else TERRAIN_FACTOR.get(prof.name, 1.0)
    )
    circ = float(circuity) if circuity is not None else CIRCUITY_FACTOR.get(prof.name, 1.2)
    if not (terrain > 0 and circ >= 1):
        raise InvalidCandidatesError("terrain_factor must be > 0 and circuity >= 1")
    costs = costs or DEFAULT_COSTS
    if result is None:
        from .assignment import assign

        result = assign(network, demand, rgap=1e-6)
    ctx = _Context(network, demand, result, prof, terrain, circ, costs)
    pool: list[_Proposal] = []
    if "widen" in include:
        pool += _widen(ctx, vc_threshold, max(max_candidates, 1))
    if "upgrade" in include:
        pool += _upgrade(ctx, 3 * max(max_candidates, 1))
    if "access" in include:
        pool += _access(ctx, access_max_m)
    if "missing" in include:
        taken = {p.pair for p in pool if p.pair is not None}
        pool += [
            p
            for p in _missing(
                ctx, missing_link_max_m, detour_factor, seed, 3 * max(max_candidates, 1)
            )
            if p.pair not in taken
        ]
    kept = _select(pool, max_candidates, min_per_source)
    for p in kept:
        log.info(
            "candidate %s: cost %.0f %s, est. saving %.3f veh-h, score %.3g",
            p.id,
            p.cost,
            costs.unit,
            p.benefit,
            p.score,
        )
    return _assemble(network, kept, costs.unit)


def _select(pool: list[_Proposal], k: int, min_per_source: int) -> list[_Proposal]:
    ranked = sorted(pool, key=lambda p: (-p.score, p.id))
    chosen: list[_Proposal] = []
    ids: set[str] = set()
    if min_per_source > 0:
        for src in SOURCES:
            for p in [q for q in ranked if q.source == src][:min_per_source]:
                if len(chosen) < k:
                    chosen.append(p)
                    ids.add(p.id)
    for p in ranked:
        if len(chosen) >= k:
            break
        if p.id not in ids:
            chosen.append(p)
            ids.add(p.id)
    return sorted(chosen, key=lambda p: (-p.score, p.id))


def _assemble(network: Network, kept: Sequence[_Proposal], unit: str) -> CandidateSet:
    m0 = network.num_links
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "init",
            "term",
            "free_flow_time",
            "capacity",
            "alpha",
            "beta",
            "length",
            "speed",
            "lanes",
            "road_class",
            "link_type",
            "geometry",
        )
    }
    cands = []
    pos = m0
    for p in kept:
        links = p.links
        if p.new is not None:
            nw = p.new
            for i, j in ((nw["a"], nw["b"]), (nw["b"], nw["a"])):
                cols["init"].append(i)
                cols["term"].append(j)
                cols["free_flow_time"].append(nw["fft"])
                cols["capacity"].append(nw["capacity"])
                cols["alpha"].append(nw["alpha"])
                cols["beta"].append(nw["beta"])
                cols["length"].append(nw["length"])
                cols["speed"].append(nw["speed"])
                cols["lanes"].append(nw["lanes"])
                cols["road_class"].append(nw["class"])
                cols["link_type"].append(_link_type(network, nw["class"]))
                cols["geometry"].append(_straight_line(network, i, j))
            links = np.array([pos, pos + 1], dtype=np.int64)
            pos += 2
        cands.append(
            Candidate(
                id=p.id,
                kind=p.kind,
                cost=p.cost,
                links=links,
                scale=p.scale,
                set=p.set,
                road_class=p.road_class,
                group=p.group,
                label=p.label,
            )
        )
    k = len(cols["init"])
    ext = network
    if k:
        arrays: dict[str, Any] = {
            key: (np.asarray(v) if key != "geometry" else v) for key, v in cols.items()
        }
        arrays["road_class"] = np.asarray(cols["road_class"], dtype=object)
        arrays["osm_way_ids"] = [()] * k
        arrays["name"] = [""] * k
        arrays["ref"] = [""] * k
        ext = extend_network(network, arrays)
    return CandidateSet(ext, m0, tuple(cands), cost_unit=unit)


# ---------------------------------------------------------------------- generators
def _roads(ctx: _Context, links: Iterable[int]) -> dict[tuple, list[tuple[int, ...]]]:
    """Group links into roads (way keys) of segments (a link and its reverse twin)."""
    out: dict[tuple, list[tuple[int, ...]]] = {}
    seen: set[int] = set()
    for k in sorted(int(x) for x in links):
        if k in seen:
            continue
        t = int(ctx.twin[k])
        seg = (k,) if t < 0 else (min(k, t), max(k, t))
        seen.update(seg)
        out.setdefault(ctx.keys[k], []).append(seg)
    return out


def _seg_km(ctx: _Context, segs: Sequence[tuple[int, ...]]) -> float:
    return float(sum(max(ctx.net.length[list(s)]) for s in segs))


def _main_class(ctx: _Context, links: Sequence[int]) -> str:
    cls = [str(ctx.net.road_class[k]) for k in links]
    return max(sorted(set(cls)), key=cls.count) if cls else "road"


def _widen(ctx: _Context, vc_threshold: float, top: int) -> list[_Proposal]:
    net = ctx.net
    cap = net.capacity
    vc = np.where(cap > 0, ctx.flow / np.where(cap > 0, cap, 1.0), 0.0)
    widenable = (cap > 0) & ~np.isin(net.road_class, ["service", "track", "living_street"])
    sel = np.flatnonzero(widenable & (vc >= vc_threshold))
    if sel.size == 0:
        cand = np.flatnonzero(widenable & (ctx.flow > 0))
        order = np.lexsort((cand, -vc[cand]))
        sel = cand[order[:top]]
        if sel.size:
            log.info(
                "no link at v/c >= %.2f; proposing widenings of the %d links of highest v/c "
                "(max %.2f)",
                vc_threshold,
                sel.size,
                vc[sel].max(),
            )
    out = []
    for key, segs in _roads(ctx, sel).items():
        links = np.array([k for s in segs for k in s], dtype=np.int64)
        name = ctx.key_name[key]
        cls = _main_class(ctx, links.tolist())
        lanes = np.where(np.isfinite(net.lanes[links]), net.lanes[links], 1.0)
        km = _seg_km(ctx, segs)
        lane_km = float(sum(max(net.length[list(s)]) * len(s) for s in segs))
        road = ctx.road_name(links.tolist(), name)
        two_way = all(len(s) == 2 for s in segs)
        for add in WIDEN_OPTIONS:
            if np.any(lanes + add > MAX_LANES_PER_DIRECTION):
                continue
            f = (lanes + add) / lanes
            cost = lane_km * add * ctx.costs.widen(cls) * ctx.terrain
            out.append(
                _Proposal(
                    source="widen",
                    id=f"widen-{name}-+{add}",
                    kind="widen",
                    cost=cost,
                    benefit=ctx.fixed_flow_saving(links, f, net.free_flow_time[links]),
                    links=links,
                    scale={"capacity": f, "lanes": f.copy()},
                    group=f"widen-{name}",
                    label=(
                        f"widen {road} ({cls}, {km:.2f} km, v/c up to {vc[links].max():.2f}) "
                        f"by {add} lane{'s' if add > 1 else ''}"
                        + (" in each direction" if two_way else "")
                    ),
                )
            )
    return out


def _upgrade(ctx: _Context, top: int) -> list[_Proposal]:
    net = ctx.net
    prof = ctx.prof
    low = np.flatnonzero(
        np.isin(net.road_class, [c for c, t in UPGRADE_TO.items() if t in prof.table])
    )
    volume: dict[tuple, float] = {}
    for k in low.tolist():
        key = (ctx.keys[k], str(net.road_class[k]))
        volume[key] = volume.get(key, 0.0) + float(ctx.flow[k] * net.length[k])
    ranked = sorted(
        (kv for kv in volume.items() if kv[1] > 0),
        key=lambda kv: (-kv[1], ctx.key_name[kv[0][0]]),
    )[:top]
    members: dict[tuple, list[int]] = {}
    for k in low.tolist():
        members.setdefault((ctx.keys[k], str(net.road_class[k])), []).append(k)
    out = []
    for (key, cls), vkm in ranked:
        target = UPGRADE_TO[cls]
        links = np.array(sorted(members[(key, cls)]), dtype=np.int64)
        lanes = np.where(np.isfinite(net.lanes[links]), net.lanes[links], 1.0)
        speed = np.maximum(net.speed[links], prof.speed(target))
        fft = np.minimum(net.free_flow_time[links], net.length[links] / speed * ctx.time_factor)
        capf = np.maximum(
            1.0, lanes * prof.capacity_per_lane(target) / np.maximum(net.capacity[links], 1e-300)
        )
        if np.all(capf == 1.0) and np.all(fft >= net.free_flow_time[links]):
            continue
        segs = [s for ss in _roads(ctx, links).values() for s in ss]
        km = _seg_km(ctx, segs)
        name = ctx.key_name[key]
        sid = (
            f"upgrade-{name}"
            if cls == _main_class(ctx, _all_links_of(ctx, key))
            else (f"upgrade-{name}-{cls}")
        )
        out.append(
            _Proposal(
                source="upgrade",
                id=sid,
                kind="upgrade",
                cost=km * ctx.costs.upgrade(target) * ctx.terrain,
                benefit=ctx.fixed_flow_saving(links, capf, fft),
                links=links,
                scale={"capacity": capf},
                set={"speed": speed, "free_flow_time": fft},
                road_class=target,
                label=(
                    f"upgrade {ctx.road_name(links.tolist(), name)} from {cls} to {target} "
                    f"({km:.2f} km, {vkm:.0f} veh-km per period)"
                ),
            )
        )
    return out


def _all_links_of(ctx: _Context, key: tuple) -> list[int]:
    return [k for k in range(ctx.net.num_links) if ctx.keys[k] == key]


def _new_proposal(
    ctx: _Context, source: str, prefix: str, a: int, b: int, cls: str, label: str
) -> _Proposal | None:
    ids = ctx.net.node_ids
    if ids[a] > ids[b]:
        a, b = b, a
    nw = ctx.new_road(a, b, cls)
    if nw["length"] <= 0:
        return None
    benefit = ctx.new_link_saving(a, b, nw["fft"], nw["capacity"]) + ctx.new_link_saving(
        b, a, nw["fft"], nw["capacity"]
    )
    return _Proposal(
        source=source,
        id=f"{prefix}-{int(ids[a])}-{int(ids[b])}",
        kind="new_link",
        cost=nw["length"] * ctx.costs.new_build(cls) * ctx.terrain,
        benefit=benefit,
        new=nw,
        road_class=cls,
        label=label,
    )


def _length_from(ctx: _Context, sources: np.ndarray, limit_km: float) -> np.ndarray:
    """Shortest network lengths (km) from ``sources`` to every node, inf beyond the limit."""
    out = np.empty((sources.size, ctx.net.num_nodes))
    for s in range(0, sources.size, 256):
        chunk = sources[s : s + 256]
        out[s : s + chunk.size] = dijkstra(
            ctx.length_graph, directed=True, indices=chunk, limit=limit_km
        )
    return out


def _missing(ctx: _Context, max_m: float, detour: float, seed: int, top: int) -> list[_Proposal]:
    cls = MISSING_LINK_CLASS if MISSING_LINK_CLASS in ctx.prof.table else "road"
    nodes = np.flatnonzero(ctx.eligible)
    if nodes.size < 2:
        return []
    tree = cKDTree(ctx.xy[nodes])
    pairs = tree.query_pairs(max_m / ctx.mpu, output_type="ndarray")
    if pairs.size == 0:
        return []
    pairs = nodes[pairs]
    if len(pairs) > MAX_PAIRS:
        rng = np.random.default_rng(seed)
        pairs = pairs[np.sort(rng.choice(len(pairs), MAX_PAIRS, replace=False))]
    straight = np.hypot(*(ctx.xy[pairs[:, 0]] - ctx.xy[pairs[:, 1]]).T) * ctx.mpu
    pairs, straight = (
        pairs[straight >= MISSING_LINK_MIN_M],
        straight[straight >= MISSING_LINK_MIN_M],
    )
    if pairs.size == 0:
        return []
    ends, inv = np.unique(pairs, return_inverse=True)
    inv = inv.reshape(-1, 2)
    dist = _length_from(ctx, ends, detour * max_m / 1000.0 * 1.0001)
    d_ab = dist[inv[:, 0], pairs[:, 1]]
    d_ba = dist[inv[:, 1], pairs[:, 0]]
    far = np.minimum(d_ab, d_ba) > detour * straight / 1000.0
    props = []
    for (a, b), s, dab, dba in zip(pairs[far], straight[far], d_ab[far], d_ba[far], strict=True):
        route = min(dab, dba)
        route_txt = (
            f"network route {route:.2f} km"
            if np.isfinite(route)
            else (f"network route over {detour * max_m / 1000:.1f} km")
        )
        p = _new_proposal(
            ctx,
            "missing",
            "new",
            int(a),
            int(b),
            cls,
            f"new {cls} road of {s:.0f} m between {ctx.node_name(int(a))} and "
            f"{ctx.node_name(int(b))} ({route_txt})",
        )
        if p is not None and p.benefit > 0:
            props.append(p)
    return _dedup(ctx, props, top)


def _dedup(ctx: _Context, props: list[_Proposal], top: int) -> list[_Proposal]:
    """Keep the best of new roads that end near each other (within DEDUP_RADIUS_M)."""
    r = DEDUP_RADIUS_M / ctx.mpu
    kept: list[_Proposal] = []
    for p in sorted(props, key=lambda q: (-q.score, q.id)):
        a, b = p.new["a"], p.new["b"]  # type: ignore[index]
        dup = any(
            np.hypot(*(ctx.xy[i] - ctx.xy[j])) <= r
            for q in kept
            for i in (a, b)
            for j in (q.new["a"], q.new["b"])  # type: ignore[index]
        )
        if not dup:
            kept.append(p)
        if len(kept) >= top:
            break
    return kept


def _access(ctx: _Context, max_m: float) -> list[_Proposal]:
    from networks.roads import class_rank

    net = ctx.net
    cls_new = ACCESS_CLASS if ACCESS_CLASS in ctx.prof.table else "road"
    classes = {str(c) for c in net.road_class if c}
    if not classes:
        return []
    bases = {c.removesuffix("_link") for c in classes}
    top_rank = min(class_rank(c) for c in bases)
    trunk_rank = class_rank("trunk")
    top = (
        {c for c in bases if class_rank(c) <= trunk_rank}
        if top_rank <= trunk_rank
        else {c for c in bases if class_rank(c) == top_rank}
    )
    on_top = np.isin(
        np.array([str(c).removesuffix("_link") for c in net.road_class], dtype=object),
        list(top),
    )
    touch = np.zeros(net.num_nodes, dtype=bool)
    touch[net.init[on_top]] = True
    touch[net.term[on_top]] = True
    targets = np.flatnonzero(touch & ctx.eligible)
    zones = [
        (int(ctx.zone_ids[k]), int(ctx.zone_nodes[k]))
        for k in range(ctx.zone_nodes.size)
        if ctx.internal[k]
    ]
    if targets.size == 0 or not zones:
        return []
    top_name = "/".join(sorted(top, key=class_rank))
    znodes = np.array(sorted({z for _, z in zones}), dtype=np.int64)
    d_from = dijkstra(ctx.length_graph, directed=True, indices=znodes)
    d_to = dijkstra(ctx.length_graph.T.tocsr(), directed=True, indices=znodes)
    zrow = {int(z): k for k, z in enumerate(znodes)}
    txy = ctx.xy[targets]
    props: dict[tuple[int, int], _Proposal] = {}
    for zid, z in sorted(zones):
        if touch[z] and ctx.eligible[z]:
            continue
        d = np.hypot(*(txy - ctx.xy[z]).T) * ctx.mpu
        t = int(targets[int(np.argmin(d))])
        route = min(d_from[zrow[z], t], d_to[zrow[z], t])
        if route <= ACCESS_DETOUR_FACTOR * float(d.min()) / 1000.0:
            continue
        near = np.flatnonzero(
            ctx.eligible
            & ~touch
            & (np.hypot(*(ctx.xy - ctx.xy[z]).T) * ctx.mpu <= ACCESS_RADIUS_M)
        )
        su = np.hypot(*(ctx.xy[near] - ctx.xy[t]).T) * ctx.mpu
        ok = (su >= MISSING_LINK_MIN_M) & (su <= max_m) & np.isfinite(d_from[zrow[z], near])
        near, su = near[ok], su[ok]
        if near.size == 0:
            continue
        # the start node that gives the zone the shortest route to t over the new road
        via = d_from[zrow[z], near] + ctx.circuity * su / 1000.0
        best = int(np.lexsort((near, via))[0])
        u, s = int(near[best]), float(su[best])
        if via[best] >= route:
            continue
        at_t = np.concatenate(
            [
                net.fs_links[net.fs_indptr[t] : net.fs_indptr[t + 1]],
                net.bs_links[net.bs_indptr[t] : net.bs_indptr[t + 1]],
            ]
        )
        ref = next((str(ctx.refs[k]) for k in sorted(at_t) if on_top[k] and ctx.refs[k]), "")
        ref = ref or next((str(ctx.refs[k]) for k in np.flatnonzero(on_top) if ctx.refs[k]), "")
        p = _new_proposal(
            ctx,
            "access",
            "access",
            u,
            t,
            cls_new,
            f"give zone {zid} access to the {top_name}{f' ({ref})' if ref else ''} at "
            f"{ctx.node_name(t)}: new {cls_new} road of {s:.0f} m from {ctx.node_name(u)} "
            f"(zone route {route:.2f} km now, {via[best]:.2f} km with it)",
        )
        if p is not None and p.benefit > 0 and p.pair not in props:
            props[p.pair] = p  # type: ignore[index]
    return list(props.values())
