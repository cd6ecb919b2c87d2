"""The fields of one candidate, checked and turned into the candidates of a CandidateSet.

The second half of :func:`optimizer.candidate_files.read_candidates`: the file readers give
one :class:`Row` per CSV row or GeoJSON feature, and :func:`build` checks every field
against the network and the schema documented in :mod:`optimizer.candidate_files` (ids,
kinds, costs, node and link ids, prerequisites and exclusive groups, the road profile's
defaults, monotone effects), appends the new links to the network and returns the set.
Every error is a :class:`~optimizer.errors.CandidateFileError` that names the file, the
line or feature, and the field.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from networks.network import Network
from networks.roads import class_rank

from .candidates import (
    KINDS,
    Candidate,
    CandidateSet,
    _link_type,
    _metres_per_crs_unit,
    _reverse_links,
    _straight_line,
    _time_factor,
    extend_network,
)
from .errors import CandidateFileError, InvalidCandidatesError

__all__ = ["Row", "build"]

log = logging.getLogger(__name__)

_METRES_PER_LENGTH_UNIT = {"km": 1000.0, "m": 1.0, "mi": 1609.344}


def _as_int(t: Any) -> int:
    """An integer from an int, an integral float or a string (``"12"``, ``"12.0"``)."""
    if isinstance(t, bool):
        raise ValueError(t)
    if isinstance(t, (int, np.integer)):
        return int(t)
    if isinstance(t, float):
        if t.is_integer():
            return int(t)
        raise ValueError(t)
    text = str(t).strip()
    try:
        return int(text)
    except ValueError:
        x = float(text)
        if x.is_integer() and abs(x) < 2**53:
            return int(x)
        raise


class Row:
    """One candidate's raw fields, with where it came from for error messages."""

    def __init__(
        self,
        path: Path,
        values: Mapping[str, Any],
        *,
        line: int | None = None,
        feature: int | None = None,
        geometry: Any = None,
    ) -> None:
        self.path = path
        self.values = dict(values)
        self.line = line
        self.feature = feature
        self.geometry = geometry

    def error(self, fld: str | None, message: str) -> CandidateFileError:
        if self.feature is not None:
            cid = self.raw("id")
            message = f"feature {self.feature}" + (f" ('{cid}')" if cid else "") + f": {message}"
        return CandidateFileError(self.path, message, line=self.line, field=fld)

    def raw(self, name: str) -> Any:
        v = self.values.get(name)
        if v is None:
            return None
        if isinstance(v, str):
            v = v.strip()
            return v or None
        if isinstance(v, float) and math.isnan(v):
            return None
        return v

    def text(self, name: str, *, required: bool = False, hint: str = "") -> str | None:
        v = self.raw(name)
        if v is None:
            if required:
                raise self.error(name, f"missing; {hint or 'give a value'}")
            return None
        return str(v)

    def _tokens(self, name: str) -> list[Any] | None:
        v = self.raw(name)
        if v is None:
            return None
        if isinstance(v, (list, tuple)):
            return list(v)
        if isinstance(v, str):
            return [t.strip() for t in v.split(";")]
        return [v]

    def numbers(
        self,
        name: str,
        *,
        required: bool = False,
        minimum: float | None = None,
        positive: bool = False,
        hint: str = "",
        count: int | None = None,
    ) -> np.ndarray | None:
        """A number or a ``;`` list of numbers; broadcast to ``count`` values if given."""
        toks = self._tokens(name)
        if toks is None:
            if required:
                raise self.error(name, f"missing; {hint or 'give a number'}")
            return None
        vals = []
        for t in toks:
            if isinstance(t, bool):
                raise self.error(name, f"{t!r} is not a number; {hint or 'give a number'}")
            try:
                x = float(t)
            except (TypeError, ValueError):
                raise self.error(
                    name, f"{t!r} is not a number; {hint or 'give a plain number such as 12.5'}"
                ) from None
            if not math.isfinite(x):
                raise self.error(name, f"{t!r} is not a finite number; give a finite number")
            if minimum is not None and x < minimum:
                raise self.error(name, f"{t} is below {minimum:g}; it must be >= {minimum:g}")
            if positive and x <= 0:
                raise self.error(name, f"{t} must be > 0")
            vals.append(x)
        arr = np.asarray(vals, dtype=np.float64)
        if count is not None:
            if arr.size == 1:
                arr = np.full(count, arr[0])
            elif arr.size != count:
                raise self.error(
                    name,
                    f"{arr.size} values for {count} link(s); give one value, or one per link "
                    "separated by ';'",
                )
        return arr

    def number(self, name: str, **kw: Any) -> float | None:
        arr = self.numbers(name, **kw)
        if arr is None:
            return None
        if arr.size != 1:
            raise self.error(name, "give a single number here, not a ';' list")
        return float(arr[0])

    def integers(self, name: str, *, required: bool = False, hint: str = "") -> list[int] | None:
        toks = self._tokens(name)
        if toks is None:
            if required:
                raise self.error(name, f"missing; {hint or 'give an integer id'}")
            return None
        out = []
        for t in toks:
            try:
                out.append(_as_int(t))
            except (TypeError, ValueError):
                raise self.error(
                    name, f"{t!r} is not an integer id; {hint or 'give an id'}"
                ) from None
        return out

    def integer(self, name: str, **kw: Any) -> int | None:
        vals = self.integers(name, **kw)
        if vals is None:
            return None
        if len(vals) != 1:
            raise self.error(name, "give a single integer here, not a ';' list")
        return vals[0]

    def flag(self, name: str) -> bool:
        v = self.raw(name)
        if v is None:
            return False
        if isinstance(v, bool):
            return v
        s = str(v).strip().lower()
        if s in ("true", "yes", "y", "1", "1.0", "t"):
            return True
        if s in ("false", "no", "n", "0", "0.0", "f"):
            return False
        raise self.error(name, f"{v!r} is not a yes/no value; write true or false")


