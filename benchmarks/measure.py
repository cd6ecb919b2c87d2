"""Measuring tools: the scipy time unit, kernel timings, peak memory, machine description."""

from __future__ import annotations

import gc
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

__all__ = [
    "OtherLoad",
    "PeakMemory",
    "load_average",
    "machine_info",
    "scipy_graph",
    "time_repeated",
    "wait_until_quiet",
]


def time_repeated(fn: Callable[[], Any], repeats: int, *, warm: int = 1) -> dict[str, Any]:
    """Call ``fn`` ``warm`` times untimed, then ``repeats`` times; median and all runs (s)."""
    for _ in range(warm):
        fn()
    runs = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return {
        "median_s": statistics.median(runs),
        "min_s": min(runs),
        "repeats": len(runs),
        "runs_s": runs,
    }


def scipy_graph(init: np.ndarray, term: np.ndarray, cost: np.ndarray, n: int) -> sp.csr_array:
    """The network as scipy's csgraph wants it: CSR, float64 data, int32 indices.

    Parallel links collapse to the cheapest one (a sparse matrix holds one entry per node
    pair; summing duplicates would be wrong). Zero costs stay as explicit entries, which
    csgraph treats as zero-weight edges.
    """
    order = np.lexsort((cost, term, init))
    a, b, c = init[order], term[order], cost[order]
    first = np.ones(a.size, dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, c = a[first], b[first], c[first]
    idx_t = np.int32 if max(n, a.size) < 2**31 - 1 else np.int64
    indptr = np.zeros(n + 1, dtype=idx_t)
    np.cumsum(np.bincount(a, minlength=n), out=indptr[1:])
    graph = sp.csr_array(
        (np.ascontiguousarray(c, dtype=np.float64), b.astype(idx_t), indptr), shape=(n, n)
    )
    graph.has_sorted_indices = True
    return graph


def scipy_pass(graph: sp.csr_array, sources: np.ndarray) -> Callable[[], np.ndarray]:
    """A zero-argument function running one scipy Dijkstra pass from ``sources``."""
    idx = np.ascontiguousarray(sources, dtype=graph.indices.dtype)

    def run() -> np.ndarray:
        return dijkstra(graph, directed=True, indices=idx)

    return run


def _busy_seconds() -> float | None:
    """CPU seconds all processes have spent busy since boot (Linux ``/proc/stat``)."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal ...: everything but idle and iowait
    vals = [int(v) for v in fields[1:9]]
    busy = vals[0] + vals[1] + vals[2] + vals[5] + vals[6] + vals[7]
    return busy / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system


class OtherLoad:
    """How many cores other processes kept busy during a block (``.cores``; None if unknown).

    Other work on the machine inflates times, the threaded kernels' most of all; each
    measurement records it so that a noisy figure can be recognised.
    """

    shortest = 0.25  # seconds

    def __init__(self) -> None:
        self.cores: float | None = None

    def __enter__(self) -> OtherLoad:
        self._busy, self._own, self._t = _busy_seconds(), _own_seconds(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        busy = _busy_seconds()
        wall = time.perf_counter() - self._t
        if busy is None or self._busy is None or wall < self.shortest:
            return  # the kernel counts in clock ticks (10 ms): too short a block to tell
        others = (busy - self._busy) - (_own_seconds() - self._own)
        self.cores = min(max(0.0, others / wall), float(os.cpu_count() or 1))


def wait_until_quiet(max_wait: float, *, threshold: float = 0.25, window: float = 3.0) -> float:
    """Wait (at most ``max_wait`` s) until other processes use under ``threshold`` cores.

    Returns the seconds waited. For shared machines: start measuring once others are idle.
    """
    t0 = time.perf_counter()
    while True:
        with OtherLoad() as load:
            time.sleep(window)
        waited = time.perf_counter() - t0
        if load.cores is None or load.cores < threshold or waited >= max_wait:
            return waited


def _proc_status(key: str) -> int | None:
    """A ``/proc/self/status`` memory field in bytes (Linux), else None."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _trim_heap() -> None:
    """Hand freed heap memory back to the OS (glibc), so that RSS growth shows new needs."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return _proc_status("VmHWM") is not None


class PeakMemory:
    """Peak memory a block of code adds, in bytes (``.peak_bytes``; ``.method`` says how).

    On Linux the process's peak resident set (``VmHWM``) is reset before the block and read
    after it, so every allocation counts (numpy, numba, C extensions, threads) at no run-time
    cost: ``peak_bytes = VmHWM after - VmRSS before`` (freed heap memory is returned to the
    OS first, so that it is not silently reused). Elsewhere ``tracemalloc`` measures the
    Python-visible allocations (numpy arrays included; memory that extensions allocate
    themselves is missed).
    """

    def __init__(self) -> None:
        self.peak_bytes: int = 0
        self.method: str = ""
        self._base = 0
        self._tracing = False

    def __enter__(self) -> PeakMemory:
        gc.collect()
        _trim_heap()
        if _reset_peak_rss():
            self.method = "peak RSS (VmHWM) minus RSS before"
            self._base = _proc_status("VmRSS") or 0
        else:
            self.method = "tracemalloc peak"
            self._tracing = not tracemalloc.is_tracing()
            if self._tracing:
                tracemalloc.start()
            tracemalloc.reset_peak()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.method.startswith("peak RSS"):
            self.peak_bytes = max(0, (_proc_status("VmHWM") or 0) - self._base)
        else:
            self.peak_bytes = tracemalloc.get_traced_memory()[1]
            if self._tracing:
                tracemalloc.stop()


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    """The short commit of the checkout (with ``+`` when tracked files differ from it)."""
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip() or None
    if commit is None:
        return None
    try:
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "networks",
                "optimizer",
            ],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        dirty = ""
    return commit + ("+" if dirty else "")


def machine_info(
    *, load_average_start: list[float] | None = None, commit_start: str | None = None
) -> dict[str, Any]:
    """CPU, thread counts and library versions, for the report.

    ``git_commit`` is ``commit_start`` when given (the code a run imported: other sessions
    may commit while it runs); ``git_commit_at_end`` then says where the checkout ended.
    A ``+`` marks uncommitted changes to ``networks/`` or ``optimizer/``.
    """
    import numba

    from optimizer import _kernels

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        layer = None
    total = None
    if hasattr(os, "sysconf"):
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            total = None
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "memory_gb": round(total / 2**30, 1) if total else None,
        "load_average": load_average(),
        "numba_threads": _kernels.threads(),
        "numba_threading_layer": layer,
        "python": sys.version.split()[0],
        "versions": {
            name: _version(name) for name in ("roadopt", "numpy", "scipy", "numba", "aequilibrae")
        },
        "git_commit": commit_start or git_commit(),
        "git_commit_at_end": git_commit() if commit_start else None,
        "load_average_start": load_average_start,
    }
