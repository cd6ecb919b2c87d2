"""Terrain from a DEM: heights, grades, terrain classes, their effects, and the wiring."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import pytest

from networks import open_study, osm
from networks import terrain as T
from networks.errors import DEMCoverageError, FileFormatError
from networks.network import Network
from tests.conftest import skip_without_data

TILES = ("N49E011", "N50E011")


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def tiles(data_dir: Path) -> list[Path]:
    paths = [data_dir / "dem" / f"{t}.hgt.zip" for t in TILES]
    if not all(p.is_file() for p in paths):
        skip_without_data(f"{data_dir} has no dem/ folder with the SRTM tiles N49E011 and N50E011")
    return paths


@pytest.fixture(scope="module")
def bayreuth_base(data_dir: Path) -> Network:
    return osm.from_file(data_dir / "osm" / "north-bayreuth.osm.gz")


@pytest.fixture(scope="module")
def bayreuth(bayreuth_base: Network, tiles: list[Path]) -> Network:
    return T.apply_terrain(bayreuth_base, tiles)


@pytest.fixture(scope="module")
def oakland_path(data_dir: Path) -> Path:
    return data_dir / "osm" / "West-Oakland.osm.bz2"


@pytest.fixture(scope="module")
def oakland(oakland_path: Path) -> Network:
    return osm.from_file(oakland_path)


#: the tilted plane of the GeoTIFF fixture: height = H0 + SX (x - X0) + SY (y - Y0), metres
H0, SX, SY = 50.0, 0.03, -0.02


def write_plane(
    path: Path,
    net: Network,
    *,
    crs: str | None = "net",
    hole: bool = False,
    slope: tuple[float, float] = (SX, SY),
) -> Path:
    """A GeoTIFF of a tilted plane in the network's CRS, 30 m cells, 600 m beyond it."""
    import rasterio
    from rasterio.transform import from_origin

    cell = 30.0
    west, north = net.x.min() - 600.0, net.y.max() + 600.0
    cols = int((net.x.max() + 600.0 - west) / cell) + 1
    rows = int((north - (net.y.min() - 600.0)) / cell) + 1
    xc = west + cell * (np.arange(cols) + 0.5)
    yc = north - cell * (np.arange(rows) + 0.5)
    x0, y0 = float(net.x.min()), float(net.y.min())
    sx, sy = slope
    h = (H0 + sx * (xc[None, :] - x0) + sy * (yc[:, None] - y0)).astype(np.float32)
    if hole:  # a 3 x 3 void in the middle
        h[rows // 2 - 1 : rows // 2 + 2, cols // 2 - 1 : cols // 2 + 2] = -9999.0
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=rows,
        width=cols,
        count=1,
        dtype="float32",
        crs=net.crs if crs == "net" else crs,
        transform=from_origin(west, north, cell, cell),
        nodata=-9999.0,
    ) as ds:
        ds.write(h, 1)
    return path


def plane(net: Network, x, y):
    return H0 + SX * (np.asarray(x) - net.x.min()) + SY * (np.asarray(y) - net.y.min())


def twins(net: Network) -> list[tuple[int, int]]:
    """The two directions of each two-way road: same ways, reversed ends, same length."""
    ways = net.extra["osm_way_ids"]
    by_ends: dict[tuple[int, int], list[int]] = {}
    for k in range(net.num_links):
        by_ends.setdefault((int(net.init[k]), int(net.term[k])), []).append(k)
    out = []
    for k in range(net.num_links):
        for j in by_ends.get((int(net.term[k]), int(net.init[k])), []):
            if k < j and ways[k] == ways[j] and math.isclose(net.length[k], net.length[j]):
                out.append((k, j))
    return out


