"""Algorithm B flow shifts: Newton steps between the longest and shortest bush paths.

Dial (2006), Transportation Research B 40(10); see :mod:`.bush` for the bushes. A shift
pass reads the in-link lists and topological orders that :func:`.bush.bush_update`
stored, and keeps the total flow ``x`` and the link costs in step with every move.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .costs import _cost1, _deriv1

INF = np.inf


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
