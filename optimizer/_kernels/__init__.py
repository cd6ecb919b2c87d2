"""numba kernels of the assignment engine: the only package of roadopt that imports numba.

Kernels take plain contiguous arrays (float64, int64, uint8) and scalars, trust them (the
public wrappers validate), and write into preallocated outputs where it helps. Every kernel
has a slow pure-Python twin in ``tests/naive.py`` that it must agree with. With
``NUMBA_DISABLE_JIT=1`` the kernels run unchanged as plain Python (``prange`` is
``range``); ``tests/test_kernels_processes.py`` runs the kernel tests that way.

Modules, by topic (every public kernel is re-exported here, so callers write
``from optimizer import _kernels as K`` and ``K.link_costs(...)``):

``costs``
    BPR link costs, derivatives, the Beckmann objective, the line search and the
    conjugate (CFW/BFW) weights.
``paths``
    Dijkstra (indexed 4-ary heap), shortest-path trees, all-or-nothing loading,
    shortest-path travel time (SPTT) and distance matrices.
``bush``
    Algorithm B bushes (Dial 2006): start, topological order, labels, rectify, re-hang,
    prune and grow.
``shift``
    Algorithm B flow shifts between the longest and shortest bush paths.

numba caches each compiled kernel against its own source file only, so a kernel that
calls one in another module would keep running the old callee after that module changed.
On import the package therefore hashes all its sources and empties the cache of every
kernel when the hash differs from the one recorded beside the cache
(:func:`_flush_stale_cache`; ``tests/test_kernels_processes.py`` edits a copy to check).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from numba import config, get_num_threads, set_num_threads

from . import bush, costs, paths, shift
from .bush import _bush_labels as _bush_labels  # private kernels the tests call directly
from .bush import _rehang as _rehang
from .bush import _topo_order as _topo_order
from .bush import bush_init, bush_update, bush_update_serial
from .costs import beckmann, conjugate_weights, line_search, link_costs, link_derivatives
from .paths import (
    all_or_nothing,
    all_or_nothing_serial,
    distances_from,
    shortest_path_tree,
    skims_from,
    sptt_only,
    sptt_serial,
)
from .shift import bush_shift, sum_origin_flows

__all__ = [
    "all_or_nothing",
    "all_or_nothing_serial",
    "beckmann",
    "bush_init",
    "bush_shift",
    "bush_update",
    "bush_update_serial",
    "conjugate_weights",
    "distances_from",
    "line_search",
    "link_costs",
    "link_derivatives",
    "set_threads",
    "shortest_path_tree",
    "skims_from",
    "sptt_only",
    "sptt_serial",
    "sum_origin_flows",
    "threads",
    "warmup",
]
_MODULES = (costs, paths, bush, shift)
_STAMP = "roadopt-kernels.sha256"


def threads() -> int:
    """Threads the parallel kernels use (numba's setting; ``NUMBA_NUM_THREADS``)."""
    return int(get_num_threads())


def set_threads(n: int) -> None:
    """Limit the parallel kernels to ``n`` threads (for example one per Dask worker)."""
    set_num_threads(int(n))


def _sources_digest() -> str:
    """SHA-256 of the package's Python sources, in file-name order."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _dispatchers() -> list:
    """Every kernel defined in the package (numba dispatchers with an on-disk cache)."""
    found = []
    for mod in _MODULES:
        for obj in vars(mod).values():
            cache = getattr(obj, "_cache", None)
            py_func = getattr(obj, "py_func", None)
            if cache is None or py_func is None or py_func.__module__ != mod.__name__:
                continue
            if hasattr(cache, "flush") and hasattr(cache, "_cache_path"):
                found.append(obj)
    return found


def _flush_stale_cache() -> bool:
    """Empty every kernel's numba cache if the package's sources changed since it was made.

    The digest of the sources is kept in a file beside the cache (numba's cache directory
    for this package: ``__pycache__`` or under ``NUMBA_CACHE_DIR``). Returns whether the
    caches were emptied. Does nothing with the JIT disabled, and leaves a cache it cannot
    write to alone (numba then compiles in memory).
    """
    if getattr(config, "DISABLE_JIT", False):
        return False
    kernels = _dispatchers()
    if not kernels:
        return False
    digest = _sources_digest()
    stamp = Path(kernels[0]._cache._cache_path) / _STAMP
    try:
        if stamp.read_text().strip() == digest:
            return False
    except OSError:
        pass
    try:
        for k in kernels:
            k._cache.flush()
        stamp.parent.mkdir(parents=True, exist_ok=True)
        tmp = stamp.with_name(f"{_STAMP}.{os.getpid()}.tmp")
        tmp.write_text(digest + "\n")
        tmp.replace(stamp)
    except OSError:
        return False
    return True


_flush_stale_cache()

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
    skims_from(
        od[0], fs_indptr, fs_links, init, term, cost, cost, no_thru, np.empty((1, 4)),
        np.empty((1, 4)),
    )  # fmt: skip
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
