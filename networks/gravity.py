"""Trip generation and distribution: trip rates, a doubly constrained gravity model, OD files.

This module owns the model's constants (each documented where it is defined:
:data:`TRIP_RATE`, :data:`EXTERNAL_SHARE`, :data:`DETERRENCE_BETA`,
:data:`DESIGN_HOUR_FACTOR`), the cost between zone nodes (:func:`free_flow_times`),
:func:`gravity` (balanced by Furness's method, returning a :class:`GravityResult`) and
:func:`demand_from_od`, which reads a user's OD matrix over the same zones and gateways
instead.

``T_ij = a_i O_i b_j D_j f(t_ij)`` with ``f(t) = exp(-beta t)``, ``t`` the free-flow time
in minutes; ``a``, ``b`` from Furness balancing so that rows sum to ``O`` and columns to
``D``. :mod:`networks.zoning` sets the targets and the intrazonal times.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse.csgraph import dijkstra

from ._io import read_text_file
from .demand import Demand
from .errors import FileFormatError, InvalidDemandError
from .network import Network, csgraph

__all__ = [
    "DESIGN_HOUR_FACTOR",
    "DETERRENCE_BETA",
    "EXTERNAL_SHARE",
    "TRIP_RATE",
    "TRIP_RATE_PERSONS",
    "GravityResult",
    "demand_from_od",
    "free_flow_times",
    "gravity",
    "trip_rate",
]

log = logging.getLogger(__name__)

#: Daily vehicle trips produced (and as many attracted) per unit of activity, by unit:
#:
#: - ``"persons"``: by road profile (:data:`TRIP_RATE_PERSONS`);
#: - ``"building"``: per :data:`~networks.zones.BUILDING_AREA_UNIT_M2` m² of building
#:   footprint, about one dwelling or shop, two vehicle trips a day;
#: - ``"road-km"``: per weighted km of road (:data:`~networks.zones.ROAD_ACTIVITY_WEIGHT`):
#:   a km of residential street fronts some 100 dwellings, 200 vehicle trips a day.
#:
#: Planning defaults; calibrate with counts where there are any (``--counts``).
TRIP_RATE: dict[str, float] = {"persons": 1.3, "building": 2.0, "road-km": 200.0}

#: Daily vehicle trips per resident, by road profile. ``generic`` (European rural areas):
#: 1.3, from "Mobilität in Deutschland 2017" (MiD: 3.1 trips per person and day, 43 % of
#: them as a car driver). ``china``: 0.5, of the order of Chinese county towns, where most
#: trips are on foot, by two-wheeler or bus (a planning figure to calibrate with counts).
TRIP_RATE_PERSONS: dict[str, float] = {"generic": 1.3, "china": 0.5, "china-mountain": 0.5}


def trip_rate(unit: str, profile: str | None = None) -> float:
    """Daily vehicle trips per unit of activity (see :data:`TRIP_RATE`)."""
    if unit == "persons":
        return TRIP_RATE_PERSONS.get(str(profile), TRIP_RATE["persons"])
    return TRIP_RATE[unit]


#: Share of all trip ends at the gateways (trips into, out of and through the area). Small
#: towns on a national road typically see 10-30% of their traffic cross the town limits.
EXTERNAL_SHARE = 0.2

#: ``beta`` (1/min) of the deterrence ``exp(-beta t)``: on its own it makes the mean trip
#: ``1/beta`` = 10 minutes of free-flow time, a town-sized trip.
DETERRENCE_BETA = 0.1

#: Share of the day's trips in the design hour: the "K factor" (the design-hour volume over
#: the annual average daily traffic; 8-12 % in AASHTO and HCM practice, 0.085-0.13 in JTG
#: B01-2014). Not the HCM's "peak-hour factor", which is the hour's volume over four times
#: its busiest 15 minutes.
DESIGN_HOUR_FACTOR = 0.1


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
    Paths may start and end at ``no_thru`` nodes (zone centroids) but never pass through
    one: each such node is split into a copy that only leaves and one that only arrives.
    """
    g, arrive = csgraph(network, np.maximum(network.free_flow_time, 1e-9))
    uniq, inv = np.unique(np.asarray(from_idx, dtype=np.int64), return_inverse=True)
    dist = dijkstra(g, directed=True, indices=uniq)
    return dist[inv][:, arrive[np.asarray(to_idx, dtype=np.int64)]]


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
    zone_ids: np.ndarray,
    zone_node_ids: np.ndarray,
    internal: np.ndarray,
    *,
    names: Sequence[str] = (),
    period: str,
    period_hours: float | None,
    name: str | None = None,
) -> Demand:
    """A :class:`~networks.Demand` from a user's OD matrix CSV.

    Parameters
    ----------
    path
        CSV with columns ``origin,destination,trips`` (header required, any order, case
        ignored); origins and destinations are zone ids (internal zones, then gateways:
        :func:`networks.gateways.gateway_zone_ids`) or internal zones' names. Repeated
        pairs add up.
    zone_ids, zone_node_ids, internal
        The zone system the file refers to: ids, the nodes they load at, internal mask.
    names
        The internal zones' names (in the order of ``zone_ids``), for files keyed by name.
    period, period_hours
        The period the trips cover, e.g. ``"peak hour"`` and ``1.0``; stated by the user
        since the file does not say.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    FileFormatError
        Missing columns, unreadable numbers, negative trips, text that is not UTF-8.
    InvalidDemandError
        An origin or destination that is neither a zone id nor a zone name, or a name
        that two zones share.
    """
    import pandas as pd

    p = Path(path)
    text = read_text_file(p, what="OD matrix CSV")  # UTF-8 (or UTF-16 with a BOM) only
    try:
        df = pd.read_csv(io.StringIO(text), skipinitialspace=True, comment="#", dtype=str)
    except Exception as exc:
        raise FileFormatError(p, f"cannot be read as CSV: {exc}") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in ("origin", "destination", "trips") if c not in df.columns]
    if missing:
        raise FileFormatError(
            p, f"has no column(s) {', '.join(missing)}; expected origin,destination,trips"
        )
    ids = np.asarray(zone_ids, dtype=np.int64)
    pos = {int(v): k for k, v in enumerate(ids.tolist())}
    by_name: dict[str, int] = {}
    shared: set[str] = set()
    for k, nm in enumerate(names):
        key = str(nm).strip().casefold()
        if not key:
            continue
        if key in by_name:
            shared.add(str(nm))
        by_name[key] = k
    internal_ids = ids[np.asarray(internal, dtype=bool)]
    mat = np.zeros((ids.size, ids.size))

    def zone(value: Any, what: str, line: int) -> int:
        text = str(value).strip()
        try:
            v = float(text)
            if math.isfinite(v) and v == int(v) and int(v) in pos:
                return pos[int(v)]
        except ValueError:
            pass
        key = text.casefold()
        if key in by_name:
            if text in shared or key in {s.casefold() for s in shared}:
                raise InvalidDemandError(
                    f"{p}, line {line}: {what} {text!r} names more than one zone; use ids"
                )
            return by_name[key]
        raise InvalidDemandError(
            f"{p}, line {line}: {what} {text!r} is not a zone id or name; zones are "
            f"{_describe_ids(internal_ids)}"
            + (
                f", gateways {_describe_ids(ids[~np.asarray(internal, dtype=bool)])}"
                if ids.size > internal_ids.size
                else ""
            )
        )

    for r, (o, d, t) in enumerate(
        zip(df["origin"].tolist(), df["destination"].tolist(), df["trips"].tolist(), strict=True)
    ):
        line = r + 2
        try:
            tv = float(t)
        except (TypeError, ValueError):
            raise FileFormatError(p, f"cannot read trips {t!r} as a number", line=line) from None
        if not math.isfinite(tv) or tv < 0:
            raise FileFormatError(p, f"trips {t} must be a number >= 0", line=line, field="trips")
        mat[zone(o, "origin", line), zone(d, "destination", line)] += tv
    return Demand(
        zone_ids=ids.copy(),
        zone_node_ids=np.asarray(zone_node_ids, dtype=np.int64).copy(),
        matrix=mat,
        internal=np.asarray(internal, dtype=bool).copy(),
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
