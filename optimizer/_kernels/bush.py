"""Algorithm B bushes: start, topological order, labels, rectify, re-hang, prune and grow.

Dial (2006), "A path-based user-equilibrium traffic assignment algorithm that obviates
path storage and enumeration", Transportation Research B 40(10); the presentation follows
Boyles, Lownes and Unnikrishnan, "Transportation Network Analysis", ch. 6, and Nie (2010),
"A class of bush-based algorithms for the traffic assignment problem", TR-B 44(1).

Every origin r owns a bush: an acyclic set of links (in_bush[r, a] == 1) through which all
of r's trips travel, with origin-based link flows xo[r, a]. Total flow x = sum_r xo[r].
The flow shifts between a bush's paths are in :mod:`.shift`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .paths import _dijkstra, _load_tree, shortest_path_tree

INF = np.inf


@njit(cache=True)
def _topo_order(r_origin, in_bush, indptr, out_links, init, term, n, order, indeg, stack):
    """Kahn's topological order of the nodes reachable in a bush; returns their count."""
    for v in range(n):
        indeg[v] = 0
    m = init.shape[0]
    for a in range(m):
        if in_bush[a]:
            indeg[term[a]] += 1
    top = 0
    stack[top] = r_origin
    top += 1
    count = 0
    while top > 0:
        top -= 1
        u = stack[top]
        order[count] = u
        count += 1
        for k in range(indptr[u], indptr[u + 1]):
            a = out_links[k]
            if in_bush[a]:
                v = term[a]
                indeg[v] -= 1
                if indeg[v] == 0:
                    stack[top] = v
                    top += 1
    return count


@njit(cache=True)
def _bush_labels(
    order,
    count,
    in_bush,
    xo,
    bs_indptr,
    bs_links,
    init,
    cost,
    n,
    lmin,
    pmin,
    lmax,
    pmax,
    used_only,
):
    """Min and max path labels over the bush in topological order.

    ``lmin``/``pmin``: shortest path cost and the link into each node over all bush links.
    ``lmax``/``pmax``: longest path cost over bush links (``used_only``: only links that carry
    the origin's flow; nodes without a used incoming link get ``-inf`` and ``pmax = -1``).
    """
    for k in range(count):
        v = order[k]
        lmin[v] = INF
        pmin[v] = -1
        lmax[v] = -INF
        pmax[v] = -1
    o = order[0]
    lmin[o] = 0.0
    lmax[o] = 0.0
    for k in range(1, count):
        v = order[k]
        for q in range(bs_indptr[v], bs_indptr[v + 1]):
            a = bs_links[q]
            if not in_bush[a]:
                continue
            u = init[a]
            c = cost[a]
            d = lmin[u] + c
            if d < lmin[v]:
                lmin[v] = d
                pmin[v] = a
            if used_only and xo[a] <= 0.0:
                continue
            if lmax[u] == -INF:
                continue
            d = lmax[u] + c
            if d > lmax[v]:
                lmax[v] = d
                pmax[v] = a


@njit(cache=True)
def _compact_lists(order, cnt, ib, bs_indptr, bs_links, ptr, links):
    """Fill a bush's in-link lists in topological order (see :func:`_compact_labels`)."""
    pos = 0
    for k in range(cnt):
        ptr[k] = pos
        v = order[k]
        for q in range(bs_indptr[v], bs_indptr[v + 1]):
            a = bs_links[q]
            if ib[a]:
                links[pos] = a
                pos += 1
    ptr[cnt] = pos


