"""The built-in region shipped inside the package: the default of every command.

It must open offline as a regional study (named settlements, motorway access points,
terrain from its own DEM), be the very data of the shared extract and tiles, ship in the
wheel with its licence, and the default job on it must produce a regional plan.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

import networks
from networks import osm
from optimizer.jobs.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def region():
    return networks.open_study()


def test_default_study_is_the_region_with_its_terrain(region):
    net, model = region.network, region.model
    assert net.name == "north-bayreuth"
    assert Path(net.extra["source_path"]) == osm.BUILTIN_REGION
    assert region.meta["dem"] == [str(osm.BUILTIN_DEM)]
    # named settlements (not k-means clusters) as zones, the motorway reachable
    assert model.zones.source == "places" and model.zones.num_zones >= 15
    assert "expressway" in set(net.extra["access_points"]["kind"])
    # the DEM covers every node: heights of this country (285-608 m in the crop), no voids
    h = np.asarray(net.extra["node_elevation_m"], dtype=float)
    assert np.isfinite(h).all() and 250 < h.min() and h.max() < 650
    from networks.connectors import is_connector

    road = ~is_connector(net)
    assert road.sum() > 1400 and np.isfinite(np.asarray(net.extra["grade"])[road]).all()


def test_shipped_files_are_the_shared_extract_and_its_tiles(data_dir):
    assert (
        osm.BUILTIN_REGION.read_bytes()
        == (data_dir / "osm" / "north-bayreuth.osm.gz").read_bytes()
    )
    rasterio = pytest.importorskip("rasterio")
    with rasterio.open(osm.BUILTIN_DEM) as crop:
        heights = crop.read(1)
        w, s, e, n = crop.bounds
        assert w <= 11.399 and s <= 49.883 and e >= 11.675 and n >= 50.096  # the extract
        rng = np.random.default_rng(0)  # cells anywhere: each is an SRTM sample, unresampled
        cells = [
            (int(rng.integers(heights.shape[0])), int(rng.integers(heights.shape[1])))
            for _ in range(40)
        ]
        probes = [crop.xy(r, c) for r, c in cells]
    tiles = {
        t: rasterio.open(f"zip://{data_dir}/dem/{t}.hgt.zip!{t}.hgt")
        for t in ("N49E011", "N50E011")
    }
    for (lon, lat), (r, c) in zip(probes, cells, strict=True):
        (value,) = next(tiles["N49E011" if lat < 50 else "N50E011"].sample([(lon, lat)]))
        assert heights[r, c] == value
    for src in tiles.values():
        src.close()


def test_the_package_ships_the_region_with_its_licence():
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]["networks"]
    assert "builtin/*" in patterns
    notice = (osm.BUILTIN_DIR / "README.md").read_text()
    assert "ODbL" in notice and "OpenStreetMap contributors" in notice
    assert osm.BUILTIN_DEM.stat().st_size < 2_000_000  # a few MB at most in all
    assert osm.BUILTIN_REGION.stat().st_size < 3_000_000


def test_builtin_town_is_named_and_kept_as_a_word_in_scenarios(tmp_path):
    from optimizer.jobs.scenario import load_scenario

    town = networks.open_study("builtin-town")
    assert town.network.name == "builtin-town"
    f = tmp_path / "s.toml"
    f.write_text('[network]\npath = "builtin-town"\n')
    assert load_scenario(f).job.study.network == "builtin-town"  # not made a path


@pytest.mark.slow
def test_default_job_gives_a_regional_plan(tmp_path):
    out = tmp_path / "out"
    assert main(["optimize", "--max-candidates", "12", "--out", str(out), "-q"]) == 0
    doc = json.loads((out / "plan.json").read_text())
    assert doc["status"] == "optimal"
    settlements = doc["settlements"]
    assert len(settlements) >= 15 and all(s["name"] for s in settlements)
    assert doc["objective_name"] == "access" and doc["objective"] < doc["objective_before"]
    assert (out / "report.html").read_text().count("Access of each settlement") == 1
    # what the generator left out is listed with its reason
    cands = doc["candidates"]
    assert cands["candidates"] == 12 and len(cands["excluded"]) >= 10
    assert all(r["reason"] for r in cands["excluded"])
    assert any(r["reason"].startswith("ranked below the 12 kept") for r in cands["excluded"])
