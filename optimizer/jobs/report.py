"""The engineer's view of a plan run: a GeoPackage, a map, convergence plots, an HTML report.

:func:`write_report` writes, beside ``plan.json`` and ``plan.csv``:

``network.gpkg``
    Layers ``links`` (every link that exists before or after the plan, with its
    attributes, flow, volume/capacity and link cost before and after), ``upgrades`` (the
    chosen candidates with their geometry), ``zones`` and ``gateways`` (OpenStreetMap
    studies) and ``run`` (a table of settings and the package version). Only for networks
    with geometry and a known CRS.
``map.png``
    Links coloured by volume/capacity after the plan, line width by flow, the chosen
    upgrades drawn over them, zones and gateways marked.
``convergence.png``
    The search's incumbent and bound over time and the equilibrium gap of the final
    assignment per iteration, when either has more than one point.
``report.html``
    One self-contained page (images as data URIs, inline CSS, no external resources)
    with the summary, the upgrades, the before/after metrics, the greedy baseline, the
    settings and the pictures.

Every file is written atomically (temporary file, then rename) and records the run's
settings and the package version: a ``run`` layer in the GeoPackage, PNG text chunks
(``Software``, ``roadopt-settings``) in the pictures, a table and a JSON block in the page.
Plots are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas: no
display is needed and pyplot's global state is never touched.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from networks._io import atomic_path, atomic_write_text
from networks.network import Network

from .documents import jsonable, plan_document, version

__all__ = [
    "CONVERGENCE_FILE",
    "GPKG_FILE",
    "HTML_FILE",
    "MAP_FILE",
    "plan_links_frame",
    "plot_convergence",
    "plot_plan_map",
    "remove_report_files",
    "render_html",
    "upgrades_frame",
    "write_geopackage",
    "write_report",
]

log = logging.getLogger(__name__)

GPKG_FILE = "network.gpkg"
MAP_FILE = "map.png"
CONVERGENCE_FILE = "convergence.png"
HTML_FILE = "report.html"

#: Colour of the chosen upgrades on the map (outside the volume/capacity colour map).
UPGRADE_COLOR = "#1f4fd6"
GATEWAY_COLOR = "#1b8a3a"
#: Resolution of the PNG files (dots per inch).
DPI = 110

# Human names of the plan metrics, and whether higher values are better.
_METRICS = {
    "tstt": ("total system travel time (TSTT)", False),
    "internal": ("internal connectivity (mean zone-to-zone time)", False),
    "external": ("external connectivity (mean time to the nearest gateway)", False),
    "resilience": ("resilience (share of activity with two disjoint routes out)", True),
    "unreachable": ("unreachable share", False),
    "objective_beckmann": ("Beckmann objective", False),
    "relative_gap": ("equilibrium relative gap", False),
}


# ---------------------------------------------------------------------- link states
@dataclass(frozen=True, eq=False)
class _LinkStates:
    """Every link of the extended network before and after the plan."""

    network: Network  # extended network, attributes before
    after: Network  # extended network, attributes after
    open_before: np.ndarray
    open_after: np.ndarray
    flow_before: np.ndarray
    flow_after: np.ndarray
    cost_before: np.ndarray
    cost_after: np.ndarray
    built: np.ndarray
    upgraded: np.ndarray
    upgrade_ids: list[str]
    road_class_after: np.ndarray


def _result_array(result: Any, name: str, m: int) -> np.ndarray:
    arr = None if result is None else getattr(result, name, None)
    if arr is None or np.shape(arr) != (m,):
        return np.full(m, np.nan)
    return np.asarray(arr, dtype=np.float64)


def _link_states(run: Any) -> _LinkStates:
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
    return _LinkStates(
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


def _geometries(network: Network) -> list | None:
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


def _vc(flow: np.ndarray, capacity: np.ndarray) -> np.ndarray:
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


def plan_links_frame(run: Any, *, geometry: bool = True) -> Any:
    """Every link that exists before or after the plan, with its state at both ends.

    Parameters
    ----------
    run
        A :class:`optimizer.pipeline.PlanRun`.
    geometry
        Return a GeoDataFrame in the network's CRS (requires link geometry and a CRS);
        otherwise a DataFrame.

    Returns
    -------
    DataFrame or GeoDataFrame
        ``link_id``, ``init_node``, ``term_node`` (external ids), ``road_class`` and
        ``road_class_after``, ``length`` (the network's length unit), ``lanes``,
        ``capacity`` and ``free_flow_time`` before and after, ``flow``, ``vc``
        (volume/capacity) and ``cost`` (generalized link cost, the network's time unit)
        before and after (NaN where the link does not exist), ``built`` (a new link the
        plan builds), ``upgraded`` (an existing link the plan changes), ``upgrade_id``
        (the chosen candidates acting on the link, ``;``-separated), and for
        OpenStreetMap networks ``name``, ``ref`` and ``osm_way_ids`` (``;``-separated).
    """
    from networks.export import NoGeometryError, links_frame

    s = _link_states(run)
    net, after = s.network, s.after
    keep = s.open_before | s.open_after

    def when(arr: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.where(mask, arr, np.nan)

    ob, oa = s.open_before, s.open_after
    cols: dict[str, Any] = {
        "road_class": np.asarray(net.road_class, dtype=object),
        "road_class_after": s.road_class_after,
        "length": net.length,
        "lanes_before": when(net.lanes, ob),
        "lanes_after": when(after.lanes, oa),
        "capacity_before": when(net.capacity, ob),
        "capacity_after": when(after.capacity, oa),
        "free_flow_time_before": when(net.free_flow_time, ob),
        "free_flow_time_after": when(after.free_flow_time, oa),
        "flow_before": when(s.flow_before, ob),
        "flow_after": when(s.flow_after, oa),
        "vc_before": when(_vc(s.flow_before, net.capacity), ob),
        "vc_after": when(_vc(s.flow_after, after.capacity), oa),
        "cost_before": when(s.cost_before, ob),
        "cost_after": when(s.cost_after, oa),
        "built": s.built,
        "upgraded": s.upgraded,
        "upgrade_id": np.asarray(s.upgrade_ids, dtype=object),
    }
    for key in ("name", "ref"):
        vals = net.extra.get(key)
        if vals is not None and len(vals) == net.num_links:
            cols[key] = np.asarray(["" if v is None else str(v) for v in vals], dtype=object)
    ways = _way_ids(net)
    if ways is not None:
        cols["osm_way_ids"] = np.asarray(ways, dtype=object)
    frame = links_frame(net, cols, geometry=False)
    if not geometry:
        return frame[keep].reset_index(drop=True)
    import geopandas as gpd

    geoms = _geometries(net)
    if geoms is None or net.crs is None:
        raise NoGeometryError(
            f"network '{net.name}' has no link geometry or no known CRS; ask for geometry=False"
        )
    gdf = gpd.GeoDataFrame(frame, geometry=geoms, crs=net.crs)
    return gdf[keep].reset_index(drop=True)


def _candidate_geometry(geoms: Sequence, links: np.ndarray) -> Any:
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
        A :class:`optimizer.pipeline.PlanRun`.
    geometry
        Return a GeoDataFrame (MultiLineStrings in the network's CRS).

    Returns
    -------
    DataFrame or GeoDataFrame
        ``id``, ``kind``, ``label``, ``cost`` (the candidates' cost unit), ``road_class``
        (after the upgrade), ``link_ids`` (external ids, ``;``-separated), ``init_node``,
        ``term_node``, ``tstt_saved`` (the network's time unit x flow unit),
        ``objective_gain``, ``annual_benefit`` and ``benefit_cost_ratio``.
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
                "benefit_cost_ratio": _float(d.get("benefit_cost_ratio")),
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
        "benefit_cost_ratio",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("init_node", "term_node"):
        frame[col] = pd.array(frame[col].tolist(), dtype="Int64")
    if not geometry:
        return frame
    import geopandas as gpd

    net = cs.network
    geoms = _geometries(net)
    if geoms is None or net.crs is None:
        from networks.export import NoGeometryError

        raise NoGeometryError(
            f"network '{net.name}' has no link geometry or no known CRS; ask for geometry=False"
        )
    shapes = [None if c is None else _candidate_geometry(geoms, c.links) for c in cands]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(shapes, crs=net.crs), crs=net.crs)


def _float(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def _run_rows(run: Any, settings: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Key / JSON value pairs describing the run (the GeoPackage ``run`` table)."""
    plan, net = run.plan, run.candidates.network
    items: dict[str, Any] = {
        "roadopt_version": version(),
        "settings": settings or {},
        "search_settings": plan.settings,
        "study": run.study.meta,
        "source": run.study.source,
        "network": run.study.network.name,
        "crs": net.crs,
        "units": net.units.as_dict(),
        "cost_unit": run.candidates.cost_unit,
        "objective_name": plan.objective_name,
        "objective_before": plan.objective_before,
        "objective": plan.objective,
        "status": str(plan.status),
        "gap": plan.gap,
        "cost": plan.cost,
        "budget": plan.budget,
        "selected": list(plan.selected),
        "columns": {
            "length": net.units.length,
            "capacity_*, flow_*": net.units.flow,
            "free_flow_time_*, cost_*": net.units.time + " (cost: generalized link cost)",
            "vc_*": "volume / capacity",
            "upgrades.cost": run.candidates.cost_unit,
        },
    }
    return [(k, json.dumps(jsonable(v), ensure_ascii=False)) for k, v in items.items()]


def _model_layers(run: Any) -> dict[str, Any]:
    """Zones and gateways of the study as GeoDataFrames (when it has them)."""
    model = getattr(run.study, "model", None)
    out: dict[str, Any] = {}
    if model is None:
        return out
    zones = getattr(model, "zones", None)
    if zones is not None and len(zones.zone_ids):
        gdf = zones.to_geodataframe()
        z = len(gdf)
        origins = getattr(model, "origins", None)
        dests = getattr(model, "destinations", None)
        if origins is not None and len(origins) >= z:
            gdf["trips_from"] = np.asarray(origins[:z], dtype=np.float64)
        if dests is not None and len(dests) >= z:
            gdf["trips_to"] = np.asarray(dests[:z], dtype=np.float64)
        out["zones"] = gdf
    gws = getattr(model, "gateways", None)
    if gws is not None and len(gws.node_ids):
        gdf = gws.to_geodataframe()
        gdf.insert(0, "gateway", np.arange(1, len(gdf) + 1))
        out["gateways"] = gdf
    return out


def write_geopackage(
    run: Any, path: str | Path, *, settings: Mapping[str, Any] | None = None
) -> bool:
    """Write ``network.gpkg``: layers links, upgrades, zones, gateways and run, atomically.

    Parameters
    ----------
    run
        A :class:`optimizer.pipeline.PlanRun`.
    path
        The GeoPackage to write; it appears only once every layer is in it.
    settings
        The run's settings (recorded in the ``run`` table with the package version).

    Returns
    -------
    bool
        False (and a log line) when the network has no geometry or no known CRS: then
        nothing is written.
    """
    import pandas as pd
    import pyogrio

    net = run.candidates.network
    if net.crs is None or _geometries(net) is None:
        why = "no node coordinates" if not net.has_coordinates else "no known CRS"
        log.info(
            "no %s: network '%s' has %s (give its CRS, e.g. --crs EPSG:xxxx, for a GeoPackage)",
            GPKG_FILE,
            net.name,
            why,
        )
        return False
    layers: dict[str, Any] = {
        "links": plan_links_frame(run),
        "upgrades": upgrades_frame(run),
    }
    for name, gdf in _model_layers(run).items():
        layers[name] = gdf.to_crs(net.crs) if gdf.crs is not None else gdf.set_crs(net.crs)
    run_table = pd.DataFrame(_run_rows(run, settings), columns=["key", "value"])
    with atomic_path(path) as tmp:
        tmp.unlink()  # GDAL creates the file
        for name, gdf in layers.items():
            kind = "MultiLineString" if name == "upgrades" else None
            pyogrio.write_dataframe(
                gdf, tmp, layer=name, driver="GPKG", geometry_type=kind, promote_to_multi=False
            )
        pyogrio.write_dataframe(run_table, tmp, layer="run", driver="GPKG")
    return True


# ---------------------------------------------------------------------- pictures
def _new_figure(figsize: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png_bytes(fig: Any, run: Any, settings: Mapping[str, Any] | None, title: str) -> bytes:
    """The figure as PNG bytes with the version and settings in PNG text chunks."""
    meta = {
        "Title": title,
        "Software": f"roadopt {version()}",
        "roadopt-settings": json.dumps(jsonable(settings or {}), sort_keys=True),
        "roadopt-search-settings": json.dumps(jsonable(run.plan.settings), sort_keys=True),
    }
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata=meta)
    return buf.getvalue()


def _metric_crs(crs: str | None) -> bool:
    """Whether the CRS is projected with metre axes (so that km labels are honest)."""
    if crs is None:
        return False
    try:
        from pyproj import CRS

        c = CRS.from_user_input(crs)
    except Exception:
        return False
    return bool(c.is_projected) and all(
        (a.unit_name or "").lower() in ("metre", "meter") for a in c.axis_info
    )


def _lines_xy(geoms: Sequence, scale: float) -> list[np.ndarray]:
    import shapely

    coords, index = shapely.get_coordinates(np.asarray(geoms, dtype=object), return_index=True)
    splits = np.flatnonzero(np.diff(index)) + 1
    return [c / scale for c in np.split(coords, splits)]


def _nice_length(span: float) -> float:
    """A round length near a fifth of ``span`` (1, 2 or 5 times a power of ten)."""
    target = max(span / 5, 1e-12)
    p = 10 ** math.floor(math.log10(target))
    return max(v * p for v in (1, 2, 5) if v * p <= target) if target >= p else p


def _width(flow: np.ndarray, fmax: float) -> np.ndarray:
    return (
        0.6 + 5.4 * np.sqrt(np.clip(flow, 0, None) / fmax) if fmax > 0 else np.full_like(flow, 1.0)
    )


def plot_plan_map(
    run: Any, *, figsize: tuple[float, float] | None = None, label_upgrades: bool = True
) -> Any:
    """The network coloured by volume/capacity after the plan, with the chosen upgrades.

    Roads are drawn once per geometry (the two directions of a two-way road together):
    colour by the higher volume/capacity of the two, width by their summed flow. Chosen
    upgrades are drawn over them in :data:`UPGRADE_COLOR` and labelled with their ids;
    unchosen candidate new roads are dotted. Zones (boundary and centre, sized by
    activity) and gateways are marked. Axes are in km where the CRS is in metres.

    Parameters
    ----------
    run
        A :class:`optimizer.pipeline.PlanRun` whose network has coordinates.
    figsize
        Inches; default: 9 high, as wide as the area's shape asks.
    label_upgrades
        Write each chosen upgrade's id beside it.

    Returns
    -------
    matplotlib.figure.Figure
        Drawn on the Agg canvas (``fig.savefig(...)``).

    Raises
    ------
    networks.export.NoGeometryError
        When the links have no geometry and the nodes no coordinates.
    """
    import matplotlib as mpl
    import shapely
    from matplotlib.collections import LineCollection
    from matplotlib.colors import ListedColormap, Normalize
    from matplotlib.lines import Line2D
    from matplotlib.patheffects import withStroke

    from networks.export import NoGeometryError

    s = _link_states(run)
    net, plan, cs = s.network, run.plan, run.candidates
    geoms = _geometries(net)
    if geoms is None:
        raise NoGeometryError(f"network '{net.name}' has no coordinates: nothing to draw")
    metric = _metric_crs(net.crs)
    scale = 1000.0 if metric else 1.0
    flow_unit = net.units.flow

    # one drawn road per geometry: two directions together
    keys = [shapely.normalize(g).wkb for g in geoms]
    group: dict[bytes, int] = {}
    gid = np.empty(net.num_links, dtype=np.int64)
    for a, key in enumerate(keys):
        gid[a] = group.setdefault(key, len(group))
    ng = len(group)
    rep = np.full(ng, -1, dtype=np.int64)
    for a in range(net.num_links - 1, -1, -1):
        rep[gid[a]] = a
    oa = s.open_after
    flow = np.where(oa, np.nan_to_num(s.flow_after), 0.0)
    vc_link = np.where(oa, np.nan_to_num(_vc(s.flow_after, s.after.capacity)), -np.inf)
    gflow = np.bincount(gid, weights=flow, minlength=ng)
    gvc = np.full(ng, -np.inf)
    np.maximum.at(gvc, gid, vc_link)
    gopen = np.bincount(gid, weights=oa.astype(float), minlength=ng) > 0
    gvc = np.where(np.isfinite(gvc), gvc, 0.0)

    if figsize is None:
        xy = np.asarray([shapely.bounds(g) for g in geoms if g is not None])
        w = float(xy[:, 2].max() - xy[:, 0].min()) if len(xy) else 1.0
        h = float(xy[:, 3].max() - xy[:, 1].min()) if len(xy) else 1.0
        figsize = (min(max(7.5 * w / max(h, 1e-9) + 2.2, 8.0), 15.0), 9.0)
    fig = _new_figure(figsize)
    ax = fig.add_subplot()
    cmap = ListedColormap(mpl.colormaps["YlOrRd"](np.linspace(0.2, 1.0, 256)), name="vc")
    vmax_data = float(gvc[gopen].max()) if gopen.any() else 0.0
    # the colour scale ends at a round v/c of at least 0.5 (so that a quiet town is not
    # painted red) and at most 2 (beyond: the colour bar's arrow)
    vmax = min(max(0.5, math.ceil(vmax_data / 0.25) * 0.25), 2.0)
    norm = Normalize(0.0, vmax)
    fmax = float(gflow[gopen].max()) if gopen.any() else 0.0

    # roads, least loaded first so that congestion is drawn on top; no flow: grey
    order = np.flatnonzero(gopen)
    order = order[np.lexsort((gflow[order], gvc[order]))]
    lines = _lines_xy([geoms[rep[g]] for g in order], scale)
    colors = cmap(norm(gvc[order]))
    colors[gflow[order] <= 0] = (0.72, 0.72, 0.72, 1.0)
    roads = LineCollection(
        lines,
        colors=colors,
        linewidths=_width(gflow[order], fmax),
        capstyle="round",
        joinstyle="round",
        zorder=2,
    )
    ax.add_collection(roads)

    # candidate new roads left unbuilt
    unbuilt = np.flatnonzero(~s.open_before & ~s.open_after)
    if unbuilt.size:
        ug = np.unique(gid[unbuilt])
        ax.add_collection(
            LineCollection(
                _lines_xy([geoms[rep[g]] for g in ug], scale),
                colors="0.45",
                linewidths=1.0,
                linestyles=(0, (1.5, 1.5)),
                zorder=1.5,
            )
        )

    # zones and gateways
    handles: list[Any] = []
    model = getattr(run.study, "model", None)
    zones = getattr(model, "zones", None) if model is not None else None
    halo = [withStroke(linewidth=2.5, foreground="white")]
    if zones is not None and len(zones.zone_ids):
        polys = [g for g in (zones.geometry or ()) if g is not None]
        if polys:
            # shared edges once: the union of all boundaries, merged into long lines
            edges = shapely.line_merge(shapely.union_all(shapely.boundary(polys)))
            rings = _lines_xy(list(shapely.get_parts(edges)), scale)
            ax.add_collection(
                LineCollection(rings, colors="0.6", linewidths=0.8, linestyles="--", zorder=1)
            )
            handles.append(Line2D([], [], color="0.6", lw=0.8, ls="--", label="zone boundary"))
        act = np.nan_to_num(np.asarray(zones.activity, dtype=np.float64))
        amax = act.max() if act.size and act.max() > 0 else 1.0
        sizes = 25 + 275 * np.sqrt(act / amax)
        zx, zy = np.asarray(zones.x) / scale, np.asarray(zones.y) / scale
        ax.scatter(zx, zy, s=sizes, c="#7a5195", alpha=0.35, edgecolors="#7a5195", zorder=3)
        for zid, x, y in zip(zones.zone_ids, zx, zy, strict=True):
            ax.annotate(
                f"Z{int(zid)}",
                (x, y),
                xytext=(0, 0),
                textcoords="offset points",
                ha="center",
                va="center",
                fontsize=8,
                color="#4b2a63",
                path_effects=halo,
                zorder=6,
            )
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                ms=9,
                color="#7a5195",
                alpha=0.5,
                label="zone centre (size: activity"
                + (f", {zones.activity_unit})" if getattr(zones, "activity_unit", "") else ")"),
            )
        )
    gws = getattr(model, "gateways", None) if model is not None else None
    if gws is not None and len(gws.node_ids):
        gx, gy = np.asarray(gws.x) / scale, np.asarray(gws.y) / scale
        ax.scatter(gx, gy, s=110, marker="^", c=GATEWAY_COLOR, edgecolors="black", zorder=7)
        for k, (x, y) in enumerate(zip(gx, gy, strict=True)):
            ax.annotate(
                f"G{k + 1}",
                (x, y),
                xytext=(7, -11),
                textcoords="offset points",
                fontsize=8,
                fontweight="bold",
                color=GATEWAY_COLOR,
                path_effects=halo,
                zorder=7,
            )
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="^",
                ms=9,
                mfc=GATEWAY_COLOR,
                mec="black",
                label="gateway (external zone)",
            )
        )

    # chosen upgrades over everything
    chosen = [cs.candidates[k] for k in np.flatnonzero(np.asarray(plan.plan, dtype=bool))]
    if chosen:
        handles.insert(
            0, Line2D([], [], color=UPGRADE_COLOR, lw=4, label="chosen upgrade (its id)")
        )
    if unbuilt.size:
        handles.insert(
            1 if chosen else 0,
            Line2D([], [], color="0.45", lw=1.0, ls=(0, (1.5, 1.5)), label="candidate not chosen"),
        )
    cx = float(np.mean([np.mean(ln[:, 0]) for ln in lines])) if lines else 0.0
    for i, c in enumerate(chosen):
        shape = _candidate_geometry(geoms, c.links)
        if shape is None:
            continue
        parts = _lines_xy(list(shapely.get_parts(shape)), scale)
        ax.add_collection(
            LineCollection(parts, colors="white", linewidths=8, capstyle="round", zorder=4)
        )
        ax.add_collection(
            LineCollection(parts, colors=UPGRADE_COLOR, linewidths=4.5, capstyle="round", zorder=5)
        )
        if label_upgrades:
            longest = max(shapely.get_parts(shape), key=lambda g: g.length)
            pt = longest.interpolate(0.5, normalized=True)
            x, y = pt.x / scale, pt.y / scale
            # labels lean towards the middle of the map (so they stay inside it)
            dx = -30 if x > cx else 30
            dy = 22 if i % 2 == 0 else -26
            ax.annotate(
                c.id,
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                ha="left" if dx > 0 else "right",
                va="center",
                fontsize=8,
                color=UPGRADE_COLOR,
                fontweight="bold",
                bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": UPGRADE_COLOR, "lw": 0.8},
                arrowprops={"arrowstyle": "-", "color": UPGRADE_COLOR, "lw": 0.9},
                zorder=8,
            )

    # extent, axes, scale bar
    allxy = np.concatenate(lines) if lines else np.zeros((1, 2))
    x0, y0 = allxy.min(axis=0)
    x1, y1 = allxy.max(axis=0)
    pad = 0.04 * max(x1 - x0, y1 - y0, 1e-9)
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect("equal")
    ax.grid(True, color="0.92", lw=0.6, zorder=0)
    ax.tick_params(labelsize=8)
    if metric:
        ax.set_xlabel(f"easting (km, {net.crs})", fontsize=9)
        ax.set_ylabel(f"northing (km, {net.crs})", fontsize=9)
        _scale_bar(ax, x1 - x0, "km")
    else:
        where = net.crs or "unknown CRS"
        ax.set_xlabel(f"x ({where})", fontsize=9)
        ax.set_ylabel(f"y ({where})", fontsize=9)

    # colour bar and legend
    from matplotlib.cm import ScalarMappable

    sm = ScalarMappable(norm=norm, cmap=cmap)
    cb = fig.colorbar(
        sm,
        ax=ax,
        shrink=0.55,
        pad=0.01,
        extend="max" if vmax_data > vmax else "neither",
        location="right",
    )
    cb.set_label("volume / capacity after the plan", fontsize=9)
    cb.ax.tick_params(labelsize=8)
    if (gopen & (gflow <= 0)).any():
        handles.append(Line2D([], [], color="0.72", lw=0.6, label="no flow"))
    widths = []
    if fmax > 0:
        widths.append(Line2D([], [], color="none", label="width: flow, both directions"))
        for f in _flow_samples(fmax):
            w = float(_width(np.array([f]), fmax)[0])
            widths.append(Line2D([], [], color="0.35", lw=w, label=f"{_fmt(f, 4)} {flow_unit}"))
    # legend columns (filled top to bottom): the features in two, the widths in a third
    rows = max(math.ceil(len(handles) / 2), len(widths), 1)
    blank = Line2D([], [], color="none", label=" ")
    cols = [handles[:rows], handles[rows:], widths]
    cols = [c for c in cols if c]
    ordered = [h for c in cols for h in (c + [blank] * (rows - len(c)))]
    if handles or widths:
        fig.legend(
            handles=ordered,
            loc="outside lower center",
            ncols=len(cols),
            fontsize=8,
            frameon=False,
        )
    ax.set_title(_map_title(run), fontsize=11, loc="left")
    fig.suptitle(
        f"roadopt {version()} · {run.study.source or net.name}",
        x=0.995,
        ha="right",
        fontsize=7,
        color="0.45",
    )
    return fig


