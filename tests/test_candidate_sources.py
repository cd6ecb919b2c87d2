"""Candidates read from CSV/GeoJSON files, written back, and generated for OSM networks."""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path

import numpy as np
import pytest

from networks import open_study
from networks.errors import FileFormatError
from networks.synthetic import grid
from optimizer import assign
from optimizer.candidate_files import CandidateFileError, read_candidates, write_candidates
from optimizer.candidates import CandidateSet
from optimizer.costs import DEFAULT_COSTS
from optimizer.errors import InvalidCandidatesError
from optimizer.generate import SOURCES, UPGRADE_TO, generate_candidates

FIXTURES = Path(__file__).parent / "fixtures"


# ---------------------------------------------------------------------- helpers
def link(net, a, b):
    """Position of the one link a -> b (external node ids)."""
    i, j = net.node_index(a), net.node_index(b)
    found = [k for k in range(net.num_links) if net.init[k] == i and net.term[k] == j]
    assert len(found) == 1
    return found[0]


def assert_same_set(a: CandidateSet, b: CandidateSet) -> None:
    assert a.num_base_links == b.num_base_links and a.cost_unit == b.cost_unit
    na, nb = a.network, b.network
    for f in (
        "init",
        "term",
        "free_flow_time",
        "capacity",
        "alpha",
        "beta",
        "length",
        "speed",
        "lanes",
        "link_ids",
        "link_type",
    ):
        np.testing.assert_array_equal(getattr(na, f), getattr(nb, f), err_msg=f)
    assert na.road_class.tolist() == nb.road_class.tolist()
    assert len(a) == len(b)
    for c, d in zip(a.candidates, b.candidates, strict=True):
        assert (c.id, c.kind, c.cost, c.group, c.requires, c.label, c.road_class) == (
            d.id,
            d.kind,
            d.cost,
            d.group,
            d.requires,
            d.label,
            d.road_class,
        )
        np.testing.assert_array_equal(c.links, d.links)
        assert set(c.scale) == set(d.scale) and set(c.set) == set(d.set), c.id
        for k in c.scale:
            np.testing.assert_array_equal(c.scale[k], d.scale[k], err_msg=f"{c.id} {k}")
        for k in c.set:
            np.testing.assert_array_equal(c.set[k], d.set[k], err_msg=f"{c.id} {k}")


def assert_flow_conserved(net, dem, flow, closed=None) -> None:
    n = net.num_nodes
    if closed is not None:
        assert np.all(flow[closed] == 0)
    balance = np.bincount(net.term, flow, n) - np.bincount(net.init, flow, n)
    mat = dem.dense().copy()
    np.fill_diagonal(mat, 0.0)
    expected = np.zeros(n)
    np.add.at(expected, net.node_indices(dem.zone_node_ids), mat.sum(axis=0) - mat.sum(axis=1))
    np.testing.assert_allclose(balance, expected, atol=1e-6 * max(mat.sum(), 1.0))


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def grid44():
    return grid(4, 4)


@pytest.fixture(scope="module")
def town():
    # eight k-means zones (the town's few named places would give five): a demand spread
    # over the whole town, so that every generator finds something to propose
    study = open_study("builtin-town", zones=8)
    result = assign(study.network, study.demand, rgap=1e-6)
    return study, result


@pytest.fixture(scope="module")
def town_cs(town):
    study, result = town
    return generate_candidates(study.network, study.demand, result=result)


