"""Candidate files: the CSV/GeoJSON format of candidate upgrades, read and written.

This module owns the file format (the schema below, :data:`FIELDS`) and its two verbs,
each taking or returning a :class:`~optimizer.candidates.CandidateSet`:

- :func:`read_candidates` reads a user's candidates (CSV or GeoJSON) against a network
  (the checks of each row live in :mod:`optimizer._candidate_rows`);
- :func:`write_candidates` writes any set back (CSV or GeoJSON, atomically) so that reading
  the file against the same *base* network rebuilds the same set.

Generated candidates come from :func:`optimizer.generate.generate_candidates`.

File schema
-----------
One row (CSV) or one feature (GeoJSON, the same names as properties) per candidate. Blank
cells mean "not given"; CSV lines starting with ``#`` are comments. Values are in the
network's units (OSM networks: km, km/h, minutes, veh/h per direction); costs in the set's
cost unit. Where a field says "per link", it takes one value for every link the candidate
builds or changes, or a ``;``-separated list with one value per link in link order (the
links of ``link_id``, then the reverse links that ``both_directions`` adds).

Every kind:

``id`` (required)
    A unique name.
``kind`` (required)
    ``new_link``, ``widen`` or ``upgrade``.
``cost`` (required)
    Building cost, a number >= 0.
``init_node``, ``term_node``
    External node ids (OSM node ids, TNTP node numbers) of the link's tail and head.
    Required for ``new_link``; for ``widen``/``upgrade`` required unless ``link_id`` is
    given (then, when present, they must be the first listed link's end nodes).
``link_id``
    External link id(s), ``;``-separated. ``widen``/``upgrade``: exactly the links to
    change (this is how to pick one of parallel links, or a whole road of several links).
    ``new_link``: the ids the new link(s) get (default: after the largest existing id).
``both_directions``
    ``true``/``false`` (also ``yes``/``no``, ``1``/``0``; default false): also build, or
    also change, the reverse link ``term_node -> init_node`` (for a change: the reverse
    link of the same OSM way where there are several).
``group``
    Mutually exclusive group: at most one candidate of a group is chosen.
``requires``
    Ids of candidates that must be chosen too, ``;``-separated.
``label``
    A description for people.
``cost_unit``
    The unit of ``cost`` (for example ``thousand CNY``); the same in every row.

``new_link``:

``capacity`` (per link)
    veh/h per direction. Default, on networks with a road profile (OSM networks):
    ``lanes x`` the profile's capacity per lane of ``road_class``.
``free_flow_time`` (per link), or ``length`` and ``speed`` (per link)
    Time is ``length / speed`` in the network's time unit (OSM: km and km/h give
    minutes). ``speed`` defaults to the profile's speed of ``road_class``; ``length`` to
    the length of the feature's LineString (GeoJSON), else is required. Given
    ``free_flow_time`` alone, ``length`` defaults to the feature's line, else the straight
    line between the nodes.
``alpha``, ``beta`` (per link)
    BPR parameters, default 0.15 and 4.
``toll`` (per link), ``link_type``
    Optional: toll (default 0) and link type code (default: the OSM class code on OSM
    networks, else 0).
``lanes`` (per link)
    Lanes per direction; default the profile's lanes of ``road_class`` (else unknown).
``road_class``
    OSM ``highway`` value of the new road (reports, defaults above).

``widen``:

``add_lanes``
    Integer >= 1: lanes added in each direction. Capacity and lanes scale by
    ``(lanes + add_lanes) / lanes`` per link; unknown lanes count as 1.
``capacity_factor`` (per link)
    Instead of ``add_lanes``: capacity is multiplied by this factor (>= 1).
``lanes_factor`` (per link)
    Optional with ``capacity_factor``: lanes are multiplied by this factor (>= 1).

``upgrade`` (at least one of):

``speed`` (per link)
    The new speed, no lower than today's; free-flow time becomes ``length / speed``
    unless ``free_flow_time`` is given.
``free_flow_time`` (per link)
    The new free-flow time, no higher than today's.
``capacity_factor`` (per link)
    Capacity multiplied by this factor (>= 1).
``road_class``
    The class after the upgrade; on networks with a road profile, where ``speed`` or
    ``capacity_factor`` is not given, speed and capacity per lane come from the profile's
    table for that class (never lowering either). It must rank above the link's class.

A ``widen`` or ``upgrade`` may change a link that a ``new_link`` candidate builds: it must
then list that candidate in ``requires``, and acts on the new link(s) between its nodes.

Errors in a file raise :class:`CandidateFileError` (a :class:`~networks.errors.FileFormatError`
and an :class:`~optimizer.errors.InvalidCandidatesError`) naming the file, the line (CSV) or
feature (GeoJSON), the field and what to do.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from networks._io import atomic_write_text, format_float, read_text_file
from networks.errors import FileFormatError
from networks.network import Network

from ._candidate_rows import Row, build
from .candidates import Candidate, CandidateSet, _link_type, _road_profile
from .errors import CandidateFileError, InvalidCandidatesError

__all__ = ["FIELDS", "CandidateFileError", "read_candidates", "write_candidates"]

log = logging.getLogger(__name__)

#: Columns :func:`write_candidates` writes, in order (every name :func:`read_candidates`
#: knows).
FIELDS: tuple[str, ...] = (
    "id",
    "kind",
    "cost",
    "cost_unit",
    "init_node",
    "term_node",
    "link_id",
    "both_directions",
    "group",
    "requires",
    "road_class",
    "capacity",
    "free_flow_time",
    "length",
    "speed",
    "lanes",
    "alpha",
    "beta",
    "toll",
    "link_type",
    "add_lanes",
    "capacity_factor",
    "lanes_factor",
    "label",
)


# ====================================================================== reading
def read_candidates(
    path: str | Path,
    network: Network,
    *,
    cost_unit: str | None = None,
    profile: Any = None,
) -> CandidateSet:
    """Read candidate upgrades from a CSV or GeoJSON file (schema: the module docstring).

    Parameters
    ----------
    path
        ``.csv`` (or ``.txt``) or ``.geojson``/``.json`` file.
    network
        The network the candidates belong to: its existing links come first in the
        extended network; every ``new_link`` row is appended after them, in file order.
    cost_unit
        Unit of the costs. Default: the file's ``cost_unit`` column, else the network's
        ``units.cost``. A different unit in the file is an error.
    profile
        Road profile for class defaults (a name or :class:`networks.roads.RoadProfile`);
        default: the network's own (OSM networks), the generic profile for other networks
        with km and km/h units and OSM classes, else none (then give speeds and
        capacities explicitly).

    Returns
    -------
    CandidateSet
        In file order.

    Raises
    ------
    CandidateFileError
        A ``FileFormatError`` and ``InvalidCandidatesError``: empty file; missing,
        negative or non-numeric cost; unknown kind; duplicate id; unknown node or link
        ids; no link between the nodes of a widen/upgrade; requires naming unknown ids;
        contradictory prerequisites; an upgrade that would lower capacity or speed or
        raise free-flow time; and every other malformed value.
    FileNotFoundError
        When ``path`` does not exist.
    """
    p = Path(path)
    kind = _file_kind(p)
    rows = _read_csv(p) if kind == "csv" else _read_geojson(p, network)
    return build(rows, network, p, cost_unit=cost_unit, profile=_road_profile(network, profile))


def _file_kind(p: Path) -> str:
    suffix = p.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".geojson", ".json"):
        return "geojson"
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    head = p.read_bytes()[:256].lstrip()
    if head.startswith(b"{"):
        return "geojson"
    raise FileFormatError(
        p,
        "unknown candidates file type; use a .csv or .geojson file (schema: "
        "optimizer.candidate_files)",
    )


def _read_csv(p: Path) -> list[Row]:
    text = read_text_file(p, what="candidates CSV")
    # comments become blank lines so that line numbers stay those of the file
    lines = ["" if ln.lstrip().startswith("#") else ln for ln in text.splitlines()]
    reader = csv.reader(io.StringIO("\n".join(lines)))
    header: list[str] | None = None
    rows: list[Row] = []
    for rec in reader:
        if not any(c.strip() for c in rec):
            continue
        if header is None:
            header = [h.strip().lower() for h in rec]
            unknown = [h for h in header if h and h not in FIELDS]
            if unknown:
                log.warning("%s: ignoring unknown column(s) %s", p, ", ".join(unknown))
            for req in ("id", "kind", "cost"):
                if req not in header:
                    raise CandidateFileError(
                        p,
                        f"no '{req}' column; the header must name at least id, kind and cost "
                        f"(found: {', '.join(header)})",
                        line=reader.line_num,
                        field=req,
                    )
            continue
        if len(rec) > len(header):
            extra = rec[len(header) :]
            if any(c.strip() for c in extra):
                raise CandidateFileError(
                    p,
                    f"{len(rec)} fields but the header has {len(header)}; quote values that "
                    "contain commas",
                    line=reader.line_num,
                )
        values = {h: (rec[k] if k < len(rec) else "") for k, h in enumerate(header) if h}
        rows.append(Row(p, values, line=reader.line_num))
    if header is None:
        raise CandidateFileError(p, "the file is empty; expected a header and candidate rows")
    if not rows:
        raise CandidateFileError(
            p, "no candidates: the file has a header but no rows; add one row per candidate"
        )
    return rows


def _read_geojson(p: Path, network: Network) -> list[Row]:
    text = read_text_file(p, what="GeoJSON")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CandidateFileError(
            p,
            f"not valid JSON ({exc.msg}); expected a GeoJSON FeatureCollection",
            line=exc.lineno,
        ) from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise CandidateFileError(
            p, "not a GeoJSON FeatureCollection; write one feature per candidate"
        )
    feats = data.get("features") or []
    if not feats:
        raise CandidateFileError(p, "no candidates: the FeatureCollection has no features")
    src_crs = "EPSG:4326"
    crs_member = data.get("crs")
    if isinstance(crs_member, dict):
        src_crs = (crs_member.get("properties") or {}).get("name") or src_crs
    transform = _geometry_transform(src_crs, network.crs)
    import shapely
    from shapely.geometry import shape

    rows = []
    for k, f in enumerate(feats, 1):
        if not isinstance(f, dict) or f.get("type") != "Feature":
            raise CandidateFileError(p, f"feature {k}: not a GeoJSON Feature")
        props = f.get("properties") or {}
        if not isinstance(props, dict):
            raise CandidateFileError(p, f"feature {k}: properties must be an object")
        values = {str(key).strip().lower(): v for key, v in props.items()}
        geom = None
        if f.get("geometry"):
            try:
                geom = shape(f["geometry"])
            except Exception as exc:  # shapely raises several types for bad geometry
                raise CandidateFileError(
                    p, f"feature {k}: unreadable geometry ({exc}); use a LineString"
                ) from None
            if geom.geom_type == "MultiLineString":
                geom = shapely.line_merge(geom)
            if transform is not None and not geom.is_empty:
                geom = shapely.transform(geom, transform, interleaved=False)
        rows.append(Row(p, values, feature=k, geometry=geom))
    return rows


def _geometry_transform(src: str, dst: str | None) -> Any:
    """A vectorised ``(x, y) -> (x, y)`` from ``src`` to ``dst`` (None: same, or unknown)."""
    if dst is None:
        return None
    import pyproj

    s, d = pyproj.CRS.from_user_input(src), pyproj.CRS.from_user_input(dst)
    if s.equals(d):
        return None
    tr = pyproj.Transformer.from_crs(s, d, always_xy=True)

    def fn(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return tr.transform(x, y)

    return fn


# ====================================================================== writing
def _fmt(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return "" if math.isnan(v) else format_float(float(v))
    return str(v)


def _per_link(values: np.ndarray) -> Any:
    """One value when all are equal (NaN-aware), else the list."""
    vals = np.asarray(values, dtype=np.float64)
    if vals.size and (np.all(vals == vals[0]) or np.all(np.isnan(vals))):
        return float(vals[0])
    return [float(x) for x in vals]


def _candidate_record(cs: CandidateSet, c: Candidate) -> dict[str, Any]:
    net = cs.network
    ids = net.node_ids
    links = np.asarray(c.links, dtype=np.int64)
    first = int(links[0])
    rec: dict[str, Any] = {
        "id": c.id,
        "kind": c.kind,
        "cost": float(c.cost),
        "cost_unit": cs.cost_unit,
        "init_node": int(ids[net.init[first]]),
        "term_node": int(ids[net.term[first]]),
        "link_id": [int(net.link_ids[k]) for k in links],
        "both_directions": False,
        "group": c.group,
        "requires": list(c.requires) or None,
        "road_class": c.road_class,
        "label": c.label,
    }
    if c.kind == "new_link":
        if links.size == 2:
            a, b = links
            if not (net.init[a] == net.term[b] and net.term[a] == net.init[b]):
                raise InvalidCandidatesError(
                    f"candidate '{c.id}' builds two links that are not the two directions of "
                    "one road; the file format cannot describe it (split it in two)"
                )
            rec["both_directions"] = True
        elif links.size != 1:
            raise InvalidCandidatesError(
                f"candidate '{c.id}' builds {links.size} links; the file format describes a "
                "new link or a two-way pair only (split it)"
            )
        for name in ("capacity", "free_flow_time", "length", "lanes", "alpha", "beta"):
            rec[name] = _per_link(getattr(net, name)[links])
        if np.all(net.speed[links] > 0):  # 0: unknown
            rec["speed"] = _per_link(net.speed[links])
        if np.any(net.toll[links] != 0):
            rec["toll"] = _per_link(net.toll[links])
        lt = net.link_type[links]
        if np.any(lt != [_link_type(net, str(net.road_class[k])) for k in links]):
            rec["link_type"] = [int(x) for x in lt] if np.any(lt != lt[0]) else int(lt[0])
        if c.road_class is None and net.road_class[first]:
            rec["road_class"] = str(net.road_class[first])
        return rec
    cap = c.scale.get("capacity")
    lan = c.scale.get("lanes")
    if cap is not None and lan is not None and np.array_equal(cap, lan):
        cur = np.where(np.isfinite(net.lanes[links]), net.lanes[links], 1.0)
        add = np.round((np.asarray(cap) - 1.0) * cur)
        if add.size and np.all(add == add[0]) and add[0] >= 1:
            if np.array_equal((cur + add[0]) / cur, np.asarray(cap)):
                rec["add_lanes"] = int(add[0])
                cap = lan = None
    if cap is not None:
        rec["capacity_factor"] = _per_link(cap)
    if lan is not None:
        rec["lanes_factor"] = _per_link(lan)
    if "speed" in c.set:
        rec["speed"] = _per_link(c.set["speed"])
    if "free_flow_time" in c.set:
        rec["free_flow_time"] = _per_link(c.set["free_flow_time"])
    return rec


def write_candidates(cs: CandidateSet, path: str | Path) -> Path:
    """Write a candidate set to CSV (``.csv``) or GeoJSON (``.geojson``/``.json``), atomically.

    Every row names its links explicitly (``link_id``; external ids of the extended
    network) and carries exact values (floats in shortest round-trip form), so that
    ``read_candidates(path, base)`` with the set's base network (its first
    ``num_base_links`` links) rebuilds the same set: the same candidates, effects, costs,
    and new links with the same ids and attributes (a new link's geometry comes back as
    the straight line, or the GeoJSON feature's line).

    GeoJSON features carry the links' geometry in lon/lat (RFC 7946) when the network has
    a CRS (else no geometry).

    Parameters
    ----------
    cs
        The candidates.
    path
        Output file.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InvalidCandidatesError
        For a ``new_link`` candidate that builds anything other than one link or the two
        directions of one road (the format cannot describe it).
    """
    p = Path(path)
    records = [_candidate_record(cs, c) for c in cs.candidates]
    suffix = p.suffix.lower()
    if suffix in (".geojson", ".json"):
        atomic_write_text(p, _geojson_text(cs, records))
        return p
    if suffix not in (".csv", ".txt"):
        raise ValueError(f"{p}: unknown output type; use .csv or .geojson")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FIELDS)
    for rec in records:
        w.writerow([_cell(rec.get(f)) for f in FIELDS])
    atomic_write_text(p, buf.getvalue())
    return p


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, list):
        return ";".join(_fmt(x) for x in v)
    return _fmt(v)


def _geojson_text(cs: CandidateSet, records: Sequence[Mapping[str, Any]]) -> str:
    net = cs.network
    geoms: list[Any] = [None] * len(records)
    if net.crs is not None and net.has_coordinates:
        import shapely

        from networks.export import link_geometries

        lines = link_geometries(net)
        tr = _geometry_transform(net.crs, "EPSG:4326")
        for i, c in enumerate(cs.candidates):
            parts = [lines[int(k)] for k in c.links]
            if c.kind == "new_link":
                parts = parts[:1]
            g = parts[0] if len(parts) == 1 else shapely.MultiLineString(parts)
            if tr is not None:
                g = shapely.transform(g, tr, interleaved=False)
            geoms[i] = shapely.geometry.mapping(g)
    feats = []
    for rec, g in zip(records, geoms, strict=True):
        props: dict[str, Any] = {}
        for f in FIELDS:
            v = rec.get(f)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            if isinstance(v, list):
                v = v[0] if len(v) == 1 and f in ("link_id",) else _cell(v)
            props[f] = v
        feats.append({"type": "Feature", "properties": props, "geometry": g})
    return json.dumps({"type": "FeatureCollection", "features": feats}, indent=1) + "\n"
