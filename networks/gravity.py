"""Trip generation and distribution: trip rates, a doubly constrained gravity model, OD files.

This module owns the model's constants (each documented where it is defined:
:data:`TRIP_RATE`, :data:`EXTERNAL_SHARE`, :data:`DETERRENCE_BETA`,
:data:`PEAK_HOUR_FACTOR`), the cost between zone nodes (:func:`free_flow_times`),
:func:`gravity` (balanced by Furness's method, returning a :class:`GravityResult`) and
:func:`demand_from_od`, which reads a user's OD matrix over the same zones and gateways
instead.

``T_ij = a_i O_i b_j D_j f(t_ij)`` with ``f(t) = exp(-beta t)``, ``t`` the free-flow time
in minutes; ``a``, ``b`` from Furness balancing so that rows sum to ``O`` and columns to
``D``. :mod:`networks.zoning` sets the targets and the intrazonal times.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from .demand import Demand
from .errors import FileFormatError, InvalidDemandError
from .gateways import Gateways, zone_system
from .network import Network
from .zones import Zones

__all__ = [
    "DETERRENCE_BETA",
    "EXTERNAL_SHARE",
    "PEAK_HOUR_FACTOR",
    "TRIP_RATE",
    "GravityResult",
    "demand_from_od",
    "free_flow_times",
    "gravity",
]

log = logging.getLogger(__name__)

#: Daily vehicle trips produced (and as many attracted) per unit of activity, by unit:
#:
#: - ``"persons"``: one vehicle trip (car, taxi, goods vehicle) per resident per day, between
#:   Chinese county towns (about 0.5) and car-dependent Western towns (2 to 3);
#: - ``"building"``: per :data:`~networks.zones.BUILDING_AREA_UNIT_M2` m² of building
#:   footprint, about one dwelling or shop, two vehicle trips a day;
#: - ``"road-km"``: per weighted km of road (:data:`~networks.zones.ROAD_ACTIVITY_WEIGHT`):
#:   a km of residential street fronts some 100 dwellings, 200 vehicle trips a day.
#:
#: Planning defaults for a small town; calibrate with counts where there are any.
TRIP_RATE: dict[str, float] = {"persons": 1.0, "building": 2.0, "road-km": 200.0}

#: Share of all trip ends at the gateways (trips into, out of and through the area). Small
#: towns on a national road typically see 10-30% of their traffic cross the town limits.
EXTERNAL_SHARE = 0.2

#: ``beta`` (1/min) of the deterrence ``exp(-beta t)``: on its own it makes the mean trip
#: ``1/beta`` = 10 minutes of free-flow time, a town-sized trip.
DETERRENCE_BETA = 0.1

#: Share of the day's trips in the peak hour (the "K factor": 8-12% in the HCM and AASHTO
#: design-hour practice; JTG B01-2014 uses 0.085-0.13).
PEAK_HOUR_FACTOR = 0.1


@dataclass(frozen=True, eq=False)
class GravityResult:
    """A balanced gravity matrix.

    Attributes
    ----------
    matrix : float64 array (z, z)
        Trips; rows sum to the origin targets, columns to the destination targets.
    a, b : float64 arrays (z,)
        Balancing factors.
    iterations : int
        Furness iterations run.
    max_error : float
        Largest absolute difference between a row or column sum and its target.
    converged : bool
        Whether ``max_error`` fell below the tolerance.
    """

    matrix: np.ndarray
    a: np.ndarray
    b: np.ndarray
    iterations: int
    max_error: float
    converged: bool


def free_flow_times(network: Network, from_idx: np.ndarray, to_idx: np.ndarray) -> np.ndarray:
    """Shortest free-flow times (``network.units.time``) between internal node indices.

    Returns an array (len(from_idx), len(to_idx)); ``inf`` where no path exists. Parallel
    links count with their fastest member; zero times are kept (as a tiny positive time).
    """
    n = network.num_nodes
    w = np.maximum(network.free_flow_time, 1e-9)
    order = np.lexsort((w, network.term, network.init))
    a, b, c = network.init[order], network.term[order], w[order]
    first = np.ones(a.shape[0], dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    g = sp.csr_array((c[first], (a[first], b[first])), shape=(n, n))
    uniq, inv = np.unique(np.asarray(from_idx, dtype=np.int64), return_inverse=True)
    dist = dijkstra(g, directed=True, indices=uniq)
    return dist[inv][:, np.asarray(to_idx, dtype=np.int64)]


def gravity(
    origins: np.ndarray,
    destinations: np.ndarray,
    cost: np.ndarray,
    *,
    beta: float = DETERRENCE_BETA,
    deterrence: Callable[[np.ndarray], np.ndarray] | None = None,
    allowed: np.ndarray | None = None,
    tol: float = 1e-12,
    max_iter: int = 10_000,
) -> GravityResult:
    """Doubly constrained gravity model balanced by Furness's method.

    ``T_ij = a_i O_i b_j D_j f(c_ij)``, with the factors ``a``, ``b`` iterated until rows
    sum to ``O`` and columns to ``D`` (Furness 1965; Ortúzar and Willumsen, *Modelling
    Transport*, 4th ed., ch. 5).

    Parameters
    ----------
    origins, destinations
        Row and column targets (trips, >= 0); their totals must agree.
    cost
        Generalised cost of each pair (minutes); ``inf`` for unreachable pairs.
    beta
        Of the default deterrence ``f(c) = exp(-beta c)`` (1/min).
    deterrence
        Another deterrence function of the cost array.
    allowed
        Boolean mask of pairs that may carry trips (default all with finite cost).
    tol
        Stop when every row and column sum is within ``tol * total`` of its target.
    max_iter
        Iteration limit; not converging is reported in the result (and logged), not raised.

    Raises
    ------
    ValueError
        For negative or non-finite targets, or totals that differ.
    """
    O = np.asarray(origins, dtype=float)
    D = np.asarray(destinations, dtype=float)
    C = np.asarray(cost, dtype=float)
    z = O.size
    if D.shape != (z,) or C.shape != (z, z):
        raise ValueError(f"gravity: {z} origins need {z} destinations and a {z}x{z} cost matrix")
    if (
        not (np.all(np.isfinite(O)) and np.all(np.isfinite(D)))
        or O.min(initial=0) < 0
        or D.min(initial=0) < 0
    ):
        raise ValueError("gravity: targets must be finite numbers >= 0")
    total = O.sum()
    if abs(total - D.sum()) > 1e-9 * max(1.0, total):
        raise ValueError(
            f"gravity: origin total {total:.10g} differs from destination total {D.sum():.10g}"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        F = deterrence(C) if deterrence is not None else np.exp(-beta * C)
    F = np.where(np.isfinite(C) & np.isfinite(F), F, 0.0)
    if allowed is not None:
        F = np.where(np.asarray(allowed, dtype=bool), F, 0.0)
    F = np.maximum(F, 0.0)
    a = np.ones(z)
    b = np.ones(z)
    err = np.inf
    it = 0
    atol = tol * max(total, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        while it < max_iter and err > atol:
            it += 1
            s = F @ (b * D)
            a = np.where(s > 0, 1.0 / s, 0.0)
            t = F.T @ (a * O)
            b = np.where(t > 0, 1.0 / t, 0.0)
            T = (a * O)[:, None] * F * (b * D)[None, :]
            err = max(
                np.abs(T.sum(axis=1) - O).max(initial=0), np.abs(T.sum(axis=0) - D).max(initial=0)
            )
    T = (a * O)[:, None] * F * (b * D)[None, :]
    converged = bool(err <= atol)
    if not converged:
        log.warning(
            "gravity: Furness balancing stopped after %d iterations with a largest row/column "
            "error of %.3g trips (some targets cannot be met: zones with trips but no "
            "reachable partner?)",
            it,
            err,
        )
    return GravityResult(T, a, b, it, float(err), converged)


# ---------------------------------------------------------------------- OD file
def demand_from_od(
    path: str | Path,
    zones: Zones,
    gateways: Gateways | None = None,
    *,
    period: str,
    period_hours: float | None,
    name: str | None = None,
) -> Demand:
    """A :class:`~networks.Demand` from a user's OD matrix CSV.

    Parameters
    ----------
    path
        CSV with columns ``origin,destination,trips`` (header required, any order, case
        ignored); origins and destinations are zone ids of ``zones`` or gateway ids
        (:func:`networks.gateways.gateway_zone_ids`: after the largest zone id). Repeated
        pairs add up.
    zones, gateways
        The zone system the ids refer to.
    period, period_hours
        The period the trips cover, e.g. ``"peak hour"`` and ``1.0``; stated by the user
        since the file does not say.

    Raises
    ------
    FileFormatError
        Missing columns, unreadable numbers, negative trips.
    InvalidDemandError
        An origin or destination that is not a zone id.
    """
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    try:
        df = pd.read_csv(p, skipinitialspace=True, comment="#")
    except Exception as exc:
        raise FileFormatError(p, f"cannot be read as CSV: {exc}") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in ("origin", "destination", "trips") if c not in df.columns]
    if missing:
        raise FileFormatError(
            p, f"has no column(s) {', '.join(missing)}; expected origin,destination,trips"
        )
    ids, nodes, internal = zone_system(zones, gateways)
    pos = {int(v): k for k, v in enumerate(ids.tolist())}
    mat = np.zeros((ids.size, ids.size))
    for r, (o, d, t) in enumerate(
        zip(df["origin"].tolist(), df["destination"].tolist(), df["trips"].tolist(), strict=True)
    ):
        line = r + 2
        try:
            tv = float(t)
            ov, dv = float(o), float(d)
        except (TypeError, ValueError):
            raise FileFormatError(
                p, f"cannot read ({o}, {d}, {t}) as numbers", line=line
            ) from None
        if not math.isfinite(tv) or tv < 0:
            raise FileFormatError(p, f"trips {t} must be a number >= 0", line=line, field="trips")
        for what, v in (("origin", ov), ("destination", dv)):
            if not math.isfinite(v) or v != int(v) or int(v) not in pos:
                raise InvalidDemandError(
                    f"{p}, line {line}: {what} {o if what == 'origin' else d} is not a zone "
                    f"id; zones are {_describe_ids(zones.zone_ids)}"
                    + (
                        f", gateways {_describe_ids(ids[zones.num_zones :])}"
                        if ids.size > zones.num_zones
                        else ""
                    )
                )
        mat[pos[int(ov)], pos[int(dv)]] += tv
    return Demand(
        zone_ids=ids,
        zone_node_ids=nodes,
        matrix=mat,
        internal=internal,
        period=period,
        period_hours=period_hours,
        name=name or p.stem,
    )


def _describe_ids(ids: np.ndarray) -> str:
    v = sorted(int(i) for i in ids)
    if not v:
        return "none"
    if v == list(range(v[0], v[-1] + 1)):
        return f"{v[0]}..{v[-1]}"
    return ", ".join(map(str, v[:10])) + (" ..." if len(v) > 10 else "")