# ---------------------------------------------------------------------- north-bayreuth
def test_every_road_link_has_a_finite_grade_and_heights_are_those_of_the_area(bayreuth):
    ex = bayreuth.extra
    assert np.isfinite(ex["grade"]).all()
    assert ex["grade"].shape == (bayreuth.num_links,)
    h = ex["node_elevation_m"]
    assert h.shape == (bayreuth.num_nodes,) and np.isfinite(h).all()
    # the Red Main valley at Bayreuth lies at about 310-340 m, the hills of the extract's
    # north-east reach about 480 m (SRTM over the extract: 308-483 m)
    assert 290.0 < h.min() < 340.0
    assert 440.0 < h.max() < 520.0
    assert ex["terrain_source"]["height_range_m"] == [float(h.min()), float(h.max())]
    assert [Path(f).name for f in ex["terrain_source"]["files"]] == [f"{t}.hgt.zip" for t in TILES]


def test_motorway_grades_are_small(bayreuth):
    g = bayreuth.extra["grade"][bayreuth.road_class == "motorway"]
    assert g.size and np.abs(g).max() < 0.06


def test_the_two_directions_of_a_road_have_opposite_grades(bayreuth):
    ex = bayreuth.extra
    pairs = twins(bayreuth)
    assert len(pairs) > 500
    k, j = np.array(pairs).T
    np.testing.assert_allclose(ex["grade"][k], -ex["grade"][j], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ex["elevation_gain_m"][k], ex["elevation_loss_m"][j], atol=1e-9)
    np.testing.assert_array_equal(ex["terrain"][k], ex["terrain"][j])
    # grades follow the node heights: rise over the geometry's length, in km here
    h = ex["node_elevation_m"]
    rise = h[bayreuth.term] - h[bayreuth.init]
    np.testing.assert_allclose(ex["grade"] * bayreuth.length * 1000.0, rise, atol=1e-6)


def test_terrain_classes_and_the_factors_on_speed_and_capacity(bayreuth_base, bayreuth):
    ex = bayreuth.extra
    classes = set(ex["terrain"])
    assert classes <= set(T.TERRAIN_CLASSES) and {"plain", "rolling"} <= classes
    rf = ex["rise_fall_m_per_km"]
    assert (rf[ex["terrain"] == "plain"] <= 50.0).all()
    assert (rf[ex["terrain"] == "rolling"] > 50.0).all()
    rise_fall = ex["elevation_gain_m"] + ex["elevation_loss_m"]
    np.testing.assert_allclose(rise_fall, rf * bayreuth.length, rtol=1e-9, atol=1e-9)
    cf, sf = ex["capacity_factor"], ex["speed_factor"]
    assert (cf <= 1.0).all() and (sf <= 1.0).all() and (sf > 0.5).all()
    np.testing.assert_allclose(cf, T.capacity_factor(ex["terrain"], T.HEAVY_SHARE))
    np.testing.assert_allclose(bayreuth.capacity, bayreuth_base.capacity * cf)
    np.testing.assert_allclose(bayreuth.speed, bayreuth_base.speed * sf)
    np.testing.assert_allclose(bayreuth.free_flow_time, bayreuth_base.free_flow_time / sf)
    # a road climbing is slower than the same road going down
    pairs = np.array(twins(bayreuth))
    up = np.where(ex["grade"][pairs[:, 0]] > 0, pairs[:, 0], pairs[:, 1])
    down = np.where(ex["grade"][pairs[:, 0]] > 0, pairs[:, 1], pairs[:, 0])
    assert (sf[up] <= sf[down] + 1e-12).mean() > 0.95
    assert sf.min() < 0.95  # some climbs slow the heavy vehicles down


def test_heights_are_sampled_in_any_crs(bayreuth, tiles):
    import pyproj

    surface = T.read_dem(tiles)
    assert surface.crs == "EPSG:4326"
    lon, lat = pyproj.Transformer.from_crs(bayreuth.crs, 4326, always_xy=True).transform(
        bayreuth.x, bayreuth.y
    )
    a = surface.sample(lon, lat)
    b = surface.sample(bayreuth.x, bayreuth.y, crs=bayreuth.crs)
    np.testing.assert_allclose(a, b, atol=1e-6)
    # exactly the tile's value at a cell centre
    import rasterio

    with rasterio.open(f"/vsizip/{tiles[0]}/{TILES[0]}.hgt") as ds:
        raw = ds.read(1)
    assert surface.sample([11.5], [49.99])[0] == pytest.approx(float(raw[12, 600]), abs=1e-9)


