"""Gateways: the external zones where trips enter and leave a study area.

This module owns :class:`Gateways`, the two ways to place them and how they are numbered
after the internal zones:

- :func:`find_gateways` puts them where the area's highest-class roads (motorway and trunk
  where present, else the highest class there is, by :func:`networks.roads.class_rank`)
  meet the study-area boundary, weighted by the capacity of the roads they sit on;
- :func:`gateways_at` takes points the user gives;
- :func:`gateway_zone_ids` and :func:`zone_system`: gateways take the zone ids after the
  largest internal zone id, so a demand lists internal zones first, then gateways.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .network import Network
from .roads import MAIN_CLASSES, class_rank
from .zones import Zones, _boundary, _need_coordinates, largest_scc

__all__ = [
    "GATEWAY_CLASSES",
    "GATEWAY_CLUSTER_DEFAULT_M",
    "GATEWAY_CLUSTER_M",
    "Gateways",
    "find_gateways",
    "gateway_zone_ids",
    "gateways_at",
    "gateways_from_edge",
    "zone_system",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Gateways:
    """External zones: where trips enter and leave the study area.

    Attributes
    ----------
    node_ids : int64 array (g,)
        Network nodes of the gateways.
    x, y : float64 arrays (g,)
        Their coordinates (network CRS).
    road_class : object array (g,)
        The class of the road each gateway sits on.
    ref : object array (g,)
        That road's ``ref`` (``"G85"``...), ``""`` when unknown.
    weight : float64 array (g,)
        Capacity (veh/h) of the links entering the node on that road: gateways share the
        external trips in proportion to it.
    boundary_distance : float64 array (g,)
        Distance from the study-area boundary (network CRS units, metres for OSM).
    crs : str or None
        CRS of the coordinates.
    source : str
        ``"auto"`` (the highest-class roads at the boundary), ``"edge"`` (the roads cut by
        the study-area edge, :mod:`networks.osm.study_area`) or ``"user"``.
    in_nodes, out_nodes : tuple of tuple of int
        Per gateway, the nodes where its traffic enters and leaves the area: a two-way
        road's end is both; a divided road's entering and leaving carriageways are one
        gateway pair. Empty: each gateway enters and leaves at ``node_ids``.
    names : tuple of str
        Road names at the gateways (``""`` where untagged); empty when unknown.
    """

    node_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    road_class: np.ndarray
    ref: np.ndarray
    weight: np.ndarray
    boundary_distance: np.ndarray
    crs: str | None = None
    source: str = "auto"
    in_nodes: tuple[tuple[int, ...], ...] = ()
    out_nodes: tuple[tuple[int, ...], ...] = ()
    names: tuple[str, ...] = ()

    def entries(self, g: int) -> tuple[int, ...]:
        """Node ids where gateway ``g``'s traffic enters the area (its loading nodes)."""
        return self.in_nodes[g] if self.in_nodes else (int(self.node_ids[g]),)

    def exits(self, g: int) -> tuple[int, ...]:
        """Node ids where traffic leaves the area through gateway ``g``."""
        return self.out_nodes[g] if self.out_nodes else (int(self.node_ids[g]),)

    @property
    def num_gateways(self) -> int:
        """Number of gateways."""
        return int(self.node_ids.shape[0])

    def to_geodataframe(self) -> Any:
        """A GeoDataFrame of gateway points."""
        import geopandas as gpd

        return gpd.GeoDataFrame(
            {
                "node_id": self.node_ids,
                "road_class": self.road_class,
                "ref": self.ref,
                "weight": self.weight,
                "boundary_distance": self.boundary_distance,
            },
            geometry=gpd.points_from_xy(self.x, self.y),
            crs=self.crs,
        )


#: Road classes whose boundary crossings become gateways: the roads that carry traffic in
#: and out of a region (ramps cut by the edge belong to their motorway's gateways).
GATEWAY_CLASSES: tuple[str, ...] = MAIN_CLASSES
#: Metres: boundary ends closer than this on the same road (or ramps beside a motorway's
#: ends) are one gateway: the two carriageways of a divided road and their slip roads. An
#: expressway's carriageways can cross a skewed edge far apart and its interchange ramps
#: spread over a kilometre (both seen on north-bayreuth's A 9), hence the larger figure.
GATEWAY_CLUSTER_M: dict[str, float] = {"motorway": 1000.0, "trunk": 1000.0}
#: The same for the other classes (two-way roads: a single end; short slip roads).
GATEWAY_CLUSTER_DEFAULT_M = 250.0


