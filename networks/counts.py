"""Traffic counts: a CSV of counted flows, each located on the network's links.

File format
-----------
One row per count (CSV with a header; lines starting with ``#`` are comments). Each row
locates its count in exactly one way:

``way_id``
    An OSM way id (networks built from OpenStreetMap). ``direction`` is ``forward``
    (traffic along the way's drawing direction), ``backward`` (against it) or ``both``.
    Where the way spans several links in one direction, the count is compared with
    their mean flow weighted by length (a count station somewhere on the way).
``link_id``
    A link id (``network.link_ids``: the TNTP file row, the id in flow outputs).
    ``forward`` is the link itself, ``backward`` its reverse link (``term -> init``),
    ``both`` the two together (the link alone where the road is one-way).
``lon``, ``lat``
    A point in degrees (WGS 84), snapped to the nearest link within the tolerance
    (metres). ``both`` counts that road's two directions; ``forward``/``backward``
    follow the drawing direction of the link's (first) OSM way; a compass heading (``north``,
    ``east``, ``south``, ``west``, also ``nb``, ``eb``, ``sb``, ``wb``) picks the
    direction of travel closest to it.

Other columns: ``count`` (required; vehicles in the demand's period, ``>= 0``),
``direction`` (default ``both``), ``id`` (a station name; default ``line N``) and
``period`` (optional; one period per file, e.g. ``am peak``). Links of class
``connector`` (zone connectors) never carry a count.

Each count ``c`` becomes a row of weights ``W[c, a]`` over links, so that the modelled
count is ``(W @ flow)[c]``.

Errors raise :class:`~networks.errors.FileFormatError` naming the file, the line and the
field: unknown ways or links, duplicate counts, negative or missing counts, points too far
from any link, several periods.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._io import read_text_file
from .errors import FileFormatError
from .network import Network

__all__ = ["CONNECTOR", "DEFAULT_TOLERANCE_M", "DIRECTIONS", "Counts", "read_counts"]

log = logging.getLogger(__name__)

#: Road class of zone connectors: no count can lie on them.
CONNECTOR = "connector"
#: Default snap distance of ``lon, lat`` counts (metres): a carriageway and its verge.
DEFAULT_TOLERANCE_M = 25.0
DIRECTIONS = ("forward", "backward", "both")
#: Compass headings for point counts (degrees clockwise from north).
HEADINGS = {
    **dict.fromkeys(("north", "n", "nb", "northbound"), 0.0),
    **dict.fromkeys(("east", "e", "eb", "eastbound"), 90.0),
    **dict.fromkeys(("south", "s", "sb", "southbound"), 180.0),
    **dict.fromkeys(("west", "w", "wb", "westbound"), 270.0),
}
#: A heading must be this many degrees closer to one direction of travel than the other.
HEADING_MARGIN = 30.0
_COLUMNS = ("id", "way_id", "link_id", "lon", "lat", "direction", "count", "period")


@dataclass(frozen=True, eq=False)
class Counts:
    """Counted flows located on a network's links.

    Attributes
    ----------
    ids : tuple of str
        Station names (the ``id`` column, else ``line N``).
    lines : tuple of int
        The rows' lines in the file.
    where : tuple of str
        Each count's location in words (``way 123 forward``, ``link 7 both``, ...).
    count : float64 array (c,)
        Counted vehicles in the demand's period.
    weights : scipy.sparse.csr_array (c, m)
        Modelled count = ``weights @ flow``.
    period : str or None
        The file's ``period``, where given.
    source : str
        The file.
    """

    ids: tuple[str, ...]
    lines: tuple[int, ...]
    where: tuple[str, ...]
    count: np.ndarray
    weights: Any
    period: str | None
    source: str

    def __len__(self) -> int:
        return len(self.ids)

    def modelled(self, flow: np.ndarray) -> np.ndarray:
        """The model's value of every count for link ``flow`` (same unit)."""
        return np.asarray(self.weights @ np.asarray(flow, dtype=np.float64))

    def links(self, c: int) -> list[int]:
        """Positions of the links count ``c`` is compared with."""
        row = self.weights[[c]]
        return sorted(int(k) for k in row.indices)


