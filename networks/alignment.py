"""Alignments of new roads: the least-cost line between two points over the terrain.

:func:`align` proposes where a new road between two points would run, in the network's
projected CRS (metres). With ``method="terrain"`` it is the cheapest path (Dijkstra, "A
note on two problems in connexion with graphs", *Numerische Mathematik* 1, 1959) over a
regular grid of square cells covering the box around the two points, widened on every
side by ``margin`` times their distance. From each cell centre the road may move to 16
neighbours: the 8 adjacent cells and the 8 knight's moves ``(+-1, +-2)``, ``(+-2, +-1)``.
Those add the directions 26.6 and 63.4 degrees, so on flat ground a grid path is at most
``1 / cos(13.3 deg) - 1 = 2.7 %`` longer than the straight line (8 neighbours: 8.2 %), and a
climb can wind at gentler angles (on wider move sets: Antikainen, "Comparison of different
strategies for determining raster-based least-cost paths with a minimum amount of
distortion", *Transactions in GIS* 17(1), 2013). A move of horizontal length ``d`` between
two centres costs::

    c = d (1 + w (g / G)**2) m,    g = max(|h_mid - h_i|, |h_j - h_mid|) / (d / 2)

with ``h_i``, ``h_mid`` and ``h_j`` the heights at its start, midpoint and end (so ``g`` is
the grade of its steeper half, over 25 to 56 m with 50 m cells, near the 30 m pieces of the
profile), ``G`` the maximum grade, ``w`` the grade weight and ``m = (m_i + m_j) / 2`` the mean of
the two cells' multipliers of the dear areas their centres lie in (the largest where areas
overlap, as :mod:`optimizer.protect` combines them). Moves steeper than ``G`` are not
allowed; when that leaves no path, the search is repeated with them at
:data:`STEEP_PENALTY` times their cost (:attr:`Alignment.grade_relaxed`). A cell whose centre
lies in a forbidden area is impassable, and so is every move whose segment meets one
(touching included, as :func:`optimizer.protect.protect_candidates` tests candidates). The
exact end points join the graph through the 9 cells around each. The path's polyline is
simplified (Douglas-Peucker, tolerance half a cell, else a quarter) unless that would meet
a forbidden area or steepen its profile (:data:`SIMPLIFY_GRADE_SLACK`).

The result's profile figures are those of :mod:`networks.terrain`: heights every
:data:`~networks.terrain.PROFILE_STEP_M` along the final polyline
(:func:`~networks.terrain.profile_heights`), rise and fall per km, the steepest piece, and
:func:`~networks.terrain.terrain_class`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import DEMCoverageError
from .terrain import PROFILE_STEP_M, Surface, profile_heights, terrain_class

__all__ = [
    "GRADE_WEIGHT",
    "MAX_CELLS",
    "MAX_GRADE",
    "METHODS",
    "SIMPLIFY_GRADE_SLACK",
    "SIMPLIFY_TOLERANCES",
    "STEEP_PENALTY",
    "Alignment",
    "align",
]

log = logging.getLogger(__name__)

#: Default maximum longitudinal grade (m/m). JTG B01-2014, *Technical Standard of Highway
#: Engineering* (China), limits it by design speed: 5 % at 80 km/h, 6 % at 60, 7 % at 40
#: and 8 % at 30 km/h; 7 % is the limit of a 40 km/h road, the usual new link between
#: settlements.
MAX_GRADE = 0.07

#: Default weight ``w`` of the grade in the move cost ``d (1 + w (g / G)**2)``. To gain a
#: distance ``d`` up an even slope of grade ``s``, zig-zags at an angle ``theta`` to the fall
#: line cost ``d / cos(theta) (1 + w (s cos(theta) / G)**2)``, least at ``cos(theta) = G /
#: (s sqrt(w))``: with 1 the road climbs straight up while ``s <= G`` and winds at exactly
#: ``G`` where the slope is steeper, and a road at the limit grade is priced as one twice
#: as long.
GRADE_WEIGHT = 1.0

#: Most cells of a grid; a longer pair gets coarser cells (logged).
MAX_CELLS = 250_000

#: Cost multiplier of moves steeper than the maximum grade, when no path keeps to it.
STEEP_PENALTY = 10.0

#: Douglas-Peucker tolerances (in cells) tried, in turn, to simplify a grid path.
SIMPLIFY_TOLERANCES = (0.5, 0.25)

#: How much steeper (m/m) than the grid path (or ``max_grade``) a simplified line may be:
#: a quarter of a per cent, well below the DEM's noise (5-10 m per 90 m cell for SRTM).
SIMPLIFY_GRADE_SLACK = 0.0025

#: Least margin around the two points, in cells.
MIN_PAD_CELLS = 3

# Half of the 16 moves (row, col): the others are their opposites.
_HALF_MOVES = ((0, 1), (1, -1), (1, 0), (1, 1), (1, -2), (1, 2), (2, -1), (2, 1))
# the least weight of a move: a zero-length one (an end on a cell centre) must not be
# dropped as an explicit zero of the sparse matrix
_MIN_WEIGHT = 1e-9


@dataclass(frozen=True, eq=False)
class Alignment:
    """The line of a new road between two points and its profile.

    Attributes
    ----------
    xy : float64 array (k, 2)
        Vertices of the polyline in the network's CRS (m), from the start to the end
        (exactly the points given). Read-only.
    length_m : float
        Horizontal length of the polyline (m).
    straight_m : float
        Straight-line distance between the ends (m).
    rise_fall_m_per_km : float
        Sum of ``|dh|`` over the profile per km of road (m/km); NaN without a surface.
    max_grade : float
        Steepest grade of a profile piece (m/m, unsigned; pieces of at most
        :data:`~networks.terrain.PROFILE_STEP_M`); NaN without a surface.
    terrain : str
        :func:`networks.terrain.terrain_class` of ``rise_fall_m_per_km``: ``plain``,
        ``rolling``, ``mountainous``, or ``""`` without a surface.
    cost_factor : float
        Length-weighted mean multiplier of the dear areas the polyline crosses (the
        largest where they overlap; 1 outside them): 1.0 when it crosses none.
    method : str
        ``straight`` or ``terrain``.
    heights : float64 array (N + 1,)
        The profile (m), at ``N + 1`` equally spaced points from start to end (pieces of
        ``length_m / N``); empty without a surface. Read-only.
    cell_m : float
        Cell size of the grid searched (m; larger than asked for long pairs); NaN for
        ``straight``.
    grade_relaxed : bool
        True when no path kept to the maximum grade and steeper moves were allowed at
        :data:`STEEP_PENALTY` times their cost (``terrain`` only).
    """

    xy: np.ndarray
    length_m: float
    straight_m: float
    rise_fall_m_per_km: float
    max_grade: float
    terrain: str
    cost_factor: float
    method: str
    heights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cell_m: float = math.nan
    grade_relaxed: bool = False

    @property
    def detour(self) -> float:
        """``length_m / straight_m`` (>= 1)."""
        return self.length_m / self.straight_m if self.straight_m > 0 else 1.0

    @property
    def line(self) -> Any:
        """The polyline as a shapely LineString."""
        import shapely

        return shapely.LineString(self.xy)


# ---------------------------------------------------------------------- inputs
@dataclass(frozen=True, eq=False)
class _Problem:
    """The checked inputs of :func:`align`."""

    start: np.ndarray  # (2,)
    end: np.ndarray
    surface: Surface | None
    crs: str | None
    forbidden: Any  # the union of the forbidden polygons, prepared; None for none
    dear: tuple[tuple[Any, float], ...]  # (polygon, multiplier > 1)
    cell_m: float
    max_grade: float
    margin: float
    max_detour: float
    grade_weight: float

    @property
    def straight_m(self) -> float:
        return float(np.hypot(*(self.end - self.start)))


def _point(value: Any, name: str) -> np.ndarray:
    p = np.asarray(value, dtype=np.float64).reshape(-1)
    if p.size != 2 or not np.isfinite(p).all():
        raise ValueError(f"{name}: is {value!r}; give a point (x, y) in metres")
    return p


def _positive(value: float, name: str, *, low: float = 0.0, strict: bool = True) -> float:
    v = float(value)
    if not math.isfinite(v) or v < low or (strict and v == low):
        rel = ">" if strict else ">="
        raise ValueError(f"{name}: is {value!r}; give a finite number {rel} {low:g}")
    return v


_POLYGONS = ("Polygon", "MultiPolygon")


def _geoms(value: Any) -> list[Any]:
    return [value] if hasattr(value, "geom_type") else list(value)


def _problem(
    start: Any,
    end: Any,
    *,
    surface: Surface | None,
    crs: str | None,
    forbidden: Any,
    dear: Any,
    cell_m: float,
    max_grade: float,
    margin: float,
    max_detour: float,
    grade_weight: float,
) -> _Problem:
    import shapely

    a, b = _point(start, "start"), _point(end, "end")
    if np.hypot(*(b - a)) <= 0:
        raise ValueError(f"start and end are the same point ({a[0]:g}, {a[1]:g}); give two")
    if surface is not None and not isinstance(surface, Surface):
        raise TypeError(f"surface: is a {type(surface).__name__}; give a networks.terrain.Surface")
    banned = _geoms(forbidden)
    priced: list[tuple[Any, float]] = []
    for k, item in enumerate(dear):
        try:
            poly, factor = item
            f = float(factor)
        except (TypeError, ValueError):
            raise ValueError(f"dear[{k}]: is {item!r}; give (polygon, multiplier >= 1)") from None
        if not f >= 1.0:  # NaN too
            raise ValueError(f"dear[{k}]: multiplier is {factor!r}; give one >= 1 (inf: forbid)")
        if getattr(poly, "geom_type", "") not in _POLYGONS:
            raise ValueError(f"dear[{k}]: is {poly!r}; give a shapely (Multi)Polygon")
        if math.isinf(f):
            banned.append(poly)
        elif f > 1.0:
            priced.append((poly, f))
    for k, g in enumerate(banned):
        if getattr(g, "geom_type", "") not in _POLYGONS:
            raise ValueError(f"forbidden area {k}: is {g!r}; give shapely (Multi)Polygons")
    union = None
    if banned:
        union = shapely.union_all(banned)
        shapely.prepare(union)
    return _Problem(
        start=a,
        end=b,
        surface=surface,
        crs=None if crs is None else str(crs),
        forbidden=union,
        dear=tuple(priced),
        cell_m=_positive(cell_m, "cell_m"),
        max_grade=_positive(max_grade, "max_grade"),
        margin=_positive(margin, "margin", strict=False),
        max_detour=_positive(max_detour, "max_detour", low=1.0, strict=False),
        grade_weight=_positive(grade_weight, "grade_weight", strict=False),
    )


def _heights(p: _Problem, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Heights (m) at points in the network's CRS; zeros without a surface."""
    if p.surface is None:
        return np.zeros(np.shape(x))
    return p.surface.sample(x, y, crs=p.crs)