def gateways_from_edge(
    network: Network,
    *,
    classes: Sequence[str] | None = None,
    refs: Sequence[str] | None = None,
    cluster: float | None = None,
) -> Gateways:
    """Gateways where roads cross the study-area edge (``network.extra["boundary_ends"]``).

    Each gateway is a group of boundary ends of the ``classes`` (default
    :data:`GATEWAY_CLASSES`) within ``cluster`` metres (default :data:`GATEWAY_CLUSTER_M`
    by class) of each other on the same road (the
    same ``ref``, or the same class where untagged; a ramp joins the motorway ends beside
    it): the entering and leaving carriageways of a divided road become one gateway pair.
    Weight: the capacity entering the area there (veh/h).
    """
    every = list(network.extra.get("boundary_ends") or [])
    want = set(classes or GATEWAY_CLASSES)
    ends = [e for e in every if e["road_class"] in want]
    if not ends and classes is None and every:
        # an area whose main roads stay inside: its best road class that crosses the edge
        top = min(class_rank(e["road_class"]) for e in every)
        ends = [e for e in every if class_rank(e["road_class"]) == top]
        log.info(
            "%s: no main road crosses the study-area edge; gateways on its %s roads",
            network.name,
            ends[0]["road_class"],
        )
    if refs:
        tags = {str(r).strip().upper() for r in refs}
        hit = [e for e in ends if tags & {s.strip().upper() for s in str(e["ref"]).split(";")}]
        if hit:
            ends = hit
        else:
            log.warning(
                "%s: no road crossing the boundary has ref %s; using all of them",
                network.name,
                ", ".join(sorted(tags)),
            )
    # best first: higher class, more capacity, then node id
    ends.sort(key=lambda e: (class_rank(e["road_class"]), -e["capacity_vph"], e["node_id"]))
    groups: list[list[dict]] = []
    for e in ends:
        near: list[dict] | None = None
        near_d = math.inf
        for g in groups:  # the nearest group of the same road within its radius
            head = g[0]
            same = (e["ref"] and e["ref"] == head["ref"]) or (
                e["road_class"].removesuffix("_link") == head["road_class"].removesuffix("_link")
                and (not e["ref"] or not head["ref"] or e["road_class"].endswith("_link"))
            )
            base = head["road_class"].removesuffix("_link")
            radius = (
                cluster
                if cluster is not None
                else GATEWAY_CLUSTER_M.get(base, GATEWAY_CLUSTER_DEFAULT_M)
            )
            d = min(math.hypot(e["x"] - o["x"], e["y"] - o["y"]) for o in g)
            if same and d <= radius and d < near_d:
                near, near_d = g, d
        if near is None:
            groups.append([e])
        else:
            near.append(e)
    if not groups:
        log.info("%s: no main road crosses the study-area edge; no gateways", network.name)
    boundary = _boundary(network)
    import shapely

    rows = []
    for g in groups:
        ins = tuple(sorted(int(e["node_id"]) for e in g if e["role"] in ("in", "both")))
        outs = tuple(sorted(int(e["node_id"]) for e in g if e["role"] in ("out", "both")))
        head = g[0]
        x = float(np.mean([e["x"] for e in g]))
        y = float(np.mean([e["y"] for e in g]))
        cap = sum(e["capacity_vph"] for e in g if e["role"] in ("in", "both"))
        rows.append((head, ins, outs, x, y, cap))
    node_ids = np.array([(r[1] or r[2])[0] for r in rows], dtype=np.int64)
    xs = np.array([r[3] for r in rows])
    ys = np.array([r[4] for r in rows])
    dist = shapely.distance(boundary.boundary, shapely.points(xs, ys)) if rows else np.zeros(0)
    log.info(
        "%s: %d gateway(s) where roads cross the edge: %s",
        network.name,
        len(rows),
        ", ".join(f"{r[0]['ref'] or r[0]['road_class']}" for r in rows),
    )
    return Gateways(
        node_ids=node_ids,
        x=xs,
        y=ys,
        road_class=np.array([r[0]["road_class"] for r in rows], dtype=object),
        ref=np.array([r[0]["ref"] for r in rows], dtype=object),
        weight=np.maximum(np.array([r[5] for r in rows], dtype=float), 1.0),
        boundary_distance=np.asarray(dist, dtype=float),
        crs=network.crs,
        source="edge",
        in_nodes=tuple(r[1] for r in rows),
        out_nodes=tuple(r[2] for r in rows),
        names=tuple(str(r[0]["name"]) for r in rows),
    )


