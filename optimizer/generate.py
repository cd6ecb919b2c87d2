"""Candidate upgrades generated for an OpenStreetMap network, priced and ranked.

This module owns :func:`generate_candidates` and its proposal machinery: four generators
(:data:`SOURCES`: widenings, class upgrades, missing links, trunk-access roads), each
with its thresholds as module constants, a first-order benefit estimate per proposal
(travel time saved at today's equilibrium), prices from :mod:`optimizer.costs`, and a
deterministic selection of the best few by benefit per cost.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from networks.connectors import CONNECTOR
from networks.demand import Demand
from networks.network import Network, csgraph
from networks.roads import BPR_BY_CLASS, PROFILES, class_rank
from networks.terrain import has_terrain, line_terrain, link_terrain

from .assignment import assign
from .candidates import (
    Candidate,
    CandidateSet,
    _link_type,
    _metres_per_crs_unit,
    _reverse_links,
    _road_profile,
    _straight_line,
    _time_factor,
    _way_ids,
    extend_network,
)
from .costs import (
    CIRCUITY_FACTOR,
    DEFAULT_COSTS,
    TERRAIN_CLASS_FACTOR,
    TERRAIN_FACTOR,
    CostTable,
    terrain_class_factor,
)
from .errors import InvalidCandidatesError
from .results import AssignmentResult

__all__ = [
    "ACCESS_CLASS",
    "ACCESS_DETOUR_FACTOR",
    "ACCESS_MAX_M",
    "ACCESS_RADIUS_M",
    "DEDUP_RADIUS_M",
    "DETOUR_FACTOR",
    "GRADE_SEPARATED",
    "MAX_LANES_PER_DIRECTION",
    "MAX_PAIRS",
    "MISSING_LINK_CLASS",
    "MISSING_LINK_MAX_M",
    "MISSING_LINK_MIN_M",
    "SOURCES",
    "UPGRADE_TO",
    "VC_THRESHOLD",
    "WIDEN_OPTIONS",
    "generate_candidates",
]

log = logging.getLogger(__name__)

#: Volume/capacity at or above which a road is congested enough to widen. When no link
#: reaches it, the ``max_candidates`` links of highest v/c are proposed instead (they score
#: low, but the optimizer still sees the option).
VC_THRESHOLD = 0.7

#: Lanes added per direction by the widening options of one road (mutually exclusive).
WIDEN_OPTIONS: tuple[int, ...] = (1, 2)

#: No widening beyond this many lanes per direction.
MAX_LANES_PER_DIRECTION = 4

#: The next class up for class upgrades: a village track is hardened into a township road,
#: a town street or township road becomes a collector (county road), a collector an
#: arterial (class-2 highway).
UPGRADE_TO: dict[str, str] = {
    "track": "unclassified",
    "road": "unclassified",
    "living_street": "residential",
    "residential": "tertiary",
    "unclassified": "tertiary",
    "tertiary": "secondary",
}

#: Missing links join nodes at most this far apart in a straight line (metres) ...
MISSING_LINK_MAX_M = 600.0
#: ... and at least this far (shorter gaps are junction geometry, not missing roads) ...
MISSING_LINK_MIN_M = 50.0
#: ... whose shortest network route (by length, the shorter direction) is more than this
#: many times the straight line. Town grids have circuity 1.2-1.5; 3 means a real barrier.
DETOUR_FACTOR = 3.0
#: Class of a missing link (a collector street / county road).
MISSING_LINK_CLASS = "tertiary"

#: Trunk access: nodes within this distance (metres) of a zone's node may start the road ...
ACCESS_RADIUS_M = 1000.0
#: ... which is at most this long in a straight line (metres) ...
ACCESS_MAX_M = 3000.0
#: ... and proposed when the network route from the zone's node to the nearest access node
#: of the highest-class road is more than this times the straight line (the start node is
#: the one giving the zone the shortest route over the new road, which must beat today's).
ACCESS_DETOUR_FACTOR = 2.0
#: Class of a trunk-access road.
ACCESS_CLASS = "secondary"

#: Missing links with an end within this distance (metres) of an end of a better one are
#: alternatives for the same gap: only the best is kept.
DEDUP_RADIUS_M = 200.0

#: Classes without at-grade junctions: new roads never end on them (a motorway is reached
#: at the local end of its ramps).
GRADE_SEPARATED: tuple[str, ...] = ("motorway", "motorway_link")

#: The generators of :func:`generate_candidates`, in the order they are reserved a place.
SOURCES: tuple[str, ...] = ("widen", "upgrade", "missing", "access")

#: Pairs of nodes checked for missing links at most (a seeded sample beyond that).
MAX_PAIRS = 200_000


@dataclass
class _Proposal:
    """A generated candidate before selection (new links not yet appended)."""

    source: str
    id: str
    kind: str
    cost: float
    benefit: float  # veh-h per demand period, first-order estimate
    links: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    scale: dict[str, np.ndarray] = field(default_factory=dict)
    set: dict[str, np.ndarray] = field(default_factory=dict)
    new: dict[str, Any] | None = None  # new link pair: a, b (internal nodes) and attributes
    road_class: str | None = None
    group: str | None = None
    label: str = ""

    @property
    def score(self) -> float:
        return self.benefit / self.cost if self.cost > 0 else math.inf

    @property
    def pair(self) -> tuple[int, int] | None:
        if self.new is None:
            return None
        a, b = self.new["a"], self.new["b"]
        return (min(a, b), max(a, b))


class _Context:
    """What every generator needs, computed once: roads, names, shortest-path costs."""

    def __init__(
        self,
        network: Network,
        demand: Demand,
        result: AssignmentResult,
        prof: Any,
        terrain: float | None,
        circuity: float,
        costs: CostTable,
    ) -> None:
        self.net = net = network
        self.prof = prof
        self.circuity = circuity
        self.costs = costs
        self.flow = np.asarray(result.flow, dtype=np.float64)
        self.cost = np.asarray(result.cost, dtype=np.float64)
        # generalized cost per km of a new road (it has no toll), as in ``cost``
        self.distance_factor = float(result.distance_factor)
        self.time_factor = _time_factor(net) or 60.0
        m, n = net.num_links, net.num_nodes
        self.xy = np.column_stack([net.x, net.y])
        self.mpu = _metres_per_crs_unit(net.crs) or 1.0
        self.per_km = 1000.0 / self.mpu  # crs units per km
        # reverse twins: the two directions of one road
        twin = np.full(m, -1, dtype=np.int64)
        free = np.ones(m, dtype=bool)
        for k in range(m):
            if twin[k] >= 0:
                continue
            free[k] = False
            rev = _reverse_links(net, k, free)
            if rev:
                twin[k], twin[rev[0]] = rev[0], k
                free[rev[0]] = False
        self.twin = twin
        # road keys: the OSM ways of a link (else the link's own id)
        keys = []
        for k in range(m):
            ways = _way_ids(net, k)
            keys.append(
                ways
                if ways
                else (f"L{int(net.link_ids[min(k, twin[k]) if twin[k] >= 0 else k])}",)
            )
        self.keys = keys
        self.key_name = _key_names(keys)
        names = net.extra.get("name")
        refs = net.extra.get("ref")
        self.names = list(names) if names is not None and len(names) == m else [""] * m
        self.refs = list(refs) if refs is not None and len(refs) == m else [""] * m
        # nodes where a new road may end: not on a grade-separated road
        cls = net.road_class
        gs = np.isin(cls, [c for c in GRADE_SEPARATED if c != "motorway_link"])
        at_grade = ~np.isin(cls, list(GRADE_SEPARATED))
        on_gs = np.zeros(n, dtype=bool)
        on_gs[net.init[gs]] = True
        on_gs[net.term[gs]] = True
        touches_local = np.zeros(n, dtype=bool)
        touches_local[net.init[at_grade]] = True
        touches_local[net.term[at_grade]] = True
        # never a zone centroid, nor a road end cut by the study-area edge (the road goes on
        # outside the data)
        cut = np.zeros(n, dtype=bool)
        ends = [int(e["node_id"]) for e in net.extra.get("boundary_ends") or []]
        known = [i for i in ends if i in net._index]
        cut[net.node_indices(known, what="boundary end")] = True
        self.eligible = touches_local & ~on_gs & ~net.no_thru & ~cut
        self.arrive = csgraph(net, np.ones(m))[1]
        # demand: OD pairs and shortest costs at equilibrium
        zone_nodes = net.node_indices(demand.zone_node_ids, what="zone node")
        self.zone_nodes = zone_nodes
        self.internal = np.asarray(demand.internal, dtype=bool)
        self.zone_ids = np.asarray(demand.zone_ids)
        mat = sp.coo_array(demand.matrix) if sp.issparse(demand.matrix) else None
        if mat is None:
            dense = np.asarray(demand.matrix, dtype=np.float64)
            r, c = np.nonzero(dense)
            t = dense[r, c]
        else:
            r, c, t = mat.row, mat.col, mat.data
        keep = (r != c) & (t > 0) & (zone_nodes[r] != zone_nodes[c])
        r, c, t = r[keep], c[keep], t[keep]
        self.od_trips = t
        g = _graph(net, np.maximum(self.cost, 1e-9))
        onodes, oinv = np.unique(zone_nodes[r], return_inverse=True)
        dnodes, dinv = np.unique(zone_nodes[c], return_inverse=True)
        self.d_from = dijkstra(g, directed=True, indices=onodes) if onodes.size else None
        self.d_to = (
            dijkstra(g.T.tocsr(), directed=True, indices=self.arrive[dnodes])
            if dnodes.size
            else None
        )
        self.oinv, self.dinv = oinv, dinv
        self.od_cost = (
            self.d_from[oinv, self.arrive[zone_nodes[c]]]
            if self.d_from is not None
            else np.zeros(0)
        )
        self.length_graph = _graph(net, np.maximum(net.length, 1e-9))
        # terrain from a DEM: costs by the links' terrain classes, not one factor
        self.by_class = terrain is None and has_terrain(net)
        self.terrain = 1.0 if terrain is None else terrain
        self.effects = np.ones((2, m))  # speed and capacity factors of the terrain
        if self.by_class:
            lt = link_terrain(net)
            assert lt is not None  # has_terrain
            self.classes = lt[1]
            for row, key in enumerate(("speed_factor", "capacity_factor")):
                f = np.asarray(net.extra[key], dtype=np.float64)[:m]
                self.effects[row, : f.size] = f

    def terrain_for(self, links: np.ndarray) -> float:
        """Cost factor of works on some links (their length-weighted terrain classes)."""
        if not self.by_class:
            return self.terrain
        return terrain_class_factor(self.classes[links], self.net.length[links])

    def terrain_effects(self, links: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Speed and capacity factors of the terrain on some links (1 without terrain)."""
        return self.effects[0, links], self.effects[1, links]

    # ------------------------------------------------------------ pieces
    def road_name(self, links: Iterable[int], key_name: str) -> str:
        for k in links:
            if self.names[k]:
                return str(self.names[k])
        for k in links:
            if self.refs[k]:
                return str(self.refs[k])
        return f"way {key_name}" if not key_name.startswith("L") else f"link {key_name[1:]}"

    def node_name(self, i: int) -> str:
        net = self.net
        around = np.concatenate(
            [
                net.fs_links[net.fs_indptr[i] : net.fs_indptr[i + 1]],
                net.bs_links[net.bs_indptr[i] : net.bs_indptr[i + 1]],
            ]
        )
        names = sorted(
            {
                str(self.names[k])
                for k in around
                if self.names[k] and net.road_class[k] != CONNECTOR
            }
        )
        if names:
            return "/".join(names[:2])
        return f"node {int(net.node_ids[i])}"

    def straight_m(self, a: int, b: int) -> float:
        return float(np.hypot(*(self.xy[a] - self.xy[b]))) * self.mpu

    def fixed_flow_saving(
        self, links: np.ndarray, cap_factor: np.ndarray, new_fft: np.ndarray
    ) -> float:
        """Travel time saved at today's flows (veh-h per period) by new capacity/time."""
        net = self.net
        x = self.flow[links]
        cap = net.capacity[links]
        a, b = net.alpha[links], net.beta[links]
        ok = cap > 0
        ratio = np.where(ok, x / np.where(ok, cap, 1.0), 0.0)
        before = net.free_flow_time[links] * (1 + a * ratio**b)
        after = new_fft * (1 + a * (ratio / cap_factor) ** b)
        return float(np.sum(x * (before - after))) / self.time_factor

    def new_link_saving(self, a: int, b: int, t: float, cap: float) -> float:
        """All-or-nothing saving (veh-h per period) of a new link a -> b of cost ``t``.

        Trips whose shortest cost at equilibrium exceeds the cost via the new link are
        moved onto it, those saving most first, up to its capacity.
        """
        if self.d_from is None or self.d_to is None:
            return 0.0
        s = self.od_cost - self.d_from[self.oinv, a] - t - self.d_to[self.dinv, b]
        pos = np.isfinite(s) & (s > 0)
        if not pos.any():
            return 0.0
        s, trips = s[pos], self.od_trips[pos]
        order = np.argsort(-s, kind="stable")
        s, trips = s[order], trips[order]
        before = np.concatenate([[0.0], np.cumsum(trips)[:-1]])
        moved = np.clip(cap - before, 0.0, trips)
        return float(np.sum(moved * s)) / self.time_factor

    def new_road(self, a: int, b: int, cls: str) -> dict[str, Any]:
        """Attributes of a new two-way road a <-> b of class ``cls``."""
        prof = self.prof
        straight_km = self.straight_m(a, b) / 1000.0
        length = straight_km * self.circuity
        speed = prof.speed(cls)
        lanes = prof.lanes(cls)
        cap = lanes * prof.capacity_per_lane(cls)
        alpha, beta = prof.bpr.get(cls, BPR_BY_CLASS.get(cls, (0.15, 4.0)))
        factor, terrain = self.terrain, ""
        if self.by_class:  # along its straight line, over its length (networks.terrain)
            lt = line_terrain(self.net, a, b, length_m=length * 1000.0, speed=speed)
            terrain = str(lt["terrain"][0])
            speed *= float(lt["speed_factor"][0])
            cap *= float(lt["capacity_factor"][0])
            factor = TERRAIN_CLASS_FACTOR.get(terrain, 1.0)
        return {
            "a": a,
            "b": b,
            "class": cls,
            "length": length,
            "speed": speed,
            "lanes": lanes,
            "capacity": cap,
            "alpha": float(alpha),
            "beta": float(beta),
            "fft": length / speed * self.time_factor,
            "straight_km": straight_km,
            "terrain": terrain,
            "terrain_factor": factor,
        }


