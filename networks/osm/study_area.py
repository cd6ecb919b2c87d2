"""The study area's edge: which roads cross it, and what strong connectivity may trim.

An extract cuts every road that leaves it. A two-way road becomes a dead end at the edge
(still strongly connected to the rest); a motorway or dual carriageway becomes two one-way
pieces, one that starts at the edge (traffic *enters*) and one that ends there (traffic
*leaves*), neither strongly connected to the rest on its own. Keeping only the largest
strongly connected component would cut such roads back to their last junction inside the
area: the region would lose its expressway, the very thing external access is about.

:func:`trim` keeps the largest strongly connected component (the *core*) and, for the
roads of :data:`BOUNDARY_CLASSES` that cross the edge, the one-way pieces between the edge
and the core: those fed from a node where a road enters at the edge and those draining
into a node where one leaves. Those edge nodes are the area's *boundary ends*
(:class:`BoundaryEnd`): with a gateway zone behind them (:mod:`networks.gateways`, an
entering and a leaving carriageway as one gateway pair) every trip keeps a path, although
the pieces are not strongly connected inside the area. A carriageway that crosses the area
from edge to edge without a junction inside is kept too (it carries through traffic).
Everything else outside the core is dropped, and what was dropped is reported by road class
(links and km).

A node is *at the edge* when it lies within :data:`EDGE_TOLERANCE_M` of the study-area
boundary's ring or outside the area.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..roads import MAIN_CLASSES, tag_text, tag_values

__all__ = ["BOUNDARY_CLASSES", "EDGE_TOLERANCE_M", "BoundaryEnd", "trim"]

#: Road classes whose one-way pieces between the area's edge and its core are kept (the
#: roads that carry traffic into and out of a region; minor one-way bits are not).
BOUNDARY_CLASSES: tuple[str, ...] = MAIN_CLASSES

#: Metres from the study-area boundary within which a road's last node counts as cut by
#: the edge. An extract keeps the nodes inside its box, so a cut road ends at its last node
#: inside: up to one node spacing from the edge (motorway nodes lie 200-300 m apart on
#: straight sections, measured on north-bayreuth).
EDGE_TOLERANCE_M = 300.0


@dataclass(frozen=True)
class BoundaryEnd:
    """A node where a road crosses the study-area edge.

    Attributes
    ----------
    node_id : int
        The node (network node id).
    role : str
        ``"in"`` (a one-way road enters the area here), ``"out"`` (one leaves) or
        ``"both"`` (a two-way road ends here).
    road_class : str
        Class of the road at the node.
    ref, name : str
        That road's ``ref`` and ``name`` (``""`` when untagged).
    x, y : float
        Coordinates (network CRS, metres).
    capacity_vph : float
        Capacity of the road's links at the node (veh/h, the larger direction).
    """

    node_id: int
    role: str
    road_class: str
    ref: str
    name: str
    x: float
    y: float
    capacity_vph: float

    def as_dict(self) -> dict[str, Any]:
        """The end as plain JSON-ready values."""
        return {
            "node_id": self.node_id,
            "role": self.role,
            "road_class": self.road_class,
            "ref": self.ref,
            "name": self.name,
            "x": self.x,
            "y": self.y,
            "capacity_vph": self.capacity_vph,
        }


def _reach(adj: Mapping[Any, Iterable[Any]], start: Iterable[Any]) -> set:
    seen = set(start)
    q = deque(seen)
    while q:
        u = q.popleft()
        for v in adj[u]:
            if v not in seen:
                seen.add(v)
                q.append(v)
    return seen


def _edge_text(d: Mapping[str, Any], key: str) -> str:
    return "; ".join(dict.fromkeys(str(x) for x in tag_values(d.get(key))))


def trim(
    H: Any,
    boundary: Any,
    *,
    capacity_of: Any,
    edge_tolerance: float = EDGE_TOLERANCE_M,
    classes: Iterable[str] = BOUNDARY_CLASSES,
) -> tuple[Any, list[BoundaryEnd], dict[str, dict[str, float]]]:
    """Keep the core and the edge pieces of the main roads; find the boundary ends.

    Parameters
    ----------
    H
        A projected networkx ``MultiDiGraph`` (metres) with ``_class`` on its edges.
    boundary
        The study area (shapely polygon, same CRS).
    capacity_of
        ``edge data -> capacity (veh/h)`` of one link.
    edge_tolerance
        Metres (see the module docstring).
    classes
        Road classes whose edge pieces are kept.

    Returns
    -------
    graph, ends, trimmed
        The kept subgraph; the boundary ends on it (sorted by node id); and what was
        dropped: road class -> ``{"links": count, "km": length}``.
    """
    import networkx as nx
    import shapely

    keep_classes = set(classes)
    comps = [c for c in nx.strongly_connected_components(H) if len(c) > 1]
    if not comps:
        return H.subgraph([]).copy(), [], _dropped(H, set())
    core = max(comps, key=lambda c: (len(c), -min(c)))
    ring = boundary.boundary
    nodes = list(H.nodes)
    pts = shapely.points([H.nodes[n]["x"] for n in nodes], [H.nodes[n]["y"] for n in nodes])
    dist = shapely.distance(ring, pts)
    inside = shapely.contains(boundary, pts)
    at_edge = {
        n for n, d, ins in zip(nodes, dist, inside, strict=True) if d <= edge_tolerance or not ins
    }

    def main_edges(n: Any, out: bool) -> list[Mapping[str, Any]]:
        it = H.out_edges(n, data=True) if out else H.in_edges(n, data=True)
        return [d for *_, d in it if tag_text(d.get("_class")) in keep_classes]

    sources = [n for n in at_edge if H.in_degree(n) == 0 and main_edges(n, True)]
    sinks = [n for n in at_edge if H.out_degree(n) == 0 and main_edges(n, False)]
    succ = {n: list(H.successors(n)) for n in H.nodes}
    pred = {n: list(H.predecessors(n)) for n in H.nodes}
    to_core = _reach(pred, core)  # nodes that reach the core
    from_core = _reach(succ, core)  # nodes the core reaches
    from_sources = _reach(succ, sources)
    to_sinks = _reach(pred, sinks)
    fed = from_sources & to_core
    drained = to_sinks & from_core
    through = from_sources & to_sinks  # a carriageway crossing the area without a junction
    keep = set(core) | fed | drained | through
    dropped = _dropped(H, keep)
    G = H.subgraph(keep).copy()
    ends = []
    for n in sorted(at_edge & keep):
        nbrs = set(G.successors(n)) | set(G.predecessors(n))
        if G.in_degree(n) == 0 and n in from_sources:
            role, data = "in", main_edges(n, True)
        elif G.out_degree(n) == 0 and n in to_sinks:
            role, data = "out", main_edges(n, False)
        elif n in core and (len(nbrs) == 1 or _turnaround(G, n)):
            # a two-way road's dead end, or the two carriageways of a divided road merged
            # into one node at the edge (consolidation): traffic turns there, in and out
            role = "both"
            data = [d for *_, d in G.out_edges(n, data=True)]
        else:
            continue
        if not data:
            continue
        d0 = max(data, key=capacity_of)
        ends.append(
            BoundaryEnd(
                node_id=int(n),
                role=role,
                road_class=tag_text(d0.get("_class")) or "road",
                ref=_edge_text(d0, "ref"),
                name=_edge_text(d0, "name"),
                x=float(G.nodes[n]["x"]),
                y=float(G.nodes[n]["y"]),
                capacity_vph=float(max(capacity_of(d) for d in data)),
            )
        )
    return G, ends, dropped


def _turnaround(G: Any, n: Any) -> bool:
    """One link in, one link out, to two different nodes, turning back (a U-turn)."""
    if G.in_degree(n) != 1 or G.out_degree(n) != 1:
        return False
    (a,) = list(G.predecessors(n))
    (b,) = list(G.successors(n))
    if a == b:
        return False
    x, y = G.nodes[n]["x"], G.nodes[n]["y"]
    u = (x - G.nodes[a]["x"], y - G.nodes[a]["y"])
    w = (G.nodes[b]["x"] - x, G.nodes[b]["y"] - y)
    norm = (u[0] ** 2 + u[1] ** 2) ** 0.5 * (w[0] ** 2 + w[1] ** 2) ** 0.5
    return norm > 0 and (u[0] * w[0] + u[1] * w[1]) / norm < -0.5


def _dropped(H: Any, keep: set) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for u, v, d in H.edges(data=True):
        if u in keep and v in keep:
            continue
        cls = tag_text(d.get("_class")) or "road"
        row = out.setdefault(cls, {"links": 0, "km": 0.0})
        row["links"] += 1
        row["km"] += float(np.sum(tag_values(d.get("length")) or [0.0])) / 1000.0
    return dict(sorted(out.items()))