def find_gateways(
    network: Network,
    *,
    classes: Sequence[str] | None = None,
    refs: Sequence[str] | None = None,
    max_distance: float | None = None,
    min_separation: float | None = None,
) -> Gateways:
    """Gateways where the area's highest-class roads meet the study-area boundary.

    The roads: links of ``classes`` (default: motorway and trunk where the network has
    them, else its highest class; ramps ``*_link`` never count), optionally only those
    whose ``ref`` is in ``refs``. The boundary: ``network.extra["boundary"]`` (the place,
    polygon or bbox the network was cut to; for a whole file the hull of its drivable
    nodes), else the convex hull of the nodes. Nodes of those roads within
    ``max_distance`` of the boundary become gateways, best first (higher class, then
    nearer the boundary), skipping any within ``min_separation`` of one already taken. When
    no node is that near (the strongly connected step can cut a dual carriageway back to
    its last junction), each road's node nearest the boundary is used instead.

    Parameters
    ----------
    network
        A network with coordinates in metres (an OSM network).
    classes
        Road classes to use; see above.
    refs
        Road refs (``"G85"``, ``"S305"``...) to keep; ignored with a warning when no link
        of the classes carries one of them.
    max_distance
        Metres; default a tenth of the area's equivalent radius, 100..1,000 m.
    min_separation
        Metres; default a quarter of the equivalent radius, 200..2,000 m.

    Returns
    -------
    Gateways
        Possibly empty (an area with no road of the classes).
    """
    import shapely

    _need_coordinates(network)
    scc = largest_scc(network)
    rc = np.asarray([str(c) for c in network.road_class], dtype=object)
    base = np.array([c.removesuffix("_link") for c in rc], dtype=object)
    is_ramp = np.array([c.endswith("_link") for c in rc], dtype=bool)
    in_scc = scc[network.init] & scc[network.term]
    usable = in_scc & ~is_ramp
    if classes is None:
        present = set(base[usable & (base != "")].tolist())
        top = {c for c in present if c in ("motorway", "trunk")}
        if not top and present:
            best = min(class_rank(c) for c in present)
            top = {c for c in present if class_rank(c) == best}
        if not present:  # no road classes (e.g. TNTP): the top decile of capacity
            cap = network.capacity[usable]
            thr = np.quantile(cap, 0.9) if cap.size else np.inf
            cand = usable & (network.capacity >= thr)
        else:
            cand = usable & np.isin(base, sorted(top))
    else:
        cand = usable & np.isin(rc, list(classes))
    refs_arr = np.asarray(network.extra.get("ref", [""] * network.num_links), dtype=object)
    if refs:
        want = {str(r).strip().upper() for r in refs}
        has = np.array(
            [bool(want & {p.strip().upper() for p in str(r).split(";")}) for r in refs_arr]
        )
        if np.any(cand & has):
            cand &= has
        else:
            log.warning(
                "%s: no road of the gateway classes has ref %s; using all of them",
                network.name,
                ", ".join(sorted(want)),
            )
    links = np.flatnonzero(cand)
    empty = Gateways(
        node_ids=np.zeros(0, np.int64),
        x=np.zeros(0),
        y=np.zeros(0),
        road_class=np.zeros(0, dtype=object),
        ref=np.zeros(0, dtype=object),
        weight=np.zeros(0),
        boundary_distance=np.zeros(0),
        crs=network.crs,
    )
    if links.size == 0:
        log.info("%s: no road for gateways; the demand will be internal only", network.name)
        return empty
    boundary = _boundary(network)
    radius = math.sqrt(boundary.area / math.pi)
    if max_distance is None:
        max_distance = float(np.clip(0.1 * radius, 100.0, 1000.0))
    if min_separation is None:
        min_separation = float(np.clip(0.25 * radius, 200.0, 2000.0))
    nodes = np.unique(np.concatenate([network.init[links], network.term[links]]))
    ring = boundary.boundary
    dist = shapely.distance(ring, shapely.points(network.x[nodes], network.y[nodes]))
    # per node: best (highest) class, inbound capacity on the gateway roads, refs
    node_rank = np.full(network.num_nodes, 10**6)
    node_class = np.empty(network.num_nodes, dtype=object)
    node_ref = np.full(network.num_nodes, "", dtype=object)
    weight = np.zeros(network.num_nodes)
    for k in links.tolist():
        for i in (int(network.init[k]), int(network.term[k])):
            r = class_rank(rc[k])
            if r < node_rank[i]:
                node_rank[i], node_class[i] = r, rc[k]
            if refs_arr[k] and not node_ref[i]:
                node_ref[i] = str(refs_arr[k])
        weight[network.term[k]] += network.capacity[k]
    near = dist <= max_distance
    if near.any():
        pick, pdist = nodes[near], dist[near]
    else:
        # each road (connected piece of candidate links): its node nearest the boundary
        n = network.num_nodes
        g = sp.csr_array(
            (np.ones(links.size), (network.init[links], network.term[links])), shape=(n, n)
        )
        _, lab = connected_components(g, directed=False)
        nearest: dict[int, tuple[float, int, int]] = {}
        for i, d in zip(nodes.tolist(), dist.tolist(), strict=True):
            key = (d, int(network.node_ids[i]))
            if lab[i] not in nearest or key < nearest[lab[i]][0:2]:
                nearest[lab[i]] = (d, int(network.node_ids[i]), i)
        chosen = sorted(nearest.values())
        pick = np.array([c[2] for c in chosen], dtype=np.int64)
        pdist = np.array([c[0] for c in chosen])
        log.info(
            "%s: no %s node within %.0f m of the study-area boundary; using each road's "
            "node nearest it (%s m)",
            network.name,
            "/".join(sorted({str(node_class[i]) for i in pick})),
            max_distance,
            ", ".join(f"{d:.0f}" for d in pdist),
        )
    order = np.lexsort((network.node_ids[pick], pdist, node_rank[pick]))
    kept: list[int] = []
    kept_d: list[float] = []
    for o in order.tolist():
        i = int(pick[o])
        if all(
            math.hypot(network.x[i] - network.x[j], network.y[i] - network.y[j]) >= min_separation
            for j in kept
        ):
            kept.append(i)
            kept_d.append(float(pdist[o]))
    ki = np.array(kept, dtype=np.int64)
    log.info("%s: %d gateway(s) at nodes %s", network.name, ki.size, network.node_ids[ki].tolist())
    return Gateways(
        node_ids=network.node_ids[ki].copy(),
        x=network.x[ki].copy(),
        y=network.y[ki].copy(),
        road_class=np.array([node_class[i] for i in kept], dtype=object),
        ref=np.array([node_ref[i] for i in kept], dtype=object),
        weight=np.maximum(weight[ki], 1.0),
        boundary_distance=np.array(kept_d),
        crs=network.crs,
        source="auto",
    )


