"""Terrain from a digital elevation model: heights, grades and what they do to traffic.

This module owns the DEM reader (:func:`read_dem`, giving a :class:`Surface` sampled
bilinearly at points in any CRS) and :func:`apply_terrain`, the pure function that puts the
terrain on a network. Nothing else in roadopt imports rasterio.

Per link, along its geometry (``network.extra["geometry"]``; else the straight line between
its ends) cut into ``N = ceil(run / step_m)`` equal pieces (so the two directions of a road
sample the same points), with heights ``h_0 .. h_N`` (``h_0`` and ``h_N`` are the end nodes'
heights):

* ``grade = (h_N - h_0) / run``: signed, rise over run (m/m) in the link's direction, so the
  two directions of a two-way road have opposite grades; ``run`` is the horizontal length of
  the geometry in metres;
* ``elevation_gain_m = sum(max(h_j+1 - h_j, 0))`` and ``elevation_loss_m`` (the falls, >= 0);
* ``terrain``: the class of the rise and fall per km, ``(gain + loss) / run_km``, by the
  number of five-metre ground contours the route crosses per km (TRL Overseas Road Note 6,
  *A guide to geometric design*, 1988; the same measure as HDM-4's rise + fall):
  ``plain`` up to 10 contours (50 m/km), ``rolling`` up to 25 (125 m/km), ``mountainous``
  above (:data:`RISE_FALL_LIMITS`).

What the terrain does to a road link (not to links of class ``connector``; the speed only
where the link has one):

* capacity: the heavy-vehicle factor of the Highway Capacity Manual (HCM 2010, Chapter 11,
  Exhibit 11-10, general terrain), ``f_HV = 1 / (1 + P (E_T - 1))`` with the heavy-vehicle
  share ``P`` and passenger-car equivalents ``E_T`` of 1.5 (level), 2.5 (rolling) and 4.5
  (mountainous) (:data:`HEAVY_VEHICLE_PCE`). The profiles' capacities are for level roads,
  so a link's capacity is multiplied by ``f_HV(terrain) / f_HV(level)``;
* free-flow speed: a heavy vehicle drives piece ``j`` at ``u_j = min(v, V_HV, v_c(g_j))``:
  the road's speed ``v``, its own top speed ``V_HV`` (:data:`HEAVY_VEHICLE_SPEED`) and its
  crawl speed ``v_c``, the steady speed at which its engine's power balances grade, rolling
  and air resistance (:func:`crawl_speed`); cars keep ``v``. The mixed stream's free-flow
  time ``t = (1 - P) run / v + P sum(piece / u_j)`` is compared with the same road on the
  level, ``t_0 = (1 - P) run / v + P run / min(v, V_HV)``: the speed factor is ``t_0 / t``
  (1 on level roads and downhill, and wherever the crawl speed is above the road's).

Heights are metres above the DEM's datum (SRTM: EGM96). DEM voids are filled from their
neighbours (GDAL's inverse-distance fill, within :data:`VOID_FILL_CELLS` cells), or refused.
"""

from __future__ import annotations

import functools
import logging
import math
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DEMCoverageError, FileFormatError, InvalidNetworkError
from .network import Network

__all__ = [
    "CONNECTOR_CLASS",
    "DEM_SUFFIXES",
    "HEAVY_SHARE",
    "HEAVY_VEHICLE_PCE",
    "HEAVY_VEHICLE_SPEED",
    "PROFILE_STEP_M",
    "RISE_FALL_LIMITS",
    "TERRAIN_CLASSES",
    "Surface",
    "apply_terrain",
    "capacity_factor",
    "crawl_speed",
    "describe_terrain",
    "has_terrain",
    "heavy_vehicle_time_factor",
    "line_terrain",
    "link_terrain",
    "profile_heights",
    "read_dem",
    "terrain_class",
]

log = logging.getLogger(__name__)

#: File names a DEM may have (a ``.zip`` holds one or more ``.hgt``/``.tif`` rasters).
DEM_SUFFIXES = (".hgt", ".hgt.zip", ".tif", ".tiff", ".zip")

#: Terrain classes, from the easiest.
TERRAIN_CLASSES = ("plain", "rolling", "mountainous")

#: Upper limits (m of rise plus fall per km of road) of the ``plain`` and ``rolling``
#: classes: 10 and 25 five-metre ground contours crossed per km (TRL Overseas Road Note 6,
#: 1988, terrain classes flat / rolling / mountainous). Above the second: ``mountainous``.
RISE_FALL_LIMITS: dict[str, float] = {"plain": 50.0, "rolling": 125.0}

#: Passenger-car equivalents of trucks and buses by terrain (HCM 2010, Exhibit 11-10: level
#: 1.5, rolling 2.5, mountainous 4.5; the same in the multilane-highway chapter).
HEAVY_VEHICLE_PCE: dict[str, float] = {"plain": 1.5, "rolling": 2.5, "mountainous": 4.5}

#: Default share of heavy vehicles (trucks and buses) in the traffic, a planning default;
#: give the share counted on the study's roads.
HEAVY_SHARE = 0.10

#: Top speed of heavy vehicles (km/h): the speed limiters of goods vehicles over 3.5 t in
#: the EU (Directive 92/6/EEC as amended by 2002/85/EC: 90 km/h; buses 100); on the level
#: the terrain changes nothing for them, so this only sets how much a climb costs them.
HEAVY_VEHICLE_SPEED = 90.0

#: Road class of zone connectors: no grade, no reduction.
CONNECTOR_CLASS = "connector"

#: Profile spacing (m): a third of an SRTM 3-arc-second cell (about 90 m).
PROFILE_STEP_M = 30.0