@dataclass
class _Parsed:
    row: Row
    id: str
    kind: str
    cost: float
    group: str | None
    requires: tuple[str, ...]
    label: str
    road_class: str | None
    links: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def _node(row: Row, name: str, network: Network, *, required: bool) -> int | None:
    v = row.integer(name, required=required, hint="give the external node id (OSM node id)")
    if v is None:
        return None
    try:
        return network.node_index(v)
    except KeyError:
        raise row.error(
            name,
            f"node {v} is not in network '{network.name}'; use the network's external node "
            "ids (OSM node ids, TNTP node numbers)",
        ) from None


def build(
    rows: Sequence[Row],
    network: Network,
    path: Path,
    *,
    cost_unit: str | None,
    profile: Any,
) -> CandidateSet:
    # ---------------------------------------------------------------- pass 1: common
    parsed: list[_Parsed] = []
    where: dict[str, Row] = {}
    units = {u for r in rows if (u := r.text("cost_unit")) is not None}
    if len(units) > 1:
        raise CandidateFileError(
            path, f"rows use different cost units ({', '.join(sorted(units))}); use one"
        )
    file_unit = next(iter(units)) if units else None
    if cost_unit is not None and file_unit is not None and cost_unit != file_unit:
        raise CandidateFileError(
            path,
            f"the file's costs are in {file_unit!r}, not {cost_unit!r}; convert them or "
            "drop the cost_unit argument",
            field="cost_unit",
        )
    unit = cost_unit or file_unit or network.units.cost
    for row in rows:
        cid = row.text("id", required=True, hint="give every candidate a unique id")
        assert cid is not None
        if cid in where:
            first = where[cid]
            at = f"line {first.line}" if first.line else f"feature {first.feature}"
            raise row.error("id", f"duplicate id '{cid}' (first used on {at}); ids must be unique")
        where[cid] = row
        kind = row.text("kind", required=True, hint="give new_link, widen or upgrade") or ""
        kind = kind.lower()
        if kind not in KINDS:
            raise row.error("kind", f"unknown kind '{kind}'; use one of {', '.join(KINDS)}")
        cost = row.number(
            "cost",
            required=True,
            minimum=0.0,
            hint=f"give the building cost (a number >= 0, {unit})",
        )
        assert cost is not None
        req = tuple(t.strip() for t in (row.text("requires") or "").split(";") if t.strip())
        parsed.append(
            _Parsed(
                row=row,
                id=cid,
                kind=kind,
                cost=cost,
                group=row.text("group"),
                requires=tuple(dict.fromkeys(req)),
                label=row.text("label") or "",
                road_class=row.text("road_class"),
            )
        )
    _check_prerequisites(parsed)

    # ---------------------------------------------------------------- pass 2: new links
    m0 = network.num_links
    specs: list[dict[str, Any]] = []
    explicit_ids: dict[int, str] = {}
    base_ids = set(network.link_ids.tolist())
    for c in parsed:
        if c.kind != "new_link":
            continue
        spec = _new_link_spec(c, network, profile)
        if spec["link_ids"] is not None:
            for lid in spec["link_ids"]:
                if lid in base_ids or lid in explicit_ids:
                    other = "an existing link" if lid in base_ids else f"'{explicit_ids[lid]}'"
                    raise c.row.error(
                        "link_id",
                        f"link id {lid} is already used by {other}; give an unused id or "
                        "leave link_id blank",
                    )
                explicit_ids[lid] = c.id
        specs.append(spec)
    nxt = max([int(network.link_ids.max()) if m0 else 0, *explicit_ids]) + 1
    new: dict[str, list[Any]] = {
        k: []
        for k in (
            "init",
            "term",
            "free_flow_time",
            "capacity",
            "alpha",
            "beta",
            "length",
            "toll",
            "speed",
            "lanes",
            "road_class",
            "link_type",
            "link_ids",
            "geometry",
            "osm_way_ids",
            "name",
            "ref",
        )
    }
    pos = m0
    for spec in specs:
        k = len(spec["init"])
        ids = spec["link_ids"]
        if ids is None:
            ids = list(range(nxt, nxt + k))
            nxt += k
        spec["cand"].links = np.arange(pos, pos + k, dtype=np.int64)
        pos += k
        for key in new:
            if key == "link_ids":
                new[key].extend(ids)
            elif key in ("osm_way_ids",):
                new[key].extend([()] * k)
            elif key in ("name", "ref"):
                new[key].extend([""] * k)
            else:
                new[key].extend(list(spec[key]))
    try:
        lists = ("geometry", "osm_way_ids", "name", "ref")
        arrays = {key: v if key in lists else np.asarray(v) for key, v in new.items()}
        arrays["road_class"] = np.asarray(new["road_class"], dtype=object)
        ext = extend_network(network, arrays) if specs else network
    except ValueError as exc:
        raise CandidateFileError(path, f"the new links are invalid: {exc}") from None

    # ---------------------------------------------------------------- pass 3: changes
    builders = {c.id: c for c in parsed if c.kind == "new_link"}
    ext_index = {int(v): k for k, v in enumerate(ext.link_ids.tolist())}
    cands: list[Candidate] = []
    for c in parsed:
        if c.kind == "new_link":
            cands.append(
                Candidate(
                    id=c.id,
                    kind=c.kind,
                    cost=c.cost,
                    links=c.links,
                    road_class=c.road_class,
                    group=c.group,
                    requires=c.requires,
                    label=c.label,
                )
            )
            continue
        links = _resolve_links(c, ext, m0, builders, ext_index)
        scale, setv = _effects(c, ext, links, profile)
        cands.append(
            Candidate(
                id=c.id,
                kind=c.kind,
                cost=c.cost,
                links=links,
                scale=scale,
                set=setv,
                road_class=c.road_class,
                group=c.group,
                requires=c.requires,
                label=c.label,
            )
        )
    try:
        cs = CandidateSet(ext, m0, tuple(cands), cost_unit=unit)
    except InvalidCandidatesError as exc:
        raise CandidateFileError(path, str(exc)) from None
    log.info("%s: %d candidates (%s)", path, len(cs), cs.summary()["kinds"])
    return cs


