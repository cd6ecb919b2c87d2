"""The engineer's outputs of a plan run: GeoPackage, map, convergence plot, HTML report."""

from __future__ import annotations

import base64
import dataclasses
import html.parser
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from networks import open_study
from networks.synthetic import braess, grid
from optimizer.assignment import assign
from optimizer.candidates import Candidate, CandidateSet, extend_network
from optimizer.jobs import report
from optimizer.jobs.documents import plan_document, version
from optimizer.jobs.format import fmt
from optimizer.jobs.outputs import write_plan_outputs
from optimizer.jobs.pipeline import PlanRun, plan_study
from optimizer.results import History

gpd = pytest.importorskip("geopandas")
pyogrio = pytest.importorskip("pyogrio")
Image = pytest.importorskip("PIL.Image")

SETTINGS = {"command": "optimize", "seed": 0, "note": "a <b>bold</b> & odd setting"}
REPORT_FILES = {"network.gpkg", "map.png", "convergence.png", "report.html"}
TABLE_FILES = {"sections.csv", "skims.omx", "skims.csv"}


def _town_candidates(network, demand) -> CandidateSet:
    """Hand-made candidates on the built-in town's busiest links (and one it cannot afford).

    ``bypass`` is a new road beside the busiest link without stored geometry (drawn as a
    straight line); ``far`` a new road across town far above the budget (left unbuilt).
    """
    flow = assign(network, demand, rgap=1e-6).flow
    busy = np.argsort(-flow, kind="stable")[:4]
    a, m0 = int(busy[0]), network.num_links
    ext = extend_network(
        network,
        {
            "init": [network.init[a], 0],
            "term": [network.term[a], network.num_nodes - 1],
            "free_flow_time": [network.free_flow_time[a], 1.0],
            "capacity": [network.capacity[a], 900.0],
            "length": [network.length[a], 1.0],
            "road_class": ["tertiary", "tertiary"],
        },
    )
    cands = (
        Candidate("bypass", "new_link", 300.0, np.array([m0]), label="a second road beside it"),
        Candidate(
            "faster",
            "upgrade",
            200.0,
            busy[1:3].copy(),
            set={"free_flow_time": network.free_flow_time[busy[1:3]] * 0.7},
            road_class="primary",
        ),
        Candidate(
            "wider",
            "widen",
            150.0,
            busy[3:4].copy(),
            scale={"capacity": np.array([2.0]), "lanes": np.array([2.0])},
        ),
        Candidate("far", "new_link", 5000.0, np.array([m0 + 1])),
    )
    return CandidateSet(ext, m0, cands, cost_unit="thousand CNY")


@pytest.fixture(scope="module")
def town_run() -> PlanRun:
    # k-means zones and three times the demand: the town congests, so that the search and
    # the equilibria have histories worth a picture
    study = open_study("builtin-town", zones=8)
    assert study.demand is not None
    study = dataclasses.replace(study, demand=study.demand.scaled(3.0))
    cs = _town_candidates(study.network, study.demand)
    run = plan_study(study, candidates=cs, objective="tstt", budget=700.0)
    assert run.plan.selected  # the files below need something to show
    assert "far" not in run.plan.selected
    return run


@pytest.fixture(scope="module")
def town_out(town_run, tmp_path_factory) -> tuple[Path, list[Path]]:
    """The town run's output folder and the files write_plan_outputs says it wrote."""
    out = tmp_path_factory.mktemp("town")
    return out, write_plan_outputs(town_run, out, settings=SETTINGS)


