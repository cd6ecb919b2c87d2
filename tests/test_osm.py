"""networks.osm: OSM files, online queries (faked), the built-in town, errors.

No test touches the network: every osmnx download function is replaced by a fake, and a
guard makes any HTTP request fail.
"""

from __future__ import annotations

import bz2
import gzip
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import shapely

from networks import FileFormatError, Network, osm, roads
from networks.network import OSM_UNITS
from networks.zones import largest_scc

FIXTURES = Path(__file__).parent / "fixtures"
TOWN = FIXTURES / "town.osm"
OAKLAND = "West-Oakland.osm.bz2"
PLANET = "planet_10.068,48.135_10.071,48.137.osm"
UTM = re.compile(r"^EPSG:32[67]\d\d$")

# Town fixture facts (see the comment in tests/fixtures/town.osm): nodes 5 and 14 form one
# junction that the default consolidation merges into node J.
J = osm.consolidated_node_id([5, 14])
TOWN_NODES = sorted([J, 1, 3, 4, 6, 11, 13, 21, 22])


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any HTTP request made by osmnx (or anything else using requests) fails the test."""
    import requests

    def refuse(*args, **kwargs):
        raise AssertionError(f"a test tried to reach the network: {args[1:3]}")

    monkeypatch.setattr(requests.sessions.Session, "request", refuse)


@pytest.fixture(scope="module")
def town() -> Network:
    return osm.from_file(TOWN)


@pytest.fixture(scope="module")
def builtin() -> Network:
    return osm.builtin_town()


def links_of(net: Network) -> dict[tuple[int, int], int]:
    ids = net.node_ids
    return {
        (int(ids[a]), int(ids[b])): k
        for k, (a, b) in enumerate(zip(net.init, net.term, strict=True))
    }


def osm_node_ids(path: Path) -> set[int]:
    opener = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rb") as fh:
        root = ET.parse(fh).getroot()
    return {int(n.get("id")) for n in root.iter("node")}


def check_contract(net: Network, raw_ids: set[int]) -> None:
    """Properties every OSM network must have."""
    m = net.num_links
    assert m > 0 and net.num_nodes > 1
    assert UTM.match(net.crs)
    assert net.units == OSM_UNITS
    assert np.all(np.isfinite(net.free_flow_time)) and np.all(net.free_flow_time > 0)
    assert np.all(np.isfinite(net.capacity)) and np.all(net.capacity > 0)
    assert np.all(net.length > 0) and np.all(net.speed > 0) and np.all(net.lanes >= 1)
    np.testing.assert_allclose(net.free_flow_time, net.length / net.speed * 60.0)
    assert net.link_ids.tolist() == list(range(1, m + 1))
    assert net.link_type.min() >= 1
    for key in ("osm_way_ids", "geometry", "name", "ref"):
        assert len(net.extra[key]) == m, key
    # node ids: OSM ids, or consolidated nodes whose members are OSM ids
    members = net.extra["consolidated_nodes"]
    for nid in net.node_ids.tolist():
        if nid < 0:
            assert set(members[nid]) <= raw_ids
            assert osm.consolidated_node_id(members[nid]) == nid
        else:
            assert nid in raw_ids
    # geometries run from tail to head, in the network CRS
    for k in range(0, m, max(1, m // 25)):
        g = net.extra["geometry"][k]
        a, b = net.init[k], net.term[k]
        assert shapely.Point(g.coords[0]).distance(shapely.Point(net.x[a], net.y[a])) < 1e-6
        assert shapely.Point(g.coords[-1]).distance(shapely.Point(net.x[b], net.y[b])) < 1e-6
        assert g.length / 1000.0 == pytest.approx(net.length[k])
    # every node is in the core (the largest strongly connected component) or on a road
    # piece between the core and a road end at the study-area edge
    core = largest_scc(net)
    if not core.all():
        import scipy.sparse as sp
        from scipy.sparse.csgraph import breadth_first_order

        n = net.num_nodes
        g = sp.csr_array((np.ones(m), (net.init, net.term)), shape=(n, n))
        ends = {e["role"]: [] for e in net.extra["boundary_ends"]}
        for e in net.extra["boundary_ends"]:
            ends[e["role"]].append(net.node_index(e["node_id"]))
        seen = core.copy()
        for i in ends.get("in", []):
            seen[breadth_first_order(g, i, directed=True, return_predecessors=False)] = True
        for i in ends.get("out", []):
            seen[breadth_first_order(g.T, i, directed=True, return_predecessors=False)] = True
        assert seen.all()
    net.validate()


def test_utm_zone_is_chosen_from_the_position():
    assert osm.utm_crs(104.77, 29.35) == "EPSG:32648"  # Zigong
    assert osm.utm_crs(-122.29, 37.81) == "EPSG:32610"  # Oakland
    assert osm.utm_crs(151.2, -33.9) == "EPSG:32756"  # Sydney
    assert osm.utm_crs(180.0, 0.0) == "EPSG:32660"


def test_consolidated_ids_are_negative_and_order_free():
    a = osm.consolidated_node_id([5, 3, 9])
    assert a == osm.consolidated_node_id([9, 5, 3, 3]) < 0
    assert a != osm.consolidated_node_id([5, 3])
    assert a >= -(2**62)


# ---------------------------------------------------------------------- the town fixture
def test_town_nodes_links_and_ids(town):
    assert town.crs == "EPSG:32648"
    # 2 and 12 simplified away; 5 and 14 consolidated into J; 31 and 41 dropped
    assert town.node_ids.tolist() == TOWN_NODES
    assert town.extra["consolidated_nodes"] == {J: (5, 14)}
    assert town.num_links == 16
    assert town.extra["dropped_nodes"] == 1  # the one-way stub's end
    check_contract(town, osm_node_ids(TOWN))


def test_town_oneway_handling(town):
    links = links_of(town)
    assert (3, 11) in links and (11, 3) not in links  # oneway=yes
    assert (13, J) in links and (J, 13) not in links  # oneway=-1
    assert (4, 21) in links and (21, 4) in links  # oneway=no
    assert (11, 13) in links and (13, 11) in links  # untagged: two-way
    assert not any(31 in pair or 41 in pair for pair in links)


def test_town_tags_and_class_defaults(town):
    links = links_of(town)
    k = links[(1, 3)]  # trunk, lanes=4, maxspeed=50 mph
    assert town.road_class[k] == "trunk" and town.link_type[k] == roads.LINK_TYPE["trunk"]
    assert town.lanes[k] == 2.0  # 4 lanes on a two-way road: 2 per direction
    assert town.speed[k] == pytest.approx(80.4672)
    assert town.capacity[k] == 2 * roads.GENERIC_TABLE["trunk"][2]
    assert (town.alpha[k], town.beta[k]) == roads.BPR_BY_CLASS["trunk"]
    assert town.length[k] == pytest.approx(0.3, rel=1e-3)
    assert town.free_flow_time[k] == pytest.approx(0.3 / 80.4672 * 60, rel=1e-3)
    assert town.extra["osm_way_ids"][k] == (100,)
    assert town.extra["ref"][k] == "G321" and town.extra["name"][k] == "West Trunk"
    assert len(town.extra["geometry"][k].coords) == 3  # the simplified vertex 2 stays in it
    k = links[(4, J)]  # trunk, lanes=2;3, maxspeed=none
    assert town.length[k] == pytest.approx(0.306, rel=1e-3)  # extended to J's centroid
    assert town.lanes[k] == 1.0 and town.speed[k] == roads.GENERIC_TABLE["trunk"][0]
    k = links[(4, 21)]  # residential, lanes=2 two-way, maxspeed=RU:urban
    assert town.lanes[k] == 1.0 and town.speed[k] == 60.0
    k = links[(11, 13)]  # residential, lanes=none, maxspeed=signals
    assert town.lanes[k] == 1.0 and town.speed[k] == roads.GENERIC_TABLE["residential"][0]
    assert town.capacity[k] == roads.GENERIC_TABLE["residential"][2]
    assert town.extra["osm_way_ids"][k] == (201,)
    k = links[(21, 22)]  # tertiary with garbage tags
    assert town.speed[k] == roads.GENERIC_TABLE["tertiary"][0]
    assert town.lanes[k] == 1.0 and (town.alpha[k], town.beta[k]) == roads.BPR_BY_CLASS["tertiary"]


def test_town_china_profile_uses_its_own_defaults():
    net = osm.from_file(TOWN, profile="china")
    links = links_of(net)
    k = links[(11, 13)]
    assert net.speed[k] == roads.CHINA_TABLE["residential"][0]
    assert net.capacity[k] == roads.CHINA_TABLE["residential"][2]
    assert net.speed[links[(1, 3)]] == pytest.approx(80.4672)  # a tagged limit wins
    assert net.extra["profile"] == "china"


def test_simplification_never_merges_different_tags(town):
    # way 100 (4 lanes, 50 mph) and way 101 (2;3 lanes, none) meet at node 4: two links
    links = links_of(town)
    assert town.extra["osm_way_ids"][links[(3, 4)]] == (100,)
    assert town.extra["osm_way_ids"][links[(4, J)]] == (101,)
    raw = osm.from_file(TOWN, simplify=False, consolidate=False)
    assert 2 in raw.node_ids and 12 in raw.node_ids
    simple = osm.from_file(TOWN, consolidate=False)
    assert 2 not in simple.node_ids and 12 not in simple.node_ids
    assert raw.length.sum() == pytest.approx(simple.length.sum())


def test_consolidation_gives_stable_documented_ids(town):
    again = osm.from_file(TOWN)
    np.testing.assert_array_equal(again.node_ids, town.node_ids)
    np.testing.assert_array_equal(again.free_flow_time, town.free_flow_time)
    j = town.node_index(J)
    assert (town.x[j], town.y[j]) == pytest.approx((477674 + 300, 3246786 + 6), abs=0.05)
    off = osm.from_file(TOWN, consolidate=False)
    assert {5, 14} <= set(off.node_ids.tolist()) and J not in off.node_ids
    assert off.num_links == 18  # plus 5 <-> 14
    assert not off.extra["consolidated_nodes"] and off.extra["consolidation_tolerance_m"] is None
    # a large tolerance merges more, still with documented ids
    wide = osm.from_file(TOWN, tolerance=100.0)
    assert wide.num_nodes <= town.num_nodes
    for nid, mem in wide.extra["consolidated_nodes"].items():
        assert nid < 0 and len(mem) > 1 and osm.consolidated_node_id(mem) == nid
    check_contract(wide, osm_node_ids(TOWN))


def test_bbox_clips_a_file_and_becomes_the_study_area(town):
    bbox = (104.7600, 29.3420, 104.7700, 29.3530)  # west of node 4's meridian (104.77)
    net = osm.from_file(TOWN, bbox=bbox)
    assert set(net.node_ids.tolist()) < set(town.node_ids.tolist())
    assert 6 not in net.node_ids and 1 in net.node_ids
    b = net.extra["boundary"]
    assert b.contains(shapely.Point(net.x[0], net.y[0]))
    assert b.area == pytest.approx(
        osm._project_geom(shapely.box(*bbox), "EPSG:4326", net.crs).area
    )


def test_compressed_xml_reads_the_same(tmp_path, town):
    data = TOWN.read_bytes()
    (tmp_path / "town.osm.bz2").write_bytes(bz2.compress(data))
    (tmp_path / "town.osm.gz").write_bytes(gzip.compress(data))
    for name in ("town.osm.bz2", "town.osm.gz"):
        net = osm.from_file(tmp_path / name)
        np.testing.assert_array_equal(net.node_ids, town.node_ids)
        np.testing.assert_allclose(net.free_flow_time, town.free_flow_time)


def test_graphml_reads_the_same(tmp_path, town):
    import osmnx as ox

    G = ox.graph_from_xml(TOWN, simplify=False, retain_all=True)
    ox.save_graphml(G, tmp_path / "town.graphml")
    net = osm.from_file(tmp_path / "town.graphml")
    np.testing.assert_array_equal(net.node_ids, town.node_ids)
    np.testing.assert_array_equal(net.init, town.init)
    np.testing.assert_array_equal(net.term, town.term)
    np.testing.assert_allclose(net.free_flow_time, town.free_flow_time)
    np.testing.assert_allclose(net.capacity, town.capacity)


def test_read_buildings_of_xml_and_pbf():
    b = osm.read_buildings(TOWN, crs="EPSG:32648")
    assert len(b) == 1
    assert b.geometry.iloc[0].area == pytest.approx(60 * 40, rel=1e-3)
    import pyrosm

    pb = osm.read_buildings(pyrosm.get_data("test_pbf"))
    assert len(pb) > 2000 and set(pb.geometry.geom_type) <= {"Polygon", "MultiPolygon"}


# ---------------------------------------------------------------------- real extracts
@pytest.mark.parametrize("name", [OAKLAND, PLANET])
def test_shared_osm_extracts_load(data_dir, name):
    path = data_dir / "osm" / name
    net = osm.from_file(path, profile="china")
    check_contract(net, osm_node_ids(path))
    assert net.extra["source_path"] == str(path)


def test_west_oakland(data_dir):
    net = osm.from_file(data_dir / "osm" / OAKLAND)
    assert net.crs == "EPSG:32610"
    assert set(net.road_class) <= {"secondary", "residential", "unclassified"}
    assert "secondary" in set(net.road_class)
    assert net.num_nodes >= 15


def test_builtin_town(builtin):
    import pyrosm

    assert builtin.crs == "EPSG:32635"
    assert builtin.name == "builtin-town"
    assert 150 <= builtin.num_nodes <= 300 and 350 <= builtin.num_links <= 600
    assert {"motorway", "secondary", "tertiary", "residential"} <= set(builtin.road_class)
    assert builtin.extra["consolidated_nodes"]
    nodes, _ = pyrosm.OSM(pyrosm.get_data("test_pbf")).get_network(nodes=True, network_type="all")
    check_contract(builtin, set(nodes["id"].astype(np.int64).tolist()))
    assert osm.builtin_town() is builtin  # cached


def test_pbf_clipped_to_a_bbox():
    import pyrosm

    full = osm.builtin_town()
    net = osm.from_file(pyrosm.get_data("test_pbf"), bbox=(26.93, 60.52, 26.95, 60.53))
    assert 0 < net.num_nodes < full.num_nodes
    lon_lat = osm._project_geom(
        shapely.MultiPoint(np.column_stack([net.x, net.y])), net.crs, "EPSG:4326"
    )
    w, s, e, n = lon_lat.bounds
    assert w >= 26.929 and e <= 26.951 and s >= 60.519 and n <= 60.531


# ---------------------------------------------------------------------- bad input
def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(FileNotFoundError):
        osm.from_file(tmp_path / "nope.osm")
    p = tmp_path / "roads.txt"
    p.write_text("hello")
    with pytest.raises(FileFormatError, match=r"roads\.txt.*unknown extension"):
        osm.from_file(p)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("a.osm", b"hello, not xml", "not OSM XML"),
        ("b.osm", b'<?xml version="1.0"?><gpx><trk/></gpx>', "not OSM XML"),
        ("c.osm", b"", "empty"),
        ("d.osm.bz2", b"not bzip2 at all", "decompress"),
        ("e.osm.gz", b"not gzip at all", "decompress"),
        ("f.osm.pbf", b"just some text, not a pbf\n" * 10, "not an OSM PBF"),
        ("g.graphml", b"<osm></osm>", "not GraphML"),
    ],
)
def test_wrong_format_is_a_file_format_error(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(FileFormatError, match=match) as exc:
        osm.from_file(p)
    assert name in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_truncated_xml(tmp_path):
    data = TOWN.read_bytes()
    p = tmp_path / "cut.osm"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match=r"cut\.osm.*not valid OSM XML"):
        osm.from_file(p)
    q = tmp_path / "cut.osm.bz2"
    q.write_bytes(bz2.compress(data)[:300])
    with pytest.raises(FileFormatError, match=r"cut\.osm\.bz2"):
        osm.from_file(q)


def test_truncated_pbf(tmp_path):
    import pyrosm

    data = Path(pyrosm.get_data("test_pbf")).read_bytes()
    p = tmp_path / "cut.osm.pbf"
    p.write_bytes(data[:60_000])
    with pytest.raises(FileFormatError, match=r"cut\.osm\.pbf.*truncated or corrupt"):
        osm.from_file(p)


@pytest.mark.parametrize(
    ("bbox", "match"),
    [
        ((104.78, 29.34, 104.76, 29.36), "west 104.78 is not less than east"),
        ((104.76, 29.36, 104.78, 29.34), "south 29.36 is not less than north"),
        ((29.34, 104.76, 29.36, 104.78), "latitudes"),
        ((1, 2, 3), "four"),
        ("abcd", "four numbers"),
        ((0, 0, float("nan"), 1), "finite"),
    ],
)
def test_bbox_in_the_wrong_order(bbox, match):
    with pytest.raises(osm.BoundingBoxError, match=match) as exc:
        osm.from_bbox(bbox)
    assert isinstance(exc.value, ValueError)
    assert "(west, south, east, north)" in str(exc.value)
    with pytest.raises(osm.BoundingBoxError):
        osm.from_file(TOWN, bbox=bbox)


def test_area_without_drivable_roads(tmp_path):
    with pytest.raises(osm.NoDrivableRoadsError, match="no drivable roads"):
        osm.from_file(TOWN, bbox=(100.0, 20.0, 100.01, 20.01))
    p = tmp_path / "paths.osm"
    p.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<node id="1" lat="29.35" lon="104.77"/><node id="2" lat="29.351" lon="104.771"/>'
        '<way id="9"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way></osm>'
    )
    with pytest.raises(osm.NoDrivableRoadsError, match=r"paths\.osm.*no drivable road"):
        osm.from_file(p)
    q = tmp_path / "empty.osm"
    q.write_text('<?xml version="1.0"?><osm version="0.6"></osm>')
    with pytest.raises(osm.NoDrivableRoadsError, match=r"empty\.osm"):
        osm.from_file(q)


def test_a_one_way_only_area_has_no_strongly_connected_network(tmp_path):
    p = tmp_path / "oneway.osm"
    p.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<node id="1" lat="29.35" lon="104.77"/><node id="2" lat="29.351" lon="104.771"/>'
        '<way id="9"><nd ref="1"/><nd ref="2"/><tag k="highway" v="primary"/>'
        '<tag k="oneway" v="yes"/></way></osm>'
    )
    with pytest.raises(osm.NoDrivableRoadsError, match="strongly connected"):
        osm.from_file(p)


# ---------------------------------------------------------------------- online (faked)
def town_box(pad: float = 0.001) -> shapely.Polygon:
    import osmnx as ox

    G = ox.graph_from_xml(TOWN, simplify=False, retain_all=True)
    xs = [d["x"] for _, d in G.nodes(data=True)]
    ys = [d["y"] for _, d in G.nodes(data=True)]
    return shapely.box(min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad)


@pytest.fixture
def fake_osmnx(monkeypatch):
    """osmnx's download functions replaced by fakes serving the town fixture."""
    import geopandas as gpd
    import osmnx as ox

    calls: dict[str, list] = {"geocode": [], "polygon": []}

    def geocode_to_gdf(query, which_result=None, by_osmid=False):
        calls["geocode"].append(query)
        if "Nowhere" in str(query):
            raise ox._errors.InsufficientResponseError(
                f"Nominatim did not geocode query {query!r}"
            )
        if "Point" in str(query):
            return gpd.GeoDataFrame(geometry=[shapely.Point(104.77, 29.35)], crs="EPSG:4326")
        return gpd.GeoDataFrame(geometry=[town_box()], crs="EPSG:4326")

    def graph_from_polygon(polygon, *, custom_filter=None, simplify=True, retain_all=False, **kw):
        calls["polygon"].append((polygon, custom_filter, simplify, retain_all))
        if not polygon.intersects(town_box()):
            raise ox._errors.InsufficientResponseError("No data elements in server response")
        if polygon.bounds[0] < -179:
            raise ConnectionError("Max retries exceeded")
        G = ox.graph_from_xml(TOWN, simplify=False, retain_all=True)
        return ox.truncate.truncate_graph_polygon(G, polygon)

    monkeypatch.setattr(ox, "geocode_to_gdf", geocode_to_gdf)
    monkeypatch.setattr(ox, "graph_from_polygon", graph_from_polygon)
    return calls


