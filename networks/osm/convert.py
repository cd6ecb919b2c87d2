"""The conversion behind every OpenStreetMap reader: a raw road graph -> :class:`Network`.

:func:`graph_to_network` (the steps are in :mod:`networks.osm`'s docstring), the CRS and id
helpers (:func:`utm_crs`, :func:`consolidated_node_id`) and the osmnx plumbing the readers
share.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from ..errors import NoDrivableRoadsError
from ..network import OSM_UNITS, Network
from ..roads import (
    EXCLUDED_SERVICE,
    LINK_TYPE,
    RoadProfile,
    car_allowed,
    direction_lanes,
    direction_speed,
    get_profile,
    tag_text,
    tag_values,
    way_class,
)
from . import study_area

log = logging.getLogger("networks.osm")


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
    saved_nodes = list(s.useful_tags_node)
    s.useful_tags_node = list(dict.fromkeys([*saved_nodes, "name"]))
    try:
        from .datasets import cache_dir

        s.cache_folder = str(cache_dir() / "osmnx")
    except Exception:  # pragma: no cover - pooch missing: keep osmnx's own folder
        pass
    try:
        yield ox
    finally:
        s.useful_tags_way, s.cache_folder = saved
        s.useful_tags_node = saved_nodes


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
    extent: Any = None,
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
        drivable nodes before any is dropped, joined with ``extent``.
    extent
        The area the data were cut to (an extract's ``<bounds>``, lon/lat polygon), where
        known: roads that reach its edge cross the study-area boundary.
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
        if extent is not None:
            boundary = shapely.union(boundary, extent).convex_hull
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

    # motorway junctions (highway=motorway_junction nodes), before consolidation renames
    raw_junctions = {
        int(n): (tag_text(d.get("ref")) or "", tag_text(d.get("name")) or "")
        for n, d in H.nodes(data=True)
        if tag_text(d.get("highway")) == "motorway_junction"
    }

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

    # 6: self-loops carry no trips; then the core (the largest strongly connected
    # component) with the edge pieces of the main roads that cross the boundary
    H.remove_edges_from([(u, v, k) for u, v, k in H.edges(keys=True) if u == v])
    before = len(H)

    def capacity_of(d: Mapping[str, Any]) -> float:
        cls = tag_text(d.get("_class")) or "road"
        return float(np.min(tag_values(d.get("_lanes")))) * prof.capacity_per_lane(cls)

    H, ends, trimmed = study_area.trim(H, boundary_xy, capacity_of=capacity_of)
    if len(H) == 0:
        raise NoDrivableRoadsError(
            f"{source}: the drivable roads form no strongly connected network "
            "(every road is one-way away from the rest); check the area or file"
        )
    dropped = before - len(H)
    log.info(
        "%s: kept %d of %d nodes (the largest strongly connected component and %d road "
        "ends at the study-area edge); trimmed %s",
        name,
        len(H),
        before,
        len(ends),
        ", ".join(f"{c} {r['links']} links {r['km']:.2f} km" for c, r in trimmed.items())
        or "nothing",
    )
    members = {k: v for k, v in members.items() if k in H}
    junctions = {
        n: {"ref": ref, "name": nm} for n, (ref, nm) in _junctions(H, raw_junctions).items()
    }

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
        for s in tag_values(d.get("_sense")):
            sense.setdefault(int(s[:-1]), set()).add(s[-1])
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
        "boundary_ends": [e.as_dict() for e in ends],
        "trimmed": trimmed,
        "motorway_junctions": junctions,
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


def _junctions(H: Any, raw: Mapping[int, tuple[str, str]]) -> dict[int, tuple[str, str]]:
    """The motorway junctions that survived, under their (possibly consolidated) ids."""
    out = {}
    for n, d in H.nodes(data=True):
        orig = d.get("osmid_original", n)
        if isinstance(orig, str):
            orig = json.loads(orig) if orig.startswith("[") else int(orig)
        members = orig if isinstance(orig, (list, tuple)) else [orig]
        hits = [raw[int(m)] for m in members if int(m) in raw]
        if hits:
            out[int(n)] = hits[0]
    return out


def _project_geom(geom: Any, src: str, dst: str) -> Any:
    import pyproj
    import shapely

    tf = pyproj.Transformer.from_crs(src, dst, always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(tf.transform(xy[:, 0], xy[:, 1])))
