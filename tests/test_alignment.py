"""Alignments of new roads: least-cost paths over terrain, around forbidden and dear areas."""

from __future__ import annotations

import heapq
import itertools
import math
import time
from pathlib import Path

import numpy as np
import pytest
import shapely

from networks import alignment as A
from networks import terrain as T
from networks.errors import DEMCoverageError
from networks.protected import ProtectedAreas
from tests.conftest import skip_without_data

CRS = "EPSG:32632"
X0, Y0 = 680000.0, 5540000.0  # UTM 32N, near Bayreuth
START, END = (X0, Y0), (X0 + 8000.0, Y0)
RIDGE_X, SADDLE_Y = X0 + 4000.0, Y0 + 1800.0


def surface_from(fn, *, cell: float = 25.0, box=(-4000.0, -4000.0, 12000.0, 4000.0)) -> T.Surface:
    """A Surface in UTM 32N over ``box`` (relative to X0, Y0), heights ``fn(x, y)`` (m)."""
    w, s, e, n = box
    cols, rows = int((e - w) / cell), int((n - s) / cell)
    xc = X0 + w + (np.arange(cols) + 0.5) * cell
    yc = Y0 + n - (np.arange(rows) + 0.5) * cell  # north-up: row 0 at the top
    h = np.broadcast_to(fn(xc[None, :], yc[:, None]), (rows, cols)).astype(np.float32)
    return T.Surface(h, (cell, 0.0, X0 + w, 0.0, -cell, Y0 + n), CRS)


def ridge(saddle: float = 0.95):
    """A 300 m ridge along x = RIDGE_X, with a saddle (``saddle`` of it gone) at SADDLE_Y."""

    def fn(x, y):
        across = np.exp(-(((x - RIDGE_X) / 600.0) ** 2))
        along = 1.0 - saddle * np.exp(-(((y - SADDLE_Y) / 700.0) ** 2))
        return 200.0 + 300.0 * across * along

    return surface_from(fn)


def crossing_y(a: A.Alignment, x: float) -> float:
    """The y where the alignment crosses the vertical line x (its first crossing)."""
    cut = a.line.intersection(shapely.LineString([(x, Y0 - 1e5), (x, Y0 + 1e5)]))
    return float(shapely.get_coordinates(cut)[0, 1])


# ---------------------------------------------------------------------- flat ground
@pytest.mark.parametrize("end", [END, (X0 + 5657.0, Y0 + 5657.0), (X0 + 3000.0, Y0 - 7400.0)])
def test_flat_ground_gives_nearly_the_straight_line_with_exact_ends(end):
    a = A.align(START, end)
    assert a is not None and a.method == "terrain"
    assert a.detour < 1.05
    assert tuple(a.xy[0]) == START and tuple(a.xy[-1]) == end
    assert a.straight_m == pytest.approx(math.dist(START, end))
    assert a.length_m == pytest.approx(a.line.length)
    # no surface: no profile
    assert math.isnan(a.max_grade) and math.isnan(a.rise_fall_m_per_km)
    assert a.terrain == "" and a.heights.size == 0
    assert a.cost_factor == 1.0 and not a.grade_relaxed and a.cell_m == 50.0
    s = A.align(START, end, method="straight")
    assert s is not None and s.xy.shape == (2, 2) and s.detour == 1.0
    assert math.isnan(s.cell_m)


def test_flat_surface_profile_is_plain():
    flat = surface_from(lambda x, y: np.full(np.broadcast(x, y).shape, 420.0))
    a = A.align(START, END, surface=flat, crs=CRS)
    assert a is not None
    assert a.terrain == "plain" and a.max_grade == pytest.approx(0.0, abs=1e-9)
    assert a.rise_fall_m_per_km == pytest.approx(0.0, abs=1e-9)
    assert a.heights.size == math.ceil(a.length_m / T.PROFILE_STEP_M) + 1
    assert np.allclose(a.heights, 420.0)


