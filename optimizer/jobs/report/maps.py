"""The pictures: ``map.png`` (the network before and after the plan) and ``convergence.png``.

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
from .text import finite, gap_text, pct_change, upgrade_label

__all__ = [
    "DPI",
    "GATEWAY_COLOR",
    "UPGRADE_COLOR",
    "ZONE_LABELS",
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


#: How many settlements (zones) the map names at most: those beyond an access target
#: first, then the largest by activity (population); the others keep their circle.
ZONE_LABELS = 25

# Where a label may sit relative to its point (points right, points up, ha, va), in the
# order tried: a settlement's name on its circle, else beside it.
_ZONE_SPOTS = (
    (0, 0, "center", "center"),
    (0, 9, "center", "bottom"),
    (0, -9, "center", "top"),
    (10, 0, "left", "center"),
    (-10, 0, "right", "center"),
)


def _road_groups(geoms: Sequence, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Each link's drawn road, and one link of each road.

    A road is one geometry: the two directions of a two-way road together.
    """
    import shapely

    group: dict[bytes, int] = {}
    gid = np.empty(m, dtype=np.int64)
    for a, g in enumerate(geoms):
        gid[a] = group.setdefault(shapely.normalize(g).wkb, len(group))
    rep = np.full(len(group), -1, dtype=np.int64)
    for a in range(m - 1, -1, -1):
        rep[gid[a]] = a
    return gid, rep


