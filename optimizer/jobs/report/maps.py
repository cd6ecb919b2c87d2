"""The pictures: ``map.png`` (the plan on the network) and ``convergence.png``.

Plots are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas: no
display is needed and pyplot's global state is never touched. :func:`png_bytes` writes a
figure as PNG with the run's settings and the package version in PNG text chunks
(``Software``, ``roadopt-settings``, ``roadopt-search-settings``).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..documents import jsonable, version
from ..format import fmt
from .frames import candidate_geometry, line_geometries, link_states, volume_capacity
from .text import finite, gap_text, pct_change

__all__ = [
    "DPI",
    "GATEWAY_COLOR",
    "UPGRADE_COLOR",
    "plot_convergence",
    "plot_plan_map",
    "png_bytes",
]

#: Colour of the chosen upgrades on the map (outside the volume/capacity colour map).
UPGRADE_COLOR = "#1f4fd6"
GATEWAY_COLOR = "#1b8a3a"
#: Resolution of the PNG files (dots per inch).
DPI = 110


def _new_figure(figsize: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Any, run: Any, settings: Mapping[str, Any] | None, title: str) -> bytes:
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
        A :class:`optimizer.jobs.pipeline.PlanRun` whose network has coordinates.
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

    s = link_states(run)
    net, plan, cs = s.network, run.plan, run.candidates
    geoms = line_geometries(net)
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
    vc_link = np.where(oa, np.nan_to_num(volume_capacity(s.flow_after, s.after.capacity)), -np.inf)
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
        labels, beyond = _zone_labels(run, zones)
        for label, out, x, y in zip(labels, beyond, zx, zy, strict=True):
            ax.annotate(
                label,
                (x, y),
                xytext=(0, 0),
                textcoords="offset points",
                ha="center",
                va="center",
                fontsize=7 if "\n" in label else 8,
                color="#b2182b" if out else "#4b2a63",
                fontweight="bold" if out else "normal",
                path_effects=halo,
                zorder=6,
            )
        if any(beyond):
            handles.append(
                Line2D(
                    [],
                    [],
                    ls="",
                    marker="$A$",
                    color="#b2182b",
                    label="settlement beyond "
                    "an access target after the plan (minutes: before → after)",
                )
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

    # access points to the expressways and trunk roads (named junctions)
    access = getattr(model, "access", None) if model is not None else None
    if access is not None and access.num_points:
        top = np.isin(np.asarray(access.kind, dtype=object), ["expressway", "trunk"])
        if top.any():
            idx = net.node_indices(np.asarray(access.node_ids)[top], what="access point")
            ax.scatter(
                net.x[idx] / scale, net.y[idx] / scale, s=70, marker="D", c="black", zorder=7
            )
            done: set[str] = set()
            for i, name in zip(
                idx.tolist(), np.asarray(access.name, dtype=object)[top], strict=True
            ):
                if name and name not in done:
                    done.add(str(name))
                    ax.annotate(
                        str(name),
                        (net.x[i] / scale, net.y[i] / scale),
                        xytext=(8, 6),
                        textcoords="offset points",
                        fontsize=7,
                        path_effects=halo,
                        zorder=7,
                    )
            handles.append(
                Line2D(
                    [],
                    [],
                    ls="",
                    marker="D",
                    color="black",
                    ms=6,
                    label="access point (expressway/trunk junction)",
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
        shape = candidate_geometry(geoms, c.links)
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
            widths.append(Line2D([], [], color="0.35", lw=w, label=f"{fmt(f, 4)} {flow_unit}"))
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


def _zone_labels(run: Any, zones: Any) -> tuple[list[str], list[bool]]:
    """Each zone's map label and whether it stays beyond an access target.

    Named settlements carry their name and, where the plan measured access, the minutes to
    the highest access class before and after the plan (``Harsdorf / 10.2 → 8.1 min``);
    other zones ``Z<id>``.
    """
    names = list(getattr(zones, "names", ()) or ())
    rows = {r["name"]: r for r in getattr(run.plan, "settlements", None) or []}
    labels, beyond = [], []
    for k, zid in enumerate(zones.zone_ids):
        name = names[k] if k < len(names) and names[k] else ""
        row = rows.get(name)
        if not name:
            labels.append(f"Z{int(zid)}")
            beyond.append(False)
            continue
        if row is None:
            labels.append(name)
            beyond.append(False)
            continue
        kinds = [key.removesuffix("_min_after") for key in row if key.endswith("_min_after")]
        kind = kinds[0] if kinds else ""
        b, a = row.get(f"{kind}_min_before"), row.get(f"{kind}_min_after")
        times = f"{fmt(b, 3)} → {fmt(a, 3)} min" if b is not None and a is not None else ""
        labels.append(f"{name}\n{times}" if times else name)
        beyond.append(not row.get("within_target", True))
    return labels, beyond


def _flow_samples(fmax: float) -> list[float]:
    top = float(f"{fmax:.1g}")
    if top > fmax:
        top = float(f"{fmax:.2g}")
    return sorted({top, float(f"{top / 4:.1g}"), float(f"{top / 20:.1g}")} - {0.0}, reverse=True)


def _scale_bar(ax: Any, span: float, unit: str) -> None:
    from matplotlib.font_manager import FontProperties
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    length = _nice_length(span)
    label = f"{fmt(length * 1000, 3)} m" if length < 1 else f"{fmt(length, 3)} {unit}"
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
    change = pct_change(plan.objective_before, plan.objective)
    line1 = (
        f"{run.study.network.name}: {plan.objective_name} {fmt(plan.objective_before)} → "
        f"{fmt(plan.objective)}" + (f" ({change})" if change else "")
    )
    n = len(plan.selected)
    gap = f", gap {gap_text(plan.gap)}" if plan.gap is not None else ""
    line2 = (
        f"{n} upgrade{'s' if n != 1 else ''}, cost {fmt(plan.cost)} of budget "
        f"{fmt(plan.budget)} {unit} · {plan.status}{gap}"
    )
    return f"{line1}\n{line2}"


def _history_worth_seeing(run: Any) -> tuple[list[dict], Any]:
    plan = run.plan
    search = [h for h in (plan.history or []) if finite(h.get("incumbent"))]
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
        bnd = np.array([float(h["bound"]) if finite(h.get("bound")) else np.nan for h in search])
        ax.step(t, inc, where="post", color="#c0392b", lw=2, label="incumbent (best plan)")
        if np.isfinite(bnd).any():
            ax.step(t, bnd, where="post", color="#2c7fb8", lw=2, label="lower bound")
        ax.axhline(plan.objective_before, color="0.6", ls=":", lw=1, label="no upgrade")
        ax.set_xlabel("search time (s)")
        ax.set_ylabel(
            "TSTT" if plan.objective_name == "tstt" else f"{plan.objective_name} objective"
        )
        gap = f", final gap {gap_text(plan.gap)}" if plan.gap is not None else ""
        ax.set_title(f"search ({plan.settings.get('method', '')}){gap}", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(True, color="0.9")
    if eq:
        ax = axes[i]
        for (label, it, gap, _r), color in zip(eq, ("#c0392b", "0.5"), strict=False):
            ok = np.isfinite(gap) & (gap > 0)
            ax.semilogy(it[ok], gap[ok], color=color, lw=1.8, marker=".", ms=4, label=label)
        target = getattr(eq[0][3], "rgap_target", None)
        if target is not None and finite(target) and float(target) > 0:
            ax.axhline(float(target), color="black", ls="--", lw=1, label="target")
        ax.set_xlabel("iteration")
        ax.set_ylabel("relative gap (TSTT − SPTT) / TSTT")
        ax.set_title(f"final equilibrium ({eq[0][3].method})", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(True, which="both", color="0.9")
    fig.suptitle(f"{run.study.network.name}: convergence", fontsize=11)
    return fig