# ---------------------------------------------------------------------- the grid
@dataclass(frozen=True)
class _Grid:
    """Square cells of side ``cell`` (m).

    Cell ``(r, c)``, node ``r * cols + c``, has its centre at
    ``(x0 + (c + 0.5) cell, y0 + (r + 0.5) cell)``.
    """

    x0: float
    y0: float
    cell: float
    rows: int
    cols: int

    @property
    def size(self) -> int:
        return self.rows * self.cols

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of every cell centre, by node (m)."""
        xc = self.x0 + (np.arange(self.cols) + 0.5) * self.cell
        yc = self.y0 + (np.arange(self.rows) + 0.5) * self.cell
        return np.tile(xc, self.rows), np.repeat(yc, self.cols)

    def cell_of(self, xy: np.ndarray) -> tuple[int, int]:
        c = int(np.clip((xy[0] - self.x0) // self.cell, 0, self.cols - 1))
        r = int(np.clip((xy[1] - self.y0) // self.cell, 0, self.rows - 1))
        return r, c

    def window(self, bounds: Sequence[float]) -> tuple[slice, slice]:
        """Rows and columns of the cells that meet ``(xmin, ymin, xmax, ymax)``."""
        xmin, ymin, xmax, ymax = bounds
        c0 = max(math.floor((xmin - self.x0) / self.cell), 0)
        c1 = min(math.floor((xmax - self.x0) / self.cell) + 1, self.cols)
        r0 = max(math.floor((ymin - self.y0) / self.cell), 0)
        r1 = min(math.floor((ymax - self.y0) / self.cell) + 1, self.rows)
        return slice(r0, max(r1, r0)), slice(c0, max(c1, c0))


def _grid(p: _Problem, *, max_cells: int = MAX_CELLS) -> _Grid:
    """The grid over the two points' box widened by ``margin`` x their distance a side."""
    lo, hi = np.minimum(p.start, p.end), np.maximum(p.start, p.end)
    span = hi - lo
    cell = p.cell_m
    while True:
        pad = max(p.margin * p.straight_m, MIN_PAD_CELLS * cell)
        width, height = span + 2.0 * pad
        cols, rows = math.ceil(width / cell), math.ceil(height / cell)
        if rows * cols <= max_cells:
            break
        cell *= 1.001 * math.sqrt(rows * cols / max_cells)
    if cell > p.cell_m:
        log.info(
            "alignment of %.0f m: cells of %.0f m instead of %.0f m (at most %d cells)",
            p.straight_m,
            cell,
            p.cell_m,
            max_cells,
        )
    x0 = lo[0] - pad - (cols * cell - width) / 2.0
    y0 = lo[1] - pad - (rows * cell - height) / 2.0
    return _Grid(float(x0), float(y0), float(cell), rows, cols)