#: Heights are read from the DEM smoothed by a mean over this many cells square. SRTM's
#: relative height error is 5-10 m (90 %, by continent; Rodriguez, Morris and Belz, "A
#: global assessment of the SRTM performance", PE&RS 72(3), 2006), the rise of a 5-10 %
#: grade over one 90 m cell: unsmoothed, short links would get grades of noise.
SMOOTHING_CELLS = 3

#: DEM voids are filled from valid cells up to this many cells away (GDAL FillNodata).
VOID_FILL_CELLS = 20.0

# The heavy vehicle of the crawl speeds (SI units). Mass per engine power: the typical truck
# of HCM 2000's freeway passenger-car equivalents, 125-150 lb/hp (76-90 kg/kW), at the heavy
# end. The balance of power and resistances and the rolling resistance f = 0.01 (1 + v / 147
# ft/s) are the road-load relations of Mannering, Washburn and Kilareski, *Principles of
# Highway Engineering and Traffic Analysis* (Wiley), chapter 2; drivetrain efficiency and
# drag area are typical values for a tractor-semitrailer (assumptions, not measurements).
#: kg of gross mass per kW of engine power.
TRUCK_MASS_PER_POWER = 90.0
#: share of engine power reaching the wheels.
TRUCK_DRIVETRAIN_EFFICIENCY = 0.85
#: gross mass (kg), for the air-resistance term only.
TRUCK_MASS_KG = 30000.0
#: drag coefficient x frontal area (m2): 0.7 x 9 m2.
TRUCK_DRAG_AREA_M2 = 6.3
#: air density (kg/m3).
AIR_DENSITY = 1.2
#: gravity (m/s2).
GRAVITY = 9.81

#: speed (m/s) in the rolling resistance: 147 ft/s.
_ROLLING_SPEED_MS = 147 * 0.3048
_CRAWL_MIN_MS = 1.0
_CRAWL_MAX_MS = 60.0


