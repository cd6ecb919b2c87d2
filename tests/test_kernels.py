"""Every numba kernel agrees with its slow pure-Python twin in tests/naive.py.

Tests marked ``nojit`` are small enough to run again with the JIT disabled, the kernels
as plain Python (``tests/test_kernels_processes.py``); keep them small.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from networks.network import forward_star
from networks.synthetic import region
from optimizer import _kernels as K

from . import naive


def random_links(rng, m):
    fft = rng.uniform(0, 5, m)
    fft[rng.random(m) < 0.1] = 0.0
    alpha = rng.uniform(0, 1, m)
    alpha[rng.random(m) < 0.1] = 0.0
    beta = rng.choice([0.0, 0.5, 1.0, 2.0, 4.0, 5.5], m)
    cap = rng.uniform(1, 100, m)
    const = rng.uniform(0, 1, m)
    return fft, alpha, beta, cap, const


@pytest.mark.nojit
def test_link_costs_derivatives_and_beckmann_match_naive():
    rng = np.random.default_rng(0)
    m = 300
    fft, alpha, beta, cap, const = random_links(rng, m)
    x = rng.uniform(0, 150, m)
    x[:20] = 0.0
    out = np.empty(m)
    K.link_costs(fft, alpha, beta, cap, const, x, out)
    want = [naive.cost(fft[a], alpha[a], beta[a], cap[a], const[a], x[a]) for a in range(m)]
    np.testing.assert_allclose(out, want, rtol=1e-13)
    der = np.empty(m)
    K.link_derivatives(fft, alpha, beta, cap, x, der)
    for a in range(m):
        w = naive.derivative(fft[a], alpha[a], beta[a], cap[a], x[a])
        if math.isinf(w):
            assert math.isinf(der[a])
        else:
            assert der[a] == pytest.approx(w, rel=1e-12, abs=1e-300)
        if x[a] > 1:  # the formula is the derivative: check against a central difference
            h = 1e-5 * x[a]
            assert der[a] == pytest.approx(
                naive.derivative(fft[a], alpha[a], beta[a], cap[a], x[a], h=h), rel=1e-5, abs=1e-9
            )
    total = K.beckmann(fft, alpha, beta, cap, const, x)
    assert total == pytest.approx(
        sum(naive.integral(fft[a], alpha[a], beta[a], cap[a], const[a], x[a]) for a in range(m)),
        rel=1e-7,
    )


def _csr(init, term, n):
    fs_indptr, fs_links = forward_star(init, n)
    return fs_indptr, fs_links


@pytest.mark.nojit
@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_shortest_paths_match_naive(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 30))
    m = int(rng.integers(1, 90))
    init = rng.integers(0, n, m).astype(np.int64)
    term = rng.integers(0, n, m).astype(np.int64)
    cost = rng.uniform(0, 10, m)
    cost[rng.random(m) < 0.15] = 0.0  # zero-cost links, as TNTP connectors have
    no_thru = (rng.random(n) < 0.2).astype(np.uint8)
    fs_indptr, fs_links = _csr(init, term, n)
    origins = np.arange(n, dtype=np.int64)
    dist = np.empty((n, n))
    K.distances_from(origins, fs_indptr, fs_links, term, cost, no_thru, dist)
    for o in range(n):
        want, _ = naive.dijkstra(n, init, term, cost, o, no_thru)
        np.testing.assert_allclose(dist[o], want, rtol=1e-12)


@pytest.mark.nojit
@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_skims_match_naive_path_lengths(seed):
    """Times as Dijkstra's, distances the summed lengths of the naive tree's path."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 25))
    m = int(rng.integers(1, 80))
    init = rng.integers(0, n, m).astype(np.int64)
    term = rng.integers(0, n, m).astype(np.int64)
    cost = rng.uniform(0.1, 10, m)  # continuous: one shortest path per node
    length = rng.uniform(0.1, 5, m)
    no_thru = (rng.random(n) < 0.2).astype(np.uint8)
    fs_indptr, fs_links = _csr(init, term, n)
    origins = np.arange(n, dtype=np.int64)
    t, d = np.empty((n, n)), np.empty((n, n))
    K.skims_from(origins, fs_indptr, fs_links, init, term, cost, length, no_thru, t, d)
    for o in range(n):
        want, pred = naive.dijkstra(n, init, term, cost, o, no_thru)
        np.testing.assert_allclose(t[o], want, rtol=1e-12)
        for v in range(n):
            if not np.isfinite(want[v]):
                assert d[o, v] == np.inf
                continue
            total, u = 0.0, v
            while u != o:
                total += length[pred[u]]
                u = init[pred[u]]
            assert d[o, v] == pytest.approx(total, rel=1e-12)


