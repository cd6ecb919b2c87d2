"""Road networks from OpenStreetMap: online queries, OSM files and the built-in town.

This module owns the readers (:func:`from_place`, :func:`from_bbox`, :func:`from_polygon`,
:func:`from_file`, :func:`builtin_town`, :func:`read_buildings`) and the one conversion
behind them, :func:`graph_to_network`. The road classes, the defaults by class, the road
profiles and the tag-value parsers it applies live in :mod:`networks.roads`.

This is the only module of roadopt that imports osmnx and pyrosm (lazily, inside the
functions, so that ``import networks`` stays fast).

Every reader ends in :func:`graph_to_network`, which turns a raw (unsimplified) osmnx-style
graph into the canonical :class:`networks.Network`:

1. keep the drivable ways of the profile's road classes (``highway=*``), dropping areas,
   ways closed to cars (``access``/``motor_vehicle``/``motorcar``/``vehicle`` = ``no`` or
   ``private``) and parking aisles, driveways and the like;
2. parse ``lanes`` and ``maxspeed`` per direction (:func:`networks.roads.parse_lanes`,
   :func:`networks.roads.parse_maxspeed`), falling back to the profile's defaults by class;
3. simplify so that each link is one upgradable segment: osmnx ``simplify_graph`` with
   ``edge_attrs_differ`` on class, lanes and speed, so a link never mixes them;
4. project to the UTM zone of the area's centre (:func:`utm_crs`);
5. consolidate complex intersections (osmnx ``consolidate_intersections``) within
   :data:`DEFAULT_TOLERANCE_M` metres; switch off with ``consolidate=False``;
6. keep the largest strongly connected component, so every node reaches every other;
7. build the per-link arrays: free-flow time (min), length (km), speed (km/h), lanes and
   capacity (veh/h) per direction, BPR ``alpha``/``beta`` and an integer class code.

Node ids are OSM node ids. A node made by consolidating several OSM nodes gets the id
:func:`consolidated_node_id` of its members: minus a 62-bit BLAKE2b hash of the sorted member
ids, so it is negative (never an OSM id), and the same for the same input. The members are
recorded in ``network.extra["consolidated_nodes"]``.

Two-way roads become two links, one per direction; one-way roads one link in the direction
of travel (``oneway=yes|true|1`` along the way, ``oneway=-1|reverse`` against it,
``junction=roundabout|circular`` along it). A two-way road's ``lanes=n`` gives ``n/2``
lanes (at least 1) to each direction unless ``lanes:forward``/``lanes:backward`` say
otherwise.

``network.extra`` holds, per link (length m, in link order): ``osm_way_ids`` (tuples of
the OSM way ids the link was built from), ``osm_way_dirs`` (aligned with them: 1 where
the link runs along the way's drawing direction, -1 against it, 0 unknown; osmnx keeps no
trace of ``oneway=-1``, so a one-way way drawn against its traffic reads 1), ``geometry``
(shapely LineStrings in the network CRS, from tail to head), ``name`` and ``ref``
(strings, ``""`` when untagged); and per
network: ``boundary`` (the study area, a shapely polygon in the network CRS), ``profile``,
``source`` (a description), ``source_path`` (for files), ``consolidated_nodes`` (new id ->
member OSM ids), ``consolidation_tolerance_m``, ``raw_nodes`` (drivable OSM nodes read) and
``dropped_nodes`` (nodes outside the largest strongly connected component).

Errors: files of the wrong format, truncated or corrupt files raise
:class:`networks.errors.FileFormatError`; a malformed bounding box
:class:`BoundingBoxError`; a place that cannot be geocoded :class:`PlaceNotFoundError`;
an area without drivable roads :class:`NoDrivableRoadsError`; a failed download
:class:`OSMQueryError`. All subclass ``ValueError``.
"""

from __future__ import annotations

import bz2
import contextlib
import functools
import gzip
import hashlib
import json
import logging
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import (
    BoundingBoxError,
    FileFormatError,
    NoDrivableRoadsError,
    OSMQueryError,
    PlaceNotFoundError,
)
from .network import OSM_UNITS, Network
from .roads import (
    EXCLUDED_SERVICE,
    LINK_TYPE,
    RoadProfile,
    car_allowed,
    direction_lanes,
    direction_speed,
    get_profile,
    oneway_rule,
    tag_text,
    tag_values,
    way_class,
)

__all__ = [
    "DEFAULT_TOLERANCE_M",
    "BoundingBoxError",
    "NoDrivableRoadsError",
    "OSMQueryError",
    "PlaceNotFoundError",
    "builtin_town",
    "consolidated_node_id",
    "from_bbox",
    "from_file",
    "from_place",
    "from_polygon",
    "graph_to_network",
    "read_buildings",
    "utm_crs",
]