def gateways_at(
    network: Network, points: Sequence[Sequence[float]], *, crs: str | None = "EPSG:4326"
) -> Gateways:
    """Gateways at points the user gives: each at the nearest node of the largest SCC.

    Parameters
    ----------
    network
        The network (with coordinates).
    points
        ``[(x, y), ...]``: lon/lat by default.
    crs
        CRS of ``points``; None means the network's own.
    """
    import shapely

    _need_coordinates(network)
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    if crs is not None and network.crs and crs != network.crs:
        import pyproj

        tf = pyproj.Transformer.from_crs(crs, network.crs, always_xy=True)
        px, py = tf.transform(pts[:, 0], pts[:, 1])
        pts = np.column_stack([px, py])
    if not np.all(np.isfinite(pts)):
        raise ValueError(f"gateway points {points!r} are not finite coordinates in {crs}")
    idx = np.flatnonzero(largest_scc(network))
    chosen = []
    for x, y in pts:
        d = np.hypot(network.x[idx] - x, network.y[idx] - y)
        chosen.append(int(idx[np.lexsort((network.node_ids[idx], d))[0]]))
    ki = np.array(list(dict.fromkeys(chosen)), dtype=np.int64)
    boundary = _boundary(network)
    dist = shapely.distance(boundary.boundary, shapely.points(network.x[ki], network.y[ki]))
    weight = np.array(
        [network.capacity[network.term == i].sum() for i in ki.tolist()], dtype=float
    )
    cls = []
    for i in ki.tolist():
        ks = np.flatnonzero(network.term == i)
        cls.append(
            min((str(network.road_class[k]) for k in ks), key=class_rank, default="")
            if ks.size
            else ""
        )
    return Gateways(
        node_ids=network.node_ids[ki].copy(),
        x=network.x[ki].copy(),
        y=network.y[ki].copy(),
        road_class=np.array(cls, dtype=object),
        ref=np.array([""] * ki.size, dtype=object),
        weight=np.maximum(weight, 1.0),
        boundary_distance=np.asarray(dist, dtype=float),
        crs=network.crs,
        source="user",
    )


def gateway_zone_ids(zones: Zones, gateways: Gateways) -> np.ndarray:
    """Zone ids given to gateways: consecutive after the largest internal zone id."""
    start = int(zones.zone_ids.max()) + 1 if zones.num_zones else 1
    return np.arange(start, start + gateways.num_gateways, dtype=np.int64)


def zone_system(
    zones: Zones, gateways: Gateways | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zone ids, zone nodes and the internal mask of the zones followed by the gateways."""
    if gateways is None or gateways.num_gateways == 0:
        return zones.zone_ids.copy(), zones.node_ids.copy(), np.ones(zones.num_zones, dtype=bool)
    ids = np.concatenate([zones.zone_ids, gateway_zone_ids(zones, gateways)])
    nodes = np.concatenate([zones.node_ids, gateways.node_ids])
    internal = np.concatenate(
        [np.ones(zones.num_zones, dtype=bool), np.zeros(gateways.num_gateways, dtype=bool)]
    )
    return ids, nodes, internal