def _flow_samples(fmax: float) -> list[float]:
    top = float(f"{fmax:.1g}")
    if top > fmax:
        top = float(f"{fmax:.2g}")
    return sorted({top, float(f"{top / 4:.1g}"), float(f"{top / 20:.1g}")} - {0.0}, reverse=True)


def _scale_bar(ax: Any, span: float, unit: str) -> None:
    from matplotlib.font_manager import FontProperties
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    length = _nice_length(span)
    label = f"{_fmt(length * 1000, 3)} m" if length < 1 else f"{_fmt(length, 3)} {unit}"
    bar = AnchoredSizeBar(
        ax.transData,
        length,
        label,
        "lower left",
        pad=0.6,
        sep=4,
        frameon=True,
        size_vertical=span / 250,
        fontproperties=FontProperties(size=8),
    )
    bar.patch.set_alpha(0.85)
    bar.patch.set_edgecolor("0.7")
    ax.add_artist(bar)


def _map_title(run: Any) -> str:
    plan = run.plan
    unit = run.candidates.cost_unit
    change = _pct(plan.objective_before, plan.objective)
    line1 = (
        f"{run.study.network.name}: {plan.objective_name} {_fmt(plan.objective_before)} → "
        f"{_fmt(plan.objective)}" + (f" ({change})" if change else "")
    )
    n = len(plan.selected)
    gap = f", gap {_gap_text(plan.gap)}" if plan.gap is not None else ""
    line2 = (
        f"{n} upgrade{'s' if n != 1 else ''}, cost {_fmt(plan.cost)} of budget "
        f"{_fmt(plan.budget)} {unit} · {plan.status}{gap}"
    )
    return f"{line1}\n{line2}"


