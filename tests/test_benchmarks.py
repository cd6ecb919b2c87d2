"""Benchmarks: the registry, the measuring tools, the smoke runs of every suite and their
reports (no timed assertions)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from benchmarks import assignment as bench
from benchmarks import dndp, measure, peers, registry, scale
from networks.synthetic import braess, grid
from networks.tntp import read_net
from optimizer import _kernels as K
from optimizer.candidates import Candidate, CandidateSet, extend_network, from_instance

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
def _check_result(result: dict, out: Path, md_name: str = "summary.md") -> None:
    assert (out / "assignment.json").is_file() and (out / md_name).is_file()
    on_disk = json.loads((out / "assignment.json").read_text())
    assert on_disk["suite"] == "assignment" and on_disk["settings"]["smoke"]
    assert on_disk["machine"]["cpu_count"] >= 1 and on_disk["machine"]["numba_threads"] >= 1
    md = (out / md_name).read_text()
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


@pytest.fixture(scope="module")
def all_smoke(data_dir, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """``python -m benchmarks all --smoke``, once for the tests below (every suite, small)."""
    out = tmp_path_factory.mktemp("bench-all")
    env = {**os.environ, "ROADOPT_DATA_DIR": str(data_dir)}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "all", "--smoke", "--out", str(out), "-q"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def _load(out: Path, name: str) -> dict:
    return json.loads((out / name).read_text())


@pytest.mark.slow
def test_all_smoke_writes_every_suite_and_one_summary(all_smoke):
    out, proc = all_smoke
    for name in (
        "summary.md",
        "all.json",
        "assignment.json",
        "assignment.md",
        "dndp.json",
        "dndp.md",
        "design-osm.json",
        "design-osm.md",
        "scale.json",
        "scale.md",
    ):
        assert (out / name).is_file(), name
    assert (out / "scale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "summary.md").read_text()
    assert (
        md.startswith("# roadopt benchmarks") and "| suite | target | measured | verdict |" in md
    )
    for heading in (
        "## Assignment benchmarks",
        "## Network design benchmarks: Rey (2020) DNDP",
        "## Network design benchmarks: connectivity",
        "## Scale series",
    ):
        assert heading in md, heading
    assert "# roadopt benchmarks" in proc.stdout
    info = _load(out, "all.json")
    assert info["smoke"] and not info["errors"]
    assert set(info["files"]) == {"assignment", "dndp", "design-osm", "scale"}


@pytest.mark.slow
def test_smoke_run_from_the_command_line(all_smoke):
    out, _ = all_smoke
    result = _load(out, "assignment.json")
    names = {r["name"] for r in result["cases"]}
    assert {"SiouxFalls", "Anaheim", "Chicago-Sketch", "region"} <= names
    chicago = next(r for r in result["cases"] if r["name"] == "Chicago-Sketch")
    assert (chicago["toll_factor"], chicago["distance_factor"]) == (0.02, 0.04)
    region_rec = next(r for r in result["cases"] if r["name"] == "region")
    assert region_rec["size"] == registry.get("region").smoke_size
    _check_result(result, out, "assignment.md")
    assert result["peers"]["aequilibrae"]["requested"] is False


@pytest.mark.slow
def test_dndp_smoke_reaches_the_published_value_and_enumeration_agrees(all_smoke):
    out, _ = all_smoke
    res = _load(out, "dndp.json")
    assert res["suite"] == "dndp" and res["settings"]["smoke"]
    (case,) = res["cases"]
    assert "error" not in case, case.get("error")
    assert (case["instance"], case["budget_share"], case["candidates"]) == ("10_1", 0.25, 10)
    b = case["bnb"]
    assert b["status"] == "optimal"
    assert b["objective"] / case["published"] == pytest.approx(case["ratio"])
    assert case["ratio"] <= dndp.RATIO_TARGET
    assert b["objective_before"] == pytest.approx(dndp.NO_BUILD_TSTT, abs=0.05)
    assert b["lower_bound"] <= b["objective"] * (1 + 1e-9) and 0 <= b["gap"] <= 1e-6
    assert b["ue_solves"] > 0 and b["so_solves"] > 0 and b["seconds"] > 0
    assert b["cost"] <= b["budget"]
    split = b["time_split"]
    assert split["calls"]["ue"] > 0 and split["calls"]["so"] > 0 and split["calls"]["master"] > 0
    assert all(v >= 0 for v in split["seconds"].values())
    # the greedy baseline is reported and is no better than the optimum
    assert b["greedy"]["objective"] >= b["objective"] * (1 - 1e-6)
    e = case["enumeration"]
    assert e["status"] == "optimal" and math.isfinite(e["objective"])
    assert case["enumeration_vs_bnb"]["agree"]
    assert e["objective"] == pytest.approx(b["objective"], rel=1e-6)
    assert e["ue_solves"] > b["ue_solves"] / 2  # it scored many more plans than bnb needed
    (big,) = res["large"]
    assert "error" not in big, big.get("error")
    assert big["instance"] == "10_1+10_5" and big["candidates"] == 20
    assert len(big["candidate_sources"]) == 20
    bb = big["bnb"]
    assert bb["status"] in ("optimal", "feasible") and math.isfinite(bb["objective"])
    assert bb["objective"] < bb["objective_before"]
    assert bb["lower_bound"] <= bb["objective"] * (1 + 1e-9) and 0 <= bb["gap"] <= 1
    targets = {t["id"]: t for t in res["targets"]}
    assert targets["dndp-published"]["status"] == "met"
    assert targets["dndp-enumeration"]["status"] == "met"
    md = (out / "dndp.md").read_text()
    assert "| 10_1 | 25% |" in md and "10_1+10_5" in md


@pytest.mark.slow
def test_design_osm_smoke_bnb_matches_enumeration_and_beats_greedy(all_smoke):
    out, _ = all_smoke
    res = _load(out, "design-osm.json")
    areas = {a["area"]: a for a in res["areas"]}
    assert set(areas) == {"town", "West-Oakland"}
    for a in areas.values():
        assert "error" not in a, a.get("error")
        assert a["nodes"] > 0 and a["links"] > 0 and a["zones"] > 0 and a["gateways"] > 0
    checks = {(c["area"], c["check"]) for c in res["cases"]}
    assert checks == {(a, k) for a in areas for k in ("exact", "baseline")}
    for c in res["cases"]:
        assert "error" not in c, c.get("error")
        assert 0 < c["candidates"] <= c["max_candidates"]
        b = c["bnb"]
        assert math.isfinite(b["objective"]) and b["objective"] > 0
        assert b["objective"] <= b["objective_before"] * (1 + 1e-9)
        assert c["bnb_vs_greedy"]["not_worse"]
        if c["check"] == "exact":
            assert c["enumeration"]["status"] == "optimal"
            assert c["enumeration_vs_bnb"]["agree"]
    assert all(t["status"] == "met" for t in res["targets"])


@pytest.mark.slow
def test_scale_smoke_measures_each_solve_in_its_own_process(all_smoke):
    out, _ = all_smoke
    res = _load(out, "scale.json")
    (rec,) = res["sizes"]
    b = rec["build"]
    assert "error" not in b, b.get("error")
    assert b["links"] == 1000 and b["nodes"] > 0 and b["zones"] > 0 and b["trips"] > 0
    assert b["demand_seconds"] > 0 and b["process_peak_mb"] > 0
    assert [s["method"] for s in rec["solves"]] == ["bfw", "bush"]
    for s in rec["solves"]:
        assert "error" not in s, s.get("error")
        assert s["status"] == "converged" and s["final_gap"] <= s["target_gap"]
        # the solve was timed inside its own process: algorithm time within the wall time
        assert s["iterations"] >= 0 and 0 < s["seconds"] <= s["wall_seconds"]
        assert s["process_peak_mb"] > s["solve_peak_mb"] >= 0
    berlin = res["berlin"]
    assert berlin["target"]["memory_gb"] == 2.0
    (s,) = berlin["solves"]
    assert "error" not in s, s.get("error")
    assert s["method"] == "bush" and s["process_peak_mb"] > 0
    assert berlin["build"]["zones"] == scale.SMOKE_BERLIN["zones"]
    assert "## Berlin-size memory target" in (out / "scale.md").read_text()


@pytest.mark.slow
def test_summary_is_rendered_again_from_any_suite_json(all_smoke, tmp_path):
    from benchmarks.run import main

    out, _ = all_smoke
    for name, md in (
        ("dndp.json", "dndp.md"),
        ("design-osm.json", "design-osm.md"),
        ("scale.json", "scale.md"),
    ):
        assert main(["summary", str(out / name), "--out", str(tmp_path)]) == 0
        assert (tmp_path / md).read_text() == (out / md).read_text()


# ---------------------------------------------------------------------- design tools
def test_merged_instances_keep_shared_candidate_links_once(data_dir):
    one = read_net(dndp.instance_path("10_1"))
    two = read_net(dndp.instance_path("10_2"))
    five = read_net(dndp.instance_path("10_5"))
    shared = dndp.merge_instances(one, two)  # 7-16, 16-7, 19-22, 22-19 are in both
    assert shared.candidates.num_candidates == 16
    disjoint = dndp.merge_instances(one, five)
    assert disjoint.candidates.num_candidates == 20
    assert dndp.merge_instances(one, one).candidates.num_candidates == 10
    cs = from_instance(disjoint)
    assert len(set(cs.ids)) == 20
    assert cs.total_cost == pytest.approx(
        float(one.candidates.cost.sum() + five.candidates.cost.sum())
    )
    base, cs2, sources = dndp.load_merged(("10_1", "10_5"))
    assert base.candidates is None and len(cs2) == 20 and len(sources) == 20
    # the default pairs share no candidate link: twenty each
    for pair in dndp.LARGE_PAIRS:
        assert len(dndp.load_merged(pair)[1]) == 20
    with pytest.raises(ValueError, match="same base network"):
        other = one.replace(init=one.init[::-1].copy(), term=one.term[::-1].copy())
        dndp.merge_instances(one, other)
    assert dndp.parse_pair("10_1+SF_DNDP_10_5") == ("10_1", "10_5")
    with pytest.raises(KeyError):
        dndp.parse_pair("10_1+10_99")


def test_time_split_counts_the_search_and_puts_everything_back():
    from optimizer import design, search

    before = (search.assign, design.DesignModel.propose, design.DesignModel.feasible)
    from benchmarks.design import TimeSplit

    net, dem = braess(with_middle=False)
    full, _ = braess(with_middle=True)
    mid = int(np.flatnonzero((full.node_ids[full.init] == 3) & (full.node_ids[full.term] == 4))[0])
    ext = extend_network(
        net,
        {
            "init": [full.init[mid]],
            "term": [full.term[mid]],
            "free_flow_time": [full.free_flow_time[mid]],
            "capacity": [full.capacity[mid]],
        },
    )
    cs = CandidateSet(
        ext, net.num_links, (Candidate("mid", "new_link", 1.0, np.array([net.num_links])),)
    )
    with TimeSplit() as split:
        search.optimize(net, dem, cs, budget=1.0, baseline=False)
    assert (search.assign, design.DesignModel.propose, design.DesignModel.feasible) == before
    assert split.calls["ue"] >= 1 and split.calls["so"] >= 1 and split.calls["polish"] == 2
    assert split.calls["master"] >= 1
    d = split.as_dict(total=10.0)
    assert d["seconds"]["other"] >= 0 and set(d["seconds"]) >= {"ue", "so", "polish", "master"}


def test_fit_exponent_recovers_a_power_law():
    x = [1e3, 3e3, 1e4, 3e4]
    fit = scale.fit_exponent(x, [2e-5 * v**1.5 for v in x])
    assert fit["exponent"] == pytest.approx(1.5) and fit["r2"] == pytest.approx(1.0)
    assert fit["coefficient"] == pytest.approx(2e-5)
    assert scale.fit_exponent([1e3], [1.0]) is None
    assert scale.fit_exponent([1e3, 2e3], [0.0, 1.0]) is None  # a zero time cannot enter


def test_design_arguments_are_refused(tmp_path):
    from benchmarks.run import main

    assert main(["dndp", "--instances", "10_99", "--out", str(tmp_path)]) == 2
    assert main(["dndp", "--pairs", "10_1", "--out", str(tmp_path)]) == 2
    assert main(["all", "--suites", "nonsense", "--out", str(tmp_path)]) == 2
    with pytest.raises(SystemExit):
        main(["scale", "--sizes", "many"])
    assert not any(tmp_path.iterdir())


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


@pytest.mark.slow
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
