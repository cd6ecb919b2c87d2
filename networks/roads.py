"""Road classes and what roadopt assumes about them: the data behind every OSM network.

This module owns, as plain data and pure functions (no osmnx, no pyrosm, no I/O, so the
optimizer can use the tables without loading the readers of :mod:`networks.osm`):

- the drivable OSM ``highway`` values from the top of the hierarchy down
  (:data:`ROAD_CLASSES`), their integer codes (:data:`LINK_TYPE`) and :func:`class_rank`;
- the defaults by class, each table with its unit and source: free-flow speed (km/h),
  lanes per direction and capacity (veh/h per lane) of the generic and Chinese profiles
  (:data:`GENERIC_TABLE`, :data:`CHINA_TABLE`, :data:`CHINA_MOUNTAIN_SPEED`), BPR
  parameters (:data:`BPR_BY_CLASS`) and the implicit speed limits of ``maxspeed=XX:zone``
  values (:data:`IMPLICIT_MAXSPEED`);
- :class:`RoadProfile`, the built-in :data:`PROFILES` and :func:`get_profile`;
- the parsers of OSM tag values (:func:`tag_values`, :func:`tag_text`, :func:`parse_lanes`,
  :func:`parse_maxspeed`) and the rules that read a way's tags: which class it is
  (:func:`way_class`), whether cars may use it (:func:`car_allowed`, :data:`EXCLUDED_SERVICE`),
  which way it runs (:func:`oneway_rule`), and its lanes and speed in each direction
  (:func:`direction_lanes`, :func:`direction_speed`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

__all__ = [
    "BPR_BY_CLASS",
    "CHINA_MOUNTAIN_SPEED",
    "CHINA_TABLE",
    "EXCLUDED_SERVICE",
    "GENERIC_TABLE",
    "IMPLICIT_MAXSPEED",
    "LINK_TYPE",
    "MAIN_CLASSES",
    "PROFILES",
    "ROAD_CLASSES",
    "RoadProfile",
    "car_allowed",
    "class_rank",
    "direction_lanes",
    "direction_speed",
    "get_profile",
    "oneway_rule",
    "parse_lanes",
    "parse_maxspeed",
    "tag_text",
    "tag_values",
    "way_class",
]


# ---------------------------------------------------------------------- road classes
#: Drivable OSM ``highway`` values roadopt knows, from the top of the hierarchy down; a
#: ``_link`` (ramp, slip road) follows its road. The position + 1 is the link's
#: ``link_type`` code (0 for anything else), so a smaller code is a higher class.
ROAD_CLASSES: tuple[str, ...] = (
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "road",
    "service",
    "track",
)

#: The road classes that carry traffic into, out of and across a region: motorway down to
#: tertiary with their ramps. Their one-way pieces at the study-area edge are kept
#: (:mod:`networks.osm.study_area`) and their edge crossings become gateways
#: (:mod:`networks.gateways`).
MAIN_CLASSES: tuple[str, ...] = ROAD_CLASSES[: ROAD_CLASSES.index("tertiary_link") + 1]

#: ``link_type`` code of each road class: 1 motorway, 2 motorway_link, 3 trunk, 4 trunk_link,
#: 5 primary, 6 primary_link, 7 secondary, 8 secondary_link, 9 tertiary, 10 tertiary_link,
#: 11 unclassified, 12 residential, 13 living_street, 14 road, 15 service, 16 track.
LINK_TYPE: dict[str, int] = {c: k + 1 for k, c in enumerate(ROAD_CLASSES)}


def class_rank(road_class: str) -> int:
    """Rank of a road class in the hierarchy: 0 for motorway, larger is lower.

    A ``_link`` ranks with its road (``trunk_link`` ranks as ``trunk``); unknown classes
    rank below every known one.
    """
    base = str(road_class).removesuffix("_link")
    return LINK_TYPE[base] if base in LINK_TYPE else len(ROAD_CLASSES) + 1


# Defaults by class: (free-flow speed km/h, lanes per direction, capacity veh/h per lane).
#
# Generic profile. Speeds are typical limits where none is tagged: the common statutory
# defaults listed on the OSM wiki (Key:maxspeed, "Default speed limits": about 50 km/h in
# built-up areas, 80-100 rural, 110-130 on motorways), lowered for ramps and local streets.
# Capacities per lane follow the Highway Capacity Manual (HCM 2010/6th ed.): about
# 2,000-2,400 pc/h/ln on freeways and 1,900-2,200 on multilane highways (we take the lower
# end, vehicles rather than passenger cars), and a saturation flow of about 1,900 veh/h/ln
# times a green share of roughly one half on signalised arterials, less on collectors and
# local streets with unsignalised junctions and parking. Untagged lane counts: two per
# direction on motorways and trunk roads, one elsewhere.
GENERIC_TABLE: dict[str, tuple[float, float, float]] = {
    "motorway": (110.0, 2.0, 2000.0),
    "motorway_link": (60.0, 1.0, 1500.0),
    "trunk": (90.0, 2.0, 1800.0),
    "trunk_link": (50.0, 1.0, 1400.0),
    "primary": (65.0, 1.0, 1000.0),
    "primary_link": (40.0, 1.0, 1000.0),
    "secondary": (55.0, 1.0, 900.0),
    "secondary_link": (40.0, 1.0, 900.0),
    "tertiary": (45.0, 1.0, 800.0),
    "tertiary_link": (35.0, 1.0, 800.0),
    "unclassified": (40.0, 1.0, 600.0),
    "residential": (30.0, 1.0, 500.0),
    "living_street": (10.0, 1.0, 300.0),
    "road": (30.0, 1.0, 500.0),
    "service": (20.0, 1.0, 400.0),
    "track": (15.0, 1.0, 300.0),
}

# China profile, for hilly county towns such as those of Zigong (Sichuan). OSM in China maps
# expressways (高速公路) as motorway, national roads (国道, G###) as trunk, provincial
# roads (省道, S###) as primary, county roads (县道, X###) as secondary/tertiary, and
# township and village roads (乡道/村道) as unclassified, residential or track; inside
# towns the urban expressway/arterial/collector/branch hierarchy (CJJ 37-2012) maps onto
# trunk/primary/secondary/tertiary/residential. Speeds are design speeds of the Technical
# Standard of Highway Engineering JTG B01-2014 for hilly terrain (expressway 100, class-1
# 80, class-2 60, class-3 40, class-4 30 km/h) lowered a step where the road runs through a
# town (national roads 70, provincial 60, county 50/40), and the CJJ 37-2012 design speeds
# for urban branch roads (20-40 km/h). Capacities per lane are the JTG B01-2014 base
# capacities (2,100 pcu/h/ln for a 100 km/h expressway, 1,800-2,000 for class-1 highways,
# about 1,300-1,400 per direction for class-2 two-lane highways) reduced for at-grade
# junctions, mixed traffic (tricycles, motorcycles) and roadside activity on the lower
# classes. Tracks are kept (many village roads are mapped as tracks).
CHINA_TABLE: dict[str, tuple[float, float, float]] = {
    "motorway": (100.0, 2.0, 2000.0),
    "motorway_link": (50.0, 1.0, 1400.0),
    "trunk": (70.0, 2.0, 1400.0),
    "trunk_link": (40.0, 1.0, 1200.0),
    "primary": (60.0, 1.0, 1200.0),
    "primary_link": (40.0, 1.0, 1000.0),
    "secondary": (50.0, 1.0, 900.0),
    "secondary_link": (30.0, 1.0, 800.0),
    "tertiary": (40.0, 1.0, 700.0),
    "tertiary_link": (30.0, 1.0, 700.0),
    "unclassified": (30.0, 1.0, 500.0),
    "residential": (25.0, 1.0, 400.0),
    "living_street": (10.0, 1.0, 200.0),
    "road": (25.0, 1.0, 400.0),
    "service": (15.0, 1.0, 300.0),
    "track": (15.0, 1.0, 250.0),
}

#: Speeds (km/h) of the ``china-mountain`` profile: the JTG B01-2014 design speeds for
#: mountainous terrain (expressway 80, class-1 60, class-2 40, class-3 30, class-4 20).
CHINA_MOUNTAIN_SPEED: dict[str, float] = {
    "motorway": 80.0,
    "motorway_link": 40.0,
    "trunk": 60.0,
    "trunk_link": 35.0,
    "primary": 50.0,
    "primary_link": 30.0,
    "secondary": 40.0,
    "secondary_link": 30.0,
    "tertiary": 30.0,
    "tertiary_link": 25.0,
    "unclassified": 20.0,
    "residential": 20.0,
    "living_street": 10.0,
    "road": 20.0,
    "service": 15.0,
    "track": 10.0,
}

#: BPR ``(alpha, beta)`` by class: the Bureau of Public Roads (1964) values 0.15 and 4 for
#: uninterrupted-flow roads (motorway, trunk and their ramps) and a steeper ``alpha`` on
#: roads with at-grade junctions, where delay grows faster as flow nears capacity. These
#: are planning defaults, not calibrated: pass a :class:`RoadProfile` of your own to change
#: them.
BPR_BY_CLASS: dict[str, tuple[float, float]] = {
    "motorway": (0.15, 4.0),
    "motorway_link": (0.15, 4.0),
    "trunk": (0.15, 4.0),
    "trunk_link": (0.15, 4.0),
    "primary": (0.20, 4.0),
    "primary_link": (0.20, 4.0),
    "secondary": (0.20, 4.0),
    "secondary_link": (0.20, 4.0),
    "tertiary": (0.25, 4.0),
    "tertiary_link": (0.25, 4.0),
    "unclassified": (0.25, 4.0),
    "residential": (0.30, 4.0),
    "living_street": (0.30, 4.0),
    "road": (0.25, 4.0),
    "service": (0.30, 4.0),
    "track": (0.30, 4.0),
}

#: Implicit speed limits (km/h) written as ``maxspeed=XX:zone`` (OSM wiki, "Default speed
#: limits"). Keys are ``"XX:zone"`` for country-specific values and ``"zone"`` for the
#: fallback used with any other country code. ``None`` means "no limit": the class default
#: is used.
IMPLICIT_MAXSPEED: dict[str, float | None] = {
    "urban": 50.0,
    "rural": 90.0,
    "trunk": 90.0,
    "motorway": 110.0,
    "living_street": 20.0,
    "walk": 6.0,
    "school": 30.0,
    "RU:urban": 60.0,
    "RU:rural": 90.0,
    "RU:motorway": 110.0,
    "DE:urban": 50.0,
    "DE:rural": 100.0,
    "DE:motorway": None,
    "FR:urban": 50.0,
    "FR:rural": 80.0,
    "FR:motorway": 130.0,
    "GB:nsl_single": 96.56,
    "GB:nsl_dual": 112.65,
    "GB:motorway": 112.65,
    # Road Traffic Safety Law of the PRC, implementing regulations (2004), art. 45: roads
    # with one lane per direction, 50 km/h in cities and 70 km/h on highways.
    "CN:urban": 50.0,
    "CN:rural": 70.0,
}


@dataclass(frozen=True)
class RoadProfile:
    """Defaults by road class for one kind of region.

    Attributes
    ----------
    name
        Profile name (``"generic"``, ``"china"``, ``"china-mountain"``).
    classes
        The OSM ``highway`` values kept as drivable roads.
    table
        Class -> ``(speed km/h, lanes per direction, capacity veh/h per lane)``, used where
        a way has no (readable) ``maxspeed``/``lanes`` tag; capacity always comes from here.
    bpr
        Class -> BPR ``(alpha, beta)``.
    """

    name: str
    classes: tuple[str, ...]
    table: Mapping[str, tuple[float, float, float]] = field(repr=False)
    bpr: Mapping[str, tuple[float, float]] = field(
        repr=False, default_factory=lambda: BPR_BY_CLASS
    )

    def speed(self, road_class: str) -> float:
        """Default free-flow speed (km/h) of a class."""
        return float(self.table[road_class][0])

    def lanes(self, road_class: str) -> float:
        """Default lanes per direction of a class."""
        return float(self.table[road_class][1])

    def capacity_per_lane(self, road_class: str) -> float:
        """Capacity per lane (veh/h) of a class."""
        return float(self.table[road_class][2])


_DRIVE = tuple(c for c in ROAD_CLASSES if c not in ("service", "track"))

#: Built-in profiles. ``generic`` keeps what osmnx's ``drive`` network keeps (no service
#: roads, no tracks); ``china`` also keeps tracks (village roads); ``china-mountain`` is
#: ``china`` with mountain-terrain design speeds.
PROFILES: dict[str, RoadProfile] = {
    "generic": RoadProfile("generic", _DRIVE, GENERIC_TABLE),
    "china": RoadProfile("china", (*_DRIVE, "track"), CHINA_TABLE),
    "china-mountain": RoadProfile(
        "china-mountain",
        (*_DRIVE, "track"),
        {c: (CHINA_MOUNTAIN_SPEED[c], v[1], v[2]) for c, v in CHINA_TABLE.items()},
    ),
}


def get_profile(
    profile: str | RoadProfile, *, highway: Iterable[str] | None = None
) -> RoadProfile:
    """A :class:`RoadProfile` by name (or the profile itself), optionally with other classes.

    Parameters
    ----------
    profile
        ``"generic"``, ``"china"``, ``"china-mountain"`` or a :class:`RoadProfile`.
    highway
        The ``highway`` values to keep instead of the profile's own (each must be one of
        :data:`ROAD_CLASSES`), e.g. the profile's plus ``"service"``.
    """
    if isinstance(profile, RoadProfile):
        prof = profile
    else:
        try:
            prof = PROFILES[str(profile)]
        except KeyError:
            raise ValueError(
                f"unknown road profile {profile!r}; use one of {', '.join(PROFILES)} "
                "or a networks.roads.RoadProfile"
            ) from None
    if highway is not None:
        classes = tuple(dict.fromkeys(str(h) for h in highway))
        unknown = [c for c in classes if c not in prof.table]
        if unknown or not classes:
            raise ValueError(
                f"highway classes {unknown or '[]'} are not in profile {prof.name!r}; "
                f"choose from {', '.join(ROAD_CLASSES)}"
            )
        prof = replace(prof, classes=classes)
    return prof


# ---------------------------------------------------------------------- tag parsing
_NUMBER = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(mph|km/h|kmh|kph|knots)?\s*$", re.IGNORECASE)
_ZONE_NUMBER = re.compile(r"zone\s*:?\s*(\d+)", re.IGNORECASE)
_UNIT = {"mph": 1.609344, "knots": 1.852}


def tag_values(value: Any) -> list[Any]:
    """A tag value as a flat list: lists/tuples (after simplification) and ``a;b`` strings."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, np.ndarray)):
        out: list[Any] = []
        for v in value:
            out.extend(tag_values(v))
        return out
    if isinstance(value, float) and math.isnan(value):
        return []
    if isinstance(value, str):
        return [p.strip() for p in value.split(";") if p.strip()]
    return [value]