@pytest.mark.nojit
def test_all_or_nothing_matches_naive_path_by_path_loading():
    rng = np.random.default_rng(4)
    net, dem = region(400, seed=2)
    n = net.num_nodes
    cost = rng.uniform(0.5, 3.0, net.num_links)  # continuous costs: unique shortest paths
    zones = net.node_indices(dem.zone_node_ids)
    mat = dem.dense()
    od = {}
    for i, j in zip(*np.nonzero(mat), strict=True):
        if zones[i] != zones[j]:
            od[(int(zones[i]), int(zones[j]))] = (
                od.get((int(zones[i]), int(zones[j])), 0) + mat[i, j]
            )
    origins = np.array(sorted({o for o, _ in od}), dtype=np.int64)
    indptr = [0]
    dest, trips = [], []
    for o in origins:
        for (oo, d), t in sorted(od.items()):
            if oo == o:
                dest.append(d)
                trips.append(t)
        indptr.append(len(dest))
    no_thru = np.zeros(n, dtype=np.uint8)
    args = (
        origins,
        np.array(indptr, dtype=np.int64),
        np.array(dest, dtype=np.int64),
        np.array(trips),
        net.fs_indptr,
        net.fs_links,
        net.init.copy(),
        net.term.copy(),
        cost,
        no_thru,
    )
    want_flow, want_sptt = naive.all_or_nothing(n, net.init, net.term, cost, no_thru, od)
    for threads in (None, 1, 3):  # the serial kernel, and the parallel one on 1 and 3 chunks
        flow = np.full(net.num_links, np.nan)
        if threads is None:
            sptt, lost = K.all_or_nothing_serial(*args, flow)
        else:
            sptt, lost = K.all_or_nothing(*args, flow, threads)
        assert lost == 0
        np.testing.assert_allclose(flow, want_flow, rtol=1e-11, atol=1e-9)
        assert sptt == pytest.approx(want_sptt, rel=1e-12)


@pytest.mark.nojit
def test_line_search_matches_golden_section():
    rng = np.random.default_rng(7)
    m = 12
    fft, alpha, beta, cap, const = random_links(rng, m)
    beta[beta < 1] = 2.0
    x = rng.uniform(0, 80, m)
    y = rng.uniform(0, 80, m)
    d = y - x
    tau = K.line_search(fft, alpha, beta, cap, const, x, d, 1.0, 1e-14)
    links = list(zip(fft, alpha, beta, cap, const, strict=True))
    assert tau == pytest.approx(naive.line_search(links, x, d), abs=1e-6)