log = logging.getLogger(__name__)


#: Default consolidation tolerance (metres): nodes within this distance of each other that
#: are also connected by road are merged into one intersection (osmnx buffers each node by
#: the tolerance, so nodes up to twice this far apart can merge). 10 m catches the split
#: nodes of dual carriageways meeting at a junction and short turning lanes without fusing
#: distinct junctions of a town grid.
DEFAULT_TOLERANCE_M = 10.0

# Tags osmnx does not keep by default but the parsing below reads.
_EXTRA_WAY_TAGS = (
    "motor_vehicle",
    "motorcar",
    "vehicle",
    "lanes:forward",
    "lanes:backward",
    "maxspeed:forward",
    "maxspeed:backward",
)
_XML_SUFFIXES = (".osm", ".xml", ".osm.bz2", ".osm.gz", ".xml.bz2", ".xml.gz")
_LONLAT = "EPSG:4326"


# ---------------------------------------------------------------------- CRS, ids
def utm_crs(lon: float, lat: float) -> str:
    """The WGS 84 / UTM zone CRS of a point, as ``"EPSG:326zz"`` (north) or ``"EPSG:327zz"``.

    The plain 6-degree zones (the Norway/Svalbard exceptions are not applied). Zigong,
    Sichuan (104.8 E, 29.3 N) gives ``"EPSG:32648"``.
    """
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise ValueError(f"cannot choose a UTM zone for ({lon}, {lat})")
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def consolidated_node_id(members: Iterable[int]) -> int:
    """Id of a node made by merging OSM nodes: minus a 62-bit hash of the sorted member ids.

    Negative (so never an OSM node id), at least ``-(2**62)`` and stable for the same
    members, whatever their order.
    """
    key = ",".join(str(int(m)) for m in sorted({int(m) for m in members}))
    h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") >> 2
    return -(h + 1)


# ---------------------------------------------------------------------- osmnx plumbing
def _ox():
    import osmnx

    return osmnx


@contextlib.contextmanager
def _osmnx_settings() -> Iterator[Any]:
    """Osmnx with the extra way tags kept and roadopt's cache folder; restored afterwards."""
    ox = _ox()
    s = ox.settings
    saved = (list(s.useful_tags_way), s.cache_folder)
    s.useful_tags_way = list(dict.fromkeys([*saved[0], *_EXTRA_WAY_TAGS]))
    try:
        from .datasets import cache_dir

        s.cache_folder = str(cache_dir() / "osmnx")
    except Exception:  # pragma: no cover - pooch missing: keep osmnx's own folder
        pass
    try:
        yield ox
    finally:
        s.useful_tags_way, s.cache_folder = saved


def _overpass_filter(prof: RoadProfile) -> str:
    """An Overpass filter for the profile's drivable ways (osmnx ``custom_filter``)."""
    classes = "|".join(prof.classes)
    service = "|".join(sorted(EXCLUDED_SERVICE))
    return (
        f'["highway"~"^({classes})$"]["area"!~"yes"]["access"!~"^(private|no)$"]'
        f'["motor_vehicle"!~"^(no|private)$"]["motorcar"!~"^(no|private)$"]'
        f'["service"!~"^({service})$"]'
    )


