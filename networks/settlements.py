"""Settlements as zones: one zone per named place of OpenStreetMap, sized by its people.

:func:`zones_from_places` makes one internal zone per settlement of the study area:

- the settlements are the ``place=city|town|village`` nodes inside the area; where there are
  fewer than two of them (a city extract), its ``suburb|quarter|neighbourhood`` nodes;
- ``place=hamlet|isolated_dwelling`` nodes are merged into the nearest settlement (their
  land and buildings belong to its catchment), unless ``min_population`` keeps a hamlet
  whose tagged population reaches it as a zone of its own;
- each zone's catchment is the part of the area nearer its settlement than any other
  (Voronoi cells of the settlement points, clipped to the study area); every node of the
  network's largest strongly connected component belongs to one catchment;
- the activity is persons: the settlement's ``population=*`` where tagged (plus the tagged
  populations of the hamlets merged into it); else the floor area of the buildings in its
  catchment (footprint x ``building:levels``, 1 where untagged; buildings that house
  nobody, :data:`NON_RESIDENTIAL_BUILDINGS`, left out) times persons per m² of
  floor, calibrated on the area's tagged settlements (their population over their floor
  area) where at least :data:`MIN_CALIBRATION_PLACES` have both, else
  :data:`PERSONS_PER_FLOOR_M2`; else the catchment's weighted road length times
  :data:`PERSONS_PER_ROAD_KM`. The source of each figure is recorded
  (:attr:`networks.zones.Zones.activity_source`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .network import Network
from .zones import (
    Zones,
    _boundary,
    _building_points,
    _need_coordinates,
    _road_activity,
    _voronoi,
    largest_scc,
)

__all__ = [
    "MIN_CALIBRATION_PLACES",
    "PERSONS_PER_FLOOR_M2",
    "PERSONS_PER_ROAD_KM",
    "SETTLEMENT_KINDS",
    "URBAN_KINDS",
    "zones_from_places",
]

log = logging.getLogger(__name__)

#: ``place=*`` values that are settlements of their own.
SETTLEMENT_KINDS: tuple[str, ...] = ("city", "town", "village")
#: Parts of a city, used as zones where the area holds fewer than two settlements.
URBAN_KINDS: tuple[str, ...] = ("suburb", "quarter", "neighbourhood")
#: Places merged into the nearest settlement unless ``min_population`` keeps them.
MINOR_KINDS: tuple[str, ...] = ("hamlet", "isolated_dwelling")

#: Persons per m² of building floor area where no settlement of the area can calibrate it:
#: 1/45, about 45 m² of floor per resident (Germany's living space per person is about
#: 47 m², Destatis 2022; urban China's about 40 m², NBS 2020); the whole floor area of a
#: village (barns, shops, workshops) is larger, so calibration on tagged places is better.
PERSONS_PER_FLOOR_M2 = 1.0 / 45.0
#: Persons per weighted km of road (:data:`networks.zones.ROAD_ACTIVITY_WEIGHT`) where no
#: buildings are mapped: about 100 dwellings of 2.2 persons along a km of village street.
PERSONS_PER_ROAD_KM = 220.0
#: Tagged settlements (population and buildings) needed to calibrate persons per m².
MIN_CALIBRATION_PLACES = 2
#: ``building=*`` values that house nobody: left out of the floor area that estimates
#: population (OSM wiki, "Key:building": the commercial, industrial, agricultural,
#: storage and technical types).
NON_RESIDENTIAL_BUILDINGS: frozenset[str] = frozenset(
    {
        "industrial", "warehouse", "commercial", "retail", "office", "supermarket",
        "barn", "farm_auxiliary", "cowshed", "stable", "sty", "greenhouse", "silo",
        "garage", "garages", "carport", "shed", "roof", "hangar", "parking",
        "service", "transformer_tower", "hut", "ruins", "church", "chapel",
    }
)  # fmt: skip


def _project(places: Sequence[Mapping[str, Any]], crs: str | None) -> np.ndarray:
    lon = np.array([float(p["lon"]) for p in places])
    lat = np.array([float(p["lat"]) for p in places])
    if not crs or not len(places):
        return np.column_stack([lon, lat]).reshape(-1, 2)
    import pyproj

    tf = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = tf.transform(lon, lat)
    return np.column_stack([x, y])


def zones_from_places(
    network: Network,
    places: Sequence[Mapping[str, Any]],
    *,
    min_population: float | None = None,
    buildings: Any = None,
    persons_per_floor_m2: float | None = None,
) -> Zones | None:
    """One zone per settlement of the study area (see the module docstring).

    Parameters
    ----------
    network
        An OpenStreetMap network (metres).
    places
        ``place=*`` nodes as :func:`networks.osm.read_places` gives them (``osm_id``,
        ``kind``, ``name``, ``population``, ``lon``, ``lat``).
    min_population
        Keep a hamlet (or isolated dwelling) whose tagged population reaches this as its
        own zone (persons); default: merge them all.
    buildings
        Building footprints (GeoDataFrame with ``levels``) for untagged settlements.
    persons_per_floor_m2
        Persons per m² of floor instead of the calibrated or default figure.

    Returns
    -------
    Zones or None
        ``source="places"``, activity in persons, names and the source of each figure;
        None when the area holds fewer than two settlements (the caller falls back to
        k-means zones).
    """
    import shapely

    _need_coordinates(network)
    boundary = _boundary(network)
    xy = _project(places, network.crs)
    inside = (
        shapely.contains_xy(boundary, xy[:, 0], xy[:, 1]) if len(places) else np.zeros(0, bool)
    )
    kinds = np.array([str(p["kind"]) for p in places], dtype=object)
    pop = np.array([float(p["population"]) for p in places]) if len(places) else np.zeros(0)
    main = inside & np.isin(kinds, SETTLEMENT_KINDS)
    if main.sum() < 2:
        main = inside & np.isin(kinds, (*SETTLEMENT_KINDS, *URBAN_KINDS))
    if min_population is not None:
        main |= inside & np.isin(kinds, MINOR_KINDS) & (pop >= float(min_population))
    if main.sum() < 2:
        return None
    sel = np.flatnonzero(main)
    sel = sel[np.argsort([int(places[int(i)]["osm_id"]) for i in sel], kind="stable")]
    z = sel.size
    centers = xy[sel]
    chosen = [places[int(i)] for i in sel]
    names = tuple(str(p["name"]) or f"place {p['osm_id']}" for p in chosen)
    from scipy.spatial import cKDTree

    tree = cKDTree(centers)
    scc = largest_scc(network)
    idx = np.flatnonzero(scc)
    node_zone = np.full(network.num_nodes, -1, dtype=np.int64)
    node_zone[idx] = tree.query(np.column_stack([network.x[idx], network.y[idx]]))[1]
    # tagged populations: the settlement's own, plus those of the minor places merged in
    tagged = np.full(z, np.nan)
    for k, i in enumerate(sel.tolist()):
        if np.isfinite(pop[i]):
            tagged[k] = pop[i]
    minor = np.flatnonzero(inside & ~main & np.isin(kinds, MINOR_KINDS) & np.isfinite(pop))
    if minor.size:
        owner = tree.query(xy[minor])[1]
        for i, k in zip(minor.tolist(), owner.tolist(), strict=True):
            if np.isfinite(tagged[k]):
                tagged[k] += pop[i]
    cells = _voronoi(centers, boundary)
    floor = _floor_area(network, buildings, tree, z)
    activity, source = _persons(network, node_zone, z, tagged, floor, persons_per_floor_m2)
    rep = np.empty(z, dtype=np.int64)
    for k in range(z):
        members = np.flatnonzero(node_zone == k)
        if members.size == 0:  # a settlement whose catchment holds no node: the nearest
            members = idx
        d = np.hypot(network.x[members] - centers[k, 0], network.y[members] - centers[k, 1])
        rep[k] = members[np.lexsort((network.node_ids[members], d))[0]]
    log.info(
        "%s: %d settlement zones (%s); %d with a tagged population",
        network.name,
        z,
        ", ".join(names[:6]) + (", ..." if z > 6 else ""),
        int(np.isfinite(tagged).sum()),
    )
    return Zones(
        zone_ids=np.arange(1, z + 1, dtype=np.int64),
        node_ids=network.node_ids[rep].copy(),
        x=centers[:, 0].copy(),
        y=centers[:, 1].copy(),
        activity=activity,
        activity_unit="persons",
        node_zone=node_zone,
        geometry=tuple(cells),
        crs=network.crs,
        source="places",
        names=names,
        activity_source=source,
    )


def _floor_area(network: Network, buildings: Any, tree: Any, z: int) -> np.ndarray | None:
    """Building floor area (m²) in each catchment: footprint x storeys (1 where untagged)."""
    if buildings is None or len(buildings) == 0:
        return None
    xy, area = _building_points(buildings, network)
    if not area.size:
        return None
    levels = np.ones(area.size)
    homes = np.ones(area.size, dtype=bool)
    if hasattr(buildings, "columns") and "levels" in buildings.columns:
        lv = np.asarray(buildings["levels"], dtype=float)
        if lv.shape == area.shape:
            levels = np.where(np.isfinite(lv) & (lv > 0), lv, 1.0)
    if hasattr(buildings, "columns") and "building" in buildings.columns:
        kinds = buildings["building"].tolist()
        if len(kinds) == area.size:
            homes = np.array([str(b) not in NON_RESIDENTIAL_BUILDINGS for b in kinds])
    area = np.where(homes, area, 0.0)
    owner = tree.query(xy)[1]
    return np.bincount(owner, weights=area * levels, minlength=z).astype(float)


def _persons(
    network: Network,
    node_zone: np.ndarray,
    z: int,
    tagged: np.ndarray,
    floor: np.ndarray | None,
    factor: float | None,
) -> tuple[np.ndarray, tuple[str, ...]]:
    has_tag = np.isfinite(tagged)
    out = np.where(has_tag, tagged, 0.0)
    src = [f"population={tagged[k]:.0f} (OSM)" if has_tag[k] else "" for k in range(z)]
    rest = ~has_tag
    if not rest.any():
        return out, tuple(src)
    if floor is not None and np.all(floor[rest] > 0):
        how = "given"
        if factor is None:
            both = has_tag & (floor > 0)
            if both.sum() >= MIN_CALIBRATION_PLACES:
                factor = float(tagged[both].sum() / floor[both].sum())
                how = f"calibrated on {int(both.sum())} tagged settlements"
            else:
                factor = PERSONS_PER_FLOOR_M2
                how = "default"
        out[rest] = floor[rest] * factor
        for k in np.flatnonzero(rest):
            src[k] = f"{floor[k]:.0f} m2 building floor x {factor:.4g} persons/m2 ({how})"
        return out, tuple(src)
    road = _road_activity(network, node_zone, z)
    out[rest] = road[rest] * PERSONS_PER_ROAD_KM
    for k in np.flatnonzero(rest):
        src[k] = f"{road[k]:.2f} weighted road km x {PERSONS_PER_ROAD_KM:g} persons/km"
    if not math.isfinite(float(out.sum())):  # pragma: no cover - guarded by the inputs
        raise ValueError("settlement activity is not finite")
    return out, tuple(src)