def test_from_place_with_a_fake_osmnx(fake_osmnx, town):
    net = osm.from_place("Ziliujing District, Zigong, Sichuan, China", profile="china")
    assert fake_osmnx["geocode"] == ["Ziliujing District, Zigong, Sichuan, China"]
    poly, flt, simplify, retain_all = fake_osmnx["polygon"][0]
    assert simplify is False and retain_all is True
    assert '"highway"~"^(motorway|' in flt and "track" in flt and "private" in flt
    np.testing.assert_array_equal(net.node_ids, town.node_ids)
    assert net.name == "Ziliujing District, Zigong, Sichuan, China"
    assert net.crs == "EPSG:32648"
    assert net.extra["boundary"].area == pytest.approx(
        osm._project_geom(poly, "EPSG:4326", net.crs).area
    )
    check_contract(net, osm_node_ids(TOWN))


def test_from_bbox_and_polygon_with_a_fake_osmnx(fake_osmnx, town):
    w, s, e, n = town_box().bounds
    net = osm.from_bbox((w, s, e, n))
    np.testing.assert_array_equal(net.node_ids, town.node_ids)
    np.testing.assert_allclose(net.free_flow_time, town.free_flow_time)
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(geometry=[town_box()], crs="EPSG:4326").to_crs("EPSG:32648")
    net2 = osm.from_polygon(gdf)
    np.testing.assert_array_equal(net2.node_ids, town.node_ids)
    assert fake_osmnx["polygon"][1][0].equals_exact(town_box(), 1e-6)


def test_online_errors_are_wrapped(fake_osmnx):
    with pytest.raises(osm.PlaceNotFoundError, match="Nowhereland") as exc:
        osm.from_place("Nowhereland, Atlantis")
    assert isinstance(exc.value, ValueError)
    with pytest.raises(osm.PlaceNotFoundError, match="Point"):
        osm.from_place("Point of interest")
    with pytest.raises(osm.NoDrivableRoadsError, match="no drivable roads"):
        osm.from_bbox((10.0, 10.0, 10.01, 10.01))
    with pytest.raises(osm.OSMQueryError, match="download failed"):
        osm.from_bbox((-179.9, 29.0, 104.8, 29.4))
    with pytest.raises(osm.BoundingBoxError):
        osm.from_polygon(shapely.Point(104.7, 29.3))
    # the osmnx settings are restored after each call
    import osmnx as ox

    assert "lanes:forward" not in ox.settings.useful_tags_way


def test_fft_matches_speed_everywhere(builtin):
    fft = builtin.length / builtin.speed * 60.0
    assert np.allclose(builtin.free_flow_time, fft)
    assert math.isclose(
        float(builtin.length.sum()), sum(g.length for g in builtin.extra["geometry"]) / 1000
    )
