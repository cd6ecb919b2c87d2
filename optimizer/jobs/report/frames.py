"""Every link before and after a plan, and the tables the GeoPackage and the map share.

:func:`link_states` lines up, for each link of the extended network (existing links, then
candidate new ones), whether it is open before and after the plan, its flow and
generalized cost at both ends, and which chosen candidates act on it. From these,
:func:`plan_links_frame` and :func:`upgrades_frame` build the ``links`` and ``upgrades``
layers; :func:`line_geometries` gives the line every link is drawn with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from networks.network import Network

from ..columns import named, result_names, speed, text_or_null

__all__ = [
    "LinkStates",
    "candidate_geometry",
    "line_geometries",
    "link_states",
    "plan_links_frame",
    "terrain_columns",
    "upgrades_frame",
    "volume_capacity",
]


@dataclass(frozen=True, eq=False)
class LinkStates:
    """Every link of the extended network before and after the plan.

    Arrays have one entry per link of the extended network (``m = network.num_links``).
    """

    #: The extended network, attributes before the plan.
    network: Network
    #: The extended network, attributes after the plan.
    after: Network
    #: bool (m,): the link exists before the plan.
    open_before: np.ndarray
    #: bool (m,): the link exists after the plan.
    open_after: np.ndarray
    #: float64 (m,): equilibrium flow before the plan (the network's flow unit; NaN: unknown).
    flow_before: np.ndarray
    #: float64 (m,): equilibrium flow after the plan (the network's flow unit; NaN: unknown).
    flow_after: np.ndarray
    #: float64 (m,): generalized link cost before the plan (the network's time unit).
    cost_before: np.ndarray
    #: float64 (m,): generalized link cost after the plan (the network's time unit).
    cost_after: np.ndarray
    #: bool (m,): a new link the plan builds.
    built: np.ndarray
    #: bool (m,): an existing link the plan changes.
    upgraded: np.ndarray
    #: The ids of the chosen candidates acting on each link, ``;``-separated.
    upgrade_ids: list[str]
    #: object (m,): road class after the plan.
    road_class_after: np.ndarray


def _result_array(result: Any, name: str, m: int) -> np.ndarray:
    arr = None if result is None else getattr(result, name, None)
    if arr is None or np.shape(arr) != (m,):
        return np.full(m, np.nan)
    return np.asarray(arr, dtype=np.float64)


def link_states(run: Any) -> LinkStates:
    """The states of every link of a :class:`optimizer.jobs.pipeline.PlanRun` before and after."""
    cs, plan = run.candidates, run.plan
    ext = cs.network
    m = ext.num_links
    chosen = np.asarray(plan.plan, dtype=bool)
    _, closed_before = cs.apply(np.zeros(len(cs), dtype=bool))
    if plan.network is not None and plan.closed is not None:
        after, closed_after = plan.network, np.asarray(plan.closed, dtype=bool)
    else:
        after, closed_after = cs.apply(chosen)
    built = np.zeros(m, dtype=bool)
    upgraded = np.zeros(m, dtype=bool)
    ids: list[list[str]] = [[] for _ in range(m)]
    rc_after = np.asarray(ext.road_class, dtype=object).copy()
    for k in np.flatnonzero(chosen):
        c = cs.candidates[k]
        links = np.asarray(c.links, dtype=np.int64)
        if c.kind == "new_link":
            built[links] = True
        else:
            upgraded[links] = True
        if c.road_class:
            rc_after[links] = c.road_class
        for a in links.tolist():
            ids[a].append(c.id)
    return LinkStates(
        network=ext,
        after=after,
        open_before=~np.asarray(closed_before, dtype=bool),
        open_after=~closed_after,
        flow_before=_result_array(plan.result_before, "flow", m),
        flow_after=_result_array(plan.result, "flow", m),
        cost_before=_result_array(plan.result_before, "cost", m),
        cost_after=_result_array(plan.result, "cost", m),
        built=built,
        upgraded=upgraded & ~built,
        upgrade_ids=[";".join(v) for v in ids],
        road_class_after=rc_after,
    )


def line_geometries(network: Network) -> list | None:
    """A LineString per link (stored geometry, else a straight line), or None if unknown."""
    import shapely

    from networks.export import NoGeometryError, link_geometries

    try:
        geoms = link_geometries(network)
    except NoGeometryError:
        return None
    missing = [k for k, g in enumerate(geoms) if g is None]
    if missing:
        if not network.has_coordinates:
            return None
        xy = np.column_stack([network.x, network.y])
        idx = np.asarray(missing)
        lines = shapely.linestrings(
            np.stack([xy[network.init[idx]], xy[network.term[idx]]], axis=1)
        )
        for k, g in zip(missing, lines, strict=True):
            geoms[k] = g
    return geoms


def volume_capacity(flow: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Flow over capacity per link; NaN where the capacity is not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(capacity > 0, flow / capacity, np.nan)


def _way_ids(network: Network) -> list[str] | None:
    ways = network.extra.get("osm_way_ids")
    if ways is None or len(ways) != network.num_links:
        return None
    out = []
    for w in ways:
        if w is None:
            out.append("")
        elif isinstance(w, (list, tuple, np.ndarray)):
            out.append(";".join(str(int(v)) for v in w))
        else:
            out.append(str(w))
    return out


def terrain_columns(net: Network) -> dict[str, np.ndarray]:
    """``grade`` and ``terrain`` of every link of a network with terrain (else nothing)."""
    from networks.terrain import link_terrain

    lt = link_terrain(net)
    return {} if lt is None else {"grade": lt[0], "terrain": lt[1]}


def plan_links_frame(run: Any, *, geometry: bool = True) -> Any:
    """Every link that exists before or after the plan, with its state at both ends.

    Parameters
    ----------
    run
        A :class:`optimizer.jobs.pipeline.PlanRun`.
    geometry
        Return a GeoDataFrame in the network's CRS (requires link geometry and a CRS);
        otherwise a DataFrame.

    Returns
    -------
    DataFrame or GeoDataFrame
        Column names carry their unit (:mod:`.columns`; shown here for an OpenStreetMap
        network: minutes, km, veh/h): ``link_id``, ``init_node``, ``term_node`` (external
        ids), ``road_class`` and ``road_class_after``, ``length_km``, then before and
        after the plan (suffix ``_before``/``_after``; NULL where the link does not
        exist): ``lanes``, ``capacity_veh_h``, ``free_flow_time_min``, ``flow_veh_h``,
        ``vc`` (volume/capacity), ``time_min`` (the congested generalized link time) and
        ``speed_kmh`` (length over that time; where the units are known); then ``built``
        (a new link the plan builds), ``upgraded`` (an existing link the plan changes),
        ``upgrade_id`` (the chosen candidates acting on the link, ``;``-separated), for
        OpenStreetMap networks ``name``, ``ref`` (NULL where the road has none) and
        ``osm_way_ids`` (``;``-separated), and for networks with terrain
        (:mod:`networks.terrain`) ``grade`` (rise over run
        in the link's direction, signed) and ``terrain`` (its class).
    """
    from networks.export import NoGeometryError, links_frame

    s = link_states(run)
    net, after = s.network, s.after
    keep = s.open_before | s.open_after

    def when(arr: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.where(mask, arr, np.nan)

    ob, oa = s.open_before, s.open_after
    u = net.units
    cols: dict[str, Any] = {
        "road_class": np.asarray(net.road_class, dtype=object),
        "road_class_after": s.road_class_after,
        named("length", u.length): net.length,
    }
    states = (
        ("before", net, ob, s.flow_before, s.cost_before),
        ("after", after, oa, s.flow_after, s.cost_after),
    )
    for state, nw, is_open, _, _ in states:
        cols[f"lanes_{state}"] = when(nw.lanes, is_open)
        cols[named("capacity", u.flow, state)] = when(nw.capacity, is_open)
        cols[named("free_flow_time", u.time, state)] = when(nw.free_flow_time, is_open)
    for state, nw, is_open, flow, cost in states:
        cols[named("flow", u.flow, state)] = when(flow, is_open)
        cols[f"vc_{state}"] = when(volume_capacity(flow, nw.capacity), is_open)
        cols[named("time", u.time, state)] = when(cost, is_open)
        v = speed(nw.length, cost, u)
        if v is not None:
            cols[f"{v[0]}_{state}"] = when(v[1], is_open)
    cols["built"] = s.built
    cols["upgraded"] = s.upgraded
    cols["upgrade_id"] = np.asarray([i or None for i in s.upgrade_ids], dtype=object)
    for key in ("name", "ref"):
        vals = net.extra.get(key)
        if vals is not None and len(vals) == net.num_links:
            cols[key] = np.asarray([text_or_null(v) for v in vals], dtype=object)
    ways = _way_ids(net)
    if ways is not None:
        cols["osm_way_ids"] = np.asarray(ways, dtype=object)
    cols.update(terrain_columns(net))
    frame = links_frame(net, cols, geometry=False)
    if not geometry:
        return frame[keep].reset_index(drop=True)
    import geopandas as gpd

    geoms = line_geometries(net)
    if geoms is None or net.crs is None:
        raise NoGeometryError(
            f"network '{net.name}' has no link geometry or no known CRS; ask for geometry=False"
        )
    gdf = gpd.GeoDataFrame(frame, geometry=geoms, crs=net.crs)
    return gdf[keep].reset_index(drop=True)


def candidate_geometry(geoms: Sequence, links: np.ndarray) -> Any:
    """The distinct lines of a candidate's links (two directions drawn once)."""
    import shapely

    seen: dict[bytes, Any] = {}
    for a in np.asarray(links, dtype=np.int64).tolist():
        g = geoms[a]
        if g is None:
            continue
        seen.setdefault(shapely.normalize(g).wkb, g)
    return shapely.MultiLineString(list(seen.values())) if seen else None


def upgrades_frame(run: Any, *, geometry: bool = True) -> Any:
    """The chosen candidates, one row each, with the geometry of their links.

    Parameters
    ----------
    run
        A :class:`optimizer.jobs.pipeline.PlanRun`.
    geometry
        Return a GeoDataFrame (MultiLineStrings in the network's CRS).

    Returns
    -------
    DataFrame or GeoDataFrame
        ``id``, ``kind``, ``label``, ``road`` (the refs and names of its links; NULL:
        none), ``cost_<unit>`` (the candidates' cost unit, :mod:`..columns`),
        ``road_class`` (after the upgrade), ``link_ids`` (external ids, ``;``-separated),
        ``init_node``, ``term_node``, ``tstt_saved_<unit>`` (flow x time: vehicle-minutes
        in the design hour for OpenStreetMap studies), ``objective_gain``,
        ``annual_benefit_<unit>``, ``present_value_benefits_<unit>``,
        ``net_present_value_<unit>``, ``benefit_cost_ratio`` and
        ``first_year_rate_of_return`` (money in the candidates' cost unit; the rate a
        fraction a year; ``cost`` of the
        plan's appraisal, :mod:`optimizer.appraisal`).
    """
    import pandas as pd

    cs, plan = run.candidates, run.plan
    by_id = {c.id: c for c in cs.candidates}
    rows = []
    cands = []
    for d in plan.selected_details:
        c = by_id.get(d["id"])
        cands.append(c)
        links = [] if c is None else np.asarray(c.links).tolist()
        rows.append(
            {
                "id": str(d["id"]),
                "kind": str(d.get("kind", "")),
                "label": str(d.get("label", "")),
                "cost": _float(d.get("cost")),
                "road_class": (c.road_class if c is not None else None) or "",
                "link_ids": ";".join(str(int(cs.network.link_ids[a])) for a in links),
                "init_node": d.get("init_node"),
                "term_node": d.get("term_node"),
                "tstt_saved": _float(d.get("tstt_saved")),
                "objective_gain": _float(d.get("objective_gain")),
                "annual_benefit": _float(d.get("annual_benefit")),
                "present_value_benefits": _float(d.get("present_value_benefits")),
                "net_present_value": _float(d.get("net_present_value")),
                "benefit_cost_ratio": _float(d.get("benefit_cost_ratio")),
                "first_year_rate_of_return": _float(d.get("first_year_rate_of_return")),
            }
        )
    columns = [
        "id",
        "kind",
        "label",
        "cost",
        "road_class",
        "link_ids",
        "init_node",
        "term_node",
        "tstt_saved",
        "objective_gain",
        "annual_benefit",
        "present_value_benefits",
        "net_present_value",
        "benefit_cost_ratio",
        "first_year_rate_of_return",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("init_node", "term_node"):
        frame[col] = pd.array(frame[col].tolist(), dtype="Int64")
    frame.insert(3, "road", [_road_names(cs.network, c) for c in cands])
    frame = frame.rename(columns=result_names(columns, cs.network.units, cs.cost_unit))
    if not geometry:
        return frame
    import geopandas as gpd

    net = cs.network
    geoms = line_geometries(net)
    if geoms is None or net.crs is None:
        from networks.export import NoGeometryError

        raise NoGeometryError(
            f"network '{net.name}' has no link geometry or no known CRS; ask for geometry=False"
        )
    shapes = [None if c is None else candidate_geometry(geoms, c.links) for c in cands]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(shapes, crs=net.crs), crs=net.crs)


def _road_names(net: Network, c: Any) -> str | None:
    """The distinct names (else refs) of a candidate's links, ``; ``-separated; None: none."""
    if c is None:
        return None
    found: list[str] = []
    for key in ("ref", "name"):
        vals = net.extra.get(key)
        if vals is None or len(vals) != net.num_links:
            continue
        for a in np.asarray(c.links, dtype=np.int64).tolist():
            t = text_or_null(vals[a])
            if t is not None and t not in found:
                found.append(t)
    return "; ".join(found) or None


def _float(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f