def test_a_dem_that_misses_part_of_the_area_is_refused(bayreuth_base, tiles):
    with pytest.raises(DEMCoverageError) as info:
        T.apply_terrain(bayreuth_base, tiles[0])
    msg = str(info.value)
    assert "N49E011.hgt.zip does not cover the study area of 'north-bayreuth'" in msg
    assert "lie outside it" in msg and " %)" in msg
    assert "lat 50.0000.." in msg and "SRTM tiles over it: N50E011" in msg


def test_open_study_applies_the_dem_before_the_zones(oakland_path, oakland, tmp_path):
    tif = write_plane(tmp_path / "plane.tif", oakland)
    study = open_study(oakland_path, dem=tif, heavy_share=0.2)
    net = study.network
    assert T.has_terrain(net) and net.extra["terrain_source"]["heavy_share"] == 0.2
    assert study.meta["dem"] == [str(tif)] and study.demand is not None
    assert study.model.zones is not None


# ---------------------------------------------------------------------- a GeoTIFF plane
def test_a_tilted_plane_gives_its_slope_along_every_link(oakland, tmp_path):
    tif = write_plane(tmp_path / "plane.tif", oakland)
    net = T.apply_terrain(oakland, tif)
    ex = net.extra
    np.testing.assert_allclose(ex["node_elevation_m"], plane(oakland, net.x, net.y), atol=1e-4)
    dx = net.x[net.term] - net.x[net.init]
    dy = net.y[net.term] - net.y[net.init]
    run = np.array([g.length for g in ex["geometry"]])
    np.testing.assert_allclose(ex["grade"], (SX * dx + SY * dy) / run, atol=1e-6)
    # along a straight link the whole profile climbs at the plane's slope
    straight = np.array(
        [
            np.isclose(g.length, math.hypot(a, b))
            for g, a, b in zip(ex["geometry"], dx, dy, strict=True)
        ]
    )
    assert straight.sum() > 10
    slope = np.abs(SX * dx + SY * dy) / run
    np.testing.assert_allclose(
        (ex["elevation_gain_m"] + ex["elevation_loss_m"])[straight],
        (slope * run)[straight],
        atol=1e-4,
    )