def _graph(network: Network, weights: np.ndarray) -> sp.csr_array:
    """A CSR graph with the cheapest of parallel links (for scipy's dijkstra).

    Zone centroids (``no_thru``) are split (:func:`networks.network.csgraph`): paths start
    and end there but never pass through; distances *to* node ``j`` are at ``arrive[j]``.
    """
    return csgraph(network, weights)[0]


def _key_names(keys: Sequence[tuple]) -> dict[tuple, str]:
    """A short readable name per road key: its first way id, made unique by ``.2``, ..."""
    out: dict[tuple, str] = {}
    used: dict[str, int] = {}
    for key in sorted(set(keys), key=lambda t: tuple(str(x) for x in t)):
        base = str(key[0])
        used[base] = used.get(base, 0) + 1
        out[key] = base if used[base] == 1 else f"{base}.{used[base]}"
    return out


def _check_generate_inputs(network: Network, demand: Demand, result: AssignmentResult | None):
    u = network.units
    if (u.length, u.speed, u.time) != ("km", "km/h", "min"):
        raise InvalidCandidatesError(
            f"network '{network.name}' has units {u.length}/{u.speed}/{u.time}; candidates "
            "are generated for networks in km, km/h and minutes (built from OpenStreetMap)"
        )
    if not network.has_coordinates:
        raise InvalidCandidatesError(
            f"network '{network.name}' has no node coordinates; generating candidates needs "
            "them (build the network from OpenStreetMap)"
        )
    if _metres_per_crs_unit(network.crs) is None:
        raise InvalidCandidatesError(
            f"network '{network.name}' is in geographic coordinates ({network.crs}); "
            "project it to metres (OSM networks come in UTM)"
        )
    if result is not None and np.shape(result.flow) != (network.num_links,):
        raise InvalidCandidatesError(
            f"the assignment result has {np.shape(result.flow)[0]} link flows but the network "
            f"has {network.num_links} links; pass a result computed on this network"
        )


