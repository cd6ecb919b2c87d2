"""``calibration.png``: modelled against counted flows, before and after the calibration.

Drawn like :mod:`.maps` (a :class:`matplotlib.figure.Figure` on the Agg canvas, no pyplot
state); the GEH = 5 envelope is drawn on the period's flows from the hourly statistic.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...calibration import GEH_OK
from .maps import _new_figure

__all__ = ["plot_calibration"]


def _geh_envelope(c: np.ndarray, hours: float, geh: float) -> tuple[np.ndarray, np.ndarray]:
    """Modelled flows (per period) at GEH = ``geh`` below and above counts ``c``."""
    ch = c / hours
    # (m - c)^2 = g^2 / 2 (m + c) with d = m - c: d^2 - (g^2 / 2) d - g^2 c = 0
    k = geh**2 / 2.0
    root = np.sqrt(k**2 + 4.0 * geh**2 * ch)
    return hours * np.maximum(ch + (k - root) / 2.0, 0.0), hours * (ch + (k + root) / 2.0)


def plot_calibration(cal: Any, *, figsize: tuple[float, float] = (6.4, 6.0)) -> Any:
    """Modelled vs counted flow per count, before (grey) and after (blue) the adjustment.

    The diagonal is *modelled = counted*; the dashed lines bound GEH < 5 (on hourly
    flows). The legend gives the share of counts with GEH < 5 and R² for each.
    """
    c = np.asarray(cal.counts.count, dtype=np.float64)
    fig = _new_figure(figsize)
    ax = fig.subplots()
    top = float(max(c.max(initial=0.0), cal.before.max(initial=0.0), cal.after.max(initial=0.0)))
    top = top * 1.05 if top > 0 else 1.0
    grid = np.linspace(0.0, top, 200)
    lo, hi = _geh_envelope(grid, cal.hours, GEH_OK)
    ax.plot(grid, grid, color="black", lw=1, label="modelled = counted")
    ax.plot(grid, lo, color="0.45", lw=0.8, ls="--", label=f"GEH = {GEH_OK:g}")
    ax.plot(grid, hi, color="0.45", lw=0.8, ls="--")
    for which, color, marker in (("before", "0.6", "o"), ("after", "#1f4fd6", "s")):
        fit = cal.fit(which)
        ax.scatter(
            c,
            getattr(cal, which),
            s=22,
            color=color,
            marker=marker,
            alpha=0.85,
            label=f"{which}: GEH < {GEH_OK:g} on {100 * fit['geh_share']:.0f} %, "
            f"R² {fit['r2']:.3f}",
        )
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_aspect("equal")
    hours = cal.seed.period_hours
    unit = "vehicles per period" + (f" of {hours:g} h" if hours else "")
    ax.set_xlabel(f"counted ({unit})")
    ax.set_ylabel(f"modelled ({unit})")
    ax.set_title(
        f"{len(c)} counts, {cal.iterations} steps (Spiess 1990), {cal.status}", fontsize=10
    )
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(True, color="0.92")
    return fig