def test_voids_are_filled_or_refused(oakland, tmp_path):
    tif = write_plane(tmp_path / "hole.tif", oakland, hole=True)
    surface = T.read_dem(tif)
    assert surface.filled == 9 and np.isfinite(surface.heights).all()
    rows, cols = surface.heights.shape
    a, _, c, _, e, f = surface.transform
    x = c + a * (cols // 2 + 0.5)
    y = f + e * (rows // 2 + 0.5)
    # filled by inverse distance from the ring around: within two cells' rise of the plane
    assert abs(surface.sample([x], [y])[0] - plane(oakland, x, y)) < 2 * 30.0 * 0.036
    raw = T.read_dem(tif, fill_voids=False)
    assert np.isnan(raw.heights).sum() == 9
    # a network over the void is refused without the fill
    moved = oakland.replace(
        x=np.full(oakland.num_nodes, x) + np.arange(oakland.num_nodes) * 0.1,
        y=np.full(oakland.num_nodes, y),
        extra={k: v for k, v in oakland.extra.items() if k != "geometry"},
    )
    with pytest.raises(DEMCoverageError, match="unfilled voids"):
        T.apply_terrain(moved, raw, smooth_cells=1)


def test_unreadable_dem_files_name_the_file(oakland, tmp_path):
    bad = tmp_path / "bad.tif"
    bad.write_text("not a raster\n")
    with pytest.raises(FileFormatError, match=r"bad\.tif: cannot be read as a DEM"):
        T.read_dem(bad)
    empty = tmp_path / "N00E000.hgt.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("readme.txt", "nothing here")
    with pytest.raises(FileFormatError, match=r"N00E000\.hgt\.zip: holds no \.hgt"):
        T.read_dem(empty)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(FileFormatError, match=r"broken\.zip: is not a readable zip"):
        T.read_dem(broken)
    nocrs = write_plane(tmp_path / "nocrs.tif", oakland, crs=None)
    with pytest.raises(FileFormatError, match=r"nocrs\.tif: has no coordinate reference"):
        T.read_dem(nocrs)
    other = write_plane(tmp_path / "other.tif", oakland, crs="EPSG:3857")
    plain = write_plane(tmp_path / "plane.tif", oakland)
    with pytest.raises(FileFormatError, match=r"other\.tif: is in EPSG:3857"):
        T.read_dem([plain, other])
    with pytest.raises(FileNotFoundError, match="no such DEM file"):
        T.read_dem(tmp_path / "missing.hgt")


# ---------------------------------------------------------------------- the formulas
def ramp_network(speed: float = 80.0) -> tuple[Network, T.Surface]:
    """Hand-made links on a plane rising 6 % to the east: up, down, across, a connector."""
    x = np.array([0.0, 2000.0, 0.0, 500.0])
    y = np.array([0.0, 0.0, 1500.0, 500.0])
    net = Network.from_links(
        [0, 1, 0, 3],
        [1, 0, 2, 0],
        node_ids=[0, 1, 2, 3],
        x=x + 500_000.0,
        y=y + 5_000_000.0,
        free_flow_time=[1.5, 1.5, 1.125, 0.3],
        capacity=1000.0,
        length=[2.0, 2.0, 1.5, 0.707],
        speed=[speed, speed, speed, 0.0],
        road_class=["secondary", "secondary", "secondary", "connector"],
        crs="EPSG:32632",
    )
    cols, rows, cell = 120, 100, 30.0
    west, north = 500_000.0 - 600.0, 5_000_000.0 + 2400.0
    xc = west + cell * (np.arange(cols) + 0.5)
    h = np.broadcast_to(100.0 + 0.06 * (xc - 500_000.0), (rows, cols)).astype(np.float32)
    surface = T.Surface(h, (cell, 0.0, west, 0.0, -cell, north), "EPSG:32632", ("ramp",))
    return net, surface


def test_crawl_speed_balances_power_and_resistance():
    g = np.array([0.0, 0.02, 0.04, 0.06, 0.08])
    v = T.crawl_speed(g) / 3.6
    power = T.TRUCK_DRIVETRAIN_EFFICIENCY * 1000.0 / T.TRUCK_MASS_PER_POWER
    f = 0.01 * (1.0 + v / (147 * 0.3048))  # Mannering: 0.01 (1 + V / 147 ft/s)
    air = T.AIR_DENSITY * T.TRUCK_DRAG_AREA_M2 / (2.0 * T.TRUCK_MASS_KG)
    np.testing.assert_allclose(v * (T.GRAVITY * (f + g) + air * v * v), power, rtol=1e-9)
    kmh = T.crawl_speed(g)
    assert np.all(np.diff(kmh) < 0) and kmh[0] > 100.0 and 40.0 < kmh[3] < 55.0
    assert T.crawl_speed([-0.08])[0] == 216.0


def test_speed_and_capacity_follow_the_documented_formulas():
    net, surface = ramp_network()
    p = 0.15
    out = T.apply_terrain(net, surface, heavy_share=p)
    ex = out.extra
    np.testing.assert_allclose(ex["grade"][:3], [0.06, -0.06, 0.0], atol=1e-6)
    assert list(ex["terrain"]) == ["rolling", "rolling", "plain", ""]  # 60 m/km: rolling
    # capacity: f_HV(rolling) / f_HV(level), f_HV = 1 / (1 + P (E_T - 1)), E_T 2.5 and 1.5
    f_rolling = (1 + p * 0.5) / (1 + p * 1.5)
    np.testing.assert_allclose(ex["capacity_factor"], [f_rolling, f_rolling, 1.0, 1.0])
    np.testing.assert_allclose(out.capacity, 1000.0 * ex["capacity_factor"])
    # speed: heavy vehicles at min(v, 90 km/h, crawl(6 %)) all the way up, cars at v
    v = 80.0
    vc = float(T.crawl_speed([0.06])[0])
    up = 1.0 / ((1 - p) + p * v / min(v, vc))
    np.testing.assert_allclose(ex["speed_factor"], [up, 1.0, 1.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(out.speed, [v * up, v, v, 0.0], rtol=1e-6)
    np.testing.assert_allclose(out.free_flow_time[0], 1.5 / up, rtol=1e-6)
    # the connector: no grade, no class, no reduction
    assert np.isnan(ex["grade"][3]) and ex["terrain"][3] == ""
    assert out.free_flow_time[3] == 0.3 and out.capacity[3] == 1000.0
    # a motorway: heavy vehicles at their own top speed on the level, crawling up
    fast, surface = ramp_network(speed=110.0)
    car, top = 1.0 / 110.0, 1.0 / T.HEAVY_VEHICLE_SPEED
    want = ((1 - p) * car + p * top) / ((1 - p) * car + p / vc)
    got = T.apply_terrain(fast, surface, heavy_share=p).extra["speed_factor"]
    np.testing.assert_allclose(got[:3], [want, 1.0, 1.0], rtol=1e-6)
    # a slow road is not slowed: heavy vehicles climb 6 % faster than 30 km/h
    slow, surface = ramp_network(speed=30.0)
    assert T.apply_terrain(slow, surface).extra["speed_factor"][0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="already has terrain"):
        T.apply_terrain(out, surface)


def test_new_lines_take_the_terrain_along_them():
    net, surface = ramp_network()
    out = T.apply_terrain(net, surface)
    lt = T.line_terrain(out, [2, 0], [1, 2], speed=80.0)
    dx = 2000.0
    np.testing.assert_allclose(lt["grade"], [0.06 * dx / math.hypot(2000, 1500), 0.0])
    assert list(lt["terrain"]) == ["plain", "plain"]  # 48 m/km, 0 m/km
    assert lt["speed_factor"][0] < 1.0 and lt["speed_factor"][1] == 1.0
    # a road built 1.5 times the straight line is gentler
    assert T.line_terrain(out, [0], [1], length_m=3000.0)["grade"][0] == pytest.approx(0.04)
    # without the surface: the end nodes' heights; without those: the links at the ends
    bare = out.replace(extra={k: v for k, v in out.extra.items() if k != "terrain_surface"})
    assert T.line_terrain(bare, [0], [1])["grade"][0] == pytest.approx(0.06)
    none = bare.replace(extra={k: v for k, v in bare.extra.items() if k != "node_elevation_m"})
    lt = T.line_terrain(none, [2], [1])
    assert np.isnan(lt["grade"][0]) and lt["terrain"][0] == "rolling"


# ---------------------------------------------------------------------- the job wiring
def test_dem_is_a_repeatable_option_and_a_list_of_paths_in_a_scenario(tmp_path):
    from optimizer.jobs.cli import build_parser, settings_of
    from optimizer.jobs.scenario import load_scenario
    from optimizer.jobs.settings import StudySettings

    args = build_parser().parse_args(
        ["optimize", "net.osm", "--dem", "a.hgt.zip", "--dem", "b.tif", "--heavy-share", "0.2"]
    )
    s = settings_of(args, StudySettings)
    assert s.dem == ("a.hgt.zip", "b.tif") and s.heavy_share == 0.2
    p = tmp_path / "s.toml"
    p.write_text('[network]\npath = "x.osm"\ndem = ["dem/N49E011.hgt.zip", "/abs/b.tif"]\n')
    sc = load_scenario(p)
    assert sc.job.study.dem == (str(tmp_path / "dem/N49E011.hgt.zip"), "/abs/b.tif")
    assert sc.doc["network"]["dem"] == list(sc.job.study.dem)
    p.write_text('[network]\npath = "x.osm"\nheavy_share = 1.5\n')
    with pytest.raises(FileFormatError, match=r"line 3: field 'network.heavy_share'"):
        load_scenario(p)


def test_job_study_and_flow_table_carry_the_terrain(oakland_path, oakland, tmp_path):
    from types import SimpleNamespace

    from optimizer.jobs.outputs import flow_columns
    from optimizer.jobs.pipeline import open_job_study
    from optimizer.jobs.settings import StudySettings

    tif = write_plane(tmp_path / "plane.tif", oakland)
    study = open_job_study(StudySettings(network=str(oakland_path), dem=(str(tif),)))
    net = study.network
    assert net.extra["terrain_source"]["files"] == [str(tif)]
    m = net.num_links
    cols = flow_columns(net, SimpleNamespace(flow=np.ones(m), cost=np.ones(m)))
    np.testing.assert_array_equal(cols["grade"], net.extra["grade"])
    road = net.road_class != "connector"  # zone connectors: no grade, no class
    assert set(cols["terrain"][road]) <= set(T.TERRAIN_CLASSES)
    assert set(cols["terrain"][~road]) <= {""} and np.isnan(cols["grade"][~road]).all()


def test_candidates_are_priced_by_the_terrain_they_touch(oakland_path, oakland, tmp_path):
    from optimizer import generate
    from optimizer.costs import TERRAIN_CLASS_FACTOR, terrain_class_factor

    tif = write_plane(tmp_path / "plane.tif", oakland, slope=(0.08, 0.01))
    study = open_study(oakland_path, dem=tif)
    net, demand = study.network, study.demand
    assert {"plain", "rolling"} <= set(net.extra["terrain"])  # 80 m/km east-west, 10 north
    by_class = generate.generate_candidates(net, demand, max_candidates=30)
    flat = generate.generate_candidates(net, demand, max_candidates=30, terrain_factor=1.0)
    flat_cost = {c.id: c.cost for c in flat.candidates}
    m0 = net.num_links
    checked = 0
    for c in by_class.candidates:
        if c.id not in flat_cost:
            continue
        links = np.asarray(c.links)
        if c.kind == "new_link":
            cls = T.link_terrain(by_class.network)[1][links[0]]
            factor = TERRAIN_CLASS_FACTOR[cls]
            assert links.min() >= m0 and cls in T.TERRAIN_CLASSES
        else:
            factor = terrain_class_factor(net.extra["terrain"][links], net.length[links])
        assert c.cost == pytest.approx(flat_cost[c.id] * factor, rel=1e-9), c.id
        checked += 1
    assert checked >= 3


@pytest.mark.slow
def test_optimize_with_dem_writes_grades_to_the_geopackage(data_dir, tiles, tmp_path):
    import geopandas as gpd

    from optimizer.jobs.cli import main

    out = tmp_path / "out"
    rc = main(
        [
            "optimize",
            str(data_dir / "osm" / "north-bayreuth.osm.gz"),
            "--dem",
            str(tiles[0]),
            "--dem",
            str(tiles[1]),
            "--max-candidates",
            "6",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    links = gpd.read_file(out / "network.gpkg", layer="links")
    assert {"grade", "terrain"} <= set(links.columns)
    existing = ~links["built"].astype(bool) & (links["road_class"] != "connector")
    assert np.isfinite(links.loc[existing, "grade"]).all()
    assert set(links.loc[existing, "terrain"]) <= set(T.TERRAIN_CLASSES)
    assert (links.loc[existing, "grade"].abs() < 0.3).all()