def generate_candidates(
    network: Network,
    demand: Demand,
    *,
    result: AssignmentResult | None = None,
    rgap: float = 1e-6,
    toll_factor: float = 0.0,
    distance_factor: float = 0.0,
    profile: Any = None,
    max_candidates: int = 12,
    seed: int = 0,
    terrain_factor: float | None = None,
    circuity: float | None = None,
    costs: CostTable | None = None,
    include: Sequence[str] = SOURCES,
    min_per_source: int = 1,
    vc_threshold: float = VC_THRESHOLD,
    missing_link_max_m: float = MISSING_LINK_MAX_M,
    detour_factor: float = DETOUR_FACTOR,
    access_max_m: float = ACCESS_MAX_M,
    screen: Callable[[CandidateSet], CandidateSet] | None = None,
) -> CandidateSet:
    """Propose, price and rank candidate upgrades for an OpenStreetMap network.

    Four generators (``include``), each documented with its thresholds as module constants:

    ``widen``
        Roads with links at v/c >= ``vc_threshold`` (else the ``max_candidates`` links of
        highest v/c): for each OSM way, its selected links and their reverse twins (the
        two directions of a two-way road) get exclusive options of :data:`WIDEN_OPTIONS`
        more lanes per direction (``widen-<way>-+1``, ``widen-<way>-+2``; at most
        :data:`MAX_LANES_PER_DIRECTION`). Cost: km x lanes added (each direction) x
        :attr:`~optimizer.costs.CostTable.widen` of the class x terrain.
    ``upgrade``
        Ways of the classes in :data:`UPGRADE_TO` carrying the most flow x length (veh-km):
        the whole way moves one class up (``upgrade-<way>``): the target class's speed and
        capacity per lane from the profile, never lowering either. Cost: km x
        :attr:`~optimizer.costs.CostTable.upgrade` of the target class x terrain.
    ``missing``
        Node pairs closer than ``missing_link_max_m`` (and :data:`MISSING_LINK_MIN_M`) in a
        straight line whose shortest network route is longer than ``detour_factor`` times
        it: a new two-way :data:`MISSING_LINK_CLASS` road (``new-<a>-<b>``, external node
        ids, smaller first) of length straight line x circuity; near duplicates
        (:data:`DEDUP_RADIUS_M`) are dropped.
    ``access``
        Internal zones whose network route to the nearest (straight line) access node of
        the highest-class road (motorway and trunk where present, reached at the local
        end of motorway ramps; else the highest class present) is more than
        :data:`ACCESS_DETOUR_FACTOR` times the straight line: a new two-way
        :data:`ACCESS_CLASS` road (``access-<a>-<b>``) to that node from the node within
        :data:`ACCESS_RADIUS_M` of the zone that gives the zone the shortest route over
        it, at most ``access_max_m`` long, and only if that route beats today's.

    New roads never end on grade-separated roads (:data:`GRADE_SEPARATED`). New-road cost:
    km x :attr:`~optimizer.costs.CostTable.new_build` of the class x terrain. On a network
    with terrain, the terrain's speed and capacity factors also apply to the class speeds
    and capacities of upgrades and new roads (:mod:`networks.terrain`).

    Ranking: each proposal's benefit is a first-order estimate of travel time saved in the
    demand period (veh-h): at today's equilibrium flows for widen/upgrade; by moving the
    trips that would gain onto the new road, best first, up to its capacity (all or
    nothing at today's costs) for new roads; new roads that would carry no trip are
    dropped. Today's costs are the equilibrium's generalized link costs (travel time plus
    its toll and distance terms); a new road has no toll, and its distance term counts at
    the equilibrium's ``distance_factor``, so with both factors 0 the saving is travel
    time. Proposals are ranked by benefit per cost
    (ties: by id); the best ``min_per_source`` of each generator are kept first, so that
    every kind reaches the optimizer, then the best of the rest up to ``max_candidates``.
    The result is deterministic.

    Parameters
    ----------
    network
        An OSM network (minutes, km, km/h, veh/h; node x/y in metres, e.g. UTM).
    demand
        Its demand (internal zones and gateways).
    result
        An equilibrium on ``network`` with ``demand``, used as is (with the toll and
        distance factors it was solved with; ``rgap``, ``toll_factor`` and
        ``distance_factor`` are then not used). Default: ``assign(network, demand,
        rgap=rgap, toll_factor=toll_factor, distance_factor=distance_factor)``.
    rgap
        Relative gap of the equilibrium solved when no ``result`` is given.
    toll_factor, distance_factor
        Generalized-cost weights of that equilibrium, as for :func:`optimizer.assign`:
        time per toll unit and time per length unit (minutes per km on OSM networks).
    profile
        Road profile for class speeds and capacities (name or
        :class:`networks.roads.RoadProfile`); default the network's own (``generic`` when
        unknown).
    max_candidates
        How many candidates to keep at most.
    seed
        Seed of the sample of node pairs on networks with more than :data:`MAX_PAIRS` pairs
        to check for missing links (the only random step).
    terrain_factor
        Cost multiplier; default: on a network with terrain from a DEM
        (:func:`networks.terrain.apply_terrain`), :data:`~optimizer.costs.TERRAIN_CLASS_FACTOR`
        of the terrain classes of the links a candidate works on (length-weighted; a new
        road: the class along its straight line, see :func:`networks.terrain.line_terrain`),
        else :data:`~optimizer.costs.TERRAIN_FACTOR` of the profile (1.6 for
        ``china-mountain``, else 1.0).
    circuity
        New-road length over straight-line distance; default
        :data:`~optimizer.costs.CIRCUITY_FACTOR` of the profile.
    costs
        Unit costs (default :data:`~optimizer.costs.DEFAULT_COSTS`, thousand CNY); the set's
        cost unit is ``costs.unit``.
    include
        Generators to run, a subset of :data:`SOURCES`.
    min_per_source
        Places reserved for the best proposals of each generator.
    vc_threshold, missing_link_max_m, detour_factor, access_max_m
        Thresholds, see above.
    screen
        A rule applied to every proposal before the ranking: it gets them all as one
        :class:`CandidateSet` and returns those that may be offered, at their costs (e.g.
        :func:`optimizer.protect.protect_candidates`). Dropped proposals leave their
        place to the next best; changed costs change the ranking.

    Returns
    -------
    CandidateSet
        Best first; its network is ``network`` with the kept new roads appended (straight
        LineString geometry, ``road_class``, empty OSM way ids and names).

    Raises
    ------
    InvalidCandidatesError
        For a network not in OSM units or without projected coordinates, a result of
        another network, or unknown generator names.
    """
    unknown = [s for s in include if s not in SOURCES]
    if unknown:
        raise InvalidCandidatesError(
            f"unknown generator(s) {unknown}; choose from {', '.join(SOURCES)}"
        )
    if max_candidates < 0:
        raise InvalidCandidatesError(f"max_candidates must be >= 0, got {max_candidates}")
    _check_generate_inputs(network, demand, result)
    prof = _road_profile(network, profile)
    if prof is None:
        prof = PROFILES["generic"]
    terrain: float | None = None  # None: by the terrain classes of the network's links
    if terrain_factor is not None:
        terrain = float(terrain_factor)
    elif not has_terrain(network):
        terrain = TERRAIN_FACTOR.get(prof.name, 1.0)
    circ = float(circuity) if circuity is not None else CIRCUITY_FACTOR.get(prof.name, 1.2)
    if not ((terrain is None or terrain > 0) and circ >= 1):
        raise InvalidCandidatesError("terrain_factor must be > 0 and circuity >= 1")
    costs = costs or DEFAULT_COSTS
    if result is None:
        result = assign(
            network,
            demand,
            rgap=rgap,
            toll_factor=toll_factor,
            distance_factor=distance_factor,
        )
    ctx = _Context(network, demand, result, prof, terrain, circ, costs)
    pool: list[_Proposal] = []
    if "widen" in include:
        pool += _widen(ctx, vc_threshold, max(max_candidates, 1))
    if "upgrade" in include:
        pool += _upgrade(ctx, 3 * max(max_candidates, 1))
    if "access" in include:
        pool += _access(ctx, access_max_m)
    if "missing" in include:
        taken = {p.pair for p in pool if p.pair is not None}
        pool += [
            p
            for p in _missing(
                ctx, missing_link_max_m, detour_factor, seed, 3 * max(max_candidates, 1)
            )
            if p.pair not in taken
        ]
    if screen is not None:
        pool = _screened(network, pool, costs.unit, screen)
    kept = _select(pool, max_candidates, min_per_source)
    for p in kept:
        log.info(
            "candidate %s: cost %.0f %s, est. saving %.3f veh-h, score %.3g",
            p.id,
            p.cost,
            costs.unit,
            p.benefit,
            p.score,
        )
    return _assemble(network, kept, costs.unit)