def _leftovers(folder: Path) -> list[str]:
    """Temporary files of atomic writes (``.<name>.*.tmp*``) still in a folder."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".") and ".tmp" in p.name]


# ---------------------------------------------------------------------- files
def test_every_file_is_written_listed_and_records_version_and_settings(town_run, town_out):
    out, written = town_out
    # every file is there, each listed once in what the call returns, plan.json last
    assert sorted(p.name for p in out.iterdir()) == sorted(
        {"plan.json", "plan.csv"} | REPORT_FILES | TABLE_FILES
    )
    assert sorted(p.name for p in written) == sorted(p.name for p in out.iterdir())
    assert all(p.parent == out for p in written) and written[-1].name == "plan.json"
    doc = json.loads((out / "plan.json").read_text())
    assert doc["run"]["version"] == version()
    assert doc["run"]["settings"] == SETTINGS
    # GeoPackage: the run table
    run_table = pyogrio.read_dataframe(out / "network.gpkg", layer="run")
    values = dict(zip(run_table["key"], run_table["value"], strict=True))
    assert json.loads(values["roadopt_version"]) == version()
    assert json.loads(values["settings"]) == SETTINGS
    assert json.loads(values["search_settings"])["method"] == "bnb"
    # PNG text chunks
    for name in ("map.png", "convergence.png"):
        with Image.open(out / name) as im:
            assert im.text["Software"] == f"roadopt {version()}"
            assert json.loads(im.text["roadopt-settings"]) == SETTINGS
    # the page
    page = (out / "report.html").read_text(encoding="utf-8")
    assert f'content="roadopt {version()}"' in page
    assert html.escape(SETTINGS["note"]) in page


def test_geopackage_layers_read_back_with_crs_columns_and_rows(town_run, town_out):
    out, _ = town_out
    path = out / "network.gpkg"
    layers = {name for name, _ in pyogrio.list_layers(path)}
    assert layers == {
        "links",
        "sections",
        "nodes",
        "upgrades",
        "zones",
        "gateways",
        "access_points",
        "run",
        "layer_styles",
    }
    cs, plan, study = town_run.candidates, town_run.plan, town_run.study
    crs = study.network.crs

    links = gpd.read_file(path, layer="links")
    assert links.crs == crs
    for col in (
        "link_id",
        "init_node",
        "term_node",
        "road_class",
        "length_km",
        "lanes_before",
        "lanes_after",
        "capacity_veh_h_before",
        "capacity_veh_h_after",
        "free_flow_time_min_before",
        "free_flow_time_min_after",
        "flow_veh_h_before",
        "flow_veh_h_after",
        "vc_before",
        "vc_after",
        "time_min_before",
        "time_min_after",
        "speed_kmh_before",
        "speed_kmh_after",
        "built",
        "upgraded",
        "upgrade_id",
        "osm_way_ids",
    ):
        assert col in links.columns, col
    # every existing link and the built new one; the unbuilt one is absent
    assert len(links) == cs.num_base_links + 1
    assert links.geometry.notna().all() and (links.geometry.length > 0).all()
    built = links[links["built"]]
    assert len(built) == 1 and built["upgrade_id"].iloc[0] == "bypass"
    assert np.isnan(built["flow_veh_h_before"].iloc[0]) and built["flow_veh_h_after"].iloc[0] >= 0
    upgraded = links[links["upgraded"]]
    assert set(";".join(upgraded["upgrade_id"]).split(";")) == set(plan.selected) - {"bypass"}
    assert (upgraded["road_class_after"] == "primary").sum() == 2
    wider = upgraded[upgraded["upgrade_id"] == "wider"].iloc[0]
    assert wider["capacity_veh_h_after"] == pytest.approx(2 * wider["capacity_veh_h_before"])
    # flows and v/c of the existing links are the plan's
    base = links.iloc[: cs.num_base_links]
    n0 = cs.num_base_links
    np.testing.assert_allclose(base["flow_veh_h_after"], plan.result.flow[:n0])
    np.testing.assert_allclose(base["flow_veh_h_before"], plan.result_before.flow[:n0])
    np.testing.assert_allclose(base["time_min_after"], plan.result.cost[:n0])
    np.testing.assert_allclose(
        base["vc_after"], base["flow_veh_h_after"] / base["capacity_veh_h_after"], rtol=1e-12
    )
    moving = base[base["time_min_after"] > 0]
    np.testing.assert_allclose(
        moving["speed_kmh_after"], moving["length_km"] / moving["time_min_after"] * 60, rtol=1e-12
    )
    # missing names are NULL, not empty text
    assert links["name"].isna().any() and not (links["name"] == "").any()

    ups = gpd.read_file(path, layer="upgrades")
    assert ups.crs == crs and len(ups) == len(plan.selected)
    assert list(ups["id"]) == list(plan.selected)
    for col in ("id", "kind", "road", "cost_kcny", "label", "benefit_cost_ratio"):
        assert col in ups.columns, col
    assert "tstt_saved_veh_min" in ups.columns
    assert set(ups.geom_type) == {"MultiLineString"} and (ups.length > 0).all()

    zones = gpd.read_file(path, layer="zones")
    assert zones.crs == crs and len(zones) == len(study.model.zones.zone_ids)
    assert {"zone_id", "activity", "trips_from"} <= set(zones.columns)
    assert set(zones.geom_type) <= {"Polygon", "MultiPolygon", "Point"}
    gws = gpd.read_file(path, layer="gateways")
    assert gws.crs == crs and len(gws) == len(study.model.gateways.node_ids)
    assert set(gws.geom_type) == {"Point"}


def test_pictures_are_valid_images_of_sensible_size(town_out):
    out, _ = town_out
    for name, (min_w, min_h) in (("map.png", (900, 700)), ("convergence.png", (700, 300))):
        with Image.open(out / name) as im:
            im.verify()
        with Image.open(out / name) as im:
            assert im.format == "PNG"
            w, h = im.size
            assert min_w <= w <= 3000 and min_h <= h <= 3000, (name, im.size)
            # not blank: many colours
            assert len(im.convert("RGB").getcolors(maxcolors=1 << 20)) > 50


def _texts(ax, gid: str) -> list:
    return [t for t in ax.texts if t.get_gid() == gid]


def test_map_shows_the_upgrades_zones_and_gateways(town_run):
    fig = report.plot_plan_map(town_run)
    before, after = fig.axes[:2]
    for ax in (before, after):
        texts = {t.get_text() for t in ax.texts}
        assert {"G1", "Z1"} <= texts
        assert "km" in ax.get_xlabel() or ax is after  # the after panel shares the axis
    assert before.get_title(loc="left").startswith("before")
    assert after.get_title(loc="left").startswith("after")
    assert "→" in fig.get_suptitle()
    assert fig.axes[2].get_ylabel().startswith("volume / capacity")  # the colour bar


def test_map_has_before_and_after_on_one_colour_scale(town_run):
    fig = report.plot_plan_map(town_run)
    before, after, bar = fig.axes[:3]
    assert before.get_shared_x_axes().joined(before, after)
    assert before.get_xlim() == after.get_xlim() and before.get_ylim() == after.get_ylim()
    roads = [[c for c in ax.collections if c.get_gid() == "roads"] for ax in (before, after)]
    assert [len(r) for r in roads] == [1, 1]
    (rb,), (ra,) = roads
    assert rb.get_clim() == ra.get_clim() == bar.get_ylim()
    assert rb.get_cmap() is ra.get_cmap()
    # the panels show different equilibria: the plan moves traffic
    s = report.frames.link_states(town_run)
    assert not np.allclose(np.nan_to_num(s.flow_before), np.nan_to_num(s.flow_after))
    vc_max = max(float(np.max(rb.get_array())), float(np.max(ra.get_array())))
    assert bar.get_ylim()[1] >= min(vc_max, 2.0) - 1e-12


def test_map_has_a_north_arrow_and_a_scale_bar_in_each_panel(town_run):
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    fig = report.plot_plan_map(town_run)
    for ax in fig.axes[:2]:
        (arrow,) = _texts(ax, "north-arrow")
        assert arrow.get_text() == "N"
        # pointing up: the arrow's head above its "N"
        assert arrow.xy[1] > arrow.xyann[1] and arrow.xy[0] == arrow.xyann[0]
        assert any(isinstance(a, AnchoredSizeBar) for a in ax.artists)


def _road_of(net, links) -> set[str]:
    """The refs (else names) of a candidate's links, as the map label writes them."""
    out = set()
    for a in np.asarray(links).tolist():
        ref = str(net.extra["ref"][a] or "")
        name = str(net.extra["name"][a] or "")
        if ref:
            out.add(f"road {ref}" if ref.isdigit() else ref)
        elif name:
            out.add(name.split(";")[0].strip())
    return out