# ---------------------------------------------------------------------- conversion
def graph_to_network(
    G: Any,
    *,
    profile: str | RoadProfile = "generic",
    highway: Iterable[str] | None = None,
    simplify: bool = True,
    consolidate: bool = True,
    tolerance: float = DEFAULT_TOLERANCE_M,
    boundary: Any = None,
    name: str = "osm",
    source: str = "osmnx graph",
    extra: Mapping[str, Any] | None = None,
) -> Network:
    """Convert an osmnx-style road graph into the canonical :class:`~networks.Network`.

    The one conversion behind every reader of this module; see the module docstring for the
    steps and the contract of the result.

    Parameters
    ----------
    G
        A networkx ``MultiDiGraph`` as osmnx builds it: nodes with ``x``/``y`` (any CRS in
        ``G.graph["crs"]``, lon/lat by default), edges with the OSM tags (``highway``,
        ``lanes``, ``maxspeed``, ``oneway`` as a bool, ``reversed``, ``osmid``, ...).
        Raw graphs are best; simplified graphs (from GraphML) are accepted.
    profile
        Road defaults by class: ``"generic"``, ``"china"``, ``"china-mountain"`` or a
        :class:`RoadProfile`.
    highway
        ``highway`` classes to keep instead of the profile's.
    simplify
        Merge chains of OSM segments into one link per upgradable segment.
    consolidate
        Merge the nodes of complex intersections (within ``tolerance`` metres).
    tolerance
        Consolidation tolerance in metres.
    boundary
        The study area (a shapely polygon in lon/lat); default: the convex hull of the
        drivable nodes before any is dropped.
    name
        The network's name.
    source
        A description of where the data came from, kept in ``extra["source"]``.
    extra
        More entries for ``network.extra``.

    Returns
    -------
    Network
        In the UTM zone of the area, with :data:`~networks.network.OSM_UNITS`.

    Raises
    ------
    NoDrivableRoadsError
        When no drivable road of the profile's classes is left.
    """
    ox = _ox()
    import networkx as nx
    import shapely
    from shapely.geometry import LineString

    prof = get_profile(profile, highway=highway)
    crs = G.graph.get("crs", _LONLAT)
    if ox.projection.is_projected(crs):
        G = ox.project_graph(G, to_latlong=True)

    # 1-2: drivable edges of the kept classes, with their parsed per-direction attributes
    keep = []
    for u, v, k, d in G.edges(keys=True, data=True):
        cls = way_class(d.get("highway"), prof.classes)
        if cls is None or not car_allowed(d):
            continue
        if cls == "service" and tag_text(d.get("service")) in EXCLUDED_SERVICE:
            continue
        keep.append((u, v, k, cls))
    if not keep:
        raise NoDrivableRoadsError(
            f"{source}: no drivable road of classes {', '.join(prof.classes)} "
            f"(profile {prof.name!r}); check the area or file, or pass highway=[...]"
        )
    H = G.edge_subgraph([(u, v, k) for u, v, k, _ in keep]).copy()
    for u, v, k, cls in keep:
        d = H.edges[u, v, k]
        d["_class"] = cls
        d["_lanes"] = direction_lanes(d, prof, cls)
        d["_speed"] = direction_speed(d, prof, cls)
        d["_sense"] = _senses(d)
    H.graph["crs"] = _LONLAT
    lon = np.fromiter((d["x"] for _, d in H.nodes(data=True)), float, len(H))
    lat = np.fromiter((d["y"] for _, d in H.nodes(data=True)), float, len(H))
    if boundary is None:
        boundary = shapely.MultiPoint(np.column_stack([lon, lat])).convex_hull
    raw_nodes = len(H)

    # 3: one link per upgradable segment
    if simplify and not H.graph.get("simplified"):
        H = ox.simplify_graph(H, edge_attrs_differ=["_class", "_lanes", "_speed"])

    # 4: UTM of the area's centre
    target = utm_crs(
        float(np.mean([lon.min(), lon.max()])), float(np.mean([lat.min(), lat.max()]))
    )
    H = ox.project_graph(H, to_crs=target)
    boundary_xy = _project_geom(boundary, _LONLAT, target)

    # 5: complex intersections
    members: dict[int, tuple[int, ...]] = {}
    if consolidate and len(H) > 1 and not H.graph.get("consolidated"):
        # dead_ends=True keeps dead-end streets (osmnx's default would delete them)
        H = ox.consolidate_intersections(
            H, tolerance=float(tolerance), rebuild_graph=True, dead_ends=True
        )
    if H.graph.get("consolidated") or any("osmid_original" in d for _, d in H.nodes(data=True)):
        relabel = {}
        for n, d in H.nodes(data=True):
            orig = d.get("osmid_original", n)
            if isinstance(orig, str):  # from GraphML
                orig = json.loads(orig) if orig.startswith("[") else int(orig)
            if isinstance(orig, (list, tuple)):
                ids = tuple(sorted(int(o) for o in orig))
                new = consolidated_node_id(ids)
                members[new] = ids
                relabel[n] = new
            else:
                relabel[n] = int(orig)
        H = nx.relabel_nodes(H, relabel, copy=True)

    # 6: self-loops carry no trips; then the largest strongly connected component
    H.remove_edges_from([(u, v, k) for u, v, k in H.edges(keys=True) if u == v])
    comps = list(nx.strongly_connected_components(H))
    comps = [c for c in comps if len(c) > 1]
    if not comps:
        raise NoDrivableRoadsError(
            f"{source}: the drivable roads form no strongly connected network "
            "(every road is one-way away from the rest); check the area or file"
        )
    big = max(comps, key=lambda c: (len(c), -min(c)))
    dropped = len(H) - len(big)
    log.info(
        "%s: kept the largest strongly connected component, %d of %d nodes (%d dropped)",
        name,
        len(big),
        len(H),
        dropped,
    )
    H = H.subgraph(big).copy()
    members = {k: v for k, v in members.items() if k in big}

    # 7: arrays
    node_ids = np.array(sorted(int(n) for n in H.nodes), dtype=np.int64)
    xs = np.array([float(H.nodes[n]["x"]) for n in node_ids.tolist()])
    ys = np.array([float(H.nodes[n]["y"]) for n in node_ids.tolist()])
    rows = []
    for u, v, d in H.edges(data=True):
        geom = d.get("geometry")
        pu = (float(H.nodes[u]["x"]), float(H.nodes[u]["y"]))
        pv = (float(H.nodes[v]["x"]), float(H.nodes[v]["y"]))
        if geom is None or geom.is_empty:
            geom = LineString([pu, pv])
        else:
            first = shapely.Point(geom.coords[0])
            if first.distance(shapely.Point(pv)) < first.distance(shapely.Point(pu)):
                geom = shapely.reverse(geom)
        ways = tuple(sorted({int(w) for w in tag_values(d.get("osmid"))}))
        sense: dict[int, set[str]] = {}
        for t in tag_values(d.get("_sense")):
            sense.setdefault(int(t[:-1]), set()).add(t[-1])
        dirs = tuple({"+": 1, "-": -1}.get("".join(sorted(sense.get(w, "?"))), 0) for w in ways)
        cls = tag_text(d.get("_class")) or "road"
        rows.append(
            (
                int(u),
                int(v),
                ways,
                float(geom.length),
                cls,
                float(np.min(tag_values(d.get("_lanes")))),
                float(np.mean(tag_values(d.get("_speed")))),
                geom,
                "; ".join(dict.fromkeys(str(x) for x in tag_values(d.get("name")))),
                "; ".join(dict.fromkeys(str(x) for x in tag_values(d.get("ref")))),
                dirs,
            )
        )
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    init = np.array([r[0] for r in rows], dtype=np.int64)
    term = np.array([r[1] for r in rows], dtype=np.int64)
    length_km = np.array([r[3] for r in rows]) / 1000.0
    classes = np.array([r[4] for r in rows], dtype=object)
    lanes = np.array([r[5] for r in rows])
    speed = np.array([r[6] for r in rows])
    cap_lane = np.array([prof.capacity_per_lane(c) for c in classes])
    bpr = np.array([prof.bpr.get(c, (0.15, 4.0)) for c in classes]).reshape(-1, 2)
    info = {
        "osm_way_ids": [r[2] for r in rows],
        "geometry": [r[7] for r in rows],
        "name": [r[8] for r in rows],
        "ref": [r[9] for r in rows],
        "osm_way_dirs": [r[10] for r in rows],
        "boundary": boundary_xy,
        "profile": prof.name,
        "source": source,
        "consolidated_nodes": members,
        "consolidation_tolerance_m": float(tolerance) if consolidate else None,
        "dropped_nodes": dropped,
        "raw_nodes": raw_nodes,
        **(extra or {}),
    }
    net = Network.from_links(
        init,
        term,
        node_ids=node_ids,
        x=xs,
        y=ys,
        free_flow_time=length_km / speed * 60.0,
        capacity=lanes * cap_lane,
        alpha=bpr[:, 0],
        beta=bpr[:, 1],
        length=length_km,
        speed=speed,
        lanes=lanes,
        link_type=np.array([LINK_TYPE.get(c, 0) for c in classes], dtype=np.int64),
        road_class=classes,
        crs=target,
        units=OSM_UNITS,
        name=name,
        extra=info,
    )
    log.info(
        "%s: %d nodes, %d links (%s, profile %s)",
        name,
        net.num_nodes,
        net.num_links,
        target,
        prof.name,
    )
    return net