@pytest.mark.nojit
def test_bush_labels_match_path_enumeration():
    # a small acyclic bush with parallel links and zero-cost links
    init = np.array([0, 0, 1, 1, 2, 1, 3, 2, 3], dtype=np.int64)
    term = np.array([1, 2, 2, 3, 3, 3, 4, 4, 4], dtype=np.int64)
    cost = np.array([1.0, 4.0, 2.0, 6.0, 0.0, 5.0, 1.0, 7.0, 0.0])
    n = 5
    in_bush = np.ones(9, dtype=np.uint8)
    in_bush[8] = 0
    xo = np.array([3.0, 1.0, 0.0, 1.0, 1.0, 2.0, 2.0, 1.0, 0.0])
    fs_indptr, fs_links = forward_star(init, n)
    bs_indptr, bs_links = forward_star(term, n)
    order = np.empty(n, dtype=np.int64)
    cnt = K._topo_order(
        0,
        in_bush,
        fs_indptr,
        fs_links,
        init,
        term,
        n,
        order,
        np.empty(n, dtype=np.int64),
        np.empty(n, dtype=np.int64),
    )
    assert cnt == n
    rank = {v: k for k, v in enumerate(order)}
    assert all(rank[init[a]] < rank[term[a]] for a in range(9) if in_bush[a])
    bush = [a for a in range(9) if in_bush[a]]
    for used_only in (False, True):
        lmin, lmax = np.empty(n), np.empty(n)
        pmin, pmax = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        K._bush_labels(
            order,
            cnt,
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
        )
        lo, _ = naive.bush_labels(n, init, term, cost, bush, 0)
        _, hi = naive.bush_labels(n, init, term, cost, bush, 0, used=xo > 0 if used_only else None)
        np.testing.assert_allclose(lmin, lo)
        np.testing.assert_allclose(lmax, hi)
        for v in range(1, n):  # the predecessor links realise the labels
            assert lmin[v] == pytest.approx(lmin[init[pmin[v]]] + cost[pmin[v]])
            assert lmax[v] == pytest.approx(lmax[init[pmax[v]]] + cost[pmax[v]])


@pytest.mark.nojit
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rehang_matches_naive_and_keeps_the_bush_acyclic(seed):
    # a bush = the shortest-path tree at one set of costs, loaded with a few destinations'
    # trips; re-hung at other costs, its used part must stay and the rest follow the new tree
    rng = np.random.default_rng(seed)
    n = 30
    pairs = {(int(i), int(j)) for i, j in rng.integers(0, n, size=(90, 2)) if i != j}
    pairs |= {(k, k + 1) for k in range(n - 1)} | {(k + 1, k) for k in range(n - 1)}
    init = np.array([p[0] for p in sorted(pairs)], dtype=np.int64)
    term = np.array([p[1] for p in sorted(pairs)], dtype=np.int64)
    m = init.size
    no_thru = np.zeros(n, dtype=np.uint8)
    fs_indptr, fs_links = forward_star(init, n)
    c0, c1 = rng.uniform(1.0, 5.0, m), rng.uniform(1.0, 5.0, m)
    _, pred0 = naive.dijkstra(n, init, term, c0, 0, no_thru)
    ib = np.zeros(m, dtype=np.uint8)
    ib[[pred0[v] for v in range(1, n)]] = 1
    xo = np.zeros(m)
    for dest in rng.choice(np.arange(1, n), size=4, replace=False):
        v = int(dest)
        while v != 0:
            xo[pred0[v]] += 10.0
            v = int(init[pred0[v]])
    bush = [a for a in range(m) if ib[a]]
    expected = naive.rehang(n, init, term, c1, no_thru, 0, bush, xo)
    assert expected != set(bush)
    xo_before = xo.copy()
    scratch = [np.empty(n, dtype=np.int64) for _ in range(4)]
    K._rehang(
        0, ib, xo, init, term, fs_indptr, fs_links, c1, no_thru, scratch[0],
        np.empty(n), scratch[1], scratch[2], scratch[3], np.empty(n),
        np.empty(n, dtype=np.int64),
    )  # fmt: skip
    assert set(np.flatnonzero(ib).tolist()) == expected
    np.testing.assert_array_equal(xo, xo_before)  # only links without flow left
    order = np.empty(n, dtype=np.int64)
    cnt = K._topo_order(
        0, ib, fs_indptr, fs_links, init, term, n, order,
        np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64),
    )  # fmt: skip
    assert cnt == n  # acyclic, and every node still hangs on the origin


def _conjugate_setting(seed, m=50):
    """BPR links, a flow ``x``, the Hessian diagonal ``h`` there, and a previous
    direction ``d1 = s1 - x`` (the previous target ``s1`` near ``x``)."""
    rng = np.random.default_rng(seed)
    fft = rng.uniform(1, 3, m)
    alpha = np.full(m, 0.15)
    beta = np.full(m, 4.0)
    cap = rng.uniform(1, 100, m)
    x = rng.uniform(1, 50, m)
    h = np.array([naive.derivative(fft[a], alpha[a], beta[a], cap[a], x[a]) for a in range(m)])
    d1 = rng.uniform(-0.5, 0.5, m) * x
    return rng, (fft, alpha, beta, cap), x, h, d1


