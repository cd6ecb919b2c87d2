"""Slow pure-Python twins of the numba kernels; the tests check that the two agree."""

from __future__ import annotations

import graphlib
import heapq
import math
from typing import NamedTuple

import numpy as np


def cost(fft, alpha, beta, cap, const, x):
    """BPR generalized cost of one link; ``0 ** 0`` is 1 in Python too."""
    if fft == 0 or alpha == 0:
        return fft + const
    return fft * (1 + alpha * (max(x, 0.0) / cap) ** beta) + const


def derivative(fft, alpha, beta, cap, x, h=None):
    """Derivative by the analytic formula, or a central difference when ``h`` is given."""
    if h is not None:
        return (cost(fft, alpha, beta, cap, 0, x + h) - cost(fft, alpha, beta, cap, 0, x - h)) / (
            2 * h
        )
    if fft == 0 or alpha == 0 or beta == 0:
        return 0.0
    if x <= 0:
        return {True: fft * alpha / cap, False: 0.0 if beta > 1 else math.inf}[beta == 1]
    return fft * alpha * beta * x ** (beta - 1) / cap**beta


def integral(fft, alpha, beta, cap, const, x, steps=20000):
    """Beckmann term by Simpson's rule on the cost function."""
    if x <= 0:
        return 0.0
    h = x / steps
    s = cost(fft, alpha, beta, cap, const, 0) + cost(fft, alpha, beta, cap, const, x)
    for k in range(1, steps):
        s += (4 if k % 2 else 2) * cost(fft, alpha, beta, cap, const, k * h)
    return s * h / 3


def dijkstra(n, init, term, costs, origin, no_thru):
    """Distances from ``origin``; nodes in ``no_thru`` (but the origin) are not expanded."""
    out = [[] for _ in range(n)]
    for a, (i, j) in enumerate(zip(init, term, strict=True)):
        out[i].append((j, costs[a], a))
    dist = [math.inf] * n
    pred = [-1] * n
    dist[origin] = 0.0
    heap = [(0.0, origin)]
    done = [False] * n
    while heap:
        d, u = heapq.heappop(heap)
        if done[u]:
            continue
        done[u] = True
        if no_thru[u] and u != origin:
            continue
        for v, c, a in out[u]:
            if d + c < dist[v]:
                dist[v] = d + c
                pred[v] = a
                heapq.heappush(heap, (dist[v], v))
    return dist, pred


def all_or_nothing(n, init, term, costs, no_thru, od):
    """Load ``od`` ({(o, d): trips} over node indices) on shortest paths, path by path."""
    flow = [0.0] * len(init)
    sptt = 0.0
    for o in sorted({o for o, _ in od}):
        dist, pred = dijkstra(n, init, term, costs, o, no_thru)
        for (oo, d), t in od.items():
            if oo != o:
                continue
            sptt += t * dist[d]
            v = d
            while v != o:
                a = pred[v]
                flow[a] += t
                v = init[a]
    return np.array(flow), sptt


def line_search(links, x, d, tau_max=1.0, iters=200):
    """Golden-section search of the Beckmann objective along ``x + tau d``."""

    def f(tau):
        return sum(integral(*lk, x[a] + tau * d[a], steps=200) for a, lk in enumerate(links))

    g = (math.sqrt(5) - 1) / 2
    lo, hi = 0.0, tau_max
    for _ in range(iters):
        a = hi - g * (hi - lo)
        b = lo + g * (hi - lo)
        if f(a) < f(b):
            hi = b
        else:
            lo = a
    return 0.5 * (lo + hi)


def bush_labels(n, init, term, costs, bush, origin, used=None):
    """Min and max path costs from ``origin`` over a bush, by enumerating every path."""
    out = [[] for _ in range(n)]
    for a in bush:
        if used is None or used[a]:
            out[init[a]].append(a)
    lo = [math.inf] * n
    hi = [-math.inf] * n

    def walk(v, c):
        lo[v] = min(lo[v], c)
        hi[v] = max(hi[v], c)
        for a in out[v]:
            walk(term[a], c + costs[a])

    walk(origin, 0.0)
    return lo, hi


