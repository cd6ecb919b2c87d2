"""Adjusting an OD matrix to traffic counts: the gradient method of Spiess (1990).

The problem. With ``v(g)`` the user-equilibrium link flows of OD matrix ``g``, ``W`` the
counts' link weights (:class:`networks.counts.Counts`: ``v_c = (W v)_c``) and ``ĉ`` the
counts, find a matrix near the seed ``g⁰`` that minimises

    Z(g) = ½ Σ_c (v_c(g) − ĉ_c)².

The method (H. Spiess, "A gradient approach for the O-D matrix adjustment problem", EMME/2
Support Center / CRT Montréal publication 693, 1990; EMME's demand adjustment,
http://emme2.spiess.ch/demadj/demadj.html). Holding the route proportions of the current
equilibrium fixed, ``v_a = Σ_i g_i p_ia`` with ``p_ia`` the share of OD pair ``i``'s trips
on link ``a``, so

    ∂Z/∂g_i = Σ_a p_ia e_a,   e = Wᵀ (v_c − ĉ).

Each step moves every cell by a multiple of itself (steepest descent in relative terms, so
zero cells stay zero and large cells move most, which keeps the seed's structure):

    g_i ← g_i (1 − λ ∂Z/∂g_i),

with the step that minimises ``Z`` along it under fixed proportions,
``λ* = Σ_c v'_c (ĉ_c − v_c) / Σ_c v'_c²`` where ``v' = dv/dλ = −W P (g ∘ ∇Z)``, taken as
``λ = min(step λ*, max_decrease / max_i ∂Z/∂g_i)`` so that no cell falls by more than
``max_decrease`` of itself in one step (Spiess's bound keeps the factors positive). Then
the equilibrium is solved again for the new matrix and the next step starts from its
proportions. The matrix of the lowest ``Z`` met is returned.

The proportions. ``P`` comes from origin-based flows: the bushes of Algorithm B
(:func:`optimizer.assignment.origin_flows`). For origin ``o``, the *approach proportion*
of link ``a`` into node ``j`` is ``α_a = x^o_a / Σ_{b into j} x^o_b`` (Bar-Gera, H. 2002,
"Origin-based algorithm for the traffic assignment problem", Transportation Science 36(4):
398-417): the share of origin ``o``'s flow reaching ``j`` that arrives on ``a``, the same
for every destination beyond ``j`` (the proportionality of route flows; Bar-Gera, Boyce &
Nie 2012, Transportation Research Part B 46(3): 440-462). On the acyclic bush this gives
both products without ever listing routes, for every destination at once:

* the gradient of every OD pair ``(o, j)``: ``G_j = Σ_{a into j} α_a (e_a + G_{tail(a)})``,
  ``G_o = 0``, i.e. ``(I − B) G = B_e`` with ``B[j, tail(a)] += α_a``;
* the flows of any pattern ``h`` of trips from ``o`` (here ``g ∘ ∇Z``) under the same
  proportions: ``(I − Bᵀ) H = h``, ``y_a = α_a H_{head(a)}`` (with ``h = g`` this gives back
  ``x^o`` exactly, so the linearisation agrees with the model flows at the current point).

Why bushes rather than shortest-path trees at equilibrium costs: at equilibrium an OD
pair's trips split over several equal-cost routes; an all-or-nothing tree sends them all
down one, so a count on the other route would get no gradient (or the wrong sign), and
``W P g`` would not reproduce the modelled counts that ``Z`` measures. The bush flows are
the assignment's own split.

Fit measures, before and after (counts and flows in vehicles per demand period; GEH on
hourly flows, the period's hours from the demand, else 1): ``GEH = sqrt(2 (m − c)² /
(m + c))`` per count (UK DMRB: GEH < 5 is a good match), the share of counts with GEH < 5
(:data:`GEH_OK`), and ``R² = 1 − Σ(m − c)² / Σ(c − c̄)²``, the coefficient of determination
of the line *modelled = counted* (not of a fitted regression line, which would hide a
bias).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from networks.counts import Counts
from networks.demand import Demand
from networks.network import Network

from .assignment import assign, origin_flows
from .errors import OptionError, UsageError

__all__ = ["GEH_OK", "Calibration", "calibrate", "geh", "r_squared"]

log = logging.getLogger(__name__)

#: A count is matched when its GEH statistic is below this (UK DMRB TA 46/97 guidance).
GEH_OK = 5.0


def geh(model: np.ndarray, count: np.ndarray, hours: float = 1.0) -> np.ndarray:
    """The GEH statistic of each count, on hourly flows (``model``, ``count`` per period)."""
    m = np.asarray(model, dtype=np.float64) / hours
    c = np.asarray(count, dtype=np.float64) / hours
    s = m + c
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.sqrt(np.where(s > 0, 2.0 * (m - c) ** 2 / s, 0.0))
    return out


def r_squared(model: np.ndarray, count: np.ndarray) -> float:
    """``1 − Σ(m − c)² / Σ(c − c̄)²``: how well ``modelled = counted`` holds (NaN if flat)."""
    m, c = np.asarray(model, dtype=np.float64), np.asarray(count, dtype=np.float64)
    ss = float(((c - c.mean()) ** 2).sum()) if c.size else 0.0
    return 1.0 - float(((m - c) ** 2).sum()) / ss if ss > 0 else math.nan


def _fit(model: np.ndarray, count: np.ndarray, hours: float) -> dict[str, float]:
    g = geh(model, count, hours)
    return {
        "objective": 0.5 * float(((model - count) ** 2).sum()),
        "geh_share": float((g < GEH_OK).mean()) if g.size else math.nan,
        "r2": r_squared(model, count),
        "mean_geh": float(g.mean()) if g.size else math.nan,
    }


@dataclass(frozen=True, eq=False)
class Calibration:
    """An OD matrix adjusted to counts, and how well the model matches them.

    Attributes
    ----------
    demand : Demand
        The adjusted matrix (same zones, period and sparsity as the seed).
    seed : Demand
        The matrix it started from.
    counts : Counts
    before, after : float64 arrays (c,)
        Modelled counts at the seed's and at the adjusted matrix's equilibrium (vehicles
        per period).
    hours : float
        Hours of the period, for GEH (the demand's ``period_hours``, else 1).
    iterations : int
        Adjustment steps taken (equilibria solved: one more).
    status : str
        ``converged`` (the last step improved ``Z`` by less than ``min_improvement``, or
        the counts are met), or ``max_iter``.
    seconds : float
    history : tuple of dict
        Per equilibrium: ``iteration``, ``objective`` (Z, vehicles² per period²),
        ``geh_share``, ``r2``, ``step`` (λ that led to it), ``trips``, ``seconds``.
    settings : dict
        The method's parameters.
    link_ids : int64 array (m,)
        The network's external link ids (to name the counts' links).
    """

    demand: Demand
    seed: Demand
    counts: Counts
    before: np.ndarray
    after: np.ndarray
    hours: float
    iterations: int
    status: str
    seconds: float
    history: tuple[dict[str, Any], ...]
    settings: dict[str, Any]
    link_ids: np.ndarray

    def fit(self, which: str) -> dict[str, float]:
        """``objective``, ``geh_share``, ``r2`` and ``mean_geh`` ``"before"`` or ``"after"``."""
        return _fit(getattr(self, which), self.counts.count, self.hours)

    def table(self) -> list[dict[str, Any]]:
        """One row per count: where, count, modelled before and after, GEH before and after."""
        gb = geh(self.before, self.counts.count, self.hours)
        ga = geh(self.after, self.counts.count, self.hours)
        ids = self.link_ids
        return [
            {
                "id": self.counts.ids[c],
                "line": self.counts.lines[c],
                "where": self.counts.where[c],
                "links": ";".join(str(int(ids[k])) for k in self.counts.links(c)),
                "count": float(self.counts.count[c]),
                "model_before": float(self.before[c]),
                "model_after": float(self.after[c]),
                "geh_before": float(gb[c]),
                "geh_after": float(ga[c]),
            }
            for c in range(len(self.counts))
        ]

    def summary(self) -> dict[str, Any]:
        """JSON-ready: method, fit before and after, trips, history and the per-count table."""
        out: dict[str, Any] = {
            "method": "spiess-1990",
            "proportions": "origin-based (Algorithm B bushes, approach proportions)",
            "counts_file": self.counts.source,
            "counts": len(self.counts),
            "counts_period": self.counts.period,
            "demand_period": self.seed.period,
            "geh_hours": self.hours,
            "geh_ok": GEH_OK,
            "before": self.fit("before"),
            "after": self.fit("after"),
            "trips_before": self.seed.total,
            "trips_after": self.demand.total,
            "iterations": self.iterations,
            "equilibria": len(self.history),
            "status": self.status,
            "seconds": self.seconds,
            "settings": dict(self.settings),
            "history": [dict(h) for h in self.history],
            "table": self.table(),
        }
        return out


def _check(max_iter: int, min_improvement: float, step: float, max_decrease: float) -> None:
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0:
        raise OptionError("max_iter", f"is {max_iter!r}; must be a whole number >= 0")
    if not (math.isfinite(min_improvement) and 0 <= min_improvement < 1):
        raise OptionError("min_improvement", f"is {min_improvement!r}; must be >= 0 and < 1")
    if not (math.isfinite(step) and 0 < step <= 2):
        raise OptionError("step", f"is {step!r}; must be > 0 and <= 2 (1: Spiess's step)")
    if not (math.isfinite(max_decrease) and 0 < max_decrease < 1):
        raise OptionError("max_decrease", f"is {max_decrease!r}; must be > 0 and < 1")


def _with_cells(seed: Demand, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> Demand:
    """The seed with its adjusted cells (the diagonal and zero cells unchanged)."""
    if seed.is_sparse:
        base = sp.coo_array(seed.matrix)
        keep = (base.row == base.col) | (base.data <= 0)
        r = np.concatenate([base.row[keep], rows])
        c = np.concatenate([base.col[keep], cols])
        v = np.concatenate([base.data[keep], vals])
        mat: Any = sp.csr_array((v, (r, c)), shape=base.shape)
    else:
        mat = np.array(seed.matrix, dtype=np.float64)
        mat[rows, cols] = vals
    return Demand(
        zone_ids=seed.zone_ids,
        zone_node_ids=seed.zone_node_ids,
        matrix=mat,
        internal=seed.internal,
        period=seed.period,
        period_hours=seed.period_hours,
        name=seed.name if seed.name.endswith("(calibrated)") else f"{seed.name} (calibrated)",
    )


def _directions(
    network: Network,
    origins: np.ndarray,
    xo: np.ndarray,
    e_link: np.ndarray,
    cell_row: np.ndarray,
    cell_dest: np.ndarray,
    vals: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``∂Z/∂g`` of every cell and ``dv/dλ`` of every link, from origin-based flows."""
    n, m = network.num_nodes, network.num_links
    init, term = network.init, network.term
    grad = np.zeros(vals.shape[0])
    vprime = np.zeros(m)
    order = np.argsort(cell_row, kind="stable")
    bounds = np.searchsorted(cell_row[order], np.arange(len(origins) + 1))
    eye = sp.identity(n, format="csc")
    for r in range(len(origins)):
        cells = order[bounds[r] : bounds[r + 1]]
        if cells.size == 0:
            continue
        x = xo[r]
        inflow = np.bincount(term, weights=x, minlength=n)
        into = inflow[term]
        alpha = np.divide(x, into, out=np.zeros(m), where=into > 1e-300)
        used = alpha > 0
        b = sp.csc_array((alpha[used], (term[used], init[used])), shape=(n, n))
        lu = splu(sp.csc_array(eye - b))
        node_grad = lu.solve(np.bincount(term, weights=alpha * e_link, minlength=n))
        grad[cells] = node_grad[cell_dest[cells]]
        h = np.bincount(cell_dest[cells], weights=vals[cells] * grad[cells], minlength=n)
        reach = lu.solve(h, trans="T")
        vprime -= alpha * reach[term]
    return grad, vprime