def _senses(edge: Any) -> str:
    """``"<way>+"`` per OSM way of a raw edge drawn along it, ``"<way>-"`` against it.

    From osmnx's ``reversed`` (true for the edge that runs against its way's node order);
    ``?`` when a simplified edge mixes both.
    """
    revs = {
        r is True or str(r).strip().lower() == "true" for r in tag_values(edge.get("reversed"))
    }
    s = "?" if len(revs) > 1 else "-" if revs == {True} else "+"
    return ";".join(f"{int(w)}{s}" for w in tag_values(edge.get("osmid")))


def _project_geom(geom: Any, src: str, dst: str) -> Any:
    import pyproj
    import shapely

    tf = pyproj.Transformer.from_crs(src, dst, always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(tf.transform(xy[:, 0], xy[:, 1])))


# ---------------------------------------------------------------------- areas
def _check_bbox(bbox: Any) -> tuple[float, float, float, float]:
    """Validate ``(west, south, east, north)`` in degrees."""
    hint = (
        "give bbox as (west, south, east, north) in degrees, e.g. (104.70, 29.30, 104.80, 29.40)"
    )
    try:
        vals = tuple(float(v) for v in bbox)
    except (TypeError, ValueError):
        raise BoundingBoxError(f"bbox {bbox!r} is not four numbers; {hint}") from None
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
        raise BoundingBoxError(f"bbox {bbox!r} is not four finite numbers; {hint}")
    w, s, e, n = vals
    if not (-90.0 <= s <= 90.0 and -90.0 <= n <= 90.0):
        raise BoundingBoxError(
            f"bbox {vals}: south {s} / north {n} are not latitudes in [-90, 90] "
            f"(latitude and longitude swapped?); {hint}"
        )
    if not (-180.0 <= w <= 180.0 and -180.0 <= e <= 180.0):
        raise BoundingBoxError(f"bbox {vals}: west {w} / east {e} are not longitudes; {hint}")
    if w >= e:
        raise BoundingBoxError(f"bbox {vals}: west {w} is not less than east {e}; {hint}")
    if s >= n:
        raise BoundingBoxError(f"bbox {vals}: south {s} is not less than north {n}; {hint}")
    return vals


