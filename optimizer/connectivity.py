"""Connectivity and resilience of towns, measured on travel times.

Internal connectivity
    Demand-weighted mean travel time between internal zones (the network's time unit,
    minutes for OpenStreetMap networks): ``sum_ij d_ij tau_ij / sum_ij d_ij`` over
    internal zones ``i != j``, where ``tau_ij`` is the shortest path time at the given
    link costs (at equilibrium: what drivers experience), centroid to centroid.
External connectivity
    Activity-weighted mean travel time from each internal zone to its nearest access point
    to the trunk network of the highest kind the area has (:mod:`networks.access`:
    ``expressway`` junctions, then ``trunk``, then ``primary`` entries):
    ``sum_i a_i min_p tau_ip / sum_i a_i``; the time to each kind is reported as
    ``external_<kind>``. Without access points (a network without road classes), the time
    to the nearest gateway.
Resilience
    Share of internal activity that keeps a path to some gateway whatever single road link
    is closed: zone ``i`` counts when two paths disjoint in road links lead from it to the
    gateway set (Menger's theorem), found with two augmenting paths of a unit-capacity flow.
    Zone connectors (``road_class == "connector"``) are not roads: they never close, so
    they carry any number of paths.

All three are minimised in the optimizer (resilience as ``1 - R``); lower is better.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from networks.access import ACCESS_KINDS
from networks.demand import Demand
from networks.network import Network, forward_star

from . import _kernels as K
from .access import AccessTargets, access_figures, access_times
from .errors import UsageError

__all__ = [
    "ZoneRoles",
    "connectivity",
    "resilience",
    "settlement_times",
    "zone_roles",
    "zone_skims",
]


@dataclass(frozen=True, eq=False)
class ZoneRoles:
    """Internal zones and gateways as network node indices, with weights.

    Attributes
    ----------
    internal_nodes : int64 array
        Node index of each internal zone.
    gateway_nodes : int64 array
        Node index of each external gateway.
    activity : float64 array
        Weight of each internal zone (activity, else its trip ends).
    internal_demand : float64 array (k, k)
        Trips between internal zones (diagonal zero).
    access_nodes : int64 array (p,)
        Node index of each access point to the trunk network
        (``network.extra["access_points"]``); empty when the network has none.
    access_kind : object array (p,)
        Their kinds (``expressway``, ``trunk``, ``primary``).
    access : AccessTargets or None
        The settlements' access targets (:mod:`optimizer.access`), where the problem has
        them: :func:`connectivity` then reports the access figures too.
    """

    internal_nodes: np.ndarray
    gateway_nodes: np.ndarray
    activity: np.ndarray
    internal_demand: np.ndarray
    access_nodes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    access_kind: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    access: AccessTargets | None = None

    def access_kinds(self) -> list[str]:
        """The access point kinds present, highest class first."""
        present = set(self.access_kind.tolist())
        return [k for k in ACCESS_KINDS if k in present]


def zone_roles(network: Network, demand: Demand, activity: np.ndarray | None = None) -> ZoneRoles:
    """Split the demand's zones into internal zones and gateways.

    Parameters
    ----------
    activity
        Weight per internal zone (in the order of the demand's internal zones); default
        the zone's trip ends (origins plus destinations).
    """
    nodes = network.node_indices(demand.zone_node_ids, what="zone node")
    internal = np.asarray(demand.internal, dtype=bool)
    mat = demand.dense()
    sub = mat[np.ix_(internal, internal)].copy()
    np.fill_diagonal(sub, 0.0)
    if activity is None:
        ends = mat.sum(axis=0) + mat.sum(axis=1) - 2 * np.diag(mat)
        act = ends[internal]
    else:
        act = np.asarray(activity, dtype=np.float64)
        if act.shape != (int(internal.sum()),):
            raise UsageError("activity needs one value per internal zone")
    if not np.isfinite(act).all() or act.sum() <= 0:
        act = np.ones(int(internal.sum()))
    points = network.extra.get("access_points") if isinstance(network.extra, Mapping) else None
    if points:
        ids = np.asarray(points.get("node_ids", []), dtype=np.int64)
        known = np.isin(ids, network.node_ids)
        a_nodes = network.node_indices(ids[known], what="access point")
        a_kind = np.asarray(points.get("kind", []), dtype=object)[known]
    else:
        a_nodes, a_kind = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
    return ZoneRoles(nodes[internal], nodes[~internal], act, sub, a_nodes, a_kind)


def _open_star(
    network: Network, closed: np.ndarray | None, *, reverse: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The forward star (backward with ``reverse``) of the open links: ``indptr, links``."""
    open_links = np.flatnonzero(~closed) if closed is not None else np.arange(network.num_links)
    tail = network.term if reverse else network.init
    indptr, local = forward_star(tail[open_links], network.num_nodes)
    return indptr, np.ascontiguousarray(open_links[local])


def _distances(
    network: Network,
    cost: np.ndarray,
    sources: np.ndarray,
    closed: np.ndarray | None,
    *,
    reverse: bool = False,
) -> np.ndarray:
    """Shortest path costs from ``sources`` (to them, with ``reverse``) over open links."""
    head = network.init if reverse else network.term
    indptr, links = _open_star(network, closed, reverse=reverse)
    out = np.empty((len(sources), network.num_nodes))
    K.distances_from(
        np.ascontiguousarray(sources, dtype=np.int64),
        indptr,
        links,
        np.ascontiguousarray(head),
        np.ascontiguousarray(cost, dtype=np.float64),
        network.no_thru.astype(np.uint8),
        out,
    )
    return out


def zone_skims(
    network: Network, demand: Demand, cost: np.ndarray, closed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Zone-to-zone least-cost times and the lengths of those paths (the skims).

    Parameters
    ----------
    network
        The network (zone nodes are reached but not passed through: ``no_thru``).
    demand
        Its zones, in order (``zone_node_ids``).
    cost
        Link costs (the network's time unit), e.g. the equilibrium's congested costs.
    closed
        Links that do not exist (candidates not built).

    Returns
    -------
    time, distance : float64 arrays (z, z)
        ``time[i, j]``: the least cost from zone ``i`` to zone ``j`` at ``cost``;
        ``distance[i, j]``: the length of that path (the network's length unit). Both
        inf where ``j`` cannot be reached, 0 on the diagonal.
    """
    nodes = network.node_indices(demand.zone_node_ids, what="zone node")
    indptr, links = _open_star(network, closed)
    z, n = len(nodes), network.num_nodes
    time, dist = np.empty((z, n)), np.empty((z, n))
    K.skims_from(
        np.ascontiguousarray(nodes, dtype=np.int64),
        indptr,
        links,
        np.ascontiguousarray(network.init),
        np.ascontiguousarray(network.term),
        np.ascontiguousarray(cost, dtype=np.float64),
        np.ascontiguousarray(network.length, dtype=np.float64),
        network.no_thru.astype(np.uint8),
        time,
        dist,
    )
    return time[:, nodes], dist[:, nodes]


def connectivity(
    network: Network, roles: ZoneRoles, cost: np.ndarray, closed: np.ndarray | None = None
) -> dict[str, float]:
    """Internal and external connectivity at the given link costs (time unit).

    Returns ``internal`` (nan without internal trips), ``external`` (to the access points
    of the highest kind, else to the gateways; nan without either), ``external_<kind>``
    for each kind of access point present, ``unreachable`` (share of internal
    activity with no path to any gateway) and, where ``roles.access`` is set, the access
    figures of :func:`optimizer.access.access_figures`.
    """
    out = {"internal": float("nan"), "external": float("nan"), "unreachable": 0.0}
    if roles.internal_nodes.size == 0:
        return out
    dist = _distances(network, cost, roles.internal_nodes, closed)
    d = roles.internal_demand
    if d.sum() > 0:
        tau = dist[:, roles.internal_nodes]
        ok = np.isfinite(tau) | (d == 0)
        out["internal"] = (
            float((d * np.where(ok, tau, 0.0)).sum() / d.sum()) if ok.all() else (float("inf"))
        )
    a = roles.activity

    def mean_time(targets: np.ndarray) -> float:
        nearest = dist[:, targets].min(axis=1)
        reach = np.isfinite(nearest)
        return float((a * nearest)[reach].sum() / a[reach].sum()) if reach.any() else math.inf

    if roles.gateway_nodes.size:
        reach = np.isfinite(dist[:, roles.gateway_nodes].min(axis=1))
        out["unreachable"] = float(a[~reach].sum() / a.sum())
        out["external"] = mean_time(roles.gateway_nodes)
    kinds = roles.access_kinds()
    for kind in kinds:
        out[f"external_{kind}"] = mean_time(roles.access_nodes[roles.access_kind == kind])
    if kinds:
        out["external"] = out[f"external_{kinds[0]}"]
    if roles.access is not None:
        out.update(
            access_figures(
                access_times(dist, roles.access), roles.access, dist[:, roles.internal_nodes]
            )
        )
    return out


def settlement_times(
    network: Network, roles: ZoneRoles, cost: np.ndarray, closed: np.ndarray | None = None
) -> np.ndarray:
    """Each settlement's time to each access class with a target (settlements x classes).

    Raises
    ------
    UsageError
        When the roles carry no access targets.
    """
    if roles.access is None:
        raise UsageError("settlement access times need access targets (objective access)")
    return access_times(_distances(network, cost, roles.internal_nodes, closed), roles.access)


def resilience(network: Network, roles: ZoneRoles, closed: np.ndarray | None = None) -> float:
    """Share of internal activity with two road-link-disjoint paths to the gateways (0..1).

    Nodes marked ``no_thru`` are not passed through; connectors never close (see the module
    docstring). Without gateways the value is nan.
    """
    if roles.gateway_nodes.size == 0 or roles.internal_nodes.size == 0:
        return float("nan")
    n = network.num_nodes
    open_links = np.flatnonzero(~closed) if closed is not None else np.arange(network.num_links)
    init = network.init[open_links]
    term = network.term[open_links]
    m = open_links.size
    # connectors never close: any number of paths may share one (unlimited capacity)
    free = np.asarray(network.road_class[open_links] == "connector", dtype=bool)
    # residual graph: forward arcs 0..m-1, reverse arcs m..2m-1; super sink n
    sink = n
    g_init = np.concatenate([init, term])
    g_term = np.concatenate([term, init])
    gate = np.zeros(n + 1, dtype=bool)
    gate[roles.gateway_nodes] = True
    indptr, arcs = forward_star(g_init, n + 1)
    no_thru = network.no_thru
    ok = 0.0
    for z, a in zip(roles.internal_nodes.tolist(), roles.activity.tolist(), strict=True):
        if gate[z]:
            ok += a
            continue
        used = np.zeros(m, dtype=np.int64)  # flow on forward arcs (reverse = residual)
        paths = 0
        for _ in range(2):
            pred = np.full(n + 1, -2, dtype=np.int64)
            pred[z] = -1
            q = deque([z])
            found = -1
            while q and found < 0:
                u = q.popleft()
                if gate[u]:
                    found = u
                    break
                if no_thru[u] and u != z:
                    continue
                for k in range(indptr[u], indptr[u + 1]):
                    arc = arcs[k]
                    if arc < m:
                        if used[arc] and not free[arc]:
                            continue
                    elif not used[arc - m]:
                        continue
                    v = g_term[arc]
                    if pred[v] == -2:
                        pred[v] = arc
                        q.append(v)
            if found < 0:
                break
            # a gateway may absorb any number of paths: stop at the first reached
            v = found
            while v != z:
                arc = pred[v]
                if arc < m:
                    used[arc] += 1
                else:
                    used[arc - m] -= 1
                v = g_init[arc]
            paths += 1
        if paths >= 2:
            ok += a
    del sink
    return float(ok / roles.activity.sum())