def test_profile_heights_follow_a_plane_along_a_bent_line():
    plane = surface_from(lambda x, y: 100.0 + 0.02 * (x - X0) + 0.01 * (y - Y0))
    line = shapely.LineString([(X0, Y0), (X0 + 600.0, Y0), (X0 + 600.0, Y0 + 400.0)])
    h, run = T.profile_heights(line, plane, crs=CRS)
    assert run == pytest.approx(1000.0)
    assert h.size == math.ceil(1000.0 / T.PROFILE_STEP_M) + 1
    assert h[0] == pytest.approx(100.0, abs=1e-3) and h[-1] == pytest.approx(116.0, abs=1e-3)
    assert np.all(np.diff(h) > 0)


# ---------------------------------------------------------------------- forbidden areas
def test_a_forbidden_square_blocks_the_straight_line_and_is_avoided():
    square = shapely.box(X0 + 3000.0, Y0 - 1000.0, X0 + 5000.0, Y0 + 1000.0)
    assert A.align(START, END, forbidden=[square], method="straight") is None
    a = A.align(START, END, forbidden=[square])
    assert a is not None
    assert not a.line.intersects(square)
    # the shortest way round passes a corner of the square: (3000, 1000) or (3000, -1000)
    around = 2 * math.hypot(3000.0, 1000.0) + 2000.0
    assert a.length_m > a.straight_m
    assert around <= a.length_m < 1.05 * around
    assert tuple(a.xy[0]) == START and tuple(a.xy[-1]) == END
    # a single polygon is taken as a list of one, and an infinite dear multiplier forbids
    b = A.align(START, END, forbidden=square)
    c = A.align(START, END, dear=[(square, math.inf)])
    assert b is not None and c is not None
    assert b.length_m == pytest.approx(a.length_m) == pytest.approx(c.length_m)


def test_a_thin_forbidden_strip_between_cell_centres_is_not_crossed():
    # 10 m wide, far narrower than a cell: no centre falls in it, only the segments do
    strip = shapely.box(X0 + 4010.0, Y0 - 1500.0, X0 + 4020.0, Y0 + 1500.0)
    a = A.align(START, END, forbidden=[strip])
    assert a is not None and not a.line.intersects(strip)
    assert a.length_m > 2 * math.hypot(4000.0, 1500.0) - 1.0


def test_ends_enclosed_by_a_forbidden_ring_give_none():
    outer = shapely.Point(START).buffer(800.0)
    ring = outer.difference(shapely.Point(START).buffer(500.0))
    assert A.align(START, END, forbidden=[ring]) is None
    assert A.align(START, END, forbidden=[ring], method="straight") is None
    assert A.align(END, START, forbidden=[ring]) is None
    # an end inside a forbidden area
    assert A.align(START, END, forbidden=[outer]) is None


def test_a_path_longer_than_max_detour_gives_none():
    wall = shapely.box(X0 + 3900.0, Y0 - 2600.0, X0 + 4100.0, Y0 + 2600.0)
    a = A.align(START, END, forbidden=[wall])
    assert a is not None and not a.line.intersects(wall)
    assert A.align(START, END, forbidden=[wall], max_detour=a.detour - 0.01) is None


# ---------------------------------------------------------------------- terrain
def test_the_road_goes_through_the_saddle_within_the_grade():
    surface = ridge()
    straight = A.align(START, END, surface=surface, crs=CRS, method="straight")
    a = A.align(START, END, surface=surface, crs=CRS)
    assert straight is not None and a is not None
    assert straight.max_grade > 0.2
    assert a.max_grade <= A.MAX_GRADE + 0.005 < straight.max_grade
    assert abs(crossing_y(a, RIDGE_X) - SADDLE_Y) < 400.0
    assert a.rise_fall_m_per_km < straight.rise_fall_m_per_km
    assert a.terrain in T.TERRAIN_CLASSES and straight.terrain in T.TERRAIN_CLASSES
    assert a.heights.size == math.ceil(a.length_m / T.PROFILE_STEP_M) + 1
    assert not a.grade_relaxed and a.detour < 1.3


