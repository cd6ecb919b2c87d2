"""Unit costs of road works by class, and the factors that adjust them for the terrain.

This module owns the default prices of the three kinds of candidate (new road, added lane,
class upgrade), each a table by OSM road class with its unit and source
(:data:`NEW_BUILD_COST_PER_KM`, :data:`WIDEN_COST_PER_LANE_KM`,
:data:`UPGRADE_COST_PER_KM`, in :data:`COST_UNIT`), the :class:`CostTable` that bundles
them (:data:`DEFAULT_COSTS`), and the per-profile multipliers :data:`TERRAIN_FACTOR` (cost)
and :data:`CIRCUITY_FACTOR` (route length of a new road over the straight line); on a
network with terrain from a DEM, :data:`TERRAIN_CLASS_FACTOR` by the terrain class of each
link instead (:func:`terrain_class_factor`).
:func:`optimizer.generate.generate_candidates` prices its proposals with them.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import CandidateFileError, InvalidCandidatesError

__all__ = [
    "CIRCUITY_FACTOR",
    "COST_UNIT",
    "DEFAULT_COSTS",
    "NEW_BUILD_COST_PER_KM",
    "TERRAIN_CLASS_FACTOR",
    "TERRAIN_FACTOR",
    "UPGRADE_COST_PER_KM",
    "WIDEN_COST_PER_LANE_KM",
    "CostTable",
    "read_costs",
    "terrain_class_factor",
]

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

#: Cost multiplier by the terrain class of a network with terrain from a DEM
#: (:mod:`networks.terrain`: rise and fall per km along the road, after TRL Overseas Road
#: Note 6), used there instead of :data:`TERRAIN_FACTOR`, whose blanket ``china-mountain``
#: 1.6 it refines. Planning defaults: ``mountainous`` is that 1.6 (cuttings, retaining
#: walls, bridges and tunnels: 1.5-2 times the plain cost per km in the estimate norms, see
#: :data:`TERRAIN_FACTOR`), ``rolling`` half way, 1.3; ``plain`` the tables as they are.
#: A study should replace them with the local norms (JTG 3830-2018 prices earthwork and
#: structures by terrain item by item rather than by one factor).
TERRAIN_CLASS_FACTOR: dict[str, float] = {"plain": 1.0, "rolling": 1.3, "mountainous": 1.6}

#: Route length of a new road over the straight line between its ends, by profile: a road
#: follows the ground (1.2 in flat country, 1.5 on mountain slopes).
CIRCUITY_FACTOR: dict[str, float] = {"generic": 1.2, "china": 1.2, "china-mountain": 1.5}


def terrain_class_factor(classes: Sequence[str], lengths: Sequence[float] | None = None) -> float:
    """The length-weighted mean of :data:`TERRAIN_CLASS_FACTOR` over some links' classes.

    Unknown or empty classes count as plain; no links (or no length) gives 1.
    """
    f = np.array([TERRAIN_CLASS_FACTOR.get(str(c), 1.0) for c in classes], dtype=np.float64)
    if f.size == 0:
        return 1.0
    w = np.ones(f.size) if lengths is None else np.asarray(lengths, dtype=np.float64)
    return float(np.sum(f * w) / np.sum(w)) if np.sum(w) > 0 else float(f.mean())


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
        raise InvalidCandidatesError(
            f"no {what} cost for road class {road_class!r} in the cost table; add a row for "
            "it (--costs FILE)"
        )

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


#: The columns of a cost file (:func:`read_costs`) and the table each fills.
COST_COLUMNS: Mapping[str, str] = {
    "new_build_per_km": "new_build_per_km",
    "widen_per_lane_km": "widen_per_lane_km",
    "upgrade_per_km": "upgrade_per_km",
}


def read_costs(path: str | Path, *, base: CostTable | None = None) -> CostTable:
    """Unit costs from a CSV file, over the defaults (``--costs FILE``).

    One row per OSM road class: ``road_class`` and any of ``new_build_per_km``,
    ``widen_per_lane_km``, ``upgrade_per_km`` (numbers >= 0; a blank cell keeps the default)
    and optionally ``unit`` (the currency, the same on every row). With the defaults' unit
    (:data:`COST_UNIT`), the file's values replace theirs class by class; in another unit
    the defaults are dropped, so every class a candidate needs must be in the file. Lines
    starting with ``#`` are comments.

    Raises
    ------
    CandidateFileError
        Naming the file, line and column of a bad value, an unknown column, or a file
        without rows.
    """
    p = Path(path)
    base = base or DEFAULT_COSTS
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise CandidateFileError(p, f"cannot read the cost file ({e.strerror})") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if not line.startswith("#")]
    rows = list(csv.reader([line for _, line in lines]))
    if not rows or not any(c.strip() for c in rows[0]):
        raise CandidateFileError(p, "empty cost file; write a header line road_class,...")
    header = [c.strip() for c in rows[0]]
    known = {"road_class", "unit", *COST_COLUMNS}
    unknown = [c for c in header if c not in known]
    if "road_class" not in header or unknown:
        raise CandidateFileError(
            p,
            (f"unknown column(s) {unknown}; " if unknown else "no road_class column; ")
            + f"use road_class, unit and any of {', '.join(COST_COLUMNS)}",
            line=lines[0][0],
        )
    values: dict[str, dict[str, float]] = {c: {} for c in COST_COLUMNS}
    units: set[str] = set()
    for (line_no, _), row in zip(lines[1:], rows[1:], strict=True):
        if not any(c.strip() for c in row):
            continue
        cell = dict(zip(header, (c.strip() for c in row), strict=False))
        cls = cell.get("road_class", "")
        if not cls:
            raise CandidateFileError(p, "road_class is empty", line=line_no)
        if cell.get("unit"):
            units.add(cell["unit"])
        for col in COST_COLUMNS:
            raw = cell.get(col, "")
            if raw == "":
                continue
            try:
                v = float(raw)
            except ValueError:
                v = math.nan
            if not (math.isfinite(v) and v >= 0):
                raise CandidateFileError(p, f"{raw!r} is not a cost >= 0", line=line_no, field=col)
            values[col][cls] = v
    if len(units) > 1:
        raise CandidateFileError(p, f"one currency unit for every row, not {sorted(units)}")
    unit = units.pop() if units else base.unit
    keep = unit == base.unit
    tables = {
        col: {**(dict(getattr(base, col)) if keep else {}), **values[col]} for col in COST_COLUMNS
    }
    if not any(values[c] for c in COST_COLUMNS):
        raise CandidateFileError(p, "no cost values; give at least one row with a cost")
    return CostTable(**tables, unit=unit)