class _Reader:
    """What resolving the rows needs, built once per file."""

    def __init__(self, path: Path, network: Network, tolerance: float) -> None:
        self.path, self.net, self.tolerance = path, network, tolerance
        self.connector = np.asarray(network.road_class == CONNECTOR, dtype=bool)
        self._ways: dict[int, list[tuple[int, int]]] | None = None
        self._tree: Any = None
        self.spread: list[int] = []  # lines of way counts averaged over several links

    def error(self, line: int, field: str | None, msg: str) -> FileFormatError:
        return FileFormatError(self.path, msg, line=line, field=field)

    # ---------------------------------------------------------------- ways
    def ways(self, line: int) -> dict[int, list[tuple[int, int]]]:
        if self._ways is None:
            ways = self.net.extra.get("osm_way_ids")
            if ways is None:
                raise self.error(
                    line,
                    "way_id",
                    f"network '{self.net.name}' has no OSM ways; locate the "
                    "count by link_id or lon, lat",
                )
            dirs = self.net.extra.get("osm_way_dirs") or []
            index: dict[int, list[tuple[int, int]]] = {}
            for k, ws in enumerate(ways[: self.net.num_links]):
                if self.connector[k] or not ws:
                    continue
                ds = dirs[k] if k < len(dirs) and dirs[k] is not None else (0,) * len(ws)
                for w, d in zip(ws, ds, strict=False):
                    index.setdefault(int(w), []).append((k, int(d)))
            self._ways = index
        return self._ways

    def way_weights(self, line: int, way: int, direction: str) -> dict[int, float]:
        on = self.ways(line).get(way)
        if not on:
            raise self.error(
                line,
                "way_id",
                f"way {way} is not in the network '{self.net.name}' (not a "
                "drivable road of the profile, outside the area, or dropped with a part that "
                "is not strongly connected)",
            )
        groups = {1: [k for k, d in on if d == 1], -1: [k for k, d in on if d == -1]}
        want = {"forward": (1,), "backward": (-1,), "both": (1, -1)}[direction]
        if direction != "both" and not groups[want[0]]:
            other = -want[0]
            if groups[other] and not any(d == 0 for _, d in on):
                log.warning(
                    "%s, line %d: way %d is one-way and its links run %s; counting the %s "
                    "count on them (osmnx reads oneway=-1 ways as drawn along their traffic)",
                    self.path,
                    line,
                    way,
                    "forward" if other == 1 else "backward",
                    direction,
                )
                want = (other,)
            else:
                raise self.error(
                    line,
                    "direction",
                    f"no link of way {way} runs {direction} (its links' "
                    "direction along the way is unknown); locate the count by link_id",
                )
        out: dict[int, float] = {}
        for sense in want:
            links = groups[sense]
            if not links:
                continue
            if len(links) > 1 and line not in self.spread:
                self.spread.append(line)
            length = np.maximum(np.asarray(self.net.length[links], dtype=np.float64), 0.0)
            total = float(length.sum())
            share = length / total if total > 0 else np.full(len(links), 1.0 / len(links))
            for k, x in zip(links, share.tolist(), strict=True):
                out[k] = out.get(k, 0.0) + x
        if not out:
            raise self.error(
                line,
                "direction",
                f"the direction of way {way}'s links along it is unknown; locate the count "
                "by link_id",
            )
        return out

    # ---------------------------------------------------------------- links
    def reverse(self, k: int) -> list[int]:
        net = self.net
        a, b = int(net.init[k]), int(net.term[k])
        out = net.fs_links[net.fs_indptr[b] : net.fs_indptr[b + 1]]
        return [int(r) for r in out if net.term[r] == a and not self.connector[r]]

    def link_weights(self, line: int, k: int, direction: str) -> dict[int, float]:
        if self.connector[k]:
            raise self.error(
                line,
                "link_id",
                f"link {self.net.link_ids[k]} is a zone connector; connectors carry no counts",
            )
        if direction == "forward":
            return {k: 1.0}
        rev = self.reverse(k)
        if len(rev) > 1:
            ids = ", ".join(str(self.net.link_ids[r]) for r in rev)
            raise self.error(
                line,
                "direction",
                f"link {self.net.link_ids[k]} has several reverse links "
                f"({ids}); give the one you mean as its own forward count",
            )
        if direction == "backward":
            if not rev:
                raise self.error(
                    line,
                    "direction",
                    f"link {self.net.link_ids[k]} has no reverse link "
                    "(a one-way road); use forward",
                )
            return {rev[0]: 1.0}
        return {k: 1.0, **{r: 1.0 for r in rev}}

    # ---------------------------------------------------------------- points
    def tree(self, line: int) -> tuple[Any, ...]:
        if self._tree is None:
            import pyproj
            import shapely

            net = self.net
            if net.crs is None:
                raise self.error(
                    line,
                    "lon",
                    f"network '{net.name}' has no CRS, so a lon, lat point "
                    "cannot be placed on it; locate the count by link_id",
                )
            crs = pyproj.CRS.from_user_input(net.crs)
            if crs.is_geographic:
                raise self.error(
                    line,
                    "lon",
                    f"network '{net.name}' is in degrees ({net.crs}); project it "
                    "to metres to snap points",
                )
            try:
                metre = float(crs.axis_info[0].unit_conversion_factor)
            except (IndexError, AttributeError):
                metre = 1.0
            geoms = net.extra.get("geometry")
            keep = np.flatnonzero(~self.connector)
            lines = []
            for k in keep.tolist():
                g = geoms[k] if geoms is not None and k < len(geoms) else None
                if g is None:
                    a, b = int(net.init[k]), int(net.term[k])
                    g = shapely.LineString([(net.x[a], net.y[a]), (net.x[b], net.y[b])])
                lines.append(g)
            tr = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
            self._tree = (shapely.STRtree(lines), keep, lines, metre, tr)
        return self._tree

    def point_weights(
        self, line: int, lon: float, lat: float, direction: str
    ) -> tuple[dict[int, float], str]:
        import shapely

        tree, keep, lines, metre, tr = self.tree(line)
        x, y = tr.transform(lon, lat)
        if not (math.isfinite(x) and math.isfinite(y)):
            raise self.error(line, "lon", f"({lon}, {lat}) cannot be placed in {self.net.crs}")
        pt = shapely.Point(x, y)
        tol = self.tolerance / metre
        hit, dist = tree.query_nearest(
            pt, max_distance=tol, return_distance=True, all_matches=True
        )
        if len(hit) == 0:
            near, d = tree.query_nearest(pt, return_distance=True)
            k = int(keep[int(near[0])])
            raise self.error(
                line,
                "lon",
                f"({lon}, {lat}) is {float(d[0]) * metre:.0f} m from the nearest "
                f"link ({self.net.link_ids[k]}), beyond the tolerance of {self.tolerance:g} m; "
                "fix the point or raise the tolerance",
            )
        near = sorted(int(keep[int(i)]) for i in hit)
        k = near[0]
        road = [k] + [r for r in self.reverse(k) if r in near or _twin(self.net, k, r)]
        road = list(dict.fromkeys(road))
        d_m = float(np.min(dist)) * metre
        if direction == "both":
            return {r: 1.0 for r in road}, f"{d_m:.1f} m"
        if direction in HEADINGS:
            want = HEADINGS[direction]
            diffs = []
            for r in road:
                g = lines[int(np.searchsorted(keep, r))]
                s = g.project(pt)
                p0 = g.interpolate(max(s - 1.0, 0.0))
                p1 = g.interpolate(min(s + 1.0, g.length))
                bearing = math.degrees(math.atan2(p1.x - p0.x, p1.y - p0.y)) % 360.0
                diffs.append((abs((bearing - want + 180.0) % 360.0 - 180.0), r))
            diffs.sort()
            off, best = diffs[0]
            # the heading must pick one direction clearly: within 90 degrees of it, and
            # 30 degrees closer than the other (a north-south road has no eastbound side)
            if off >= 90.0 or (len(diffs) > 1 and diffs[1][0] - off < HEADING_MARGIN):
                raise self.error(
                    line,
                    "direction",
                    f"no link at ({lon}, {lat}) runs {direction} clearly (within 90 "
                    f"degrees, {HEADING_MARGIN:g} closer than the other direction); give "
                    "another heading or both",
                )
            return {best: 1.0}, f"{d_m:.1f} m"
        dirs = self.net.extra.get("osm_way_dirs")
        if dirs is None:
            raise self.error(
                line,
                "direction",
                f"{direction} follows an OSM way; on network "
                f"'{self.net.name}' give a compass heading (north, east, south, west) or both",
            )
        sense = 1 if direction == "forward" else -1
        pick = [r for r in road if r < len(dirs) and dirs[r] and dirs[r][0] == sense]
        if len(pick) != 1:
            raise self.error(
                line,
                "direction",
                f"the road at ({lon}, {lat}) has no single link running "
                f"{direction} along its OSM way; give a compass heading or both",
            )
        return {pick[0]: 1.0}, f"{d_m:.1f} m"