@njit(cache=True)
def bush_init(
    origins,
    od_indptr,
    od_dest,
    od_trips,
    indptr,
    out_links,
    init,
    term,
    cost,
    no_thru,
    xo,
    in_bush,
):
    """Start every bush as the origin's shortest-path tree and load its trips on it."""
    n = no_thru.shape[0]
    dist = np.empty(n)
    pred = np.empty(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    heap = np.empty(n, dtype=np.int64)
    pos = np.empty(n, dtype=np.int64)
    node_flow = np.zeros(n)
    for r in range(origins.shape[0]):
        cnt = shortest_path_tree(
            origins[r], indptr, out_links, term, cost, no_thru, dist, pred, order, heap, pos
        )
        for a in range(init.shape[0]):
            xo[r, a] = 0.0
            in_bush[r, a] = 0
        for k in range(1, cnt):
            in_bush[r, pred[order[k]]] = 1
        lo, hi = od_indptr[r], od_indptr[r + 1]
        _load_tree(od_dest[lo:hi], od_trips[lo:hi], init, pred, order, cnt, node_flow, xo[r])


@njit(cache=True)
def _rectify(order, cnt, ib, xo_r, bs_indptr, bs_links, init, pmin, node_flow, dests, trips):
    """Restore exact flow conservation on a bush, keeping each node's approach shares.

    Node flows are loaded from the origin's trips and pushed back in reverse topological
    order; a node's flow is split over its incoming bush links in proportion to their
    current flows (all of it on the shortest approach when they carry none). Floating-point
    residue on links into nodes that carry no flow becomes exactly zero.
    """
    for k in range(cnt):
        node_flow[order[k]] = 0.0
    for k in range(dests.shape[0]):
        node_flow[dests[k]] += trips[k]
    for k in range(cnt - 1, 0, -1):
        v = order[k]
        f = node_flow[v]
        tot = 0.0
        for q in range(bs_indptr[v], bs_indptr[v + 1]):
            a = bs_links[q]
            if ib[a]:
                tot += xo_r[a]
        for q in range(bs_indptr[v], bs_indptr[v + 1]):
            a = bs_links[q]
            if ib[a]:
                if f <= 0.0:
                    xo_r[a] = 0.0
                elif tot > 0.0:
                    xo_r[a] = f * (xo_r[a] / tot)
                    node_flow[init[a]] += xo_r[a]
                elif a == pmin[v]:
                    xo_r[a] = f
                    node_flow[init[a]] += f
                else:
                    xo_r[a] = 0.0


@njit(cache=True)
def _rehang(
    o,
    ib,
    xo_r,
    init,
    term,
    indptr,
    out_links,
    cost,
    no_thru,
    used,
    dist,
    pred,
    sorder,
    heap,
    hkey,
    pos,
):
    """Hang the unused part of a bush on the network's shortest-path tree.

    See :func:`_update_one`. ``used`` is scratch (length n); the others as for
    :func:`_dijkstra`.
    """
    n = no_thru.shape[0]
    m = init.shape[0]
    for k in range(n):
        used[k] = 0
    used[o] = 1
    for a in range(m):
        if ib[a] and xo_r[a] > 0.0:
            used[term[a]] = 1
    for a in range(m):
        if ib[a] and (used[init[a]] == 0 or used[term[a]] == 0):
            ib[a] = 0
            xo_r[a] = 0.0
    cnt = _dijkstra(
        o, indptr, out_links, term, cost, no_thru, dist, pred, sorder, heap, hkey, pos, pos, 0
    )
    for k in range(1, cnt):
        v = sorder[k]
        if used[v] == 0:
            ib[pred[v]] = 1


@njit(cache=True)
def _update_one(
    r,
    lptr,
    llinks,
    origins,
    od_indptr,
    od_dest,
    od_trips,
    indptr,
    out_links,
    bs_indptr,
    bs_links,
    init,
    term,
    no_thru,
    link_open,
    cost,
    xo,
    in_bush,
    topo,
    topo_count,
    indeg,
    stack,
    lmin,
    lmax,
    pmin,
    pmax,
    rank,
    node_flow,
    dist,
    pred,
    sorder,
    heap,
    hkey,
    pos,
    rehang,
):
    """Rectify, prune and grow the bush of origin ``r``; returns the links added.

    *Re-hang* (with ``rehang``, which the solver asks for when a sweep did not halve the
    gap): the part of the bush that carries none of the origin's flow is replaced by
    the network's shortest-path tree at the current costs (links out of unused nodes are
    dropped, and each unused node hangs from its tree link). The used part is a subgraph of
    the old acyclic bush, links into the unused part are tree links only, and nothing leaves
    it but tree links, so the bush stays acyclic. Without this, a bush whose unused part
    points the wrong way along a long two-way corridor could turn it round only one link per
    update (each zero-flow link survives as its node's shortest approach until the reversed
    link has replaced it), and the solve stalls for hundreds of iterations.
    """
    n = no_thru.shape[0]
    m = init.shape[0]
    o = origins[r]
    xo_r = xo[r]
    ib = in_bush[r]
    order = topo[r]
    cnt = _topo_order(o, ib, indptr, out_links, init, term, n, order, indeg, stack)
    _bush_labels(
        order, cnt, ib, xo_r, bs_indptr, bs_links, init, cost, n, lmin, pmin, lmax, pmax, False
    )
    lo, hi = od_indptr[r], od_indptr[r + 1]
    _rectify(
        order,
        cnt,
        ib,
        xo_r,
        bs_indptr,
        bs_links,
        init,
        pmin,
        node_flow,
        od_dest[lo:hi],
        od_trips[lo:hi],
    )
    if rehang:
        _rehang(
            o,
            ib,
            xo_r,
            init,
            term,
            indptr,
            out_links,
            cost,
            no_thru,
            rank,
            dist,
            pred,
            sorder,
            heap,
            hkey,
            pos,
        )
        cnt = _topo_order(o, ib, indptr, out_links, init, term, n, order, indeg, stack)
        _bush_labels(
            order, cnt, ib, xo_r, bs_indptr, bs_links, init, cost, n, lmin, pmin, lmax, pmax, False
        )
    pruned = 0
    for a in range(m):
        if ib[a] and xo_r[a] <= 0.0 and pmin[term[a]] != a:
            ib[a] = 0
            xo_r[a] = 0.0
            pruned += 1
    if pruned:
        _bush_labels(
            order, cnt, ib, xo_r, bs_indptr, bs_links, init, cost, n, lmin, pmin, lmax, pmax, False
        )
    for k in range(n):
        rank[k] = -1
    for k in range(cnt):
        rank[order[k]] = k
    added = 0
    for a in range(m):
        if ib[a] or not link_open[a]:
            continue
        i = init[a]
        j = term[a]
        if rank[i] < 0 or rank[j] < 0 or j == o or (no_thru[i] and i != o):
            continue
        if lmin[i] + cost[a] < lmin[j] * (1.0 - 1e-14) and lmax[i] < lmax[j]:
            ib[a] = 1
            added += 1
    if added == 0:
        for a in range(m):
            if ib[a] or not link_open[a]:
                continue
            i = init[a]
            j = term[a]
            if rank[i] < 0 or rank[j] < 0 or j == o or (no_thru[i] and i != o):
                continue
            if rank[i] < rank[j] and lmin[i] + cost[a] < lmin[j] * (1.0 - 1e-14):
                ib[a] = 1
                added += 1
    if added or pruned:
        cnt = _topo_order(o, ib, indptr, out_links, init, term, n, order, indeg, stack)
    topo_count[r] = cnt
    _compact_lists(order, cnt, ib, bs_indptr, bs_links, lptr[r], llinks[r])
    return added


@njit(cache=True)
def _update_chunk(
    c,
    nchunks,
    origins,
    od_indptr,
    od_dest,
    od_trips,
    indptr,
    out_links,
    bs_indptr,
    bs_links,
    init,
    term,
    no_thru,
    link_open,
    cost,
    xo,
    in_bush,
    topo,
    topo_count,
    lptr,
    llinks,
    rehang,
):
    n = no_thru.shape[0]
    indeg = np.empty(n, dtype=np.int64)
    stack = np.empty(n, dtype=np.int64)
    lmin = np.empty(n)
    lmax = np.empty(n)
    pmin = np.empty(n, dtype=np.int64)
    pmax = np.empty(n, dtype=np.int64)
    rank = np.empty(n, dtype=np.int64)
    node_flow = np.zeros(n)
    dist = np.empty(n)
    pred = np.empty(n, dtype=np.int64)
    sorder = np.empty(n, dtype=np.int64)
    heap = np.empty(n, dtype=np.int64)
    hkey = np.empty(n)
    pos = np.empty(n, dtype=np.int64)
    added = 0
    for r in range(c, origins.shape[0], nchunks):
        added += _update_one(
            r,
            lptr,
            llinks,
            origins,
            od_indptr,
            od_dest,
            od_trips,
            indptr,
            out_links,
            bs_indptr,
            bs_links,
            init,
            term,
            no_thru,
            link_open,
            cost,
            xo,
            in_bush,
            topo,
            topo_count,
            indeg,
            stack,
            lmin,
            lmax,
            pmin,
            pmax,
            rank,
            node_flow,
            dist,
            pred,
            sorder,
            heap,
            hkey,
            pos,
            rehang,
        )
    return added


@njit(cache=True, parallel=True)
def bush_update(
    origins,
    od_indptr,
    od_dest,
    od_trips,
    indptr,
    out_links,
    bs_indptr,
    bs_links,
    init,
    term,
    no_thru,
    link_open,
    cost,
    xo,
    in_bush,
    topo,
    topo_count,
    lptr,
    llinks,
    nchunks,
    rehang,
):
    """Prune every bush of unused links and add shortcut links; store topological orders.

    A bush keeps the links that carry the origin's flow plus its shortest-path tree. A link
    ``(i, j)`` is added when it shortens the path to ``j`` (``L_i + t < L_j``) and keeps
    the bush acyclic: ``U_i < U_j`` for the longest-path labels ``U`` over the bush (every
    bush link has ``U_i <= U_j``), or failing any such link, ``i`` before ``j`` in the
    current topological order. Each bush's in-link lists are stored in ``lptr``/``llinks``
    for the shift passes. Bushes are independent here: origins are split over ``nchunks``
    threads (:func:`bush_update_serial` is the one-thread version). With ``rehang`` the
    unused part of every bush is first replaced by the network's shortest-path tree at the
    current costs (see :func:`_update_one`). Returns the number of links added.
    """
    nchunks = max(1, min(nchunks, origins.shape[0]))
    added = np.zeros(nchunks, dtype=np.int64)
    for c in prange(nchunks):
        added[c] = _update_chunk(
            c,
            nchunks,
            origins,
            od_indptr,
            od_dest,
            od_trips,
            indptr,
            out_links,
            bs_indptr,
            bs_links,
            init,
            term,
            no_thru,
            link_open,
            cost,
            xo,
            in_bush,
            topo,
            topo_count,
            lptr,
            llinks,
            rehang,
        )
    return added.sum()


@njit(cache=True)
def bush_update_serial(
    origins,
    od_indptr,
    od_dest,
    od_trips,
    indptr,
    out_links,
    bs_indptr,
    bs_links,
    init,
    term,
    no_thru,
    link_open,
    cost,
    xo,
    in_bush,
    topo,
    topo_count,
    lptr,
    llinks,
    rehang,
):
    """:func:`bush_update` on one thread."""
    return _update_chunk(
        0,
        1,
        origins,
        od_indptr,
        od_dest,
        od_trips,
        indptr,
        out_links,
        bs_indptr,
        bs_links,
        init,
        term,
        no_thru,
        link_open,
        cost,
        xo,
        in_bush,
        topo,
        topo_count,
        lptr,
        llinks,
        rehang,
    )
