"""Static deterministic user-equilibrium traffic assignment with separable BPR link costs.

``assign(network, demand)`` finds link flows at which no traveller can lower their
generalized cost by switching path (Wardrop's first principle), by minimising the Beckmann
objective. Methods:

``msa``
    Method of successive averages (step ``1 / (k + 1)``); a baseline.
``fw``
    Frank-Wolfe (LeBlanc, Morlok and Pierskalla 1975) with an exact line search.
``cfw``, ``bfw``
    Conjugate and biconjugate Frank-Wolfe (Mitradjieva and Lindberg 2013).
``bush``
    Algorithm B (Dial 2006), bush-based: reaches relative gaps of 1e-12 and below.

The relative gap is ``(TSTT - SPTT) / TSTT`` with ``TSTT = sum_a x_a c_a`` and ``SPTT`` the
demand times shortest path costs at the same costs; intrazonal trips are excluded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from networks.demand import Demand
from networks.network import Network, forward_star

from . import _kernels as K
from .errors import DisconnectedDemandError, InvalidDemandError, OptionError, UsageError
from .results import AssignmentResult, History, Status

__all__ = [
    "METHODS",
    "ON_DISCONNECTED",
    "assign",
    "check_options",
    "choose_method",
    "drop_disconnected",
    "link_costs",
    "origin_flows",
]

log = logging.getLogger(__name__)

METHODS = ("msa", "fw", "cfw", "bfw", "bush")
#: What :func:`assign` does with trips between zones that no path joins.
ON_DISCONNECTED = ("raise", "drop")
_ALIASES = {"algb": "bush", "algorithm-b": "bush", "b": "bush", "frank-wolfe": "fw"}


#: Bytes per (origin, link) pair that the bush method holds: origin flows (8), bush
#: membership (1), in-link lists (4), and the flows and membership a result keeps for warm
#: starts (9).
BUSH_BYTES_PER_CELL = 22
#: Above this, ``method="auto"`` uses BFW, whose memory does not grow with the zones.
BUSH_MEMORY_LIMIT = 4 * 2**30
#: Algorithm B re-hangs the unused parts of its bushes on the current shortest-path trees
#: after any sweep that left the gap above this share of the previous sweep's gap.
REHANG_RATIO = 0.5


def choose_method(rgap: float, *, origins: int = 0, links: int = 0) -> str:
    """The default method: ``bush`` (Algorithm B) unless its memory would be too large.

    Measured on SiouxFalls, Anaheim, Chicago-Sketch and generated regions
    (``benchmarks/``): Algorithm B reaches 1e-4 about as fast as BFW and is orders of
    magnitude faster below 1e-6. Its memory grows with origins x links
    (:data:`BUSH_BYTES_PER_CELL` each); past :data:`BUSH_MEMORY_LIMIT` the default is
    ``bfw``, whose memory grows with links only.
    """
    if origins * links * BUSH_BYTES_PER_CELL > BUSH_MEMORY_LIMIT:
        return "bfw"
    return "bush"


@dataclass(frozen=True, eq=False)
class _Problem:
    """Plain arrays the kernels take, built once per solve."""

    n: int
    m: int
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
    total: float
    dropped: float

    @property
    def threads(self) -> int:
        """Threads worth using: one for small problems.

        Starting threads costs more than it saves there (and a busy machine makes every
        parallel region wait).
        """
        return K.threads() if len(self.origins) * self.m >= 20_000 else 1

    def costs(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        out = np.empty(self.m) if out is None else out
        K.link_costs(self.fft, self.alpha, self.beta, self.cap, self.const, x, out)
        return out

    def aon(self, cost: np.ndarray, out: np.ndarray) -> float:
        """All-or-nothing loading into ``out``; returns the SPTT."""
        return self.aon_with_lost(cost, out)[0]

    def aon_with_lost(self, cost: np.ndarray, out: np.ndarray) -> tuple[float, float]:
        """All-or-nothing loading into ``out``; returns (SPTT, trips that found no path)."""
        args = (
            self.origins,
            self.od_indptr,
            self.od_dest,
            self.od_trips,
            self.fs_indptr,
            self.fs_links,
            self.init,
            self.term,
            cost,
            self.no_thru,
            out,
        )
        if self.threads == 1:
            sptt, lost = K.all_or_nothing_serial(*args)
        else:
            sptt, lost = K.all_or_nothing(*args, self.threads)
        return float(sptt), float(lost)

    def sptt(self, cost: np.ndarray) -> float:
        args = (
            self.origins,
            self.od_indptr,
            self.od_dest,
            self.od_trips,
            self.fs_indptr,
            self.fs_links,
            self.term,
            cost,
            self.no_thru,
        )
        if self.threads == 1:
            return float(K.sptt_serial(*args))
        return float(K.sptt_only(*args, self.threads))

    def objective(self, x: np.ndarray) -> float:
        return float(K.beckmann(self.fft, self.alpha, self.beta, self.cap, self.const, x))

    def signature(self) -> tuple:
        return (
            self.m,
            self.n,
            self.origins.tobytes(),
            self.od_dest.tobytes(),
            self.od_trips.tobytes(),
        )


@dataclass(frozen=True, eq=False)
class _WarmState:
    """What a later solve needs to start warm: flows, and bushes for the bush method."""

    signature: tuple
    flow: np.ndarray
    link_open: np.ndarray
    xo: np.ndarray | None = None
    in_bush: np.ndarray | None = None


def _closed_mask(network: Network, closed_links: Any) -> np.ndarray:
    m = network.num_links
    if closed_links is None:
        return np.ones(m, dtype=np.uint8)
    arr = np.asarray(closed_links)
    if arr.dtype == bool:
        if arr.shape != (m,):
            raise UsageError(f"closed_links mask must have {m} entries, got {arr.shape}")
        return (~arr).astype(np.uint8)
    idx = arr.astype(np.int64).ravel()
    if idx.size and (idx.min() < 0 or idx.max() >= m):
        raise UsageError(f"closed_links holds link positions outside 0..{m - 1}")
    mask = np.ones(m, dtype=np.uint8)
    mask[idx] = 0
    return mask


_OD_CACHE: dict[tuple, tuple] = {}


def _node_od(network: Network, demand: Demand) -> tuple:
    """Origins and their destinations and trips over node indices (CSR), cached.

    The design search solves thousands of equilibria of one demand on networks that share
    their nodes; the key is the demand object and the network's node ids.
    """
    key = (id(demand), network.node_ids.tobytes())
    hit = _OD_CACHE.get(key)
    if hit is not None and hit[0] is demand:
        return hit[1]
    n = network.num_nodes
    zone_nodes = network.node_indices(demand.zone_node_ids, what="zone node")
    coo = sp.coo_array(demand.matrix)
    keep = (coo.row != coo.col) & (coo.data > 0)
    on, dn, tr = zone_nodes[coo.row[keep]], zone_nodes[coo.col[keep]], coo.data[keep]
    same = on == dn
    if same.any():
        log.info(
            "%.6g trips between different zones at the same node are not assigned", tr[same].sum()
        )
    node_od = sp.csr_array((tr[~same], (on[~same], dn[~same])), shape=(n, n))
    node_od.sum_duplicates()
    node_od.sort_indices()
    origins = np.flatnonzero(np.diff(node_od.indptr) > 0).astype(np.int64)
    sub = node_od[origins]
    out = (
        origins,
        np.ascontiguousarray(sub.indptr, dtype=np.int64),
        np.ascontiguousarray(sub.indices, dtype=np.int64),
        np.ascontiguousarray(sub.data, dtype=np.float64),
    )
    if len(_OD_CACHE) > 8:
        _OD_CACHE.clear()
    _OD_CACHE[key] = (demand, out)
    return out


def _prepare(
    network: Network,
    demand: Demand,
    toll_factor: float,
    distance_factor: float,
    link_open: np.ndarray,
    on_disconnected: str,
) -> _Problem:
    network.validate()
    n, m = network.num_nodes, network.num_links
    const = np.ascontiguousarray(network.generalized_constant(toll_factor, distance_factor))
    if np.any(const < 0):
        k = int(np.flatnonzero(const < 0)[0])
        raise UsageError(
            f"the generalized cost is negative on link {network.link_ids[k]} (toll or length "
            "times its factor); negative link costs are not supported"
        )
    origins, od_indptr, od_dest, od_trips = _node_od(network, demand)
    open_links = np.flatnonzero(link_open).astype(np.int64)
    fs_indptr, fs_local = forward_star(network.init[open_links], n)
    bs_indptr, bs_local = forward_star(network.term[open_links], n)
    prob = _Problem(
        n=n,
        m=m,
        # writeable copies: numba compiles read-only arrays as a separate signature
        init=network.init.copy(),
        term=network.term.copy(),
        fs_indptr=fs_indptr,
        fs_links=np.ascontiguousarray(open_links[fs_local]),
        bs_indptr=bs_indptr,
        bs_links=np.ascontiguousarray(open_links[bs_local]),
        fft=network.free_flow_time.copy(),
        alpha=network.alpha.copy(),
        beta=network.beta.copy(),
        cap=network.capacity.copy(),
        const=const.copy(),
        no_thru=network.no_thru.astype(np.uint8),
        link_open=link_open,
        origins=origins,
        od_indptr=od_indptr,
        od_dest=od_dest,
        od_trips=od_trips,
        total=float(od_trips.sum()),
        dropped=0.0,
    )
    return _check_connected(prob, network, demand, on_disconnected)


def drop_disconnected(network: Network, demand: Demand) -> tuple[Demand, int, float]:
    """The demand without the trips between zones that no path of ``network`` joins.

    Returns the demand (the same object when nothing is dropped), the number of OD pairs
    dropped and their trips; logs a warning naming them.
    """
    try:
        _prepare(network, demand, 0.0, 0.0, np.ones(network.num_links, dtype=bool), "raise")
    except DisconnectedDemandError as exc:
        pairs = exc.pairs
    else:
        return demand, 0, 0.0
    zone_of: dict[int, list[int]] = {}
    for k, node in enumerate(np.asarray(demand.zone_node_ids).tolist()):
        zone_of.setdefault(int(node), []).append(k)
    mat = (
        demand.matrix.tolil(copy=True)
        if hasattr(demand.matrix, "tolil")
        else demand.dense().copy()
    )
    for o, d, _ in pairs:
        for i in zone_of.get(o, []):
            for j in zone_of.get(d, []):
                mat[i, j] = 0.0
    amount = float(sum(t for *_, t in pairs))
    shown = ", ".join(f"{a}->{b} ({t:.6g} trips)" for a, b, t in pairs[:5])
    log.warning(
        "dropped %d OD pair(s) with %.6g trips that no road joins (%.3g%% of demand; "
        "origin node -> destination node): %s%s",
        len(pairs),
        amount,
        100 * amount / max(demand.total, 1e-300),
        shown,
        f" and {len(pairs) - 5} more" if len(pairs) > 5 else "",
    )
    out = Demand(
        zone_ids=demand.zone_ids,
        zone_node_ids=demand.zone_node_ids,
        matrix=mat.tocsr() if hasattr(mat, "tocsr") else mat,
        internal=demand.internal,
        period=demand.period,
        period_hours=demand.period_hours,
        name=demand.name,
    )
    return out, len(pairs), amount


def _check_connected(
    prob: _Problem, network: Network, demand: Demand, on_disconnected: str
) -> _Problem:
    """Find OD pairs that no path joins; raise naming them, or drop them with a warning."""
    cost = prob.costs(np.zeros(prob.m))
    # fast path: one all-or-nothing pass counts the trips that found no path
    _, lost_trips = prob.aon_with_lost(cost, np.empty(prob.m))
    if lost_trips == 0:
        return prob
    bad_rows: list[int] = []
    chunk = max(1, min(len(prob.origins), 2**26 // max(prob.n, 1)))
    for lo in range(0, len(prob.origins), chunk):
        hi = min(lo + chunk, len(prob.origins))
        dist = np.empty((hi - lo, prob.n))
        K.distances_from(
            prob.origins[lo:hi], prob.fs_indptr, prob.fs_links, prob.term, cost, prob.no_thru, dist
        )
        for r in range(lo, hi):
            a, b = prob.od_indptr[r], prob.od_indptr[r + 1]
            lost = np.flatnonzero(~np.isfinite(dist[r - lo, prob.od_dest[a:b]]))
            bad_rows.extend((a + lost).tolist())
    if not bad_rows:
        return prob
    bad = np.asarray(bad_rows, dtype=np.int64)
    row_of = np.repeat(np.arange(len(prob.origins)), np.diff(prob.od_indptr))
    ids = network.node_ids
    pairs = [
        (int(ids[prob.origins[row_of[k]]]), int(ids[prob.od_dest[k]]), float(prob.od_trips[k]))
        for k in bad
    ]
    amount = float(prob.od_trips[bad].sum())
    shown = ", ".join(f"{a}->{b} ({t:.6g} trips)" for a, b, t in pairs[:5])
    more = f" and {len(pairs) - 5} more" if len(pairs) > 5 else ""
    if on_disconnected != "drop":
        raise DisconnectedDemandError(
            f"{len(pairs)} OD pair(s) with {amount:.6g} trips have no path (origin node -> "
            f"destination node): {shown}{more}. Fix the network, or pass "
            "on_disconnected='drop' (CLI: --drop-disconnected) to drop them",
            pairs,
        )
    log.warning(
        "dropped %d disconnected OD pair(s) with %.6g trips (%.3g%% of demand): %s%s",
        len(pairs),
        amount,
        100 * amount / max(prob.total, 1e-300),
        shown,
        more,
    )
    keep = np.ones(len(prob.od_trips), dtype=bool)
    keep[bad] = False
    counts = np.add.reduceat(keep, prob.od_indptr[:-1]) if len(keep) else np.zeros(0, int)
    counts = np.where(np.diff(prob.od_indptr) > 0, counts, 0)
    has = counts > 0
    indptr = np.zeros(int(has.sum()) + 1, dtype=np.int64)
    np.cumsum(counts[has], out=indptr[1:])
    return _replace(
        prob,
        origins=np.ascontiguousarray(prob.origins[has]),
        od_indptr=indptr,
        od_dest=np.ascontiguousarray(prob.od_dest[keep]),
        od_trips=np.ascontiguousarray(prob.od_trips[keep]),
        total=float(prob.od_trips[keep].sum()),
        dropped=amount,
    )


def _replace(prob: _Problem, **kw: Any) -> _Problem:
    from dataclasses import replace

    return replace(prob, **kw)


class _Monitor:
    """Records the history, calls the callback, logs progress, enforces limits."""

    def __init__(
        self,
        method: str,
        rgap: float,
        max_iter: int,
        time_limit: float | None,
        callback: Callable[[dict], Any] | None,
    ) -> None:
        self.method, self.rgap, self.max_iter = method, rgap, max_iter
        self.time_limit, self.callback = time_limit, callback
        self.t0 = time.perf_counter()
        self.rows: list[tuple[int, float, float, float]] = []
        self.last_log = self.t0

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def record(self, it: int, gap: float, obj: float, tstt: float = 0.0) -> Status | None:
        now = self.elapsed()
        self.rows.append((it, gap, obj, now))
        if now - (self.last_log - self.t0) >= 2.0:
            self.last_log = time.perf_counter()
            log.info(
                "%s: iteration %d, relative gap %.3e, elapsed %.1f s", self.method, it, gap, now
            )
        if self.callback is not None:
            stop = self.callback(
                {
                    "method": self.method,
                    "iteration": it,
                    "relative_gap": gap,
                    "objective": obj,
                    "seconds": now,
                    "tstt": tstt,
                }
            )
            if stop is True:
                return Status.MAX_ITER
        if gap <= self.rgap:
            return Status.CONVERGED
        if it >= self.max_iter:
            return Status.MAX_ITER
        if self.time_limit is not None and now >= self.time_limit:
            return Status.TIME_LIMIT
        return None

    def history(self) -> History:
        arr = np.asarray(self.rows, dtype=np.float64).reshape(-1, 4)
        return History(arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2], arr[:, 3])


def _gap(tstt: float, sptt: float) -> float:
    if tstt <= 0.0:
        return 0.0
    return max(0.0, (tstt - sptt) / tstt)


def _solve_fw(prob: _Problem, method: str, mon: _Monitor, x0: np.ndarray | None):
    m = prob.m
    cost = np.empty(m)
    y = np.empty(m)
    if x0 is None:
        x = np.empty(m)
        prob.aon(prob.costs(np.zeros(m)), x)
    else:
        x = x0.copy()
    s1 = np.zeros(m)
    s2 = np.zeros(m)
    tau1 = 1.0
    have = 0  # number of stored previous targets
    it = 0
    while True:
        prob.costs(x, cost)
        sptt = prob.aon(cost, y)
        tstt = float(x @ cost)
        gap = _gap(tstt, sptt)
        status = mon.record(it, gap, prob.objective(x), tstt)
        if status is not None:
            return x, cost, it, status, tstt, sptt, None
        it += 1
        if method == "msa":
            tau = 1.0 / (it + 1)
            x += tau * (y - x)
            continue
        if method == "fw" or have == 0 or tau1 >= 1.0 - 1e-12:
            target = y.copy()
        elif method == "cfw" or have == 1:
            b0, b1, _ = K.conjugate_weights(
                prob.fft, prob.alpha, prob.beta, prob.cap, x, y, s1, s2, tau1, False
            )
            target = b0 * y + b1 * s1
        else:
            b0, b1, b2 = K.conjugate_weights(
                prob.fft, prob.alpha, prob.beta, prob.cap, x, y, s1, s2, tau1, True
            )
            target = b0 * y + b1 * s1 + b2 * s2
        d = target - x
        tau = K.line_search(
            prob.fft, prob.alpha, prob.beta, prob.cap, prob.const, x, d, 1.0, 1e-15
        )
        if tau <= 0.0 and method != "fw":
            # the conjugate direction stalled: restart from the plain FW direction
            target = y.copy()
            d = target - x
            tau = K.line_search(
                prob.fft, prob.alpha, prob.beta, prob.cap, prob.const, x, d, 1.0, 1e-15
            )
            have = 0
        x += tau * d
        np.maximum(x, 0.0, out=x)
        s2, s1 = s1, target
        tau1 = tau
        have = min(have + 1, 2)


def _solve_bush(prob: _Problem, mon: _Monitor, warm: _WarmState | None, inner: int = 20):
    """Algorithm B: per outer iteration, update every bush, then ``inner`` shift passes."""
    m, nr = prob.m, len(prob.origins)
    cost = prob.costs(np.zeros(m))
    if warm is not None and warm.xo is not None and warm.in_bush is not None:
        xo = warm.xo.copy()
        in_bush = warm.in_bush.copy()
        _reset_closed_bushes(prob, xo, in_bush, warm, cost)
    else:
        xo = np.zeros((nr, m))
        in_bush = np.zeros((nr, m), dtype=np.uint8)
        K.bush_init(
            prob.origins,
            prob.od_indptr,
            prob.od_dest,
            prob.od_trips,
            prob.fs_indptr,
            prob.fs_links,
            prob.init,
            prob.term,
            cost,
            prob.no_thru,
            xo,
            in_bush,
        )
    x = np.empty(m)
    K.sum_origin_flows(xo, x)
    prob.costs(x, cost)
    # per-bush topological orders and in-link lists (int32 halves their memory)
    topo = np.empty((nr, prob.n), dtype=np.int32)
    topo_count = np.zeros(nr, dtype=np.int64)
    lptr = np.zeros((nr, prob.n + 1), dtype=np.int32)
    llinks = np.zeros((nr, m), dtype=np.int32)
    # bushes are independent while they are updated: split them over the threads
    chunks = prob.threads
    it = 0
    prev_gap = np.inf
    while True:
        sptt = prob.sptt(cost)
        tstt = float(x @ cost)
        gap = _gap(tstt, sptt)
        status = mon.record(it, gap, prob.objective(x), tstt)
        if status is not None:
            return x, cost, it, status, tstt, sptt, (xo, in_bush)
        it += 1
        # a sweep that did not halve the gap: re-hang the bushes' unused parts on the
        # current shortest-path trees (a stalled bush can need that; see _kernels._update_one)
        rehang = gap > REHANG_RATIO * prev_gap
        prev_gap = gap
        tol = min(1e-3, max(gap * 1e-2, 1e-16))
        args = (
            prob.origins,
            prob.od_indptr,
            prob.od_dest,
            prob.od_trips,
            prob.fs_indptr,
            prob.fs_links,
            prob.bs_indptr,
            prob.bs_links,
            prob.init,
            prob.term,
            prob.no_thru,
            prob.link_open,
            cost,
            xo,
            in_bush,
            topo,
            topo_count,
            lptr,
            llinks,
        )
        if chunks == 1:
            K.bush_update_serial(*args, rehang)
        else:
            K.bush_update(*args, chunks, rehang)
        K.sum_origin_flows(xo, x)
        prob.costs(x, cost)
        active = np.ones(nr, dtype=np.uint8)
        for _ in range(inner):
            worst = K.bush_shift(
                prob.origins,
                prob.init,
                prob.fft,
                prob.alpha,
                prob.beta,
                prob.cap,
                prob.const,
                x,
                cost,
                xo,
                topo,
                topo_count,
                lptr,
                llinks,
                tol,
                active,
            )
            if worst == 0.0:  # every bush within tolerance: the next update decides
                break
        K.sum_origin_flows(xo, x)
        prob.costs(x, cost)


def _reset_closed_bushes(
    prob: _Problem, xo: np.ndarray, in_bush: np.ndarray, warm: _WarmState, cost: np.ndarray
) -> None:
    """Rebuild the warm bushes that hold a newly closed link.

    Removing a closed link from a bush can cut nodes off it (even an unused tree link), so
    every origin whose bush holds one starts again from its shortest-path tree.
    """
    closed = np.flatnonzero(prob.link_open == 0)
    if closed.size == 0:
        return
    bad = np.flatnonzero((in_bush[:, closed] != 0).any(axis=1) | (xo[:, closed] > 0).any(axis=1))
    if bad.size == 0:
        return
    xo_b = np.zeros((bad.size, prob.m))
    ib_b = np.zeros((bad.size, prob.m), dtype=np.uint8)
    sub = _sub_od(prob, bad)
    K.bush_init(
        prob.origins[bad],
        sub[0],
        sub[1],
        sub[2],
        prob.fs_indptr,
        prob.fs_links,
        prob.init,
        prob.term,
        cost,
        prob.no_thru,
        xo_b,
        ib_b,
    )
    xo[bad] = xo_b
    in_bush[bad] = ib_b


def _sub_od(prob: _Problem, rows: np.ndarray):
    counts = np.diff(prob.od_indptr)[rows]
    indptr = np.zeros(rows.size + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    sel = np.concatenate([np.arange(prob.od_indptr[r], prob.od_indptr[r + 1]) for r in rows])
    return (
        indptr,
        np.ascontiguousarray(prob.od_dest[sel]),
        np.ascontiguousarray(prob.od_trips[sel]),
    )


def check_options(
    *,
    method: str,
    rgap: float,
    max_iter: int | None,
    time_limit: float | None,
    toll_factor: float,
    distance_factor: float,
    on_disconnected: str,
) -> str:
    """Check the options of :func:`assign`; returns the method's canonical name.

    The one check of these options: :func:`assign` calls it, and so do the job settings
    (:mod:`optimizer.jobs.settings`) before anything is read or solved.

    Raises
    ------
    OptionError
        Naming the option (its keyword) and what is wrong with it.
    """
    name = _ALIASES.get(str(method).lower(), str(method).lower())
    if name not in (*METHODS, "auto"):
        raise OptionError(
            "method", f"unknown method {method!r}; choose one of auto, {', '.join(METHODS)}"
        )
    if not (np.isfinite(rgap) and rgap >= 0):
        raise OptionError("rgap", f"must be a number >= 0, got {rgap}")
    if on_disconnected not in ON_DISCONNECTED:
        raise OptionError("on_disconnected", f"must be one of {', '.join(ON_DISCONNECTED)}")
    if max_iter is not None and max_iter < 0:
        raise OptionError("max_iter", f"must be >= 0, got {max_iter}")
    if time_limit is not None and not time_limit > 0:
        raise OptionError("time_limit", f"must be > 0 seconds, got {time_limit}")
    for option, v in (("toll_factor", toll_factor), ("distance_factor", distance_factor)):
        if not np.isfinite(v):
            raise OptionError(option, f"must be a finite number, got {v}")
    return name


def assign(
    network: Network,
    demand: Demand,
    *,
    method: str = "auto",
    rgap: float = 1e-4,
    max_iter: int | None = None,
    time_limit: float | None = None,
    toll_factor: float = 0.0,
    distance_factor: float = 0.0,
    warm_start: AssignmentResult | None = None,
    callback: Callable[[dict], Any] | None = None,
    on_disconnected: str = "raise",
    closed_links: Any = None,
) -> AssignmentResult:
    """Solve the static user equilibrium of ``demand`` on ``network``.

    Parameters
    ----------
    network
        The road network; link costs ``fft * (1 + alpha * (x / cap) ** beta)`` in its time
        unit.
    demand
        Trips between zones; intrazonal trips are not assigned.
    method
        ``"msa"``, ``"fw"``, ``"cfw"``, ``"bfw"`` or ``"bush"`` (Algorithm B); ``"auto"``
        picks the fastest for ``rgap`` (see :func:`choose_method`).
    rgap
        Target relative gap ``(TSTT - SPTT) / TSTT``.
    max_iter
        Iteration limit (sweeps for ``bush``); default 10,000 (FW family) or 1,000 (bush).
    time_limit
        Seconds of algorithm time; the solve stops with status ``time_limit``.
    toll_factor, distance_factor
        Generalized cost added to every link: ``toll_factor * toll + distance_factor *
        length`` (time per toll unit, time per length unit).
    warm_start
        An earlier result on the same demand and links (links may be closed or reopened
        with ``closed_links``); starts from its flows (and bushes, for ``bush``).
    callback
        Called after each iteration with a dict (``method``, ``iteration``,
        ``relative_gap``, ``objective``, ``seconds``, ``tstt``); returning ``True`` stops
        the solve. Progress otherwise goes to the log (a line every two seconds);
        :func:`optimizer.jobs.progress.assignment_bar` draws these rows as a bar.
    on_disconnected
        ``"raise"`` (default): trips between zones no path joins are an error naming the
        first pairs. ``"drop"``: drop them with a warning stating the amount.
    closed_links
        Links to leave out (a boolean mask or link positions), e.g. unbuilt candidates.

    Returns
    -------
    AssignmentResult
        Flows, costs, gap, objective and a status (``converged``, ``max_iter``,
        ``time_limit``): not converging is not an error.

    Raises
    ------
    InvalidNetworkError, InvalidDemandError, DisconnectedDemandError, UsageError
        For bad input, before any iteration.
    """
    name = check_options(
        method=method,
        rgap=rgap,
        max_iter=max_iter,
        time_limit=time_limit,
        toll_factor=toll_factor,
        distance_factor=distance_factor,
        on_disconnected=on_disconnected,
    )
    if demand.num_zones == 0:
        raise InvalidDemandError("the demand has no zones")
    link_open = _closed_mask(network, closed_links)
    K.warmup()
    prob = _prepare(network, demand, toll_factor, distance_factor, link_open, on_disconnected)
    if name == "auto":
        name = choose_method(rgap, origins=len(prob.origins), links=prob.m)
    if max_iter is None:
        max_iter = 1000 if name == "bush" else 10_000

    warm = None
    if warm_start is not None:
        st = warm_start.state
        if isinstance(st, _WarmState) and st.signature == prob.signature():
            warm = st
        else:
            log.info("warm start ignored: the demand or the link set differs")
    mon = _Monitor(name, rgap, max_iter, time_limit, callback)
    if prob.total <= 0:
        x = np.zeros(prob.m)
        cost = prob.costs(x)
        status = mon.record(0, 0.0, 0.0) or Status.CONVERGED
        it, tstt, sptt, bush_state = 0, 0.0, 0.0, None
    elif name == "bush":
        x, cost, it, status, tstt, sptt, bush_state = _solve_bush(prob, mon, warm)
    else:
        x0 = None
        if warm is not None and not np.any(warm.flow[link_open == 0] > 0):
            x0 = warm.flow
        x, cost, it, status, tstt, sptt, bush_state = _solve_fw(prob, name, mon, x0)
    seconds = mon.elapsed()
    hist = mon.history()
    gap = float(hist.relative_gap[-1])
    state = _WarmState(
        prob.signature(),
        x.copy(),
        link_open,
        *(bush_state if bush_state is not None else (None, None)),
    )
    log.debug(
        "%s: %s after %d iterations, relative gap %.3e, %.3f s", name, status, it, gap, seconds
    )
    return AssignmentResult(
        flow=x,
        cost=cost,
        relative_gap=gap,
        average_excess_cost=(tstt - sptt) / prob.total if prob.total > 0 else 0.0,
        objective=prob.objective(x),
        tstt=tstt,
        sptt=sptt,
        iterations=it,
        seconds=seconds,
        method=name,
        status=status,
        rgap_target=rgap,
        history=hist,
        dropped_demand=prob.dropped,
        toll_factor=toll_factor,
        distance_factor=distance_factor,
        state=state,
    )


def origin_flows(
    network: Network, demand: Demand, result: AssignmentResult
) -> tuple[np.ndarray, np.ndarray]:
    """The per-origin link flows of a bush solve (``method="bush"``, Algorithm B).

    Returns
    -------
    origins : int64 array (r,)
        Internal indices of the nodes that send trips (zones at one node are one origin),
        in the rows' order.
    flows : float64 array (r, m), read-only
        Origin ``o``'s flow on each link (the network's flow unit); the rows sum to
        ``result.flow``, and each row's links with flow form an acyclic bush.

    Raises
    ------
    UsageError
        For a result of another method, or not solved on this network and demand.
    """
    st = result.state
    if not isinstance(st, _WarmState) or st.xo is None:
        raise UsageError(
            "per-origin flows come from a bush solve: assign(..., method='bush'), got "
            f"method {result.method!r}"
        )
    origins = _node_od(network, demand)[0]
    if st.xo.shape != (len(origins), network.num_links) or st.signature[2] != origins.tobytes():
        raise UsageError("the result was not solved on this network and demand")
    flows = st.xo.view()
    flows.setflags(write=False)
    return origins.copy(), flows


def link_costs(
    network: Network, flow: np.ndarray, *, toll_factor: float = 0.0, distance_factor: float = 0.0
) -> np.ndarray:
    """Generalized BPR cost of every link at ``flow`` (the network's time unit)."""
    flow = np.ascontiguousarray(flow, dtype=np.float64)
    if flow.shape != (network.num_links,):
        raise UsageError(f"flow must have {network.num_links} entries, got {flow.shape}")
    out = np.empty(network.num_links)
    K.link_costs(
        network.free_flow_time,
        network.alpha,
        network.beta,
        network.capacity,
        np.ascontiguousarray(network.generalized_constant(toll_factor, distance_factor)),
        flow,
        out,
    )
    return out