def _as_polygon(polygon: Any) -> Any:
    """A shapely (Multi)Polygon in lon/lat from a shapely geometry or a GeoDataFrame/Series."""
    import shapely

    geom = polygon
    if hasattr(polygon, "to_crs") and hasattr(polygon, "crs"):
        gs = polygon.geometry if hasattr(polygon, "geometry") else polygon
        if gs.crs is not None:
            gs = gs.to_crs(_LONLAT)
        geom = gs.union_all()
    if not isinstance(geom, (shapely.Polygon, shapely.MultiPolygon)):
        raise BoundingBoxError(
            f"the study area must be a shapely Polygon or MultiPolygon in lon/lat, not "
            f"{type(geom).__name__}"
        )
    if geom.is_empty or not geom.is_valid:
        raise BoundingBoxError("the study area polygon is empty or invalid (self-intersecting?)")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise BoundingBoxError(
            f"the study area polygon's bounds {geom.bounds} are not lon/lat degrees; "
            "reproject it to EPSG:4326"
        )
    return geom


# ---------------------------------------------------------------------- online
def from_place(
    query: str | Mapping[str, str],
    *,
    profile: str | RoadProfile = "generic",
    which_result: int | None = None,
    highway: Iterable[str] | None = None,
    simplify: bool = True,
    consolidate: bool = True,
    tolerance: float = DEFAULT_TOLERANCE_M,
    name: str | None = None,
) -> Network:
    """Download the drivable roads of a named place (needs the internet; osmnx caches).

    The place is geocoded with Nominatim into a boundary polygon, which becomes the
    study area (``extra["boundary"]``); the roads inside are downloaded from Overpass.

    Parameters
    ----------
    query
        A place name such as ``"Ziliujing District, Zigong, Sichuan, China"``, or a
        structured Nominatim query (dict).
    profile, highway, simplify, consolidate, tolerance
        As for :func:`graph_to_network`.
    which_result
        Which geocoding result to use (osmnx default: the first polygon).
    name
        The network's name (default: the query).

    Raises
    ------
    PlaceNotFoundError
        When the geocoder finds no area for ``query``.
    NoDrivableRoadsError
        When the area holds no drivable road.
    OSMQueryError
        When the download fails.
    """
    with _osmnx_settings() as ox:
        try:
            gdf = ox.geocode_to_gdf(query, which_result=which_result)
        except (ox._errors.InsufficientResponseError, TypeError, ValueError) as exc:
            raise PlaceNotFoundError(
                f"cannot geocode place {query!r}: {exc}. Check the spelling, add the "
                "province and country, or use from_bbox/from_polygon"
            ) from exc
        except Exception as exc:
            raise OSMQueryError(f"geocoding {query!r} failed: {exc}") from exc
        if len(gdf) == 0:
            raise PlaceNotFoundError(f"cannot geocode place {query!r}: no result")
        poly = gdf.geometry.union_all()
        import shapely

        if not isinstance(poly, (shapely.Polygon, shapely.MultiPolygon)):
            raise PlaceNotFoundError(
                f"place {query!r} geocodes to a {poly.geom_type}, not an area; use "
                "from_bbox or a polygon"
            )
        label = query if isinstance(query, str) else json.dumps(dict(query), ensure_ascii=False)
        return _from_area(
            ox,
            poly,
            profile=profile,
            highway=highway,
            simplify=simplify,
            consolidate=consolidate,
            tolerance=tolerance,
            name=name or label,
            source=f"OpenStreetMap place {label!r}",
        )


