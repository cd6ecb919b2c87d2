"""Candidate upgrades at the scale of a region: corridors, sections, gap-closing links.

:func:`regional_candidates` proposes what a county plan is made of, each option priced
from the per-km tables of :mod:`optimizer.costs` (by class and terrain), screened by the
protected areas (:mod:`optimizer.protect`), ranked by its estimated effect on the
objective per unit cost:

``corridor``
    The route between two neighbouring settlements, or between a settlement and its
    nearest access target of each class (:mod:`optimizer.access`), upgraded *as a whole*
    to a design standard (:data:`STANDARDS`: a JTG B01-2014 class-2 highway by default):
    every link of the fastest route at today's equilibrium below the standard gets the
    standard's class, lanes and design speed for its terrain (never lowering any of them).
    Links that a better-ranked corridor already upgrades are left to it, so no link is
    paid twice; what remains must be at least :data:`MIN_CORRIDOR_KM` long. Each corridor
    comes with exclusive variants (same ``group``): the other standards of ``variants``
    (a cheaper class-3 upgrade by default) and, where a gap-closing new road joins the same
    two ends, that bypass.
``section``
    Whole road sections the equilibrium shows congested (links at v/c >= ``vc_threshold``
    of one road, joined along it while its links stay above 0.8 of the threshold, both
    directions): one more lane in each direction, or two (exclusive).
``link``
    New roads that close gaps: pairs of neighbouring settlements (or a settlement and an
    access target of a trunk or primary class) whose network route is longer than
    ``detour_factor`` times the straight line, built to the standard along an alignment
    from :func:`networks.alignment.align` (terrain-following over the DEM where the network
    has one, around forbidden protected areas, or straight).
``interchange``
    Likewise from a settlement to the local end of the nearest motorway interchange.

A corridor never starts or ends inside a zone's connectors; new roads end at road nodes
that are not on grade-separated roads, not zone centroids and not cut by the study edge.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from networks.alignment import align
from networks.connectors import CONNECTOR
from networks.demand import Demand
from networks.network import Network, csgraph
from networks.roads import BPR_BY_CLASS, PROFILES, class_rank
from networks.terrain import capacity_factor, has_terrain

from .access import (
    ACCESS_PENALTY,
    AccessTargets,
    access_figures,
    access_times,
    default_access_targets,
)
from .access import access_targets as find_access_targets
from .assignment import assign
from .candidates import CandidateSet, _road_profile
from .connectivity import zone_roles
from .costs import CIRCUITY_FACTOR, DEFAULT_COSTS, TERRAIN_CLASS_FACTOR, CostTable
from .errors import InvalidCandidatesError, OptionError
from .generate import (
    VC_THRESHOLD,
    _assemble,
    _check_generate_inputs,
    _Context,
    _Proposal,
    _roads,
    _screened,
    _seg_km,
    _select,
)
from .results import AssignmentResult

__all__ = [
    "CORRIDOR_NEIGHBOURS",
    "CORRIDOR_STANDARD",
    "CORRIDOR_VARIANTS",
    "MIN_CORRIDOR_KM",
    "REGIONAL_MAX_CANDIDATES",
    "REGIONAL_SOURCES",
    "STANDARDS",
    "Standard",
    "parse_standard",
    "regional_candidates",
]

log = logging.getLogger(__name__)

#: The generators of :func:`regional_candidates`, in the order they are reserved a place.
REGIONAL_SOURCES: tuple[str, ...] = ("corridor", "section", "link", "interchange")

#: How many candidates a regional study offers by default.
REGIONAL_MAX_CANDIDATES = 40

#: Each settlement's corridors go to this many nearest settlements (straight line).
CORRIDOR_NEIGHBOURS = 2

#: A corridor upgrade changes at least this many km of road (shorter ones are spot fixes).
MIN_CORRIDOR_KM = 1.0

#: Gap-closing new roads: the network route between the ends is more than this times the
#: straight line (rural roads wind at 1.2-1.4; 1.6 means the road goes round something).
GAP_DETOUR_FACTOR = 1.6
#: ... and the ends are this far apart in a straight line (km).
GAP_MIN_KM = 0.5
GAP_MAX_KM = 10.0

#: Lanes added per direction by the exclusive options of a congested section.
SECTION_LANES: tuple[int, ...] = (1, 2)


@dataclass(frozen=True)
class Standard:
    """A design standard a road is upgraded or built to.

    Attributes
    ----------
    name : str
        Short name (``jtg-2``).
    label : str
        For people (``JTG B01-2014 class-2 highway``).
    road_class : str
        The OSM class the road gets (its cost row and capacity per lane in the profile).
    lanes : int
        Lanes per direction.
    speed_kmh : mapping str -> float
        Design speed by terrain class (``plain``, ``rolling``, ``mountainous``), km/h.
    """

    name: str
    label: str
    road_class: str
    lanes: int
    speed_kmh: Mapping[str, float]

    def speed(self, terrain: str) -> float:
        """Design speed (km/h) in a terrain class (plain where unknown)."""
        return float(self.speed_kmh.get(terrain, self.speed_kmh["plain"]))

    def describe(self) -> str:
        """``JTG B01-2014 class-2 highway (80/60/60 km/h, 1 lane each way)``."""
        v = "/".join(f"{self.speed_kmh[t]:g}" for t in ("plain", "rolling", "mountainous"))
        lanes = f"{self.lanes} lane{'s' if self.lanes > 1 else ''} each way"
        return f"{self.label} ({v} km/h plain/rolling/mountainous, {lanes})"


#: Named standards. JTG B01-2014 (Technical Standard of Highway Engineering, Ministry of
#: Transport of China), section 3: design speeds of class-1 highways 100/80/60 km/h, of
#: class-2 80/60, of class-3 40/30 (the higher in plain terrain, the lower in mountainous
#: terrain, rolling terrain taking the lower of class 2 and the middle of class 1); class-1
#: highways have four lanes or more, classes 2 and 3 two. They map onto OSM classes
#: ``primary``, ``secondary`` and ``tertiary`` for costs and capacities per lane.
STANDARDS: Mapping[str, Standard] = {
    "jtg-1": Standard(
        "jtg-1",
        "JTG B01-2014 class-1 highway",
        "primary",
        2,
        {"plain": 100.0, "rolling": 80.0, "mountainous": 60.0},
    ),
    "jtg-2": Standard(
        "jtg-2",
        "JTG B01-2014 class-2 highway",
        "secondary",
        1,
        {"plain": 80.0, "rolling": 60.0, "mountainous": 60.0},
    ),
    "jtg-3": Standard(
        "jtg-3",
        "JTG B01-2014 class-3 highway",
        "tertiary",
        1,
        {"plain": 40.0, "rolling": 40.0, "mountainous": 30.0},
    ),
}

#: The default standard of corridor upgrades and new roads ...
CORRIDOR_STANDARD = "jtg-2"
#: ... and the standards of the exclusive variants offered on each corridor.
CORRIDOR_VARIANTS: tuple[str, ...] = ("jtg-3", "jtg-1")

_SPEC = re.compile(r"^([a-z_]+):(\d+):(\d+(?:\.\d+)?)(?:/(\d+(?:\.\d+)?))?(?:/(\d+(?:\.\d+)?))?$")


def parse_standard(text: str | Standard) -> Standard:
    """A named standard (:data:`STANDARDS`) or a user's ``CLASS:LANES:SPEED[/SPEED[/SPEED]]``.

    ``secondary:1:80/60`` is an OSM class, lanes per direction and design speeds (km/h) in
    plain[, rolling[, mountainous]] terrain (a missing one repeats the last given).

    Raises
    ------
    OptionError
        For an unknown name or a malformed spec.
    """
    if isinstance(text, Standard):
        return text
    key = str(text).strip().lower()
    if key in STANDARDS:
        return STANDARDS[key]
    m = _SPEC.match(key)
    if not m or int(m.group(2)) < 1 or m.group(1) not in PROFILES["generic"].table:
        raise OptionError(
            "corridor_standard",
            f"unknown standard {text!r}: use one of {', '.join(STANDARDS)} or "
            "CLASS:LANES:SPEED[/SPEED[/SPEED]] with an OSM road class, lanes per direction and "
            "design speeds in km/h for plain[/rolling[/mountainous]] terrain, e.g. "
            "secondary:1:80/60",
        )
    speeds = [float(v) for v in m.groups()[2:] if v is not None]
    speeds += [speeds[-1]] * (3 - len(speeds))
    return Standard(
        key,
        f"{m.group(1)} road to the study's standard",
        m.group(1),
        int(m.group(2)),
        dict(zip(("plain", "rolling", "mountainous"), speeds, strict=True)),
    )


# ---------------------------------------------------------------------- the region
class _Region:
    """Settlements, their routes at equilibrium and the objective estimate of a change."""

    def __init__(
        self,
        ctx: _Context,
        demand: Demand,
        targets: AccessTargets | None,
        names: Sequence[str],
        equity: float,
    ) -> None:
        self.ctx = ctx
        net = ctx.net
        self.targets = targets
        self.equity = equity
        internal = ctx.internal
        self.nodes = ctx.zone_nodes[internal]
        self.names = list(names)
        graph, arrive = csgraph(net, np.maximum(ctx.cost, 1e-9))
        self.arrive = arrive
        self.dist, self.pred = dijkstra(
            graph, directed=True, indices=self.nodes, return_predecessors=True
        )
        # the cheapest link of each (tail, graph head) pair: a route's links
        head = arrive[net.term]
        order = np.lexsort((ctx.cost, head, net.init))
        self.link_of: dict[tuple[int, int], int] = {}
        for k in order.tolist():
            self.link_of.setdefault((int(net.init[k]), int(head[k])), k)
        road = np.asarray(net.road_class, dtype=object) != CONNECTOR
        self.road = road
        # each settlement's anchor for new roads: the eligible road node nearest its centre
        cand = np.flatnonzero(ctx.eligible)
        self.anchor = np.array(
            [
                int(cand[np.argmin(np.hypot(*(ctx.xy[cand] - ctx.xy[z]).T))]) if cand.size else -1
                for z in self.nodes.tolist()
            ],
            dtype=np.int64,
        )
        points = net.extra.get("access_points") or {}
        self.point_name: dict[int, str] = {}
        for nid, label in zip(points.get("node_ids", []), points.get("name", []), strict=False):
            if label and int(nid) in net._index:
                self.point_name[int(net.node_indices([int(nid)], what="access point")[0])] = str(
                    label
                )
        self.base_value = self.value(ctx.cost)

    # -------------------------------------------------------------- routes
    def route(self, i: int, target: int) -> list[int]:
        """Links of settlement ``i``'s fastest route to node ``target`` (empty if none)."""
        v = int(self.arrive[target])
        if not np.isfinite(self.dist[i, v]):
            return []
        links = []
        src = int(self.nodes[i])
        while v != src:
            u = int(self.pred[i, v])
            if u < 0:
                return []
            links.append(self.link_of[(u, v)])
            v = u
        return links[::-1]

    # -------------------------------------------------------------- estimates
    def value(self, cost: np.ndarray, extra: Sequence[tuple[int, int, float]] = ()) -> float:
        """The access objective at link costs ``cost`` (plus new links ``(a, b, cost)``).

        ``nan`` without access targets.
        """
        if self.targets is None:
            return math.nan
        graph, arrive = csgraph(self.ctx.net, np.maximum(cost, 1e-9))
        if extra:
            a = np.array([e[0] for e in extra], dtype=np.int64)
            b = arrive[np.array([e[1] for e in extra], dtype=np.int64)]
            c = np.array([e[2] for e in extra], dtype=np.float64)
            add = sp.csr_array((c, (a, b)), shape=graph.shape)
            graph = _cheapest(graph, add)
        d = dijkstra(graph, directed=True, indices=self.nodes)[:, arrive]
        f = access_figures(access_times(d, self.targets), self.targets)
        if not f:
            return math.nan
        return f["access"] + self.equity * f["access_worst"]

    def gain(self, cost: np.ndarray, extra: Sequence[tuple[int, int, float]] = ()) -> float:
        """Estimated fall of the access objective (minutes) at today's flows."""
        v = self.value(cost, extra)
        return float(self.base_value - v) if np.isfinite(v) else 0.0


