"""The demand model: zones, gateways, the gravity model and the synthesized demand.

networks.zones, networks.gateways, networks.gravity and networks.zoning.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from networks import (
    Demand,
    FileFormatError,
    InvalidDemandError,
    InvalidNetworkError,
    Network,
    connectors,
    gateways,
    gravity,
    osm,
    zones,
    zoning,
)
from networks.synthetic import braess, grid

TOWN = Path(__file__).parent / "fixtures" / "town.osm"
J = osm.consolidated_node_id([5, 14])  # the town's consolidated junction
X0, Y0 = 477674.0, 3246786.0  # the town's origin in EPSG:32648


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to reach the network")

    monkeypatch.setattr(requests.sessions.Session, "request", refuse)


@pytest.fixture(scope="module")
def town() -> Network:
    return osm.from_file(TOWN)


@pytest.fixture(scope="module")
def extracts(data_dir) -> dict[str, Network]:
    import pyrosm

    return {
        "oakland": osm.from_file(data_dir / "osm" / "West-Oakland.osm.bz2"),
        "planet": osm.from_file(
            data_dir / "osm" / "planet_10.068,48.135_10.071,48.137.osm", profile="china"
        ),
        "pbf": osm.from_file(pyrosm.get_data("test_pbf")),
    }


def check_model(net: Network, m: zoning.DemandModel) -> None:
    """Properties every synthesized demand must have."""
    d = m.demand
    z, g = m.zones.num_zones, m.gateways.num_gateways
    assert d.num_zones == z + g
    # the demand loads at centroids that the model's network adds to the roads
    full = m.network
    assert full is not None and m.system is not None
    assert d.zone_node_ids.tolist() == (-d.zone_ids).tolist()
    cen = full.node_indices(d.zone_node_ids)
    assert full.no_thru[cen].all() and not full.no_thru[: net.num_nodes].any()
    m0 = net.num_links
    assert np.array_equal(full.init[:m0], net.init) and np.array_equal(full.term[:m0], net.term)
    conn = full.road_class[m0:] == "connector"
    assert conn.all() and np.all(full.alpha[m0:] == 0)
    # every internal zone loads at nodes of the roads' core, both ways, never only at one
    # where the network has two
    eligible = connectors.loading_nodes(net)
    for k in range(z):
        nodes = net.node_indices(list(m.system.loading[k]))
        assert nodes.size >= min(2, int(eligible.sum())) and eligible[nodes].all()
        c = cen[k]
        out_to = set(full.term[m0:][full.init[m0:] == c].tolist())
        in_from = set(full.init[m0:][full.term[m0:] == c].tolist())
        assert out_to == in_from == set(nodes.tolist())
    assert d.internal.tolist() == [True] * z + [False] * g
    assert d.period == "design hour" and d.period_hours == 1.0
    mat = d.dense()
    assert np.all(np.isfinite(mat)) and np.all(mat >= 0)
    np.testing.assert_allclose(mat.sum(axis=1), m.origins, atol=1e-6)
    np.testing.assert_allclose(mat.sum(axis=0), m.destinations, atol=1e-6)
    assert m.gravity is not None and m.gravity.converged
    assert np.all(np.diag(mat)[z:] == 0)  # no trips from a gateway to itself
    assert d.total > 0
    # targets: trip rate x activity x K factor x growth, plus the gateways' share
    p = m.parameters
    internal = p["trip_rate"] * m.zones.activity * p["design_hour_factor"] * p["growth_factor"]
    np.testing.assert_allclose(m.origins[:z], internal)
    if g:
        share = m.origins[z:].sum() / m.origins.sum()
        assert share == pytest.approx(p["external_share"])
    assert np.all(m.cost >= 0) and np.all(np.isfinite(m.cost[:z, :z]))
    # a gateway that is only an entry (only an exit) is reached from (reaches) nothing, and
    # gets no trips that way; every other gateway is joined to the rest
    for j in range(g):
        enters, leaves = bool(m.gateways.entries(j)), bool(m.gateways.exits(j))
        assert np.isfinite(m.cost[z + j]).any() == enters
        assert np.isfinite(m.cost[:, z + j]).any() == leaves
        assert (mat[z + j].sum() > 0) <= enters and (mat[:, z + j].sum() > 0) <= leaves


# ---------------------------------------------------------------------- gravity
def test_gravity_meets_row_and_column_targets():
    rng = np.random.default_rng(3)
    z = 7
    O = rng.uniform(10, 100, z)
    D = rng.permutation(O) * 1.0
    C = rng.uniform(1, 30, (z, z))
    r = gravity.gravity(O, D, C, beta=0.08)
    assert r.converged and r.max_error < 1e-6
    np.testing.assert_allclose(r.matrix.sum(axis=1), O, atol=1e-8)
    np.testing.assert_allclose(r.matrix.sum(axis=0), D, atol=1e-8)
    # the structure is a_i O_i b_j D_j exp(-beta c_ij)
    F = np.exp(-0.08 * C)
    expect = (r.a * O)[:, None] * F * (r.b * D)[None, :]
    np.testing.assert_allclose(r.matrix, expect)
    # a forbidden pair carries nothing; unreachable (inf) pairs neither
    allowed = np.ones((z, z), dtype=bool)
    allowed[0, 1] = False
    C2 = C.copy()
    C2[2, 3] = np.inf
    r2 = gravity.gravity(O, D, C2, allowed=allowed, deterrence=lambda t: 1.0 / (1.0 + t) ** 2)
    assert r2.matrix[0, 1] == 0 and r2.matrix[2, 3] == 0 and r2.converged


def test_gravity_rejects_bad_targets_and_reports_infeasible_ones():
    with pytest.raises(ValueError, match="differs"):
        gravity.gravity([1.0, 2.0], [1.0, 1.0], np.ones((2, 2)))
    with pytest.raises(ValueError, match=">= 0"):
        gravity.gravity([-1.0, 2.0], [1.0, 0.0], np.ones((2, 2)))
    with pytest.raises(ValueError, match="cost matrix"):
        gravity.gravity([1.0, 1.0], [1.0, 1.0], np.ones((3, 3)))
    # zone 0 may only send to itself, but zone 0 may not receive: infeasible
    allowed = np.array([[False, True], [True, True]])
    C = np.array([[1.0, np.inf], [1.0, 1.0]])
    r = gravity.gravity([5.0, 1.0], [5.0, 1.0], C, allowed=allowed, max_iter=50)
    assert not r.converged and r.iterations == 50


# ---------------------------------------------------------------------- the town fixture
def test_town_gateways_on_the_trunk_road(town):
    gw = gateways.find_gateways(town)
    assert sorted(gw.node_ids.tolist()) == [1, 6]
    assert set(gw.road_class) == {"trunk"} and set(gw.ref) == {"G321"}
    np.testing.assert_allclose(gw.boundary_distance, 0.0, atol=1e-6)
    # weights: capacity of the trunk links entering each gateway
    w = dict(zip(gw.node_ids.tolist(), gw.weight.tolist(), strict=True))
    assert w == {1: 3600.0, 6: 1800.0}
    assert gateways.find_gateways(town, refs=["g321"]).num_gateways == 2
    assert gateways.find_gateways(town, refs=["X999"]).num_gateways == 2  # warned, ignored
    # another class: the tertiary road's dead end at node 22 is on the boundary
    ter = gateways.find_gateways(town, classes=["tertiary"])
    assert 22 in ter.node_ids
    gdf = gw.to_geodataframe()
    assert len(gdf) == 2 and gdf.crs.to_epsg() == 32648


def test_gateways_are_deduplicated_by_distance(town):
    gw = gateways.find_gateways(town, classes=["trunk"], max_distance=500.0, min_separation=200.0)
    # within 500 m of the hull: 1, 3, 4, J and 6; 300 m apart, so none is a duplicate
    assert sorted(gw.node_ids.tolist()) == sorted([1, 3, 4, J, 6])
    gw = gateways.find_gateways(town, classes=["trunk"], max_distance=500.0, min_separation=700.0)
    assert gw.node_ids.tolist()[0] in (1, 6)  # on the boundary: first
    xy = np.column_stack([gw.x, gw.y])
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    assert np.all(d[np.triu_indices(len(xy), 1)] >= 700.0)


def test_user_gateways_at_points(town):
    import pyproj

    tf = pyproj.Transformer.from_crs("EPSG:32648", "EPSG:4326", always_xy=True)
    lonlat = [tf.transform(X0 - 590, Y0 - 290), tf.transform(X0 + 610, Y0 + 5)]
    gw = gateways.gateways_at(town, lonlat)
    assert gw.node_ids.tolist() == [22, 6] and gw.source == "user"
    assert gw.road_class.tolist() == ["tertiary", "trunk"]
    gw2 = gateways.gateways_at(town, [(X0 - 600, Y0 - 300)], crs=None)
    assert gw2.node_ids.tolist() == [22]


def test_town_zones_and_demand(town):
    m = zoning.demand_model(town, zones=2, seed=0, buildings=None)
    check_model(town, m)
    assert m.zones.zone_ids.tolist() == [1, 2] and m.zones.source == "kmeans"
    assert m.zones.activity_unit == "road-km"
    # gateways where the roads cross the edge: both ends of the trunk road, the tertiary end
    assert sorted(m.gateways.node_ids.tolist()) == [1, 6, 22]
    assert m.gateways.source == "edge" and set(m.gateways.ref) == {"G321", ""}
    assert m.demand.zone_ids.tolist() == [1, 2, 3, 4, 5]  # gateways numbered after the zones
    # road-km activity: each link's km x class weight / 2, summed by the tail node's zone
    w = np.array([zones.ROAD_ACTIVITY_WEIGHT[c] for c in town.road_class])
    assert m.zones.activity.sum() == pytest.approx((town.length * w).sum() / 2)
    # gateways share the external trips by the capacity entering there (3600 : 1800 : 800)
    ext = m.origins[2:]
    gw_w = m.gateways.weight
    np.testing.assert_allclose(ext / ext.sum(), gw_w / gw_w.sum())
    np.testing.assert_allclose(gw_w, [3600.0, 1800.0, 800.0])
    # each zone's first loading node is its highest-class node nearest the centre
    for k in range(2):
        first = m.system.loading[k][0]
        assert first in town.node_ids[m.zones.node_zone == k]
    # the trunk road's junctions are the access points
    assert set(m.access.kind) == {"trunk"} and m.access.num_points >= 2
    assert m.network.extra["access_points"]["node_ids"] == m.access.node_ids.tolist()
    gdf = m.zones.to_geodataframe()
    assert len(gdf) == 2 and gdf.geometry.area.sum() == pytest.approx(town.extra["boundary"].area)


def test_demand_is_reproducible_and_seeded(town):
    a = zoning.synthesize_demand(town, zones=3, seed=7)
    b = zoning.synthesize_demand(town, zones=3, seed=7)
    np.testing.assert_array_equal(a.dense(), b.dense())
    np.testing.assert_array_equal(a.zone_node_ids, b.zone_node_ids)
    assert isinstance(a, Demand) and a.period == "design hour"


def test_parameters_scale_the_demand(town):
    base = zoning.demand_model(town, zones=2, buildings=None)
    double = zoning.demand_model(town, zones=2, buildings=None, trip_rate=400.0)
    assert double.demand.dense().sum() == pytest.approx(2 * base.demand.dense().sum())
    none = zoning.demand_model(town, zones=2, buildings=None, gateways=False)
    assert none.gateways.num_gateways == 0 and none.demand.internal.all()
    half = zoning.demand_model(town, zones=2, buildings=None, external_share=0.5)
    z = half.zones.num_zones
    assert half.origins[z:].sum() == pytest.approx(half.origins[:z].sum())
    with pytest.raises(ValueError, match="external_share"):
        zoning.demand_model(town, external_share=1.0)


def test_zone_count_errors(town):
    with pytest.raises(ValueError, match="between 1 and 9"):
        zones.cluster_zones(town, n_zones=10)
    with pytest.raises(ValueError, match="between 1"):
        zones.cluster_zones(town, n_zones=0)
    assert zones.default_zone_count(9) == 2 and zones.default_zone_count(10**6) == 50


def test_network_without_coordinates_is_rejected():
    net, _ = braess()
    with pytest.raises(InvalidNetworkError, match="coordinates"):
        zoning.synthesize_demand(net)


def test_a_network_without_road_classes_gets_gateways_by_capacity():
    net, _ = grid(5, 5, seed=2)
    net = net.replace(road_class="")
    m = zoning.demand_model(net, zones=3, seed=1)
    check_model(net, m)
    assert m.gateways.num_gateways >= 1


# ---------------------------------------------------------------------- user zones
def write_zones(path: Path, features: list[tuple[list, dict]]) -> Path:
    import pyproj

    tf = pyproj.Transformer.from_crs("EPSG:32648", "EPSG:4326", always_xy=True)
    feats = []
    for ring, props in features:
        coords = [list(tf.transform(X0 + x, Y0 + y)) for x, y in ring]
        feats.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "Polygon", "coordinates": [[*coords, coords[0]]]},
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


WEST = [(-700, -400), (-100, -400), (-100, 400), (-700, 400)]
EAST = [(-100, -400), (700, -400), (700, 400), (-100, 400)]
EMPTY = [(2000, 2000), (2100, 2000), (2100, 2100), (2000, 2100)]


def test_zones_from_a_users_polygons(town, tmp_path):
    p = write_zones(
        tmp_path / "zones.geojson",
        [(WEST, {"zone_id": 10, "population": 1200}), (EAST, {"zone_id": 20, "population": 800})],
    )
    zs = zones.zones_from_polygons(p, town)
    assert zs.zone_ids.tolist() == [10, 20] and zs.activity_unit == "persons"
    assert zs.activity.tolist() == [1200.0, 800.0]
    west = {1, 3, 11, 22}
    assert int(zs.node_ids[0]) in west and int(zs.node_ids[1]) not in west
    assert {int(town.node_ids[i]) for i in np.flatnonzero(zs.node_zone == 0)} == west
    m = zoning.demand_model(town, zones=p)
    check_model(town, m)
    assert m.zones.activity_unit == "persons"
    rate = gravity.trip_rate("persons", town.extra["profile"])
    assert m.origins[:2].sum() == pytest.approx(2000 * rate * gravity.DESIGN_HOUR_FACTOR)
    assert m.demand.zone_ids.tolist() == [10, 20, 21, 22, 23]


def test_zone_polygons_without_population_use_a_proxy(town, tmp_path):
    p = write_zones(tmp_path / "z.geojson", [(WEST, {}), (EAST, {})])
    zs = zones.zones_from_polygons(p, town)
    assert zs.zone_ids.tolist() == [1, 2] and zs.activity_unit == "road-km"
    assert np.all(zs.activity > 0)


def test_a_zone_covering_no_node_is_an_error(town, tmp_path):
    p = write_zones(tmp_path / "z.geojson", [(WEST, {"zone_id": 1}), (EMPTY, {"zone_id": 7})])
    with pytest.raises(InvalidDemandError, match=r"z\.geojson: zone 7 \(row 2\) covers no node"):
        zones.zones_from_polygons(p, town)


def test_bad_zone_files(town, tmp_path):
    import geopandas as gpd
    import shapely

    with pytest.raises(FileNotFoundError):
        zones.zones_from_polygons(tmp_path / "missing.geojson", town)
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    with pytest.raises(FileFormatError, match=r"bad\.geojson"):
        zones.zones_from_polygons(bad, town)
    nocrs = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)])
    with pytest.raises(FileFormatError, match="no CRS"):
        zones.zones_from_polygons(nocrs, town)
    p = write_zones(tmp_path / "pop.geojson", [(WEST, {"population": -5})])
    with pytest.raises(FileFormatError, match="population"):
        zones.zones_from_polygons(p, town)


# ---------------------------------------------------------------------- user OD matrix
def test_a_users_od_matrix_overrides_the_gravity_model(town, tmp_path):
    zs = zones.cluster_zones(town, n_zones=2, seed=0)
    gw = gateways.gateways_from_edge(town)
    od = tmp_path / "od.csv"
    od.write_text("origin,destination,trips\n1,2,10\n2,1,5.5\n3,4,2\n1,2,1\n")
    ids = np.array([1, 2, 3, 4])
    d = gravity.demand_from_od(
        od, ids, -ids, np.array([True, True, False, False]), period="am peak", period_hours=1.0
    )
    mat = d.dense()
    assert mat[0, 1] == 11.0 and mat[1, 0] == 5.5 and mat[2, 3] == 2.0 and mat.sum() == 18.5
    assert d.period == "am peak" and d.internal.tolist() == [True, True, False, False]
    m = zoning.demand_model(
        town, zones=zs, gateways=gw, od=od, od_period="daily", od_period_hours=24.0
    )
    assert m.gravity is None and m.demand.period == "daily" and m.demand.dense().sum() == 18.5
    grown = zoning.demand_model(
        town, zones=zs, gateways=gw, od=od, od_period="daily", growth_factor=1.5
    )
    assert grown.demand.dense().sum() == pytest.approx(1.5 * 18.5)
    with pytest.raises(ValueError, match="od_period"):
        zoning.demand_model(town, zones=zs, od=od)


def test_an_od_matrix_by_zone_name(tmp_path):
    ids = np.array([1, 2, 3])
    od = tmp_path / "od.csv"
    od.write_text("origin,destination,trips\nNeudrossenfeld,Harsdorf,7\nharsdorf,3,2\n")
    d = gravity.demand_from_od(
        od,
        ids,
        -ids,
        np.array([True, True, False]),
        names=("Neudrossenfeld", "Harsdorf"),
        period="design hour",
        period_hours=1.0,
    )
    mat = d.dense()
    assert mat[0, 1] == 7 and mat[1, 2] == 2 and mat.sum() == 9
    od.write_text("origin,destination,trips\nTwin,1,1\n")
    with pytest.raises(InvalidDemandError, match="names more than one zone"):
        gravity.demand_from_od(
            od, ids, -ids, np.array([True, True, False]), names=("Twin", "twin"),
            period="design hour", period_hours=1.0,
        )  # fmt: skip


def test_od_naming_unknown_zones_is_an_error(tmp_path):
    ids = np.array([1, 2, 3, 4])
    internal = np.array([True, True, False, False])
    kw = {"period": "peak hour", "period_hours": 1.0}
    od = tmp_path / "od.csv"
    od.write_text("origin,destination,trips\n1,2,10\n1,99,3\n")
    with pytest.raises(
        InvalidDemandError, match=r"od\.csv, line 3: destination '99' is not a zone"
    ):
        gravity.demand_from_od(od, ids, -ids, internal, **kw)
    od.write_text("from,to,trips\n1,2,10\n")
    with pytest.raises(FileFormatError, match="origin, destination"):
        gravity.demand_from_od(od, ids, -ids, internal, **kw)
    od.write_text("origin,destination,trips\n1,2,-4\n")
    with pytest.raises(FileFormatError, match="line 2"):
        gravity.demand_from_od(od, ids, -ids, internal, **kw)


# ---------------------------------------------------------------------- real extracts
@pytest.mark.parametrize("name", ["oakland", "planet", "pbf"])
def test_real_extracts_get_zones_gateways_and_demand(extracts, name):
    net = extracts[name]
    m = zoning.demand_model(net, seed=0)
    check_model(net, m)
    assert m.gateways.num_gateways >= 1
    places = osm.read_places(net.extra["source_path"])
    if m.zones.source == "places":  # named settlements where the extract has them
        assert m.zones.num_zones >= 2 and all(m.zones.names)
        assert set(m.zones.names) <= {p["name"] for p in places}
    else:  # else the k-means fallback, with its default count
        assert m.zones.num_zones == zones.default_zone_count(int(zones.largest_scc(net).sum()))
    again = zoning.demand_model(net, seed=0)
    np.testing.assert_array_equal(again.demand.dense(), m.demand.dense())
    np.testing.assert_array_equal(again.zones.node_ids, m.zones.node_ids)


def test_builtin_town_uses_its_buildings(extracts):
    net = extracts["pbf"]
    m = zoning.demand_model(net, zones=8, seed=0)
    assert m.zones.activity_unit == "building"
    assert np.all(m.zones.activity > 0)
    assert "motorway" in set(m.gateways.road_class)
    check_model(net, m)


def test_a_zone_file_with_names_jobs_and_trip_ends(town, tmp_path):
    p = write_zones(
        tmp_path / "zones.gpkg.geojson",
        [
            (WEST, {"name": "Westdorf", "population": 1200, "employment": 300}),
            (EAST, {"name": "Ostheim", "population": 800, "employment": 900}),
        ],
    )
    m = zoning.demand_model(town, zones=p)
    check_model(town, m)
    assert m.zones.names == ("Westdorf", "Ostheim")
    # attractions follow population plus jobs, on the productions' total
    d = m.destinations[:2] / m.destinations[:2].sum()
    np.testing.assert_allclose(d, np.array([1500.0, 1700.0]) / 3200.0)
    # productions and attractions of the file replace the trip rates
    q = write_zones(
        tmp_path / "trips.geojson",
        [
            (WEST, {"productions": 500.0, "attractions": 300.0}),
            (EAST, {"productions": 100.0, "attractions": 300.0}),
        ],
    )
    m2 = zoning.demand_model(town, zones=q, gateways=False, design_hour_factor=0.1)
    np.testing.assert_allclose(m2.origins, [50.0, 10.0])
    np.testing.assert_allclose(m2.destinations, [30.0, 30.0])
    # an OD file by those names
    od = tmp_path / "od.csv"
    od.write_text("origin,destination,trips\nWestdorf,Ostheim,12\n")
    by_name = zoning.demand_model(town, zones=p, od=od, od_period="design hour")
    assert by_name.demand.dense()[0, 1] == 12
    r = write_zones(
        tmp_path / "half.geojson", [(WEST, {"productions": 5.0}), (EAST, {"productions": 1.0})]
    )
    with pytest.raises(FileFormatError, match="productions and attractions together"):
        zones.zones_from_polygons(r, town)