def _h_cosine(h, u, v):
    """``u' H v`` relative to ``|u|_H |v|_H``: zero when ``u`` and ``v`` are H-conjugate."""
    return (u @ (h * v)) / math.sqrt((u @ (h * u)) * (v @ (h * v)))


@pytest.mark.nojit
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_conjugate_weights_make_cfw_directions_conjugate(seed):
    rng, bpr, x, h, d1 = _conjugate_setting(seed)
    s1 = x + d1
    # an all-or-nothing point that turns back on the previous direction (d1' H (y - x) < 0):
    # there the conjugate weight is strictly between its bounds and not clipped
    y = x - 0.8 * d1 + rng.uniform(-0.1, 0.1, x.size) * x
    assert d1 @ (h * (y - x)) < 0
    b0, b1, b2 = K.conjugate_weights(*bpr, x, y, s1, s1, 0.3, False)
    assert b2 == 0 and b0 + b1 == pytest.approx(1.0)
    assert 0 < b1 < 0.99999
    assert abs(_h_cosine(h, d1, b0 * y + b1 * s1 - x)) < 1e-12
    # one that follows it (d1' H (y - x) > 0): the weight is clipped to plain Frank-Wolfe
    assert K.conjugate_weights(*bpr, x, x + d1, s1, s1, 0.3, False) == (1.0, 0.0, 0.0)


@pytest.mark.nojit
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_conjugate_weights_make_bfw_directions_conjugate(seed):
    # Mitradjieva and Lindberg derive the BFW weights assuming the two previous directions,
    # d1 = s1 - x and d2 = tau s1 - x + (1 - tau) s2 (the one before, seen from x), are
    # H-conjugate; build s2 so that they are, and the new direction is conjugate to both
    rng, bpr, x, h, d1 = _conjugate_setting(seed)
    tau = 0.3
    s1 = x + d1
    r = rng.uniform(-0.5, 0.5, x.size) * x
    d2 = r - (r @ (h * d1)) / (d1 @ (h * d1)) * d1
    s2 = x + (d2 - tau * d1) / (1 - tau)
    assert abs(_h_cosine(h, d1, tau * s1 - x + (1 - tau) * s2)) < 1e-12
    # an all-or-nothing point against both (d' H (y - x) < 0): neither weight is clipped
    y = x - 0.5 * d1 - 0.5 * d2 + rng.uniform(-0.05, 0.05, x.size) * x
    assert d1 @ (h * (y - x)) < 0 and d2 @ (h * (y - x)) < 0
    b0, b1, b2 = K.conjugate_weights(*bpr, x, y, s1, s2, tau, True)
    assert b1 > 0 and b2 > 0 and b0 + b1 + b2 == pytest.approx(1.0)
    d_new = b0 * y + b1 * s1 + b2 * s2 - x
    assert abs(_h_cosine(h, d1, d_new)) < 1e-12
    assert abs(_h_cosine(h, d2, d_new)) < 1e-12


# ---------------------------------------------------------------------- Algorithm B and SPTT
#
# Small zoned networks: a one-way ring of road nodes (so the roads are strongly connected),
# random chords (parallel links included, some of them closed) and two or three zone
# centroids, each joined to the ring by one or two cheap connectors each way, some of them
# no-through nodes. Link parameters are drawn from continuous distributions, so in a fresh
# state shortest and longest paths are unique: kernel and twin must then make the same
# discrete choices (which links, which paths) and agree on flows to rounding. Shifting
# flow equalizes path costs, though, so ties turn up as the state nears equilibrium; the
# twins report them, and there only the properties that define correctness are checked.