def from_polygon(
    polygon: Any,
    *,
    profile: str | RoadProfile = "generic",
    highway: Iterable[str] | None = None,
    simplify: bool = True,
    consolidate: bool = True,
    tolerance: float = DEFAULT_TOLERANCE_M,
    name: str = "osm-polygon",
) -> Network:
    """Download the drivable roads inside a polygon (needs the internet; osmnx caches).

    Parameters
    ----------
    polygon
        A shapely Polygon/MultiPolygon in lon/lat (EPSG:4326), or a GeoDataFrame/GeoSeries
        in any CRS (its union is used).
    profile, highway, simplify, consolidate, tolerance, name
        As for :func:`graph_to_network`.
    """
    poly = _as_polygon(polygon)
    with _osmnx_settings() as ox:
        return _from_area(
            ox,
            poly,
            profile=profile,
            highway=highway,
            simplify=simplify,
            consolidate=consolidate,
            tolerance=tolerance,
            name=name,
            source="OpenStreetMap polygon " + _short_wkt(poly),
        )


def from_bbox(
    bbox: Sequence[float],
    *,
    profile: str | RoadProfile = "generic",
    highway: Iterable[str] | None = None,
    simplify: bool = True,
    consolidate: bool = True,
    tolerance: float = DEFAULT_TOLERANCE_M,
    name: str = "osm-bbox",
) -> Network:
    """Download the drivable roads inside a bounding box (needs the internet; osmnx caches).

    Parameters
    ----------
    bbox
        ``(west, south, east, north)`` in degrees (osmnx 2's order).
    profile, highway, simplify, consolidate, tolerance, name
        As for :func:`graph_to_network`.

    Raises
    ------
    BoundingBoxError
        When ``bbox`` is not ``(west, south, east, north)``.
    """
    import shapely

    w, s, e, n = _check_bbox(bbox)
    with _osmnx_settings() as ox:
        return _from_area(
            ox,
            shapely.box(w, s, e, n),
            profile=profile,
            highway=highway,
            simplify=simplify,
            consolidate=consolidate,
            tolerance=tolerance,
            name=name,
            source=f"OpenStreetMap bbox ({w}, {s}, {e}, {n})",
        )


def _short_wkt(geom: Any) -> str:
    b = ", ".join(f"{v:.5f}" for v in geom.bounds)
    return f"with bounds ({b})"


def _from_area(
    ox: Any, poly: Any, *, profile, highway, simplify, consolidate, tolerance, name, source
):
    prof = get_profile(profile, highway=highway)
    try:
        G = ox.graph_from_polygon(
            poly,
            custom_filter=_overpass_filter(prof),
            simplify=False,
            retain_all=True,
        )
    except (ox._errors.InsufficientResponseError, ValueError) as exc:
        raise NoDrivableRoadsError(f"{source}: no drivable roads found ({exc})") from exc
    except Exception as exc:
        raise OSMQueryError(f"{source}: the download failed: {exc}") from exc
    return graph_to_network(
        G,
        profile=prof,
        simplify=simplify,
        consolidate=consolidate,
        tolerance=tolerance,
        boundary=poly,
        name=name,
        source=source,
    )


# ---------------------------------------------------------------------- files
def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".pbf"):
        return "pbf"
    if name.endswith(".graphml"):
        return "graphml"
    if name.endswith(_XML_SUFFIXES):
        return "xml"
    raise FileFormatError(
        path,
        "unknown extension; expected an OpenStreetMap file: .osm, .osm.bz2, .osm.gz "
        "(OSM XML), .osm.pbf or .graphml (osmnx)",
    )


def from_file(
    path: str | Path,
    *,
    bbox: Sequence[float] | None = None,
    polygon: Any = None,
    profile: str | RoadProfile = "generic",
    highway: Iterable[str] | None = None,
    simplify: bool = True,
    consolidate: bool = True,
    tolerance: float = DEFAULT_TOLERANCE_M,
    name: str | None = None,
) -> Network:
    """Read the drivable roads of an OpenStreetMap file (offline).

    Parameters
    ----------
    path
        ``.osm``, ``.osm.bz2``, ``.osm.gz`` (OSM XML, read with osmnx ``graph_from_xml``),
        ``.osm.pbf`` (read with pyrosm) or ``.graphml`` (an osmnx graph).
    bbox
        Keep only ``(west, south, east, north)`` (degrees); it becomes the study area.
    polygon
        Keep only this area (shapely polygon in lon/lat, or a GeoDataFrame).
    profile, highway, simplify, consolidate, tolerance
        As for :func:`graph_to_network`.
    name
        The network's name (default: the file name without extensions).

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    FileFormatError
        For an unknown extension, a file that is not what its extension says, or a
        truncated or corrupt file.
    NoDrivableRoadsError
        When the file (or the area) holds no drivable road.
    """
    import shapely

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    if p.is_dir():
        raise FileFormatError(p, "is a folder, expected an OpenStreetMap file")
    kind = _kind(p)
    if bbox is not None and polygon is not None:
        raise ValueError("give bbox or polygon, not both")
    area = None
    if bbox is not None:
        area = shapely.box(*_check_bbox(bbox))
    elif polygon is not None:
        area = _as_polygon(polygon)
    prof = get_profile(profile, highway=highway)
    label = name or re.sub(r"(\.osm)?(\.(pbf|bz2|gz|xml|graphml|osm))+$", "", p.name) or p.name
    source = f"OpenStreetMap file {p}"
    with _osmnx_settings() as ox:
        if kind == "pbf":
            G = _graph_from_pbf(p, area, prof)
        elif kind == "graphml":
            G = _graph_from_graphml(ox, p)
        else:
            G = _graph_from_xml(ox, p)
        if area is not None:  # pyrosm keeps whole ways that cross the area: cut them too
            G = _clip(ox, G, area)
        if len(G.edges) == 0:
            where = "" if area is None else " inside " + _short_wkt(area)
            raise NoDrivableRoadsError(f"{p}: no drivable roads{where}")
        return graph_to_network(
            G,
            profile=prof,
            simplify=simplify,
            consolidate=consolidate,
            tolerance=tolerance,
            boundary=area,
            name=label,
            source=source,
            extra={"source_path": str(p)},
        )