# ---------------------------------------------------------------------- reading: grid
def test_read_csv_on_grid_every_kind(grid44):
    net, _ = grid44
    cs = read_candidates(FIXTURES / "candidates_grid.csv", net)
    m0 = net.num_links
    assert cs.num_base_links == m0 and cs.network.num_links == m0 + 3
    assert cs.ids == ["diag", "oneway", "w1", "w2", "wdiag", "cap", "fast", "cls", "chain"]
    assert cs.summary()["kinds"] == {"new_link": 2, "widen": 4, "upgrade": 3}
    ext = cs.network
    c = {x.id: x for x in cs.candidates}
    # new links: both directions, then the one-way link; ids after the largest existing id
    np.testing.assert_array_equal(c["diag"].links, [m0, m0 + 1])
    np.testing.assert_array_equal(ext.link_ids[m0:], [49, 50, 51])
    assert ext.node_ids[ext.init[m0]] == 1 and ext.node_ids[ext.term[m0]] == 6
    assert ext.node_ids[ext.init[m0 + 1]] == 6 and ext.node_ids[ext.term[m0 + 1]] == 1
    np.testing.assert_allclose(ext.free_flow_time[m0 : m0 + 2], 0.75 / 50 * 60)
    np.testing.assert_allclose(ext.capacity[m0 : m0 + 2], 1500.0)
    np.testing.assert_allclose(ext.alpha[m0:], 0.15)
    np.testing.assert_allclose(ext.beta[m0:], 4.0)
    # free_flow_time alone: length is the straight line, speed follows
    assert ext.free_flow_time[m0 + 2] == 0.9
    np.testing.assert_allclose(ext.length[m0 + 2], np.hypot(0.5, 0.5))
    np.testing.assert_allclose(ext.speed[m0 + 2], np.hypot(0.5, 0.5) / 0.9 * 60)
    # widen both directions, exclusive options
    l12, l21 = link(net, 1, 2), link(net, 2, 1)
    assert sorted(c["w1"].links.tolist()) == sorted([l12, l21])
    np.testing.assert_array_equal(c["w1"].scale["capacity"], [2.0, 2.0])
    np.testing.assert_array_equal(c["w2"].scale["lanes"], [3.0, 3.0])
    assert cs.groups() == {"w12": [2, 3]}
    # a widening of a new link requires its builder
    np.testing.assert_array_equal(c["wdiag"].links, [m0])
    assert c["wdiag"].requires == ("diag",)
    assert set(c["cap"].scale) == {"capacity"}
    # upgrades: explicit speed gives time length / speed; class from the generic profile
    l23 = link(net, 2, 3)
    np.testing.assert_allclose(c["fast"].set["free_flow_time"], net.length[l23] / 60 * 60)
    np.testing.assert_array_equal(c["fast"].set["speed"], [60.0])
    assert c["cls"].road_class == "tertiary" and len(c["cls"].links) == 2
    np.testing.assert_array_equal(c["cls"].set["speed"], [45.0, 45.0])
    assert np.all(c["cls"].scale["capacity"] >= 1)
    np.testing.assert_array_equal(net.link_ids[c["chain"].links], [7, 8])


def test_applying_a_plan_on_grid(grid44):
    net, _ = grid44
    cs = read_candidates(FIXTURES / "candidates_grid.csv", net)
    m0 = net.num_links
    plan = cs.as_plan(["diag", "w2", "wdiag", "fast", "chain", "w1"])
    assert not cs.is_feasible(plan, budget=1e9)  # w1 and w2 exclude each other
    assert not cs.is_feasible(cs.as_plan(["wdiag"]), budget=1e9)  # needs diag
    assert not cs.is_feasible(cs.as_plan(["chain"]), budget=1e9)  # needs w1
    plan = cs.as_plan(["diag", "w2", "wdiag", "fast"])
    assert cs.is_feasible(plan, budget=270.0) and not cs.is_feasible(plan, budget=269.0)
    applied, closed = cs.apply(plan)
    assert closed.tolist() == [False] * (m0 + 2) + [True]  # only the one-way link stays shut
    l12, l23 = link(net, 1, 2), link(net, 2, 3)
    assert applied.capacity[l12] == 3 * net.capacity[l12]
    assert applied.lanes[l12] == 3.0
    assert applied.capacity[m0] == 3000.0 and applied.capacity[m0 + 1] == 1500.0
    assert applied.capacity[l23] == 1.5 * net.capacity[l23]
    assert applied.free_flow_time[l23] < net.free_flow_time[l23]
    untouched = np.ones(m0, dtype=bool)
    untouched[[l12, link(net, 2, 1), l23]] = False
    np.testing.assert_array_equal(applied.capacity[:m0][untouched], net.capacity[untouched])