def _cheapest(g: sp.csr_array, add: sp.csr_array) -> sp.csr_array:
    """Element-wise minimum of two weighted graphs (absent entries are no edge)."""
    a, b = g.tocoo(), add.tocoo()
    rows = np.concatenate([a.row, b.row])
    cols = np.concatenate([a.col, b.col])
    vals = np.concatenate([a.data, b.data])
    order = np.lexsort((vals, cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return sp.csr_array((vals[first], (rows[first], cols[first])), shape=g.shape)


def _bpr(net: Network, links: np.ndarray, flow: np.ndarray, fft: np.ndarray, cap: np.ndarray):
    ok = cap > 0
    ratio = np.where(ok, flow / np.where(ok, cap, 1.0), 0.0)
    return fft * (1.0 + net.alpha[links] * ratio ** net.beta[links])


def _changed_cost(
    ctx: _Context, links: np.ndarray, fft: np.ndarray, cap: np.ndarray
) -> np.ndarray:
    """Today's link costs with some links' free-flow time and capacity changed (BPR)."""
    net = ctx.net
    x = ctx.flow[links]
    before = _bpr(net, links, x, net.free_flow_time[links], net.capacity[links])
    after = _bpr(net, links, x, fft, cap)
    cost = ctx.cost.copy()
    cost[links] = cost[links] - before + after
    return cost


def _saving(ctx: _Context, links: np.ndarray, fft: np.ndarray, cap: np.ndarray) -> float:
    """Travel time saved at today's flows (veh-h per period)."""
    net = ctx.net
    x = ctx.flow[links]
    before = _bpr(net, links, x, net.free_flow_time[links], net.capacity[links])
    after = _bpr(net, links, x, fft, cap)
    return float(np.sum(x * (before - after))) / ctx.time_factor


# ---------------------------------------------------------------------- corridors
def _upgrade_to(ctx: _Context, links: np.ndarray, std: Standard) -> tuple[np.ndarray, ...]:
    """The links (with their twins) below a standard, and their new fft, speed, capacity."""
    net = ctx.net
    links = np.unique(
        np.concatenate([links, ctx.twin[links][ctx.twin[links] >= 0]]).astype(np.int64)
    )
    cls = np.asarray(net.road_class, dtype=object)[links]
    keep = np.array(
        [c != CONNECTOR and not str(c).startswith(("motorway", "trunk")) for c in cls], dtype=bool
    )
    links = links[keep]
    terrain = _terrain_of(ctx, links)
    sf, cf = ctx.terrain_effects(links)
    speed_std = np.array([std.speed(t) for t in terrain]) * sf
    lanes_now = _lanes_now(ctx, links)
    cap_std = std.lanes * ctx.prof.capacity_per_lane(std.road_class) * cf
    below = (speed_std > net.speed[links] + 1e-9) | (cap_std > net.capacity[links] + 1e-9)
    below &= np.array(
        [class_rank(str(c)) >= class_rank(std.road_class) for c in cls[keep]], dtype=bool
    )
    links = links[below]
    speed = np.maximum(net.speed[links], speed_std[below])
    fft = np.minimum(net.free_flow_time[links], net.length[links] / speed * ctx.time_factor)
    cap = np.maximum(net.capacity[links], cap_std[below])
    lanes = np.maximum(lanes_now[below], float(std.lanes))
    return links, fft, speed, cap, lanes


def _lanes_now(ctx: _Context, links: np.ndarray) -> np.ndarray:
    lanes = ctx.net.lanes[links]
    return np.where(np.isfinite(lanes) & (lanes > 0), lanes, 1.0)


def _terrain_of(ctx: _Context, links: np.ndarray) -> list[str]:
    if not ctx.by_class:
        return ["plain"] * links.size
    return [str(ctx.classes[k]) or "plain" for k in links.tolist()]


def _km(ctx: _Context, links: np.ndarray) -> float:
    return _seg_km(ctx, [s for ss in _roads(ctx, links).values() for s in ss])


def _route_name(ctx: _Context, links: Sequence[int]) -> str:
    """The names and refs a route runs on, most-used first (at most three)."""
    net = ctx.net
    km: dict[str, float] = {}
    for k in links:
        label = str(ctx.refs[k] or ctx.names[k] or "")
        if label:
            km[label] = km.get(label, 0.0) + float(net.length[k])
    top = sorted(km, key=lambda s: (-km[s], s))[:3]
    return " / ".join(top) if top else "local roads"


def _corridor_proposal(
    reg: _Region,
    links: np.ndarray,
    std: Standard,
    cid: str,
    ends: str,
    route_km: float,
    use_access: bool,
) -> _Proposal | None:
    ctx = reg.ctx
    up, fft, speed, cap, lanes = _upgrade_to(ctx, links, std)
    if up.size == 0:
        return None
    km = _km(ctx, up)
    if km < MIN_CORRIDOR_KM:
        return None
    one_way = [s for ss in _roads(ctx, up).values() for s in ss]
    seg_links = np.array([max(s, key=lambda k: ctx.net.length[k]) for s in one_way])
    cost = km * ctx.costs.upgrade(std.road_class) * ctx.terrain_for(seg_links)
    saving = _saving(ctx, up, fft, cap)
    gain = reg.gain(_changed_cost(ctx, up, fft, cap)) if use_access else math.nan
    return _Proposal(
        source="corridor",
        id=f"{cid}-{std.name}" if std.name != CORRIDOR_STANDARD else cid,
        kind="upgrade",
        cost=cost,
        benefit=gain if use_access else saving,
        links=up,
        set={"speed": speed, "free_flow_time": fft},
        scale={
            "capacity": cap / np.maximum(ctx.net.capacity[up], 1e-300),
            "lanes": lanes / _lanes_now(ctx, up),
        },
        road_class=std.road_class,
        group=cid,
        label=(
            f"upgrade the {ends} corridor ({_route_name(ctx, up.tolist())}; {km:.1f} of its "
            f"{route_km:.1f} km) to a {std.describe()}"
        ),
    )


def _nearest_pairs(reg: _Region, k: int) -> list[tuple[int, int]]:
    xy = reg.ctx.xy[reg.nodes]
    pairs: set[tuple[int, int]] = set()
    for i in range(xy.shape[0]):
        d = np.hypot(*(xy - xy[i]).T)
        d[i] = np.inf
        for j in np.argsort(d, kind="stable")[:k].tolist():
            if np.isfinite(d[j]):
                pairs.add((min(i, j), max(i, j)))
    return sorted(pairs)


def _access_ends(reg: _Region, per_class: int = 2) -> list[tuple[int, str, int]]:
    """``(settlement, class, node)``: each settlement's nearest targets of each class.

    The ``per_class`` nearest by today's time, at distinct places (a second junction, not
    the other carriageway of the first: targets within 1 km of a nearer one are skipped).
    """
    out: list[tuple[int, str, int]] = []
    t = reg.targets
    if t is None:
        return out
    xy = reg.ctx.xy
    for i in range(reg.nodes.size):
        for kind, nodes in zip(t.kinds, t.nodes, strict=True):
            road = nodes[~reg.ctx.net.no_thru[nodes]]  # gateways are centroids: not roads
            d = reg.dist[i, reg.arrive[road]]
            taken: list[int] = []
            for k in np.argsort(d, kind="stable").tolist():
                if len(taken) >= per_class or not np.isfinite(d[k]):
                    break
                node = int(road[k])
                near = [np.hypot(*(xy[node] - xy[q])) * reg.ctx.mpu < 1000.0 for q in taken]
                if not any(near):
                    taken.append(node)
                    out.append((i, kind, node))
    return out


def _slug(name: str) -> str:
    s = re.sub(r"[^0-9a-z]+", "-", name.lower().replace("ß", "ss")).strip("-")
    return s or "x"


def _corridors(
    reg: _Region,
    std: Standard,
    variants: Sequence[Standard],
    neighbours: int,
    use_access: bool,
) -> list[_Proposal]:
    ctx = reg.ctx
    routes: list[tuple[str, str, np.ndarray]] = []
    for i, j in _nearest_pairs(reg, neighbours):
        links = reg.route(i, int(reg.nodes[j]))
        if links:
            cid = f"corridor-{_slug(reg.names[i])}-{_slug(reg.names[j])}"
            routes.append((cid, f"{reg.names[i]} - {reg.names[j]}", np.array(links)))
    for i, kind, node in _access_ends(reg):
        links = reg.route(i, node)
        if links:
            name = reg.point_name.get(node) or ctx.node_name(node)
            cid = f"corridor-{_slug(reg.names[i])}-{_slug(name)}"
            routes.append((cid, f"{reg.names[i]} - {kind} ({name})", np.array(links)))
    # the best-ranked corridor takes its whole route; the others what it leaves
    first = []
    for cid, ends, route in routes:
        road = route[reg.road[route]]
        p = _corridor_proposal(reg, road, std, cid, ends, _km(ctx, road), use_access)
        if p is not None:
            first.append((p, ends, road))
    first.sort(key=lambda t: (-t[0].score, t[0].id))
    claimed = np.zeros(ctx.net.num_links, dtype=bool)
    out: list[_Proposal] = []
    seen: set[str] = set()
    for p, ends, road in first:
        if p.id in seen:
            continue
        free = road[~claimed[road]]
        route_km = _km(ctx, road)
        q = _corridor_proposal(reg, free, std, p.group or p.id, ends, route_km, use_access)
        if q is None or q.benefit <= 0:
            continue
        seen.add(q.id)
        claimed[q.links] = True
        out.append(q)
        for v in variants:
            alt = _corridor_proposal(reg, q.links, v, q.group or q.id, ends, route_km, use_access)
            if alt is not None and alt.benefit > 0 and alt.id not in seen:
                seen.add(alt.id)
                out.append(alt)
    return out


# ---------------------------------------------------------------------- sections
def _road_identity(ctx: _Context, k: int) -> str:
    return str(ctx.refs[k] or ctx.names[k] or ctx.key_name[ctx.keys[k]])


def _sections(reg: _Region, vc_threshold: float, use_access: bool) -> list[_Proposal]:
    ctx = reg.ctx
    net = ctx.net
    cap = net.capacity
    vc = np.where(cap > 0, ctx.flow / np.where(cap > 0, cap, 1.0), 0.0)
    ok = reg.road & (cap > 0)
    hot = np.flatnonzero(ok & (vc >= vc_threshold))
    if hot.size == 0:
        log.info("no road link at v/c >= %.2f: no section widening proposed", vc_threshold)
        return []
    warm = ok & (vc >= 0.8 * vc_threshold)
    ident = {k: _road_identity(ctx, k) for k in np.flatnonzero(warm).tolist()}
    # join warm links of one road that share a node (union-find over links)
    parent = {k: k for k in ident}

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    by_node: dict[tuple[str, int], list[int]] = {}
    for k, name in ident.items():
        for node in (int(net.init[k]), int(net.term[k])):
            by_node.setdefault((name, node), []).append(k)
    for ks in by_node.values():
        for k in ks[1:]:
            parent[find(k)] = find(ks[0])
    groups: dict[int, list[int]] = {}
    for k in ident:
        groups.setdefault(find(k), []).append(k)
    out = []
    for members in sorted(groups.values(), key=min):
        links = np.array(sorted(members), dtype=np.int64)
        if not np.isin(links, hot).any():
            continue
        twins = ctx.twin[links]
        links = np.unique(np.concatenate([links, twins[twins >= 0]]))
        name = _road_identity(ctx, int(links[0]))
        km = _km(ctx, links)
        lanes = np.where(np.isfinite(net.lanes[links]), net.lanes[links], 1.0)
        lane_km = float(np.sum(net.length[links]))
        cls = str(net.road_class[links[0]])
        sid = f"section-{_slug(name)}-{int(net.node_ids[net.init[links[0]]])}"
        for add in SECTION_LANES:
            f = (lanes + add) / lanes
            cost = lane_km * add * ctx.costs.widen(cls) * ctx.terrain_for(links)
            new_cap = net.capacity[links] * f
            benefit = (
                reg.gain(_changed_cost(ctx, links, net.free_flow_time[links], new_cap))
                if use_access
                else _saving(ctx, links, net.free_flow_time[links], new_cap)
            )
            out.append(
                _Proposal(
                    source="section",
                    id=f"{sid}-+{add}",
                    kind="widen",
                    cost=cost,
                    benefit=benefit,
                    links=links,
                    scale={"capacity": f, "lanes": f.copy()},
                    group=sid,
                    label=(
                        f"widen {name} ({cls}, {km:.1f} km at v/c up to {vc[links].max():.2f}) "
                        f"by {add} lane{'s' if add > 1 else ''} in each direction"
                    ),
                )
            )
    return out


# ---------------------------------------------------------------------- new roads
def _interchange_node(reg: _Region, point: int) -> int:
    """The local end of the on-ramps that merge at an expressway access point (-1: none)."""
    ctx = reg.ctx
    net = ctx.net
    rc = np.asarray(net.road_class, dtype=object)
    local = np.zeros(net.num_nodes, dtype=bool)
    other = ~np.isin(rc, ["motorway", "motorway_link", CONNECTOR])
    local[net.init[other]] = True
    local[net.term[other]] = True
    seen, stack, found = {point}, [point], []
    while stack:
        v = stack.pop()
        for k in net.bs_links[net.bs_indptr[v] : net.bs_indptr[v + 1]].tolist():
            if rc[k] != "motorway_link":
                continue
            u = int(net.init[k])
            if u in seen:
                continue
            seen.add(u)
            if local[u] and ctx.eligible[u]:
                found.append(u)
            else:
                stack.append(u)
    if not found:
        return -1
    d = [float(np.hypot(*(ctx.xy[u] - ctx.xy[point]))) for u in found]
    return int(found[int(np.argmin(d))])


def _gap_ends(reg: _Region, neighbours: int) -> list[tuple[str, str, str, int, int]]:
    """``(source, id, ends, a, b)`` of every pair a new road might join."""
    out = []
    for i, j in _nearest_pairs(reg, neighbours):
        a, b = int(reg.anchor[i]), int(reg.anchor[j])
        cid = f"corridor-{_slug(reg.names[i])}-{_slug(reg.names[j])}"
        out.append(("link", cid, f"{reg.names[i]} - {reg.names[j]}", a, b))
    for i, kind, node in _access_ends(reg):
        name = reg.point_name.get(node) or reg.ctx.node_name(node)
        cid = f"corridor-{_slug(reg.names[i])}-{_slug(name)}"
        if kind == "expressway":
            b = _interchange_node(reg, node)
            src = "interchange"
        else:
            b = node if reg.ctx.eligible[node] else -1
            src = "link"
        out.append((src, cid, f"{reg.names[i]} - {kind} ({name})", int(reg.anchor[i]), b))
    return [e for e in out if e[3] >= 0 and e[4] >= 0 and e[3] != e[4]]


def _new_roads(
    reg: _Region,
    std: Standard,
    detour: float,
    neighbours: int,
    method: str,
    areas: Any,
    use_access: bool,
    excluded: list[dict[str, Any]] | None = None,
) -> list[_Proposal]:
    ctx = reg.ctx
    net = ctx.net
    ends = _gap_ends(reg, neighbours)
    if not ends:
        return []
    starts = np.unique([e[3] for e in ends] + [e[4] for e in ends])
    row = {int(v): r for r, v in enumerate(starts.tolist())}
    d = dijkstra(ctx.length_graph, directed=True, indices=starts)[:, ctx.arrive]
    forbidden, dear = _area_lists(areas)
    surface = net.extra.get("terrain_surface")
    out = []
    for src, cid, label, a, b in ends:
        straight = ctx.straight_m(a, b) / 1000.0
        if not GAP_MIN_KM <= straight <= GAP_MAX_KM:
            continue
        route = min(d[row[a], b], d[row[b], a])
        if route <= detour * straight:
            continue
        al = align(
            ctx.xy[a],
            ctx.xy[b],
            surface=surface,
            crs=net.crs,
            forbidden=forbidden,
            dear=dear,
            method=method if surface is not None or forbidden else "straight",
        )
        if al is None:
            log.info("no alignment for a new road %s (protected areas or grades)", label)
            if excluded is not None:
                excluded.append(
                    {
                        "id": cid.replace("corridor-", "link-", 1),
                        "source": src,
                        "kind": "new_link",
                        "label": f"new road {label}",
                        "cost": None,
                        "cost_unit": ctx.costs.unit,
                        "reason": "no alignment outside the forbidden protected areas "
                        "within the grade limit",
                    }
                )
            continue
        nw = _new_road(ctx, a, b, std, al)
        t = nw["fft"] + ctx.distance_factor * nw["length"]
        benefit = (
            reg.gain(ctx.cost, [(a, b, t), (b, a, t)])
            if use_access
            else ctx.new_link_saving(a, b, t, nw["capacity"])
            + ctx.new_link_saving(b, a, t, nw["capacity"])
        )
        route_txt = f"{route:.1f} km by road now" if np.isfinite(route) else "no road now"
        prefix = "interchange" if src == "interchange" else "link"
        out.append(
            _Proposal(
                source=src,
                id=cid.replace("corridor-", f"{prefix}-", 1),
                kind="new_link",
                cost=nw["length"] * ctx.costs.new_build(std.road_class) * nw["terrain_factor"],
                benefit=benefit,
                new=nw,
                road_class=std.road_class,
                group=cid,
                label=(
                    f"new {std.label} {label}: {nw['length']:.1f} km "
                    f"({al.method} alignment, {nw['terrain'] or 'plain'} terrain; "
                    f"{straight:.1f} km straight, {route_txt})"
                ),
            )
        )
    return out


def _new_road(ctx: _Context, a: int, b: int, std: Standard, al: Any) -> dict[str, Any]:
    """Attributes of a new two-way road a <-> b to a standard along an alignment."""
    terrain = str(al.terrain or "plain")
    km = al.length_m / 1000.0 * (ctx.circuity if al.method == "straight" else 1.0)
    speed = std.speed(terrain)
    cap = std.lanes * ctx.prof.capacity_per_lane(std.road_class)
    if has_terrain(ctx.net):
        cap *= float(capacity_factor([terrain])[0])
    alpha, beta = ctx.prof.bpr.get(std.road_class, BPR_BY_CLASS.get(std.road_class, (0.15, 4.0)))
    return {
        "a": a,
        "b": b,
        "class": std.road_class,
        "length": km,
        "speed": speed,
        "lanes": float(std.lanes),
        "capacity": cap,
        "alpha": float(alpha),
        "beta": float(beta),
        "fft": km / speed * ctx.time_factor,
        "straight_km": al.straight_m / 1000.0,
        "terrain": terrain if has_terrain(ctx.net) else "",
        "terrain_factor": TERRAIN_CLASS_FACTOR.get(terrain, 1.0)
        if has_terrain(ctx.net)
        else ctx.terrain,
        "xy": np.asarray(al.xy, dtype=np.float64),
    }


def _area_lists(areas: Any) -> tuple[list[Any], list[tuple[Any, float]]]:
    """Forbidden polygons and (polygon, cost multiplier) pairs of protected areas."""
    if areas is None:
        return [], []
    m = np.asarray(areas.multiplier, dtype=np.float64)
    forbidden = [g for g, f in zip(areas.geometry, m, strict=True) if math.isinf(f)]
    dear = [(g, float(f)) for g, f in zip(areas.geometry, m, strict=True) if 1 < f < math.inf]
    return forbidden, dear


# ---------------------------------------------------------------------- entry point
def regional_candidates(
    network: Network,
    demand: Demand,
    *,
    result: AssignmentResult | None = None,
    objective: str = "access",
    activity: np.ndarray | None = None,
    settlement_names: Sequence[str] | None = None,
    gateway_classes: Sequence[str] | None = None,
    access_targets: Mapping[str, float] | None = None,
    access_penalty: float = ACCESS_PENALTY,
    equity: float = 0.0,
    corridor_standard: str | Standard = CORRIDOR_STANDARD,
    corridor_variants: Sequence[str | Standard] = CORRIDOR_VARIANTS,
    neighbours: int = CORRIDOR_NEIGHBOURS,
    max_candidates: int | None = None,
    min_per_source: int = 2,
    vc_threshold: float = VC_THRESHOLD,
    detour_factor: float = GAP_DETOUR_FACTOR,
    alignment: str = "terrain",
    areas: Any = None,
    include: Sequence[str] = REGIONAL_SOURCES,
    profile: Any = None,
    costs: CostTable | None = None,
    rgap: float = 1e-6,
    toll_factor: float = 0.0,
    distance_factor: float = 0.0,
    screen: Callable[[CandidateSet], CandidateSet] | None = None,
) -> CandidateSet:
    """Propose, price and rank region-scale upgrades (see the module docstring).

    Parameters
    ----------
    network, demand
        A regional OSM study: settlements as internal zones (centroids and connectors),
        gateways, access points in ``network.extra["access_points"]``.
    result
        Its equilibrium (default: solved here at ``rgap`` with the cost factors).
    objective
        ``access`` ranks by the estimated fall of the access objective (minutes, at
        today's flows); anything else by travel time saved (veh-h per period).
    activity, settlement_names, gateway_classes, access_targets, access_penalty, equity
        The settlements' population and names, the gateways' road classes and the access
        objective's terms (:mod:`optimizer.access`).
    corridor_standard, corridor_variants
        The design standard of corridors and new roads, and those of the exclusive
        variants of each corridor (:func:`parse_standard`).
    neighbours
        Corridors and gaps join each settlement to this many nearest ones.
    max_candidates, min_per_source
        How many to keep (default :data:`REGIONAL_MAX_CANDIDATES`), and the places
        reserved for the best of each source.
    vc_threshold
        Volume/capacity from which a section is congested.
    detour_factor
        New roads join ends whose network route is longer than this times the straight
        line (:data:`GAP_DETOUR_FACTOR`).
    alignment
        ``terrain`` (follow the DEM, avoid forbidden areas) or ``straight``
        (:func:`networks.alignment.align`).
    areas
        :class:`networks.protected.ProtectedAreas` new roads are aligned around (forbidden)
        or away from (dearer); ``screen`` then applies their rules to every proposal.
    include
        Sources to run, a subset of :data:`REGIONAL_SOURCES`.
    profile, costs
        Road profile (default the network's) and unit costs (default
        :data:`~optimizer.costs.DEFAULT_COSTS`).
    screen
        A rule applied to all proposals before the ranking (protected areas).

    Returns
    -------
    CandidateSet
        Best first; new roads appended to the network with their alignments as geometry.

    Raises
    ------
    InvalidCandidatesError, OptionError
        For a network not in OSM units or projected coordinates, unknown sources or
        standards, or a demand without settlements.
    """
    unknown = [s for s in include if s not in REGIONAL_SOURCES]
    if unknown:
        raise InvalidCandidatesError(
            f"unknown generator(s) {unknown}; choose from {', '.join(REGIONAL_SOURCES)}"
        )
    if max_candidates is None:
        max_candidates = REGIONAL_MAX_CANDIDATES
    if max_candidates < 0 or neighbours < 1:
        raise InvalidCandidatesError("max_candidates must be >= 0 and neighbours >= 1")
    _check_generate_inputs(network, demand, result)
    std = parse_standard(corridor_standard)
    alts = [parse_standard(v) for v in corridor_variants]
    alts = [v for v in alts if v.name != std.name]
    prof = _road_profile(network, profile) or PROFILES["generic"]
    for s in (std, *alts):
        if s.road_class not in prof.table:
            raise OptionError(
                "corridor_standard", f"the {prof.name} profile has no road class {s.road_class}"
            )
    internal = np.asarray(demand.internal, dtype=bool)
    if internal.sum() < 1:
        raise InvalidCandidatesError("regional candidates need settlements (internal zones)")
    if result is None:
        result = assign(
            network, demand, rgap=rgap, toll_factor=toll_factor, distance_factor=distance_factor
        )
    circ = CIRCUITY_FACTOR.get(prof.name, 1.2)
    ctx = _Context(
        network,
        demand,
        result,
        prof,
        None if has_terrain(network) else 1.0,
        circ,
        costs or DEFAULT_COSTS,
    )
    roles = zone_roles(network, demand, activity)
    targets = None
    use_access = objective == "access"
    try:
        targets = find_access_targets(
            roles.access_nodes,
            roles.access_kind,
            roles.gateway_nodes,
            population=roles.activity,
            targets=access_targets
            if access_targets is not None
            else default_access_targets(network.extra.get("profile")),
            gateway_classes=gateway_classes,
            names=settlement_names,
            penalty=access_penalty,
        )
    except OptionError:
        if use_access:
            raise
    names = (
        list(settlement_names)
        if settlement_names is not None and len(settlement_names) == internal.sum()
        else [f"zone {int(z)}" for z in np.asarray(demand.zone_ids)[internal]]
    )
    reg = _Region(ctx, demand, targets, names, equity if use_access else 0.0)
    use_access = use_access and targets is not None
    pool: list[_Proposal] = []
    unaligned: list[dict[str, Any]] = []
    if "corridor" in include:
        pool += _corridors(reg, std, alts, neighbours, use_access)
    if "section" in include:
        pool += _sections(reg, vc_threshold, use_access)
    if "link" in include or "interchange" in include:
        pool += [
            p
            for p in _new_roads(
                reg, std, detour_factor, neighbours, alignment, areas, use_access, unaligned
            )
            if p.source in include
        ]
    if screen is not None:
        pool = _screened(network, pool, ctx.costs.unit, screen)
    unit = ctx.costs.unit
    what = "access gain (min)" if use_access else "saving (veh-h)"
    excluded = unaligned + [
        _excluded(p, unit, f"no estimated {what} at free flow and today's flows")
        for p in pool
        if not p.benefit > 0
    ]
    pool = [p for p in pool if p.benefit > 0]
    kept = _select(pool, max_candidates, min_per_source, REGIONAL_SOURCES)
    ids = {p.id for p in kept}
    excluded += [
        _excluded(
            p,
            unit,
            f"ranked below the {len(kept)} kept (max_candidates): estimated {what} "
            f"{p.benefit:.4g} for {p.cost:.6g} {unit}",
        )
        for p in sorted(pool, key=lambda p: (-p.score, p.id))
        if p.id not in ids
    ]
    for p in kept:
        log.info(
            "candidate %s: cost %.0f %s, est. %s %.4g, score %.3g",
            p.id,
            p.cost,
            unit,
            "access gain (min)" if use_access else "saving (veh-h)",
            p.benefit,
            p.score,
        )
    log.info(
        "regional candidates: %d kept of %d proposed (%s)",
        len(kept),
        len(pool),
        ", ".join(f"{s} {sum(p.source == s for p in kept)}" for s in REGIONAL_SOURCES),
    )
    return replace(_assemble(network, kept, unit), excluded=tuple(excluded))


def _excluded(p: _Proposal, unit: str, reason: str) -> dict[str, Any]:
    """A proposal left out, as the plan document lists it."""
    return {
        "id": p.id,
        "source": p.source,
        "kind": p.kind,
        "label": p.label or p.id,
        "cost": float(p.cost),
        "cost_unit": unit,
        "reason": reason,
    }