def _history_worth_seeing(run: Any) -> tuple[list[dict], Any]:
    plan = run.plan
    search = [h for h in (plan.history or []) if _finite(h.get("incumbent"))]
    search = search if len(search) >= 2 else []
    eq = []
    for label, r in (("with the plan", plan.result), ("no upgrade", plan.result_before)):
        h = getattr(r, "history", None)
        if h is None or len(h) < 2:
            continue
        gap = np.asarray(h.relative_gap, dtype=np.float64)
        if int(np.sum(np.isfinite(gap) & (gap > 0))) >= 2:
            eq.append((label, np.asarray(h.iteration), gap, r))
    return search, eq


def _finite(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def plot_convergence(run: Any, *, figsize: tuple[float, float] = (11.0, 4.2)) -> Any:
    """The search's incumbent and bound over time, and the equilibrium gap per iteration.

    Left: incumbent (best plan found) and proven lower bound of the search
    (``plan.history``) against seconds. Right: the relative gap of the final equilibrium
    assignments (``plan.result.history``, and the no-upgrade one), log scale, with the
    target. A panel is drawn only when its history has two points or more.

    Returns
    -------
    matplotlib.figure.Figure or None
        None when neither history is worth a picture.
    """
    search, eq = _history_worth_seeing(run)
    if not search and not eq:
        return None
    plan = run.plan
    fig = _new_figure(figsize)
    n = int(bool(search)) + int(bool(eq))
    axes = fig.subplots(1, n, squeeze=False)[0]
    i = 0
    if search:
        ax = axes[i]
        i += 1
        t = np.array([float(h["seconds"]) for h in search])
        inc = np.array([float(h["incumbent"]) for h in search])
        bnd = np.array([float(h["bound"]) if _finite(h.get("bound")) else np.nan for h in search])
        ax.step(t, inc, where="post", color="#c0392b", lw=2, label="incumbent (best plan)")
        if np.isfinite(bnd).any():
            ax.step(t, bnd, where="post", color="#2c7fb8", lw=2, label="lower bound")
        ax.axhline(plan.objective_before, color="0.6", ls=":", lw=1, label="no upgrade")
        ax.set_xlabel("search time (s)")
        ax.set_ylabel(
            "TSTT" if plan.objective_name == "tstt" else f"{plan.objective_name} objective"
        )
        gap = f", final gap {_gap_text(plan.gap)}" if plan.gap is not None else ""
        ax.set_title(f"search ({plan.settings.get('method', '')}){gap}", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(True, color="0.9")
    if eq:
        ax = axes[i]
        for (label, it, gap, _r), color in zip(eq, ("#c0392b", "0.5"), strict=False):
            ok = np.isfinite(gap) & (gap > 0)
            ax.semilogy(it[ok], gap[ok], color=color, lw=1.8, marker=".", ms=4, label=label)
        target = getattr(eq[0][3], "rgap_target", None)
        if _finite(target) and float(target) > 0:
            ax.axhline(float(target), color="black", ls="--", lw=1, label="target")
        ax.set_xlabel("iteration")
        ax.set_ylabel("relative gap (TSTT − SPTT) / TSTT")
        ax.set_title(f"final equilibrium ({eq[0][3].method})", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(True, which="both", color="0.9")
    fig.suptitle(f"{run.study.network.name}: convergence", fontsize=11)
    return fig


# ---------------------------------------------------------------------- HTML
def _fmt(v: Any, digits: int = 6) -> str:
    """A number for people: thousands separators, ``digits`` significant digits."""
    if v is None:
        return "–"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(f):
        return "–"
    if f == 0:
        return "0"
    a = abs(f)
    if a >= 1e12 or a < 1e-4:
        return f"{f:.{max(digits - 1, 1)}e}"
    dec = max(0, digits - 1 - math.floor(math.log10(a)))
    text = f"{f:,.{dec}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _gap_text(gap: Any) -> str:
    """A proven optimality gap in percent (below 1e-9: 0 %)."""
    if not _finite(gap):
        return "–"
    g = float(gap)
    return "0 %" if g < 1e-9 else f"{100 * g:.2g} %"


def _pct(before: Any, after: Any) -> str:
    if not (_finite(before) and _finite(after)) or float(before) == 0:
        return ""
    return f"{100 * (float(after) - float(before)) / abs(float(before)):+.1f} %"


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _table(
    head: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    cls: str = "",
    numeric: Sequence[int] = (),
) -> str:
    """An HTML table; every cell is escaped (cells are plain text).

    ``numeric``: positions of right-aligned columns.
    """
    c = f' class="{_e(cls)}"' if cls else ""
    num = set(numeric)

    def cell(tag: str, i: int, v: Any) -> str:
        a = ' class="n"' if i in num else ""
        return f"<{tag}{a}>{_e(v)}</{tag}>"

    out = [f"<table{c}><thead><tr>"]
    out += [cell("th", i, h) for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _settings_rows(d: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for k, v in d.items():
        if isinstance(v, (dict, list, tuple)):
            text = json.dumps(jsonable(v), ensure_ascii=False)
        elif isinstance(v, float):
            text = repr(v)
        else:
            text = "–" if v is None else str(v)
        rows.append((str(k), text))
    return rows


_CSS = """
:root{--ink:#1d2330;--muted:#5b6372;--line:#d9dde4;--accent:#1f4fd6;--good:#1b7f3b;--bad:#b3261e}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;
color:var(--ink);margin:0;background:#f6f7f9;line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:32px 0 10px;
border-bottom:2px solid var(--line);padding-bottom:4px}
.sub{color:var(--muted);margin:0 0 16px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:10px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card .k{color:var(--muted);font-size:.82em}.card .v{font-size:1.15em;font-weight:600}
.card .d{font-size:.85em}.good{color:var(--good)}.bad{color:var(--bad)}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:6px 0}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}td.n,th.n{text-align:right}
table.kv td:first-child{white-space:nowrap;color:var(--muted);width:1%}
td.n{font-variant-numeric:tabular-nums;white-space:nowrap}
figure{margin:10px 0}figure img{max-width:100%;height:auto;border:1px solid var(--line)}
figcaption{color:var(--muted);font-size:.85em}
.msg{background:#fff6e0;border:1px solid #f0d48a;border-radius:6px;padding:8px 12px}
footer{color:var(--muted);font-size:.8em;margin-top:36px}
code{font-size:.92em}
@media print{body{background:#fff}main{padding:0}}
"""


def _figure_html(id_: str, png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img id="{_e(id_)}" alt="{_e(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _upgrades_html(plan: Any, unit: str) -> str:
    if not plan.selected_details:
        msg = "No upgrade was chosen" + (f": {plan.message}" if plan.message else ".")
        return f"<p>{_e(msg)}</p>"
    rows = [
        (
            i + 1,
            d["id"],
            d.get("kind", ""),
            d.get("label", ""),
            _fmt(d.get("cost")),
            _fmt(d.get("tstt_saved")),
            _fmt(d.get("objective_gain"), 4),
            _fmt(d.get("annual_benefit")),
            _fmt(d.get("benefit_cost_ratio"), 3),
        )
        for i, d in enumerate(plan.selected_details)
    ]
    head = (
        "#",
        "id",
        "kind",
        "description",
        f"cost ({unit})",
        "TSTT saved",
        "objective gain",
        "annual benefit",
        "benefit/cost",
    )
    return _table(head, rows, cls="upgrades", numeric=(0, 4, 5, 6, 7, 8)) + (
        '<p class="sub">TSTT saved, objective gain and benefit of an upgrade: what the plan '
        "loses without it (leave-one-out).</p>"
    )


def _metrics_html(b: Mapping[str, Any], a: Mapping[str, Any]) -> str:
    keys = [k for k in _METRICS if k in a or k in b]
    keys += [k for k in (*a, *b) if k not in _METRICS and k not in keys]
    rows = [
        (_METRICS.get(k, (k, False))[0], _fmt(b.get(k)), _fmt(a.get(k)), _pct(b.get(k), a.get(k)))
        for k in keys
    ]
    return _table(("metric", "before", "after", "change"), rows, numeric=(1, 2, 3))


def _baseline_html(plan: Any, unit: str) -> str:
    base = plan.baseline
    if not base:
        return "<p>No baseline was computed for this run.</p>"
    rows = [
        ("method", "optimized", base.get("method", "greedy")),
        (plan.objective_name, _fmt(plan.objective), _fmt(base.get("objective"))),
        (f"cost ({unit})", _fmt(plan.cost), _fmt(base.get("cost"))),
        (
            "upgrades",
            ", ".join(plan.selected) or "none",
            ", ".join(base.get("selected", [])) or "none",
        ),
        ("feasible", "yes", _fmt(bool(base.get("feasible", True)))),
    ]
    out = _table(("", "this plan", "baseline"), rows, cls="kv")
    g = base.get("objective")
    if _finite(g) and float(g) != 0:
        rel = (float(g) - plan.objective) / abs(float(g))
        if abs(rel) < 1e-9:
            text = "The optimized plan's objective equals the greedy baseline's."
        else:
            word = "lower (better)" if rel > 0 else "higher (worse)"
            text = (
                f"The optimized plan's objective is {100 * abs(rel):.2g} % {word} than the "
                "greedy baseline's."
            )
        out += f"<p>{_e(text)}</p>"
    return out


def _settings_html(run: Any, settings: Mapping[str, Any] | None) -> str:
    out = [f"<p>roadopt <code>{_e(version())}</code></p>"]
    for name, d in (
        ("Run", settings or {}),
        ("Search", run.plan.settings),
        ("Study", run.study.meta),
    ):
        if d:
            out.append(f"<h3>{_e(name)}</h3>")
            out.append(_table(("setting", "value"), _settings_rows(d), cls="kv"))
    return "".join(out)


def render_html(
    run: Any,
    *,
    settings: Mapping[str, Any] | None = None,
    images: Mapping[str, bytes] | None = None,
    files: Sequence[str] = (),
) -> str:
    """The report page: one self-contained HTML document.

    Parameters
    ----------
    run
        A :class:`optimizer.pipeline.PlanRun`.
    settings
        The run's settings, shown and embedded with the version.
    images
        PNG bytes by name (``"map"``, ``"convergence"``), embedded as data URIs.
    files
        Names of the run's other files, listed in the footer.

    Returns
    -------
    str
        HTML with inline CSS and images only: it loads nothing (a Content-Security-Policy
        forbids it) and opens offline. All text is escaped.
    """
    plan, cs, study = run.plan, run.candidates, run.study
    net = study.network
    images = dict(images or {})
    unit = cs.cost_unit
    tunit = net.units.time
    b, a = plan.metrics_before, plan.metrics_after
    doc = plan_document(run, settings=settings)
    title = f"roadopt plan: {net.name}"

    def card(key: str, value: str, delta: str = "", good: bool | None = None) -> str:
        cls = "" if good is None else (" good" if good else " bad")
        d = f'<div class="d{cls}">{_e(delta)}</div>' if delta else ""
        return (
            f'<div class="card"><div class="k">{_e(key)}</div>'
            f'<div class="v">{_e(value)}</div>{d}</div>'
        )

    def better(k: str, before: Any, after: Any) -> bool | None:
        if not (_finite(before) and _finite(after)) or float(before) == float(after):
            return None
        higher = _METRICS.get(k, ("", False))[1]
        return (float(after) > float(before)) == higher

    cards = [
        card(
            f"objective ({plan.objective_name}, lower is better)",
            f"{_fmt(plan.objective_before)} → {_fmt(plan.objective)}",
            _pct(plan.objective_before, plan.objective),
            better("objective", plan.objective_before, plan.objective),
        )
    ]
    for k, label in (
        ("internal", f"internal connectivity ({tunit})"),
        ("external", f"external connectivity ({tunit})"),
        ("resilience", "resilience (share)"),
        ("tstt", f"TSTT ({net.units.flow} × {tunit})"),
    ):
        if k in a or k in b:
            cards.append(
                card(
                    label,
                    f"{_fmt(b.get(k))} → {_fmt(a.get(k))}",
                    _pct(b.get(k), a.get(k)),
                    better(k, b.get(k), a.get(k)),
                )
            )
    share = f"{100 * plan.cost / plan.budget:.0f} % of the budget" if plan.budget else ""
    cards.append(card(f"cost ({unit})", f"{_fmt(plan.cost)} of {_fmt(plan.budget)}", share))
    gap_text = _gap_text(plan.gap)
    cards.append(
        card(
            "status and proven gap",
            f"{plan.status}, gap {gap_text}",
            f"lower bound {_fmt(plan.lower_bound)}" if plan.lower_bound is not None else "",
        )
    )
    app = plan.appraisal or {}
    if app.get("benefit_cost_ratio") is not None:
        cards.append(
            card(
                "benefit / cost ratio",
                _fmt(app.get("benefit_cost_ratio"), 3),
                f"annual benefit {_fmt(app.get('annual_benefit'))}, present value "
                f"{_fmt(app.get('present_value'))}",
            )
        )
    cards.append(
        card(
            "search",
            f"{plan.evaluations} equilibria, {plan.seconds:.1f} s",
            f"{len(cs)} candidates, total cost {_fmt(cs.total_cost)} {unit}",
        )
    )

    head = [f"<h1>{_e(title)}</h1>"]
    head.append(
        f'<p class="sub">{_e(study.source or net.name)} · {net.num_nodes:,} nodes, '
        f"{cs.num_base_links:,} links · units: time {_e(tunit)}, flow "
        f"{_e(net.units.flow)}, length {_e(net.units.length)}, money {_e(unit)}</p>"
    )
    if plan.message:
        head.append(f'<p class="msg">{_e(plan.message)}</p>')
    sections = {
        "summary": ("Summary", f'<div class="cards">{"".join(cards)}</div>'),
        "upgrades": ("Chosen upgrades", _upgrades_html(plan, unit)),
    }
    if "map" in images:
        sections["map"] = (
            "Map",
            _figure_html(
                "img-map",
                images["map"],
                "map of volume/capacity after the plan and the chosen upgrades",
                "Roads coloured by volume/capacity after the plan, width by flow; chosen "
                "upgrades in blue with their ids; zones (Z) and gateways (G).",
            ),
        )
    sections["metrics"] = ("Before and after", _metrics_html(b, a))
    sections["baseline"] = ("Greedy baseline", _baseline_html(plan, unit))
    if "convergence" in images:
        sections["convergence"] = (
            "Convergence",
            _figure_html(
                "img-convergence",
                images["convergence"],
                "convergence of the search and of the final equilibrium",
                "The search's best plan (incumbent) and proven lower bound over time; the "
                "relative gap of the final equilibrium per iteration, where it took more "
                "than one.",
            ),
        )
    sections["settings"] = ("Settings", _settings_html(run, settings))
    body = "".join(
        f'<section id="{_e(key)}"><h2>{_e(name)}</h2>{content}</section>'
        for key, (name, content) in sections.items()
    )
    names = ["plan.json", "plan.csv", *(files or ())]
    footer = (
        f"<footer>Written by roadopt {_e(version())}. Files of this run: "
        f"{_e(', '.join(dict.fromkeys(names)))}.</footer>"
    )
    # the whole plan document, machine-readable; "<" escaped so no tag can end the block
    data = json.dumps(doc, indent=1, ensure_ascii=False).replace("<", "\\u003c")
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="roadopt {_e(version())}">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n"
        f"<body><main>{''.join(head)}{body}{footer}</main>\n"
        f'<script type="application/json" id="roadopt-plan">{data}</script>\n'
        "</body></html>\n"
    )


# ---------------------------------------------------------------------- all files
def remove_report_files(out_dir: str | Path) -> None:
    """Remove the report files of an earlier run from a folder (a run without a report)."""
    for name in (GPKG_FILE, MAP_FILE, CONVERGENCE_FILE, HTML_FILE):
        _remove_stale(Path(out_dir) / name)


def _remove_stale(path: Path) -> None:
    """Remove a report file of an earlier run that this run does not produce."""
    if path.exists():
        log.info("removing %s of an earlier run (this run has none)", path.name)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def write_report(
    run: Any, out_dir: str | Path, *, settings: Mapping[str, Any] | None = None
) -> list[Path]:
    """Write network.gpkg, map.png, convergence.png and report.html, each atomically.

    Files a run cannot have (no GeoPackage without a CRS, no map without coordinates, no
    convergence plot without a history) are not written, and those of an earlier run in
    the folder are removed, so that the folder holds one run.

    Parameters
    ----------
    run
        A :class:`optimizer.pipeline.PlanRun`.
    out_dir
        The output folder (made if missing).
    settings
        The run's settings, recorded in every file with the package version.

    Returns
    -------
    list of Path
        The files written.
    """
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if write_geopackage(run, d / GPKG_FILE, settings=settings):
        written.append(d / GPKG_FILE)
    else:
        _remove_stale(d / GPKG_FILE)
    images: dict[str, bytes] = {}
    net = run.candidates.network
    if _geometries(net) is not None:
        fig = plot_plan_map(run)
        images["map"] = _png_bytes(fig, run, settings, f"roadopt map: {net.name}")
    else:
        log.info("no %s: network '%s' has no node coordinates", MAP_FILE, net.name)
    fig = plot_convergence(run)
    if fig is not None:
        images["convergence"] = _png_bytes(fig, run, settings, f"roadopt convergence: {net.name}")
    for name, fname in (("map", MAP_FILE), ("convergence", CONVERGENCE_FILE)):
        if name in images:
            with atomic_path(d / fname) as tmp:
                tmp.write_bytes(images[name])
            written.append(d / fname)
        else:
            _remove_stale(d / fname)
    page = render_html(
        run, settings=settings, images=images, files=[p.name for p in written] + [HTML_FILE]
    )
    atomic_write_text(d / HTML_FILE, page)
    written.append(d / HTML_FILE)
    return written