def rehang(n, init, term, costs, no_thru, origin, bush, xo):
    """The bush after hanging its unused part on the shortest-path tree at ``costs``.

    Used nodes: the origin and the heads of bush links with flow. Links touching an unused
    node leave the bush; each unused node reachable from the origin gets its tree link.
    """
    used = {origin} | {int(term[a]) for a in bush if xo[a] > 0}
    kept = {a for a in bush if int(init[a]) in used and int(term[a]) in used}
    _, pred = dijkstra(n, init, term, costs, origin, no_thru)
    tree = {pred[v] for v in range(n) if v not in used and pred[v] >= 0}
    return kept | tree


def sptt(n, init, term, costs, no_thru, od):
    """Shortest-path travel time: the sum over OD pairs of trips times the shortest path cost.

    ``od`` is {(o, d): trips} over node indices; each pair gets its own Dijkstra.
    """
    total = 0.0
    for (o, d), t in od.items():
        dist, _ = dijkstra(n, init, term, costs, o, no_thru)
        total += t * dist[d]
    return total


# ---------------------------------------------------------------------- Algorithm B
#
# A bush is a set of link ids, acyclic and rooted at its origin; ``xo`` holds the origin's
# flow on every link (zero off the bush); ``demand`` is {destination: trips}. Paths are
# tuples of link ids and are found by enumerating every path of the bush, so "the shortest
# bush path to v" is literally the cheapest of them (Dial 2006; Nie 2010). Path costs are
# summed from the origin outwards, the order in which labels accumulate along a path.
#
# Near equilibrium many paths cost the same, and a kernel may break such a tie either way.
# The twins report ``ties``: whether any choice they made was within rounding (a relative
# 1e-12) of another, in which case a caller should check properties rather than agreement.

TIE = 1e-12


def _near(a, b, rel=TIE):
    return abs(a - b) <= rel * max(abs(a), abs(b))


def _tree_path(init, pred, origin, v):
    path = []
    while v != origin:
        path.append(pred[v])
        v = int(init[pred[v]])
    return path[::-1]


def bush_init(n, init, term, costs, no_thru, origin, demand):
    """The starting bush of ``origin``: its shortest-path tree, every trip on its tree path.

    Returns ``(bush, xo)``. Links that must not be used get an infinite cost.
    """
    _, pred = dijkstra(n, init, term, costs, origin, no_thru)
    bush = {pred[v] for v in range(n) if v != origin and pred[v] >= 0}
    xo = np.zeros(len(init))
    for d, t in demand.items():
        for a in _tree_path(init, pred, origin, d):
            xo[a] += t
    return bush, xo


def bush_paths(n, init, term, bush, origin, used=None):
    """Every path from ``origin`` to each node over the links of an acyclic ``bush``.

    With ``used`` (a per-link mask), only paths all of whose links are used. Returns a list
    (one entry per node) of lists of paths.
    """
    out = [[] for _ in range(n)]
    for a in sorted(bush):
        if used is None or used[a]:
            out[init[a]].append(a)
    paths = [[] for _ in range(n)]

    def walk(v, path):
        paths[v].append(path)
        for a in out[v]:
            walk(int(term[a]), (*path, a))

    walk(origin, ())
    return paths


def path_cost(costs, path):
    c = 0.0
    for a in path:
        c += costs[a]
    return c


def _extreme(paths, costs, *, longest=False):
    """The cheapest (or dearest) of ``paths`` and whether another one ties with it."""
    ranked = sorted(paths, key=lambda p: -path_cost(costs, p) if longest else path_cost(costs, p))
    tie = len(ranked) > 1 and _near(path_cost(costs, ranked[0]), path_cost(costs, ranked[1]))
    return ranked[0], tie


def _approach(paths, costs):
    """The last link of the cheapest of ``paths`` (all to one node), and whether a path
    that ends in another link ties with it."""
    best = {}
    for p in paths:
        best[p[-1]] = min(best.get(p[-1], math.inf), path_cost(costs, p))
    ranked = sorted(best, key=best.get)
    return ranked[0], len(ranked) > 1 and _near(best[ranked[0]], best[ranked[1]])


