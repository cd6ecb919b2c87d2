"""Output folders: numbered runs, one complete run per folder, refusals before work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from optimizer.errors import UsageError
from optimizer.jobs.cli import main
from optimizer.jobs.folders import LATEST, output_folder, remove_leftovers, run_name
from tests.conftest import sioux_falls_dndp_args

KEY = {"command": "optimize", "seed": 0}


def _fill(stage: Path, tag: str) -> None:
    for name in ("plan.csv", "map.png", "report.html"):
        (stage / name).write_text(f"{name} of {tag}\n")
    (stage / "plan.json").write_text(json.dumps({"run": {"settings": {"tag": tag}}}))


def _tags(folder: Path) -> set[str]:
    """Which runs the files of a folder belong to."""
    files = [folder / n for n in ("plan.csv", "map.png", "report.html")]
    tags = {p.read_text().split(" of ")[-1].strip() for p in files if p.exists()}
    tags.add(json.loads((folder / "plan.json").read_text())["run"]["settings"]["tag"])
    return tags


def test_runs_without_out_get_numbered_folders_and_latest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = []
    for tag in ("a", "b", "c"):
        f = output_folder(None, name="North-Bayreuth", overwrite=False, key=KEY)
        assert not f.path.exists()  # nothing is made before the run is written
        with f.staged() as stage:
            _fill(stage, tag)
        paths.append(f.path)
    base = tmp_path / "roadopt-out"
    assert [p.name for p in paths] == [f"north-bayreuth-00{i}" for i in (1, 2, 3)]
    assert [_tags(p) for p in paths] == [{"a"}, {"b"}, {"c"}]  # no run lost
    assert (base / LATEST).resolve() == paths[-1].resolve()
    assert sorted(p.name for p in base.iterdir()) == [LATEST, *[p.name for p in paths]]


def test_a_number_taken_meanwhile_moves_on(tmp_path):
    f = output_folder(None, name="x", overwrite=False, key=KEY, base=tmp_path)
    g = output_folder(None, name="x", overwrite=False, key=KEY, base=tmp_path)
    assert f.path == g.path  # both chose x-001
    with f.staged() as stage:
        _fill(stage, "f")
    with g.staged() as stage:
        _fill(stage, "g")
    assert (f.path.name, g.path.name) == ("x-001", "x-002")
    assert _tags(f.path) == {"f"} and _tags(g.path) == {"g"}


def test_a_failure_while_writing_leaves_the_earlier_run_whole(tmp_path):
    out = tmp_path / "plan"
    with output_folder(out, name=None, overwrite=False, key=KEY).staged() as stage:
        _fill(stage, "first")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with (
        pytest.raises(RuntimeError, match="simulated"),
        output_folder(out, name=None, overwrite=True, key=KEY).staged() as stage,
    ):
        _fill(stage, "second")
        (stage / "plan.csv").unlink()
        raise RuntimeError("interrupted (simulated)")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]  # no staging left


def test_a_failed_first_run_leaves_no_folder(tmp_path):
    out = tmp_path / "new"
    with (
        pytest.raises(RuntimeError),
        output_folder(out, name=None, overwrite=False, key=KEY).staged(),
    ):
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_explicit_folder_refusals_and_overwrite_keeps_foreign_files(tmp_path):
    out = tmp_path / "plan"
    with output_folder(out, name=None, overwrite=False, key={"tag": "first"}).staged() as s:
        _fill(s, "first")
    (out / "notes.txt").write_text("the engineer's own notes")
    with pytest.raises(UsageError, match=r"different run.*--overwrite"):
        output_folder(out, name=None, overwrite=False, key={"tag": "other"})
    # the same settings again: replaced without --overwrite
    with output_folder(out, name=None, overwrite=False, key={"tag": "first"}).staged() as s:
        _fill(s, "first")
    with output_folder(out, name=None, overwrite=True, key={"tag": "second"}).staged() as s:
        _fill(s, "second")
        (s / "plan.csv").unlink()  # this run writes no plan.csv: the old one must go
    assert _tags(out) == {"second"} and not (out / "plan.csv").exists()
    assert (out / "notes.txt").read_text() == "the engineer's own notes"
    other = tmp_path / "other"
    other.mkdir()
    (other / "data.csv").write_text("x\n")
    with pytest.raises(UsageError, match="not empty and holds no roadopt run"):
        output_folder(other, name=None, overwrite=False, key=KEY)
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="not a folder"):
        output_folder(tmp_path / "file", name=None, overwrite=True, key=KEY)


def test_the_working_folder_is_never_an_output_folder(tmp_path, monkeypatch):
    sub = tmp_path / "work"
    sub.mkdir()
    monkeypatch.chdir(sub)
    for out in (".", "..", str(sub)):
        with pytest.raises(UsageError, match="folder of its own"):
            output_folder(out, name=None, overwrite=True, key=KEY)


def test_leftovers_of_killed_runs_are_removed(tmp_path):
    for name in (".plan.staging-abc", ".plan.old-xyz"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "plan.csv").write_text("half")
    (tmp_path / ".hidden-user-folder").mkdir()
    remove_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden-user-folder"]


def test_run_name():
    assert run_name("north-bayreuth.osm.gz") == "north-bayreuth"
    assert run_name("/x/SF_DNDP_10_1.txt") == "sf_dndp_10_1"
    assert run_name("Ziliujing District, Zigong") == "ziliujing-district-zigong"
    assert run_name(None) == run_name("") == run_name("...") == "run"


# ---------------------------------------------------------------------- the command line
def test_three_runs_in_one_folder_all_succeed(data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = sioux_falls_dndp_args(data_dir)
    for share in ("0.25", "0.5", "0.25"):
        assert main(["optimize", *args, "--budget-share", share]) == 0
    base = tmp_path / "roadopt-out"
    runs = sorted(p for p in base.iterdir() if p.name != LATEST)
    assert [p.name for p in runs] == [f"sf_dndp_10_1-00{i}" for i in (1, 2, 3)]
    shares = [
        json.loads((p / "plan.json").read_text())["run"]["settings"]["optimize"]["budget_share"]
        for p in runs
    ]
    assert shares == [0.25, 0.5, 0.25]
    # plan.csv is a plain table: a header, one row per upgrade, no comment rows
    import csv

    with open(runs[0] / "plan.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    doc = json.loads((runs[0] / "plan.json").read_text())
    assert len(rows) == 1 + len(doc["selected"]) and all(len(r) == len(rows[0]) for r in rows)
    assert not any(r[0].startswith("#") for r in rows)
    assert (base / LATEST).resolve() == runs[-1].resolve()


def test_input_errors_come_before_output_folder_checks(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "data.csv").write_text("x\n")
    assert main(["optimize", "missing.osm", "--out", str(taken)]) == 1
    err = capsys.readouterr().err
    assert "missing.osm" in err and "holds no roadopt run" not in err
    assert main(["optimize", "missing.osm"]) == 1
    assert not (tmp_path / "roadopt-out").exists()  # a failed run leaves no folder


@pytest.mark.slow
def test_a_killed_overwrite_never_mixes_two_runs(data_dir, tmp_path):
    """SIGKILL at random moments of an --overwrite run: the folder holds one run or none."""
    out = tmp_path / "plan"
    args = [a for a in sioux_falls_dndp_args(data_dir) if a != "--no-report"]
    assert main(["optimize", *args, "--budget-share", "0.25", "--out", str(out)]) == 0
    first = json.loads((out / "plan.json").read_text())["run"]["settings"]
    argv = ["optimize", *args, "--budget-share", "0.5", "--out", str(out), "--overwrite"]
    script = f"import sys\nfrom optimizer.jobs.cli import main\nsys.exit(main({argv!r}))"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True)
    full = time.perf_counter() - t0
    second = json.loads((out / "plan.json").read_text())["run"]["settings"]
    assert second != first
    for frac in (0.6, 0.75, 0.85, 0.9, 0.95):
        proc = subprocess.Popen([sys.executable, "-c", script], env=env)
        time.sleep(full * frac)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if out.exists():
            doc = json.loads((out / "plan.json").read_text())["run"]["settings"]
            assert doc == second
            with Image.open(out / "convergence.png") as im:  # written before plan.json
                assert json.loads(im.text["roadopt-settings"]) == second
            assert json.dumps(second["optimize"]["budget_share"]) in (
                out / "report.html"
            ).read_text(encoding="utf-8")
    remove_leftovers(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} <= {"plan"}


def test_stale_temporary_files_do_not_survive_a_replacement(tmp_path):
    out = tmp_path / "plan"
    with output_folder(out, name=None, overwrite=False, key=KEY).staged() as stage:
        _fill(stage, "first")
    (out / ".network.gpkg.k3j2.tmp.gpkg").write_bytes(b"half a GeoPackage of a killed run")
    with output_folder(out, name=None, overwrite=True, key={"tag": 2}).staged() as stage:
        _fill(stage, "second")
    assert not list(out.glob(".*")) and _tags(out) == {"second"}
    assert oct(out.stat().st_mode & 0o777) != oct(0o700)  # the usual permissions


def test_geojson_is_wgs84_and_named_after_its_layer(tmp_path):
    out = tmp_path / "flows.geojson"
    assert main(["assign", "builtin-town", "--gap", "1e-4", "--out", str(out), "-q"]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["name"] == "links" and "crs" not in doc  # RFC 7946: WGS 84, no crs member
    xs = [c[0] for f in doc["features"] for c in f["geometry"]["coordinates"]]
    ys = [c[1] for f in doc["features"] for c in f["geometry"]["coordinates"]]
    assert all(-180 <= x <= 180 for x in xs) and all(-90 <= y <= 90 for y in ys)
    props = doc["features"][0]["properties"]
    assert {"flow_veh_h", "vc", "time_min", "length_km"} <= set(props)


def test_a_run_writing_beside_keeps_its_staging_folder(tmp_path):
    """Two runs into one parent at once: neither removes the other's staging folder."""
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        busy = tmp_path / f".a-001.staging-{alive.pid}-xyz"
        stale = tmp_path / f".a-002.staging-{dead.pid}-xyz"
        for d in (busy, stale):
            d.mkdir()
            (d / "plan.csv").write_text("x\n")
        with output_folder(None, name="a", overwrite=False, key=KEY, base=tmp_path).staged() as s:
            assert s.name.startswith(".a-001.staging-") or s.name.startswith(".a-003.staging-")
            _fill(s, "third")
        assert busy.is_dir() and not stale.exists()
    finally:
        alive.kill()
        alive.wait()