def parse_lanes(value: Any) -> float | None:
    """Lane count from an OSM ``lanes`` value; None when nothing usable is there.

    Parameters
    ----------
    value
        ``"2"``, ``2``, ``"2;3"`` (several values: the smallest, the bottleneck), a list of
        such values (an edge merged by simplification), ``"none"``, garbage, None or NaN.

    Returns
    -------
    float or None
        Lanes (1 to 20); None for missing, unreadable or implausible values.
    """
    found = []
    for v in tag_values(value):
        try:
            n = float(str(v).replace(",", "."))
        except ValueError:
            continue
        if math.isfinite(n) and 1.0 <= n <= 20.0:
            found.append(n)
    return min(found) if found else None


def parse_maxspeed(value: Any) -> float | None:
    """Speed limit in km/h from an OSM ``maxspeed`` value; None when nothing usable is there.

    Parameters
    ----------
    value
        ``"50"``, ``50``, ``"50 mph"``, ``"30 knots"``, ``"RU:urban"`` (an implicit limit,
        :data:`IMPLICIT_MAXSPEED`), ``"DE:zone30"``, ``"50;70"`` or a list (the mean of the
        readable values), ``"none"``/``"signals"``/``"variable"``/garbage (None).

    Returns
    -------
    float or None
        km/h between 1 and 200; None for missing, unlimited, variable, unreadable or
        implausible values (the caller then uses the class default).
    """
    found = []
    kmh: float | None
    for v in tag_values(value):
        s = str(v).strip()
        m = _NUMBER.match(s)
        if m:
            kmh = float(m.group(1).replace(",", ".")) * _UNIT.get((m.group(2) or "").lower(), 1.0)
        elif s in IMPLICIT_MAXSPEED or ":" in s:
            zone = s.split(":", 1)[-1]
            z = _ZONE_NUMBER.search(s)
            if s in IMPLICIT_MAXSPEED:
                kmh = IMPLICIT_MAXSPEED[s]
            elif z:
                kmh = float(z.group(1))
            else:
                kmh = IMPLICIT_MAXSPEED.get(zone)
            if kmh is None:
                continue
        else:
            continue
        if 1.0 <= kmh <= 200.0:
            found.append(kmh)
    return float(np.mean(found)) if found else None


