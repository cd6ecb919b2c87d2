"""The roadopt command: exit codes, one-line errors, no output file on failure."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from optimizer.jobs.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optimizer.jobs.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_info_on_a_dataset(data_dir, capsys):
    assert main(["info", "SiouxFalls", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["network"]["links"] == 76
    assert info["demand"]["total_trips"] == 360600.0


def test_info_reports_intrazonal_demand(data_dir, capsys):
    assert main(["info", str(data_dir / "tntp/Chicago-Sketch/ChicagoSketch_net.tntp")]) == 0
    out = capsys.readouterr().out
    assert "intrazonal 123414" in out and "387 (387 internal" in out


def test_broken_file_gives_one_line_and_exit_1(tmp_path):
    bad = tmp_path / "bad_net.tntp"
    bad.write_text(
        "<NUMBER OF NODES> 2\n<NUMBER OF LINKS> 1\n<END OF METADATA>\n1 2 x 1 1 0 1 0 0 1\n"
    )
    r = run("info", str(bad))
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "line 4: field 'capacity': 'x' is not a number" in lines[0]
    assert "Traceback" not in r.stderr
    r = run("info", str(bad), "--verbose")
    assert r.returncode == 1 and "Traceback" in r.stderr


def test_bad_usage_exits_2():
    r = run("info", "--no-such-option")
    assert r.returncode == 2
    r = run()
    assert r.returncode == 2


def test_assign_writes_flows_and_summary(data_dir, tmp_path):
    out, summ = tmp_path / "f.csv", tmp_path / "s.json"
    code = main(
        ["assign", "SiouxFalls", "--gap", "1e-10", "--out", str(out), "--summary", str(summ), "-q"]
    )
    assert code == 0
    s = json.loads(summ.read_text())
    assert s["status"] == "converged" and s["relative_gap"] <= 1e-10
    assert abs(s["objective"] - 4231335.287) < 1e-3
    for key in ("tstt", "iterations", "seconds", "method"):
        assert key in s
    rows = out.read_text().splitlines()
    head = rows[0].split(",")
    # the same columns as an OpenStreetMap network's, without units: TNTP's own
    assert head[:3] == ["link_id", "init_node", "term_node"] and len(rows) == 77
    assert {"length", "capacity", "free_flow_time", "flow", "vc", "time"} <= set(head)
    first = dict(zip(head, rows[1].split(","), strict=True))
    assert (first["link_id"], first["init_node"], first["term_node"]) == ("1", "1", "2")
    assert abs(float(first["flow"]) - 4494.657646) < 1e-3
    assert float(first["vc"]) == float(first["flow"]) / float(first["capacity"])


def test_assign_without_trips_asks_for_them(tmp_path, data_dir):
    import shutil

    net = tmp_path / "lonely_net.tntp"
    shutil.copy(data_dir / "tntp/SiouxFalls/SiouxFalls_net.tntp", net)
    r = run("assign", str(net), "--out", str(tmp_path / "x.csv"))
    assert r.returncode == 2 and "--trips" in r.stderr
    assert not (tmp_path / "x.csv").exists()


def test_assign_error_leaves_no_output(tmp_path):
    bad = tmp_path / "bad_net.tntp"
    bad.write_text("<NUMBER OF NODES> 2\n")
    r = run("assign", str(bad), "--trips", str(bad), "--out", str(tmp_path / "x.csv"))
    assert r.returncode == 1 and "no <END OF METADATA>" in r.stderr
    assert list(tmp_path.iterdir()) == [bad]


def test_assign_osm_file_to_geopackage(data_dir, tmp_path):
    import geopandas as gpd

    out = tmp_path / "wo.gpkg"
    code = main(
        [
            "assign",
            str(data_dir / "osm" / "West-Oakland.osm.bz2"),
            "--gap",
            "1e-6",
            "--out",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    g = gpd.read_file(out)
    assert g.crs.to_epsg() == 32610 and len(g) > 0 and g.geometry.notna().all()
    assert {
        "link_id",
        "init_node",
        "term_node",
        "length_km",
        "capacity_veh_h",
        "free_flow_time_min",
        "flow_veh_h",
        "vc",
        "time_min",
        "speed_kmh",
        "road_class",
        "osm_way_ids",
    } <= set(g.columns)
    assert (g["flow_veh_h"] >= 0).all() and g["flow_veh_h"].sum() > 0
    moving = g[g["time_min"] > 0]
    assert moving["speed_kmh"].to_numpy() == pytest.approx(
        (moving["length_km"] / (moving["time_min"] / 60)).to_numpy()
    )


def test_tntp_geopackage_needs_a_crs(data_dir, tmp_path):
    out = tmp_path / "b.gpkg"
    r = run("assign", "Berlin-Friedrichshain", "--out", str(out))
    assert r.returncode == 1 and "--crs" in r.stderr and not out.exists()
    assert main(["assign", "SiouxFalls", "--out", str(tmp_path / "sf.geojson"), "-q"]) == 0