def test_upgrades_are_labelled_by_road_and_kind_not_by_id(town_run):
    fig = report.plot_plan_map(town_run)
    before, after = fig.axes[:2]
    assert not _texts(before, "upgrade-label")  # upgrades are shown after only
    labels = [t.get_text() for t in _texts(after, "upgrade-label")]
    cs, net = town_run.candidates, town_run.candidates.network
    chosen = [c for c in cs.candidates if c.id in town_run.plan.selected]
    assert len(labels) == len(chosen) == 3
    for label in labels:
        assert not any(c.id in label for c in cs.candidates), label
    by_kind = {c.kind: c for c in chosen}
    for kind, words in (("widen", "widening"), ("upgrade", "upgrade to primary")):
        c = by_kind[kind]
        (label,) = [t for t in labels if words in t]
        roads = _road_of(net, c.links)
        assert roads and any(r in label for r in roads), (label, roads)
    (new,) = [t for t in labels if t.startswith("new link")]
    # the bypass runs beside an existing road: named after the road its ends meet
    assert len(new) > len("new link ")


def test_upgrade_label_names_the_design_standard_and_keeps_ids_without_names():
    from optimizer.corridors import STANDARDS
    from optimizer.jobs.report.text import upgrade_label

    net, _ = grid(3, 3, trips_per_zone=10, seed=1)
    ext = dataclasses.replace(
        net,
        extra={
            **net.extra,
            "ref": ["B 303"] * 2 + [""] * (net.num_links - 2),
            "name": ["Hauptstraße"] * net.num_links,
        },
    )
    std = STANDARDS["jtg-2"]
    c = Candidate(
        "corridor-x-y-jtg-2",
        "upgrade",
        1.0,
        np.array([0, 1, 2]),
        label=f"upgrade to a {std.label}",
    )
    text = upgrade_label(c, ext)
    assert text.startswith("B 303") and "upgrade to JTG-2" in text and c.id not in text
    wide = Candidate("w", "widen", 1.0, np.array([5]))
    assert upgrade_label(wide, ext) == "Hauptstraße widening"
    # no road names at all (a TNTP file): the id is the only name there is
    assert upgrade_label(wide, net) == "w: widening"


