"""The tables an engineer opens first: road sections both ways, nodes, zone-to-zone skims.

``sections`` (:func:`sections_frame`)
    One row per road section (a pair of opposite links, or a one-way link), its ends
    ``a_node`` -> ``b_node``, and per direction ``ab_*`` / ``ba_*`` the flow, v/c,
    congested time and speed before and after the plan (NULL for a direction that does not
    exist), ``tot_flow_*`` and ``max_vc_*``: the layout of AequilibraE's and the commercial
    packages' loaded-link tables. Written as the ``sections`` layer of ``network.gpkg``
    and as ``sections.csv``.
``nodes`` (:func:`nodes_frame`)
    Every node with its zone, access point and gateway roles.
skims (:func:`plan_skims`, :func:`write_skims_omx`, :func:`skims_frame`)
    Zone-to-zone congested time and distance before and after the plan, along each
    state's least-cost paths at its equilibrium costs: ``skims.omx`` (Open Matrix, the
    modelling community's matrix format, through the ``openmatrix`` package) and
    ``skims.csv`` (one row per zone pair with a trip or a finite time).

Column names carry their units (:mod:`..columns`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from networks._io import atomic_path

from ..columns import named, speed, text_or_null
from .frames import line_geometries, link_states, volume_capacity

__all__ = [
    "Skims",
    "layer_style_rows",
    "nodes_frame",
    "plan_skims",
    "section_pairs",
    "sections_frame",
    "skims_frame",
    "write_skims_omx",
]


# ---------------------------------------------------------------------- sections
def section_pairs(network: Any, geoms: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pair each link with its opposite: ``(ab, ba)`` link indices per section.

    Two links are one section when they join the same two nodes in opposite directions
    and (where links have geometry) run along the same line; parallel links between one
    pair of nodes pair up in order of length. The ``ab`` link of a two-way section runs
    from the end with the lower node id; a one-way section has only its ``ab`` link (its
    ``ba`` is -1). Sections come in the order of their ``ab`` links.
    """
    import shapely

    m = network.num_links
    init, term = np.asarray(network.init), np.asarray(network.term)
    ids = np.asarray(network.node_ids)
    keys: dict[tuple, list[int]] = {}
    for a in range(m):
        u, v = int(init[a]), int(term[a])
        lo, hi = (u, v) if ids[u] <= ids[v] else (v, u)
        shape = None
        if geoms is not None and geoms[a] is not None:
            shape = shapely.normalize(geoms[a]).wkb
        keys.setdefault((lo, hi, shape), []).append(a)
    ab: list[int] = []
    ba: list[int] = []
    length = np.asarray(network.length)
    for (lo, _, _), links in keys.items():
        fwd = sorted((a for a in links if init[a] == lo), key=lambda a: (length[a], a))
        rev = sorted((a for a in links if init[a] != lo), key=lambda a: (length[a], a))
        for k in range(max(len(fwd), len(rev))):
            ab.append(fwd[k] if k < len(fwd) else -1)
            ba.append(rev[k] if k < len(rev) else -1)
    out_ab, out_ba = np.asarray(ab, dtype=np.int64), np.asarray(ba, dtype=np.int64)
    # a one-way section runs the way its link runs
    swap = out_ab < 0
    out_ab[swap], out_ba[swap] = out_ba[swap], -1
    order = np.argsort(out_ab, kind="stable")
    return out_ab[order], out_ba[order]