def test_a_steeper_limit_lets_the_road_climb():
    surface = ridge()
    gentle = A.align(START, END, surface=surface, crs=CRS, max_grade=0.03)
    steep = A.align(START, END, surface=surface, crs=CRS, max_grade=0.5, grade_weight=0.0)
    assert gentle is not None and steep is not None
    assert gentle.max_grade <= 0.03 + 0.005
    assert steep.detour < 1.02 < gentle.detour


def test_no_path_within_the_grade_retries_with_steep_moves():
    surface = ridge(saddle=0.0)
    a = A.align(START, END, surface=surface, crs=CRS)
    assert a is not None and a.grade_relaxed
    assert a.max_grade > A.MAX_GRADE
    assert a.method == "terrain" and a.detour <= 2.5


def test_a_dem_in_lon_lat_is_sampled_in_its_crs():
    plane = surface_from(lambda x, y: 100.0 + 0.01 * (x - X0))
    # the same plane, as a lon/lat grid (heights sampled at the cells' UTM positions)
    from networks.terrain import _transform

    lon0, lat0 = _transform(CRS, "EPSG:4326", np.array([X0 - 3000.0]), np.array([Y0 - 3000.0]))
    lon1, lat1 = _transform(CRS, "EPSG:4326", np.array([X0 + 11000.0]), np.array([Y0 + 3000.0]))
    d = 0.0005
    lons = np.arange(lon0[0], lon1[0], d) + d / 2
    lats = np.arange(lat1[0], lat0[0], -d) - d / 2
    gx, gy = _transform("EPSG:4326", CRS, *np.meshgrid(lons, lats))
    h = plane.sample(gx, gy).astype(np.float32)
    geo = T.Surface(h, (d, 0.0, lon0[0], 0.0, -d, lat1[0]), "EPSG:4326")
    a = A.align(START, END, surface=geo, crs=CRS, method="straight")
    assert a is not None
    assert a.heights[0] == pytest.approx(100.0, abs=0.5)
    assert a.heights[-1] == pytest.approx(180.0, abs=0.5)
    assert a.max_grade == pytest.approx(0.01, abs=0.002)


def test_ends_without_heights_are_refused():
    small = surface_from(
        lambda x, y: np.zeros(np.broadcast(x, y).shape), box=(-100, -100, 100, 100)
    )
    with pytest.raises(DEMCoverageError, match="end"):
        A.align(START, END, surface=small, crs=CRS)


# ---------------------------------------------------------------------- dear areas
def test_a_dear_area_is_avoided_when_the_detour_is_cheap():
    square = shapely.box(X0 + 3000.0, Y0 - 500.0, X0 + 5000.0, Y0 + 500.0)
    straight = A.align(START, END, dear=[(square, 3.0)], method="straight")
    assert straight is not None
    assert straight.cost_factor == pytest.approx((6000.0 + 3.0 * 2000.0) / 8000.0)
    a = A.align(START, END, dear=[(square, 3.0)])
    assert a is not None
    inside = a.line.intersection(square).length
    assert inside < 0.05 * a.length_m
    assert a.cost_factor == pytest.approx(1.0 + 2.0 * inside / a.length_m)
    assert 1.0 <= a.cost_factor < 1.05 and a.detour < 1.1
    # a small surcharge is not worth the detour: the road goes straight through
    b = A.align(START, END, dear=[(square, 1.01)])
    assert b is not None and b.detour < 1.01
    assert b.cost_factor == pytest.approx(1.0 + 0.01 * 2000.0 / 8000.0, rel=1e-3)


def test_protected_areas_give_both_rules_at_once():
    wall = shapely.box(X0 + 3000.0, Y0 - 1000.0, X0 + 3200.0, Y0 + 1000.0)
    town = shapely.box(X0 + 5000.0, Y0 - 300.0, X0 + 6000.0, Y0 + 300.0)
    areas = ProtectedAreas(
        geometry=(wall, town),
        names=("park", "town"),
        rows=(1, 2),
        multiplier=np.array([math.inf, 2.0]),
        crs=CRS,
        source="in code",
    )
    a = A.align(START, END, dear=zip(areas.geometry, areas.multiplier, strict=True))
    b = A.align(START, END, forbidden=[wall], dear=[(town, 2.0)])
    assert a is not None and b is not None
    assert np.array_equal(a.xy, b.xy) and a.cost_factor == b.cost_factor
    assert not a.line.intersects(wall)
    assert a.line.intersection(town).length < 0.05 * a.length_m