def _rasters(
    p: _Problem, g: _Grid, x: np.ndarray, y: np.ndarray
) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """``(forbidden, blocked, touched, factor)`` over the grid.

    ``forbidden``: the forbidden union clipped to the grid (None if it misses it);
    ``blocked`` (rows, cols): centre in a forbidden area; ``touched`` (rows, cols): the
    cell's square meets one; ``factor`` (cells,): the largest dear multiplier at the centre.
    """
    import shapely

    shape = (g.rows, g.cols)
    blocked = np.zeros(shape, dtype=bool)
    touched = np.zeros(shape, dtype=bool)
    factor = np.ones(g.size)
    box = (
        g.x0 - g.cell,
        g.y0 - g.cell,
        g.x0 + (g.cols + 1) * g.cell,
        g.y0 + (g.rows + 1) * g.cell,
    )
    xr, yr = x.reshape(shape), y.reshape(shape)
    forbidden = None
    if p.forbidden is not None:
        clipped = shapely.clip_by_rect(p.forbidden, *box)
        if not clipped.is_empty:
            forbidden = clipped
            shapely.prepare(forbidden)
            rs, cs = g.window(forbidden.bounds)
            h = g.cell / 2.0
            xs, ys = xr[rs, cs], yr[rs, cs]
            touched[rs, cs] = shapely.intersects(
                shapely.box(xs - h, ys - h, xs + h, ys + h), forbidden
            )
            blocked[rs, cs] = touched[rs, cs] & shapely.intersects_xy(forbidden, xs, ys)
    fr = factor.reshape(shape)
    for poly, f in p.dear:
        clipped = shapely.clip_by_rect(poly, *box)
        if clipped.is_empty:
            continue
        rs, cs = g.window(clipped.bounds)
        inside = shapely.intersects_xy(clipped, xr[rs, cs], yr[rs, cs])
        fr[rs, cs] = np.where(inside, np.maximum(fr[rs, cs], f), fr[rs, cs])
    return forbidden, blocked, touched, factor