def calibrate(
    network: Network,
    demand: Demand,
    counts: Counts,
    *,
    max_iter: int = 20,
    min_improvement: float = 1e-3,
    step: float = 1.0,
    max_decrease: float = 0.5,
    rgap: float = 1e-5,
    toll_factor: float = 0.0,
    distance_factor: float = 0.0,
    callback: Callable[[dict], Any] | None = None,
) -> Calibration:
    """Adjust ``demand`` to ``counts`` by Spiess's gradient method (see the module docstring).

    Parameters
    ----------
    network
        The network the counts lie on (zone connectors included).
    demand
        The seed matrix.
    counts
        From :func:`networks.counts.read_counts` on ``network``.
    max_iter
        Adjustment steps at most (each followed by an equilibrium).
    min_improvement
        Stop when a step lowers ``Z`` by less than this share of it (a rise also stops).
    step
        Multiple of Spiess's optimal step ``λ*`` (1: the step itself).
    max_decrease
        Largest share by which any OD cell may fall in one step.
    rgap
        Relative gap of every equilibrium (solved with Algorithm B for its bushes).
    toll_factor, distance_factor
        Generalized cost, as for :func:`optimizer.assign`.
    callback
        Called after each equilibrium with its :attr:`Calibration.history` row.

    Returns
    -------
    Calibration
        The matrix of the lowest ``Z`` met, the fit before and after, the history.
    """
    _check(max_iter, min_improvement, step, max_decrease)
    if counts.weights.shape[1] != network.num_links:
        raise UsageError(
            f"the counts were located on a network of {counts.weights.shape[1]} links, not on "
            f"'{network.name}' ({network.num_links} links)"
        )
    if (
        counts.period
        and demand.period not in ("as in file", "")
        and (counts.period.strip().lower() != demand.period.strip().lower())
    ):
        log.warning(
            "counts of period %r, demand of period %r: check they describe the same period",
            counts.period,
            demand.period,
        )
    hours = float(demand.period_hours) if demand.period_hours else 1.0
    if not demand.period_hours:
        log.info("the demand's period has no length in hours: GEH taken on flows as given")
    coo = sp.coo_array(demand.matrix)
    zone_nodes = network.node_indices(demand.zone_node_ids, what="zone node")
    keep = (coo.row != coo.col) & (coo.data > 0)
    rows, cols = coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64)
    vals = coo.data[keep].astype(np.float64)
    on, dn = zone_nodes[rows], zone_nodes[cols]
    moving = on != dn  # zones at one node: never assigned, never adjusted
    target = counts.count
    W = counts.weights
    t0 = time.perf_counter()
    history: list[dict[str, Any]] = []
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    before: np.ndarray | None = None
    status, lam, prev = "max_iter", 0.0, math.inf
    it = 0
    while True:
        dem = _with_cells(demand, rows, cols, vals)
        res = assign(
            network,
            dem,
            method="bush",
            rgap=rgap,
            toll_factor=toll_factor,
            distance_factor=distance_factor,
        )
        model = counts.modelled(res.flow)
        fit = _fit(model, target, hours)
        row = {
            "iteration": it,
            "objective": fit["objective"],
            "geh_share": fit["geh_share"],
            "r2": fit["r2"],
            "step": lam,
            "trips": dem.total,
            "seconds": time.perf_counter() - t0,
        }
        history.append(row)
        log.info(
            "calibration %d: Z %.6g, GEH < %g on %.1f %% of %d counts, R² %.4f",
            it,
            fit["objective"],
            GEH_OK,
            100 * fit["geh_share"],
            len(target),
            fit["r2"],
        )
        if callback is not None:
            callback(dict(row))
        if before is None:
            before = model
        z = fit["objective"]
        if best is None or z < best[0]:
            best = (z, vals.copy(), model)
        if z <= 1e-18 * max(float(target @ target), 1.0) or (
            it > 0 and prev - z < min_improvement * prev
        ):
            status = "converged"
            break
        if it >= max_iter:
            break
        prev = z
        origins, xo = origin_flows(network, dem, res)
        row_of = np.full(network.num_nodes, -1, dtype=np.int64)
        row_of[origins] = np.arange(len(origins))
        active = moving & (row_of[on] >= 0)
        e_link = np.asarray(W.T @ (model - target))
        grad = np.zeros_like(vals)
        g_act, vprime = _directions(
            network, origins, xo, e_link, row_of[on[active]], dn[active], vals[active]
        )
        grad[active] = g_act
        vp = np.asarray(W @ vprime)
        denom = float(vp @ vp)
        lam_star = float(vp @ (target - model)) / denom if denom > 0 else 0.0
        up = grad[active & (grad > 0)]
        lam_max = max_decrease / float(up.max()) if up.size else math.inf
        lam = min(step * lam_star, lam_max)
        if not (math.isfinite(lam) and lam > 0):
            status = "converged"  # no descent direction left
            break
        vals = vals * (1.0 - lam * grad)
        it += 1
    assert best is not None and before is not None
    out = _with_cells(demand, rows, cols, best[1])
    seconds = time.perf_counter() - t0
    log.info(
        "calibration %s after %d steps (%.1f s): trips %.6g -> %.6g",
        status,
        it,
        seconds,
        demand.total,
        out.total,
    )
    return Calibration(
        demand=out,
        seed=demand,
        counts=counts,
        before=before,
        after=best[2],
        hours=hours,
        iterations=it,
        status=status,
        seconds=seconds,
        history=tuple(history),
        settings={
            "max_iter": max_iter,
            "min_improvement": min_improvement,
            "step": step,
            "max_decrease": max_decrease,
            "rgap": rgap,
        },
        link_ids=network.link_ids,
    )