def _select(
    pool: list[_Proposal], k: int, min_per_source: int, sources: Sequence[str] = SOURCES
) -> list[_Proposal]:
    ranked = sorted(pool, key=lambda p: (-p.score, p.id))
    chosen: list[_Proposal] = []
    ids: set[str] = set()
    if min_per_source > 0:
        for src in sources:
            for p in [q for q in ranked if q.source == src][:min_per_source]:
                if len(chosen) < k:
                    chosen.append(p)
                    ids.add(p.id)
    for p in ranked:
        if len(chosen) >= k:
            break
        if p.id not in ids:
            chosen.append(p)
            ids.add(p.id)
    return sorted(chosen, key=lambda p: (-p.score, p.id))


def _screened(
    network: Network,
    pool: list[_Proposal],
    unit: str,
    screen: Callable[[CandidateSet], CandidateSet],
) -> list[_Proposal]:
    """The proposals ``screen`` keeps, at the costs it gives them."""
    cost = {c.id: c.cost for c in screen(_assemble(network, pool, unit)).candidates}
    return [replace(p, cost=cost[p.id]) for p in pool if p.id in cost]


def _assemble(network: Network, kept: Sequence[_Proposal], unit: str) -> CandidateSet:
    m0 = network.num_links
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "init",
            "term",
            "free_flow_time",
            "capacity",
            "alpha",
            "beta",
            "length",
            "speed",
            "lanes",
            "road_class",
            "link_type",
            "geometry",
        )
    }
    cands = []
    pos = m0
    for p in kept:
        links = p.links
        if p.new is not None:
            nw = p.new
            for i, j in ((nw["a"], nw["b"]), (nw["b"], nw["a"])):
                cols["init"].append(i)
                cols["term"].append(j)
                cols["free_flow_time"].append(nw["fft"])
                cols["capacity"].append(nw["capacity"])
                cols["alpha"].append(nw["alpha"])
                cols["beta"].append(nw["beta"])
                cols["length"].append(nw["length"])
                cols["speed"].append(nw["speed"])
                cols["lanes"].append(nw["lanes"])
                cols["road_class"].append(nw["class"])
                cols["link_type"].append(_link_type(network, nw["class"]))
                cols["geometry"].append(
                    _straight_line(network, i, j) if "xy" not in nw else _polyline(nw, i)
                )
            links = np.array([pos, pos + 1], dtype=np.int64)
            pos += 2
        cands.append(
            Candidate(
                id=p.id,
                kind=p.kind,
                cost=p.cost,
                links=links,
                scale=p.scale,
                set=p.set,
                road_class=p.road_class,
                group=p.group,
                label=p.label,
            )
        )
    k = len(cols["init"])
    ext = network
    if k:
        arrays: dict[str, Any] = {
            key: (np.asarray(v) if key != "geometry" else v) for key, v in cols.items()
        }
        arrays["road_class"] = np.asarray(cols["road_class"], dtype=object)
        arrays["osm_way_ids"] = [()] * k
        arrays["name"] = [""] * k
        arrays["ref"] = [""] * k
        ext = extend_network(network, arrays)
    return CandidateSet(ext, m0, tuple(cands), cost_unit=unit)