def _clip(ox: Any, G: Any, area: Any) -> Any:
    crs = G.graph.get("crs", _LONLAT)
    if ox.projection.is_projected(crs):
        G = ox.project_graph(G, to_latlong=True)
    try:
        return ox.truncate.truncate_graph_polygon(G, area)
    except ValueError:  # osmnx: "Found no graph nodes within the requested polygon"
        G = G.copy()
        G.remove_nodes_from(list(G.nodes))
        return G


def _sniff(path: Path) -> bytes:
    """The first KiB of a (possibly compressed) file; FileFormatError if it cannot be read."""
    name = path.name.lower()
    try:
        if name.endswith(".bz2"):
            with bz2.open(path, "rb") as fh:
                return fh.read(1024)
        if name.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                return fh.read(1024)
        with open(path, "rb") as fh:
            return fh.read(1024)
    except (OSError, EOFError) as exc:
        raise FileFormatError(
            path, f"cannot be decompressed ({exc}); is it really that format?"
        ) from None


def _graph_from_xml(ox: Any, path: Path) -> Any:
    from xml.sax import SAXException

    head = _sniff(path)
    if not head.strip():
        raise FileFormatError(path, "is empty, expected OSM XML")
    if b"<osm" not in head:
        raise FileFormatError(
            path, "is not OSM XML: no <osm> root element at the start of the file"
        )
    try:
        return ox.graph_from_xml(path, simplify=False, retain_all=True)
    except ox._errors.InsufficientResponseError:
        raise NoDrivableRoadsError(f"{path}: the OSM XML holds no nodes or ways") from None
    except (SAXException, OSError, EOFError, UnicodeDecodeError) as exc:
        raise FileFormatError(
            path, f"is not valid OSM XML (truncated or corrupt?): {exc}"
        ) from None
    except Exception as exc:  # ElementTree's ParseError and friends
        if type(exc).__name__ in ("ParseError", "ExpatError"):
            raise FileFormatError(path, f"is not valid OSM XML (truncated?): {exc}") from None
        raise


def _graph_from_graphml(ox: Any, path: Path) -> Any:
    head = _sniff(path)
    if b"<graphml" not in head:
        raise FileFormatError(path, "is not GraphML: no <graphml> root element")
    try:
        return ox.load_graphml(path)
    except Exception as exc:
        raise FileFormatError(path, f"cannot be read as an osmnx GraphML graph: {exc}") from None


def _pbf_check(path: Path) -> None:
    head = _sniff(path)
    if len(head) < 16 or b"OSMHeader" not in head[:32]:
        raise FileFormatError(path, "is not an OSM PBF file (no OSMHeader block at its start)")


_PBF_TAGS = (
    "access",
    "area",
    "service",
    "junction",
    "oneway",
    "lanes",
    "maxspeed",
    "name",
    "ref",
    *_EXTRA_WAY_TAGS,
)