def test_settlement_labels_are_limited_and_do_not_overlap(town_run):
    from matplotlib.text import Text

    zones = town_run.study.model.zones
    fig = report.plot_plan_map(town_run, zone_labels=3)
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    act = np.asarray(zones.activity, dtype=float)
    largest = {f"Z{int(z)}" for z in np.asarray(zones.zone_ids)[np.argsort(-act)[:3]]}
    for ax in fig.axes[:2]:
        labels = _texts(ax, "zone-label")
        assert len(labels) <= 3 and {t.get_text() for t in labels} <= largest
    full = report.plot_plan_map(town_run)
    full.draw_without_rendering()
    renderer = full.canvas.get_renderer()
    after = full.axes[1]
    boxes = [Text.get_window_extent(t, renderer) for t in _texts(after, "zone-label")]
    assert len(boxes) >= 3
    upgrade_boxes = [Text.get_window_extent(t, renderer) for t in _texts(after, "upgrade-label")]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :] + upgrade_boxes:
            assert not a.overlaps(b)


def _with_histories(run: PlanRun, *, search: int, equilibrium: bool) -> PlanRun:
    """The run with a search history of ``search`` points; without ``equilibrium``, the
    final assignments' histories cut to their last iteration (one point: nothing to plot)."""
    plan = run.plan
    points = [
        {"seconds": 0.5 * k, "incumbent": plan.objective + 10.0 / (k + 1), "bound": None}
        for k in range(search)
    ]
    if points:
        points[-1]["bound"] = plan.objective - 1.0
    results = {}
    for name in ("result", "result_before"):
        r = getattr(plan, name)
        if r is not None and not equilibrium:
            h = r.history
            last = History(*(np.asarray(a)[-1:] for a in dataclasses.astuple(h)))
            r = dataclasses.replace(r, history=last)
        results[name] = r
    plan = dataclasses.replace(plan, history=points, **results)
    return PlanRun(run.study, run.candidates, plan)


@pytest.mark.parametrize(
    ("search", "equilibrium", "panels"),
    [
        (3, True, ["search time (s)", "iteration"]),
        (3, False, ["search time (s)"]),
        (1, True, ["iteration"]),  # one search point is no history
        (0, True, ["iteration"]),
    ],
)
def test_convergence_plot_has_a_panel_per_history_of_two_points_or_more(
    town_run, search, equilibrium, panels
):
    run = _with_histories(town_run, search=search, equilibrium=equilibrium)
    assert len(run.plan.result.history) >= 2 or not equilibrium  # the fixture has one
    fig = report.plot_convergence(run)
    assert fig is not None
    assert [ax.get_xlabel() for ax in fig.axes] == panels
    for ax in fig.axes:
        assert ax.get_yscale() == ("log" if ax.get_xlabel() == "iteration" else "linear")
        assert ax.lines  # something drawn in every panel


def test_no_history_worth_a_picture_means_no_convergence_plot(town_run, town_out, tmp_path):
    run = _with_histories(town_run, search=1, equilibrium=False)
    assert report.plot_convergence(run) is None
    shutil.copytree(town_out[0], tmp_path, dirs_exist_ok=True)  # an earlier run's plot
    written = report.write_report(run, tmp_path, settings=SETTINGS)
    assert {p.name for p in written} == (REPORT_FILES | TABLE_FILES) - {"convergence.png"}
    assert not (tmp_path / "convergence.png").exists()  # the earlier one removed
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="img-convergence"' not in page and 'id="img-map"' in page


