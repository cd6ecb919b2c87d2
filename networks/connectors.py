"""Zone connectors: every zone loads onto the network at several nodes, as in practice.

:func:`connect` adds one centroid node per zone (internal zones and gateways) and its
connector links, and returns the network the demand is assigned on. Centroids are
``no_thru`` nodes (trips start and end there, never pass through), so a connector never
becomes a shortcut between two roads.

Internal zones connect to up to :data:`CONNECTORS_PER_ZONE` nodes of their catchment, both
ways. A node can load a zone when it lies on a two-way road of :data:`LOADING_CLASSES`
(never a motorway, a ramp or only one carriageway of a divided road), joins at least two
other nodes (never a dead end) and belongs to the network's largest strongly connected
component. The first is the best such node by road class and then nearness to the zone's
centre (its settlement point, or the centre of its polygon or k-means cluster); each next
one is the best at least :data:`CONNECTOR_SEPARATION_M` from those taken, so that the
connectors spread over the zone's main roads. A connector's time is its straight length
times :data:`CONNECTOR_CIRCUITY` at :data:`CONNECTOR_SPEED_KMH`; it has no capacity limit
(BPR ``alpha = 0``). A zone whose catchment has fewer than :data:`MIN_CONNECTORS` loading
nodes takes the nearest ones beyond it. Gateways connect at no time to the nodes where their road enters and
leaves the area (:class:`networks.gateways.Gateways`), from a centroid drawn just outside.

Connector links have ``road_class == "connector"``; they are never upgrade candidates and
carry no counts. Centroid node ids are ``-zone_id`` (internal zones 1..z, then gateways).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InvalidNetworkError
from .gateways import Gateways, gateway_zone_ids
from .network import Network
from .roads import class_rank
from .zones import Zones, largest_scc

__all__ = [
    "CONNECTOR",
    "CONNECTORS_PER_ZONE",
    "CONNECTOR_CIRCUITY",
    "CONNECTOR_SEPARATION_M",
    "CONNECTOR_SPEED_KMH",
    "LOADING_CLASSES",
    "ZoneSystem",
    "connect",
    "is_connector",
    "loading_nodes",
]

log = logging.getLogger(__name__)

#: ``road_class`` of connector links.
CONNECTOR = "connector"
#: Connectors per internal zone (at most): two to four is common modelling practice, one
#: per main road leaving the settlement; three covers a village on a crossroads.
CONNECTORS_PER_ZONE = 3
#: Speed on a connector (km/h): the local streets between a zone's homes and its main road.
CONNECTOR_SPEED_KMH = 25.0
#: Route length over straight length on a connector (local street detours).
CONNECTOR_CIRCUITY = 1.3
#: Metres between two loading nodes of one zone at least.
CONNECTOR_SEPARATION_M = 150.0
#: Loading nodes every zone gets where the network has them: a zone behind one node has no
#: second way in or out (its resilience and its loading are artefacts of that one node).
MIN_CONNECTORS = 2
#: Road classes a zone may load onto.
LOADING_CLASSES: tuple[str, ...] = (
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
    "living_street",
    "road",
)
#: Metres beyond the study-area edge where a gateway's centroid is drawn (its connectors
#: take no time: the road outside the area is not modelled).
GATEWAY_OFFSET_M = 200.0
#: Capacity of a connector (veh/h): never binding (its cost does not depend on the flow).
CONNECTOR_CAPACITY = 1e6


@dataclass(frozen=True, eq=False)
class ZoneSystem:
    """The zones as the demand sees them: centroids and where each one loads.

    Attributes
    ----------
    zone_ids : int64 array (z + g,)
        Internal zones, then gateways.
    centroid_ids : int64 array (z + g,)
        Their centroid node ids (``-zone_id``).
    internal : bool array (z + g,)
        True for internal zones.
    loading : tuple of tuple of int
        Per zone, the road node ids its connectors reach.
    """

    zone_ids: np.ndarray
    centroid_ids: np.ndarray
    internal: np.ndarray
    loading: tuple[tuple[int, ...], ...]


def is_connector(network: Network) -> np.ndarray:
    """Boolean mask (m,) of the connector links."""
    return np.asarray(network.road_class == CONNECTOR, dtype=bool)


def loading_nodes(network: Network) -> np.ndarray:
    """Boolean mask (n,) of the nodes a zone may load at (see the module docstring).

    Where no node qualifies (a network without two-way roads of :data:`LOADING_CLASSES`),
    every node of the largest strongly connected component does.
    """
    rc = np.asarray([str(c) for c in network.road_class], dtype=object)
    scc = largest_scc(network)
    ok = _two_way_nodes(network, np.isin(rc, LOADING_CLASSES)) & scc & ~network.no_thru
    return ok if ok.any() else scc & ~network.no_thru


def _two_way_nodes(network: Network, usable: np.ndarray) -> np.ndarray:
    """Nodes on a two-way road of the usable links, with at least two neighbours."""
    n = network.num_nodes
    a, b = network.init[usable], network.term[usable]
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    two_way = np.zeros(n, dtype=bool)
    for u, v in pairs:
        if (v, u) in pairs:
            two_way[u] = two_way[v] = True
    nbrs: list[set[int]] = [set() for _ in range(n)]
    for u, v in pairs:
        nbrs[u].add(v)
        nbrs[v].add(u)
    degree = np.array([len(s) for s in nbrs])
    return two_way & (degree >= 2)


def _choose(
    cand: np.ndarray,
    rank: np.ndarray,
    network: Network,
    x: float,
    y: float,
    k: int,
    separation: float,
) -> list[int]:
    d = np.hypot(network.x[cand] - x, network.y[cand] - y)
    order = cand[np.lexsort((network.node_ids[cand], d, rank[cand]))]
    chosen: list[int] = []
    for i in order.tolist():
        if all(
            math.hypot(network.x[i] - network.x[j], network.y[i] - network.y[j]) >= separation
            for j in chosen
        ):
            chosen.append(i)
            if len(chosen) == k:
                break
    return chosen


def connect(
    network: Network,
    zones: Zones,
    gateways: Gateways | None,
    *,
    per_zone: int = CONNECTORS_PER_ZONE,
    speed_kmh: float = CONNECTOR_SPEED_KMH,
    circuity: float = CONNECTOR_CIRCUITY,
    separation: float = CONNECTOR_SEPARATION_M,
) -> tuple[Network, ZoneSystem]:
    """Add the zones' centroids and connectors to a network (see the module docstring).

    Parameters
    ----------
    network
        The road network (metres, minutes, km as OpenStreetMap networks have them).
    zones
        The internal zones (their ``node_zone`` catchments and centres).
    gateways
        The external zones, or None.
    per_zone
        Connectors per internal zone at most (>= 1).
    speed_kmh, circuity, separation
        Connector speed (km/h), route over straight length, and metres between the
        loading nodes of one zone.

    Returns
    -------
    network, zone_system
        The network with centroids and connectors appended (road links and nodes keep
        their positions), and the zone system.
    """
    if per_zone < 1:
        raise ValueError(f"per_zone={per_zone}: every zone needs at least one connector")
    if speed_kmh <= 0 or circuity < 1:
        raise ValueError("connector speed must be > 0 km/h and circuity >= 1")
    rc = np.asarray([str(c) for c in network.road_class], dtype=object)
    if np.any(rc == CONNECTOR):
        raise InvalidNetworkError(f"network '{network.name}' already has zone connectors")
    usable = np.isin(rc, LOADING_CLASSES)
    ok = loading_nodes(network)
    rank = np.full(network.num_nodes, 10**6)
    for k in np.flatnonzero(usable).tolist():
        r = class_rank(rc[k])
        for i in (int(network.init[k]), int(network.term[k])):
            rank[i] = min(rank[i], r)
    z = zones.num_zones
    loading: list[tuple[int, ...]] = []
    c_init: list[int] = []  # new links as (tail, head) in node positions; centroids after n
    c_term: list[int] = []
    c_len: list[float] = []
    n = network.num_nodes
    every = np.flatnonzero(ok)
    least = min(MIN_CONNECTORS, per_zone)
    for k in range(z):
        mine = np.flatnonzero(ok & (zones.node_zone == k))
        chosen = _choose(mine, rank, network, zones.x[k], zones.y[k], per_zone, separation)
        if len(chosen) < least:  # a small catchment: the nearest loading nodes beyond it,
            # spread apart where they can be, else simply the nearest
            d = np.hypot(network.x[every] - zones.x[k], network.y[every] - zones.y[k])
            near = every[np.argsort(d, kind="stable")].tolist()
            for spread in (separation, 0.0):
                for i in near:
                    if len(chosen) >= least:
                        break
                    if i not in chosen and all(
                        math.hypot(network.x[i] - network.x[j], network.y[i] - network.y[j])
                        >= spread
                        for j in chosen
                    ):
                        chosen.append(i)
        loading.append(tuple(int(network.node_ids[i]) for i in chosen))
        for i in chosen:
            dist = math.hypot(network.x[i] - zones.x[k], network.y[i] - zones.y[k])
            c_init += [n + k, i]
            c_term += [i, n + k]
            c_len += [dist * circuity / 1000.0] * 2
    g = 0 if gateways is None else gateways.num_gateways
    gx = np.zeros(g)
    gy = np.zeros(g)
    for j in range(g):
        assert gateways is not None
        ins = network.node_indices(list(gateways.entries(j)), what="gateway node")
        outs = network.node_indices(list(gateways.exits(j)), what="gateway node")
        loading.append(
            tuple(int(v) for v in dict.fromkeys([*gateways.entries(j), *gateways.exits(j)]))
        )
        gx[j], gy[j] = _outside(network, gateways.x[j], gateways.y[j])
        for i in ins.tolist():
            c_init.append(n + z + j)
            c_term.append(i)
            c_len.append(math.hypot(network.x[i] - gx[j], network.y[i] - gy[j]) / 1000.0)
        for i in outs.tolist():
            c_init.append(i)
            c_term.append(n + z + j)
            c_len.append(math.hypot(network.x[i] - gx[j], network.y[i] - gy[j]) / 1000.0)
    gw_ids = (
        gateway_zone_ids(zones, gateways) if gateways is not None and g else np.zeros(0, np.int64)
    )
    zone_ids = np.concatenate([zones.zone_ids, gw_ids]).astype(np.int64)
    centroid_ids = -zone_ids
    if np.isin(centroid_ids, network.node_ids).any():
        raise InvalidNetworkError(
            f"network '{network.name}' already uses node ids {(-zone_ids).tolist()[:3]}...; "
            "cannot add zone centroids"
        )
    length = np.asarray(c_len)
    gate = np.array([a >= n + z or b >= n + z for a, b in zip(c_init, c_term, strict=True)])
    fft = np.where(gate, 0.0, length / speed_kmh * 60.0)
    out = _append(
        network,
        node_ids=centroid_ids,
        x=np.concatenate([zones.x, gx]),
        y=np.concatenate([zones.y, gy]),
        init=np.asarray(c_init, dtype=np.int64),
        term=np.asarray(c_term, dtype=np.int64),
        length=length,
        fft=fft,
        speed=np.where(gate, 0.0, speed_kmh),
        names=[
            _zone_label(zones, gateways, t, h, n, z) for t, h in zip(c_init, c_term, strict=True)
        ],
    )
    internal = np.concatenate([np.ones(z, dtype=bool), np.zeros(g, dtype=bool)])
    single = [zones.zone_ids[k] for k in range(z) if len(loading[k]) < 2]
    log.info(
        "%s: %d connectors for %d zones and %d gateways (%d zone(s) load at one node only)",
        network.name,
        len(c_init),
        z,
        g,
        len(single),
    )
    return out, ZoneSystem(zone_ids, centroid_ids, internal, tuple(loading))


def _outside(network: Network, x: float, y: float) -> tuple[float, float]:
    """A gateway centroid :data:`GATEWAY_OFFSET_M` beyond the boundary, away from the centre."""
    from .zones import _boundary

    c = _boundary(network).centroid
    dx, dy = x - c.x, y - c.y
    norm = math.hypot(dx, dy)
    if norm == 0:
        return x + GATEWAY_OFFSET_M, y
    return x + dx / norm * GATEWAY_OFFSET_M, y + dy / norm * GATEWAY_OFFSET_M


def _zone_label(zones: Zones, gateways: Gateways | None, t: int, h: int, n: int, z: int) -> str:
    c = t if t >= n else h
    k = c - n
    if k < z:
        name = zones.names[k] if zones.names else f"zone {zones.zone_ids[k]}"
        return f"connector {name}"
    j = k - z
    assert gateways is not None
    label = (gateways.ref[j] or (gateways.names[j] if gateways.names else "")) or str(
        gateways.road_class[j]
    )
    return f"connector gateway {label}"


def _append(
    network: Network,
    *,
    node_ids: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    init: np.ndarray,
    term: np.ndarray,
    length: np.ndarray,
    fft: np.ndarray,
    speed: np.ndarray,
    names: Sequence[str],
) -> Network:
    """The network with no-through nodes and uncongested connector links appended."""
    import shapely

    k = init.size
    all_x = np.concatenate([network.x, x])
    all_y = np.concatenate([network.y, y])
    extra: dict[str, Any] = dict(network.extra)
    per_link = {
        "geometry": [
            shapely.LineString([(all_x[a], all_y[a]), (all_x[b], all_y[b])])
            for a, b in zip(init.tolist(), term.tolist(), strict=True)
        ],
        "osm_way_ids": [()] * k,
        "osm_way_dirs": [()] * k,
        "name": list(names),
        "ref": [""] * k,
    }
    for key, vals in per_link.items():
        if key in extra and len(extra[key]) == network.num_links:
            extra[key] = list(extra[key]) + vals
    for key, val in list(extra.items()):  # other per-link arrays: NaN, "" or 0 for connectors
        if (
            key in per_link
            or not isinstance(val, np.ndarray)
            or val.shape[:1] != (network.num_links,)
        ):
            continue
        fill: Any = {"f": np.nan, "O": "", "U": "", "b": False}.get(val.dtype.kind, 0)
        pad = np.full((k, *val.shape[1:]), fill, dtype=val.dtype)
        extra[key] = np.concatenate([val, pad])
    start = int(network.link_ids.max()) + 1 if network.num_links else 1
    return network.replace(
        validate=True,
        node_ids=np.concatenate([network.node_ids, node_ids]),
        x=all_x,
        y=all_y,
        no_thru=np.concatenate([network.no_thru, np.ones(node_ids.size, dtype=bool)]),
        init=np.concatenate([network.init, init]),
        term=np.concatenate([network.term, term]),
        free_flow_time=np.concatenate([network.free_flow_time, fft]),
        capacity=np.concatenate([network.capacity, np.full(k, CONNECTOR_CAPACITY)]),
        alpha=np.concatenate([network.alpha, np.zeros(k)]),
        beta=np.concatenate([network.beta, np.ones(k)]),
        length=np.concatenate([network.length, length]),
        toll=np.concatenate([network.toll, np.zeros(k)]),
        speed=np.concatenate([network.speed, speed]),
        lanes=np.concatenate([network.lanes, np.full(k, np.nan)]),
        link_type=np.concatenate([network.link_type, np.zeros(k, dtype=np.int64)]),
        road_class=np.concatenate([network.road_class, np.full(k, CONNECTOR, dtype=object)]),
        link_ids=np.concatenate([network.link_ids, np.arange(start, start + k)]),
        extra=extra,
    )