def _twin(net: Network, k: int, r: int) -> bool:
    """Whether reverse link ``r`` is the same road as ``k`` (same OSM ways, or no ways)."""
    ways = net.extra.get("osm_way_ids")
    if ways is None or k >= len(ways) or r >= len(ways):
        return True
    return bool(ways[k]) and tuple(ways[k]) == tuple(ways[r])


def _number(reader: _Reader, text: str, line: int, name: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise reader.error(line, name, f"{text!r} is not a number") from None
    if not math.isfinite(v):
        raise reader.error(line, name, f"{text!r} is not a finite number")
    return v


def _whole(reader: _Reader, text: str, line: int, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise reader.error(line, name, f"{text!r} is not a whole number (an id)") from None


def read_counts(
    path: str | Path, network: Network, *, tolerance: float = DEFAULT_TOLERANCE_M
) -> Counts:
    """Read a traffic-count CSV and locate each count on ``network`` (format: module doc).

    Parameters
    ----------
    path
        The CSV file.
    network
        The network the counts lie on.
    tolerance
        Largest distance (metres) from a ``lon, lat`` point to the link it is snapped to.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    FileFormatError
        Naming the file, the line and the field (see the module docstring).
    """
    p = Path(path)
    text = read_text_file(p, what="traffic counts CSV")
    lines = ["" if ln.lstrip().startswith("#") else ln for ln in text.splitlines()]
    rd = csv.reader(io.StringIO("\n".join(lines)))
    reader = _Reader(p, network, float(tolerance))
    link_index = {int(v): k for k, v in enumerate(network.link_ids.tolist())}
    header: list[str] | None = None
    ids: list[str] = []
    at: list[int] = []
    where: list[str] = []
    counts: list[float] = []
    rows: list[dict[int, float]] = []
    seen: dict[tuple, int] = {}
    period: tuple[str, int] | None = None
    for rec in rd:
        if not any(c.strip() for c in rec):
            continue
        line = rd.line_num
        if header is None:
            header = [h.strip().lower() for h in rec]
            if "count" not in header:
                raise reader.error(
                    line, "count", f"the header has no 'count' column (found: {', '.join(header)})"
                )
            if not ({"way_id", "link_id"} & set(header) or {"lon", "lat"} <= set(header)):
                raise reader.error(
                    line, None, "the header needs a way_id, link_id or lon and lat column"
                )
            unknown = [h for h in header if h and h not in _COLUMNS]
            if unknown:
                log.warning("%s: ignoring unknown column(s) %s", p, ", ".join(unknown))
            continue
        v = {h: (rec[i].strip() if i < len(rec) else "") for i, h in enumerate(header) if h}
        if not v.get("count"):
            raise reader.error(line, "count", "missing; give the counted vehicles")
        c = _number(reader, v["count"], line, "count")
        if c < 0:
            raise reader.error(line, "count", f"{v['count']} is negative; counts are >= 0")
        direction = (v.get("direction") or "both").lower()
        given = [k for k in ("way_id", "link_id") if v.get(k)]
        point = bool(v.get("lon") or v.get("lat"))
        if len(given) + point != 1:
            raise reader.error(
                line,
                given[0] if given else "way_id",
                "give exactly one of way_id, link_id or lon and lat",
            )
        if direction not in DIRECTIONS and not (point and direction in HEADINGS):
            allowed = ", ".join(DIRECTIONS) + (" or a compass heading" if point else "")
            raise reader.error(line, "direction", f"is {direction!r}; use {allowed}")
        if given == ["way_id"]:
            way = _whole(reader, v["way_id"], line, "way_id")
            w = reader.way_weights(line, way, direction)
            text_where = f"way {way} {direction}"
        elif given == ["link_id"]:
            lid = _whole(reader, v["link_id"], line, "link_id")
            if lid not in link_index:
                raise reader.error(
                    line, "link_id", f"link {lid} is not in network '{network.name}'"
                )
            w = reader.link_weights(line, link_index[lid], direction)
            text_where = f"link {lid} {direction}"
        else:
            if not (v.get("lon") and v.get("lat")):
                raise reader.error(line, "lat" if v.get("lon") else "lon", "give both lon and lat")
            lon = _number(reader, v["lon"], line, "lon")
            lat = _number(reader, v["lat"], line, "lat")
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise reader.error(line, "lon", f"({lon}, {lat}) is not lon, lat in degrees")
            w, dist = reader.point_weights(line, lon, lat, direction)
            snapped = "+".join(str(network.link_ids[k]) for k in sorted(w))
            text_where = f"point {lon:.6f},{lat:.6f} {direction} (link {snapped}, {dist})"
        key = tuple(sorted((k, round(x, 12)) for k, x in w.items()))
        if key in seen:
            raise reader.error(
                line,
                given[0] if given else "lon",
                f"counts the same links as line {seen[key]}; keep one row per count",
            )
        seen[key] = line
        if v.get("period"):
            if period is None:
                period = (v["period"], line)
            elif v["period"].lower() != period[0].lower():
                raise reader.error(
                    line,
                    "period",
                    f"is {v['period']!r} but line {period[1]} says "
                    f"{period[0]!r}; give one period per file (the demand's)",
                )
        ids.append(v.get("id") or f"line {line}")
        at.append(line)
        where.append(text_where)
        counts.append(c)
        rows.append(w)
    if header is None or not rows:
        raise FileFormatError(p, "holds no counts; write a header and one row per count")
    r_idx = np.repeat(np.arange(len(rows)), [len(w) for w in rows])
    cols = np.array([k for w in rows for k in w], dtype=np.int64)
    vals = np.array([x for w in rows for x in w.values()], dtype=np.float64)
    weights = sp.csr_array((vals, (r_idx, cols)), shape=(len(rows), network.num_links))
    arr = np.asarray(counts, dtype=np.float64)
    arr.setflags(write=False)
    log.info("%s: %d counts on %d links", p, len(rows), len(set(cols.tolist())))
    if reader.spread:
        lines_text = ", ".join(map(str, reader.spread[:8])) + (
            " ..." if len(reader.spread) > 8 else ""
        )
        log.warning(
            "%s: %d way counts span several links in one direction (lines %s): each is "
            "compared with their mean flow weighted by length; locate them by lon, lat or "
            "link_id where the links' flows differ (a junction on the way)",
            p,
            len(reader.spread),
            lines_text,
        )
    return Counts(
        ids=tuple(ids),
        lines=tuple(at),
        where=tuple(where),
        count=arr,
        weights=weights,
        period=None if period is None else period[0],
        source=str(p),
    )