def test_read_geojson_on_grid(grid44):
    net, _ = grid44
    cs = read_candidates(FIXTURES / "candidates_grid.geojson", net)
    m0 = net.num_links
    ext = cs.network
    # the LineString (in the network's metres) gives the length
    km = (np.hypot(250, 300) + np.hypot(250, 200)) / 1000
    np.testing.assert_allclose(ext.length[m0 : m0 + 2], km)
    np.testing.assert_allclose(ext.free_flow_time[m0 : m0 + 2], km / 50 * 60)
    # lanes from the generic profile's tertiary roads; capacity as given
    assert ext.road_class[m0] == "tertiary" and ext.lanes[m0] == 1.0
    np.testing.assert_array_equal(ext.capacity[m0 : m0 + 2], 1500.0)
    c = {x.id: x for x in cs.candidates}
    np.testing.assert_array_equal(c["w2"].scale["capacity"], [3.0, 3.0])
    assert c["w2"].cost == 80.5
    np.testing.assert_array_equal(c["wdiag"].links, [m0 + 1])  # 6 -> 1: the reverse link
    np.testing.assert_array_equal(c["wdiag"].scale["capacity"], [1.5])
    assert cs.groups() == {"w12": [1, 2]}


def test_geojson_in_lonlat_is_projected(town, tmp_path):
    """RFC 7946 GeoJSON in lon/lat: the line is projected to the network's CRS for length."""
    import pyproj

    study, _ = town
    net = study.network
    a, b = 0, 1
    tr = pyproj.Transformer.from_crs(net.crs, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(net.x[[a, b]], net.y[[a, b]])
    feat = {
        "type": "Feature",
        "properties": {
            "id": "n",
            "kind": "new_link",
            "cost": 10,
            "init_node": int(net.node_ids[a]),
            "term_node": int(net.node_ids[b]),
            "road_class": "tertiary",
        },
        "geometry": {"type": "LineString", "coordinates": [[lon[0], lat[0]], [lon[1], lat[1]]]},
    }
    p = tmp_path / "c.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [feat]}))
    cs = read_candidates(p, net)
    m0 = net.num_links
    straight = np.hypot(net.x[a] - net.x[b], net.y[a] - net.y[b]) / 1000
    np.testing.assert_allclose(cs.network.length[m0], straight, rtol=1e-6)
    # speed, lanes and capacity from the town's (generic) profile for tertiary roads
    assert cs.network.speed[m0] == 45.0 and cs.network.capacity[m0] == 800.0
    np.testing.assert_allclose(cs.network.free_flow_time[m0], straight / 45 * 60, rtol=1e-6)
    assert cs.network.extra["geometry"][m0].length == pytest.approx(straight * 1000, rel=1e-6)


# ---------------------------------------------------------------------- reading: the town
def _two_way_named(net):
    """A named two-way road segment: (link, reverse link)."""
    for k in range(net.num_links):
        if net.extra["name"][k] and net.road_class[k] == "residential":
            i, j = net.init[k], net.term[k]
            rev = [
                r for r in range(net.num_links) if net.init[r] == j and net.term[r] == i and r != k
            ]
            par = [r for r in range(net.num_links) if net.init[r] == i and net.term[r] == j]
            if len(rev) == 1 and len(par) == 1:
                return k, rev[0]
    raise AssertionError("no two-way residential road")


def test_read_csv_on_town(town, tmp_path):
    study, _ = town
    net = study.network
    ids = net.node_ids
    k, r = _two_way_named(net)
    a, b = int(ids[net.init[k]]), int(ids[net.term[k]])
    # a new road between two nodes far apart on the network
    u, v = int(ids[0]), int(ids[5])
    text = "\n".join(
        [
            "id,kind,cost,init_node,term_node,both_directions,group,requires,length,"
            "road_class,add_lanes,capacity_factor,speed,label",
            f"new,new_link,900,{u},{v},true,,,0.4,tertiary,,,,a new tertiary road",
            f"wnew,widen,200,{u},{v},true,,new,,,1,,,widen the new road",
            f"w1,widen,300,{a},{b},true,wk,,,,1,,,+1 lane",
            f"w2,widen,500,{a},{b},true,wk,,,,2,,,+2 lanes",
            f"up,upgrade,250,{a},{b},true,,,,tertiary,,,,to tertiary",
            f"fast,upgrade,100,{b},{a},false,,,,,,1.2,50,faster one way",
        ]
    )
    p = tmp_path / "town.csv"
    p.write_text(text + "\n")
    cs = read_candidates(p, net, cost_unit="thousand CNY")
    m0 = net.num_links
    ext = cs.network
    assert cs.cost_unit == "thousand CNY" and len(cs) == 6
    np.testing.assert_array_equal(ext.length[m0:], [0.4, 0.4])
    assert ext.road_class[m0] == "tertiary" and ext.capacity[m0] == 800.0 and ext.lanes[m0] == 1
    np.testing.assert_allclose(ext.free_flow_time[m0:], 0.4 / 45 * 60)
    assert ext.extra["geometry"][m0].length > 0 and ext.extra["osm_way_ids"][m0] == ()
    c = {x.id: x for x in cs.candidates}
    np.testing.assert_array_equal(c["wnew"].links, [m0, m0 + 1])
    np.testing.assert_array_equal(sorted(c["w1"].links), sorted([k, r]))
    # residential (500 veh/h/ln, 30 km/h) -> tertiary (800, 45) in the generic profile
    np.testing.assert_allclose(c["up"].scale["capacity"], 1.6)
    np.testing.assert_array_equal(c["up"].set["speed"], [45.0, 45.0])
    plan = cs.as_plan(["new", "wnew", "w2", "up", "fast"])
    applied, closed = cs.apply(plan)
    assert not closed.any()
    assert applied.capacity[k] == pytest.approx(net.capacity[k] * 3 * 1.6)
    assert applied.capacity[r] == pytest.approx(net.capacity[r] * 3 * 1.6 * 1.2)
    assert applied.free_flow_time[r] == pytest.approx(net.length[r] / 50 * 60)
    assert applied.free_flow_time[k] == pytest.approx(net.length[k] / 45 * 60)
    assert applied.capacity[m0] == 1600.0
    res = assign(applied, study.demand, rgap=1e-6, closed_links=closed)
    assert res.converged
    assert_flow_conserved(applied, study.demand, res.flow, closed)


# ---------------------------------------------------------------------- bad input
HEADER = (
    "id,kind,cost,init_node,term_node,link_id,both_directions,group,requires,capacity,"
    "free_flow_time,speed,add_lanes,capacity_factor,road_class"
)


@pytest.mark.parametrize(
    ("rows", "line", "field", "match"),
    [
        (["a,widen,,1,2,,,,,,,,1,,"], 2, "cost", "missing; give the building cost"),
        (["a,widen,-5,1,2,,,,,,,,1,,"], 2, "cost", "below 0; it must be >= 0"),
        (["a,widen,lots,1,2,,,,,,,,1,,"], 2, "cost", "'lots' is not a number"),
        (
            ["a,widen,1,1,2,,,,,,,,1,,", "b,widen,1,99,2,,,,,,,,1,,"],
            3,
            "init_node",
            "node 99 is not in network",
        ),
        (["a,widen,1,1,16,,,,,,,,1,,"], 2, "term_node", "no link from node 1 to node 16"),
        (["a,bridge,1,1,2,,,,,,,,1,,"], 2, "kind", "unknown kind 'bridge'"),
        (
            ["a,widen,1,1,2,,,,,,,,1,,", "a,widen,2,2,3,,,,,,,,1,,"],
            3,
            "id",
            r"duplicate id 'a' \(first used on line 2\)",
        ),
        (["a,widen,1,1,2,,,,zz,,,,1,,"], 2, "requires", "requires unknown candidate 'zz'"),
        (
            ["a,widen,1,1,2,,,g,b,,,,1,,", "b,widen,1,1,2,,,g,,,,,2,,"],
            2,
            "requires",
            "contradictory prerequisites: 'a' requires 'b'",
        ),
        (
            [
                "a,widen,1,1,2,,,,b;c,,,,1,,",
                "b,widen,1,2,3,,,g,,,,,1,,",
                "c,widen,1,3,4,,,g,,,,,1,,",
            ],
            2,
            "requires",
            "needs both 'b' and 'c'",
        ),
        (["a,upgrade,1,1,2,,,,,,,,,0.5,"], 2, "capacity_factor", "would lower capacity"),
        (["a,upgrade,1,1,2,,,,,,100,,,,"], 2, "free_flow_time", "may not raise it"),
        (["a,upgrade,1,1,2,,,,,,,10,,,"], 2, "speed", "may not lower speed"),
        (["a,upgrade,1,1,2,,,,,,,,,,track"], 2, "road_class", "does not rank above"),
        (["a,upgrade,1,1,2,,,,,,,,,,"], 2, None, "needs speed, free_flow_time"),
        (["a,widen,1,1,2,,,,,,,,1.5,,"], 2, "add_lanes", "not a whole number"),
        (["a,widen,1,1,2,,,,,,,,1,2,"], 2, "capacity_factor", "not both"),
        (
            ["n,new_link,1,1,6,,,,,1000,1,,,,", "w,widen,1,1,6,,,,,,,,1,,"],
            3,
            "requires",
            "built by candidate 'n'; add requires = 'n'",
        ),
        (["n,new_link,1,1,6,,,,,,,,,,"], 2, "capacity", "give the capacity"),
        (["n,new_link,1,1,6,,,,,1000,,50,,,"], 2, "length", "give free_flow_time, or length"),
        (
            ["n,new_link,1,1,6,99,,,,1000,1,,,,", "w,widen,1,,,99,,,,,,,1,,"],
            3,
            "link_id",
            "add it to requires",
        ),
        (["n,new_link,1,1,6,1,,,,1000,1,,,,"], 2, "link_id", "already used by an existing"),
        (["a,widen,1,1,2,,maybe,,,,,,1,,"], 2, "both_directions", "not a yes/no value"),
    ],
)
def test_bad_candidates_name_file_line_and_field(grid44, tmp_path, rows, line, field, match):
    net, _ = grid44
    p = tmp_path / "bad.csv"
    p.write_text("\n".join([HEADER, *rows]) + "\n")
    with pytest.raises(CandidateFileError, match=match) as info:
        read_candidates(p, net)
    err = info.value
    assert isinstance(err, FileFormatError) and isinstance(err, InvalidCandidatesError)
    assert isinstance(err, ValueError)
    assert err.path == str(p) and err.line == line and err.field == field
    assert str(err).startswith(f"{p}, line {line}: ")


def test_empty_and_headless_files(grid44, tmp_path):
    net, _ = grid44
    p = tmp_path / "empty.csv"
    p.write_text("")
    with pytest.raises(FileFormatError, match="empty"):
        read_candidates(p, net)
    p.write_text(HEADER + "\n\n")
    with pytest.raises(CandidateFileError, match="no candidates: the file has a header"):
        read_candidates(p, net)
    p.write_text("name,cost\nx,1\n")
    with pytest.raises(CandidateFileError, match="no 'id' column") as info:
        read_candidates(p, net)
    assert info.value.line == 1
    g = tmp_path / "empty.geojson"
    g.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(CandidateFileError, match="no candidates"):
        read_candidates(g, net)
    g.write_text('{"type": "Feature"}')
    with pytest.raises(CandidateFileError, match="not a GeoJSON FeatureCollection"):
        read_candidates(g, net)
    with pytest.raises(FileNotFoundError):
        read_candidates(tmp_path / "missing.csv", net)


def test_geojson_errors_name_the_feature(grid44, tmp_path):
    net, _ = grid44
    feats = [
        {
            "type": "Feature",
            "properties": {
                "id": "a",
                "kind": "widen",
                "cost": 1,
                "init_node": 1,
                "term_node": 2,
                "add_lanes": 1,
            },
        },
        {
            "type": "Feature",
            "properties": {
                "id": "b",
                "kind": "widen",
                "cost": -1,
                "init_node": 1,
                "term_node": 2,
                "add_lanes": 1,
            },
        },
    ]
    p = tmp_path / "bad.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    with pytest.raises(CandidateFileError, match=r"feature 2 \('b'\): .*must be >= 0") as info:
        read_candidates(p, net)
    assert info.value.field == "cost"


def test_parallel_links_need_a_link_id(tmp_path):
    from networks.network import Network

    net = Network.from_links(
        [1, 1, 2],
        [2, 2, 1],
        free_flow_time=[1.0, 2.0, 1.0],
        capacity=100.0,
        link_ids=[10, 11, 12],
    )
    p = tmp_path / "c.csv"
    p.write_text("id,kind,cost,init_node,term_node,capacity_factor\na,widen,1,1,2,2\n")
    with pytest.raises(CandidateFileError, match=r"2 parallel links join 1 -> 2 \(link ids 10"):
        read_candidates(p, net)
    p.write_text("id,kind,cost,init_node,term_node,link_id,capacity_factor\na,widen,1,1,2,11,2\n")
    cs = read_candidates(p, net)
    np.testing.assert_array_equal(cs.candidates[0].links, [1])
    # a one-way road has no reverse link to act on
    oneway = Network.from_links([1, 2], [2, 3], free_flow_time=1.0, capacity=100.0)
    p.write_text(
        "id,kind,cost,init_node,term_node,both_directions,capacity_factor\na,widen,1,1,2,true,2\n"
    )
    with pytest.raises(CandidateFileError, match="no link from 2 back to 1") as info:
        read_candidates(p, oneway)
    assert info.value.field == "both_directions"


def test_cost_unit_must_agree(grid44, tmp_path):
    net, _ = grid44
    p = tmp_path / "c.csv"
    p.write_text("id,kind,cost,cost_unit,init_node,term_node,add_lanes\na,widen,1,CNY,1,2,1\n")
    assert read_candidates(p, net).cost_unit == "CNY"
    with pytest.raises(CandidateFileError, match="costs are in 'CNY', not 'EUR'"):
        read_candidates(p, net, cost_unit="EUR")
    assert read_candidates(FIXTURES / "candidates_grid.csv", net, cost_unit="EUR").cost_unit == (
        "EUR"
    )


# ---------------------------------------------------------------------- writing
def test_hand_made_sets_round_trip(grid44, tmp_path):
    net, _ = grid44
    for src in ("candidates_grid.csv", "candidates_grid.geojson"):
        cs = read_candidates(FIXTURES / src, net)
        for suffix in ("csv", "geojson"):
            back = read_candidates(write_candidates(cs, tmp_path / f"out.{suffix}"), net)
            assert_same_set(cs, back)


@pytest.mark.parametrize("suffix", ["csv", "geojson"])
def test_generated_set_round_trips_on_the_base_network(town, town_cs, tmp_path, suffix):
    study, _ = town
    p = write_candidates(town_cs, tmp_path / f"cands.{suffix}")
    assert not list(tmp_path.glob(".*.tmp*"))  # atomic: no temporary file left behind
    back = read_candidates(p, study.network)
    assert_same_set(town_cs, back)
    m0 = town_cs.num_base_links
    for k in range(m0, town_cs.network.num_links):
        g0, g1 = town_cs.network.extra["geometry"][k], back.network.extra["geometry"][k]
        assert g0.equals_exact(g1, 1e-6)
    if suffix == "geojson":
        data = json.loads(p.read_text())
        assert all(
            f["geometry"]["type"] in ("LineString", "MultiLineString") for f in data["features"]
        )
        geom = data["features"][0]["geometry"]
        first = geom["coordinates"][0]
        lon, lat = (first[0] if geom["type"] == "MultiLineString" else first)[:2]
        assert -180 <= lon <= 180 and -90 <= lat <= 90


# ---------------------------------------------------------------------- generating
def test_generated_town_candidates(town, town_cs):
    study, _ = town
    net, cs = study.network, town_cs
    m0 = net.num_links
    assert 0 < len(cs) <= 12
    assert len(set(cs.ids)) == len(cs)
    assert np.all(cs.costs > 0) and cs.cost_unit == DEFAULT_COSTS.unit
    kinds = cs.summary()["kinds"]
    assert all(kinds[k] >= 1 for k in ("new_link", "widen", "upgrade")), kinds
    prefixes = {c.id.split("-")[0] for c in cs.candidates}
    assert {"widen", "upgrade", "new", "access"} <= prefixes
    ext = cs.network
    assert ext.num_nodes == net.num_nodes and cs.num_base_links == m0
    for c in cs.candidates:
        assert c.label and c.label != c.id
        if c.kind == "new_link":
            assert len(c.links) == 2 and np.all(c.links >= m0)
            a, b = c.links
            assert ext.init[a] == ext.term[b] and ext.term[a] == ext.init[b]
            assert ext.init[a] != ext.term[a]
            assert c.id == f"{c.id.split('-')[0]}-{ext.node_ids[ext.init[a]]}-" + str(
                ext.node_ids[ext.term[a]]
            )
            assert ext.road_class[a] == c.road_class and ext.extra["geometry"][a].length > 0
        else:
            assert np.all(c.links < m0)
        for vals in c.scale.values():
            assert np.all(vals >= 1)
        if "free_flow_time" in c.set:
            assert np.all(c.set["free_flow_time"] <= ext.free_flow_time[c.links])
        if "speed" in c.set:
            assert np.all(c.set["speed"] >= ext.speed[c.links])
    for c in cs.candidates:
        if c.kind == "widen":
            assert c.id.startswith("widen-") and c.id.endswith(("-+1", "-+2"))
            assert c.group == c.id.rsplit("-", 1)[0]
        if c.kind == "upgrade":  # one class up, as the table says, named in the label
            before = {str(net.road_class[k]) for k in c.links}
            assert len(before) == 1 and c.road_class == UPGRADE_TO[before.pop()]
            assert f"to {c.road_class}" in c.label


def test_generation_is_deterministic(town, town_cs):
    study, result = town
    again = generate_candidates(study.network, study.demand, result=result)
    assert_same_set(town_cs, again)
    # without a result it solves the equilibrium itself and lands on the same set
    fresh = generate_candidates(study.network, study.demand)
    assert fresh.ids == town_cs.ids


def test_generation_solves_its_equilibrium_with_the_given_settings(town, town_cs, monkeypatch):
    from optimizer import generate

    study, result = town
    assert inspect.signature(generate_candidates).parameters["rgap"].default == 1e-6
    calls = []
    real = generate.assign

    def recording(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(generate, "assign", recording)
    # a base equilibrium given by the caller is used as is
    given = generate_candidates(
        study.network, study.demand, result=result, rgap=1e-3, distance_factor=5.0
    )
    assert calls == [] and given.ids == town_cs.ids
    weights = {"toll_factor": 0.5, "distance_factor": 0.3}
    own = generate_candidates(study.network, study.demand, rgap=1e-5, **weights)
    assert calls == [{"rgap": 1e-5, **weights}]
    # ... and solving it here is the same as giving that equilibrium
    base = real(study.network, study.demand, rgap=1e-5, **weights)
    assert_same_set(own, generate_candidates(study.network, study.demand, result=base))


def test_all_candidates_applied_keep_the_equilibrium_sound(town, town_cs):
    study, _ = town
    applied, closed = town_cs.apply(np.ones(len(town_cs), dtype=bool))
    assert not closed.any()
    res = assign(applied, study.demand, rgap=1e-6)
    assert res.converged and np.all(res.flow >= 0)
    assert_flow_conserved(applied, study.demand, res.flow)
    base = assign(study.network, study.demand, rgap=1e-6)
    assert res.tstt < base.tstt  # more and better roads on an uncongested town: faster


def test_fewer_candidates_keep_one_of_each_source(town):
    study, result = town
    cs = generate_candidates(study.network, study.demand, result=result, max_candidates=4)
    assert len(cs) == 4
    assert {c.id.split("-")[0] for c in cs.candidates} == {"widen", "upgrade", "new", "access"}
    only = generate_candidates(
        study.network, study.demand, result=result, include=["widen"], max_candidates=3
    )
    assert {c.kind for c in only.candidates} == {"widen"}
    assert (
        generate_candidates(study.network, study.demand, result=result, max_candidates=0).ids == []
    )


def test_terrain_raises_costs(town, town_cs):
    study, result = town
    hilly = generate_candidates(study.network, study.demand, result=result, terrain_factor=1.6)
    assert hilly.ids == town_cs.ids  # ratios of benefit to cost keep their order
    np.testing.assert_allclose(hilly.costs, 1.6 * town_cs.costs)
    mountain = generate_candidates(
        study.network, study.demand, result=result, profile="china-mountain"
    )
    china = generate_candidates(study.network, study.demand, result=result, profile="china")
    wm = {c.id: c.cost for c in mountain.candidates if c.kind == "widen"}
    wc = {c.id: c.cost for c in china.candidates if c.kind == "widen"}
    common = sorted(set(wm) & set(wc))
    assert common
    for cid in common:
        assert wm[cid] == pytest.approx(1.6 * wc[cid])


def test_congested_roads_get_widening_options(town):
    study, _ = town
    dem = study.demand.scaled(12.0)
    res = assign(study.network, dem, rgap=1e-5)
    cs = generate_candidates(study.network, dem, result=res, max_candidates=30)
    widen = [c for c in cs.candidates if c.kind == "widen"]
    assert widen
    net = study.network
    vc = res.flow / net.capacity
    for c in widen:
        assert vc[c.links].max() >= 0.7
        lanes = np.where(np.isfinite(net.lanes[c.links]), net.lanes[c.links], 1.0)
        add = int(c.id.rsplit("+", 1)[1])
        np.testing.assert_allclose(c.scale["capacity"], (lanes + add) / lanes)
    # the two directions of a two-way road are widened together
    pairs = [c for c in widen if len(c.links) >= 2]
    assert pairs


def test_generate_on_west_oakland(data_dir):
    study = open_study(data_dir / "osm" / "West-Oakland.osm.bz2")
    a = generate_candidates(study.network, study.demand, max_candidates=6)
    b = generate_candidates(study.network, study.demand, max_candidates=6)
    assert a.ids == b.ids and np.array_equal(a.costs, b.costs)
    assert 0 < len(a) <= 6 and len(set(a.ids)) == len(a) and np.all(a.costs > 0)
    applied, closed = a.apply(np.ones(len(a), dtype=bool))
    res = assign(applied, study.demand, rgap=1e-6, closed_links=closed)
    assert res.converged
    assert_flow_conserved(applied, study.demand, res.flow, closed)


def test_generate_rejects_networks_it_cannot_price(grid44):
    from networks.synthetic import braess

    net, dem = braess()
    with pytest.raises(InvalidCandidatesError, match="km, km/h and minutes"):
        generate_candidates(net, dem)
    gnet, gdem = grid44
    with pytest.raises(InvalidCandidatesError, match="unknown generator"):
        generate_candidates(gnet, gdem, include=["bridges"])
    res = assign(gnet, gdem)
    with pytest.raises(InvalidCandidatesError, match="pass a result computed on this network"):
        generate_candidates(gnet, gdem, result=dataclasses.replace(res, flow=res.flow[:3]))


def test_generate_on_a_grid_without_osm_tags(grid44):
    net, dem = grid44
    cs = generate_candidates(net, dem, max_candidates=8)
    assert 0 < len(cs) <= 8 and np.all(cs.costs > 0)
    assert all(c.id.split("-")[0] in ("widen", "upgrade", "new", "access") for c in cs.candidates)
    assert set(SOURCES) == {"widen", "upgrade", "missing", "access"}


def test_network_design_instance_round_trips(data_dir, tmp_path):
    from networks import tntp
    from optimizer.candidates import from_instance

    net = tntp.read_net(data_dir / "dndp" / "SiouxFalls" / "SF_DNDP_10_1.txt")
    cs = from_instance(net)
    base = net.replace(candidates=None, validate=False)
    back = read_candidates(write_candidates(cs, tmp_path / "dndp.csv"), base)
    assert_same_set(cs, back)
    np.testing.assert_array_equal(cs.network.toll, back.network.toll)


def test_units_without_a_time_rule_need_free_flow_time(tmp_path):
    from networks.synthetic import braess

    net, _ = braess()  # TNTP-style "file units"
    p = tmp_path / "c.csv"
    p.write_text(
        "id,kind,cost,init_node,term_node,capacity,length,speed\nn,new_link,1,1,2,5,1,1\n"
    )
    with pytest.raises(CandidateFileError, match="do not say how length/speed converts"):
        read_candidates(p, net)
    p.write_text(
        "id,kind,cost,init_node,term_node,capacity,free_flow_time\nn,new_link,1,1,2,5,3\n"
    )
    cs = read_candidates(p, net)
    assert cs.network.free_flow_time[-1] == 3.0 and cs.network.speed[-1] == 0.0
    p.write_text("id,kind,cost,init_node,term_node,road_class\nu,upgrade,1,1,3,primary\n")
    with pytest.raises(CandidateFileError, match="no road profile"):
        read_candidates(p, net)


def test_connectors_and_centroids_are_never_candidates(tmp_path):
    from networks import open_study as _open

    study = _open(zones=8)
    net = study.network
    conn = np.flatnonzero(net.road_class == "connector")
    k = int(conn[0])
    p = tmp_path / "c.csv"
    p.write_text(f"id,kind,cost,link_id,capacity_factor\nx,widen,10,{net.link_ids[k]},2\n")
    with pytest.raises(CandidateFileError, match="zone connector"):
        read_candidates(p, net)
    centroid = (
        int(net.node_ids[net.init[k]])
        if net.no_thru[net.init[k]]
        else int(net.node_ids[net.term[k]])
    )
    road = int(net.node_ids[0])
    p.write_text(f"id,kind,cost,init_node,term_node\ny,new_link,10,{centroid},{road}\n")
    with pytest.raises(CandidateFileError, match="zone centroid"):
        read_candidates(p, net)