@dataclass(frozen=True)
class Zoned:
    n: int
    init: np.ndarray
    term: np.ndarray
    fs_indptr: np.ndarray
    fs_links: np.ndarray
    bs_indptr: np.ndarray
    bs_links: np.ndarray
    fft: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    cap: np.ndarray
    const: np.ndarray
    no_thru: np.ndarray
    link_open: np.ndarray
    origins: np.ndarray
    od_indptr: np.ndarray
    od_dest: np.ndarray
    od_trips: np.ndarray
    od: dict

    @property
    def m(self) -> int:
        return self.init.size

    def costs(self, x):
        out = np.empty(self.m)
        K.link_costs(self.fft, self.alpha, self.beta, self.cap, self.const, x, out)
        return out

    def open_costs(self, cost):
        """Costs for the twins, which see every link: closed links cost infinity."""
        return np.where(self.link_open == 1, cost, np.inf)

    def links(self):
        return list(zip(self.fft, self.alpha, self.beta, self.cap, self.const, strict=True))

    def demand(self, r):
        lo, hi = self.od_indptr[r], self.od_indptr[r + 1]
        return {
            int(d): float(t)
            for d, t in zip(self.od_dest[lo:hi], self.od_trips[lo:hi], strict=True)
        }

    def sptt_args(self, cost):
        return (
            self.origins, self.od_indptr, self.od_dest, self.od_trips, self.fs_indptr,
            self.fs_links, self.term, cost, self.no_thru,
        )  # fmt: skip


@st.composite
def zoned_networks(draw, *, betas=(0.0, 0.5, 1.0, 2.0, 4.0), max_roads=6):
    roads = draw(st.integers(3, max_roads))
    zones = draw(st.integers(2, 3))
    n = roads + zones
    node = st.integers(0, roads - 1)
    pairs = [(k, (k + 1) % roads) for k in range(roads)]
    for z in range(roads, n):  # one or two connectors each way
        pairs += [(z, v) for v in draw(st.sets(node, min_size=1, max_size=2))]
        pairs += [(v, z) for v in draw(st.sets(node, min_size=1, max_size=2))]
    connectors = len(pairs) - roads
    chords = [
        (i, (i + 1 + k) % roads)  # no loops
        for i, k in draw(
            st.lists(st.tuples(node, st.integers(0, roads - 2)), min_size=2, max_size=12)
        )
    ]
    closed = [False] * len(pairs) + draw(
        st.lists(st.booleans(), min_size=len(chords), max_size=len(chords))
    )
    pairs += chords
    perm = draw(st.permutations(range(len(pairs))))
    init = np.array([pairs[k][0] for k in perm], dtype=np.int64)
    term = np.array([pairs[k][1] for k in perm], dtype=np.int64)
    link_open = np.array([not closed[k] for k in perm], dtype=np.uint8)
    is_connector = np.array([roads <= k < roads + connectors for k in perm])
    no_thru = np.zeros(n, dtype=np.uint8)
    no_thru[roads:] = draw(st.lists(st.booleans(), min_size=zones, max_size=zones))
    od = {}
    for o in range(roads, n):
        for d in range(roads, n):
            t = draw(st.integers(0, 40)) if o != d else 0
            if t:
                od[(o, d)] = float(t)
    if not od:
        od[(roads, roads + 1)] = 10.0
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    m = init.size
    # cheap connectors make paths through the zones attractive (no-through nodes matter)
    fft = np.where(is_connector, rng.uniform(0.1, 0.5, m), rng.uniform(0.5, 5.0, m))
    alpha = rng.uniform(0.15, 1.0, m)
    beta = rng.choice(betas, m)
    cap = rng.uniform(2.0, 15.0, m)
    const = rng.uniform(0.0, 0.5, m)
    open_ids = np.flatnonzero(link_open).astype(np.int64)
    fs_indptr, fs_local = forward_star(init[open_ids], n)
    bs_indptr, bs_local = forward_star(term[open_ids], n)
    origins = sorted({o for o, _ in od})
    dest, trips, indptr = [], [], [0]
    for o in origins:
        for (oo, d), t in sorted(od.items()):
            if oo == o:
                dest.append(d)
                trips.append(t)
        indptr.append(len(dest))
    return Zoned(
        n, init, term, fs_indptr, open_ids[fs_local], bs_indptr, open_ids[bs_local], fft,
        alpha, beta, cap, const, no_thru, link_open, np.array(origins, dtype=np.int64),
        np.array(indptr, dtype=np.int64), np.array(dest, dtype=np.int64), np.array(trips), od,
    )  # fmt: skip