def _check_prerequisites(parsed: Sequence[_Parsed]) -> None:
    by_id = {c.id: c for c in parsed}
    for c in parsed:
        for r in c.requires:
            if r not in by_id:
                raise c.row.error(
                    "requires",
                    f"requires unknown candidate '{r}'; name candidates of this file "
                    "(ids separated by ';')",
                )
            if r == c.id:
                raise c.row.error("requires", f"'{c.id}' requires itself; remove it")
    # everything each candidate needs, transitively
    closure: dict[str, set[str]] = {}
    for c in parsed:
        seen: set[str] = set()
        stack = list(c.requires)
        while stack:
            r = stack.pop()
            if r in seen:
                continue
            seen.add(r)
            stack.extend(by_id[r].requires)
        closure[c.id] = seen - {c.id}
    for c in parsed:
        need = sorted(closure[c.id])
        if c.group:
            clash = [r for r in need if by_id[r].group == c.group]
            if clash:
                raise c.row.error(
                    "requires",
                    f"contradictory prerequisites: '{c.id}' requires '{clash[0]}', which is "
                    f"in the same exclusive group '{c.group}' (at most one of a group is "
                    "chosen); drop the requirement or the group",
                )
        groups: dict[str, str] = {}
        for r in need:
            g = by_id[r].group
            if g and g in groups:
                raise c.row.error(
                    "requires",
                    f"contradictory prerequisites: '{c.id}' needs both '{groups[g]}' and "
                    f"'{r}', which exclude each other (group '{g}')",
                )
            if g:
                groups[g] = r