def test_sections_pair_both_directions_and_match_the_links(town_run, town_out):
    from optimizer.jobs.report.tables import sections_frame

    out, _ = town_out
    links = gpd.read_file(out / "network.gpkg", layer="links")
    sec = gpd.read_file(out / "network.gpkg", layer="sections")
    csv = pd.read_csv(out / "sections.csv")
    assert len(csv) == len(sec) and list(csv.columns) == [
        c for c in sec.columns if c != "geometry"
    ]
    # every link that exists is in exactly one section, once
    used = pd.concat([sec["ab_link_id"], sec["ba_link_id"]]).dropna().astype(int)
    assert sorted(used) == sorted(links["link_id"])
    by_id = links.set_index("link_id")
    two_way = sec[sec["ba_link_id"].notna()]
    assert len(two_way) > 0.8 * len(sec)  # a town's streets are mostly two-way
    for _, r in two_way.head(50).iterrows():
        ab, ba = by_id.loc[int(r["ab_link_id"])], by_id.loc[int(r["ba_link_id"])]
        assert (ab["init_node"], ab["term_node"]) == (ba["term_node"], ba["init_node"])
        assert (r["a_node"], r["b_node"]) == (ab["init_node"], ab["term_node"])
        for q in ("flow_veh_h", "vc", "time_min"):
            for st in ("before", "after"):
                assert r[f"ab_{q}_{st}"] == pytest.approx(ab[f"{q}_{st}"], nan_ok=True)
                assert r[f"ba_{q}_{st}"] == pytest.approx(ba[f"{q}_{st}"], nan_ok=True)
        assert r["tot_flow_veh_h_after"] == pytest.approx(
            ab["flow_veh_h_after"] + ba["flow_veh_h_after"]
        )
        assert r["max_vc_after"] == pytest.approx(max(ab["vc_after"], ba["vc_after"]))
    # flow is conserved: the sections carry what the links carry
    assert sec["tot_flow_veh_h_after"].sum() == pytest.approx(links["flow_veh_h_after"].sum())
    built = sec[sec["built"]]
    assert len(built) == 1 and built["upgrade_id"].iloc[0] == "bypass"
    assert np.isnan(built["tot_flow_veh_h_before"].iloc[0])
    assert len(sections_frame(town_run, geometry=False)) == len(sec)


def test_nodes_layer_names_zones_and_access_points(town_run, town_out):
    out, _ = town_out
    nodes = gpd.read_file(out / "network.gpkg", layer="nodes")
    net, study = town_run.candidates.network, town_run.study
    assert len(nodes) == net.num_nodes and set(nodes.geom_type) == {"Point"}
    zoned = nodes[nodes["zone_id"].notna()]
    assert sorted(zoned["zone_id"].astype(int)) == sorted(study.demand.zone_ids.tolist())
    assert nodes["gateway"].sum() == len(study.model.gateways.node_ids)
    assert (nodes["degree"] > 0).all()


def test_skims_are_least_times_before_and_after(town_run, town_out):
    import openmatrix as omx

    from optimizer.connectivity import zone_skims
    from optimizer.jobs.report.frames import link_states

    out, _ = town_out
    s = link_states(town_run)
    f = omx.open_file(str(out / "skims.omx"), "r")
    try:
        names = set(f.list_matrices())
        assert names == {"time_before", "time_after", "distance_before", "distance_after", "trips"}
        zones = np.asarray(f.mapping("zone_id") and list(f.mapping("zone_id")))
        mats = {k: np.asarray(f[k]) for k in names}
        assert f["time_after"].attrs["unit"] == "min"
        assert f["distance_after"].attrs["unit"] == "km"
    finally:
        f.close()
    dem = town_run.study.demand
    assert sorted(zones.tolist()) == sorted(dem.zone_ids.tolist())
    t, d = zone_skims(s.after, dem, np.where(s.open_after, s.cost_after, np.inf), ~s.open_after)
    np.testing.assert_allclose(mats["time_after"], t)
    np.testing.assert_allclose(mats["distance_after"], d)
    np.testing.assert_allclose(mats["trips"], dem.dense())
    assert np.all(np.diag(mats["time_before"]) == 0)
    # the trips-weighted mean time is what the plan changes; distances are path lengths
    finite = np.isfinite(mats["time_before"]) & np.isfinite(mats["time_after"])
    assert (mats["distance_before"][finite] >= 0).all()
    tidy = pd.read_csv(out / "skims.csv")
    assert {"origin", "destination", "origin_name", "trips", "time_min_before"} <= set(tidy)
    row = tidy.iloc[0]
    i = list(dem.zone_ids).index(row["origin"])
    j = list(dem.zone_ids).index(row["destination"])
    assert row["time_min_after"] == pytest.approx(mats["time_after"][i, j])
    assert row["time_saved_min"] == pytest.approx(
        mats["time_before"][i, j] - mats["time_after"][i, j]
    )


def test_report_tables_settlement_pairs_before_and_after(town_run, town_out):
    from optimizer.jobs.report.tables import plan_skims

    out, _ = town_out
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="od"' in page and "Between settlements, before and after" in page
    sk = plan_skims(town_run)
    assert sk is not None
    z = len(sk.names)
    trips = sk.matrices["trips"].copy()
    np.fill_diagonal(trips, 0)
    a, b = divmod(int(np.argmax(trips)), z)
    label = [n or f"zone {int(i)}" for n, i in zip(sk.names, sk.zone_ids, strict=True)]
    table = page.split('class="od"', 1)[1].split("</table>", 1)[0]
    first_row = table.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert f"<td>{html.escape(label[a])}</td><td>{html.escape(label[b])}</td>" in first_row
    saved = sk.matrices["time_before"][a, b] - sk.matrices["time_after"][a, b]
    assert fmt(saved, 3) in first_row


