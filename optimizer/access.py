"""Access to the trunk network: every settlement's time to it, against a target.

A settlement (an internal zone of a regional study, :mod:`networks.settlements`) should
reach the trunk network of each class within a target time. This module turns that into
figures of a plan, all measured on the plan's link costs at equilibrium (what drivers
experience), from the settlement's centroid:

Access time ``t_ik`` (minutes)
    The shortest path time from settlement ``i`` to the nearest *target* of class ``k``.
    The targets of class ``k`` are the access points (:mod:`networks.access`) of kind ``k``
    or of a higher kind: an expressway junction also gives access to the trunk roads
    (``expressway`` > ``trunk`` > ``primary``). A class with no access point of its own in
    the area falls back to the gateways (:mod:`networks.gateways`) where roads of that
    class leave the area, with a warning; with neither, it is measured to the higher
    kinds' points (warned too), and a class with no target at all is left out.
Score ``s_i = sum_k [t_ik + P max(0, t_ik - T_k)]`` (minutes)
    ``T_k`` the target of class ``k`` (:data:`ACCESS_TARGET_MINUTES`), ``P`` the penalty
    per minute beyond it (:data:`ACCESS_PENALTY`): the score keeps improving once the
    targets are met, and improves ``1 + P`` times faster for settlements beyond them.

The figures (:func:`access_figures`) are

* ``access``: the population-weighted mean score, ``sum_i w_i s_i / sum_i w_i`` (the
  ``access`` objective of :mod:`optimizer.problem`);
* ``access_worst``: the worst settlement's score, ``max_i s_i`` (the equity term, minimax);
* ``access_excess``: ``max_i max_k (t_ik - T_k)``, minutes beyond target of the worst-off
  settlement and class (at most 0 when every settlement meets every target: the
  ``require_access`` rule);
* ``access_<k>``: the population-weighted mean ``t_ik``; ``worst_<k>``: ``max_i t_ik``;
* ``beyond_<k>``: the population beyond the target of class ``k``; ``beyond_target``: the
  population beyond any target (persons);
* ``hansen``: Hansen (1959) accessibility to the other settlements' population,
  ``A_i = sum_{j != i} w_j exp(-beta t_ij)``, population-weighted mean (persons);
  ``beta`` per minute (:data:`HANSEN_BETA`).

Every figure is non-decreasing in every link cost, so free-flow times on a network with
more links give lower bounds (the branch and bound of :mod:`optimizer.search` relies on
it).

Reference: W. G. Hansen (1959), "How accessibility shapes land use", Journal of the
American Institute of Planners 25(2), 73-76.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from networks.access import ACCESS_KINDS

from .errors import OptionError

__all__ = [
    "ACCESS_PENALTY",
    "ACCESS_TARGETS_BY_PROFILE",
    "ACCESS_TARGET_MINUTES",
    "GATEWAY_ACCESS_KIND",
    "HANSEN_BETA",
    "AccessTargets",
    "access_figures",
    "access_targets",
    "access_times",
    "check_access_targets",
    "default_access_targets",
    "settlement_rows",
]

log = logging.getLogger(__name__)

#: Target time (minutes) from every settlement to the trunk network of each class, by road
#: profile. Planning defaults of the kind regional plans set, not a national norm: "every
#: county seat within 30 minutes of an expressway interchange" is the common Chinese
#: provincial goal (the German RIN 2008 reach of a motorway junction is 30 minutes too), and
#: 15 minutes to the national roads for every town. The national roads are OSM ``trunk``
#: in China (G roads) but mostly ``primary`` in Europe (German Bundesstrassen), so the
#: ``generic`` profile targets ``primary``. Set them per study (``--access-target``).
ACCESS_TARGETS_BY_PROFILE: Mapping[str, Mapping[str, float]] = {
    "generic": {"expressway": 30.0, "primary": 15.0},
    "china": {"expressway": 30.0, "trunk": 15.0},
    "china-mountain": {"expressway": 30.0, "trunk": 15.0},
}
#: The targets of the ``china`` profile, the default where no profile is known.
ACCESS_TARGET_MINUTES: Mapping[str, float] = ACCESS_TARGETS_BY_PROFILE["china"]


def default_access_targets(profile: str | None) -> dict[str, float]:
    """The default targets of a road profile (:data:`ACCESS_TARGETS_BY_PROFILE`)."""
    return dict(ACCESS_TARGETS_BY_PROFILE.get(str(profile), ACCESS_TARGET_MINUTES))


#: Extra objective minutes per minute beyond a target (dimensionless): a minute beyond the
#: target counts ``1 + ACCESS_PENALTY`` = 3 times. A planning default; 0 makes the objective
#: the plain population-weighted time.
ACCESS_PENALTY = 2.0

#: Distance decay of the Hansen accessibility (per minute): exp(-0.1 t) halves every 7
#: minutes, the order of magnitude of car trips between small towns (the gravity model's
#: own deterrence of :mod:`networks.gravity` is the better choice in a calibrated study).
HANSEN_BETA = 0.1

#: The access kind a gateway serves, by the class of the road it sits on (the fallback of a
#: class without access points).
GATEWAY_ACCESS_KIND: Mapping[str, str] = {
    "motorway": "expressway",
    "motorway_link": "expressway",
    "trunk": "trunk",
    "trunk_link": "trunk",
    "primary": "primary",
    "primary_link": "primary",
}


def check_access_targets(targets: Mapping[str, float] | None) -> dict[str, float]:
    """Targets by access kind (minutes), checked: known kinds, positive finite times."""
    if targets is None:
        return dict(ACCESS_TARGET_MINUTES)
    out: dict[str, float] = {}
    for kind, minutes in targets.items():
        if kind not in ACCESS_KINDS:
            raise OptionError(
                "access_target",
                f"unknown access class {kind!r}; use {', '.join(ACCESS_KINDS)} "
                "(e.g. expressway=30,trunk=15)",
            )
        try:
            v = float(minutes)
        except (TypeError, ValueError):
            raise OptionError("access_target", f"{kind}={minutes!r} is not a number") from None
        if not (math.isfinite(v) and v > 0):
            raise OptionError("access_target", f"{kind}={minutes} must be minutes > 0")
        out[kind] = v
    if not out:
        raise OptionError("access_target", "give at least one target, e.g. expressway=30")
    return {k: out[k] for k in ACCESS_KINDS if k in out}


@dataclass(frozen=True, eq=False)
class AccessTargets:
    """The settlements, the access classes with a target, and where each class is reached.

    Attributes
    ----------
    kinds : tuple of str
        Access classes with a target, highest first.
    minutes : float64 array (c,)
        Target of each class (minutes).
    nodes : tuple of int64 arrays
        Node indices of the targets of each class.
    names : tuple of str
        Settlement names (in the order of the demand's internal zones).
    population : float64 array (s,)
        Settlement weights (persons; the zones' activity).
    penalty : float
        Objective minutes per minute beyond a target.
    beta : float
        Hansen distance decay (per minute).
    notes : tuple of str
        Fallbacks taken (each was logged as a warning).
    """

    kinds: tuple[str, ...]
    minutes: np.ndarray
    nodes: tuple[np.ndarray, ...]
    names: tuple[str, ...]
    population: np.ndarray
    penalty: float = ACCESS_PENALTY
    beta: float = HANSEN_BETA
    notes: tuple[str, ...] = ()

    def target_of(self, kind: str) -> float:
        """The target (minutes) of a class."""
        return float(self.minutes[self.kinds.index(kind)])

    def summary(self) -> dict[str, Any]:
        """JSON-ready terms (the plan's ``settings.access``)."""
        return {
            "targets_min": {k: float(m) for k, m in zip(self.kinds, self.minutes, strict=True)},
            "penalty_per_min": self.penalty,
            "hansen_beta_per_min": self.beta,
            "target_points": {k: int(n.size) for k, n in zip(self.kinds, self.nodes, strict=True)},
            "notes": list(self.notes),
        }


def access_targets(
    access_nodes: np.ndarray,
    access_kind: np.ndarray,
    gateway_nodes: np.ndarray,
    *,
    population: np.ndarray,
    targets: Mapping[str, float] | None = None,
    gateway_classes: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    penalty: float = ACCESS_PENALTY,
    beta: float = HANSEN_BETA,
) -> AccessTargets:
    """Where each class with a target is reached (see the module docstring).

    Parameters
    ----------
    access_nodes, access_kind
        Access points as node indices and their kinds (:class:`~optimizer.connectivity.ZoneRoles`).
    gateway_nodes
        The gateways' node indices, and ``gateway_classes`` the class of the road each sits
        on (the fallback; without them gateways are not used).
    population
        Weight per settlement (persons).
    targets
        Minutes by class (default :data:`ACCESS_TARGET_MINUTES`; see
        :func:`default_access_targets` for a profile's).
    names
        Settlement names (default ``zone 1``, ``zone 2``, ...).

    Raises
    ------
    OptionError
        For bad targets or penalty, or when no class has anywhere to be reached.
    """
    want = check_access_targets(targets)
    if not (math.isfinite(penalty) and penalty >= 0):
        raise OptionError("access_penalty", f"{penalty} must be a number >= 0")
    if not (math.isfinite(beta) and beta >= 0):
        raise OptionError("hansen_beta", f"{beta} must be a number >= 0 (per minute)")
    a_nodes = np.asarray(access_nodes, dtype=np.int64)
    a_kind = np.asarray(access_kind, dtype=object)
    g_nodes = np.asarray(gateway_nodes, dtype=np.int64)
    classes = [""] * g_nodes.size if gateway_classes is None else list(gateway_classes)
    g_kind = np.array([GATEWAY_ACCESS_KIND.get(str(c), "") for c in classes], dtype=object)
    kinds, minutes, nodes, notes = [], [], [], []
    for kind, t in want.items():
        rank = ACCESS_KINDS.index(kind)
        higher = [k for k in ACCESS_KINDS[: rank + 1]]
        own = a_nodes[a_kind == kind]
        pts = a_nodes[np.isin(a_kind, higher)]
        if own.size == 0:
            gates = g_nodes[g_kind == kind] if g_kind.size == g_nodes.size else g_nodes[:0]
            if gates.size:
                note = (
                    f"no {kind} access point in the area: the {kind} target ({t:g} min) is "
                    f"measured to the {gates.size} gateway(s) where {kind} roads leave it"
                    + (" and to the higher classes' access points" if pts.size else "")
                )
                pts = np.concatenate([pts, gates])
            elif pts.size:
                note = (
                    f"no {kind} access point or {kind} road in the area: the {kind} target "
                    f"({t:g} min) is measured to the {pts.size} access point(s) of higher "
                    "classes"
                )
            else:
                note = (
                    f"no {kind} access point, no {kind} road leaving the area and no higher "
                    f"class: the {kind} target ({t:g} min) is left out"
                )
            log.warning(note)
            notes.append(note)
        if pts.size == 0:
            continue
        kinds.append(kind)
        minutes.append(t)
        nodes.append(np.unique(pts))
    if not kinds:
        raise OptionError(
            "access_target",
            "the area has no access point to the trunk network and no trunk road leaving it, "
            f"so no target of {', '.join(want)} can be measured; use another objective or "
            "a larger area",
        )
    pop = np.asarray(population, dtype=np.float64)
    names_t = (
        tuple(str(n) for n in names)
        if names is not None and len(names) == pop.size
        else tuple(f"zone {k + 1}" for k in range(pop.size))
    )
    return AccessTargets(
        tuple(kinds),
        np.asarray(minutes, dtype=np.float64),
        tuple(nodes),
        names_t,
        pop,
        float(penalty),
        float(beta),
        tuple(notes),
    )


def access_times(dist: np.ndarray, targets: AccessTargets) -> np.ndarray:
    """``t_ik``: settlements x classes (minutes), from settlement-to-node times ``dist``."""
    out = np.empty((dist.shape[0], len(targets.kinds)))
    for c, nodes in enumerate(targets.nodes):
        out[:, c] = dist[:, nodes].min(axis=1)
    return out


def _scores(times: np.ndarray, targets: AccessTargets) -> np.ndarray:
    excess = np.maximum(times - targets.minutes[None, :], 0.0)
    return (times + targets.penalty * excess).sum(axis=1)


def access_figures(
    times: np.ndarray, targets: AccessTargets, between: np.ndarray | None = None
) -> dict[str, float]:
    """The access figures of the module docstring.

    Parameters
    ----------
    times
        ``t_ik`` (:func:`access_times`).
    between
        Times between the settlements (s x s, minutes), for ``hansen``; left out without.
    """
    w = targets.population
    total = float(w.sum())
    if times.shape[0] == 0 or total <= 0:
        return {}
    s = _scores(times, targets)
    excess = times - targets.minutes[None, :]
    out = {
        "access": float(np.sum(w * s) / total) if np.isfinite(s).all() else math.inf,
        "access_worst": float(s.max()),
        "access_excess": float(excess.max()),
    }
    beyond_any = np.zeros(times.shape[0], dtype=bool)
    for c, kind in enumerate(targets.kinds):
        t = times[:, c]
        out[f"access_{kind}"] = float(np.sum(w * t) / total) if np.isfinite(t).all() else math.inf
        out[f"worst_{kind}"] = float(t.max())
        beyond = t > targets.minutes[c]
        beyond_any |= beyond
        out[f"beyond_{kind}"] = float(w[beyond].sum())
    out["beyond_target"] = float(w[beyond_any].sum())
    if between is not None and between.shape == (w.size, w.size):
        decay = np.exp(-targets.beta * np.where(np.isfinite(between), between, np.inf))
        np.fill_diagonal(decay, 0.0)
        out["hansen"] = float(np.sum(w * (decay @ w)) / total)
    return out


def settlement_rows(
    before: np.ndarray, after: np.ndarray, targets: AccessTargets
) -> list[dict[str, Any]]:
    """One row per settlement: name, population, time to each class before and after.

    ``within_target`` says whether every class is within its target after the plan (and
    ``within_target_before`` before it).
    """
    rows = []
    for i, name in enumerate(targets.names):
        row: dict[str, Any] = {"name": name, "population": float(targets.population[i])}
        for c, kind in enumerate(targets.kinds):
            row[f"{kind}_min_before"] = _num(before[i, c])
            row[f"{kind}_min_after"] = _num(after[i, c])
            row[f"{kind}_target_min"] = float(targets.minutes[c])
        row["within_target_before"] = bool(np.all(before[i] <= targets.minutes))
        row["within_target"] = bool(np.all(after[i] <= targets.minutes))
        rows.append(row)
    return rows


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None