def _polyline(nw: dict[str, Any], start: int) -> Any:
    """A new road's alignment (``nw["xy"]``, from ``a`` to ``b``) as drawn from ``start``."""
    import shapely

    xy = np.asarray(nw["xy"], dtype=np.float64)
    return shapely.LineString(xy if start == nw["a"] else xy[::-1])


# ---------------------------------------------------------------------- generators
def _roads(ctx: _Context, links: Iterable[int]) -> dict[tuple, list[tuple[int, ...]]]:
    """Group links into roads (way keys) of segments (a link and its reverse twin)."""
    out: dict[tuple, list[tuple[int, ...]]] = {}
    seen: set[int] = set()
    for k in sorted(int(x) for x in links):
        if k in seen:
            continue
        t = int(ctx.twin[k])
        seg = (k,) if t < 0 else (min(k, t), max(k, t))
        seen.update(seg)
        out.setdefault(ctx.keys[k], []).append(seg)
    return out


def _seg_km(ctx: _Context, segs: Sequence[tuple[int, ...]]) -> float:
    return float(sum(max(ctx.net.length[list(s)]) for s in segs))


def _main_class(ctx: _Context, links: Sequence[int]) -> str:
    cls = [str(ctx.net.road_class[k]) for k in links]
    return max(sorted(set(cls)), key=cls.count) if cls else "road"


