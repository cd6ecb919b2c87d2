"""Protected areas: the reader's errors, and the rule on every candidate set."""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from networks import open_study
from networks.errors import FileFormatError
from networks.protected import read_protected
from networks.sources import Study
from networks.synthetic import grid
from optimizer import assign
from optimizer.candidate_files import read_candidates
from optimizer.generate import generate_candidates
from optimizer.jobs.documents import plan_document
from optimizer.jobs.pipeline import plan_study
from optimizer.jobs.report.html import render_html
from optimizer.protect import candidate_geometry, protect_candidates

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def town():
    study = open_study("builtin-town")
    result = assign(study.network, study.demand, rgap=1e-6)
    cs = generate_candidates(study.network, study.demand, result=result)
    return study, cs


def _write(tmp_path: Path, geoms, crs, fname="areas.gpkg", **cols) -> Path:
    path = tmp_path / fname
    gpd.GeoDataFrame(cols, geometry=list(geoms), crs=crs).to_file(path)
    return path


def _touching(cs, area) -> set[str]:
    return {c.id for c in cs.candidates if candidate_geometry(cs, c).intersects(area)}


# ---------------------------------------------------------------------- the rule
def test_forbidden_and_priced_candidates_on_a_generated_set(town, tmp_path):
    study, cs = town
    net = study.network
    g0 = candidate_geometry(cs, cs.candidates[0])
    g1 = candidate_geometry(cs, cs.candidates[1])
    red, heritage = g0.buffer(30.0), g1.centroid.buffer(40.0)
    cheap = g1.centroid.buffer(20.0)  # inside the heritage area: the larger factor wins
    # written in lon/lat: the reader reprojects to the network's UTM zone
    path = _write(
        tmp_path,
        gpd.GeoSeries([red, heritage, cheap], crs=net.crs).to_crs("EPSG:4326"),
        "EPSG:4326",
        fname="areas.geojson",
        name=["red line", "old town", "old town core"],
        rule=["forbid", "1.8", "1.2"],
    )
    areas = read_protected(path, crs=net.crs)
    assert areas.rule(0) == "forbid" and math.isinf(areas.multiplier[0])
    assert areas.rule(1) == "x1.8"
    # areas come back in the network CRS (within reprojection round-off)
    assert areas.geometry[0].symmetric_difference(red).area < 1e-3 * red.area
    p = protect_candidates(cs, areas)
    red_r, heritage_r = areas.geometry[0], areas.geometry[1]
    forbidden = _touching(cs, red_r)
    assert forbidden and {r["id"] for r in p.excluded} >= forbidden
    assert all(
        not candidate_geometry(p.candidates, c).intersects(red_r) for c in p.candidates.candidates
    )
    # exactly the touched candidates cost more, by the largest multiplier they touch
    before = dict(zip(cs.ids, cs.costs, strict=True))
    touched = _touching(cs, heritage_r) - forbidden
    assert touched
    for c in p.candidates.candidates:
        want = before[c.id] * (1.8 if c.id in touched else 1.0)
        assert c.cost == pytest.approx(want, rel=1e-12)
    assert {r["id"] for r in p.priced} == touched
    assert all(r["multiplier"] == 1.8 for r in p.priced)
    for r in p.excluded:
        assert r["rule"] == "forbid" and r["area"] == "red line" and r["feature"] == 1


