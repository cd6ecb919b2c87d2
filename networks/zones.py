"""Internal zones of a study area: where trips start and end inside it.

This module owns :class:`Zones` and the two ways to make them, each zone loading at one
network node, its *centroid node* (the member node nearest the zone's centre):

- :func:`cluster_zones` splits the network's largest strongly connected component
  (:func:`largest_scc`) into :func:`default_zone_count` or ``n_zones`` zones by seeded
  k-means on node coordinates (the zones' areas are the Voronoi cells of the centres);
- :func:`zones_from_polygons` takes a user's polygons (GeoJSON, GeoPackage or a
  GeoDataFrame, optionally with a population column).

Each zone has an activity: the population where the user's zones give it, else the
building footprint area (:data:`BUILDING_AREA_UNIT_M2` square metres per unit) where
buildings are known in every zone, else the road length by class weighted by
:data:`ROAD_ACTIVITY_WEIGHT`. The same inputs and seed give the same zones.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ._io import geojson_source
from .errors import FileFormatError, InvalidDemandError, InvalidNetworkError
from .network import Network

__all__ = [
    "BUILDING_AREA_UNIT_M2",
    "ROAD_ACTIVITY_WEIGHT",
    "Zones",
    "cluster_zones",
    "default_zone_count",
    "largest_scc",
    "zones_from_polygons",
]

log = logging.getLogger(__name__)

#: Square metres of building footprint per activity unit.
BUILDING_AREA_UNIT_M2 = 100.0

#: Activity per km of road by class, for areas without population or buildings: homes and
#: shops front local and collector streets; motorways and ramps have no frontage.
ROAD_ACTIVITY_WEIGHT: dict[str, float] = {
    "motorway": 0.0,
    "motorway_link": 0.0,
    "trunk": 0.2,
    "trunk_link": 0.0,
    "primary": 0.5,
    "primary_link": 0.0,
    "secondary": 0.6,
    "secondary_link": 0.0,
    "tertiary": 0.8,
    "tertiary_link": 0.0,
    "unclassified": 0.6,
    "residential": 1.0,
    "living_street": 1.0,
    "road": 0.6,
    "service": 0.5,
    "track": 0.2,
}
_DEFAULT_ROAD_WEIGHT = 0.5  # classes not in the table (TNTP networks: no class)


# ---------------------------------------------------------------------- data
@dataclass(frozen=True, eq=False)
class Zones:
    """Internal zones of a study area.

    Attributes
    ----------
    zone_ids : int64 array (z,)
        Zone ids (1..z for generated zones).
    node_ids : int64 array (z,)
        The network node each zone loads at (its centroid node).
    x, y : float64 arrays (z,)
        Zone centres in ``crs`` (k-means centres, or polygon centroids).
    activity : float64 array (z,)
        Activity in ``activity_unit`` (:data:`networks.gravity.TRIP_RATE` gives trips per unit).
    activity_unit : str
        ``"persons"``, ``"building"`` or ``"road-km"``.
    node_zone : int64 array (n,)
        Zone position (0..z-1) of each network node, -1 for nodes in no zone.
    geometry : tuple
        The zones' areas (shapely polygons in ``crs``): the user's polygons, or the k-means
        Voronoi cells clipped to the study area; None entries where unknown.
    crs : str or None
        CRS of the coordinates (the network's).
    source : str
        ``"kmeans"``, ``"places"`` or the zone file.
    names : tuple of str
        Zone names (a settlement's ``name=*``, a zone file's ``name`` column); empty when
        the zones have none.
    activity_source : tuple of str
        Where each zone's activity figure comes from, in words (``"population=1085
        (OSM)"``, ``"buildings x 0.021 persons/m2"``...); empty when one source holds for
        all (``activity_unit`` says which).
    employment, productions, attractions : float64 arrays (z,) or None
        A zone file's ``employment`` (jobs) and ``productions``/``attractions`` (daily
        trips) columns, where given.
    """

    zone_ids: np.ndarray
    node_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    activity: np.ndarray
    activity_unit: str
    node_zone: np.ndarray
    geometry: tuple = field(repr=False, default=())
    crs: str | None = None
    source: str = "kmeans"
    names: tuple[str, ...] = ()
    activity_source: tuple[str, ...] = ()
    employment: np.ndarray | None = None
    productions: np.ndarray | None = None
    attractions: np.ndarray | None = None

    @property
    def num_zones(self) -> int:
        """Number of internal zones."""
        return int(self.zone_ids.shape[0])

    def to_geodataframe(self) -> Any:
        """A GeoDataFrame: one row per zone with its area (or centre point when unknown)."""
        import geopandas as gpd
        import shapely

        geoms = [
            g if g is not None else shapely.Point(x, y)
            for g, x, y in zip(
                self.geometry or [None] * self.num_zones, self.x, self.y, strict=True
            )
        ]
        cols: dict[str, Any] = {
            "zone_id": self.zone_ids,
            "name": list(self.names) if self.names else [None] * self.num_zones,
            "node_id": self.node_ids,
            "x": self.x,
            "y": self.y,
            "activity": self.activity,
            "activity_unit": self.activity_unit,
        }
        if self.activity_source:
            cols["activity_source"] = list(self.activity_source)
        return gpd.GeoDataFrame(
            cols,
            geometry=geoms,
            crs=self.crs,
        )


# ---------------------------------------------------------------------- helpers
def _need_coordinates(network: Network) -> None:
    if not network.has_coordinates:
        raise InvalidNetworkError(
            f"network '{network.name}' has no node coordinates; zones and gateways need them "
            "(read the node file, or build the network from OpenStreetMap)"
        )


def largest_scc(network: Network) -> np.ndarray:
    """Boolean mask (n,) of the nodes in the network's largest strongly connected component.

    Ties between equally large components go to the one holding the lowest node index.
    """
    n = network.num_nodes
    g = sp.csr_array((np.ones(network.num_links), (network.init, network.term)), shape=(n, n))
    _, labels = connected_components(g, directed=True, connection="strong")
    if n == 0:
        return np.zeros(0, dtype=bool)
    counts = np.bincount(labels)
    big = np.flatnonzero(counts == counts.max())
    first = np.full(counts.size, n)
    np.minimum.at(first, labels, np.arange(n))
    return labels == big[np.argmin(first[big])]


def default_zone_count(num_nodes: int) -> int:
    """Default number of zones for a network of ``num_nodes`` nodes: about sqrt(n/3), 2..50."""
    return int(min(50, max(2, round(math.sqrt(num_nodes / 3.0)))))


def _boundary(network: Network) -> Any:
    import shapely

    b = network.extra.get("boundary") if isinstance(network.extra, Mapping) else None
    if b is not None and not b.is_empty and b.area > 0:
        return b
    pts = shapely.MultiPoint(np.column_stack([network.x, network.y]))
    hull = pts.convex_hull
    if hull.area <= 0:  # collinear nodes: a thin buffer
        hull = hull.buffer(max(1.0, hull.length * 0.01))
    return hull


def _road_activity(network: Network, node_zone: np.ndarray, z: int) -> np.ndarray:
    """Weighted road km per zone, counting each link at its tail node's zone (halved)."""
    weights = np.array(
        [ROAD_ACTIVITY_WEIGHT.get(str(c), _DEFAULT_ROAD_WEIGHT) for c in network.road_class]
    )
    zl = node_zone[network.init]
    ok = zl >= 0
    act = np.bincount(zl[ok], weights=(network.length * weights * 0.5)[ok], minlength=z)
    return act.astype(float)


