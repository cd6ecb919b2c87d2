"""Peer solvers run on the same cases: AequilibraE (optional extra ``roadopt[aequilibrae]``).

AequilibraE is driven through ``Graph`` + ``TrafficAssignment`` with an in-memory
``AequilibraeMatrix``: its ``Project`` API needs SQLite extension loading, which not every
Python build has. Its limits (field notes): it rejects zero free-flow times (raised here to
``1e-8``) and BPR powers below 1 (such cases are skipped, with the reason), and its
reported gap lags one iteration, so the final flows are re-checked with our own gap.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from typing import Any

import numpy as np

from networks import Demand, Network

__all__ = ["aequilibrae_available", "run_aequilibrae"]

log = logging.getLogger(__name__)

ZERO_TIME = 1e-8


def aequilibrae_available() -> tuple[bool, str]:
    """Whether AequilibraE imports, and its version or the reason it does not."""
    # progress bars cost AequilibraE tens of ms per iteration; they must be off before import
    os.environ.setdefault("AEQ_SHOW_PROGRESS", "FALSE")
    try:
        from aequilibrae.paths import Graph, TrafficAssignment  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install raising anything else
        return False, f"AequilibraE is not usable: {type(exc).__name__}: {exc}"
    import importlib.metadata

    try:
        return True, importlib.metadata.version("aequilibrae")
    except importlib.metadata.PackageNotFoundError:
        return True, "unknown"


def incompatibility(network: Network, demand: Demand) -> str | None:
    """Why AequilibraE cannot run this case as we define it, or None."""
    low = int(np.count_nonzero((network.beta < 1.0) & (network.alpha > 0)))
    if low:
        return f"{low} link(s) with a BPR power below 1, which AequilibraE rejects"
    zone_nodes = network.node_indices(demand.zone_node_ids, what="zone node")
    if np.unique(zone_nodes).size != zone_nodes.size:
        return "several zones share a node; AequilibraE needs one centroid per zone"
    no_thru = np.flatnonzero(network.no_thru)
    if no_thru.size and not np.array_equal(np.sort(no_thru), np.sort(zone_nodes)):
        return (
            "no-through nodes differ from the zone nodes; AequilibraE can only block all centroids"
        )
    return None


def run_aequilibrae(network: Network, demand: Demand, **kw: Any) -> dict[str, Any]:
    """Solve with AequilibraE; see :func:`_run_aequilibrae` (its deprecation noise silenced)."""
    with warnings.catch_warnings():
        # pandas deprecations inside AequilibraE are not ours to fix
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return _run_aequilibrae(network, demand, **kw)


def _run_aequilibrae(
    network: Network,
    demand: Demand,
    *,
    toll_factor: float,
    distance_factor: float,
    rgap: float,
    time_limit: float,
    algorithm: str = "bfw",
    cores: int | None = None,
) -> dict[str, Any]:
    """Solve with AequilibraE; its convergence report, final flows and timings.

    Returns a dict with ``iteration``, ``relative_gap``, ``seconds`` (lists, per iteration,
    AequilibraE's own gap and clock from the start of ``execute``), ``flow`` (link order),
    ``status`` (``converged``, ``time_limit`` or ``max_iter``), ``setup_seconds`` and
    ``notes``. Raises whatever AequilibraE raises.
    """
    os.environ.setdefault("AEQ_SHOW_PROGRESS", "FALSE")
    import pandas as pd
    from aequilibrae.matrix import AequilibraeMatrix
    from aequilibrae.paths import Graph, TrafficAssignment, TrafficClass

    logging.getLogger("aequilibrae").setLevel(logging.WARNING)
    notes: list[str] = []
    t0 = time.perf_counter()
    m = network.num_links
    fft = network.free_flow_time.copy()
    zero = fft <= 0
    if zero.any():
        fft[zero] = ZERO_TIME
        notes.append(f"{int(zero.sum())} zero free-flow time(s) raised to {ZERO_TIME:g}")
    # node ids 1..n: AequilibraE wants positive centroid ids that index its matrix
    zones = network.node_indices(demand.zone_node_ids, what="zone node").astype(np.int64) + 1
    links = pd.DataFrame(
        {
            "link_id": np.arange(1, m + 1, dtype=np.int64),
            "a_node": network.init + 1,
            "b_node": network.term + 1,
            "direction": np.ones(m, dtype=np.int8),
            "free_flow_time": fft,
            "capacity": network.capacity,
            "b": network.alpha,
            "power": network.beta,
            "fixed_cost": network.generalized_constant(toll_factor, distance_factor),
        }
    )
    graph = Graph()
    graph.network = links
    graph.prepare_graph(zones)
    graph.set_graph("free_flow_time")
    graph.set_skimming([])
    graph.set_blocked_centroid_flows(bool(network.no_thru.any()))

    od = demand.matrix
    od = np.array(od.toarray() if hasattr(od, "toarray") else od, dtype=np.float64)
    np.fill_diagonal(od, 0.0)
    mat = AequilibraeMatrix()
    mat.create_empty(zones=zones.size, matrix_names=["matrix"], memory_only=True)
    mat.index[:] = zones
    mat.matrices[:, :, 0] = od
    mat.computational_view(["matrix"])

    tclass = TrafficClass("car", graph, mat)
    tclass.set_fixed_cost("fixed_cost")
    tclass.set_vot(1.0)
    assig = TrafficAssignment()
    assig.set_classes([tclass])
    assig.set_vdf("BPR")
    assig.set_vdf_parameters({"alpha": "b", "beta": "power"})
    assig.set_capacity_field("capacity")
    assig.set_time_field("free_flow_time")
    assig.set_algorithm(algorithm)
    assig.max_iter = 1_000_000
    assig.rgap_target = float(rgap)
    assig.set_cores(int(cores or os.cpu_count() or 1))

    # AequilibraE has no time limit: stop it from its convergence test, once per iteration
    engine = assig.assignment
    check = engine.check_convergence
    state = {"start": 0.0, "timed_out": False}

    def check_with_limit() -> bool:
        done = check()
        if not done and time.perf_counter() - state["start"] >= time_limit:
            state["timed_out"] = True
            return True
        return done

    engine.check_convergence = check_with_limit
    setup = time.perf_counter() - t0
    state["start"] = time.perf_counter()
    assig.execute(log_specification=False)
    wall = time.perf_counter() - state["start"]

    report = engine.convergence_report
    gaps = [float(g) for g in report["rgap"]]
    res = assig.results()
    flow = res["matrix_ab"].reindex(np.arange(1, m + 1)).fillna(0.0).to_numpy(dtype=np.float64)
    reached = bool(gaps) and min(gaps) <= rgap
    status = "converged" if reached else ("time_limit" if state["timed_out"] else "max_iter")
    return {
        "algorithm": algorithm,
        "iteration": [int(i) for i in report["iteration"]],
        "relative_gap": gaps,
        "seconds": [float(s) for s in report["time"]],
        "flow": flow,
        "status": status,
        "setup_seconds": setup,
        "execute_seconds": wall,
        "cores": int(cores or os.cpu_count() or 1),
        "notes": notes,
    }
