"""numba kernels of the assignment engine: the only module of roadopt that imports numba.

Kernels take plain contiguous arrays (float64, int64, uint8) and scalars, trust them (the
public wrappers validate), and write into preallocated outputs where it helps. Every kernel
has a slow pure-Python twin in ``tests/naive.py`` that it must agree with.

Link cost (BPR, Bureau of Public Roads 1964) plus a constant generalized term::

    t(x) = fft * (1 + alpha * (x / cap) ** beta) + const

with 0**0 = 1 (``beta == 0`` gives the constant ``fft * (1 + alpha)``); links with
``fft == 0`` or ``alpha == 0`` have the constant cost ``fft + const``.
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange, set_num_threads

INF = np.inf


def threads() -> int:
    """Threads the parallel kernels use (numba's setting; ``NUMBA_NUM_THREADS``)."""
    return int(get_num_threads())


def set_threads(n: int) -> None:
    """Limit the parallel kernels to ``n`` threads (for example one per Dask worker)."""
    set_num_threads(int(n))


# ---------------------------------------------------------------------- link costs


@njit(cache=True, inline="always")
def _cost1(fft, alpha, beta, cap, const, x):
    if fft == 0.0 or alpha == 0.0:
        return fft + const
    if beta == 0.0:
        return fft * (1.0 + alpha) + const
    if x <= 0.0:
        return fft + const
    return fft * (1.0 + alpha * (x / cap) ** beta) + const


@njit(cache=True, inline="always")
def _deriv1(fft, alpha, beta, cap, x):
    if fft == 0.0 or alpha == 0.0 or beta == 0.0:
        return 0.0
    if beta == 1.0:
        return fft * alpha / cap
    if x <= 0.0:
        return 0.0 if beta > 1.0 else INF
    return fft * alpha * beta * (x / cap) ** (beta - 1.0) / cap


@njit(cache=True, inline="always")
def _integral1(fft, alpha, beta, cap, const, x):
    if x <= 0.0:
        return 0.0
    if fft == 0.0 or alpha == 0.0:
        return (fft + const) * x
    return fft * (x + alpha * cap / (beta + 1.0) * (x / cap) ** (beta + 1.0)) + const * x


@njit(cache=True)
def link_costs(fft, alpha, beta, cap, const, flow, out):
    """Generalized BPR cost of every link at ``flow``, written into ``out``."""
    for a in range(flow.shape[0]):
        out[a] = _cost1(fft[a], alpha[a], beta[a], cap[a], const[a], flow[a])


@njit(cache=True)
def link_derivatives(fft, alpha, beta, cap, flow, out):
    """D cost / d flow of every link (``inf`` at zero flow when ``0 < beta < 1``)."""
    for a in range(flow.shape[0]):
        out[a] = _deriv1(fft[a], alpha[a], beta[a], cap[a], flow[a])


@njit(cache=True)
def beckmann(fft, alpha, beta, cap, const, flow):
    """Beckmann objective: the sum over links of the integral of cost from 0 to flow."""
    s = 0.0
    for a in range(flow.shape[0]):
        s += _integral1(fft[a], alpha[a], beta[a], cap[a], const[a], flow[a])
    return s


# ---------------------------------------------------------------------- shortest paths


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


# ---------------------------------------------------------------------- line search


@njit(cache=True)
def _directional_derivative(fft, alpha, beta, cap, const, x, d, tau):
    s = 0.0
    for a in range(x.shape[0]):
        if d[a] != 0.0:
            s += d[a] * _cost1(fft[a], alpha[a], beta[a], cap[a], const[a], x[a] + tau * d[a])
    return s


@njit(cache=True)
def line_search(fft, alpha, beta, cap, const, x, d, tau_max, tol):
    """Step ``tau`` in [0, tau_max] minimising the Beckmann objective along ``x + tau d``.

    Bisection on the directional derivative ``sum_a d_a t_a(x_a + tau d_a)``, which is
    non-decreasing in ``tau`` because every link cost is non-decreasing in its flow.
    Stops when the bracket is narrower than ``tol``.
    """
    g0 = _directional_derivative(fft, alpha, beta, cap, const, x, d, 0.0)
    if g0 >= 0.0:
        return 0.0
    g1 = _directional_derivative(fft, alpha, beta, cap, const, x, d, tau_max)
    if g1 <= 0.0:
        return tau_max
    lo, hi = 0.0, tau_max
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        g = _directional_derivative(fft, alpha, beta, cap, const, x, d, mid)
        if g < 0.0:
            lo = mid
        elif g > 0.0:
            hi = mid
        else:
            return mid
    return 0.5 * (lo + hi)


@njit(cache=True)
def conjugate_weights(fft, alpha, beta, cap, x, y, s1, s2, tau1, biconjugate):
    """Weights of the conjugate (CFW) or biconjugate (BFW) target point.

    Mitradjieva and Lindberg (2013), "The stiff is moving: conjugate direction Frank-Wolfe
    methods with applications to traffic assignment", Transportation Science 47(2).
    ``x`` is the current flow, ``y`` the all-or-nothing point, ``s1`` and ``s2`` the two
    previous target points and ``tau1`` the previous step. The Hessian is the diagonal of
    link cost derivatives at ``x``. Returns ``(b0, b1, b2)`` with the target
    ``b0 * y + b1 * s1 + b2 * s2``.
    """
    m = x.shape[0]
    if not biconjugate:
        num = 0.0
        den = 0.0
        for a in range(m):
            h = _deriv1(fft[a], alpha[a], beta[a], cap[a], x[a])
            if h == INF:
                continue
            dk = s1[a] - x[a]
            num += dk * h * (y[a] - x[a])
            den += dk * h * (y[a] - s1[a])
        if den == 0.0:
            return 1.0, 0.0, 0.0
        al = num / den
        if al < 0.0:
            al = 0.0
        elif al > 0.99999:
            al = 0.99999
        return 1.0 - al, al, 0.0
    num = 0.0
    den = 0.0
    for a in range(m):
        h = _deriv1(fft[a], alpha[a], beta[a], cap[a], x[a])
        if h == INF:
            continue
        w = h * (tau1 * s1[a] - x[a] + (1.0 - tau1) * s2[a])
        num += w * (y[a] - x[a])
        den += w * (s2[a] - s1[a])
    if den == 0.0:
        return 1.0, 0.0, 0.0
    mu = -num / den
    if mu < 0.0:
        mu = 0.0
    num = 0.0
    den = 0.0
    for a in range(m):
        h = _deriv1(fft[a], alpha[a], beta[a], cap[a], x[a])
        if h == INF:
            continue
        w = h * (s1[a] - x[a])
        num += w * (y[a] - x[a])
        den += w * (s1[a] - x[a])
    if den == 0.0:
        return 1.0, 0.0, 0.0
    nu = mu * tau1 / (1.0 - tau1) - num / den
    if nu < 0.0:
        nu = 0.0
    b0 = 1.0 / (1.0 + nu + mu)
    return b0, nu * b0, mu * b0


# ---------------------------------------------------------------------- bushes (Algorithm B)
#
# Dial (2006), "A path-based user-equilibrium traffic assignment algorithm that obviates
# path storage and enumeration", Transportation Research B 40(10); the presentation follows
# Boyles, Lownes and Unnikrishnan, "Transportation Network Analysis", ch. 6, and Nie (2010),
# "A class of bush-based algorithms for the traffic assignment problem", TR-B 44(1).
#
# Every origin r owns a bush: an acyclic set of links (in_bush[r, a] == 1) through which all
# of r's trips travel, with origin-based link flows xo[r, a]. Total flow x = sum_r xo[r].


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
def _compact_labels(order, cnt, ptr, links, xo_r, init, cost, lmin, pmin, lmax, pmax):
    """Min and max-used path labels from a bush's compact in-link lists.

    ``links[ptr[k]:ptr[k + 1]]`` are the bush links into ``order[k]``. As
    :func:`_bush_labels` with ``used_only``, but touching only the bush's own links.
    """
    o = order[0]
    lmin[o] = 0.0
    lmax[o] = 0.0
    pmin[o] = -1
    pmax[o] = -1
    for k in range(1, cnt):
        v = order[k]
        bmin = INF
        bmax = -INF
        amin = -1
        amax = -1
        for q in range(ptr[k], ptr[k + 1]):
            a = links[q]
            u = init[a]
            c = cost[a]
            d = lmin[u] + c
            if d < bmin:
                bmin = d
                amin = a
            if xo_r[a] > 0.0 and lmax[u] != -INF:
                d = lmax[u] + c
                if d > bmax:
                    bmax = d
                    amax = a
        lmin[v] = bmin
        pmin[v] = amin
        lmax[v] = bmax
        pmax[v] = amax


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
def _shift(
    j,
    pmin,
    pmax,
    init,
    xo_r,
    x,
    cost,
    fft,
    alpha,
    beta,
    cap,
    const,
    rank,
    seg_min,
    seg_max,
    tol,
):
    """Move flow from the longest used path to the shortest path ending at node ``j``.

    Both paths are traced back from ``j`` to their last common node (the divergence node):
    ``rank`` is each node's position in the bush's topological order, and the walker at
    the later node steps back first, so only the two segments are visited. The Newton step
    ``(C_max - C_min) / sum of derivatives`` is capped by the least origin flow on the long
    segment. Link costs on both segments are updated. Returns the cost difference found.
    """
    a = pmax[j]
    seg_max[0] = a
    nmax = 1
    cmax = cost[a]
    dsum = _deriv1(fft[a], alpha[a], beta[a], cap[a], x[a])
    u = init[a]
    a = pmin[j]
    seg_min[0] = a
    nmin = 1
    cmin = cost[a]
    dsum += _deriv1(fft[a], alpha[a], beta[a], cap[a], x[a])
    v = init[a]
    while u != v:
        if rank[u] > rank[v]:
            a = pmax[u]
            seg_max[nmax] = a
            nmax += 1
            cmax += cost[a]
            dsum += _deriv1(fft[a], alpha[a], beta[a], cap[a], x[a])
            u = init[a]
        else:
            a = pmin[v]
            seg_min[nmin] = a
            nmin += 1
            cmin += cost[a]
            dsum += _deriv1(fft[a], alpha[a], beta[a], cap[a], x[a])
            v = init[a]
    diff = cmax - cmin
    if diff <= tol:
        return 0.0
    cap_flow = INF
    for k in range(nmax):
        f = xo_r[seg_max[k]]
        if f < cap_flow:
            cap_flow = f
    if cap_flow <= 0.0:
        return diff
    if dsum == INF:
        # a link with power below 1 at zero flow: move a small share and let the next pass adapt
        step = 0.01 * cap_flow
    elif dsum <= 0.0:
        step = cap_flow
    else:
        step = diff / dsum
        if step > cap_flow:
            step = cap_flow
    for k in range(nmax):
        a = seg_max[k]
        if step == cap_flow and xo_r[a] == cap_flow:
            x[a] -= xo_r[a]
            xo_r[a] = 0.0
        else:
            xo_r[a] -= step
            x[a] -= step
        if x[a] < 0.0:
            x[a] = 0.0
        cost[a] = _cost1(fft[a], alpha[a], beta[a], cap[a], const[a], x[a])
    for k in range(nmin):
        a = seg_min[k]
        xo_r[a] += step
        x[a] += step
        cost[a] = _cost1(fft[a], alpha[a], beta[a], cap[a], const[a], x[a])
    return diff


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
    """Hang the unused part of a bush on the network's shortest-path tree (see
    :func:`_update_one`). ``used`` is scratch (length n); the others as for
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


@njit(cache=True)
def bush_shift(
    origins,
    init,
    fft,
    alpha,
    beta,
    cap,
    const,
    x,
    cost,
    xo,
    topo,
    topo_count,
    lptr,
    llinks,
    tol_rel,
    active,
):
    """One flow-shifting pass over every bush (Dial's Newton step, last node first).

    For each node whose longest used path costs more than its shortest bush path (by more
    than ``tol_rel`` of the path cost), flow moves between the two segments from their
    divergence node; ``x`` and ``cost`` follow every move (Gauss-Seidel over origins: each
    bush sees the flows the previous ones left). Labels come from the in-link lists that
    :func:`bush_update` stored. Bushes with ``active[r] == 0`` are skipped; a bush whose
    pass moved nothing is marked inactive (the caller reactivates all after each update,
    so a bush disturbed by the others is looked at again). Returns the largest cost
    difference seen.
    """
    n = topo.shape[1]
    lmin = np.empty(n)
    lmax = np.empty(n)
    pmin = np.empty(n, dtype=np.int64)
    pmax = np.empty(n, dtype=np.int64)
    rank = np.empty(n, dtype=np.int64)
    seg_min = np.empty(n, dtype=np.int64)
    seg_max = np.empty(n, dtype=np.int64)
    worst = 0.0
    for r in range(origins.shape[0]):
        if not active[r]:
            continue
        xo_r = xo[r]
        order = topo[r]
        cnt = topo_count[r]
        for k in range(cnt):
            rank[order[k]] = k
        _compact_labels(order, cnt, lptr[r], llinks[r], xo_r, init, cost, lmin, pmin, lmax, pmax)
        moved = 0.0
        for k in range(cnt - 1, 0, -1):
            j = order[k]
            if pmax[j] < 0 or (lptr[r, k + 1] - lptr[r, k] < 2 and pmax[j] == pmin[j]):
                continue
            gap = lmax[j] - lmin[j]
            if gap <= tol_rel * lmax[j]:
                continue
            d = _shift(
                j,
                pmin,
                pmax,
                init,
                xo_r,
                x,
                cost,
                fft,
                alpha,
                beta,
                cap,
                const,
                rank,
                seg_min,
                seg_max,
                tol_rel * lmax[j],
            )
            if d > moved:
                moved = d
        if moved == 0.0:
            active[r] = 0
        elif moved > worst:
            worst = moved
    return worst


@njit(cache=True)
def sum_origin_flows(xo, out):
    """Total link flow as the sum of the origins' flows (removes drift)."""
    nr, m = xo.shape
    for a in range(m):
        out[a] = 0.0
    for r in range(nr):
        for a in range(m):
            out[a] += xo[r, a]


_WARM = False


def warmup() -> None:
    """Compile (or load from the cache) every kernel on a tiny network, once per process.

    Called before a solve starts its clock, so that reported times exclude compilation.
    """
    global _WARM
    if _WARM:
        return
    i64 = np.int64
    init = np.array([0, 0, 1, 2], dtype=i64)
    term = np.array([1, 2, 3, 3], dtype=i64)
    fs_indptr = np.array([0, 2, 3, 4, 4], dtype=i64)
    fs_links = np.array([0, 1, 2, 3], dtype=i64)
    bs_indptr = np.array([0, 0, 1, 2, 4], dtype=i64)
    bs_links = np.array([0, 1, 2, 3], dtype=i64)
    one, zero, beta = np.ones(4), np.zeros(4), np.full(4, 4.0)
    no_thru = np.zeros(4, dtype=np.uint8)
    link_open = np.ones(4, dtype=np.uint8)
    od = (
        np.array([0], dtype=i64),
        np.array([0, 1], dtype=i64),
        np.array([3], dtype=i64),
        np.array([2.0]),
    )
    x, y, cost = np.zeros(4), np.empty(4), np.empty(4)
    bpr = (one, one, beta, one)  # fft, alpha, beta, capacity
    link_costs(*bpr, zero, x, cost)
    link_derivatives(*bpr, x, np.empty(4))
    beckmann(*bpr, zero, x)
    aon = (*od, fs_indptr, fs_links, init, term, cost, no_thru, y)
    all_or_nothing(*aon, threads())
    all_or_nothing_serial(*aon)
    sp = (*od, fs_indptr, fs_links, term, cost, no_thru)
    sptt_only(*sp, threads())
    sptt_serial(*sp)
    distances_from(od[0], fs_indptr, fs_links, term, cost, no_thru, np.empty((1, 4)))
    line_search(*bpr, zero, x, y - x, 1.0, 1e-12)
    conjugate_weights(*bpr, x, y, y, y, 0.5, False)
    conjugate_weights(*bpr, x, y, y, y, 0.5, True)
    xo = np.zeros((1, 4))
    ib = np.zeros((1, 4), dtype=np.uint8)
    bush_init(*od, fs_indptr, fs_links, init, term, cost, no_thru, xo, ib)
    sum_origin_flows(xo, x)
    link_costs(*bpr, zero, x, cost)
    topo = np.empty((1, 4), dtype=np.int32)
    tc = np.zeros(1, dtype=i64)
    lptr = np.zeros((1, 5), dtype=np.int32)
    llinks = np.zeros((1, 4), dtype=np.int32)
    upd = (
        *od,
        fs_indptr,
        fs_links,
        bs_indptr,
        bs_links,
        init,
        term,
        no_thru,
        link_open,
        cost,
        xo,
        ib,
        topo,
        tc,
        lptr,
        llinks,
    )
    for rehang in (False, True):
        bush_update(*upd, threads(), rehang)
        bush_update_serial(*upd, rehang)
    bush_shift(
        od[0],
        init,
        *bpr,
        zero,
        x,
        cost,
        xo,
        topo,
        tc,
        lptr,
        llinks,
        1e-12,
        np.ones(1, dtype=np.uint8),
    )
    _WARM = True
