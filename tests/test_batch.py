"""Batch sweeps: expansion, failures among successes, resume after a kill, Dask."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from networks.errors import FileFormatError
from optimizer.jobs.batch import expand_sweep, load_sweep, run_batch
from optimizer.jobs.cli import main

SWEEP = """command = "assign"
[network]
path = "${ROADOPT_DATA_DIR}/tntp/SiouxFalls/SiouxFalls_net.tntp"
trips = "${ROADOPT_DATA_DIR}/tntp/SiouxFalls/SiouxFalls_trips.tntp"
[sweep]
demand_scale = [0.5, 0.75, 1.0, 1.25, 1.5]
method = ["fw", "bfw"]
"""


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_the_issue_example_expands_to_ten_stable_scenarios(data_dir, tmp_path):
    p = tmp_path / "sw.toml"
    p.write_text(SWEEP)
    a, _ = load_sweep(p)
    b, _ = load_sweep(p)
    assert len(a) == 10 and [c.scenario_id for c in a] == [c.scenario_id for c in b]
    assert {c.params["method"] for c in a} == {"fw", "bfw"}
    assert a[0].doc["demand"]["scale"] == 0.5 and a[0].doc["assignment"]["method"] == "fw"


@pytest.mark.parametrize(
    "text, message",
    [
        (SWEEP.replace("[0.5, 0.75, 1.0, 1.25, 1.5]", "[]"), "is an empty list"),
        (SWEEP + "colour = [1]\n", "unknown sweep key"),
        (SWEEP.replace("SiouxFalls_net.tntp", "Atlantis_net.tntp"), "does not exist"),
        (SWEEP.replace("demand_scale = [", "demand_scale = 3 #"), "must be a list"),
    ],
)
def test_bad_sweeps_fail_before_anything_runs(data_dir, tmp_path, text, message):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(FileFormatError, match=message):
        load_sweep(p)
    assert main(["batch", str(p), "--out", str(tmp_path / "o"), "-q"]) == 1
    assert not (tmp_path / "o").exists()


def test_a_failing_scenario_is_recorded_and_the_others_finish(data_dir, tmp_path):
    doc = {
        "command": "optimize",
        "network": [
            {
                "path": str(data_dir / "dndp/SiouxFalls/SF_DNDP_10_1.txt"),
                "trips": str(data_dir / "tntp/SiouxFalls/SiouxFalls_trips.tntp"),
            },
        ],
        "optimize": {"gap": 1e-6},
        "sweep": {"objective": ["tstt", "connectivity"], "budget_share": [0.25]},
    }
    cases = expand_sweep(doc)
    res = run_batch(cases, tmp_path / "out", executor="serial", progress=False)
    assert res["errors"] == 1 and res["scenarios"] == 2
    rows = {r["sweep_objective"]: r for r in _rows(tmp_path / "out" / "results.csv")}
    assert rows["tstt"]["status"] == "ok" and rows["tstt"]["run_status"] == "optimal"
    assert float(rows["tstt"]["objective"]) / 1000 <= 6227.9 * 1.0005
    assert float(rows["tstt"]["cost"]) <= 2250 and rows["tstt"]["lower_bound"]
    assert (
        rows["connectivity"]["status"] == "error" and "gateways" in rows["connectivity"]["error"]
    )
    full = json.loads(
        (tmp_path / "out" / "scenarios" / f"{rows['tstt']['scenario_id']}.json").read_text()
    )
    assert full["result"]["selected"] and full["params"]["objective"] == "tstt"


@pytest.mark.slow
def test_resume_after_the_batch_is_killed(data_dir, tmp_path):
    p = tmp_path / "sw.toml"
    p.write_text(SWEEP.replace('method = ["fw", "bfw"]', 'method = ["bfw"]'))
    out = tmp_path / "res"
    cmd = [
        sys.executable,
        "-m",
        "optimizer.jobs.cli",
        "batch",
        str(p),
        "--out",
        str(out),
        "--executor",
        "serial",
        "-q",
    ]
    proc = subprocess.Popen(cmd, env=os.environ.copy(), start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline:
        if (
            len(list((out / "scenarios").glob("*.json"))) >= 2
            if (out / "scenarios").exists()
            else False
        ):
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = len(list((out / "scenarios").glob("*.json")))
    assert 1 <= first < 5
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0
    rows = _rows(out / "results.csv")
    assert len(rows) == 5 and len({r["scenario_id"] for r in rows}) == 5
    assert all(r["status"] == "ok" for r in rows)
    assert not [f for f in out.rglob("*") if ".tmp" in f.name]  # no leftovers of the kill


@pytest.mark.slow
def test_dask_executor_on_a_local_cluster(data_dir, tmp_path):
    pytest.importorskip("dask.distributed")
    p = tmp_path / "sw.toml"
    p.write_text(
        SWEEP.replace("[0.5, 0.75, 1.0, 1.25, 1.5]", "[0.5, 1.0]").replace(
            '["fw", "bfw"]', '["bfw"]'
        )
    )
    cases, _ = load_sweep(p)
    res = run_batch(cases, tmp_path / "d", executor="dask", workers=2, progress=False)
    assert res["errors"] == 0 and res["ran"] == 2
    rows = _rows(tmp_path / "d" / "results.csv")
    assert {r["run_status"] for r in rows} == {"converged"}


@pytest.mark.slow
def test_a_silent_scheduler_is_a_clear_error(data_dir, tmp_path):
    pytest.importorskip("dask.distributed")
    p = tmp_path / "sw.toml"
    p.write_text(SWEEP)
    t0 = time.time()
    code = main(
        [
            "batch",
            str(p),
            "--executor",
            "dask",
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--timeout",
            "2",
            "--out",
            str(tmp_path / "x"),
            "-q",
        ]
    )
    assert code == 2 and time.time() - t0 < 60


def _pool_processes(pid: int, out, timeout: float) -> list:
    """The batch's workers and resource tracker, once a first scenario has finished.

    By then every worker has started and the others are inside a scenario.
    """
    import psutil

    main_proc = psutil.Process(pid)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if list((out / "scenarios").glob("*.json")) if (out / "scenarios").is_dir() else False:
            kids = main_proc.children(recursive=True)
            lines = [" ".join(k.cmdline()) for k in kids]
            assert sum("spawn_main" in line for line in lines) == 2, lines
            assert any("resource_tracker" in line for line in lines), lines
            return kids
        time.sleep(0.02)
    raise AssertionError(f"no scenario finished within {timeout} s")


def _running(proc) -> bool:
    """Whether a process still runs (a zombie has exited; only its reaping is pending)."""
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_workers_exit_when_the_batch_is_killed(data_dir, tmp_path):
    """SIGKILL of ``roadopt batch --executor process`` leaves no worker or tracker behind."""
    p = tmp_path / "sw.toml"
    # the first scenario (bfw) is quick, the others (fw to a small gap) are slow: the
    # workers are computing when the batch dies
    p.write_text(
        SWEEP.replace("[0.5, 0.75, 1.0, 1.25, 1.5]", "[0.5, 1.0, 1.5]").replace(
            '["fw", "bfw"]', '["bfw", "fw"]\ngap = [1e-7]'
        )
    )
    out = tmp_path / "res"
    cmd = [sys.executable, "-m", "optimizer.jobs.cli", "batch", str(p), "--out", str(out)]
    cmd += ["--executor", "process", "--workers", "2", "-q"]
    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    kids: list = []
    try:
        kids = _pool_processes(proc.pid, out, timeout=60)
        names = {k.pid: " ".join(k.cmdline())[-60:] for k in kids}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        t0 = time.perf_counter()
        alive = kids
        while alive and time.perf_counter() - t0 < 10:
            time.sleep(0.05)
            alive = [k for k in alive if _running(k)]
        assert not alive, f"alive 10 s after the kill: {[names[k.pid] for k in alive]}"
    finally:
        proc.kill()
        for k in kids:  # only this test's own processes
            if _running(k):
                k.kill()