def _widen(ctx: _Context, vc_threshold: float, top: int) -> list[_Proposal]:
    net = ctx.net
    cap = net.capacity
    vc = np.where(cap > 0, ctx.flow / np.where(cap > 0, cap, 1.0), 0.0)
    widenable = (cap > 0) & ~np.isin(net.road_class, ["service", "track", "living_street"])
    sel = np.flatnonzero(widenable & (vc >= vc_threshold))
    if sel.size == 0:
        cand = np.flatnonzero(widenable & (ctx.flow > 0))
        order = np.lexsort((cand, -vc[cand]))
        sel = cand[order[:top]]
        if sel.size:
            log.info(
                "no link at v/c >= %.2f; proposing widenings of the %d links of highest v/c "
                "(max %.2f)",
                vc_threshold,
                sel.size,
                vc[sel].max(),
            )
    out = []
    for key, segs in _roads(ctx, sel).items():
        links = np.array([k for s in segs for k in s], dtype=np.int64)
        name = ctx.key_name[key]
        cls = _main_class(ctx, links.tolist())
        lanes = np.where(np.isfinite(net.lanes[links]), net.lanes[links], 1.0)
        km = _seg_km(ctx, segs)
        lane_km = float(sum(max(net.length[list(s)]) * len(s) for s in segs))
        road = ctx.road_name(links.tolist(), name)
        two_way = all(len(s) == 2 for s in segs)
        for add in WIDEN_OPTIONS:
            if np.any(lanes + add > MAX_LANES_PER_DIRECTION):
                continue
            f = (lanes + add) / lanes
            cost = lane_km * add * ctx.costs.widen(cls) * ctx.terrain_for(links)
            out.append(
                _Proposal(
                    source="widen",
                    id=f"widen-{name}-+{add}",
                    kind="widen",
                    cost=cost,
                    benefit=ctx.fixed_flow_saving(links, f, net.free_flow_time[links]),
                    links=links,
                    scale={"capacity": f, "lanes": f.copy()},
                    group=f"widen-{name}",
                    label=(
                        f"widen {road} ({cls}, {km:.2f} km, v/c up to {vc[links].max():.2f}) "
                        f"by {add} lane{'s' if add > 1 else ''}"
                        + (" in each direction" if two_way else "")
                    ),
                )
            )
    return out


