"""Calibration to traffic counts (Spiess 1990): recovery of known counts, the proportions,
and the CLI/TOML runs that write the table and the scatter plot."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from networks import open_study
from networks.counts import read_counts
from networks.demand import Demand
from networks.synthetic import grid
from optimizer import assign
from optimizer.assignment import origin_flows
from optimizer.calibration import _directions, calibrate, geh, r_squared
from optimizer.errors import OptionError, UsageError
from optimizer.jobs.cli import main


def _perturbed(dem: Demand, sigma: float, seed: int) -> Demand:
    """The demand with every cell multiplied by a seeded log-normal factor."""
    rng = np.random.default_rng(seed)
    factor = rng.lognormal(0.0, sigma, size=(dem.num_zones, dem.num_zones))
    return Demand(
        zone_ids=dem.zone_ids,
        zone_node_ids=dem.zone_node_ids,
        matrix=dem.dense() * factor,
        internal=dem.internal,
        period=dem.period,
        period_hours=dem.period_hours,
        name="perturbed",
    )


def _count_file(path: Path, net, flow, links) -> Path:
    rows = [f"c{k},{net.link_ids[k]},forward,{flow[k]:.3f}" for k in links]
    path.write_text("id,link_id,direction,count\n" + "\n".join(rows) + "\n")
    return path


def _recovery(net, dem, tmp_path, *, share, sigma, seed):
    truth = assign(net, dem, method="bush", rgap=1e-8)
    rng = np.random.default_rng(seed)
    links = np.sort(rng.choice(net.num_links, size=int(share * net.num_links), replace=False))
    counts = read_counts(_count_file(tmp_path / "counts.csv", net, truth.flow, links), net)
    return calibrate(net, _perturbed(dem, sigma, seed), counts, max_iter=30)


def test_calibration_recovers_counts_on_a_congested_grid(tmp_path):
    # 12 zones on a 6 x 6 grid, loaded to v/c 1.3: route splits matter
    net, dem = grid(6, 6, zones=12, trips_per_zone=3000.0, seed=3)
    cal = _recovery(net, dem, tmp_path, share=0.5, sigma=0.5, seed=11)
    before, after = cal.fit("before"), cal.fit("after")
    assert before["geh_share"] < 0.85  # the perturbed seed does not match ...
    assert after["geh_share"] >= 0.85  # ... the adjusted matrix does
    assert after["r2"] > before["r2"] and after["r2"] > 0.99
    assert after["objective"] < 0.05 * before["objective"]
    # the history is the measured objective of every equilibrium; the best one is returned
    z = [h["objective"] for h in cal.history]
    assert len(z) == cal.iterations + 1 and after["objective"] == pytest.approx(min(z))
    assert cal.status in ("converged", "max_iter")
    # the seed's structure is kept: zero cells stay zero, the diagonal untouched
    seed, out = cal.seed.dense(), cal.demand.dense()
    assert np.all(out[seed == 0] == 0) and np.array_equal(np.diag(out), np.diag(seed))
    assert cal.demand.period == dem.period and np.all(out >= 0)


def test_calibration_on_sioux_falls(data_dir, tmp_path):
    study = open_study(data_dir / "tntp" / "SiouxFalls" / "SiouxFalls_net.tntp")
    cal = _recovery(study.network, study.demand, tmp_path, share=0.5, sigma=0.3, seed=7)
    before, after = cal.fit("before"), cal.fit("after")
    assert before["geh_share"] < 0.85 <= after["geh_share"]
    assert after["r2"] > before["r2"]


def test_bush_proportions_reproduce_origin_flows():
    """With e = a link's indicator, the gradient of OD (o, d) is the share of its trips on
    that link; summed with the trips it gives the bush's origin flow on the link."""
    net, dem = grid(5, 5, zones=8, trips_per_zone=2500.0, seed=2)
    res = assign(net, dem, method="bush", rgap=1e-9)
    origins, xo = origin_flows(net, dem, res)
    np.testing.assert_allclose(xo.sum(axis=0), res.flow, rtol=1e-12, atol=1e-9)
    zone_nodes = net.node_indices(dem.zone_node_ids)
    mat = dem.dense()
    oi, di = np.nonzero(mat * (1 - np.eye(dem.num_zones)))
    row_of = {int(o): r for r, o in enumerate(origins)}
    rows = np.array([row_of[int(zone_nodes[i])] for i in oi])
    dest, vals = zone_nodes[di], mat[oi, di]
    for a in np.flatnonzero(res.flow > 1.0)[:12]:
        e = np.zeros(net.num_links)
        e[a] = 1.0
        grad, _ = _directions(net, origins, xo, e, rows, dest, vals)
        assert np.all(grad >= -1e-12) and np.all(grad <= 1 + 1e-12)  # shares of trips
        for r in range(len(origins)):
            assert (vals[rows == r] * grad[rows == r]).sum() == pytest.approx(xo[r, a], abs=1e-6)
    # and the flows of the trips themselves under the proportions are the model's flows
    _, vprime = _directions(net, origins, xo, np.zeros(net.num_links), rows, dest, vals)
    assert np.all(vprime == 0)