# ---------------------------------------------------------------------- way tags
_NO_ACCESS = frozenset({"no", "private"})
_YES_ACCESS = frozenset({"yes", "designated", "permissive", "destination", "official"})
_ONEWAY_YES = frozenset({"yes", "true", "1", "-1", "reverse"})
_ONEWAY_REVERSED = frozenset({"-1", "reverse"})

#: ``service=*`` values of ways that are no through roads for traffic (parking aisles,
#: driveways, private and emergency access, alleys): never kept as drivable links.
EXCLUDED_SERVICE = frozenset(
    {"parking", "parking_aisle", "private", "emergency_access", "driveway", "alley"}
)


def tag_text(value: Any) -> str | None:
    """The first non-empty string of a tag value (see :func:`tag_values`); None if none."""
    for v in tag_values(value):
        if isinstance(v, str) and v:
            return v
    return None


def _truthy(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_truthy(v) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return str(value).strip().lower() in ("true", "yes", "1")


def way_class(value: Any, classes: Iterable[str]) -> str | None:
    """The highest of the kept classes among a ``highway`` value (or list of values)."""
    keep = set(classes)
    known = [v for v in tag_values(value) if isinstance(v, str) and v in keep]
    return min(known, key=LINK_TYPE.__getitem__) if known else None


def car_allowed(tags: Mapping[str, Any]) -> bool:
    """Whether cars may use a way, by the most specific access tag present.

    ``area=yes`` never; else the first of ``motorcar``, ``motor_vehicle``, ``vehicle`` that
    says ``no``/``private`` (no) or ``yes``/``designated``/... (yes); else ``access``.
    """
    if tag_text(tags.get("area")) == "yes":
        return False
    for key in ("motorcar", "motor_vehicle", "vehicle"):
        v = tag_text(tags.get(key))
        if v in _NO_ACCESS:
            return False
        if v in _YES_ACCESS:
            return True
    return tag_text(tags.get("access")) not in _NO_ACCESS


def oneway_rule(tags: Mapping[str, Any]) -> tuple[bool, bool]:
    """``(one_way, reversed)`` of a way from its ``oneway`` and ``junction`` tags.

    ``oneway=yes|true|1`` runs along the way, ``-1|reverse`` against it; an untagged
    ``junction=roundabout|circular`` is one-way along the way.
    """
    ow = tag_text(tags.get("oneway"))
    ow = ow.lower() if ow else None
    if ow in _ONEWAY_YES:
        return True, ow in _ONEWAY_REVERSED
    if ow is None and tag_text(tags.get("junction")) in ("roundabout", "circular"):
        return True, False
    return False, False


def direction_lanes(edge: Mapping[str, Any], profile: RoadProfile, road_class: str) -> float:
    """Lanes in an edge's direction of travel.

    ``edge`` holds the way's tags as osmnx keeps them (``oneway`` a bool, ``reversed`` true
    for the edge against the way). A one-way road has all its ``lanes``; a two-way road
    ``lanes:forward``/``lanes:backward``, else half of ``lanes`` (at least 1); else the
    profile's lanes of the class.
    """
    if _truthy(edge.get("oneway", False)):
        n = parse_lanes(edge.get("lanes"))
    else:
        key = "lanes:backward" if _truthy(edge.get("reversed", False)) else "lanes:forward"
        n = parse_lanes(edge.get(key))
        if n is None:
            total = parse_lanes(edge.get("lanes"))
            n = None if total is None else max(1.0, total / 2.0)
    return profile.lanes(road_class) if n is None else n


def direction_speed(edge: Mapping[str, Any], profile: RoadProfile, road_class: str) -> float:
    """Speed (km/h) in an edge's direction of travel.

    ``maxspeed:forward``/``maxspeed:backward`` on two-way roads, else ``maxspeed``, else
    the profile's speed of the class (``edge`` as for :func:`direction_lanes`).
    """
    v = None
    if not _truthy(edge.get("oneway", False)):
        key = "maxspeed:backward" if _truthy(edge.get("reversed", False)) else "maxspeed:forward"
        v = parse_maxspeed(edge.get(key))
    if v is None:
        v = parse_maxspeed(edge.get("maxspeed"))
    return profile.speed(road_class) if v is None else v