def _upgrade(ctx: _Context, top: int) -> list[_Proposal]:
    net = ctx.net
    prof = ctx.prof
    low = np.flatnonzero(
        np.isin(net.road_class, [c for c, t in UPGRADE_TO.items() if t in prof.table])
    )
    volume: dict[tuple, float] = {}
    for k in low.tolist():
        key = (ctx.keys[k], str(net.road_class[k]))
        volume[key] = volume.get(key, 0.0) + float(ctx.flow[k] * net.length[k])
    ranked = sorted(
        (kv for kv in volume.items() if kv[1] > 0),
        key=lambda kv: (-kv[1], ctx.key_name[kv[0][0]]),
    )[:top]
    members: dict[tuple, list[int]] = {}
    for k in low.tolist():
        members.setdefault((ctx.keys[k], str(net.road_class[k])), []).append(k)
    out = []
    for (key, cls), vkm in ranked:
        target = UPGRADE_TO[cls]
        links = np.array(sorted(members[(key, cls)]), dtype=np.int64)
        lanes = np.where(np.isfinite(net.lanes[links]), net.lanes[links], 1.0)
        sf, cf = ctx.terrain_effects(links)  # on these grades (the factors at today's speed)
        speed = np.maximum(net.speed[links], prof.speed(target) * sf)
        fft = np.minimum(net.free_flow_time[links], net.length[links] / speed * ctx.time_factor)
        capf = np.maximum(
            1.0,
            lanes * prof.capacity_per_lane(target) * cf / np.maximum(net.capacity[links], 1e-300),
        )
        if np.all(capf == 1.0) and np.all(fft >= net.free_flow_time[links]):
            continue
        segs = [s for ss in _roads(ctx, links).values() for s in ss]
        km = _seg_km(ctx, segs)
        name = ctx.key_name[key]
        sid = (
            f"upgrade-{name}"
            if cls == _main_class(ctx, _all_links_of(ctx, key))
            else (f"upgrade-{name}-{cls}")
        )
        out.append(
            _Proposal(
                source="upgrade",
                id=sid,
                kind="upgrade",
                cost=km * ctx.costs.upgrade(target) * ctx.terrain_for(links),
                benefit=ctx.fixed_flow_saving(links, capf, fft),
                links=links,
                scale={"capacity": capf},
                set={"speed": speed, "free_flow_time": fft},
                road_class=target,
                label=(
                    f"upgrade {ctx.road_name(links.tolist(), name)} from {cls} to {target} "
                    f"({km:.2f} km, {vkm:.0f} veh-km per period)"
                ),
            )
        )
    return out


def _all_links_of(ctx: _Context, key: tuple) -> list[int]:
    return [k for k in range(ctx.net.num_links) if ctx.keys[k] == key]


def _new_proposal(
    ctx: _Context, source: str, prefix: str, a: int, b: int, cls: str, label: str
) -> _Proposal | None:
    ids = ctx.net.node_ids
    if ids[a] > ids[b]:
        a, b = b, a
    nw = ctx.new_road(a, b, cls)
    if nw["length"] <= 0:
        return None
    t = nw["fft"] + ctx.distance_factor * nw["length"]
    benefit = ctx.new_link_saving(a, b, t, nw["capacity"]) + ctx.new_link_saving(
        b, a, t, nw["capacity"]
    )
    return _Proposal(
        source=source,
        id=f"{prefix}-{int(ids[a])}-{int(ids[b])}",
        kind="new_link",
        cost=nw["length"] * ctx.costs.new_build(cls) * nw["terrain_factor"],
        benefit=benefit,
        new=nw,
        road_class=cls,
        label=label,
    )


def _length_from(ctx: _Context, sources: np.ndarray, limit_km: float) -> np.ndarray:
    """Shortest network lengths (km) from ``sources`` to every node, inf beyond the limit."""
    out = np.empty((sources.size, ctx.net.num_nodes))
    for s in range(0, sources.size, 256):
        chunk = sources[s : s + 256]
        d = dijkstra(ctx.length_graph, directed=True, indices=chunk, limit=limit_km)
        out[s : s + chunk.size] = d[:, ctx.arrive]
    return out


def _missing(ctx: _Context, max_m: float, detour: float, seed: int, top: int) -> list[_Proposal]:
    cls = MISSING_LINK_CLASS if MISSING_LINK_CLASS in ctx.prof.table else "road"
    nodes = np.flatnonzero(ctx.eligible)
    if nodes.size < 2:
        return []
    tree = cKDTree(ctx.xy[nodes])
    pairs = tree.query_pairs(max_m / ctx.mpu, output_type="ndarray")
    if pairs.size == 0:
        return []
    pairs = nodes[pairs]
    if len(pairs) > MAX_PAIRS:
        rng = np.random.default_rng(seed)
        pairs = pairs[np.sort(rng.choice(len(pairs), MAX_PAIRS, replace=False))]
    straight = np.hypot(*(ctx.xy[pairs[:, 0]] - ctx.xy[pairs[:, 1]]).T) * ctx.mpu
    pairs, straight = (
        pairs[straight >= MISSING_LINK_MIN_M],
        straight[straight >= MISSING_LINK_MIN_M],
    )
    if pairs.size == 0:
        return []
    ends, inv = np.unique(pairs, return_inverse=True)
    inv = inv.reshape(-1, 2)
    dist = _length_from(ctx, ends, detour * max_m / 1000.0 * 1.0001)
    d_ab = dist[inv[:, 0], pairs[:, 1]]
    d_ba = dist[inv[:, 1], pairs[:, 0]]
    far = np.minimum(d_ab, d_ba) > detour * straight / 1000.0
    props = []
    for (a, b), s, dab, dba in zip(pairs[far], straight[far], d_ab[far], d_ba[far], strict=True):
        route = min(dab, dba)
        route_txt = (
            f"network route {route:.2f} km"
            if np.isfinite(route)
            else (f"network route over {detour * max_m / 1000:.1f} km")
        )
        p = _new_proposal(
            ctx,
            "missing",
            "new",
            int(a),
            int(b),
            cls,
            f"new {cls} road of {s:.0f} m between {ctx.node_name(int(a))} and "
            f"{ctx.node_name(int(b))} ({route_txt})",
        )
        if p is not None and p.benefit > 0:
            props.append(p)
    return _dedup(ctx, props, top)