def topological_order(n, init, term, bush, origin):
    """The nodes reachable from ``origin`` over ``bush`` in a topological order (graphlib);
    raises ``graphlib.CycleError`` when the bush has a cycle."""
    preds = {v: set() for v in range(n)}
    for a in bush:
        preds[int(term[a])].add(int(init[a]))
    order = list(graphlib.TopologicalSorter(preds).static_order())
    reach = {v for v, ps in enumerate(bush_paths(n, init, term, bush, origin)) if ps}
    return [v for v in order if v in reach]


def rectify(n, init, term, costs, origin, bush, xo, demand):
    """Origin flows that meet ``demand`` exactly and keep each node's approach shares.

    A node passes on its own trips plus the flow leaving it over the bush; that amount is
    split over its incoming bush links in proportion to their flows in ``xo``, or put
    whole on its shortest approach (the last link of its cheapest bush path) when none of
    them carries flow. Returns ``(flows, ties)``.
    """
    paths = bush_paths(n, init, term, bush, origin)
    new = np.zeros(len(init))
    ties = False
    for v in reversed(topological_order(n, init, term, bush, origin)):
        if v == origin:
            continue
        through = demand.get(v, 0.0) + sum(new[a] for a in bush if init[a] == v)
        into = [a for a in sorted(bush) if term[a] == v]
        total = sum(xo[a] for a in into)
        if through <= 0:
            continue
        if total > 0:
            for a in into:
                new[a] = through * (xo[a] / total)
        else:
            a, tie = _approach(paths[v], costs)
            new[a] = through
            ties |= tie
    return new, ties


def _tree_ties(n, init, term, costs, no_thru, origin, nodes):
    """Whether a node of ``nodes`` has two shortest approaches in the network."""
    dist, _ = dijkstra(n, init, term, costs, origin, no_thru)
    for v in nodes:
        tight = [
            a
            for a in range(len(init))
            if term[a] == v
            and (not no_thru[init[a]] or init[a] == origin)
            and math.isfinite(dist[init[a]] + costs[a])
            and _near(dist[init[a]] + costs[a], dist[v])
        ]
        if len(tight) > 1:
            return True
    return False


class Update(NamedTuple):
    bush: set
    xo: np.ndarray
    added: set
    shortcuts: set
    ties: bool


def bush_update(
    n, init, term, costs, no_thru, link_open, origin, bush, xo, demand, *, rehang_unused=False
):
    """One update of a bush: rectify, prune and grow (Dial 2006; Nie 2010).

    1. Rectify the flows (:func:`rectify`); with ``rehang_unused``, hang the unused part on
       the shortest-path tree (:func:`rehang`).
    2. Prune: drop every link without flow unless it is its head's shortest approach.
    3. Grow: with ``L`` and ``U`` the shortest and longest path costs over the pruned bush,
       a *shortcut* is an open link ``(i, j)`` off the bush between bush nodes, into
       neither the origin nor out of a no-through node other than the origin, with
       ``L_i + t_ij < L_j`` (by more than a relative 1e-14). The shortcuts with
       ``U_i < U_j`` are added: every bush link has ``U`` non-decreasing along it, so none
       of them can close a cycle.

    When no shortcut passes the ``U`` test the kernel falls back to shortcuts that follow
    its own topological order, which this twin does not model: ``added`` is then empty, and
    the kernel's choice must lie in ``shortcuts``.
    """
    xo, ties = rectify(n, init, term, costs, origin, bush, xo, demand)
    bush = set(bush)
    if rehang_unused:
        used = {origin} | {int(term[a]) for a in bush if xo[a] > 0}
        ties |= _tree_ties(n, init, term, costs, no_thru, origin, set(range(n)) - used)
        bush = rehang(n, init, term, costs, no_thru, origin, bush, xo)
        xo[[a for a in range(len(init)) if a not in bush]] = 0.0
    paths = bush_paths(n, init, term, bush, origin)
    kept = set()
    for a in bush:
        first, tie = _approach(paths[term[a]], costs)
        if xo[a] > 0 or first == a:
            kept.add(a)
        ties |= tie and xo[a] <= 0
    xo[[a for a in range(len(init)) if a not in kept]] = 0.0
    lo, hi = bush_labels(n, init, term, costs, kept, origin)
    shortcuts = set()
    for a in range(len(init)):
        i, j = int(init[a]), int(term[a])
        if a in kept or not link_open[a] or j == origin or (no_thru[i] and i != origin):
            continue
        if math.isinf(lo[i]) or math.isinf(lo[j]):
            continue
        if lo[i] + costs[a] < lo[j] * (1.0 - 1e-14):
            shortcuts.add(a)
    added = {a for a in shortcuts if hi[init[a]] < hi[term[a]]}
    return Update(kept | added, xo, added, shortcuts, ties)


