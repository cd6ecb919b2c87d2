"""Every numba kernel agrees with its slow pure-Python twin in tests/naive.py."""

from __future__ import annotations

import math

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
    flow = np.empty(net.num_links)
    sptt, lost = K.all_or_nothing(
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
        flow,
        K.threads(),
    )
    want_flow, want_sptt = naive.all_or_nothing(n, net.init, net.term, cost, no_thru, od)
    assert lost == 0
    np.testing.assert_allclose(flow, want_flow, rtol=1e-11, atol=1e-9)
    assert sptt == pytest.approx(want_sptt, rel=1e-12)


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


def test_conjugate_weights_follow_the_published_formulas():
    rng = np.random.default_rng(3)
    m = 50
    fft, alpha, beta, cap, _ = random_links(rng, m)
    beta[:] = 4.0
    alpha[:] = 0.15
    fft[:] = rng.uniform(1, 3, m)
    x, y, s1, s2 = (rng.uniform(1, 50, m) for _ in range(4))
    h = np.array([naive.derivative(fft[a], alpha[a], beta[a], cap[a], x[a]) for a in range(m)])
    # CFW: the new direction is H-conjugate to the previous one
    b0, b1, b2 = K.conjugate_weights(fft, alpha, beta, cap, x, y, s1, s2, 0.3, False)
    assert b2 == 0 and b0 + b1 == pytest.approx(1.0)
    if 0 < b1 < 0.99999:
        d_new = b0 * y + b1 * s1 - x
        assert (s1 - x) @ (h * d_new) == pytest.approx(0.0, abs=1e-6 * np.abs(h).max() * 2500)
    # BFW: weights sum to one and are non-negative
    b0, b1, b2 = K.conjugate_weights(fft, alpha, beta, cap, x, y, s1, s2, 0.3, True)
    assert b0 + b1 + b2 == pytest.approx(1.0)
    assert min(b0, b1, b2) >= 0