def test_generated_candidates_avoid_a_forbidden_area_and_keep_their_number(town, tmp_path):
    study, cs = town
    net = study.network
    red = shapely.union_all([candidate_geometry(cs, c) for c in cs.candidates[:3]]).buffer(25)
    path = _write(tmp_path, [red], net.crs, name=["ecological red line"])
    run = plan_study(study, protected=path, budget_share=0.3, time_limit=30)
    offered = run.candidates
    assert len(offered) == len(cs)  # excluded proposals left their place to others
    assert not set(offered.ids) & set(cs.ids[:3])
    area = read_protected(path, crs=net.crs).geometry[0]
    for c in offered.candidates:
        assert not candidate_geometry(offered, c).intersects(area), c.id
    for cid in run.plan.selected:
        c = offered.candidates[offered.index(cid)]
        assert not candidate_geometry(offered, c).intersects(area)
    doc = plan_document(run)
    excluded = {r["id"] for r in doc["protected"]["excluded"]}
    assert set(cs.ids[:3]) <= excluded
    assert all(r["area"] == "ecological red line" for r in doc["protected"]["excluded"])
    page = render_html(run)
    assert "Protected areas" in page and cs.ids[0] in page


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_rule_on_a_candidate_file_excludes_dependants(tmp_path):
    net, dem = grid(4, 4)
    cs = read_candidates(FIXTURES / "candidates_grid.csv", net)
    # nodes 1..16 row by row, 500 m apart: a small forbidden disc on the road 1-2, which
    # the exclusive widenings w1, w2 change; "chain" (links elsewhere) requires w1
    path = _write(tmp_path, [shapely.Point(250, 0).buffer(30)], None)
    p = protect_candidates(cs, read_protected(path, crs=None))
    rows = {r["id"]: r for r in p.excluded}
    assert set(rows) == {"w1", "w2", "chain"}
    assert rows["w1"]["rule"] == "forbid" and rows["w1"]["area"] == "feature 1"
    assert rows["chain"]["rule"] == "requires" and rows["chain"]["area"] == "w1"
    assert rows["chain"]["feature"] is None
    assert len(p.candidates) == len(cs) - 3
    # the plan search runs on what is left
    run = plan_study(
        Study(network=net, demand=dem, source="grid"),
        candidates=FIXTURES / "candidates_grid.csv",
        protected=path,
        budget=150,
    )
    assert not {"w1", "w2", "chain"} & set(run.candidates.ids)
    assert not {"w1", "w2", "chain"} & set(run.plan.selected)


# ---------------------------------------------------------------------- the reader
def test_reader_errors_name_file_feature_and_field(town, tmp_path):
    crs = town[0].network.crs
    box = shapely.box(0, 0, 10, 10)
    path = _write(tmp_path, [box, shapely.Point(1, 1)], crs, fname="mixed.gpkg")
    with pytest.raises(FileFormatError, match=r"mixed.gpkg: field 'geometry': feature 2: .*Point"):
        read_protected(path, crs=crs)
    for bad in ("0.5", "maybe"):
        path = _write(tmp_path, [box, box], crs, fname="rules.gpkg", rule=["forbid", bad])
        with pytest.raises(FileFormatError, match=r"rules.gpkg: field 'rule': feature 2: "):
            read_protected(path, crs=crs)
    empty = tmp_path / "empty.geojson"
    empty.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(FileFormatError, match=r"empty.geojson: holds no features"):
        read_protected(empty, crs=crs)
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"not a geopackage")
    with pytest.raises(FileFormatError, match=r"junk.gpkg: cannot be read"):
        read_protected(junk, crs=crs)
    with pytest.raises(FileNotFoundError, match=r"nowhere.gpkg"):
        read_protected(tmp_path / "nowhere.gpkg", crs=crs)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_reader_crs_errors(town, tmp_path):
    crs = town[0].network.crs
    site = pyproj.CRS.from_wkt(
        'ENGCRS["site grid",EDATUM["site"],CS[Cartesian,2],'
        'AXIS["easting",east,LENGTHUNIT["metre",1]],AXIS["northing",north,LENGTHUNIT["metre",1]]]'
    )
    path = _write(tmp_path, [shapely.box(0, 0, 10, 10)], site, fname="site.gpkg")
    with pytest.raises(FileFormatError, match=r"site.gpkg: field 'geometry': .*cannot be transf"):
        read_protected(path, crs=crs)
    shp = _write(tmp_path, [shapely.box(0, 0, 10, 10)], None, fname="bare.shp")
    with pytest.raises(FileFormatError, match=r"bare.shp: has no CRS"):
        read_protected(shp, crs=crs)
    lonlat = _write(tmp_path, [shapely.box(0, 0, 1, 1)], "EPSG:4326", fname="ll.gpkg")
    with pytest.raises(FileFormatError, match=r"ll.gpkg: .*the network has no CRS"):
        read_protected(lonlat, crs=None)


def test_no_areas_no_change(town, tmp_path):
    study, cs = town
    far = shapely.box(0, 0, 10, 10)  # nowhere near the town (UTM origin)
    areas = read_protected(_write(tmp_path, [far], study.network.crs), crs=study.network.crs)
    p = protect_candidates(cs, areas)
    assert p.candidates.ids == cs.ids and np.array_equal(p.candidates.costs, cs.costs)
    assert p.excluded == () and p.priced == ()