@dataclass
class Bushes:
    """The bush state the solver keeps between kernel calls (as ``assignment._solve_bush``)."""

    xo: np.ndarray
    ib: np.ndarray
    topo: np.ndarray
    tc: np.ndarray
    lptr: np.ndarray
    llinks: np.ndarray

    def copy(self) -> Bushes:
        return Bushes(
            *(getattr(self, f).copy() for f in ("xo", "ib", "topo", "tc", "lptr", "llinks"))
        )

    def bush(self, r) -> set:
        return set(np.flatnonzero(self.ib[r]).tolist())


def _bush_init(net: Zoned, cost) -> Bushes:
    nr = net.origins.size
    s = Bushes(
        np.zeros((nr, net.m)), np.zeros((nr, net.m), dtype=np.uint8),
        np.zeros((nr, net.n), dtype=np.int32), np.zeros(nr, dtype=np.int64),
        np.zeros((nr, net.n + 1), dtype=np.int32), np.zeros((nr, net.m), dtype=np.int32),
    )  # fmt: skip
    K.bush_init(
        net.origins, net.od_indptr, net.od_dest, net.od_trips, net.fs_indptr, net.fs_links,
        net.init, net.term, cost, net.no_thru, s.xo, s.ib,
    )  # fmt: skip
    return s


def _bush_update(net: Zoned, s: Bushes, cost, *, rehang: bool, chunks: int | None = None) -> int:
    args = (
        net.origins, net.od_indptr, net.od_dest, net.od_trips, net.fs_indptr, net.fs_links,
        net.bs_indptr, net.bs_links, net.init, net.term, net.no_thru, net.link_open, cost,
        s.xo, s.ib, s.topo, s.tc, s.lptr, s.llinks,
    )  # fmt: skip
    if chunks is None:
        return int(K.bush_update_serial(*args, rehang))
    return int(K.bush_update(*args, chunks, rehang))


def _bush_shift(net: Zoned, s: Bushes, x, cost, tol_rel, active) -> float:
    bpr = (net.fft, net.alpha, net.beta, net.cap, net.const)
    lists = (s.xo, s.topo, s.tc, s.lptr, s.llinks)
    return float(K.bush_shift(net.origins, net.init, *bpr, x, cost, *lists, tol_rel, active))


def _flows(s: Bushes):
    x = np.empty(s.xo.shape[1])
    K.sum_origin_flows(s.xo, x)
    return x


def _solver_state(net: Zoned, cycles: int, *, rehang_at: int = -1) -> Bushes:
    """Bushes after :func:`_bush_init` and ``cycles`` solver iterations, each an update at
    the current costs (re-hanging in iteration ``rehang_at``) and one shift pass."""
    s = _bush_init(net, net.costs(np.zeros(net.m)))
    for k in range(cycles):
        _bush_update(net, s, net.costs(_flows(s)), rehang=k == rehang_at)
        x = _flows(s)
        _bush_shift(net, s, x, net.costs(x), 1e-12, np.ones(net.origins.size, dtype=np.uint8))
    return s


def _assert_conserves(net: Zoned, r: int, xo_r) -> None:
    """Origin ``r``'s flows meet its demand: each node receives its trips, the origin sends
    them all, and flows are non-negative."""
    o = int(net.origins[r])
    want = np.zeros(net.n)
    for d, t in net.demand(r).items():
        want[d] += t
        want[o] -= t
    bal = np.bincount(net.term, xo_r, net.n) - np.bincount(net.init, xo_r, net.n)
    np.testing.assert_allclose(bal, want, rtol=0, atol=1e-9 * sum(net.demand(r).values()))
    assert (xo_r >= 0).all()