def test_qgis_style_colours_links_by_vc(town_out):
    import sqlite3
    import xml.etree.ElementTree as ET

    out, _ = town_out
    with sqlite3.connect(out / "network.gpkg") as con:
        rows = con.execute(
            "select f_table_name, f_geometry_column, useAsDefault, styleQML from layer_styles"
        ).fetchall()
    links = gpd.read_file(out / "network.gpkg", layer="links", rows=1)
    sections = gpd.read_file(out / "network.gpkg", layer="sections", rows=1)
    by_layer = {r[0]: r for r in rows}
    assert set(by_layer) == {"links", "sections"}
    for name, cols in (("links", links.columns), ("sections", sections.columns)):
        _, geom, default, qml = by_layer[name]
        assert default == 1 and geom == "geometry"
        renderer = ET.fromstring(qml.split("'SYSTEM'>", 1)[1]).find("renderer-v2")
        assert renderer is not None and renderer.get("type") == "graduatedSymbol"
        assert renderer.get("attr") in cols  # the style names a column that exists
        ranges = renderer.find("ranges")
        assert ranges is not None and len(ranges) == 5
        assert float(ranges[3].get("upper")) == 1.0  # a class boundary at capacity


class _Resources(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()
        self.scripts: list[dict] = []

    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        if "id" in d:
            self.ids.add(d["id"])
        for key in ("src", "href", "srcset", "poster", "data", "action"):
            if d.get(key):
                self.urls.append((tag, key, d[key]))
        if tag == "script":
            self.scripts.append(d)
        if tag == "link":
            self.urls.append((tag, "link", d.get("href", "")))


def test_html_is_self_contained_and_its_images_decode(town_run, town_out):
    out, _ = town_out
    page = (out / "report.html").read_text(encoding="utf-8")
    p = _Resources()
    p.feed(page)
    assert {"summary", "upgrades", "map", "metrics", "baseline", "convergence"} <= p.ids
    assert {"settings", "img-map", "img-convergence"} <= p.ids
    assert p.urls and all(tag == "img" for tag, _, _ in p.urls)
    for _, _, url in p.urls:
        assert url.startswith("data:image/png;base64,")
        with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as im:
            im.verify()
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page.split("<script")[0])
    assert not re.search(r"https?://|url\(|@import|//[a-z]", text)
    assert all(s.get("type") == "application/json" for s in p.scripts)
    # the summary and the tables
    plan = town_run.plan
    for text in ("objective", "TSTT", "status and proven gap", "benefit / cost", "Greedy"):
        assert text in page
    for cid in plan.selected:
        assert f"<td>{cid}</td>" in page
    # the embedded plan document is the plan.json document
    data = page.split('id="roadopt-plan">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data) == plan_document(town_run, settings=SETTINGS)


def test_html_escapes_every_text(town_run):
    plan = town_run.plan
    evil = "<script>alert('x')</script>"
    details = [dict(d, label=evil, id=d["id"]) for d in plan.selected_details]
    plan2 = dataclasses.replace(plan, selected_details=details, message=f"note {evil} & more")
    run2 = PlanRun(town_run.study, town_run.candidates, plan2)
    page = report.render_html(run2, settings={"x": evil, evil: 1})
    assert evil not in page.split('id="roadopt-plan">')[0]
    assert html.escape(evil) in page
    data = page.split('id="roadopt-plan">', 1)[1].split("</script>", 1)[0]
    assert "</script" not in data.lower() and json.loads(data)["message"].startswith("note <")


# ---------------------------------------------------------------------- atomicity
# ---------------------------------------------------------------------- benefit/cost
def _with_bcr(run: PlanRun, bcr: float) -> PlanRun:
    """The run with its appraisal's benefit/cost ratio (and present values) set to ``bcr``."""
    app = dict(run.plan.appraisal)
    cost = app["present_value_costs"]
    app.update(
        benefit_cost_ratio=bcr,
        present_value_benefits=bcr * cost,
        net_present_value=(bcr - 1) * cost,
        warning="the plan costs more than it saves at these values" if bcr < 1 else None,
    )
    return dataclasses.replace(run, plan=dataclasses.replace(run.plan, appraisal=app))


BCR_NOTE = "benefit/cost 0.62 < 1: the plan's discounted benefits"


def test_a_plan_below_one_says_so_in_the_page_and_the_summary(town_run, capsys):
    from optimizer.jobs.cli import print_plan_summary

    run = _with_bcr(town_run, 0.62)
    page = report.render_html(run, images={})
    note = html.escape(BCR_NOTE[:1].upper() + BCR_NOTE[1:])
    head = page[: page.index("<section")]
    # the highlighted note before the sections, and again in the appraisal section
    assert re.search(r'<p class="msg warn bcr" id="warning"><strong>' + re.escape(note), head)
    assert "do not cover its cost (650 thousand CNY)." in head
    appraisal = page[page.index('<section id="appraisal">') :]
    assert 'id="bcr-note"' in appraisal and note in appraisal
    assert head.count("Warning:") == 1  # the appraisal's warning in the same box
    print_plan_summary(run)
    out = capsys.readouterr().out.splitlines()
    top = [k for k, line in enumerate(out) if line.startswith(f"WARNING     {BCR_NOTE}")]
    assert len(top) == 1
    # said early: before the chosen upgrades and the appraisal lines
    first_chosen = min(k for k, line in enumerate(out) if line.startswith("chosen"))
    assert top[0] < first_chosen


@pytest.mark.parametrize("bcr", [1.0, 1.58])
def test_a_plan_worth_its_cost_has_no_note(town_run, capsys, bcr):
    from optimizer.jobs.cli import print_plan_summary

    run = _with_bcr(town_run, bcr)
    page = report.render_html(run, images={})
    assert "< 1" not in page and "&lt; 1" not in page
    assert 'class="msg warn' not in page and 'id="bcr-note"' not in page
    print_plan_summary(run)
    out = capsys.readouterr().out
    assert "WARNING" not in out and "< 1" not in out and "benefit/cost ratio" in out


def test_a_failure_while_writing_the_geopackage_leaves_no_partial_file(
    town_run, tmp_path, monkeypatch
):
    real = pyogrio.write_dataframe
    calls = []

    def failing(df, path, *args, **kwargs):
        calls.append(kwargs.get("layer"))
        if len(calls) == 2:  # after the links layer is in the file
            raise OSError("disk full (simulated)")
        return real(df, path, *args, **kwargs)

    monkeypatch.setattr(pyogrio, "write_dataframe", failing)
    with pytest.raises(OSError, match="simulated"):
        report.write_geopackage(town_run, tmp_path / "network.gpkg")
    assert not (tmp_path / "network.gpkg").exists()
    assert not _leftovers(tmp_path)
    # an earlier file stays as it was
    (tmp_path / "network.gpkg").write_bytes(b"earlier run")
    calls.clear()
    with pytest.raises(OSError, match="simulated"):
        report.write_geopackage(town_run, tmp_path / "network.gpkg")
    assert (tmp_path / "network.gpkg").read_bytes() == b"earlier run"
    assert not _leftovers(tmp_path)


def test_a_failure_midway_keeps_the_earlier_run_files_whole(
    town_run, town_out, tmp_path, monkeypatch
):
    out, _ = town_out
    folder = tmp_path / "out"
    shutil.copytree(out, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def boom(*args, **kwargs):
        raise RuntimeError("interrupted (simulated)")

    monkeypatch.setattr(report, "render_html", boom)
    with pytest.raises(RuntimeError, match="simulated"):
        write_plan_outputs(town_run, folder, settings={"command": "optimize", "seed": 1})
    after = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert set(after) == set(before)  # nothing half-written, no temporary files
    assert after["report.html"] == before["report.html"]
    assert after["plan.json"] == before["plan.json"]  # plan.json comes last
    # the files written before the failure are the new run's, each whole
    new = {"command": "optimize", "seed": 1}
    run_table = pyogrio.read_dataframe(folder / "network.gpkg", layer="run")
    values = dict(zip(run_table["key"], run_table["value"], strict=True))
    assert json.loads(values["settings"]) == new
    assert len(gpd.read_file(folder / "network.gpkg", layer="links")) == len(
        gpd.read_file(out / "network.gpkg", layer="links")
    )
    for name in ("map.png", "convergence.png"):
        with Image.open(folder / name) as im:
            im.verify()
        with Image.open(folder / name) as im:
            assert json.loads(im.text["roadopt-settings"]) == new


# ---------------------------------------------------------------------- other networks
def _grid_run() -> PlanRun:
    net, dem = grid(4, 4, trips_per_zone=2500, seed=1)
    # a fast diagonal between the two zones farthest apart
    a, b = net.node_index(dem.zone_node_ids[0]), net.node_index(dem.zone_node_ids[-1])
    ext = extend_network(
        net,
        {
            "init": [a, b],
            "term": [b, a],
            "free_flow_time": [0.5, 0.5],
            "capacity": [3000.0, 3000.0],
            "length": [2.1, 2.1],
        },
    )
    m0 = net.num_links
    cs = CandidateSet(ext, m0, (Candidate("diag", "new_link", 50.0, np.array([m0, m0 + 1])),))
    from networks.sources import Study

    study = Study(net, dem, source="synthetic grid")
    return plan_study(study, candidates=cs, budget=100.0, method="bnb", rgap=1e-6)


def test_network_without_crs_gets_a_map_but_no_geopackage(tmp_path, caplog):
    run = _grid_run()
    (tmp_path / "network.gpkg").write_bytes(b"from an earlier run")
    with caplog.at_level("INFO", logger="optimizer.jobs.report"):
        written = write_plan_outputs(run, tmp_path, settings={"seed": 0})
    names = {p.name for p in written}
    assert "network.gpkg" not in names and not (tmp_path / "network.gpkg").exists()
    assert "no known CRS" in caplog.text
    assert names == {"map.png", "convergence.png", "report.html", "plan.json", "plan.csv"} | (
        TABLE_FILES
    )
    fig = report.plot_plan_map(run)
    assert "unknown CRS" in fig.axes[0].get_xlabel()
    # no names: the upgrade keeps its id; no CRS: no north arrow, no scale bar
    assert [t.get_text() for t in _texts(fig.axes[1], "upgrade-label")] == ["diag: new link"]
    assert not any(_texts(ax, "north-arrow") for ax in fig.axes)
    assert not any(ax.artists for ax in fig.axes[:2])
    assert run.plan.selected == ("diag",)
    frame = report.plan_links_frame(run, geometry=False)
    assert len(frame) == run.candidates.network.num_links  # the diagonal is built
    # rgap 1e-6 takes the final equilibrium several iterations: its gap on a log axis
    assert len(run.plan.result.history) > 2
    conv = report.plot_convergence(run)
    assert conv is not None
    gap_axes = [ax for ax in conv.axes if ax.get_xlabel() == "iteration"]
    assert len(gap_axes) == 1 and gap_axes[0].get_yscale() == "log"


def test_network_without_coordinates_gets_the_page_only(tmp_path, caplog):
    base, dem = braess(with_middle=False)
    full, _ = braess(with_middle=True)
    mid = int(np.flatnonzero((full.node_ids[full.init] == 3) & (full.node_ids[full.term] == 4))[0])
    ext = extend_network(
        base,
        {
            "init": [full.init[mid]],
            "term": [full.term[mid]],
            "free_flow_time": [full.free_flow_time[mid]],
            "capacity": [full.capacity[mid]],
            "alpha": [full.alpha[mid]],
            "beta": [full.beta[mid]],
        },
    )
    cs = CandidateSet(
        ext, base.num_links, (Candidate("middle", "new_link", 1.0, np.array([base.num_links])),)
    )
    from networks.sources import Study

    run = plan_study(Study(base, dem, source="Braess"), candidates=cs, budget=10.0)
    with caplog.at_level("INFO", logger="optimizer.jobs.report"):
        written = write_plan_outputs(run, tmp_path)
    names = {p.name for p in written}
    assert names >= {"plan.json", "plan.csv", "report.html"}
    assert not names & {"network.gpkg", "map.png"}
    # the convergence plot needs no coordinates: written exactly when there is one to draw
    assert ("convergence.png" in names) == (report.plot_convergence(run) is not None)
    assert names == {p.name for p in tmp_path.iterdir()}
    assert "no node coordinates" in caplog.text
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "No upgrade was chosen" in page and 'id="img-map"' not in page


def test_report_can_be_switched_off(town_run, town_out, tmp_path):
    shutil.copytree(town_out[0], tmp_path, dirs_exist_ok=True)  # an earlier run with report
    written = write_plan_outputs(town_run, tmp_path, report=False)
    assert {p.name for p in written} == {"plan.json", "plan.csv"}
    assert {p.name for p in tmp_path.iterdir()} == {"plan.json", "plan.csv"}


# ---------------------------------------------------------------------- browser
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _chromium_run(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    env = dict(os.environ, HOME=str(profile))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)


@pytest.mark.slow
def test_report_renders_in_headless_chromium(town_run, town_out, tmp_path):
    """CI: ``apt-get install -y --no-install-recommends chromium`` (Debian) enables this."""
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed")
    out, _ = town_out
    url = (out / "report.html").resolve().as_uri()
    dom = _chromium_run(exe, tmp_path / "p1", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'id="summary"' in dom.stdout and "Chosen upgrades" in dom.stdout
    assert len(re.findall(r"<img [^>]*src=\"data:image/png;base64,", dom.stdout)) == 2
    for cid in town_run.plan.selected:
        assert cid in dom.stdout
    shot = tmp_path / "page.png"
    res = _chromium_run(
        exe, tmp_path / "p2", "--window-size=1280,2600", f"--screenshot={shot}", url
    )
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    with Image.open(shot) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.int16)
    # the map decoded and was painted: its upgrade blue is on the page (CSS never uses it)
    blue = np.array([int(report.UPGRADE_COLOR[i : i + 2], 16) for i in (1, 3, 5)])
    assert (np.abs(rgb - blue).sum(axis=2) < 40).sum() > 200