def _building_points(buildings: Any, network: Network) -> tuple[np.ndarray, np.ndarray]:
    """Centroids (network CRS) and footprint areas (m²) of building polygons."""
    gdf = buildings
    if hasattr(gdf, "to_crs") and getattr(gdf, "crs", None) is not None and network.crs:
        gdf = gdf.to_crs(network.crs)
    geoms = np.asarray(gdf.geometry.values if hasattr(gdf, "geometry") else gdf, dtype=object)
    import shapely

    geoms = geoms[~shapely.is_empty(geoms)] if geoms.size else geoms
    if not geoms.size:
        return np.zeros((0, 2)), np.zeros(0)
    cent = shapely.centroid(geoms)
    xy = np.column_stack([shapely.get_x(cent), shapely.get_y(cent)])
    return xy, shapely.area(geoms)


# ---------------------------------------------------------------------- zones
def cluster_zones(
    network: Network,
    *,
    n_zones: int | None = None,
    seed: int = 0,
    buildings: Any = None,
) -> Zones:
    """Zones by seeded k-means on the coordinates of the largest SCC's nodes.

    Parameters
    ----------
    network
        A network with node coordinates.
    n_zones
        Number of zones; default :func:`default_zone_count` of the component's size.
    seed
        Seed of the k-means initialisation.
    buildings
        Building footprints (a GeoDataFrame or polygons in the network CRS) for the
        activity; None uses weighted road length.

    Raises
    ------
    InvalidNetworkError
        When the network has no coordinates.
    ValueError
        When ``n_zones`` is below 1 or above the number of nodes available.
    """
    from sklearn.cluster import KMeans

    _need_coordinates(network)
    scc = largest_scc(network)
    idx = np.flatnonzero(scc)
    k = default_zone_count(idx.size) if n_zones is None else int(n_zones)
    if not 1 <= k <= idx.size:
        raise ValueError(
            f"n_zones={n_zones} must be between 1 and {idx.size}, the number of nodes in "
            f"the largest strongly connected component of '{network.name}'"
        )
    xy = np.column_stack([network.x[idx], network.y[idx]])
    km = KMeans(n_clusters=k, random_state=seed, n_init=10).fit(xy)
    centers = km.cluster_centers_
    labels = km.labels_
    centroid = np.empty(k, dtype=np.int64)
    for c in range(k):
        members = np.flatnonzero(labels == c)
        d = np.hypot(xy[members, 0] - centers[c, 0], xy[members, 1] - centers[c, 1])
        # nearest member; ties to the lowest node id
        best = members[np.lexsort((network.node_ids[idx[members]], d))[0]]
        centroid[c] = idx[best]
    # number zones by their centroid node id, so ids do not depend on k-means' label order
    order = np.argsort(network.node_ids[centroid], kind="stable")
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    node_zone = np.full(network.num_nodes, -1, dtype=np.int64)
    node_zone[idx] = rank[labels]
    centers = centers[order]
    centroid = centroid[order]
    boundary = _boundary(network)
    cells = _voronoi(centers, boundary)
    activity, unit = _activity(network, node_zone, k, buildings, cells=None, centers=centers)
    return Zones(
        zone_ids=np.arange(1, k + 1, dtype=np.int64),
        node_ids=network.node_ids[centroid].copy(),
        x=centers[:, 0].copy(),
        y=centers[:, 1].copy(),
        activity=activity,
        activity_unit=unit,
        node_zone=node_zone,
        geometry=tuple(cells),
        crs=network.crs,
        source="kmeans",
    )