# ---------------------------------------------------------------------- the surface
@dataclass(frozen=True, eq=False)
class Surface:
    """Heights on a regular grid, sampled bilinearly.

    Attributes
    ----------
    heights : float32 array (rows, cols)
        Metres; NaN where unknown (an unfilled void, or outside every file).
    transform : tuple of 6 floats
        ``(a, b, c, d, e, f)`` of the grid (GDAL/affine order): the corner of cell
        ``(row, col)`` is ``x = c + a col``, ``y = f + e row`` (``b = d = 0``).
    crs : str
        The grid's coordinate reference system.
    files : tuple of str
        The DEM files read.
    filled : int
        Void cells filled from their neighbours.
    extents : tuple of (west, south, east, north)
        The areas the files cover, in the grid's CRS (default: the whole grid).
    """

    heights: np.ndarray
    transform: tuple[float, ...]
    crs: str
    files: tuple[str, ...] = ()
    filled: int = 0
    extents: tuple[tuple[float, float, float, float], ...] = ()

    def covers(self, x: Any, y: Any) -> np.ndarray:
        """Whether points (in the grid's CRS) lie within the files' areas."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        out = np.zeros(x.shape, dtype=bool)
        for w, s, e, n in self.extents or (self.bounds,):
            out |= (x >= w) & (x <= e) & (y >= s) & (y <= n)
        return out

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` of the grid's cells, in its CRS."""
        a, _, c, _, e, f = self.transform
        rows, cols = self.heights.shape
        xs = (c, c + a * cols)
        ys = (f, f + e * rows)
        return (min(xs), min(ys), max(xs), max(ys))

    def sample(self, x: Any, y: Any, *, crs: str | None = None) -> np.ndarray:
        """Heights (m) at points, bilinear between cell centres; NaN outside or in voids.

        Parameters
        ----------
        x, y
            Coordinates, in ``crs`` (default: the surface's own).
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if crs is not None:
            x, y = _transform(crs, self.crs, x, y)
        a, _, c, _, e, f = self.transform
        rows, cols = self.heights.shape
        col = (x - c) / a - 0.5
        row = (y - f) / e - 0.5
        inside = (col >= -0.5) & (col <= cols - 0.5) & (row >= -0.5) & (row <= rows - 0.5)
        col = np.clip(np.where(inside, col, 0.0), 0.0, cols - 1.0)
        row = np.clip(np.where(inside, row, 0.0), 0.0, rows - 1.0)
        c0 = np.minimum(np.floor(col).astype(np.int64), max(cols - 2, 0))
        r0 = np.minimum(np.floor(row).astype(np.int64), max(rows - 2, 0))
        c1 = np.minimum(c0 + 1, cols - 1)
        r1 = np.minimum(r0 + 1, rows - 1)
        fc, fr = col - c0, row - r0
        h = self.heights
        top = h[r0, c0] * (1 - fc) + h[r0, c1] * fc
        bottom = h[r1, c0] * (1 - fc) + h[r1, c1] * fc
        out = (top * (1 - fr) + bottom * fr).astype(np.float64)
        out[~inside] = np.nan
        return out

    def smoothed(self, cells: int) -> Surface:
        """The mean of every ``cells`` x ``cells`` window (an odd number; voids left out)."""
        if cells <= 1:
            return self
        from scipy.ndimage import uniform_filter

        h = np.asarray(self.heights, dtype=np.float64)
        ok = np.isfinite(h)
        total = uniform_filter(np.where(ok, h, 0.0), cells, mode="nearest")
        count = uniform_filter(ok.astype(np.float64), cells, mode="nearest")
        out = np.where(ok, total / np.maximum(count, 1e-12), np.nan).astype(np.float32)
        out.setflags(write=False)
        return Surface(out, self.transform, self.crs, self.files, self.filled, self.extents)


def _transform(src: str, dst: str, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    t = _transformer(str(src), str(dst))
    return (x, y) if t is None else t.transform(x, y)


@functools.lru_cache(maxsize=32)
def _transformer(src: str, dst: str) -> Any:
    """A lon/lat-ordered transformer from ``src`` to ``dst`` (None: the same CRS)."""
    import pyproj

    if pyproj.CRS.from_user_input(src) == pyproj.CRS.from_user_input(dst):
        return None
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def _raster_paths(path: Path) -> list[str]:
    """GDAL paths of the rasters in a file (the members of a zip)."""
    if not path.name.lower().endswith(".zip"):
        return [str(path)]
    try:
        with zipfile.ZipFile(path) as z:
            names = [
                n for n in z.namelist() if n.lower().endswith((".hgt", ".tif", ".tiff", ".dem"))
            ]
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileFormatError(path, f"is not a readable zip file ({exc})") from None
    if not names:
        raise FileFormatError(path, "holds no .hgt or .tif raster; give an SRTM tile or a GeoTIFF")
    return [f"/vsizip/{path.resolve()}/{n}" for n in sorted(names)]


def _dem_files(dem: str | Path | Iterable[str | Path]) -> list[Path]:
    items = [dem] if isinstance(dem, (str, Path)) else list(dem)
    if not items:
        raise ValueError("dem: give at least one DEM file")
    out = []
    for p in map(Path, items):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such DEM file")
        out.append(p)
    return out


def read_dem(
    dem: str | Path | Iterable[str | Path],
    *,
    bounds: Sequence[float] | None = None,
    bounds_crs: str | None = None,
    fill_voids: bool = True,
) -> Surface:
    """Read one or more DEM files into one :class:`Surface`.

    Parameters
    ----------
    dem
        SRTM tiles (``.hgt``, ``.hgt.zip``) or GeoTIFFs (heights in metres, band 1), all in
        one CRS; tiles are mosaicked (where they overlap, the first file given wins).
    bounds
        ``(west, south, east, north)`` to keep (in ``bounds_crs``, default the DEM's own),
        plus two cells on every side; default: everything.
    fill_voids
        Fill voids (no-data cells) from valid cells up to :data:`VOID_FILL_CELLS` away;
        without it they stay NaN (and :func:`apply_terrain` refuses points on them).

    Raises
    ------
    FileNotFoundError
        For a missing file.
    FileFormatError
        Naming the file: not a raster GDAL reads, no CRS, a rotated grid, or a CRS that
        differs from the other files'.
    """
    import rasterio
    import rasterio.errors
    import rasterio.merge

    files = _dem_files(dem)
    datasets: list[Any] = []
    crs = None
    try:
        for p in files:
            for gdal_path in _raster_paths(p):
                try:
                    ds = rasterio.open(gdal_path)
                except rasterio.errors.RasterioError as exc:
                    raise FileFormatError(
                        p, f"cannot be read as a DEM (SRTM .hgt/.hgt.zip or GeoTIFF): {exc}"
                    ) from None
                datasets.append(ds)
                if ds.crs is None:
                    raise FileFormatError(
                        p, "has no coordinate reference system; give a georeferenced DEM"
                    )
                if not ds.transform.is_rectilinear:
                    raise FileFormatError(p, "has a rotated grid; warp it north-up first")
                this = ds.crs.to_string()
                if crs is None:
                    crs = this
                elif ds.crs != rasterio.crs.CRS.from_user_input(crs):
                    raise FileFormatError(
                        p, f"is in {this}, the other DEM files in {crs}; reproject them to one"
                    )
        assert crs is not None
        box = None
        if bounds is not None:
            w, s, e, n = (float(v) for v in bounds)
            if bounds_crs is not None:
                xs, ys = _transform(
                    bounds_crs, crs, np.array([w, e, w, e]), np.array([s, s, n, n])
                )
                w, e, s, n = min(xs), max(xs), min(ys), max(ys)
            box = _snapped(datasets[0].transform, (w, s, e, n), margin=2)
        try:
            arr, tr = rasterio.merge.merge(
                datasets, bounds=box, nodata=np.nan, dtype="float32", indexes=[1]
            )
        except (rasterio.errors.RasterioError, ValueError) as exc:
            raise FileFormatError(
                files[0], f"cannot be mosaicked with the others: {exc}"
            ) from None
        covered = np.zeros(arr.shape[1:], dtype=bool)
        extents = []
        for ds in datasets:
            covered |= _cells_of(ds.bounds, tr, covered.shape)
            extents.append(tuple(float(v) for v in ds.bounds))
    finally:
        for ds in datasets:
            ds.close()
    heights = np.asarray(arr[0], dtype=np.float32)
    # no-data cells of the sources arrive as NaN; also refuse absurd values
    heights[~np.isfinite(heights) | (heights < -1000) | (heights > 9000)] = np.nan
    voids = covered & np.isnan(heights)
    filled = 0
    if fill_voids and voids.any() and (~np.isnan(heights)).any():
        from rasterio.fill import fillnodata

        valid = ~np.isnan(heights)
        img = np.where(valid, heights, 0.0).astype(np.float32)
        out = fillnodata(img, mask=valid.astype(np.uint8), max_search_distance=VOID_FILL_CELLS)
        done = voids & np.isfinite(out)
        # GDAL leaves cells beyond the search distance as they were (0 here)
        reached = _within(valid, int(VOID_FILL_CELLS))
        done &= reached
        heights[done] = out[done]
        filled = int(done.sum())
        log.info("DEM: filled %d void cells from their neighbours", filled)
    heights[~covered] = np.nan
    heights.setflags(write=False)
    return Surface(
        heights=heights,
        transform=tuple(float(v) for v in tuple(tr)[:6]),
        crs=crs,
        files=tuple(str(p) for p in files),
        filled=filled,
        extents=tuple(extents),  # type: ignore[arg-type]
    )


def _snapped(tr: Any, box: tuple[float, float, float, float], *, margin: int) -> tuple:
    """``box`` widened to whole cells of the grid ``tr`` plus ``margin`` cells a side.

    The mosaic then keeps the files' own cells (no resampling).
    """
    w, s, e, n = box
    cols = sorted(((w - tr.c) / tr.a, (e - tr.c) / tr.a))
    rows = sorted(((n - tr.f) / tr.e, (s - tr.f) / tr.e))
    c0, c1 = math.floor(cols[0]) - margin, math.ceil(cols[1]) + margin
    r0, r1 = math.floor(rows[0]) - margin, math.ceil(rows[1]) + margin
    xs = sorted((tr.c + tr.a * c0, tr.c + tr.a * c1))
    ys = sorted((tr.f + tr.e * r0, tr.f + tr.e * r1))
    return (xs[0], ys[0], xs[1], ys[1])


def _cells_of(bounds: Any, tr: Any, shape: tuple[int, int]) -> np.ndarray:
    """Cells of the grid ``tr``/``shape`` whose centres lie within ``bounds``."""
    rows, cols = shape
    xc = tr.c + tr.a * (np.arange(cols) + 0.5)
    yc = tr.f + tr.e * (np.arange(rows) + 0.5)
    inx = (xc >= bounds.left) & (xc <= bounds.right)
    iny = (yc >= bounds.bottom) & (yc <= bounds.top)
    return iny[:, None] & inx[None, :]


def _within(valid: np.ndarray, k: int) -> np.ndarray:
    """Cells within ``k`` cells (Chebyshev) of a valid cell."""
    from scipy.ndimage import binary_dilation

    return binary_dilation(valid, structure=np.ones((2 * k + 1, 2 * k + 1), dtype=bool))


# ---------------------------------------------------------------------- formulas
def terrain_class(rise_fall_per_km: Any) -> np.ndarray:
    """Terrain class of each rise-and-fall (m/km) by :data:`RISE_FALL_LIMITS`; ``""`` if NaN."""
    rf = np.asarray(rise_fall_per_km, dtype=np.float64)
    out = np.full(rf.shape, "mountainous", dtype=object)
    out[rf <= RISE_FALL_LIMITS["rolling"]] = "rolling"
    out[rf <= RISE_FALL_LIMITS["plain"]] = "plain"
    out[~np.isfinite(rf)] = ""
    return out


def capacity_factor(terrain: Any, heavy_share: float = HEAVY_SHARE) -> np.ndarray:
    """``f_HV(terrain) / f_HV(plain)``, ``f_HV = 1 / (1 + P (E_T - 1))`` (HCM 2010).

    Unknown classes (``""``) give 1.
    """
    t = np.asarray(terrain, dtype=object)
    pce = np.array([HEAVY_VEHICLE_PCE.get(str(c), HEAVY_VEHICLE_PCE["plain"]) for c in t.ravel()])
    level = 1.0 + heavy_share * (HEAVY_VEHICLE_PCE["plain"] - 1.0)
    return (level / (1.0 + heavy_share * (pce - 1.0))).reshape(t.shape)


def crawl_speed(grade: Any) -> np.ndarray:
    """Steady speed (km/h) of the heavy vehicle on a grade (rise over run, uphill > 0).

    The speed ``v`` at which the power at the wheels balances the resistances::

        eta P / M = v (g (f(v) + G) + rho Cd A v**2 / (2 M)),  f(v) = 0.01 (1 + v / 44.8)

    (``v`` in m/s; 44.8 m/s is the 147 ft/s of the textbook formula; the constants are the
    module's ``TRUCK_*``). Downhill beyond the resistances the engine is no limit: 216 km/h is
    returned (every road's speed is below it).
    """
    g = np.asarray(grade, dtype=np.float64)
    target = TRUCK_DRIVETRAIN_EFFICIENCY * 1000.0 / TRUCK_MASS_PER_POWER  # W per kg
    k = AIR_DENSITY * TRUCK_DRAG_AREA_M2 / (2.0 * TRUCK_MASS_KG)

    def demand(v: np.ndarray) -> np.ndarray:
        f = 0.01 * (1.0 + v / _ROLLING_SPEED_MS)
        return v * (GRAVITY * (f + g) + k * v * v)

    lo = np.full(g.shape, _CRAWL_MIN_MS)
    hi = np.full(g.shape, _CRAWL_MAX_MS)
    free = demand(hi) <= target
    for _ in range(60):  # bisection: demand rises with v where it meets the target
        mid = 0.5 * (lo + hi)
        up = demand(mid) < target
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
    v = np.where(free, _CRAWL_MAX_MS, 0.5 * (lo + hi))
    return v * 3.6


def heavy_vehicle_time_factor(
    heights: Any, run_m: float, speed: float, heavy_share: float = HEAVY_SHARE
) -> float:
    """Free-flow time of the mixed stream on a profile over that on the level (>= 1).

    See the module docstring for the formula.

    Parameters
    ----------
    heights
        Heights (m) at ``N + 1`` equally spaced points along the road.
    run_m
        Horizontal length of the road (m).
    speed
        The road's free-flow speed (km/h).
    heavy_share
        Share of heavy vehicles.
    """
    h = np.asarray(heights, dtype=np.float64)
    n = h.size - 1
    if n < 1 or run_m <= 0 or speed <= 0:
        return 1.0
    piece = run_m / n
    top = min(speed, HEAVY_VEHICLE_SPEED)
    t_hv = float(np.sum(piece / np.minimum(top, crawl_speed(np.diff(h) / piece))))
    t_car = run_m / speed
    level = (1.0 - heavy_share) * t_car + heavy_share * run_m / top
    return max(1.0, ((1.0 - heavy_share) * t_car + heavy_share * t_hv) / level)


# ---------------------------------------------------------------------- profiles
def _metres_per_unit(network: Network) -> float:
    import pyproj

    crs = network.crs
    if crs is None:
        raise InvalidNetworkError(
            f"network '{network.name}' has no coordinate reference system; its terrain "
            "cannot be read from a DEM (give its CRS)"
        )
    c = pyproj.CRS.from_user_input(crs)
    if c.is_geographic:
        raise InvalidNetworkError(
            f"network '{network.name}' is in geographic coordinates ({crs}); grades need "
            "coordinates in metres (OpenStreetMap networks come in UTM)"
        )
    try:
        return float(c.axis_info[0].unit_conversion_factor)
    except (IndexError, AttributeError):
        return 1.0


@dataclass(frozen=True)
class _Profiles:
    """Sample points of many lines: line ``k`` owns ``points[start[k] : start[k+1]]``."""

    start: np.ndarray  # int64 (k + 1,)
    x: np.ndarray
    y: np.ndarray
    run_m: np.ndarray  # float64 (k,)

    def split(self, values: np.ndarray) -> list[np.ndarray]:
        return np.split(values, self.start[1:-1])

    def pieces(self, heights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(owner, rise, length)`` of every piece between two points of one line (m)."""
        lines = self.run_m.size
        count = np.diff(self.start) - 1
        owner = np.repeat(np.arange(lines), count)
        inner = np.ones(heights.size - 1, dtype=bool) if heights.size else np.zeros(0, bool)
        inner[self.start[1:-1] - 1] = False  # from the last point of a line to the next's first
        return owner, np.diff(heights)[inner], (self.run_m / np.maximum(count, 1))[owner]


def _profiles(lines: Sequence[Any], mpu: float, step_m: float) -> _Profiles:
    import shapely

    geoms = np.asarray(lines, dtype=object)
    length = shapely.length(geoms) * mpu
    count = np.maximum(1, np.ceil(length / step_m)).astype(np.int64)
    start = np.zeros(len(geoms) + 1, dtype=np.int64)
    np.cumsum(count + 1, out=start[1:])
    owner = np.repeat(np.arange(len(geoms)), count + 1)
    j = np.arange(start[-1]) - start[owner]
    frac = j / count[owner]
    pts = shapely.line_interpolate_point(geoms[owner], frac, normalized=True)
    return _Profiles(start, shapely.get_x(pts), shapely.get_y(pts), length)


def profile_heights(
    line: Any,
    surface: Surface,
    *,
    crs: str | None = None,
    step_m: float = PROFILE_STEP_M,
    metres_per_unit: float = 1.0,
) -> tuple[np.ndarray, float]:
    """Heights along a line at equal spacing, as :func:`apply_terrain` samples a link.

    Parameters
    ----------
    line
        A shapely LineString (any number of vertices) in ``crs``.
    surface
        The heights; sampled bilinearly (:meth:`Surface.sample`, reprojected to its CRS).
    crs
        The line's CRS (default: the surface's own).
    step_m
        Largest spacing of the points (m): the line is cut into ``N = ceil(run / step_m)``
        equal pieces.
    metres_per_unit
        Metres per unit of the line's coordinates.

    Returns
    -------
    heights : float64 array (N + 1,)
        Metres, from the line's first vertex to its last; NaN where the surface has none.
    run_m : float
        The line's horizontal length (m); each piece is ``run_m / N`` long.
    """
    prof = _profiles([line], float(metres_per_unit), float(step_m))
    return surface.sample(prof.x, prof.y, crs=crs), float(prof.run_m[0])


def _link_lines(network: Network, links: np.ndarray) -> list[Any]:
    import shapely

    geoms = network.extra.get("geometry")
    if geoms is None or len(geoms) < network.num_links:
        geoms = [None] * network.num_links
    xy = np.column_stack([network.x, network.y])
    out = []
    for k in links.tolist():
        g = geoms[k]
        if g is None or g.is_empty or g.length == 0:
            a, b = network.init[k], network.term[k]
            g = shapely.LineString([xy[a], xy[b]])
        out.append(g)
    return out


def _stats(prof: _Profiles, heights: np.ndarray) -> dict[str, np.ndarray]:
    """Grade, gain, loss and rise and fall per km of every line, from its profile."""
    owner, rise, _ = prof.pieces(heights)
    n, run = prof.run_m.size, prof.run_m
    gain = np.bincount(owner, weights=np.clip(rise, 0, None), minlength=n)
    loss = np.bincount(owner, weights=np.clip(-rise, 0, None), minlength=n)
    net_rise = heights[prof.start[1:] - 1] - heights[prof.start[:-1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        grade = np.where(run > 0, net_rise / run, 0.0)
        rf = np.where(run > 0, (gain + loss) / (run / 1000.0), 0.0)
    return {"grade": grade, "gain": gain, "loss": loss, "rise_fall": rf}


def _time_factors(
    prof: _Profiles, heights: np.ndarray, speed: np.ndarray, heavy_share: float
) -> np.ndarray:
    """:func:`heavy_vehicle_time_factor` of every line at once."""
    owner, rise, piece = prof.pieces(heights)
    v = np.maximum(speed, 1e-9)
    top = np.minimum(v, HEAVY_VEHICLE_SPEED)
    crawl = crawl_speed(np.divide(rise, piece, out=np.zeros_like(rise), where=piece > 0))
    t_hv = np.bincount(owner, weights=piece / np.minimum(top[owner], crawl), minlength=v.size)
    t_car = prof.run_m / v
    level = (1.0 - heavy_share) * t_car + heavy_share * prof.run_m / top
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(level > 0, ((1.0 - heavy_share) * t_car + heavy_share * t_hv) / level, 1.0)
    return np.where(speed > 0, np.maximum(f, 1.0), 1.0)


def _uncovered(crs: str, x: np.ndarray, y: np.ndarray, heights: np.ndarray) -> str:
    """The lon/lat box of the points without a height, and the SRTM tiles over it."""
    bad = ~np.isfinite(heights)
    lon, lat = _transform(crs, "EPSG:4326", x[bad], y[bad])
    lon, lat = np.asarray(lon), np.asarray(lat)
    w, e, s, n = lon.min(), lon.max(), lat.min(), lat.max()
    tiles = sorted(
        {
            f"{'N' if la >= 0 else 'S'}{abs(la):02d}{'E' if lo >= 0 else 'W'}{abs(lo):03d}"
            for la in range(math.floor(s), math.floor(n) + 1)
            for lo in range(math.floor(w), math.floor(e) + 1)
        }
    )
    return (
        f"lon {w:.4f}..{e:.4f}, lat {s:.4f}..{n:.4f} (degrees; SRTM tiles over it: "
        f"{', '.join(tiles)})"
    )


def _coverage_error(
    surface: Surface, net: Network, h_nodes: np.ndarray, prof: _Profiles, h_pts: np.ndarray
) -> DEMCoverageError:
    names = ", ".join(Path(f).name for f in surface.files) or "the DEM"
    xs = np.concatenate([net.x, prof.x])
    ys = np.concatenate([net.y, prof.y])
    hs = np.concatenate([h_nodes, h_pts])
    crs = str(net.crs)
    gx, gy = _transform(crs, surface.crs, xs, ys)
    outside = ~surface.covers(gx, gy)
    where = _uncovered(crs, xs, ys, hs)
    node_out = outside[: net.num_nodes]
    node_void = ~np.isfinite(h_nodes) & ~node_out
    if outside.any():
        what = (
            f"{int(node_out.sum())} of {net.num_nodes} nodes "
            f"({100.0 * node_out.mean():.1f} %) lie outside it"
        )
        hint = "add the DEM files that cover that area"
    else:
        what = f"{int(node_void.sum())} nodes and other points fall on unfilled voids"
        hint = "fill the voids (fill_voids=True) or use a void-filled DEM"
    return DEMCoverageError(
        f"{names} does not cover the study area of '{net.name}': {what}; missing: {where}; {hint}"
    )


# ---------------------------------------------------------------------- networks
def has_terrain(network: Network) -> bool:
    """Whether :func:`apply_terrain` has been applied to the network."""
    return "terrain_source" in network.extra


def apply_terrain(
    network: Network,
    dem: Surface | str | Path | Iterable[str | Path],
    *,
    heavy_share: float = HEAVY_SHARE,
    step_m: float = PROFILE_STEP_M,
    smooth_cells: int = SMOOTHING_CELLS,
    fill_voids: bool = True,
) -> Network:
    """The network with heights, grades, terrain classes and their effect on its roads.

    See the module docstring for the measures and formulas.

    Parameters
    ----------
    network
        A network with node coordinates in a projected CRS (an OpenStreetMap network).
    dem
        A :class:`Surface`, or DEM file(s) for :func:`read_dem` (read around the network).
    heavy_share
        Share of heavy vehicles (trucks, buses) in [0, 1].
    step_m
        Profile spacing along the links (m).
    smooth_cells
        Heights are read from the DEM's mean over windows of this many cells square (1:
        as they are); see :data:`SMOOTHING_CELLS`.
    fill_voids
        Fill DEM voids from their neighbours (else points on a void are refused).

    Returns
    -------
    Network
        A copy whose road links' ``capacity`` is multiplied by the capacity factor and
        ``speed`` by the speed factor (``free_flow_time`` divided by it), and whose
        ``extra`` gains, per node, ``node_elevation_m`` (float64 (n,), m); per link
        (length m): ``grade`` (float64, m/m, signed in the link's direction; NaN for
        connectors), ``elevation_gain_m``, ``elevation_loss_m`` (float64, m),
        ``rise_fall_m_per_km`` (float64), ``terrain`` (object: ``plain``, ``rolling``,
        ``mountainous``; ``""`` for connectors), ``speed_factor`` and ``capacity_factor``
        (float64, 1 where nothing changed); and ``terrain_source`` (the files and
        parameters, JSON-ready) and ``terrain_surface`` (the :class:`Surface` read, cut to
        the network's area).

    Raises
    ------
    DEMCoverageError
        When the DEM does not cover every node and link: the message names the uncovered
        box in degrees, the share of nodes outside and the SRTM tiles over the gap.
    InvalidNetworkError
        For a network without coordinates or CRS, in geographic coordinates, or with
        terrain already applied.
    FileFormatError, FileNotFoundError
        From :func:`read_dem`.
    """
    if has_terrain(network):
        raise InvalidNetworkError(
            f"network '{network.name}' already has terrain from "
            f"{network.extra['terrain_source'].get('files')}; apply it to the network as read"
        )
    if not (0.0 <= float(heavy_share) <= 1.0):
        raise ValueError(f"heavy_share: is {heavy_share!r}; give a share in [0, 1]")
    if not (math.isfinite(step_m) and step_m > 0):
        raise ValueError(f"step_m: is {step_m!r}; give a spacing in metres > 0")
    if not network.has_coordinates:
        raise InvalidNetworkError(
            f"network '{network.name}' has no node coordinates; terrain needs them"
        )
    mpu = _metres_per_unit(network)
    crs = str(network.crs)
    m = network.num_links
    lines = _link_lines(network, np.arange(m))
    prof = _profiles(lines, mpu, step_m)
    if isinstance(dem, Surface):
        surface = dem
    else:
        xs = np.concatenate([network.x, prof.x])
        ys = np.concatenate([network.y, prof.y])
        box = (xs.min(), ys.min(), xs.max(), ys.max())
        surface = read_dem(dem, bounds=box, bounds_crs=crs, fill_voids=fill_voids)
    surface = surface.smoothed(int(smooth_cells))
    h_nodes = surface.sample(network.x, network.y, crs=crs)
    h_pts = surface.sample(prof.x, prof.y, crs=crs)
    if not (np.isfinite(h_nodes).all() and np.isfinite(h_pts).all()):
        raise _coverage_error(surface, network, h_nodes, prof, h_pts)
    h_pts[prof.start[:-1]] = h_nodes[network.init]  # the ends are the nodes' heights
    h_pts[prof.start[1:] - 1] = h_nodes[network.term]
    st = _stats(prof, h_pts)
    connector = np.asarray(network.road_class, dtype=object) == CONNECTOR_CLASS
    terrain = terrain_class(st["rise_fall"])
    terrain[connector] = ""
    cap_f = np.where(connector, 1.0, capacity_factor(terrain, heavy_share))
    time_f = np.where(connector, 1.0, _time_factors(prof, h_pts, network.speed, heavy_share))
    speed_f = 1.0 / time_f
    grade = np.where(connector, np.nan, st["grade"])
    extra = dict(network.extra)
    extra.update(
        {
            "node_elevation_m": h_nodes,
            "grade": grade,
            "elevation_gain_m": np.where(connector, np.nan, st["gain"]),
            "elevation_loss_m": np.where(connector, np.nan, st["loss"]),
            "rise_fall_m_per_km": np.where(connector, np.nan, st["rise_fall"]),
            "terrain": terrain,
            "speed_factor": speed_f,
            "capacity_factor": cap_f,
            "terrain_source": {
                "files": list(surface.files),
                "dem_crs": surface.crs,
                "filled_void_cells": surface.filled,
                "heavy_share": float(heavy_share),
                "step_m": float(step_m),
                "smooth_cells": int(smooth_cells),
                "rise_fall_limits_m_per_km": dict(RISE_FALL_LIMITS),
                "heavy_vehicle_pce": dict(HEAVY_VEHICLE_PCE),
                "truck_mass_per_power_kg_per_kw": TRUCK_MASS_PER_POWER,
                "heavy_vehicle_speed_kmh": HEAVY_VEHICLE_SPEED,
                "height_range_m": [float(h_nodes.min()), float(h_nodes.max())],
            },
            "terrain_surface": _crop(surface, network, prof, crs),
        }
    )
    log.info(
        "%s: terrain from %s: heights %.0f-%.0f m, %s",
        network.name,
        ", ".join(Path(f).name for f in surface.files),
        h_nodes.min(),
        h_nodes.max(),
        ", ".join(f"{c} {int(np.sum(terrain == c))}" for c in TERRAIN_CLASSES),
    )
    return network.replace(
        capacity=network.capacity * cap_f,
        speed=network.speed * speed_f,
        free_flow_time=network.free_flow_time * time_f,
        extra=extra,
    )


def _crop(surface: Surface, network: Network, prof: _Profiles, crs: str) -> Surface:
    """The part of the surface around the network (two cells of margin)."""
    gx, gy = _transform(
        crs, surface.crs, np.concatenate([network.x, prof.x]), np.concatenate([network.y, prof.y])
    )
    a, _, c, _, e, f = surface.transform
    rows, cols = surface.heights.shape
    c_lo, c_hi = sorted(((np.min(gx) - c) / a, (np.max(gx) - c) / a))
    r_lo, r_hi = sorted(((np.min(gy) - f) / e, (np.max(gy) - f) / e))
    c0, c1 = max(int(c_lo) - 2, 0), min(math.ceil(c_hi) + 2, cols)
    r0, r1 = max(int(r_lo) - 2, 0), min(math.ceil(r_hi) + 2, rows)
    h = np.array(surface.heights[r0:r1, c0:c1])
    h.setflags(write=False)
    return Surface(
        heights=h,
        transform=(a, 0.0, c + a * c0, 0.0, e, f + e * r0),
        crs=surface.crs,
        files=surface.files,
        filled=surface.filled,
        extents=surface.extents,
    )


def line_terrain(
    network: Network,
    init: Any,
    term: Any,
    *,
    length_m: Any = None,
    speed: Any = None,
    step_m: float | None = None,
) -> dict[str, Any]:
    """Grade and terrain class of straight new lines between nodes of a terrain network.

    Heights come from the network's ``terrain_surface`` sampled along the straight line;
    without it, from the heights of the two end nodes; without those, the line takes the
    steepest class of the links at its two ends (and a grade of NaN).

    Parameters
    ----------
    network
        A network :func:`apply_terrain` has been applied to.
    init, term
        Internal node indices of the lines' ends.
    length_m
        Length of the road built along each line (m; default the straight line): the
        grade and rise and fall per km are taken over it (a winding road is gentler).
    speed
        Free-flow speed of the roads (km/h): with it, their ``speed_factor`` and
        ``capacity_factor`` are returned too (the network's heavy-vehicle share).
    step_m
        Profile spacing (default the one the network's terrain was made with).

    Returns
    -------
    dict
        ``grade`` (m/m, ``init`` to ``term``), ``rise_fall_m_per_km``, ``terrain`` and
        ``heights`` (a list of profiles, m; empty where unknown).
    """
    import shapely

    a = np.atleast_1d(np.asarray(init, dtype=np.int64))
    b = np.atleast_1d(np.asarray(term, dtype=np.int64))
    src = network.extra.get("terrain_source") or {}
    step = float(step_m if step_m is not None else src.get("step_m", PROFILE_STEP_M))
    mpu = _metres_per_unit(network)
    xy = np.column_stack([network.x, network.y])
    straight = np.hypot(*(xy[a] - xy[b]).T) * mpu
    run = straight if length_m is None else np.broadcast_to(np.asarray(length_m, float), a.shape)
    surface = network.extra.get("terrain_surface")
    h_nodes = network.extra.get("node_elevation_m")
    heights: list[np.ndarray] = [np.zeros(0)] * a.size
    if isinstance(surface, Surface) and a.size:
        lines = shapely.linestrings(np.stack([xy[a], xy[b]], axis=1))
        prof = _profiles(list(lines), mpu, step)
        h = surface.sample(prof.x, prof.y, crs=str(network.crs))
        heights = [p if np.isfinite(p).all() else np.zeros(0) for p in prof.split(h)]
    if h_nodes is not None and len(h_nodes) == network.num_nodes:
        hn = np.asarray(h_nodes, dtype=np.float64)
        heights = [
            p if p.size else np.array([hn[i], hn[j]])
            for p, i, j in zip(heights, a.tolist(), b.tolist(), strict=True)
        ]
    grade = np.full(a.size, np.nan)
    rf = np.full(a.size, np.nan)
    for k, p in enumerate(heights):
        if p.size >= 2 and run[k] > 0:
            grade[k] = (p[-1] - p[0]) / run[k]
            rf[k] = np.abs(np.diff(p)).sum() / (run[k] / 1000.0)
    terrain = terrain_class(rf)
    missing = np.flatnonzero(terrain == "")
    if missing.size:
        stored = network.extra.get("terrain")
        for k in missing.tolist():
            terrain[k] = _steepest_at(network, stored, int(a[k]), int(b[k]))
    out: dict[str, Any] = {
        "grade": grade,
        "rise_fall_m_per_km": rf,
        "terrain": terrain,
        "heights": heights,
    }
    if speed is not None:
        share = float(src.get("heavy_share", HEAVY_SHARE))
        v = np.broadcast_to(np.asarray(speed, dtype=np.float64), a.shape)
        out["capacity_factor"] = capacity_factor(terrain, share)
        out["speed_factor"] = np.array(
            [
                1.0 / heavy_vehicle_time_factor(p, float(r), float(s), share) if p.size else 1.0
                for p, r, s in zip(heights, run.tolist(), v.tolist(), strict=True)
            ]
        )
    return out


def _steepest_at(network: Network, stored: Any, a: int, b: int) -> str:
    if stored is None:
        return ""
    n = len(stored)
    found: set[str] = set()
    for i in (a, b):
        around = np.concatenate(
            [
                network.fs_links[network.fs_indptr[i] : network.fs_indptr[i + 1]],
                network.bs_links[network.bs_indptr[i] : network.bs_indptr[i + 1]],
            ]
        )
        found.update(str(stored[k]) for k in around.tolist() if k < n and stored[k])
    ranked = [c for c in TERRAIN_CLASSES if c in found]
    return ranked[-1] if ranked else ""


def link_terrain(network: Network) -> tuple[np.ndarray, np.ndarray] | None:
    """``(grade, terrain)`` of every link, or None for a network without terrain.

    Links appended after :func:`apply_terrain` (candidate new roads) get theirs from
    :func:`line_terrain` over their length (connectors: NaN and ``""``).
    """
    if not has_terrain(network):
        return None
    m = network.num_links
    grade = np.full(m, np.nan)
    terrain = np.full(m, "", dtype=object)
    g0 = np.asarray(network.extra.get("grade", []), dtype=np.float64)[:m]
    t0 = np.asarray(network.extra.get("terrain", []), dtype=object)[:m]
    grade[: g0.size], terrain[: t0.size] = g0, t0
    new = np.arange(min(g0.size, t0.size), m)
    new = new[np.asarray(network.road_class, dtype=object)[new] != CONNECTOR_CLASS]
    if new.size:
        lt = line_terrain(
            network, network.init[new], network.term[new], length_m=network.length[new] * 1000.0
        )
        grade[new], terrain[new] = lt["grade"], lt["terrain"]
    return grade, terrain


def describe_terrain(network: Network) -> Mapping[str, Any]:
    """Figures of a terrain network for people: heights, grades, classes, factors."""
    if not has_terrain(network):
        return {}
    ex = network.extra
    road = np.asarray(network.road_class, dtype=object) != CONNECTOR_CLASS
    g = np.abs(np.asarray(ex["grade"], dtype=np.float64)[road])
    t = np.asarray(ex["terrain"], dtype=object)[road]
    return {
        "height_range_m": ex["terrain_source"]["height_range_m"],
        "abs_grade_percentiles": {
            q: float(np.percentile(g, q)) * 100.0 for q in (50, 90, 99, 100) if g.size
        },
        "terrain_shares": {c: float(np.mean(t == c)) for c in TERRAIN_CLASSES if t.size},
        "mean_speed_factor": float(np.mean(ex["speed_factor"])),
        "mean_capacity_factor": float(np.mean(ex["capacity_factor"])),
    }