def test_measures():
    m, c = np.array([100.0, 0.0, 50.0]), np.array([100.0, 0.0, 72.0])
    g = geh(m, c)
    assert g[0] == 0 and g[1] == 0 and g[2] == pytest.approx(math.sqrt(2 * 22**2 / 122))
    assert geh(2 * m, 2 * c, hours=2.0)[2] == pytest.approx(g[2])  # hourly flows
    assert r_squared(c, c) == 1.0 and math.isnan(r_squared(c[:1], c[:1]))


def test_options_and_no_steps(tmp_path):
    net, dem = grid(4, 4, seed=1)
    truth = assign(net, dem, method="bush", rgap=1e-8)
    counts = read_counts(_count_file(tmp_path / "c.csv", net, truth.flow, [0, 5, 9]), net)
    cal = calibrate(net, dem, counts, max_iter=0)
    assert cal.iterations == 0 and np.array_equal(cal.before, cal.after)
    assert np.array_equal(cal.demand.dense(), dem.dense())
    for kw in ({"max_iter": -1}, {"step": 0.0}, {"max_decrease": 1.0}, {"min_improvement": 1}):
        with pytest.raises(OptionError):
            calibrate(net, dem, counts, **kw)
    other, _ = grid(3, 3)
    with pytest.raises(UsageError, match="links"):
        calibrate(other, _, counts)
    with pytest.raises(UsageError, match="bush"):
        origin_flows(net, dem, assign(net, dem, method="fw", rgap=1e-3))


# ---------------------------------------------------------------------- CLI and TOML
@pytest.fixture(scope="module")
def town_counts(tmp_path_factory):
    """Counts on the built-in town's busiest ways, from its demand scaled by 1.3."""
    study = open_study("builtin-town")
    net = study.network
    res = assign(net, study.demand.scaled(1.3), method="bush", rgap=1e-7)
    ways, dirs = net.extra["osm_way_ids"], net.extra["osm_way_dirs"]
    rows, seen = [], set()
    for k in np.argsort(-res.flow)[:40].tolist():
        if len(ways[k]) != 1 or ways[k][0] in seen:
            continue
        seen.add(ways[k][0])
        word = "forward" if dirs[k][0] == 1 else "backward"
        on = [j for j in range(net.num_links) if ways[j] == ways[k] and dirs[j] == dirs[k]]
        flow = float((res.flow[on] * net.length[on]).sum() / net.length[on].sum())
        rows.append(f"w{ways[k][0]},{ways[k][0]},{word},{flow:.2f}")
    d = tmp_path_factory.mktemp("town")
    (d / "counts.csv").write_text("id,way_id,direction,count\n" + "\n".join(rows) + "\n")
    return d / "counts.csv"