def _voronoi(centers: np.ndarray, boundary: Any) -> list[Any]:
    import shapely

    if centers.shape[0] == 1:
        return [boundary]
    pts = shapely.MultiPoint(centers)
    cells = shapely.voronoi_polygons(pts, extend_to=boundary, ordered=True)
    out = []
    for c in range(centers.shape[0]):
        cell = cells.geoms[c]
        out.append(cell.intersection(boundary))
    return out


def _activity(
    network: Network,
    node_zone: np.ndarray,
    z: int,
    buildings: Any,
    *,
    cells: Sequence[Any] | None,
    centers: np.ndarray | None,
) -> tuple[np.ndarray, str]:
    """Activity per zone from buildings (nearest centre, or inside polygon) or road length."""
    if buildings is not None:
        xy, area = _building_points(buildings, network)
        if area.size:
            if cells is not None:
                import shapely

                zone_of = np.full(area.size, -1, dtype=np.int64)
                for k, poly in enumerate(cells):
                    inside = shapely.contains_xy(poly, xy[:, 0], xy[:, 1]) & (zone_of < 0)
                    zone_of[inside] = k
            else:
                from scipy.spatial import cKDTree

                zone_of = cKDTree(centers).query(xy)[1].astype(np.int64)
            ok = zone_of >= 0
            act = np.bincount(zone_of[ok], weights=area[ok], minlength=z) / BUILDING_AREA_UNIT_M2
            bare = int(np.sum(act <= 0))
            if bare == 0:
                return act.astype(float), "building"
            # buildings are often mapped in patches: a zone without any would get no trips
            log.info(
                "buildings are mapped in only %d of %d zones; activity from road length instead",
                z - bare,
                z,
            )
        else:
            log.info("no building footprints; activity from road length instead")
    return _road_activity(network, node_zone, z), "road-km"


