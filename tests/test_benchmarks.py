"""Benchmarks: the registry, the measuring tools, the smoke run and its reports (no timings)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from benchmarks import assignment as bench
from benchmarks import measure, peers, registry
from networks.synthetic import braess, grid
from optimizer import _kernels as K

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> dict:
    reg = dict(registry.REGISTRY)
    monkeypatch.setattr(registry, "REGISTRY", reg)
    return reg


# ---------------------------------------------------------------------- registry
def test_builtin_cases_and_their_settings():
    names = {c.name for c in registry.cases("assignment")}
    assert {"SiouxFalls", "Anaheim", "Chicago-Sketch", "region"} <= names
    chicago = registry.get("chicago_sketch")
    assert (chicago.toll_factor, chicago.distance_factor) == (0.02, 0.04)
    assert chicago.best_known_objective == pytest.approx(17_313_018.739)
    # each method solves to the tightest target it is registered for
    gaps = (1e-4, 1e-6, 1e-10)
    assert chicago.solve_gap("bush", gaps) == 1e-10
    assert chicago.solve_gap("bfw", gaps) == 1e-6
    assert chicago.solve_gap("msa", gaps) == 1e-4
    assert chicago.solve_gap("msa", gaps, exhaustive=True) == 1e-10
    assert chicago.solve_gap("fw", (1e-2, 1e-3)) == 1e-3


def test_register_a_case_in_a_few_lines(fresh_registry):
    case = registry.register(
        registry.Case("grid", lambda size: grid(size or 4, size or 4, seed=2), sizes=(4, 6))
    )
    assert registry.get("GRID") is case
    assert case.label(6) == "grid-6"
    assert bench.min_size(case) == 4
    net, _ = case.load(4)
    assert net.num_nodes == 16 and case.factors(net) == (0.0, 0.0)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.Case("Grid", case.load))


def test_discover_registers_datasets_with_a_flow_file(
    data_dir, tmp_path, monkeypatch, fresh_registry
):
    src = data_dir / "tntp" / "SiouxFalls"
    dst = tmp_path / "tntp" / "Copy-Of-Sioux"
    dst.mkdir(parents=True)
    for f in src.iterdir():
        shutil.copy(f, dst / f.name)
    no_flow = tmp_path / "tntp" / "NoFlow"
    no_flow.mkdir()
    for f in src.glob("*_net.tntp"):
        shutil.copy(f, no_flow / f.name)
    monkeypatch.setenv("ROADOPT_DATA_DIR", str(tmp_path))
    added = registry.discover()
    assert added == ["Copy-Of-Sioux"]
    case = registry.get("copy_of_sioux")
    assert case.best_known_flow and case.best_known_objective is None
    with pytest.raises(KeyError, match="no benchmark case"):
        registry.get("no-such-network")


# ---------------------------------------------------------------------- measuring tools
def test_scipy_graph_matches_our_dijkstra_with_parallel_and_zero_cost_links():
    # node 0 -> 1 twice (costs 5 and 2), a zero-cost link 1 -> 2, and 0 -> 2 at 3
    init = np.array([0, 0, 1, 0, 2], dtype=np.int64)
    term = np.array([1, 1, 2, 2, 3], dtype=np.int64)
    cost = np.array([5.0, 2.0, 0.0, 3.0, 1.0])
    g = measure.scipy_graph(init, term, cost, 4)
    assert g.indices.dtype == np.int32 and g.indptr.dtype == np.int32
    d = dijkstra(g, directed=True, indices=np.array([0], dtype=np.int32))
    np.testing.assert_allclose(d[0], [0.0, 2.0, 2.0, 3.0])

    net, _ = grid(5, 6, seed=3)
    c = net.free_flow_time.copy()
    c[::7] = 0.0
    g = measure.scipy_graph(net.init, net.term, c, net.num_nodes)
    src = np.array([0, 7, 29], dtype=np.int64)
    ours = np.empty((3, net.num_nodes))
    K.distances_from(
        src,
        np.ascontiguousarray(net.fs_indptr),
        np.ascontiguousarray(net.fs_links),
        net.term.copy(),
        c,
        np.zeros(net.num_nodes, np.uint8),
        ours,
    )
    np.testing.assert_allclose(measure.scipy_pass(g, src)(), ours)


def test_peak_memory_sees_a_large_allocation():
    with measure.PeakMemory() as mem:
        a = np.ones(8_000_000)  # 61 MiB, touched
        a.sum()
        del a
    assert mem.method
    assert mem.peak_bytes >= 40 * 2**20


def test_time_repeated_reports_a_median():
    calls = []
    t = measure.time_repeated(lambda: calls.append(1), 5)
    assert len(calls) == 6  # one warm-up call
    assert t["repeats"] == 5 and 0 <= t["min_s"] <= t["median_s"]


def test_aequilibrae_incompatibilities_are_named():
    net, dem = braess()
    assert peers.incompatibility(net, dem) is None
    low = net.replace(beta=np.where(np.arange(net.num_links) == 1, 0.5, net.beta))
    assert "power below 1" in peers.incompatibility(low, dem)
    blocked = net.replace(no_thru=np.array([False, False, True, False]))
    assert "no-through" in peers.incompatibility(blocked, dem)


# ---------------------------------------------------------------------- smoke runs
def _check_result(result: dict, out: Path) -> None:
    assert (out / "assignment.json").is_file() and (out / "summary.md").is_file()
    on_disk = json.loads((out / "assignment.json").read_text())
    assert on_disk["suite"] == "assignment" and on_disk["settings"]["smoke"]
    assert on_disk["machine"]["cpu_count"] >= 1 and on_disk["machine"]["numba_threads"] >= 1
    md = (out / "summary.md").read_text()
    assert "| case | solver |" in md and "## Targets" in md
    for rec in result["cases"]:
        assert "error" not in rec, rec.get("error")
        assert rec["case"] in md
        assert rec["scipy_pass"]["median_s"] > 0 and rec["scipy_pass"]["repeats"] >= 5
        assert rec["aon"]["median_s"] > 0 and rec["aon"]["passes"] > 0
        assert {s["method"] for s in rec["solves"]} == {"msa", "fw", "cfw", "bfw", "bush"}
        for s in rec["solves"]:
            assert "error" not in s, s.get("error")
            assert s["status"] == "converged"
            assert s["final_gap"] <= s["target_gap"]
            assert s["peak_memory_mb"] >= 0 and s["conservation_error"] < 1e-6
            for key, r in s["reach"].items():
                assert r["attempted"], key
                assert r["seconds"] > 0 and r["passes"] > 0 and r["iterations"] >= 0
            assert s["reach"]["5e-02"]["seconds"] <= s["reach"]["1e-02"]["seconds"]
            if rec["best_known_objective"]:
                # a gap of 1e-2 bounds the distance of the objective to the optimum loosely
                assert abs(s["objective_rel_to_best"]) < 5e-2


def test_smoke_run_from_the_command_line(data_dir, tmp_path):
    out = tmp_path / "bench"
    env = {**os.environ, "ROADOPT_DATA_DIR": str(data_dir)}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "assignment", "--smoke", "--out", str(out), "-q"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "# Assignment benchmarks" in proc.stdout
    result = json.loads((out / "assignment.json").read_text())
    names = {r["name"] for r in result["cases"]}
    assert {"SiouxFalls", "Anaheim", "Chicago-Sketch", "region"} <= names
    chicago = next(r for r in result["cases"] if r["name"] == "Chicago-Sketch")
    assert (chicago["toll_factor"], chicago["distance_factor"]) == (0.02, 0.04)
    region_rec = next(r for r in result["cases"] if r["name"] == "region")
    assert region_rec["size"] == registry.get("region").smoke_size
    _check_result(result, out)
    assert result["peers"]["aequilibrae"]["requested"] is False


def test_run_goes_on_without_aequilibrae(tmp_path, monkeypatch):
    monkeypatch.setattr(
        peers, "aequilibrae_available", lambda: (False, "AequilibraE is not usable: missing")
    )
    out = tmp_path / "r"
    result = bench.run(["region"], smoke=True, peer=True, out=out)
    _check_result(result, out)
    status = result["peers"]["aequilibrae"]
    assert status["available"] is False and "missing" in status["reason"]
    md = (out / "summary.md").read_text()
    assert "not run (AequilibraE is not usable: missing)" in md
    assert result["cases"][0]["peers"] == {}
    # the tables can be written again from the JSON alone
    from benchmarks.run import main

    again = tmp_path / "again"
    assert main(["summary", str(out / "assignment.json"), "--out", str(again)]) == 0
    assert (again / "summary.md").read_text() == md


def test_bad_arguments_are_refused(tmp_path):
    from benchmarks.run import main

    for bad in (["--methods", "dijkstra"], ["--gaps", "abc"], ["--gaps", "2"]):
        with pytest.raises(SystemExit):
            main(["assignment", *bad, "--out", str(tmp_path)])
    assert not tmp_path.joinpath("assignment.json").exists()


def test_aequilibrae_peer_on_siouxfalls(data_dir, tmp_path):
    ok, why = peers.aequilibrae_available()
    if not ok:
        pytest.skip(why)
    out = tmp_path / "peer"
    result = bench.run(["SiouxFalls"], smoke=True, peer=True, methods=["bfw"], out=out)
    p = result["cases"][0]["peers"]["aequilibrae"]
    assert "error" not in p, p.get("error")
    assert p["status"] == "converged" and p["reach"]["1e-02"]["seconds"] > 0
    # its flows are an equilibrium by our own gap too (its own gap lags one iteration)
    assert p["final_gap_ours"] < 5e-2 and p["conservation_error"] < 1e-6
    assert "AequilibraE bfw" in (out / "summary.md").read_text()