def _road_state(
    gid: np.ndarray, ng: int, is_open: np.ndarray, flow: np.ndarray, capacity: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per drawn road: the higher v/c of its directions, their summed flow, whether open."""
    f = np.where(is_open, np.nan_to_num(flow), 0.0)
    vc = np.where(is_open, np.nan_to_num(volume_capacity(flow, capacity)), -np.inf)
    gflow = np.bincount(gid, weights=f, minlength=ng)
    gvc = np.full(ng, -np.inf)
    np.maximum.at(gvc, gid, vc)
    gopen = np.bincount(gid, weights=is_open.astype(float), minlength=ng) > 0
    return np.where(np.isfinite(gvc), gvc, 0.0), gflow, gopen


def _draw_roads(
    ax: Any,
    lines_of: Any,
    state: tuple[np.ndarray, np.ndarray, np.ndarray],
    cmap: Any,
    norm: Any,
    fmax: float,
) -> list[np.ndarray]:
    """Roads coloured by volume/capacity, least loaded on top of none; no flow: grey.

    The coloured roads are one collection (gid ``roads``) holding the panel's v/c values
    with the shared colour map and norm.
    """
    from matplotlib.collections import LineCollection

    gvc, gflow, gopen = state
    idle = np.flatnonzero(gopen & (gflow <= 0))
    busy = np.flatnonzero(gopen & (gflow > 0))
    busy = busy[np.lexsort((gflow[busy], gvc[busy]))]
    idle_lines, lines = lines_of(idle), lines_of(busy)
    ax.add_collection(
        LineCollection(idle_lines, colors=(0.72, 0.72, 0.72, 1.0), linewidths=0.6, zorder=2)
    )
    roads = LineCollection(
        lines,
        cmap=cmap,
        norm=norm,
        linewidths=_width(gflow[busy], fmax),
        capstyle="round",
        joinstyle="round",
        zorder=2,
    )
    roads.set_array(gvc[busy])
    roads.set_gid("roads")
    ax.add_collection(roads)
    return idle_lines + lines


class _Labels:
    """Labels of one map panel placed where they cover no earlier label (display space).

    Used once the figure's layout is fixed (``fig.draw_without_rendering()``); the labels
    stay out of the layout so that it does not move again.
    """

    def __init__(self, ax: Any) -> None:
        self.ax = ax
        self.renderer = ax.get_figure(root=True).canvas.get_renderer()
        self.frame = ax.get_window_extent(self.renderer)
        self.taken: list[Any] = []

    def block(self, artist: Any) -> None:
        """Keep labels off an artist (the north arrow, the scale bar)."""
        self.taken.append(artist.get_window_extent(self.renderer))

    def _box(self, ann: Any) -> Any:
        from matplotlib.text import Text

        ann.update_positions(self.renderer)
        return Text.get_window_extent(ann, self.renderer).padded(2.5)

    def _clash(self, box: Any) -> float:
        """Area over earlier labels plus area outside the panel (display units²)."""

        def inter(a: Any, b: Any) -> float:
            w = min(a.x1, b.x1) - max(a.x0, b.x0)
            h = min(a.y1, b.y1) - max(a.y0, b.y0)
            return max(w, 0.0) * max(h, 0.0)

        inside = inter(box, self.frame)
        return sum(inter(box, t) for t in self.taken) + (box.width * box.height - inside)

    def place(
        self,
        text: str,
        xy: tuple[float, float],
        spots: Sequence[tuple[float, float, str, str]],
        *,
        force: bool,
        **kw: Any,
    ) -> tuple[Any, int] | None:
        """Write ``text`` at the first free spot, else (``force``) the least covered one.

        Returns the annotation and the spot's position in ``spots``, or None.
        """
        best: tuple[float, Any, Any, int] | None = None
        for k, (dx, dy, ha, va) in enumerate(spots):
            ann = self.ax.annotate(
                text, xy, xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, **kw
            )
            ann.set_in_layout(False)
            box = self._box(ann)
            clash = self._clash(box)
            if clash <= 0:
                if best is not None:
                    best[1].remove()
                self.taken.append(box)
                return ann, k
            if force and (best is None or clash < best[0]):
                if best is not None:
                    best[1].remove()
                best = (clash, ann, box, k)
            else:
                ann.remove()
        if best is None:
            return None
        self.taken.append(best[2])
        return best[1], best[3]


def _upgrade_spots(x: float, cx: float) -> list[tuple[float, float, str, str]]:
    """Offsets of an upgrade's label from its road (towards the map's middle first)."""
    side = -1.0 if x > cx else 1.0
    spots = []
    for r in (34.0, 58.0, 84.0):
        for ang in (35, -35, 70, -70, 0, 145, -145, 110, -110, 180):
            a = math.radians(ang)
            dx, dy = side * r * math.cos(a), r * math.sin(a)
            ha = "left" if dx > 1 else ("right" if dx < -1 else "center")
            va = "bottom" if dy > 1 else ("top" if dy < -1 else "center")
            spots.append((round(dx, 1), round(dy, 1), ha, va))
    return spots


def _north_arrow(ax: Any) -> Any:
    """An arrow to the top of the panel with an ``N`` (grid north of the map's CRS)."""
    arrow = ax.annotate(
        "N",
        xy=(0.955, 0.975),
        xytext=(0.955, 0.885),
        xycoords="axes fraction",
        textcoords="axes fraction",
        ha="center",
        va="center",
        fontsize=10,
        fontweight="bold",
        arrowprops={
            "facecolor": "black",
            "edgecolor": "black",
            "width": 2.5,
            "headwidth": 9,
            "headlength": 9,
            "shrink": 0.0,
        },
        bbox={"boxstyle": "circle,pad=0.12", "fc": "white", "ec": "none", "alpha": 0.85},
        zorder=9,
    )
    arrow.set_gid("north-arrow")
    return arrow


def plot_plan_map(
    run: Any,
    *,
    figsize: tuple[float, float] | None = None,
    label_upgrades: bool = True,
    zone_labels: int = ZONE_LABELS,
) -> Any:
    """Volume/capacity before and after the plan, side by side, with the chosen upgrades.

    Two panels on one colour scale and one flow-width scale: the network without any
    upgrade (the no-upgrade equilibrium) and with the plan. Roads are drawn once per
    geometry (the two directions of a two-way road together): colour by the higher
    volume/capacity of the two, width by their summed flow. In the after panel the chosen
    upgrades have a casing in :data:`UPGRADE_COLOR` and a label naming the road and what
    is done (:func:`optimizer.jobs.report.text.upgrade_label`: ``KU 11 upgrade to
    JTG-1``, ``new link Ramsenthal – Zettlitz (JTG-2)``); unchosen candidate new roads are
    dotted. Zones (boundary and centre, sized by activity) and gateways are marked in
    both; the ``zone_labels`` largest settlements are named (with their minutes to the
    highest access class in that panel where the plan measured access), labels placed
    where they cover no other. Axes are in km with a scale bar where the CRS is in
    metres, with a north arrow where the CRS is known.

    Parameters
    ----------
    run
        A :class:`optimizer.jobs.pipeline.PlanRun` whose network has coordinates.
    figsize
        Inches; default: as wide and high as two panels of the area's shape ask (side by
        side, or one above the other for wide areas).
    label_upgrades
        Name each chosen upgrade beside it.
    zone_labels
        Settlements named at most.

    Returns
    -------
    matplotlib.figure.Figure
        Drawn on the Agg canvas (``fig.savefig(...)``); ``fig.axes[:2]`` are the before
        and after panels, ``fig.axes[2]`` the colour bar.

    Raises
    ------
    networks.export.NoGeometryError
        When the links have no geometry and the nodes no coordinates.
    """
    import matplotlib as mpl
    import shapely
    from matplotlib.cm import ScalarMappable
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

    gid, rep = _road_groups(geoms, net.num_links)
    ng = len(rep)
    before = _road_state(gid, ng, s.open_before, s.flow_before, net.capacity)
    after = _road_state(gid, ng, s.open_after, s.flow_after, s.after.capacity)

    def lines_of(groups: Any) -> list[np.ndarray]:
        return _lines_xy([geoms[rep[g]] for g in groups], scale)

    xy = np.asarray([shapely.bounds(g) for g in geoms if g is not None])
    w = float(xy[:, 2].max() - xy[:, 0].min()) if len(xy) else 1.0
    h = float(xy[:, 3].max() - xy[:, 1].min()) if len(xy) else 1.0
    ratio = w / max(h, 1e-9)
    stacked = ratio > 1.3
    if figsize is None:
        if stacked:
            pw = 11.0
            figsize = (pw + 1.6, min(2 * pw / ratio + 3.2, 16.0))
        else:
            ph = 6.8
            figsize = (min(2 * ph * max(ratio, 0.55) + 1.8, 20.0), ph + 2.3)
    fig = _new_figure(figsize)
    axes = fig.subplots(2 if stacked else 1, 1 if stacked else 2, sharex=True, sharey=True)
    ax_b, ax_a = axes
    cmap = ListedColormap(mpl.colormaps["YlOrRd"](np.linspace(0.2, 1.0, 256)), name="vc")
    seen = np.concatenate([before[0][before[2]], after[0][after[2]]])
    vmax_data = float(seen.max()) if seen.size else 0.0
    # one colour scale for both panels, ending at a round v/c of at least 0.5 (so that a
    # quiet town is not painted red) and at most 2 (beyond: the colour bar's arrow)
    vmax = min(max(0.5, math.ceil(vmax_data / 0.25) * 0.25), 2.0)
    norm = Normalize(0.0, vmax)
    flows = np.concatenate([before[1][before[2]], after[1][after[2]]])
    fmax = float(flows.max()) if flows.size else 0.0

    lines = _draw_roads(ax_b, lines_of, before, cmap, norm, fmax)
    lines += _draw_roads(ax_a, lines_of, after, cmap, norm, fmax)

    # after: candidate new roads left unbuilt, dotted; the chosen upgrades' casing
    unbuilt = np.flatnonzero(~s.open_before & ~s.open_after)
    if unbuilt.size:
        ax_a.add_collection(
            LineCollection(
                lines_of(np.unique(gid[unbuilt])),
                colors="0.45",
                linewidths=1.0,
                linestyles=(0, (1.5, 1.5)),
                zorder=1.5,
            )
        )
    chosen = [cs.candidates[k] for k in np.flatnonzero(np.asarray(plan.plan, dtype=bool))]
    acted = np.unique(
        np.concatenate(
            [np.asarray(c.links, dtype=np.int64) for c in chosen] or [np.zeros(0, np.int64)]
        )
    )
    if acted.size:
        ug = np.unique(gid[acted])
        ax_a.add_collection(
            LineCollection(
                lines_of(ug),
                colors=UPGRADE_COLOR,
                linewidths=_width(after[1][ug], fmax) + 5.5,
                capstyle="round",
                joinstyle="round",
                zorder=1.9,
            )
        )

    # zones, gateways and junctions, in both panels
    handles: list[tuple[Any, str]] = []
    model = getattr(run.study, "model", None)
    zones: Any = getattr(model, "zones", None) if model is not None else None
    gws: Any = getattr(model, "gateways", None) if model is not None else None
    access = getattr(model, "access", None) if model is not None else None
    halo = [withStroke(linewidth=2.5, foreground="white")]
    has_zones = zones is not None and len(zones.zone_ids) > 0
    if has_zones:
        polys = [g for g in (zones.geometry or ()) if g is not None]
        act = np.nan_to_num(np.asarray(zones.activity, dtype=np.float64))
        amax = act.max() if act.size and act.max() > 0 else 1.0
        sizes = 25 + 275 * np.sqrt(act / amax)
        zx, zy = np.asarray(zones.x) / scale, np.asarray(zones.y) / scale
        # shared edges once: the union of all boundaries, merged into long lines
        rings = (
            _lines_xy(
                list(
                    shapely.get_parts(
                        shapely.line_merge(shapely.union_all(shapely.boundary(polys)))
                    )
                ),
                scale,
            )
            if polys
            else []
        )
        for ax in axes:
            if rings:
                ax.add_collection(
                    LineCollection(rings, colors="0.6", linewidths=0.8, linestyles="--", zorder=1)
                )
            ax.scatter(zx, zy, s=sizes, c="#7a5195", alpha=0.35, edgecolors="#7a5195", zorder=3)
        if polys:
            handles.append((Line2D([], [], color="0.6", lw=0.8, ls="--"), "zone boundary"))
        unit = getattr(zones, "activity_unit", "")
        handles.append(
            (
                Line2D([], [], ls="", marker="o", ms=9, color="#7a5195", alpha=0.5),
                "zone centre (size: activity" + (f", {unit})" if unit else ")"),
            )
        )
    if gws is not None and len(gws.node_ids):
        gx, gy = np.asarray(gws.x) / scale, np.asarray(gws.y) / scale
        for ax in axes:
            ax.scatter(gx, gy, s=110, marker="^", c=GATEWAY_COLOR, edgecolors="black", zorder=7)
        handles.append(
            (
                Line2D([], [], ls="", marker="^", ms=9, mfc=GATEWAY_COLOR, mec="black"),
                "gateway (external zone)",
            )
        )
    junctions: list[tuple[str, float, float]] = []
    if access is not None and access.num_points:
        top = np.isin(np.asarray(access.kind, dtype=object), ["expressway", "trunk"])
        if top.any():
            idx = net.node_indices(np.asarray(access.node_ids)[top], what="access point")
            for ax in axes:
                ax.scatter(
                    net.x[idx] / scale, net.y[idx] / scale, s=70, marker="D", c="black", zorder=7
                )
            done: set[str] = set()
            names = np.asarray(access.name, dtype=object)[top]
            for i, name in zip(idx.tolist(), names, strict=True):
                if name and str(name) not in done:
                    done.add(str(name))
                    junctions.append((str(name), net.x[i] / scale, net.y[i] / scale))
            handles.append(
                (
                    Line2D([], [], ls="", marker="D", color="black", ms=6),
                    "access point (expressway/trunk junction)",
                )
            )
    if chosen:
        handles.insert(
            0,
            (
                (
                    Line2D([], [], color=UPGRADE_COLOR, lw=7, solid_capstyle="butt"),
                    Line2D([], [], color=cmap(0.35), lw=2.5, solid_capstyle="butt"),
                ),
                "chosen upgrade (after: road and what is done)",
            ),
        )
    if unbuilt.size:
        handles.insert(
            1 if chosen else 0,
            (Line2D([], [], color="0.45", lw=1.0, ls=(0, (1.5, 1.5))), "candidate not chosen"),
        )
    zl_b, beyond_b, kind = _zone_labels(run, zones, when="before") if has_zones else ([], [], "")
    zl_a, beyond_a, _ = _zone_labels(run, zones, when="after") if has_zones else ([], [], "")
    if kind:
        handles.append(
            (
                Line2D([], [], ls="", marker="$A$", color="#4b2a63"),
                f"settlement: minutes to the {kind} in that panel",
            )
        )
    if any(beyond_b) or any(beyond_a):
        handles.append(
            (
                Line2D([], [], ls="", marker="$A$", color="#b2182b"),
                "settlement beyond an access target",
            )
        )
    if (before[2] & (before[1] <= 0)).any() or (after[2] & (after[1] <= 0)).any():
        handles.append((Line2D([], [], color="0.72", lw=0.6), "no flow"))

    # extent, axes, scale bar and north arrow
    allxy = np.concatenate(lines) if lines else np.zeros((1, 2))
    x0, y0 = allxy.min(axis=0)
    x1, y1 = allxy.max(axis=0)
    pad = 0.04 * max(x1 - x0, y1 - y0, 1e-9)
    ax_b.set_xlim(x0 - pad, x1 + pad)
    ax_b.set_ylim(y0 - pad, y1 + pad)
    marks: dict[int, list[Any]] = {0: [], 1: []}
    for k, ax in enumerate(axes):
        ax.set_aspect("equal")
        ax.grid(True, color="0.92", lw=0.6, zorder=0)
        ax.tick_params(labelsize=8)
        if metric:
            ax.set_xlabel(f"easting (km, {net.crs})", fontsize=9)
            ax.set_ylabel(f"northing (km, {net.crs})", fontsize=9)
            marks[k].append(_scale_bar(ax, x1 - x0, "km"))
        else:
            where = net.crs or "unknown CRS"
            ax.set_xlabel(f"x ({where})", fontsize=9)
            ax.set_ylabel(f"y ({where})", fontsize=9)
        if net.crs is not None:
            marks[k].append(_north_arrow(ax))
    if not stacked:
        ax_a.set_ylabel("")
        ax_a.tick_params(labelleft=False)
    else:
        ax_b.set_xlabel("")
    n = len(plan.selected)
    ax_b.set_title("before: no upgrade", fontsize=10, loc="left")
    ax_a.set_title(
        f"after: with the plan ({n} upgrade{'s' if n != 1 else ''} in blue)",
        fontsize=10,
        loc="left",
    )

    # one colour bar for both panels, and the legend
    cb = fig.colorbar(
        ScalarMappable(norm=norm, cmap=cmap),
        ax=list(axes),
        shrink=0.6,
        pad=0.01,
        extend="max" if vmax_data > vmax else "neither",
        location="right",
    )
    cb.set_label("volume / capacity (before and after)", fontsize=9)
    cb.ax.tick_params(labelsize=8)
    widths: list[tuple[Any, str]] = []
    if fmax > 0:
        widths.append((Line2D([], [], color="none"), "width: flow, both directions"))
        for f in _flow_samples(fmax):
            wd = float(_width(np.array([f]), fmax)[0])
            widths.append((Line2D([], [], color="0.35", lw=wd), f"{fmt(f, 4)} {flow_unit}"))
    # legend columns (filled top to bottom): the features in two, the widths in a third
    rows = max(math.ceil(len(handles) / 2), len(widths), 1)
    blank = (Line2D([], [], color="none"), " ")
    cols = [c for c in (handles[:rows], handles[rows:], widths) if c]
    ordered = [h for c in cols for h in (c + [blank] * (rows - len(c)))]
    if ordered:
        from matplotlib.legend_handler import HandlerTuple

        fig.legend(
            handles=[h for h, _ in ordered],
            labels=[t for _, t in ordered],
            loc="outside lower center",
            ncols=len(cols),
            fontsize=8,
            frameon=False,
            handler_map={tuple: HandlerTuple(ndivide=1)},
        )
    fig.suptitle(_map_title(run), x=0.01, ha="left", fontsize=11)
    fig.supxlabel(
        f"roadopt {version()} · {run.study.source or net.name}",
        x=0.995,
        ha="right",
        fontsize=7,
        color="0.45",
    )

    # labels last, once the layout is fixed, each where it covers no other
    fig.draw_without_rendering()
    placers = [_Labels(ax) for ax in axes]
    for p, k in zip(placers, (0, 1), strict=True):
        for artist in marks[k]:
            p.block(artist)
    if gws is not None and len(gws.node_ids):
        for p in placers:
            for k, (x, y) in enumerate(zip(gx, gy, strict=True)):
                p.place(
                    f"G{k + 1}",
                    (x, y),
                    (
                        (7, -11, "left", "center"),
                        (7, 11, "left", "center"),
                        (-7, -11, "right", "center"),
                    ),
                    force=True,
                    fontsize=8,
                    fontweight="bold",
                    color=GATEWAY_COLOR,
                    path_effects=halo,
                    zorder=7,
                )
    for name, x, y in junctions:
        for p in placers:
            p.place(
                name,
                (x, y),
                ((8, 6, "left", "bottom"), (-8, 6, "right", "bottom"), (8, -6, "left", "top")),
                force=True,
                fontsize=7,
                path_effects=halo,
                zorder=7,
            )
    if has_zones:
        # settlements beyond a target first, then the largest, before the upgrades (which
        # have more spots to go to); placed in the after panel and at the same spot before
        pri = np.lexsort((-act, ~np.asarray(beyond_a, dtype=bool)))
        for k in pri[: max(int(zone_labels), 0)].tolist():
            style = {
                "fontsize": 7 if "\n" in zl_a[k] else 8,
                "path_effects": halo,
                "zorder": 6,
            }
            placed = placers[1].place(
                zl_a[k],
                (zx[k], zy[k]),
                _ZONE_SPOTS,
                force=False,
                color="#b2182b" if beyond_a[k] else "#4b2a63",
                fontweight="bold" if beyond_a[k] else "normal",
                **style,
            )
            if placed is None:
                continue
            placed[0].set_gid("zone-label")
            other = placers[0].place(
                zl_b[k],
                (zx[k], zy[k]),
                (_ZONE_SPOTS[placed[1]],),
                force=True,
                color="#b2182b" if beyond_b[k] else "#4b2a63",
                fontweight="bold" if beyond_b[k] else "normal",
                **style,
            )
            if other is not None:
                other[0].set_gid("zone-label")
    if label_upgrades and chosen:
        cx = 0.5 * (x0 + x1)
        for c in chosen:
            shape = candidate_geometry(geoms, c.links)
            if shape is None:
                continue
            longest = max(shapely.get_parts(shape), key=lambda g: g.length)
            pt = longest.interpolate(0.5, normalized=True)
            x, y = pt.x / scale, pt.y / scale
            placed = placers[1].place(
                upgrade_label(
                    c, net, num_base_links=cs.num_base_links, zones=zones, metric=metric
                ),
                (x, y),
                _upgrade_spots(x, cx),
                force=True,
                fontsize=8,
                color=UPGRADE_COLOR,
                fontweight="bold",
                bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": UPGRADE_COLOR, "lw": 0.8},
                arrowprops={"arrowstyle": "-", "color": UPGRADE_COLOR, "lw": 0.9},
                zorder=8,
            )
            if placed is not None:
                placed[0].set_gid("upgrade-label")
    return fig


def _zone_labels(
    run: Any, zones: Any, *, when: str = "after"
) -> tuple[list[str], list[bool], str]:
    r"""Each zone's map label, whether it is beyond an access target, and the access class.

    Named settlements carry their name and, where the plan measured access, the minutes to
    the highest access class ``when`` (``before`` or ``after``) the plan
    (``Harsdorf\\n10.2 min``); other zones ``Z<id>``. The third item names the class
    (``expressway``), empty without access figures.
    """
    names = list(getattr(zones, "names", ()) or ())
    rows = {r["name"]: r for r in getattr(run.plan, "settlements", None) or []}
    labels, beyond = [], []
    kind = ""
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
        kind = kind or (kinds[0] if kinds else "")
        minutes = row.get(f"{kinds[0]}_min_{when}") if kinds else None
        labels.append(f"{name}\n{fmt(minutes, 3)} min" if minutes is not None else name)
        ok = row.get("within_target_before" if when == "before" else "within_target", True)
        beyond.append(not ok)
    return labels, beyond, kind


def _flow_samples(fmax: float) -> list[float]:
    top = float(f"{fmax:.1g}")
    if top > fmax:
        top = float(f"{fmax:.2g}")
    return sorted({top, float(f"{top / 4:.1g}"), float(f"{top / 20:.1g}")} - {0.0}, reverse=True)


def _scale_bar(ax: Any, span: float, unit: str) -> Any:
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
    return bar


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