def zones_from_polygons(
    source: Any,
    network: Network,
    *,
    population: str | None = "population",
    id_column: str | None = None,
    buildings: Any = None,
) -> Zones:
    """Zones from a user's polygons, each attached to a node of the largest SCC inside it.

    Parameters
    ----------
    source
        A GeoJSON or GeoPackage file (read with geopandas), or a GeoDataFrame. It must have
        a CRS; it is reprojected to the network's.
    network
        The network (with coordinates).
    population
        Column holding each zone's population (activity in persons); when the column is
        absent the activity comes from ``buildings`` or weighted road length. Optional
        columns too: ``name``, ``employment`` (jobs: attractions in proportion to
        population plus jobs), ``productions`` and ``attractions`` (daily vehicle trips
        from and to the zone, together; they replace the trip rates).
    id_column
        Column of integer zone ids; default ``zone_id`` or ``id`` when present, else 1..z.
    buildings
        Building footprints for the activity when there is no population.

    Raises
    ------
    FileFormatError
        When the file cannot be read, has no CRS, or holds no polygons or bad values.
    InvalidDemandError
        When a zone covers no node of the network's largest strongly connected component.
    """
    import geopandas as gpd
    import shapely

    _need_coordinates(network)
    where = str(source) if isinstance(source, (str, Path)) else "zones GeoDataFrame"
    if isinstance(source, (str, Path)):
        p = Path(source)
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file")
        src = geojson_source(p)  # GeoJSON must be UTF-8: say so, not pyogrio
        try:
            gdf = gpd.read_file(src)
        except Exception as exc:
            raise FileFormatError(p, f"cannot be read as GeoJSON/GeoPackage: {exc}") from None
    else:
        gdf = source
    if gdf.crs is None:
        raise FileFormatError(where, "has no CRS; set one (GeoJSON is EPSG:4326)")
    if len(gdf) == 0:
        raise FileFormatError(where, "holds no zones")
    if network.crs:
        gdf = gdf.to_crs(network.crs)
    geoms = list(gdf.geometry.values)
    for r, g in enumerate(geoms):
        if g is None or g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon"):
            raise FileFormatError(where, f"row {r + 1}: zone geometry must be a polygon")
    z = len(geoms)
    col = id_column or next((c for c in ("zone_id", "id") if c in gdf.columns), None)
    if col is not None:
        if col not in gdf.columns:
            raise FileFormatError(where, f"has no column {col!r}", field=col)
        try:
            raw = gdf[col].to_numpy()
            ids = raw.astype(np.int64)
            if not np.all(ids == raw.astype(float)):
                raise ValueError
        except (ValueError, TypeError):
            raise FileFormatError(where, "zone ids must be integers", field=col) from None
        if len(set(ids.tolist())) != z:
            raise FileFormatError(where, "zone ids are not unique", field=col)
    else:
        ids = np.arange(1, z + 1, dtype=np.int64)
    scc = largest_scc(network)
    idx = np.flatnonzero(scc)
    node_zone = np.full(network.num_nodes, -1, dtype=np.int64)
    centroid = np.empty(z, dtype=np.int64)
    cx = np.empty(z)
    cy = np.empty(z)
    for k, poly in enumerate(geoms):
        inside = idx[shapely.contains_xy(poly, network.x[idx], network.y[idx])]
        if inside.size == 0:
            raise InvalidDemandError(
                f"{where}: zone {ids[k]} (row {k + 1}) covers no node of the largest strongly "
                f"connected component of network '{network.name}'; enlarge or drop it"
            )
        free = inside[node_zone[inside] < 0]
        node_zone[free] = k
        c = poly.centroid
        cx[k], cy[k] = c.x, c.y
        d = np.hypot(network.x[inside] - c.x, network.y[inside] - c.y)
        centroid[k] = inside[np.lexsort((network.node_ids[inside], d))[0]]

    def numbers(col: str) -> np.ndarray | None:
        if not col or col not in gdf.columns:
            return None
        try:
            vals = gdf[col].to_numpy(dtype=float)
        except (ValueError, TypeError):
            raise FileFormatError(where, f"{col} must be numbers", field=col) from None
        bad = np.flatnonzero(~np.isfinite(vals) | (vals < 0))
        if bad.size:
            raise FileFormatError(
                where, f"row {bad[0] + 1}: {col} must be a number >= 0", field=col
            )
        return vals

    pop = numbers(population or "")
    if pop is not None:
        activity, unit = pop, "persons"
    else:
        activity, unit = _activity(network, node_zone, z, buildings, cells=geoms, centers=None)
    flows = {c: numbers(c) for c in ("employment", "productions", "attractions")}
    if (flows["productions"] is None) != (flows["attractions"] is None):
        raise FileFormatError(
            where,
            "give productions and attractions together (daily trips from and to each zone)",
            field="productions" if flows["productions"] is None else "attractions",
        )
    names: tuple[str, ...] = ()
    if "name" in gdf.columns:
        names = tuple("" if v is None or v != v else str(v) for v in gdf["name"].tolist())
    return Zones(
        zone_ids=ids,
        node_ids=network.node_ids[centroid].copy(),
        x=cx,
        y=cy,
        activity=np.asarray(activity, dtype=float),
        activity_unit=unit,
        node_zone=node_zone,
        geometry=tuple(geoms),
        crs=network.crs,
        source=where,
        names=names,
        employment=flows["employment"],
        productions=flows["productions"],
        attractions=flows["attractions"],
    )