def _dedup(ctx: _Context, props: list[_Proposal], top: int) -> list[_Proposal]:
    """Keep the best of new roads that end near each other (within DEDUP_RADIUS_M)."""
    r = DEDUP_RADIUS_M / ctx.mpu
    kept: list[_Proposal] = []
    for p in sorted(props, key=lambda q: (-q.score, q.id)):
        a, b = p.new["a"], p.new["b"]  # type: ignore[index]
        dup = any(
            np.hypot(*(ctx.xy[i] - ctx.xy[j])) <= r
            for q in kept
            for i in (a, b)
            for j in (q.new["a"], q.new["b"])  # type: ignore[index]
        )
        if not dup:
            kept.append(p)
        if len(kept) >= top:
            break
    return kept


def _access(ctx: _Context, max_m: float) -> list[_Proposal]:
    net = ctx.net
    cls_new = ACCESS_CLASS if ACCESS_CLASS in ctx.prof.table else "road"
    classes = {str(c) for c in net.road_class if c}
    if not classes:
        return []
    bases = {c.removesuffix("_link") for c in classes}
    top_rank = min(class_rank(c) for c in bases)
    trunk_rank = class_rank("trunk")
    top = (
        {c for c in bases if class_rank(c) <= trunk_rank}
        if top_rank <= trunk_rank
        else {c for c in bases if class_rank(c) == top_rank}
    )
    on_top = np.isin(
        np.array([str(c).removesuffix("_link") for c in net.road_class], dtype=object),
        list(top),
    )
    touch = np.zeros(net.num_nodes, dtype=bool)
    touch[net.init[on_top]] = True
    touch[net.term[on_top]] = True
    targets = np.flatnonzero(touch & ctx.eligible)
    zones = [
        (int(ctx.zone_ids[k]), int(ctx.zone_nodes[k]))
        for k in range(ctx.zone_nodes.size)
        if ctx.internal[k]
    ]
    if targets.size == 0 or not zones:
        return []
    top_name = "/".join(sorted(top, key=class_rank))
    znodes = np.array(sorted({z for _, z in zones}), dtype=np.int64)
    d_from = dijkstra(ctx.length_graph, directed=True, indices=znodes)
    d_to = dijkstra(ctx.length_graph.T.tocsr(), directed=True, indices=ctx.arrive[znodes])
    zrow = {int(z): k for k, z in enumerate(znodes)}
    txy = ctx.xy[targets]
    props: dict[tuple[int, int], _Proposal] = {}
    for zid, z in sorted(zones):
        if touch[z] and ctx.eligible[z]:
            continue
        d = np.hypot(*(txy - ctx.xy[z]).T) * ctx.mpu
        t = int(targets[int(np.argmin(d))])
        route = min(d_from[zrow[z], t], d_to[zrow[z], t])
        if route <= ACCESS_DETOUR_FACTOR * float(d.min()) / 1000.0:
            continue
        near = np.flatnonzero(
            ctx.eligible
            & ~touch
            & (np.hypot(*(ctx.xy - ctx.xy[z]).T) * ctx.mpu <= ACCESS_RADIUS_M)
        )
        su = np.hypot(*(ctx.xy[near] - ctx.xy[t]).T) * ctx.mpu
        ok = (su >= MISSING_LINK_MIN_M) & (su <= max_m) & np.isfinite(d_from[zrow[z], near])
        near, su = near[ok], su[ok]
        if near.size == 0:
            continue
        # the start node that gives the zone the shortest route to t over the new road
        via = d_from[zrow[z], near] + ctx.circuity * su / 1000.0
        best = int(np.lexsort((near, via))[0])
        u, s = int(near[best]), float(su[best])
        if via[best] >= route:
            continue
        at_t = np.concatenate(
            [
                net.fs_links[net.fs_indptr[t] : net.fs_indptr[t + 1]],
                net.bs_links[net.bs_indptr[t] : net.bs_indptr[t + 1]],
            ]
        )
        ref = next((str(ctx.refs[k]) for k in sorted(at_t) if on_top[k] and ctx.refs[k]), "")
        ref = ref or next((str(ctx.refs[k]) for k in np.flatnonzero(on_top) if ctx.refs[k]), "")
        p = _new_proposal(
            ctx,
            "access",
            "access",
            u,
            t,
            cls_new,
            f"give zone {zid} access to the {top_name}{f' ({ref})' if ref else ''} at "
            f"{ctx.node_name(t)}: new {cls_new} road of {s:.0f} m from {ctx.node_name(u)} "
            f"(zone route {route:.2f} km now, {via[best]:.2f} km with it)",
        )
        if p is not None and p.benefit > 0 and p.pair not in props:
            props[p.pair] = p  # type: ignore[index]
    return list(props.values())