def _assert_acyclic_with_lists(net: Zoned, s: Bushes, r: int) -> None:
    """The stored order is a topological order of every node the bush reaches, and the
    stored in-link lists hold exactly the bush links into each node of it."""
    bush = s.bush(r)
    naive.topological_order(net.n, net.init, net.term, bush, int(net.origins[r]))  # acyclic
    order = s.topo[r, : s.tc[r]].tolist()
    reached = [
        v for v, ps in enumerate(naive.bush_paths(net.n, net.init, net.term, bush, order[0])) if ps
    ]
    assert order[0] == net.origins[r] and sorted(order) == reached
    rank = {v: k for k, v in enumerate(order)}
    assert all(rank[net.init[a]] < rank[net.term[a]] for a in bush)
    for k, v in enumerate(order):
        into = s.llinks[r, s.lptr[r, k] : s.lptr[r, k + 1]].tolist()
        assert sorted(into) == sorted(a for a in bush if net.term[a] == v)


@pytest.mark.nojit
@settings(max_examples=40, deadline=None)
@given(zoned_networks(), st.integers(1, 3))
def test_sptt_is_demand_times_naive_shortest_path_cost(net, threads):
    cost = net.costs(np.arange(net.m) % 5 * 4.0)
    want = naive.sptt(net.n, net.init, net.term, net.open_costs(cost), net.no_thru, net.od)
    assert math.isfinite(want)
    assert K.sptt_serial(*net.sptt_args(cost)) == pytest.approx(want, rel=1e-12)
    assert K.sptt_only(*net.sptt_args(cost), threads) == pytest.approx(want, rel=1e-12)


@pytest.mark.nojit
@settings(max_examples=40, deadline=None)
@given(zoned_networks())
def test_bush_init_loads_each_origin_on_its_shortest_path_tree(net):
    cost = net.costs(np.zeros(net.m))
    s = _bush_init(net, cost)
    for r, o in enumerate(net.origins.tolist()):
        bush = s.bush(r)
        want_bush, want_xo = naive.bush_init(
            net.n, net.init, net.term, net.open_costs(cost), net.no_thru, o, net.demand(r)
        )
        assert bush == want_bush
        np.testing.assert_allclose(s.xo[r], want_xo, rtol=1e-12)
        # what makes it right: one link into every reached node, each on a shortest path
        dist, _ = naive.dijkstra(net.n, net.init, net.term, net.open_costs(cost), o, net.no_thru)
        assert sorted(net.term[list(bush)].tolist()) == [
            v for v in range(net.n) if v != o and math.isfinite(dist[v])
        ]
        for a in bush:
            assert dist[net.init[a]] + cost[a] == pytest.approx(dist[net.term[a]], rel=1e-12)
        assert not s.xo[r][s.ib[r] == 0].any()  # flows on tree links only
        _assert_conserves(net, r, s.xo[r])


@pytest.mark.nojit
@settings(max_examples=60, deadline=None)
@given(zoned_networks(), st.integers(0, 3), st.booleans())
def test_bush_update_prunes_and_adds_the_links_of_the_rule(net, cycles, rehang):
    s = _solver_state(net, cycles, rehang_at=1)
    cost = net.costs(_flows(s))
    before = s.copy()
    added = _bush_update(net, s, cost, rehang=rehang)
    threaded = before.copy()
    assert _bush_update(net, threaded, cost, rehang=rehang, chunks=2) == added
    for name in ("xo", "ib", "topo", "tc", "lptr", "llinks"):  # bushes are independent
        np.testing.assert_array_equal(getattr(threaded, name), getattr(s, name))
    count, exact = 0, True
    for r, o in enumerate(net.origins.tolist()):
        new = s.bush(r)
        assert not s.xo[r][s.ib[r] == 0].any()
        _assert_conserves(net, r, s.xo[r])
        _assert_acyclic_with_lists(net, s, r)
        want = naive.bush_update(
            net.n, net.init, net.term, net.open_costs(cost), net.no_thru, net.link_open, o,
            before.bush(r), before.xo[r], net.demand(r), rehang_unused=rehang,
        )  # fmt: skip
        kept = want.bush - want.added
        if want.ties:
            # two approaches (or tree links) cost the same to rounding: which one the
            # kernel keeps is its own tie-break, so only the properties below must hold
            exact = False
            continue
        if want.added or not want.shortcuts:
            assert new == want.bush
        else:
            # no shortcut passes the U test: the kernel then takes those that follow its
            # own topological order, one of several; any of them is right as long as the
            # bush stays acyclic (checked above)
            assert kept <= new and new - kept <= want.shortcuts
        count += len(new - kept)
        np.testing.assert_allclose(s.xo[r], want.xo, rtol=1e-9, atol=1e-12)
    assert added == count or not exact