def test_overlapping_dear_areas_combine_by_their_maximum():
    one = shapely.box(X0 + 1000.0, Y0 - 10.0, X0 + 3000.0, Y0 + 10.0)
    two = shapely.box(X0 + 2000.0, Y0 - 10.0, X0 + 4000.0, Y0 + 10.0)
    a = A.align(START, END, dear=[(one, 2.0), (two, 1.5)], method="straight")
    assert a is not None
    assert a.cost_factor == pytest.approx((4000.0 + 2.0 * 2000.0 + 1.5 * 1000.0 + 1000.0) / 8000.0)


# ---------------------------------------------------------------------- the grid search
def _tiny(seed: int):
    rng = np.random.default_rng(seed)
    bumps = rng.uniform(-1, 1, size=(6, 3))

    def fn(x, y):
        u, v = (x - X0) / 400.0, (y - Y0) / 400.0
        return 50.0 + sum(20.0 * a * np.sin(b * 3 * u + c * 3 * v) for a, b, c in bumps)

    surface = surface_from(fn, cell=10.0, box=(-300.0, -300.0, 700.0, 500.0))
    blob = shapely.Point(X0 + 200.0, Y0 + 60.0).buffer(70.0)
    dear = shapely.box(X0 + 100.0, Y0 - 200.0, X0 + 250.0, Y0 + 10.0)
    p = A._problem(
        (X0, Y0),
        (X0 + 400.0, Y0 + 130.0),
        surface=surface,
        crs=CRS,
        forbidden=[blob],
        dear=[(dear, 2.0)],
        cell_m=40.0,
        max_grade=0.08,
        margin=0.3,
        max_detour=2.5,
        grade_weight=1.0,
    )
    return p, blob