def bush_shift(n, init, term, links, x, xo, bushes, orders, tol_rel, active):
    """One pass of Dial's flow shifts over every bush, origins in turn (Gauss-Seidel).

    ``links`` holds each link's ``(fft, alpha, beta, cap, const)``; ``x`` (total flows),
    ``xo`` (one flow array per origin) and ``active`` are updated in place. For an active
    bush the shortest path and the longest *used* path (every link with flow) to each node
    are fixed at the start of its pass; then, for each node ``j`` with two or more incoming
    bush links, last node first in ``orders[r]``, whose longest used path costs more than
    its shortest by more than ``tol_rel`` of the former: the two paths are cut at the last
    node they share, and Newton's step ``(C_long - C_short) / (sum of dt/dx on both
    segments)`` at the current flows moves from the long segment to the short one, capped
    by the least origin flow on the long segment (all of it when the derivatives are zero;
    a hundredth of it when one is infinite). Costs follow every move. A bush that found no
    difference above the tolerance is made inactive.

    Returns ``(worst, ties)``: the largest cost difference found, and whether a path,
    a comparison with the tolerance or the cap of a step was a tie.
    """

    def t(a):
        return cost(*links[a], x[a])

    worst = 0.0
    ties = False
    for r, order in enumerate(orders):
        if not active[r]:
            continue
        origin, bush, flow = order[0], bushes[r], xo[r]
        start = [t(a) for a in range(len(init))]
        every = bush_paths(n, init, term, bush, origin)
        used = bush_paths(n, init, term, bush, origin, used=flow > 0)
        moved = 0.0
        for j in reversed(order[1:]):
            if not used[j] or sum(1 for a in bush if term[a] == j) < 2:
                continue
            long_, tie_long = _extreme(used[j], start, longest=True)
            short, tie_short = _extreme(every[j], start)
            c_long = path_cost(start, long_)
            tol = tol_rel * c_long
            gap = c_long - path_cost(start, short)
            ties |= abs(gap - tol) <= 1e-14 * c_long
            if gap <= tol:
                continue
            ties |= tie_long or tie_short
            nodes_long = [origin] + [int(term[a]) for a in long_]
            nodes_short = [origin] + [int(term[a]) for a in short]
            shared = max(nodes_long.index(v) for v in set(nodes_long[:-1]) & set(nodes_short[:-1]))
            seg_long = long_[shared:]
            seg_short = short[nodes_short.index(nodes_long[shared]) :]
            diff = sum(t(a) for a in seg_long) - sum(t(a) for a in seg_short)
            ties |= abs(diff - tol) <= 1e-14 * c_long
            if diff <= tol:
                continue
            moved = max(moved, diff)
            room = min(flow[a] for a in seg_long)
            if room <= 0:
                continue
            slope = sum(derivative(*links[a][:4], x[a]) for a in seg_long + seg_short)
            if math.isinf(slope):
                step = 0.01 * room
            elif slope <= 0:
                step = room
            else:
                step = min(diff / slope, room)
                ties |= _near(diff / slope, room)
            for a in seg_long:
                take = flow[a] if step == room and flow[a] == room else step
                flow[a] -= take
                x[a] = max(x[a] - take, 0.0)
            for a in seg_short:
                flow[a] += step
                x[a] += step
        if moved == 0.0:
            active[r] = 0
        worst = max(worst, moved)
    return worst, ties