@dataclass(frozen=True, eq=False)
class _Moves:
    """The graph's arcs: node ``n`` is the start, ``n + 1`` the end.

    ``dist`` (m), ``grade`` (m/m, unsigned), ``factor`` (dear multiplier) per arc; every
    arc's reverse is there too.
    """

    nodes: int
    src: np.ndarray
    dst: np.ndarray
    dist: np.ndarray
    grade: np.ndarray
    factor: np.ndarray

    def weights(self, max_grade: float, grade_weight: float, *, relaxed: bool) -> np.ndarray:
        """Move costs (m); ``inf`` for moves steeper than ``max_grade`` unless ``relaxed``."""
        w = self.dist * (1.0 + grade_weight * (self.grade / max_grade) ** 2) * self.factor
        steep = self.grade > max_grade
        w = np.where(steep, w * STEEP_PENALTY if relaxed else np.inf, w)
        return np.maximum(w, _MIN_WEIGHT)


def _hits(forbidden: Any, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether the segments ``a[i]``-``b[i]`` ((k, 2) arrays) meet the forbidden areas."""
    import shapely

    if forbidden is None or a.shape[0] == 0:
        return np.zeros(a.shape[0], dtype=bool)
    return shapely.intersects(shapely.linestrings(np.stack([a, b], axis=1)), forbidden)


def _block_touched(touched: np.ndarray, dr: int, dc: int, rs: slice, cs: slice) -> np.ndarray:
    """For sources ``[rs, cs]``, whether a cell of the box spanned by move (dr, dc) is touched."""
    tp = np.pad(touched, 2)
    out = np.zeros((rs.stop - rs.start, cs.stop - cs.start), dtype=bool)
    for i in range(min(0, dr), max(0, dr) + 1):
        for j in range(min(0, dc), max(0, dc) + 1):
            out |= tp[rs.start + 2 + i : rs.stop + 2 + i, cs.start + 2 + j : cs.stop + 2 + j]
    return out


def _half_heights(p: _Problem, g: _Grid) -> np.ndarray:
    """Heights (m) every half cell, shape (2 rows - 1, 2 cols - 1).

    ``[2r, 2c]`` is cell (r, c)'s centre, ``[2r + dr, 2c + dc]`` the midpoint of its move
    (dr, dc).
    """
    xs = g.x0 + (np.arange(2 * g.cols - 1) / 2.0 + 0.5) * g.cell
    ys = g.y0 + (np.arange(2 * g.rows - 1) / 2.0 + 0.5) * g.cell
    h = _heights(p, np.tile(xs, ys.size), np.repeat(ys, xs.size))
    return h.reshape(ys.size, xs.size)


def _steepest(h_a: np.ndarray, h_mid: np.ndarray, h_b: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Grade of the steeper half of moves of length ``d`` (m/m; NaN where a height is)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rise = np.maximum(np.abs(h_mid - h_a), np.abs(h_b - h_mid))
        return rise / np.maximum(0.5 * d, _MIN_WEIGHT)


def _moves(p: _Problem, g: _Grid) -> _Moves:
    """Every allowed move of the grid, and the links of the two end points.

    A move's grade is that of its steeper half (heights at its ends and midpoint).
    """
    x, y = g.centres()
    hh = _half_heights(p, g)
    h = hh[::2, ::2].ravel()
    forbidden, blocked, touched, factor = _rasters(p, g, x, y)
    passable = (~blocked & np.isfinite(h).reshape(blocked.shape)).ravel()
    unknown = int(np.sum(~np.isfinite(h)))
    if unknown:
        log.debug("alignment grid: %d cells without a height are impassable", unknown)
    xy = np.column_stack([x, y])
    node = np.arange(g.size).reshape(g.rows, g.cols)
    src, dst, dist, grade = [], [], [], []
    for dr, dc in _HALF_MOVES:
        rs = slice(max(0, -dr), g.rows - max(0, dr))
        cs = slice(max(0, -dc), g.cols - max(0, dc))
        if rs.stop <= rs.start or cs.stop <= cs.start:
            continue
        a = node[rs, cs].ravel()
        b = node[rs.start + dr : rs.stop + dr, cs.start + dc : cs.stop + dc].ravel()
        mid = hh[
            2 * rs.start + dr : 2 * rs.stop + dr : 2, 2 * cs.start + dc : 2 * cs.stop + dc : 2
        ]
        mid = mid.ravel()
        ok = passable[a] & passable[b] & np.isfinite(mid)
        if forbidden is not None:
            check = ok & _block_touched(touched, dr, dc, rs, cs).ravel()
            if check.any():
                ok[check] = ~_hits(forbidden, xy[a[check]], xy[b[check]])
        a, b = a[ok], b[ok]
        d = np.full(a.size, g.cell * math.hypot(dr, dc))
        src.append(a)
        dst.append(b)
        dist.append(d)
        grade.append(_steepest(h[a], mid[ok], h[b], d))
    # the two end points: nodes n and n + 1, joined to the cells around them
    ends = np.vstack([p.start, p.end])
    pts = np.vstack([xy, ends])
    h_all = np.concatenate([h, _heights(p, ends[:, 0], ends[:, 1])])
    f_all = np.concatenate([factor, [_factor_at(p, q) for q in ends]])
    e_src, e_dst = [], []
    for k, q in enumerate(ends):
        r, c = g.cell_of(q)
        near = node[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2].ravel()
        near = near[passable[near]]
        near = near[~_hits(forbidden, np.broadcast_to(q, (near.size, 2)), xy[near])]
        e_src.append(np.full(near.size, g.size + k))
        e_dst.append(near)
    if p.straight_m <= g.cell * math.sqrt(5.0) and not _hits(forbidden, ends[:1], ends[1:]).any():
        e_src.append(np.array([g.size]))
        e_dst.append(np.array([g.size + 1]))
    es, et = np.concatenate(e_src), np.concatenate(e_dst)
    mid_xy = 0.5 * (pts[es] + pts[et])
    d = np.hypot(*(pts[et] - pts[es]).T)
    src.append(es)
    dst.append(et)
    dist.append(d)
    grade.append(_steepest(h_all[es], _heights(p, mid_xy[:, 0], mid_xy[:, 1]), h_all[et], d))
    s, t = np.concatenate(src), np.concatenate(dst)
    d, gr = np.concatenate(dist), np.concatenate(grade)
    gr = np.where(np.isfinite(gr), gr, np.inf)  # no height at an end point's midpoint
    fac = 0.5 * (f_all[s] + f_all[t])
    return _Moves(
        nodes=g.size + 2,
        src=np.concatenate([s, t]),
        dst=np.concatenate([t, s]),
        dist=np.concatenate([d, d]),
        grade=np.concatenate([gr, gr]),
        factor=np.concatenate([fac, fac]),
    )


def _factor_at(p: _Problem, q: np.ndarray) -> float:
    import shapely

    return max([1.0] + [f for poly, f in p.dear if shapely.intersects_xy(poly, q[0], q[1])])


def _shortest(
    nodes: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray, s: int, t: int
) -> tuple[float, list[int]]:
    """Cost and nodes (``s`` .. ``t``) of the cheapest path; ``(inf, [])`` without one."""
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import dijkstra

    ok = np.isfinite(w)
    graph = csr_array((w[ok], (src[ok], dst[ok])), shape=(nodes, nodes))
    dist, pred = dijkstra(graph, directed=True, indices=s, return_predecessors=True)
    if not np.isfinite(dist[t]):
        return math.inf, []
    path = [t]
    while path[-1] != s:
        path.append(int(pred[path[-1]]))
    return float(dist[t]), path[::-1]


# ---------------------------------------------------------------------- results
def _profile(p: _Problem, line: Any) -> tuple[np.ndarray, float, float]:
    """``(heights, rise_fall_m_per_km, max_grade)`` along a line; empty and NaN without."""
    if p.surface is None:
        return np.zeros(0), math.nan, math.nan
    h, run = profile_heights(line, p.surface, crs=p.crs, step_m=PROFILE_STEP_M)
    if h.size < 2 or run <= 0 or not np.isfinite(h).all():
        return h, math.nan, math.nan
    dh = np.abs(np.diff(h))
    return h, float(dh.sum() / (run / 1000.0)), float(dh.max() / (run / (h.size - 1)))


def _cost_factor(p: _Problem, line: Any) -> float:
    """Length-weighted mean dear multiplier along ``line`` (the largest where areas overlap)."""
    total = float(line.length)
    if not p.dear or total <= 0:
        return 1.0
    rest, acc = line, 0.0
    for poly, f in sorted(p.dear, key=lambda pf: -pf[1]):
        if rest.is_empty:
            break
        if rest.intersects(poly):
            acc += rest.intersection(poly).length * f
            rest = rest.difference(poly)
    return (acc + float(rest.length)) / total


def _result(
    p: _Problem, line: Any, method: str, *, cell_m: float = math.nan, relaxed: bool = False
) -> Alignment:
    import shapely

    xy = np.array(shapely.get_coordinates(line), dtype=np.float64)
    xy[0], xy[-1] = p.start, p.end
    xy.setflags(write=False)
    heights, rf, mg = _profile(p, line)
    heights.setflags(write=False)
    return Alignment(
        xy=xy,
        length_m=float(line.length),
        straight_m=p.straight_m,
        rise_fall_m_per_km=rf,
        max_grade=mg,
        terrain=str(terrain_class(np.array([rf]))[0]),
        cost_factor=_cost_factor(p, line),
        method=method,
        heights=heights,
        cell_m=cell_m,
        grade_relaxed=relaxed,
    )


# ---------------------------------------------------------------------- methods
def _straight(p: _Problem) -> Alignment | None:
    import shapely

    line = shapely.LineString([p.start, p.end])
    if p.forbidden is not None and shapely.intersects(line, p.forbidden):
        log.debug("straight alignment %s-%s enters a forbidden area", p.start, p.end)
        return None
    return _result(p, line, "straight")


def _terrain(p: _Problem) -> Alignment | None:
    import shapely

    if (
        p.forbidden is not None
        and shapely.intersects_xy(
            p.forbidden, [p.start[0], p.end[0]], [p.start[1], p.end[1]]
        ).any()
    ):
        log.debug("alignment %s-%s: an end lies in a forbidden area", p.start, p.end)
        return None
    g = _grid(p)
    mv = _moves(p, g)
    s, t = g.size, g.size + 1
    relaxed = False
    _, path = _shortest(
        mv.nodes, mv.src, mv.dst, mv.weights(p.max_grade, p.grade_weight, relaxed=False), s, t
    )
    if not path and np.any(mv.grade > p.max_grade):
        relaxed = True
        w = mv.weights(p.max_grade, p.grade_weight, relaxed=True)
        _, path = _shortest(mv.nodes, mv.src, mv.dst, w, s, t)
        if path:
            log.info(
                "alignment %s-%s: no path within a grade of %.1f %%; steeper moves allowed "
                "at %g times their cost",
                tuple(p.start.round()),
                tuple(p.end.round()),
                100.0 * p.max_grade,
                STEEP_PENALTY,
            )
    if not path:
        log.debug("alignment %s-%s: no path", p.start, p.end)
        return None
    x, y = g.centres()
    pts = np.vstack([np.column_stack([x, y]), p.start, p.end])
    raw = shapely.LineString(pts[path])
    line = _simplified(p, raw, g.cell)
    if line.length > p.max_detour * p.straight_m:
        log.debug(
            "alignment %s-%s: %.0f m, over %g x the straight %.0f m",
            p.start,
            p.end,
            line.length,
            p.max_detour,
            p.straight_m,
        )
        return None
    return _result(p, line, "terrain", cell_m=g.cell, relaxed=relaxed)


def _simplified(p: _Problem, raw: Any, cell: float) -> Any:
    """``raw`` simplified (Douglas-Peucker) by half a cell, else a quarter, else as it is.

    A simplified line is kept only when it does not meet a forbidden area and its steepest
    profile piece is within :data:`SIMPLIFY_GRADE_SLACK` of ``max(raw's, max_grade)``.
    """
    import shapely

    limit = math.nan
    for share in SIMPLIFY_TOLERANCES:
        line = shapely.simplify(raw, share * cell, preserve_topology=False)
        if shapely.get_num_coordinates(line) == shapely.get_num_coordinates(raw):
            return raw
        if p.forbidden is not None and shapely.intersects(line, p.forbidden):
            continue
        if p.surface is None:
            return line
        if math.isnan(limit):
            limit = max(_profile(p, raw)[2], p.max_grade) + SIMPLIFY_GRADE_SLACK
        if _profile(p, line)[2] <= limit:  # NaN (no heights): not kept
            return line
    return raw


_METHODS: dict[str, Callable[[_Problem], Alignment | None]] = {
    "straight": _straight,
    "terrain": _terrain,
}

#: The alignment methods of :func:`align`.
METHODS = tuple(_METHODS)


def align(
    start: Sequence[float] | np.ndarray,
    end: Sequence[float] | np.ndarray,
    *,
    surface: Surface | None = None,
    crs: str | None = None,
    forbidden: Iterable[Any] = (),
    dear: Iterable[tuple[Any, float]] = (),
    method: str = "terrain",
    cell_m: float = 50.0,
    max_grade: float = MAX_GRADE,
    margin: float = 0.35,
    max_detour: float = 2.5,
    grade_weight: float = GRADE_WEIGHT,
) -> Alignment | None:
    """The alignment of a new road from ``start`` to ``end``, or None where none is allowed.

    See the module docstring for the search and its costs.

    Parameters
    ----------
    start, end
        ``(x, y)`` in the network's projected CRS (m).
    surface
        Heights (:func:`networks.terrain.read_dem`, in any CRS), used as they are: give a
        smoothed one for raw SRTM (``surface.smoothed(networks.terrain.SMOOTHING_CELLS)``,
        or a terrain network's ``extra["terrain_surface"]``, smoothed already). None: flat
        ground (and NaN profile figures).
    crs
        The CRS of the points and polygons, for sampling ``surface`` (default: the
        surface's own).
    forbidden
        Shapely (Multi)Polygons (same CRS) the road must not meet, touching included.
    dear
        ``(polygon, multiplier)`` pairs: building there costs ``multiplier`` (``>= 1``)
        times as much, and the router weighs its moves by it; an infinite multiplier
        forbids the area. So protected areas (:class:`networks.protected.ProtectedAreas`,
        in the network's CRS) give both rules at once:
        ``dear=zip(areas.geometry, areas.multiplier)``.
    method
        ``terrain`` (the least-cost path) or ``straight`` (the segment; None if it meets a
        forbidden area); :data:`METHODS`.
    cell_m
        Grid cell size (m). Grids have at most :data:`MAX_CELLS` cells: for long pairs the
        cells grow to keep within it (logged, and given in :attr:`Alignment.cell_m`).
    max_grade
        Steepest grade (m/m) of a move. The default, 7 %, is the maximum longitudinal grade
        of JTG B01-2014 (*Technical Standard of Highway Engineering*) at 40 km/h design
        speed; it gives 5 % at 80 km/h, 6 % at 60 and 8 % at 30 km/h. Each half of a move
        is checked (heights at its ends and midpoint: 0.5 to 1.12 cells); the profile's
        pieces of 30 m may be a little steeper (:attr:`Alignment.max_grade`).
    margin
        The searched box is the two points' box widened on every side by ``margin`` times
        their distance (and at least 3 cells).
    max_detour
        Longest allowed ratio of the alignment's length to the straight distance: a longer
        path gives None.
    grade_weight
        ``w`` in the move cost ``d (1 + w (g / max_grade)**2)``; the default 1 makes a road
        on an even slope climb straight while it is within ``max_grade`` and wind at
        exactly ``max_grade`` where it is steeper (:data:`GRADE_WEIGHT`).

    Returns
    -------
    Alignment or None
        None when the road cannot avoid the forbidden areas (an end inside one, or every
        path blocked), when the surface leaves no path, or when the path is longer than
        ``max_detour`` times the straight distance.

    Raises
    ------
    ValueError
        For a bad point (or ``start == end``), option, area or multiplier, or an unknown
        ``method``.
    TypeError
        When ``surface`` is not a :class:`~networks.terrain.Surface`.
    DEMCoverageError
        When ``surface`` has no height at ``start`` or ``end``.
    """
    if method not in _METHODS:
        raise ValueError(f"method: is {method!r}; give one of {', '.join(METHODS)}")
    p = _problem(
        start,
        end,
        surface=surface,
        crs=crs,
        forbidden=forbidden,
        dear=dear,
        cell_m=cell_m,
        max_grade=max_grade,
        margin=margin,
        max_detour=max_detour,
        grade_weight=grade_weight,
    )
    if p.surface is not None:
        h = _heights(p, np.array([p.start[0], p.end[0]]), np.array([p.start[1], p.end[1]]))
        if not np.isfinite(h).all():
            names = ", ".join(p.surface.files) or "the surface"
            which, q = ("start", p.start) if not np.isfinite(h[0]) else ("end", p.end)
            raise DEMCoverageError(
                f"{names} has no height at the alignment's {which} ({q[0]:.1f}, {q[1]:.1f}) "
                f"({p.crs or p.surface.crs}); give a DEM that covers both points"
            )
    return _METHODS[method](p)