def _new_link_spec(c: _Parsed, network: Network, profile: Any) -> dict[str, Any]:
    row = c.row
    a = _node(row, "init_node", network, required=True)
    b = _node(row, "term_node", network, required=True)
    assert a is not None and b is not None
    if a == b:
        raise row.error("term_node", "a new link must join two different nodes")
    for field_name, i in (("init_node", a), ("term_node", b)):
        around = np.concatenate(
            [
                network.fs_links[network.fs_indptr[i] : network.fs_indptr[i + 1]],
                network.bs_links[network.bs_indptr[i] : network.bs_indptr[i + 1]],
            ]
        )
        if around.size and np.all(network.road_class[around] == "connector"):
            raise row.error(
                field_name,
                f"node {network.node_ids[i]} is a zone centroid, not on a road; join two "
                "road nodes",
            )
    both = row.flag("both_directions")
    k = 2 if both else 1
    ends = [(a, b), (b, a)][:k]
    cls = c.road_class or ""
    known = profile is not None and cls in profile.table
    if c.road_class and profile is not None and not known:
        raise row.error(
            "road_class",
            f"unknown road class '{cls}' for profile '{profile.name}'; use an OSM highway "
            f"value ({', '.join(profile.table)})",
        )
    ids = row.integers("link_id")
    if ids is not None and len(ids) != k:
        raise row.error(
            "link_id",
            f"{len(ids)} link id(s) for {k} new link(s); give one id per direction "
            "separated by ';', or leave it blank",
        )
    lanes = row.numbers("lanes", minimum=0.0, count=k)
    if lanes is None:
        lanes = np.full(k, profile.lanes(cls) if known else np.nan)
    capacity = row.numbers("capacity", positive=True, count=k)
    if capacity is None:
        if not known:
            raise row.error(
                "capacity",
                "missing; give the capacity (veh/h per direction), or a road_class of the "
                "network's road profile to take it from",
            )
        capacity = np.where(np.isfinite(lanes), lanes, 1.0) * profile.capacity_per_lane(cls)
    # geometry: the feature's line (oriented init -> term), else the straight line
    geoms: list[Any] = [None] * k
    geom_len = None
    if row.geometry is not None and not row.geometry.is_empty:
        g = row.geometry
        if g.geom_type != "LineString":
            raise row.error(
                None, f"the geometry of a new link must be a LineString, not {g.geom_type}"
            )
        import shapely

        pa = shapely.Point(network.x[a], network.y[a])
        pb = shapely.Point(network.x[b], network.y[b])
        first = shapely.Point(g.coords[0])
        if network.has_coordinates and first.distance(pb) < first.distance(pa):
            g = shapely.reverse(g)
        geoms = [g, shapely.reverse(g)][:k]
        mpu = _metres_per_crs_unit(network.crs)
        per = _METRES_PER_LENGTH_UNIT.get(network.units.length)
        if mpu is not None and per is not None:
            geom_len = float(g.length) * mpu / per
    elif network.has_coordinates:
        geoms = [_straight_line(network, i, j) for i, j in ends]
    length = row.numbers("length", minimum=0.0, count=k)
    speed = row.numbers("speed", positive=True, count=k)
    fft = row.numbers("free_flow_time", minimum=0.0, count=k)
    if fft is None:
        if length is None:
            if geom_len is None:
                raise row.error(
                    "length",
                    "missing; give free_flow_time, or length and speed (or a LineString "
                    "geometry in a GeoJSON file)",
                )
            length = np.full(k, geom_len)
        if speed is None:
            if not known:
                raise row.error(
                    "speed",
                    "missing; give free_flow_time, or speed with length, or a road_class of "
                    "the network's road profile",
                )
            speed = np.full(k, profile.speed(cls))
        f = _time_factor(network)
        if f is None:
            raise row.error(
                "free_flow_time",
                f"missing, and the network's units ({network.units.length}, "
                f"{network.units.speed}) do not say how length/speed converts to time; give "
                "free_flow_time",
            )
        fft = length / speed * f
    else:
        if length is None:
            if geom_len is not None:
                length = np.full(k, geom_len)
            elif network.has_coordinates:
                mpu = _metres_per_crs_unit(network.crs) or 1.0
                per = _METRES_PER_LENGTH_UNIT.get(network.units.length, 1.0)
                d = math.hypot(network.x[a] - network.x[b], network.y[a] - network.y[b])
                length = np.full(k, d * mpu / per)
            else:
                length = np.zeros(k)
        if speed is None:
            f = _time_factor(network)
            speed = np.where(
                (fft > 0) & (f is not None), length / np.maximum(fft, 1e-300) * (f or 0.0), 0.0
            )
    toll = row.numbers("toll", minimum=0.0, count=k)
    link_type = row.integers("link_type")
    if link_type is not None and len(link_type) not in (1, k):
        raise row.error("link_type", f"give one link type, or one per link ({k})")
    alpha = row.numbers("alpha", minimum=0.0, count=k)
    beta = row.numbers("beta", minimum=0.0, count=k)
    return {
        "cand": c,
        "init": [e[0] for e in ends],
        "term": [e[1] for e in ends],
        "free_flow_time": fft,
        "capacity": capacity,
        "alpha": np.full(k, 0.15) if alpha is None else alpha,
        "beta": np.full(k, 4.0) if beta is None else beta,
        "length": length,
        "speed": speed,
        "lanes": lanes,
        "road_class": [cls] * k,
        "link_type": [_link_type(network, cls)] * k
        if link_type is None
        else (link_type * k)[:k]
        if len(link_type) == 1
        else link_type,
        "toll": np.zeros(k) if toll is None else toll,
        "link_ids": ids,
        "geometry": geoms,
    }