def _check_outputs(out: Path, *, counts: int) -> dict:
    table = (out / "calibration.csv").read_text().splitlines()
    assert table[0] == ("id,line,where,links,count,model_before,model_after,geh_before,geh_after")
    # one row per count and nothing else: the units and the fit are in plan.json
    assert len(table) == counts + 1 and not any(r.startswith("#") for r in table)
    assert (out / "calibration.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads((out / "plan.json").read_text())
    cal = doc["calibration"]
    assert cal["counts"] == counts and len(cal["table"]) == counts
    assert cal["geh_hours"] > 0 and cal["geh_ok"] == 5
    assert cal["after"]["r2"] > cal["before"]["r2"]
    assert cal["after"]["geh_share"] >= cal["before"]["geh_share"]
    page = (out / "report.html").read_text()
    assert "Calibration to traffic counts" in page and 'id="img-calibration"' in page
    return doc


def test_cli_optimize_with_counts(town_counts, tmp_path, capsys):
    out = tmp_path / "out"
    n = len(town_counts.read_text().splitlines()) - 1
    args = ["--counts", str(town_counts), "--calibration-steps", "8", "--max-candidates", "4"]
    rc = main(["optimize", "builtin-town", *args, "--time-limit", "20", "--out", str(out)])
    assert rc == 0
    doc = _check_outputs(out, counts=n)
    assert doc["run"]["settings"]["calibration"]["steps"] == 8
    assert "calibrated  " in capsys.readouterr().out


def test_scenario_with_counts_and_protected_areas(town_counts, tmp_path):
    import geopandas as gpd
    import shapely

    study = open_study("builtin-town")
    # a forbidden disc around the town's centre, in lon/lat (the reader reprojects it)
    c = shapely.Point(float(np.nanmean(study.network.x)), float(np.nanmean(study.network.y)))
    gdf = gpd.GeoDataFrame({"name": ["centre"]}, geometry=[c.buffer(300)], crs=study.network.crs)
    gdf.to_crs("EPSG:4326").to_file(tmp_path / "areas.geojson")
    (tmp_path / "counts.csv").write_text(town_counts.read_text())
    (tmp_path / "town.toml").write_text(
        'command = "optimize"\n[network]\npath = "builtin-town"\n'
        '[calibration]\ncounts = "counts.csv"\nsteps = 8\n'
        '[candidates]\nmax = 4\nprotected = "areas.geojson"\n[optimize]\ntime_limit = 20\n'
        '[output]\ndir = "out"\n'
    )
    assert main(["run", str(tmp_path / "town.toml"), "-q"]) == 0
    n = len(town_counts.read_text().splitlines()) - 1
    doc = _check_outputs(tmp_path / "out", counts=n)
    assert doc["run"]["settings"]["candidates"]["protected"] == str(tmp_path / "areas.geojson")
    prot = doc["protected"]
    assert prot["areas"] == [{"name": "centre", "feature": 1, "rule": "forbid"}]
    assert prot["excluded"] and all(r["rule"] in ("forbid", "requires") for r in prot["excluded"])
    # no chosen upgrade (their lines are in the GeoPackage) touches the forbidden area
    chosen = gpd.read_file(tmp_path / "out" / "network.gpkg", layer="upgrades")
    assert len(chosen) == len(doc["selected"])
    assert not chosen.geometry.intersects(gdf.geometry.iloc[0]).any()


def test_sparse_and_dense_seeds_give_the_same_matrix(tmp_path):
    import scipy.sparse as sp

    net, dem = grid(5, 5, zones=8, trips_per_zone=2000.0, seed=4)
    truth = assign(net, dem, method="bush", rgap=1e-8)
    counts = read_counts(_count_file(tmp_path / "c.csv", net, truth.flow, range(0, 80, 3)), net)
    dense = _perturbed(dem, 0.4, 1)
    sparse = Demand(
        zone_ids=dense.zone_ids,
        zone_node_ids=dense.zone_node_ids,
        matrix=sp.csr_array(dense.dense()),
        internal=dense.internal,
        period=dense.period,
        period_hours=dense.period_hours,
    )
    a = calibrate(net, dense, counts, max_iter=3)
    b = calibrate(net, sparse, counts, max_iter=3)
    assert b.demand.is_sparse and not a.demand.is_sparse
    np.testing.assert_allclose(b.demand.dense(), a.demand.dense(), rtol=1e-9, atol=1e-9)
    assert a.iterations == b.iterations == 3