def _dijkstra(nodes, src, dst, w, s):
    adj = [[] for _ in range(nodes)]
    for a, b, c in zip(src.tolist(), dst.tolist(), w.tolist(), strict=True):
        if math.isfinite(c):
            adj[a].append((b, c))
    dist = [math.inf] * nodes
    dist[s] = 0.0
    heap = [(0.0, s)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        for v, c in adj[u]:
            if d + c < dist[v]:
                dist[v] = d + c
                heapq.heappush(heap, (d + c, v))
    return dist


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("relaxed", [False, True])
def test_the_path_is_the_shortest_on_the_grid(seed, relaxed):
    p, _ = _tiny(seed)
    g = A._grid(p)
    mv = A._moves(p, g)
    w = mv.weights(p.max_grade, p.grade_weight, relaxed=relaxed)
    s, t = g.size, g.size + 1
    cost, path = A._shortest(mv.nodes, mv.src, mv.dst, w, s, t)
    brute = _dijkstra(mv.nodes, mv.src, mv.dst, w, s)
    assert cost == pytest.approx(brute[t]) if math.isfinite(brute[t]) else not path
    if path:
        arcs = {
            (a, b): c for a, b, c in zip(mv.src.tolist(), mv.dst.tolist(), w.tolist(), strict=True)
        }
        assert path[0] == s and path[-1] == t
        assert sum(arcs[a, b] for a, b in itertools.pairwise(path)) == pytest.approx(cost)
    if not relaxed:
        assert np.all(mv.grade[np.isfinite(w)] <= p.max_grade)


@pytest.mark.parametrize("seed", range(2))
def test_the_grid_has_exactly_the_moves_that_keep_off_forbidden_areas(seed):
    p, blob = _tiny(seed)
    g = A._grid(p)
    mv = A._moves(p, g)
    x, y = g.centres()
    inside = shapely.intersects_xy(blob, x, y)
    want = set()
    moves = [
        (dr, dc)
        for dr in range(-2, 3)
        for dc in range(-2, 3)
        if {abs(dr), abs(dc)} in ({0, 1}, {1}, {1, 2})
    ]
    assert len(moves) == 16
    for r in range(g.rows):
        for c in range(g.cols):
            for dr, dc in moves:
                rr, cc = r + dr, c + dc
                if not (0 <= rr < g.rows and 0 <= cc < g.cols):
                    continue
                a, b = r * g.cols + c, rr * g.cols + cc
                if inside[a] or inside[b]:
                    continue
                seg = shapely.LineString([(x[a], y[a]), (x[b], y[b])])
                if not seg.intersects(blob):
                    want.add((a, b))
    grid = (mv.src < g.size) & (mv.dst < g.size)
    got = set(zip(mv.src[grid].tolist(), mv.dst[grid].tolist(), strict=True))
    assert got == want


def test_long_pairs_get_coarser_cells_within_the_cell_limit():
    far = (X0 + 60000.0, Y0 + 45000.0)
    p = A._problem(
        START,
        far,
        surface=None,
        crs=None,
        forbidden=(),
        dear=(),
        cell_m=50.0,
        max_grade=0.07,
        margin=0.35,
        max_detour=2.5,
        grade_weight=1.0,
    )
    g = A._grid(p)
    assert g.size <= A.MAX_CELLS and g.cell > 50.0
    assert g.x0 <= min(START[0], far[0]) - 0.35 * p.straight_m
    assert g.x0 + g.cols * g.cell >= max(START[0], far[0]) + 0.35 * p.straight_m
    a = A.align(START, far)
    assert a is not None and a.cell_m == pytest.approx(g.cell) and a.detour < 1.05


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="method"):
        A.align(START, END, method="zigzag")
    with pytest.raises(ValueError, match="same point"):
        A.align(START, START)
    with pytest.raises(ValueError, match="cell_m"):
        A.align(START, END, cell_m=0.0)
    with pytest.raises(ValueError, match="max_detour"):
        A.align(START, END, max_detour=0.9)
    with pytest.raises(ValueError, match="multiplier"):
        A.align(START, END, dear=[(shapely.box(0, 0, 1, 1), 0.5)])
    with pytest.raises(ValueError, match="forbidden"):
        A.align(START, END, forbidden=[shapely.LineString([(0, 0), (1, 1)])])
    assert A.METHODS == ("straight", "terrain")


def test_an_8_km_alignment_takes_well_under_a_second():
    surface = ridge()
    square = shapely.box(X0 + 1500.0, Y0 - 800.0, X0 + 2500.0, Y0 + 800.0)
    A.align(START, END, surface=surface, crs=CRS)  # warm up the imports
    t0 = time.perf_counter()
    a = A.align(START, END, surface=surface, crs=CRS, forbidden=[square])
    took = time.perf_counter() - t0
    assert a is not None
    assert took < 1.0


# ---------------------------------------------------------------------- SRTM
@pytest.mark.slow
def test_an_alignment_near_bayreuth_on_srtm(data_dir: Path):
    tiles = [data_dir / "dem" / f"{t}.hgt.zip" for t in ("N49E011", "N50E011")]
    if not all(p.is_file() for p in tiles):
        skip_without_data(f"{data_dir} has no dem/ folder with the SRTM tiles N49E011 and N50E011")
    a, b = (683000.0, 5545000.0), (690000.0, 5551000.0)
    dem = T.read_dem(tiles, bounds=(675000, 5537000, 698000, 5559000), bounds_crs=CRS)
    surface = dem.smoothed(T.SMOOTHING_CELLS)
    straight = A.align(a, b, surface=surface, crs=CRS, method="straight")
    route = A.align(a, b, surface=surface, crs=CRS)
    assert straight is not None and route is not None
    for r in (straight, route):
        assert math.isfinite(r.max_grade) and math.isfinite(r.rise_fall_m_per_km)
        assert np.isfinite(r.heights).all() and 250.0 < r.heights.min() < r.heights.max() < 700.0
        assert r.terrain in T.TERRAIN_CLASSES
    assert route.max_grade <= straight.max_grade
    assert route.max_grade <= A.MAX_GRADE + 0.02
    assert route.detour <= 2.5 and tuple(route.xy[-1]) == b
