"""Slow pure-Python twins of the numba kernels; the tests check that the two agree."""

from __future__ import annotations

import heapq
import math

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