def _resolve_links(
    c: _Parsed,
    ext: Network,
    m0: int,
    builders: Mapping[str, _Parsed],
    ext_index: Mapping[int, int],
) -> np.ndarray:
    """Positions in the extended network of the links a widen/upgrade row changes."""
    row = c.row
    allowed = np.zeros(ext.num_links, dtype=bool)
    allowed[:m0] = True
    connector = np.asarray(ext.road_class == "connector", dtype=bool)
    required_new: dict[int, str] = {}
    for r in c.requires:
        b = builders.get(r)
        if b is not None:
            allowed[b.links] = True
            required_new.update({int(k): r for k in b.links})
    new_owner = {int(k): b.id for b in builders.values() for k in b.links}
    a = _node(row, "init_node", ext, required=False)
    t = _node(row, "term_node", ext, required=False)
    ids = row.integers("link_id")
    if ids is not None:
        links = []
        for lid in ids:
            k = ext_index.get(lid)
            if k is None:
                raise row.error(
                    "link_id", f"link {lid} is not in network '{ext.name}'; use its link ids"
                )
            if connector[k]:
                raise row.error(
                    "link_id",
                    f"link {lid} is a zone connector (where a zone's trips load, not a "
                    "road); connectors are never upgraded",
                )
            if not allowed[k]:
                raise row.error(
                    "link_id",
                    f"link {lid} is built by candidate '{new_owner[k]}'; add it to requires",
                )
            links.append(k)
        first = links[0]
        if (a is not None and a != ext.init[first]) or (t is not None and t != ext.term[first]):
            raise row.error(
                "link_id",
                f"link {ids[0]} joins {ext.node_ids[ext.init[first]]} -> "
                f"{ext.node_ids[ext.term[first]]}, not init_node -> term_node; fix either",
            )
        if len(set(links)) != len(links):
            raise row.error("link_id", "a link is listed twice; list each link once")
    else:
        if a is None or t is None:
            missing = "init_node" if a is None else "term_node"
            raise row.error(
                missing, "missing; give init_node and term_node (external node ids), or link_id"
            )
        out = ext.fs_links[ext.fs_indptr[a] : ext.fs_indptr[a + 1]]
        joining = [int(k) for k in out if ext.term[k] == t]
        if joining and all(connector[k] for k in joining):
            raise row.error(
                "term_node",
                f"the link {ext.node_ids[a]} -> {ext.node_ids[t]} is a zone connector (where "
                "a zone's trips load, not a road); connectors are never upgraded",
            )
        joining = [k for k in joining if not connector[k]]
        mine = [k for k in joining if k in required_new]
        ok = mine or [k for k in joining if allowed[k]]
        if not ok:
            na, nt = ext.node_ids[a], ext.node_ids[t]
            owners = sorted({new_owner[k] for k in joining if k in new_owner})
            if owners:
                raise row.error(
                    "requires",
                    f"the link {na} -> {nt} is built by candidate '{owners[0]}'; add "
                    f"requires = '{owners[0]}'",
                )
            raise row.error(
                "term_node",
                f"no link from node {na} to node {nt}; a {c.kind} changes an existing link "
                "(check the direction, or use kind new_link to build one)",
            )
        if len(ok) > 1:
            raise row.error(
                "link_id",
                f"{len(ok)} parallel links join {ext.node_ids[a]} -> {ext.node_ids[t]} "
                f"(link ids {', '.join(str(ext.link_ids[k]) for k in ok)}); give link_id to "
                "pick one",
            )
        links = ok
    if row.flag("both_directions"):
        for k in list(links):
            rev = _reverse_links(ext, k, allowed, exclude=links)
            already = [
                j for j in links if ext.init[j] == ext.term[k] and ext.term[j] == ext.init[k]
            ]
            if already:
                continue
            if not rev:
                raise row.error(
                    "both_directions",
                    f"no link from {ext.node_ids[ext.term[k]]} back to "
                    f"{ext.node_ids[ext.init[k]]} (a one-way road?); set both_directions "
                    "to false",
                )
            links.append(rev[0])
    return np.asarray(links, dtype=np.int64)