def _graph_from_pbf(path: Path, area: Any, prof: RoadProfile) -> Any:
    """A raw osmnx-style graph of the profile's roads in a PBF, read with pyrosm."""
    import networkx as nx
    import pyrosm

    _pbf_check(path)
    try:
        osm = pyrosm.OSM(str(path), bounding_box=area, progress=False)
        got = osm.get_network(
            network_type="driving",
            nodes=True,
            custom_filter={"highway": list(prof.classes)},
            filter_type="keep",
            extra_attributes=list(_PBF_TAGS),
        )
    except Exception as exc:  # pyrosm raises DecodeError, PBFException, ...
        raise FileFormatError(
            path, f"cannot be read as OSM PBF (truncated or corrupt?): {type(exc).__name__}: {exc}"
        ) from None
    nodes, edges = got if isinstance(got, tuple) else (None, got)
    G = nx.MultiDiGraph(crs=_LONLAT)
    if edges is None or nodes is None or len(edges) == 0:
        return G
    for nid, x, y in zip(
        nodes["id"].tolist(), nodes["lon"].tolist(), nodes["lat"].tolist(), strict=True
    ):
        G.add_node(int(nid), x=float(x), y=float(y))
    cols = [c for c in ("highway", *_PBF_TAGS) if c in edges.columns]
    extra_tags = edges["tags"].tolist() if "tags" in edges.columns else [None] * len(edges)
    for row, js in zip(
        edges[["id", "u", "v", "length", *cols]].itertuples(index=False, name=None),
        extra_tags,
        strict=True,
    ):
        way, u, v, length = int(row[0]), int(row[1]), int(row[2]), float(row[3])
        tags: dict[str, Any] = {}
        if isinstance(js, str) and js:
            with contextlib.suppress(ValueError):
                tags.update({k: val for k, val in json.loads(js).items() if k in _PBF_TAGS})
        for c, val in zip(cols, row[4:], strict=True):
            if isinstance(val, str) and val:
                tags[c] = val
        one_way, rev = oneway_rule(tags)
        if rev:
            u, v = v, u
        tags.update(osmid=way, length=length, oneway=one_way)
        G.add_edge(u, v, reversed=False, **tags)
        if not one_way:
            G.add_edge(v, u, reversed=True, **tags)
    G.remove_nodes_from([n for n in list(G.nodes) if G.degree(n) == 0])
    return G


def read_buildings(
    path: str | Path,
    *,
    bbox: Sequence[float] | None = None,
    polygon: Any = None,
    crs: str | None = None,
) -> Any:
    """Building footprints of an OpenStreetMap file, as polygons (for activity proxies).

    Parameters
    ----------
    path
        ``.osm.pbf`` (pyrosm) or OSM XML (osmnx ``features_from_xml``).
    bbox, polygon
        Keep only buildings in this area (lon/lat).
    crs
        Project the result to this CRS (default: lon/lat).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per building with a polygon ``geometry`` (empty when the file has none).
    """
    import geopandas as gpd
    import shapely

    p = Path(path)
    kind = _kind(p)
    area = shapely.box(*_check_bbox(bbox)) if bbox is not None else None
    if polygon is not None:
        area = _as_polygon(polygon)
    gdf = None
    if kind == "pbf":
        import pyrosm

        _pbf_check(p)
        try:
            gdf = pyrosm.OSM(str(p), bounding_box=area, progress=False).get_buildings()
        except Exception as exc:
            raise FileFormatError(p, f"cannot be read as OSM PBF: {exc}") from None
    elif kind == "xml":
        ox = _ox()
        try:
            gdf = ox.features_from_xml(p, tags={"building": True})
        except ox._errors.InsufficientResponseError:
            gdf = None
        except Exception as exc:
            raise FileFormatError(p, f"cannot read buildings: {exc}") from None
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=_LONLAT))
    if gdf is None or len(gdf) == 0:
        out = empty
    else:
        gdf = gdf.set_crs(_LONLAT, allow_override=True) if gdf.crs is None else gdf
        keep = gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
        out = gpd.GeoDataFrame(geometry=gdf.geometry[keep].reset_index(drop=True), crs=gdf.crs)
        if area is not None and kind != "pbf":
            out = out[out.geometry.intersects(area)].reset_index(drop=True)
    return out.to_crs(crs) if crs else out


def builtin_town(
    *,
    profile: str = "generic",
    consolidate: bool = True,
    tolerance: float = DEFAULT_TOLERANCE_M,
) -> Network:
    """The built-in default: the real small-town extract inside the pyrosm wheel (offline).

    ``pyrosm.get_data("test_pbf")``: a town in south-eastern Finland, about 2 x 2 km, with a
    motorway, secondary, tertiary and residential roads and about 2,200 buildings. OSM data
    (c) OpenStreetMap contributors, ODbL. The same options give the same (cached) network.

    Parameters
    ----------
    profile
        Road profile name.
    consolidate, tolerance
        As for :func:`graph_to_network`.
    """
    return _builtin_town(str(profile), bool(consolidate), float(tolerance))


@functools.lru_cache(maxsize=2)
def _builtin_town(profile: str, consolidate: bool, tolerance: float) -> Network:
    import pyrosm

    path = pyrosm.get_data("test_pbf")
    return from_file(
        path,
        profile=profile,
        consolidate=consolidate,
        tolerance=tolerance,
        name="builtin-town",
    )