def _shift_passes(net: Zoned, cycles: int, passes: int = 2) -> list[float]:
    """Shift passes of the kernel from a solver state, each checked against the twin run
    from the kernel's own state at the start of the pass, and for feasibility. Returns the
    Beckmann objective before and after each pass."""
    s = _solver_state(net, cycles, rehang_at=1)
    _bush_update(net, s, net.costs(_flows(s)), rehang=False)  # fresh orders and lists
    x = _flows(s)
    np.testing.assert_allclose(x, s.xo.sum(axis=0), rtol=1e-14)  # sum_origin_flows
    cost = net.costs(x)
    nr = net.origins.size
    bushes = [s.bush(r) for r in range(nr)]
    orders = [s.topo[r, : s.tc[r]].tolist() for r in range(nr)]
    active = np.ones(nr, dtype=np.uint8)
    objective = [K.beckmann(net.fft, net.alpha, net.beta, net.cap, net.const, x)]
    for _ in range(passes):  # a later pass skips the bushes an earlier one left inactive
        twin_x, twin_xo, twin_active = x.copy(), list(s.xo.copy()), active.copy()
        worst = _bush_shift(net, s, x, cost, 1e-12, active)
        want, ties = naive.bush_shift(
            net.n, net.init, net.term, net.links(), twin_x, twin_xo, bushes, orders, 1e-12,
            twin_active,
        )  # fmt: skip
        # two paths that cost the same to rounding (common near equilibrium): the kernel
        # may shift along either, so only the properties below must hold
        if not ties:
            assert worst == pytest.approx(want, rel=1e-9, abs=1e-12)
            np.testing.assert_array_equal(active, twin_active)
            np.testing.assert_allclose(s.xo, np.array(twin_xo), rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(x, twin_x, rtol=1e-9, atol=1e-9)
        # what makes it right whatever the twin says
        np.testing.assert_allclose(cost, net.costs(x), rtol=1e-14)  # costs follow the moves
        np.testing.assert_allclose(x, s.xo.sum(axis=0), rtol=1e-12, atol=1e-9)
        assert (x >= 0).all()
        for r in range(nr):
            assert not s.xo[r][s.ib[r] == 0].any()  # flow stays on the bush
            _assert_conserves(net, r, s.xo[r])
        objective.append(K.beckmann(net.fft, net.alpha, net.beta, net.cap, net.const, x))
    return objective


@pytest.mark.nojit
@settings(max_examples=60, deadline=None)
@given(zoned_networks(), st.integers(0, 3))
def test_bush_shift_takes_dials_newton_steps(net, cycles):
    # With a power above 1 a link's cost is convex, so Newton's step (taken from the
    # tangent at the current flows) can overshoot the minimum along a shift, and a pass
    # may then raise the Beckmann objective (hypothesis finds such networks); the affine
    # test below checks the decrease where it is guaranteed.
    _shift_passes(net, cycles)


@pytest.mark.nojit
@settings(max_examples=40, deadline=None)
@given(zoned_networks(betas=(0.0, 1.0)), st.integers(0, 3))
def test_bush_shift_lowers_the_objective_when_costs_are_affine(net, cycles):
    # with affine costs the objective along a shift is a parabola and Newton's step its
    # minimum (or short of it, when capped): every move, hence every pass, lowers it
    objective = _shift_passes(net, cycles)
    for before, after in itertools.pairwise(objective):
        assert after <= before * (1 + 1e-13)