def _effects(
    c: _Parsed, ext: Network, links: np.ndarray, profile: Any
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    row = c.row
    k = links.size
    cur_lanes = np.where(np.isfinite(ext.lanes[links]), ext.lanes[links], 1.0)
    cur_cap = ext.capacity[links]
    cur_fft = ext.free_flow_time[links]
    cur_speed = ext.speed[links]
    length = ext.length[links]
    scale: dict[str, np.ndarray] = {}
    setv: dict[str, np.ndarray] = {}
    add = row.number("add_lanes")
    capf = row.numbers("capacity_factor", count=k)
    lanesf = row.numbers("lanes_factor", count=k)
    speed = row.numbers("speed", positive=True, count=k)
    fft = row.numbers("free_flow_time", minimum=0.0, count=k)
    if add is not None:
        if not float(add).is_integer() or add < 1:
            raise row.error("add_lanes", f"{add:g} is not a whole number >= 1; give 1, 2, ...")
        if capf is not None:
            raise row.error("capacity_factor", "give add_lanes or capacity_factor, not both")
        factor = (cur_lanes + add) / cur_lanes
        scale["capacity"] = factor
        scale["lanes"] = factor.copy()
    for name, arr in (("capacity_factor", capf), ("lanes_factor", lanesf)):
        if arr is not None and np.any(arr < 1):
            raise row.error(
                name,
                f"factor {arr.min():g} < 1 would lower "
                f"{'capacity' if name == 'capacity_factor' else 'lanes'}; an upgrade may only "
                "raise it (factors >= 1)",
            )
    if capf is not None:
        scale["capacity"] = capf
    if lanesf is not None:
        scale["lanes"] = lanesf
    cls = c.road_class
    if cls is not None and c.kind == "upgrade":
        if profile is not None and cls not in profile.table:
            raise row.error(
                "road_class",
                f"unknown road class '{cls}' for profile '{profile.name}'; use one of "
                f"{', '.join(profile.table)}",
            )
        now = [str(ext.road_class[j]) for j in links if ext.road_class[j]]
        low = [x for x in now if class_rank(x) <= class_rank(cls)]
        if low:
            raise row.error(
                "road_class",
                f"'{cls}' does not rank above the link's class '{low[0]}'; an upgrade must "
                "go up the hierarchy (give speed/capacity_factor instead)",
            )
        if profile is None and speed is None and fft is None and capf is None:
            raise row.error(
                "road_class",
                "the network has no road profile to take the class's speed and capacity "
                "from; give speed, free_flow_time or capacity_factor",
            )
        if profile is not None:
            if speed is None and fft is None:
                speed = np.maximum(cur_speed, profile.speed(cls))
            if capf is None:
                scale["capacity"] = np.maximum(
                    1.0, cur_lanes * profile.capacity_per_lane(cls) / np.maximum(cur_cap, 1e-300)
                )
    if speed is not None:
        lower = np.flatnonzero(speed < cur_speed)
        if lower.size:
            j = links[lower[0]]
            raise row.error(
                "speed",
                f"{speed[lower[0]]:g} is below link {ext.link_ids[j]}'s speed "
                f"{cur_speed[lower[0]]:g}; an upgrade may not lower speed",
            )
        setv["speed"] = speed
        if fft is None:
            f = _time_factor(ext)
            if f is None:
                raise row.error(
                    "free_flow_time",
                    "missing, and the network's units do not say how length/speed converts "
                    "to time; give free_flow_time too",
                )
            setv["free_flow_time"] = np.minimum(cur_fft, length / speed * f)
    if fft is not None:
        higher = np.flatnonzero(fft > cur_fft * (1 + 1e-12) + 1e-12)
        if higher.size:
            j = links[higher[0]]
            raise row.error(
                "free_flow_time",
                f"{fft[higher[0]]:g} is above link {ext.link_ids[j]}'s free-flow time "
                f"{cur_fft[higher[0]]:g}; an upgrade may not raise it",
            )
        setv["free_flow_time"] = fft
    if not scale and not setv:
        need = (
            "add_lanes (a whole number >= 1) or capacity_factor (>= 1)"
            if c.kind == "widen"
            else "speed, free_flow_time, capacity_factor or road_class"
        )
        raise row.error(None, f"a {c.kind} needs {need}")
    return scale, setv
