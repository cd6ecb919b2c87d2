"""Networks built in code: Braess's example, grids and generated regions of any size.

Used by the tests (fixtures with known answers) and by the benchmarks' scale series.
Every random choice takes a ``seed``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay

from .demand import Demand
from .network import Network, Units

__all__ = ["braess", "grid", "region"]


def braess(*, with_middle: bool = True, demand: float = 6.0) -> tuple[Network, Demand]:
    """Braess's paradox network (the collection's ``Braess-Example``).

    Four nodes, trips from node 1 to node 2. Routes 1-3-2 and 1-4-2 each cost
    ``10 x + 50 + x``; the middle link 3->4 (``10 + x``) opens the route 1-3-4-2. With
    6 trips the equilibrium costs 83 per trip without the middle link and 92 with it.

    Parameters
    ----------
    with_middle
        Include the link 3 -> 4.
    demand
        Trips from zone 1 to zone 2.
    """
    # fft * (1 + B * x / cap) with cap = 1: (1e-8, 1e9) gives 10 x; (50, 0.02) gives 50 + x
    links = [
        (1, 3, 1e-8, 1e9),
        (1, 4, 50.0, 0.02),
        (3, 2, 50.0, 0.02),
        (3, 4, 10.0, 0.1),
        (4, 2, 1e-8, 1e9),
    ]
    if not with_middle:
        links = [lk for lk in links if lk[:2] != (3, 4)]
    a, b, fft, alpha = (np.array(c) for c in zip(*links, strict=True))
    net = Network.from_links(
        a,
        b,
        node_ids=[1, 2, 3, 4],
        free_flow_time=fft,
        capacity=1.0,
        alpha=alpha,
        beta=1.0,
        length=100.0,
        name="braess" if with_middle else "braess-without-middle",
    )
    dem = Demand(
        zone_ids=np.array([1, 2]),
        zone_node_ids=np.array([1, 2]),
        matrix=np.array([[0.0, demand], [0.0, 0.0]]),
        internal=np.ones(2, dtype=bool),
        name="braess",
    )
    return net, dem


def grid(
    rows: int,
    cols: int,
    *,
    zones: int | None = None,
    trips_per_zone: float = 400.0,
    capacity: float = 1800.0,
    spacing_km: float = 0.5,
    speed_kmh: float = 40.0,
    seed: int = 0,
) -> tuple[Network, Demand]:
    """A two-way grid of ``rows x cols`` nodes with zones on a random subset of nodes.

    Units are those of an OSM network (minutes, km, km/h, veh/h). Capacities and lengths
    vary by up to +-20% at random; demand is a gravity model on straight-line distance.

    Parameters
    ----------
    zones
        Number of zone nodes (default: about one node in four, at least 2).
    trips_per_zone
        Mean trips produced per zone in the period.
    seed
        Seed for every random choice.
    """
    rng = np.random.default_rng(seed)
    ids = np.arange(1, rows * cols + 1)
    xy = np.array([(c * spacing_km, r * spacing_km) for r in range(rows) for c in range(cols)])
    edges = []
    for r in range(rows):
        for c in range(cols):
            i = r * cols + c
            if c + 1 < cols:
                edges.append((i, i + 1))
            if r + 1 < rows:
                edges.append((i, i + cols))
    return _build(
        xy, edges, ids, zones, trips_per_zone, capacity, speed_kmh, rng, name=f"grid-{rows}x{cols}"
    )


def region(
    num_links: int,
    *,
    zones: int | None = None,
    trips_per_zone: float = 300.0,
    capacity: float = 1500.0,
    speed_kmh: float = 50.0,
    seed: int = 0,
) -> tuple[Network, Demand]:
    """A generated road network of about ``num_links`` directed links, with demand.

    Nodes are random points; roads are a Delaunay triangulation thinned to a road-like
    mean degree while keeping a spanning tree, so every node stays reachable. A few
    straight corridors are primary roads (the rest residential). Coordinates are metres
    in UTM zone 48N (EPSG:32648, where Zigong lies), so the network also feeds the zoning
    and demand model like an OpenStreetMap area. Used for scale series from a few hundred
    to hundreds of thousands of links.
    """
    rng = np.random.default_rng(seed)
    n = max(4, int(num_links / 2.8))
    side = np.sqrt(n) * 0.4  # km, about 400 m between neighbours
    xy = rng.uniform(0, side, size=(n, 2))
    tri = Delaunay(xy)
    s = tri.simplices
    pairs = np.vstack([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]])
    pairs.sort(axis=1)
    pairs = np.unique(pairs, axis=0)
    d = np.linalg.norm(xy[pairs[:, 0]] - xy[pairs[:, 1]], axis=1)
    w = sp.coo_array((d + 1e-9, (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    tree = sp.coo_array(minimum_spanning_tree(w))
    tree_pairs = {
        (int(a), int(b)) if a < b else (int(b), int(a))
        for a, b in zip(tree.row, tree.col, strict=True)
    }
    want = num_links // 2
    others = [tuple(p) for p in pairs.tolist() if tuple(p) not in tree_pairs]
    order = np.argsort(
        d[[i for i, p in enumerate(pairs.tolist()) if tuple(p) not in tree_pairs]]
        * rng.uniform(0.7, 1.3, len(others))
    )
    extra = [others[i] for i in order[: max(0, want - len(tree_pairs))]]
    edges = sorted(tree_pairs) + extra
    return _build(
        xy,
        edges,
        np.arange(1, n + 1),
        zones,
        trips_per_zone,
        capacity,
        speed_kmh,
        rng,
        name=f"region-{2 * len(edges)}",
        crs="EPSG:32648",
        offset=(500_000.0, 3_250_000.0),
    )


def _build(
    xy,
    edges,
    ids,
    zones,
    trips_per_zone,
    capacity,
    speed_kmh,
    rng,
    *,
    name,
    crs=None,
    offset=(0.0, 0.0),
):
    n = len(ids)
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    a = np.concatenate([e[:, 0], e[:, 1]])
    b = np.concatenate([e[:, 1], e[:, 0]])
    length = np.linalg.norm(xy[a] - xy[b], axis=1) * rng.uniform(1.0, 1.2, a.size)
    length = np.maximum(length, 0.01)
    # a few straight corridors become primary roads (faster, two lanes) that cross the
    # area's edge, as trunk roads do: zoning finds its gateways on them
    span = max(float(np.ptp(xy[:, 0])), float(np.ptp(xy[:, 1])), 1e-9)
    mid = 0.5 * (xy[a] + xy[b])
    primary = np.zeros(a.size, dtype=bool)
    for k in range(max(1, round(span / 8.0))):
        cx = float(rng.uniform(xy[:, 0].min(), xy[:, 0].max()))
        cy = float(rng.uniform(xy[:, 1].min(), xy[:, 1].max()))
        primary |= np.abs(mid[:, 0] - cx) < 0.12 if k % 2 == 0 else np.abs(mid[:, 1] - cy) < 0.12
    speed = np.where(primary, speed_kmh * 1.6, speed_kmh)
    lanes = np.where(primary, 2.0, 1.0)
    cap = capacity * lanes * rng.uniform(0.8, 1.2, a.size)
    fft = length / speed * 60.0
    net = Network.from_links(
        ids[a],
        ids[b],
        node_ids=ids,
        free_flow_time=fft,
        capacity=cap,
        alpha=0.15,
        beta=4.0,
        length=length,
        speed=speed,
        lanes=lanes,
        road_class=np.where(primary, "primary", "residential"),
        link_type=np.where(primary, 4, 10),
        x=xy[:, 0] * 1000.0 + offset[0],
        y=xy[:, 1] * 1000.0 + offset[1],
        crs=crs,
        units=Units(time="min", length="km", speed="km/h", flow="veh/h", cost="currency unit"),
        name=name,
    )
    z = zones if zones is not None else min(max(2, n // 4), 2000)
    z = min(z, n)
    zone_idx = np.sort(rng.choice(n, size=z, replace=False))
    prod = trips_per_zone * rng.uniform(0.5, 1.5, z)
    attr = rng.uniform(0.5, 1.5, z)
    dist = np.linalg.norm(xy[zone_idx][:, None, :] - xy[zone_idx][None, :, :], axis=2)
    weight = attr[None, :] * np.exp(-dist / max(dist.mean(), 1e-9))
    np.fill_diagonal(weight, 0.0)
    weight /= np.maximum(weight.sum(axis=1, keepdims=True), 1e-300)
    mat = prod[:, None] * weight
    matrix = sp.csr_array(mat) if z > 3000 else mat
    dem = Demand(
        zone_ids=ids[zone_idx],
        zone_node_ids=ids[zone_idx],
        matrix=matrix,
        internal=True,
        period="peak hour",
        period_hours=1.0,
        name=name,
    )
    return net, dem
