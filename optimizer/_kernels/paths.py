"""Shortest paths: Dijkstra, all-or-nothing loading, shortest-path travel time, distances.

Graphs are CSR forward stars: the links out of node ``u`` are
``out_links[indptr[u]:indptr[u + 1]]``, each from ``init[a]`` to ``term[a]``. Nodes with
``no_thru[v] == 1`` (zone centroids) are reached but never passed through, except by paths
that start there. Demand is in CSR form too: origin ``origins[r]`` sends ``od_trips[k]``
to ``od_dest[k]`` for ``k`` in ``od_indptr[r]:od_indptr[r + 1]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

INF = np.inf


@njit(cache=True)
def shortest_path_tree(
    origin, indptr, out_links, term, cost, no_thru, dist, pred, order, heap, pos
):
    """Dijkstra from ``origin`` over the CSR forward star (``indptr``, ``out_links``).

    Nodes with ``no_thru[v] == 1`` (other than the origin) are reached but never expanded.
    Writes ``dist`` (inf where unreachable), ``pred`` (the link into each node, -1 for the
    origin and unreachable nodes) and ``order`` (nodes in the order settled); returns the
    number of settled nodes. ``heap`` and ``pos`` are scratch arrays of length n.
    """
    hkey = np.empty(dist.shape[0])
    return _dijkstra(
        origin, indptr, out_links, term, cost, no_thru, dist, pred, order, heap, hkey, pos, pos, 0
    )


@njit(cache=True)
def _dijkstra(
    origin,
    indptr,
    out_links,
    term,
    cost,
    no_thru,
    dist,
    pred,
    order,
    heap,
    hkey,
    pos,
    dest_mark,
    ndest,
):
    """Dijkstra with an indexed 4-ary heap whose keys sit beside the nodes (``hkey``).

    As :func:`shortest_path_tree`; with ``ndest > 0`` the search stops once the ``ndest``
    nodes marked ``dest_mark[v] == 1`` are settled (only their distances and the tree to
    them are then final). ``heap``, ``hkey`` and ``pos`` are scratch arrays of length n.
    A 4-ary heap with inline keys is about 1.8 times faster here than a binary heap that
    looks keys up by node.
    """
    n = dist.shape[0]
    for v in range(n):
        dist[v] = INF
        pred[v] = -1
        pos[v] = -1
    dist[origin] = 0.0
    heap[0] = origin
    hkey[0] = 0.0
    pos[origin] = 0
    size = 1
    count = 0
    left = ndest
    while size > 0:
        u = heap[0]
        du = hkey[0]
        pos[u] = -2  # settled
        size -= 1
        if size > 0:  # move the last entry down from the root
            v = heap[size]
            d = hkey[size]
            i = 0
            while True:
                c = 4 * i + 1
                if c >= size:
                    break
                best = c
                bk = hkey[c]
                e = c + 4 if c + 4 <= size else size
                for cc in range(c + 1, e):
                    if hkey[cc] < bk:
                        bk = hkey[cc]
                        best = cc
                if bk >= d:
                    break
                heap[i] = heap[best]
                hkey[i] = bk
                pos[heap[i]] = i
                i = best
            heap[i] = v
            hkey[i] = d
            pos[v] = i
        order[count] = u
        count += 1
        if left > 0 and dest_mark[u] == 1:
            left -= 1
            if left == 0:
                break
        if no_thru[u] and u != origin:
            continue
        for k in range(indptr[u], indptr[u + 1]):
            a = out_links[k]
            v = term[a]
            if pos[v] == -2:
                continue
            nd = du + cost[a]
            if nd < dist[v]:
                dist[v] = nd
                pred[v] = a
                i = pos[v]
                if i < 0:
                    i = size
                    size += 1
                while i > 0:  # sift up
                    p = (i - 1) >> 2
                    if hkey[p] <= nd:
                        break
                    heap[i] = heap[p]
                    hkey[i] = hkey[p]
                    pos[heap[i]] = i
                    i = p
                heap[i] = v
                hkey[i] = nd
                pos[v] = i
    return count


@njit(cache=True)
def _load_tree(dests, trips, init, pred, order, count, node_flow, flow):
    """Load ``trips`` to ``dests`` along a shortest-path tree (reverse settle order)."""
    for k in range(dests.shape[0]):
        node_flow[dests[k]] += trips[k]
    for k in range(count - 1, 0, -1):
        v = order[k]
        f = node_flow[v]
        if f != 0.0:
            a = pred[v]
            flow[a] += f
            node_flow[init[a]] += f
            node_flow[v] = 0.0
    node_flow[order[0]] = 0.0


@njit(cache=True)
def _aon_chunk(
    c,
    nchunks,
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
    acc,
):
    """All-or-nothing loading of origins ``c, c + nchunks, ...`` into ``acc``."""
    n = no_thru.shape[0]
    dist = np.empty(n)
    pred = np.empty(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    heap = np.empty(n, dtype=np.int64)
    hkey = np.empty(n)
    pos = np.empty(n, dtype=np.int64)
    node_flow = np.zeros(n)
    mark = np.zeros(n, dtype=np.uint8)
    sptt = 0.0
    lost = 0.0
    for r in range(c, origins.shape[0], nchunks):
        lo, hi = od_indptr[r], od_indptr[r + 1]
        for k in range(lo, hi):
            mark[od_dest[k]] = 1
        cnt = _dijkstra(
            origins[r],
            indptr,
            out_links,
            term,
            cost,
            no_thru,
            dist,
            pred,
            order,
            heap,
            hkey,
            pos,
            mark,
            hi - lo,
        )
        for k in range(lo, hi):
            mark[od_dest[k]] = 0
        for k in range(lo, hi):
            d = dist[od_dest[k]]
            if d == INF:
                lost += od_trips[k]
            else:
                sptt += od_trips[k] * d
        _load_tree(od_dest[lo:hi], od_trips[lo:hi], init, pred, order, cnt, node_flow, acc)
    return sptt, lost


@njit(cache=True, parallel=True)
def all_or_nothing(
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
    flow_out,
    nthreads,
):
    """All-or-nothing loading of every origin's trips on its shortest-path tree.

    Parallel over origins (one flow accumulator per thread). Returns the shortest-path
    travel time ``SPTT`` (trips times shortest path cost, summed) and the trips that found
    no path (0 when the demand is connected). :func:`all_or_nothing_serial` is the
    one-thread version (no parallel region to start, for small problems).
    """
    m = init.shape[0]
    nchunks = max(1, min(nthreads, origins.shape[0]))
    acc = np.zeros((nchunks, m))
    sptt = np.zeros(nchunks)
    lost = np.zeros(nchunks)
    for c in prange(nchunks):
        sptt[c], lost[c] = _aon_chunk(
            c,
            nchunks,
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
            acc[c],
        )
    for a in range(m):
        t = 0.0
        for c in range(nchunks):
            t += acc[c, a]
        flow_out[a] = t
    return sptt.sum(), lost.sum()


@njit(cache=True)
def all_or_nothing_serial(
    origins, od_indptr, od_dest, od_trips, indptr, out_links, init, term, cost, no_thru, flow_out
):
    """:func:`all_or_nothing` on one thread."""
    flow_out[:] = 0.0
    return _aon_chunk(
        0,
        1,
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
        flow_out,
    )


@njit(cache=True)
def _sptt_chunk(
    c, nchunks, origins, od_indptr, od_dest, od_trips, indptr, out_links, term, cost, no_thru
):
    n = no_thru.shape[0]
    dist = np.empty(n)
    pred = np.empty(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    heap = np.empty(n, dtype=np.int64)
    hkey = np.empty(n)
    pos = np.empty(n, dtype=np.int64)
    mark = np.zeros(n, dtype=np.uint8)
    s = 0.0
    for r in range(c, origins.shape[0], nchunks):
        lo, hi = od_indptr[r], od_indptr[r + 1]
        for k in range(lo, hi):
            mark[od_dest[k]] = 1
        _dijkstra(
            origins[r],
            indptr,
            out_links,
            term,
            cost,
            no_thru,
            dist,
            pred,
            order,
            heap,
            hkey,
            pos,
            mark,
            hi - lo,
        )
        for k in range(lo, hi):
            mark[od_dest[k]] = 0
            s += od_trips[k] * dist[od_dest[k]]
    return s


@njit(cache=True, parallel=True)
def sptt_only(
    origins, od_indptr, od_dest, od_trips, indptr, out_links, term, cost, no_thru, nthreads
):
    """Shortest-path travel time (trips x shortest path cost) at the given costs."""
    nchunks = max(1, min(nthreads, origins.shape[0]))
    sptt = np.zeros(nchunks)
    for c in prange(nchunks):
        sptt[c] = _sptt_chunk(
            c,
            nchunks,
            origins,
            od_indptr,
            od_dest,
            od_trips,
            indptr,
            out_links,
            term,
            cost,
            no_thru,
        )
    return sptt.sum()


@njit(cache=True)
def sptt_serial(origins, od_indptr, od_dest, od_trips, indptr, out_links, term, cost, no_thru):
    """:func:`sptt_only` on one thread."""
    return _sptt_chunk(
        0, 1, origins, od_indptr, od_dest, od_trips, indptr, out_links, term, cost, no_thru
    )


@njit(cache=True, parallel=True)
def distances_from(origins, indptr, out_links, term, cost, no_thru, out):
    """Shortest path costs from each origin to every node: ``out[r, v]`` (inf: unreachable)."""
    n = no_thru.shape[0]
    for r in prange(origins.shape[0]):
        pred = np.empty(n, dtype=np.int64)
        order = np.empty(n, dtype=np.int64)
        heap = np.empty(n, dtype=np.int64)
        pos = np.empty(n, dtype=np.int64)
        shortest_path_tree(
            origins[r], indptr, out_links, term, cost, no_thru, out[r], pred, order, heap, pos
        )


@njit(cache=True, parallel=True)
def skims_from(origins, indptr, out_links, init, term, cost, length, no_thru, time_out, dist_out):
    """Least-cost times from each origin and the lengths of those paths.

    ``time_out[r, v]``: the shortest path cost from ``origins[r]`` to node ``v`` (inf:
    unreachable); ``dist_out[r, v]``: the summed ``length`` of the links of that path (the
    path of :func:`shortest_path_tree`'s tree; inf: unreachable).
    """
    n = no_thru.shape[0]
    for r in prange(origins.shape[0]):
        pred = np.empty(n, dtype=np.int64)
        order = np.empty(n, dtype=np.int64)
        heap = np.empty(n, dtype=np.int64)
        pos = np.empty(n, dtype=np.int64)
        cnt = shortest_path_tree(
            origins[r], indptr, out_links, term, cost, no_thru, time_out[r], pred, order, heap, pos
        )
        d = dist_out[r]
        d[:] = INF
        d[origins[r]] = 0.0
        for k in range(cnt):  # settled order: a node's tree parent is settled before it
            v = order[k]
            a = pred[v]
            if a >= 0:
                d[v] = d[init[a]] + length[a]