def _pick(values: np.ndarray, links: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """``values[links]`` with NaN where a link is missing (-1) or masked out."""
    out = np.full(len(links), np.nan)
    ok = links >= 0
    if mask is not None:
        ok &= np.where(links >= 0, mask[np.maximum(links, 0)], False)
    out[ok] = np.asarray(values, dtype=np.float64)[links[ok]]
    return out


def sections_frame(run: Any, *, geometry: bool = True) -> Any:
    """One row per road section and both its directions, before and after the plan.

    Parameters
    ----------
    run
        A :class:`optimizer.jobs.pipeline.PlanRun`.
    geometry
        A GeoDataFrame in the network's CRS (the ``ab`` link's line); else a DataFrame.

    Returns
    -------
    DataFrame or GeoDataFrame
        ``section_id``, ``a_node``, ``b_node`` (external ids), ``ab_link_id``,
        ``ba_link_id`` (NULL: one way), ``road_class`` (after), ``name``, ``ref``,
        ``length_<unit>``, ``lanes_ab``/``lanes_ba`` after, and for ``before`` and
        ``after``: ``ab_``/``ba_``/``tot_flow_<unit>``, ``ab_``/``ba_``/``max_vc``,
        ``ab_``/``ba_time_<unit>``, ``ab_``/``ba_speed_kmh``; ``built``, ``upgraded``,
        ``upgrade_id``. Sections that exist neither before nor after are left out.
    """
    import pandas as pd

    s = link_states(run)
    net, after, u = s.network, s.after, s.network.units
    geoms = line_geometries(net)
    ab, ba = section_pairs(net, geoms)
    exists = (s.open_before | s.open_after)[ab]
    ab, ba = ab[exists], ba[exists]
    ids = np.asarray(net.node_ids)
    lids = np.asarray(net.link_ids)

    def link_id(links: np.ndarray) -> Any:
        return pd.array([int(lids[a]) if a >= 0 else None for a in links], dtype="Int64")

    cols: dict[str, Any] = {
        "section_id": np.arange(1, len(ab) + 1),
        "a_node": ids[net.init[ab]],
        "b_node": ids[net.term[ab]],
        "ab_link_id": link_id(ab),
        "ba_link_id": link_id(ba),
        "road_class": s.road_class_after[ab],
    }
    for key in ("name", "ref"):
        vals = net.extra.get(key)
        if vals is not None and len(vals) == net.num_links:
            cols[key] = [text_or_null(vals[a]) for a in ab]
    cols[named("length", u.length)] = np.asarray(net.length)[ab]
    cols["lanes_ab"] = _pick(after.lanes, ab, s.open_after)
    cols["lanes_ba"] = _pick(after.lanes, ba, s.open_after)
    for state, nw, is_open, flow, cost in (
        ("before", net, s.open_before, s.flow_before, s.cost_before),
        ("after", after, s.open_after, s.flow_after, s.cost_after),
    ):
        fname = named("flow", u.flow, state)
        vc = volume_capacity(flow, nw.capacity)
        f_ab, f_ba = _pick(flow, ab, is_open), _pick(flow, ba, is_open)
        cols[f"ab_{fname}"], cols[f"ba_{fname}"] = f_ab, f_ba
        both = np.isnan(f_ab) & np.isnan(f_ba)
        cols[f"tot_{fname}"] = np.where(both, np.nan, np.nan_to_num(f_ab) + np.nan_to_num(f_ba))
        v_ab, v_ba = _pick(vc, ab, is_open), _pick(vc, ba, is_open)
        cols[f"ab_vc_{state}"], cols[f"ba_vc_{state}"] = v_ab, v_ba
        cols[f"max_vc_{state}"] = np.fmax(v_ab, v_ba)
        tname = named("time", u.time, state)
        cols[f"ab_{tname}"], cols[f"ba_{tname}"] = (
            _pick(cost, ab, is_open),
            _pick(cost, ba, is_open),
        )
        sp = speed(nw.length, cost, u)
        if sp is not None:
            cols[f"ab_{sp[0]}_{state}"] = _pick(sp[1], ab, is_open)
            cols[f"ba_{sp[0]}_{state}"] = _pick(sp[1], ba, is_open)
    back = np.where(ba >= 0, ba, ab)  # the other direction (a one-way section's own link)
    cols["built"] = s.built[ab] | s.built[back]
    cols["upgraded"] = s.upgraded[ab] | s.upgraded[back]
    cols["upgrade_id"] = [
        ";".join(
            dict.fromkeys(x for x in f"{s.upgrade_ids[a]};{s.upgrade_ids[b]}".split(";") if x)
        )
        or None
        for a, b in zip(ab, back, strict=True)
    ]
    frame = pd.DataFrame(cols)
    if not geometry:
        return frame
    import geopandas as gpd

    if geoms is None or net.crs is None:
        from networks.export import NoGeometryError

        raise NoGeometryError(f"network '{net.name}' has no link geometry or no known CRS")
    return gpd.GeoDataFrame(frame, geometry=[geoms[a] for a in ab], crs=net.crs)


# ---------------------------------------------------------------------- nodes
def nodes_frame(run: Any) -> Any:
    """Every node of the network after the plan, with its roles (a GeoDataFrame).

    ``node_id``, ``zone_id`` (the demand zone loading here; NULL: none), ``zone_name``,
    ``access_kind`` and ``access_name`` (an access point to the trunk network), ``gateway``
    (where a road leaves the study area), ``degree`` (links in and out).
    """
    import geopandas as gpd
    import pandas as pd

    net = run.candidates.network
    n = net.num_nodes
    ids = np.asarray(net.node_ids)
    zone_id: list[Any] = [None] * n
    zone_name: list[Any] = [None] * n
    demand = run.study.demand
    model = getattr(run.study, "model", None)
    names = list(getattr(getattr(model, "zones", None), "names", None) or [])
    if demand is not None:
        where = net.node_indices(demand.zone_node_ids, what="zone node")
        for k, v in enumerate(where.tolist()):
            zone_id[v] = int(demand.zone_ids[k])
            if k < len(names) and names[k]:
                zone_name[v] = str(names[k])
    kind: list[Any] = [None] * n
    aname: list[Any] = [None] * n
    access = getattr(model, "access", None)
    if access is not None and access.num_points:
        where = net.node_indices(access.node_ids, what="access point")
        for k, v in enumerate(where.tolist()):
            kind[v] = str(access.kind[k])
            aname[v] = str(access.name[k]) or None
    gateway = np.zeros(n, dtype=bool)
    gws = getattr(model, "gateways", None)
    if gws is not None and len(gws.node_ids):
        gateway[net.node_indices(gws.node_ids, what="gateway")] = True
    degree = np.bincount(net.init, minlength=n) + np.bincount(net.term, minlength=n)
    frame = pd.DataFrame(
        {
            "node_id": ids,
            "zone_id": pd.array(zone_id, dtype="Int64"),
            "zone_name": zone_name,
            "access_kind": kind,
            "access_name": aname,
            "gateway": gateway,
            "degree": degree,
        }
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(net.x, net.y), crs=net.crs)


# ---------------------------------------------------------------------- skims
@dataclass(frozen=True, eq=False)
class Skims:
    """Zone-to-zone congested time and distance before and after a plan."""

    #: The demand's zone ids, in matrix order.
    zone_ids: np.ndarray
    #: Zone names ("" where none).
    names: list[str]
    #: Matrices (z, z), keyed ``time_before``, ``time_after``, ``distance_before``,
    #: ``distance_after`` (inf: unreachable) and ``trips`` (the assigned demand).
    matrices: dict[str, np.ndarray]
    #: The units of time and distance and the trips' period.
    units: dict[str, str]


def plan_skims(run: Any) -> Skims | None:
    """The skims of a plan run (None without demand or equilibrium costs)."""
    from ...connectivity import zone_skims

    demand = run.study.demand
    s = link_states(run)
    if demand is None or np.isnan(s.cost_before).all() or np.isnan(s.cost_after).all():
        return None
    mats: dict[str, np.ndarray] = {}
    for state, nw, is_open, cost in (
        ("before", s.network, s.open_before, s.cost_before),
        ("after", s.after, s.open_after, s.cost_after),
    ):
        c = np.where(is_open, np.nan_to_num(cost, nan=np.inf), np.inf)
        mats[f"time_{state}"], mats[f"distance_{state}"] = zone_skims(nw, demand, c, ~is_open)
    mats["trips"] = np.asarray(demand.dense(), dtype=np.float64)
    model = getattr(run.study, "model", None)
    names = list(getattr(getattr(model, "zones", None), "names", None) or [])
    z = demand.num_zones
    names = [str(names[k]) if k < len(names) and names[k] else "" for k in range(z)]
    units = s.network.units
    return Skims(
        np.asarray(demand.zone_ids),
        names,
        mats,
        {
            "time": units.time,
            "distance": units.length,
            "trips": f"trips per {demand.period}" if getattr(demand, "period", None) else "trips",
        },
    )


def skims_frame(skims: Skims) -> Any:
    """One row per zone pair (with trips or a finite time either way): the tidy skims."""
    import pandas as pd

    m = skims.matrices
    z = len(skims.zone_ids)
    i, j = np.meshgrid(np.arange(z), np.arange(z), indexing="ij")
    keep = (i != j) & (
        (m["trips"] > 0) | np.isfinite(m["time_before"]) | np.isfinite(m["time_after"])
    )
    i, j = i[keep], j[keep]
    t, d = skims.units["time"], skims.units["distance"]

    def col(name: str) -> np.ndarray:
        v = m[name][i, j]
        return np.where(np.isfinite(v), v, np.nan)

    names = np.asarray(skims.names, dtype=object)
    cols: dict[str, Any] = {
        "origin": skims.zone_ids[i],
        "destination": skims.zone_ids[j],
        "origin_name": [x or None for x in names[i]],
        "destination_name": [x or None for x in names[j]],
        "trips": m["trips"][i, j],
    }
    for state in ("before", "after"):
        cols[named("time", t, state)] = col(f"time_{state}")
    cols[named("time_saved", t)] = col("time_before") - col("time_after")
    for state in ("before", "after"):
        cols[named("distance", d, state)] = col(f"distance_{state}")
    return pd.DataFrame(cols)


def write_skims_omx(skims: Skims, path: str | Path) -> None:
    """Write the skims as an Open Matrix file (atomically): matrices, zone lookup, units.

    Matrices ``time_before``, ``time_after``, ``distance_before``, ``distance_after`` and
    ``trips``, each with attributes ``unit`` and ``description``; the lookup ``zone_id``.
    Unreachable pairs are inf.
    """
    import openmatrix as omx

    described = {
        "time": "least congested generalized time at the state's equilibrium",
        "distance": "length of the least-time path",
    }
    with atomic_path(path) as tmp:
        tmp.unlink()
        f = omx.open_file(str(tmp), "w")
        try:
            for name, mat in skims.matrices.items():
                f[name] = np.ascontiguousarray(mat, dtype=np.float64)
                kind = name.split("_")[0]
                f[name].attrs["unit"] = skims.units.get(kind, "")
                what = described.get(kind, "assigned demand")
                if kind in described:
                    what += f" ({name.split('_')[-1]} the plan)"
                f[name].attrs["description"] = what
            f.create_mapping("zone_id", np.asarray(skims.zone_ids, dtype=np.int64))
        finally:
            f.close()


# ---------------------------------------------------------------------- QGIS styles
#: v/c classes of the stored QGIS style (upper bounds) and their colours (RGB).
VC_CLASSES = (
    (0.5, "26,150,65"),
    (0.7, "166,217,106"),
    (0.85, "253,174,97"),
    (1.0, "244,109,67"),
    (1e9, "215,25,28"),
)


def _qml(attribute: str) -> str:
    """A QGIS layer style: lines graduated by ``attribute`` (v/c) in :data:`VC_CLASSES`."""
    ranges, symbols = [], []
    lower = 0.0
    for k, (upper, rgb) in enumerate(VC_CLASSES):
        label = f"v/c {lower:g} - {upper:g}" if upper < 1e8 else f"v/c > {lower:g}"
        ranges.append(
            f'<range render="true" symbol="{k}" lower="{lower}" upper="{upper}" label="{label}"/>'
        )
        width = 0.4 + 0.3 * k
        symbols.append(
            f'<symbol type="line" name="{k}" alpha="1" clip_to_extent="1" force_rhr="0">'
            '<layer class="SimpleLine" enabled="1" locked="0" pass="0"><Option type="Map">'
            f'<Option type="QString" name="line_color" value="{rgb},255"/>'
            f'<Option type="QString" name="line_width" value="{width:.1f}"/>'
            '<Option type="QString" name="line_width_unit" value="MM"/>'
            "</Option></layer></symbol>"
        )
        lower = upper
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
        '<qgis version="3.28.0" styleCategories="Symbology">'
        f'<renderer-v2 type="graduatedSymbol" attr="{attribute}" '
        'graduatedMethod="GraduatedColor" symbollevels="0" forceraster="0" enableorderby="0">'
        f"<ranges>{''.join(ranges)}</ranges><symbols>{''.join(symbols)}</symbols>"
        "</renderer-v2></qgis>"
    )


def layer_style_rows(layers: dict[str, str]) -> Any:
    """The GeoPackage ``layer_styles`` table QGIS reads: a default style per layer.

    ``layers`` maps a layer name to the v/c column it is coloured by.
    """
    import pandas as pd

    rows = [
        {
            "f_table_catalog": "",
            "f_table_schema": "",
            "f_table_name": name,
            "f_geometry_column": "geometry",
            "styleName": f"{name} by {attr}",
            "styleQML": _qml(attr),
            "styleSLD": "",
            "useAsDefault": True,
            "description": f"roadopt: {name} coloured by volume/capacity ({attr})",
            "owner": "roadopt",
            "ui": "",
        }
        for name, attr in layers.items()
    ]
    return pd.DataFrame(rows)
