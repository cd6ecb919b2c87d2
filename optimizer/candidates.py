"""Candidate road upgrades: new links, widenings and class or speed upgrades, with costs.

A :class:`CandidateSet` holds an *extended* network: the existing links followed by every
link that some candidate could build. A plan (a yes/no choice per candidate) opens the new
links it builds and changes the attributes of the links it upgrades; links of unbuilt
candidates are closed. Every plan therefore shares one link indexing, so equilibrium
solves of neighbouring plans warm-start from each other.

Effects are monotone: an upgrade may raise capacity (a factor >= 1) and lower free-flow
time, never the reverse. This is what makes the optimistic network of
:meth:`CandidateSet.optimistic` a valid relaxation for the search's bounds.

Candidate sets come from a network-design instance (:func:`from_instance`), from a file
(:mod:`optimizer.candidate_files`) or generated (:mod:`optimizer.generate`); the private
helpers at the end of this module are what those readers and the generator share about a
network's links and units (time per length and speed, road profile, reverse links).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from networks.network import Network
from networks.roads import LINK_TYPE, PROFILES, get_profile

from .errors import InvalidCandidatesError

__all__ = ["KINDS", "Candidate", "CandidateSet", "fits_budget", "from_instance"]

KINDS = ("new_link", "widen", "upgrade")
#: attributes a candidate may scale (factor >= 1) or set (new value <= old for time)
SCALABLE = ("capacity", "lanes")
SETTABLE = ("free_flow_time", "speed")
#: A plan fits a budget up to this relative slack (plus :data:`BUDGET_ABS_SLACK`), so that
#: sums of float costs that equal the budget on paper are not refused for rounding.
BUDGET_REL_SLACK = 1e-12
#: Absolute slack of the budget test, in the candidates' cost unit.
BUDGET_ABS_SLACK = 1e-9


def fits_budget(cost: Any, budget: float) -> Any:
    """Whether a total ``cost`` fits ``budget`` (same unit), up to rounding of float sums.

    The one budget test of roadopt: the search, the enumeration, the master problem's
    cheap check and :meth:`CandidateSet.is_feasible` all call it. ``cost`` may be an array
    (one answer per entry).
    """
    return cost <= budget * (1 + BUDGET_REL_SLACK) + BUDGET_ABS_SLACK


@dataclass(frozen=True, eq=False)
class Candidate:
    """One yes/no upgrade option.

    Attributes
    ----------
    id : str
        Unique name (shown in reports and plan files).
    kind : str
        ``new_link``, ``widen`` or ``upgrade``.
    cost : float
        Building cost in the set's cost unit.
    links : int64 array
        Positions, in the extended network, of the links the candidate builds
        (``new_link``) or changes (``widen``, ``upgrade``).
    scale : mapping str -> float64 array
        Attribute factors (``capacity``, ``lanes``), aligned with ``links``; each >= 1.
    set : mapping str -> float64 array
        New attribute values (``free_flow_time`` no higher, ``speed`` no lower than now).
    road_class : str or None
        Road class after the upgrade (reports only).
    group : str or None
        Mutually exclusive group: at most one candidate of a group is chosen.
    requires : tuple of str
        Candidates that must be chosen too (for example: widen only a built link).
    label : str
        A description for people.
    """

    id: str
    kind: str
    cost: float
    links: np.ndarray
    scale: Mapping[str, np.ndarray] = field(default_factory=dict)
    set: Mapping[str, np.ndarray] = field(default_factory=dict)
    road_class: str | None = None
    group: str | None = None
    requires: tuple[str, ...] = ()
    label: str = ""

    def summary(self, network: Network) -> dict[str, Any]:
        """A JSON-ready description with external node ids for single-road candidates."""
        ids = network.node_ids
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "cost": float(self.cost),
            "label": self.label or self.id,
        }
        if len(self.links):
            a = int(self.links[0])
            out["init_node"] = int(ids[network.init[a]])
            out["term_node"] = int(ids[network.term[a]])
            out["links"] = [int(network.link_ids[k]) for k in self.links]
            out["length"] = float(network.length[self.links].max())
        if self.group:
            out["group"] = self.group
        if self.requires:
            out["requires"] = list(self.requires)
        return out


@dataclass(frozen=True, eq=False)
class CandidateSet:
    """Candidates over one extended network.

    Attributes
    ----------
    network : Network
        The existing links (positions ``0 .. num_base_links - 1``) followed by every
        candidate new link.
    num_base_links : int
        How many links exist today.
    candidates : tuple of Candidate
    cost_unit : str
        Unit of the costs (and of budgets).
    excluded : tuple of dict
        Proposals a generator left out, each with ``id``, ``source``, ``kind``, ``label``,
        ``cost`` and ``reason`` (the plan document lists them); empty for hand-made sets.
    """

    network: Network
    num_base_links: int
    candidates: tuple[Candidate, ...]
    cost_unit: str = "currency unit"
    excluded: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        _validate(self)

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.candidates)

    @property
    def ids(self) -> list[str]:
        """Candidate ids, in order."""
        return [c.id for c in self.candidates]

    @property
    def costs(self) -> np.ndarray:
        """Cost of each candidate (the set's cost unit), float64 array (n,)."""
        return np.array([c.cost for c in self.candidates], dtype=np.float64)

    @property
    def total_cost(self) -> float:
        """Cost of all candidates together (the set's cost unit)."""
        return float(self.costs.sum())

    def index(self, cid: str) -> int:
        """Position of the candidate with id ``cid`` (KeyError if there is none)."""
        for k, c in enumerate(self.candidates):
            if c.id == cid:
                return k
        raise KeyError(f"no candidate '{cid}'")

    def groups(self) -> dict[str, list[int]]:
        """Exclusive groups: name -> candidate positions."""
        out: dict[str, list[int]] = {}
        for k, c in enumerate(self.candidates):
            if c.group:
                out.setdefault(c.group, []).append(k)
        return out

    def prerequisites(self) -> list[tuple[int, int]]:
        """Pairs ``(k, r)``: choosing candidate ``k`` requires candidate ``r``."""
        pos = {c.id: k for k, c in enumerate(self.candidates)}
        return [(k, pos[r]) for k, c in enumerate(self.candidates) for r in c.requires]

    def as_plan(self, chosen: Iterable[int | str] | np.ndarray) -> np.ndarray:
        """A boolean plan vector from candidate positions, ids or a boolean array."""
        arr = np.asarray(chosen if not isinstance(chosen, (set, frozenset)) else list(chosen))
        if arr.dtype == bool and arr.shape == (len(self),):
            return arr.copy()
        plan = np.zeros(len(self), dtype=bool)
        for v in arr.tolist():
            plan[self.index(v) if isinstance(v, str) else int(v)] = True
        return plan

    def is_feasible(self, plan: np.ndarray, budget: float) -> bool:
        """Budget, exclusive groups and prerequisites all respected."""
        plan = np.asarray(plan, dtype=bool)
        if not fits_budget(float(self.costs[plan].sum()), budget):
            return False
        if any(plan[g].sum() > 1 for g in self.groups().values()):
            return False
        return all(not plan[k] or plan[r] for k, r in self.prerequisites())

    # ------------------------------------------------------------------ networks
    def _new_link_mask(self) -> np.ndarray:
        mask = np.zeros(self.network.num_links, dtype=bool)
        mask[self.num_base_links :] = True
        return mask

    def apply(self, plan: np.ndarray) -> tuple[Network, np.ndarray]:
        """The network of a plan and the mask of its closed (unbuilt) links.

        Chosen candidates act in their order: sets first, then scale factors multiply.
        """
        plan = np.asarray(plan, dtype=bool)
        closed = self._new_link_mask()
        arrays = {a: getattr(self.network, a).copy() for a in (*SCALABLE, *SETTABLE)}
        changed = False
        for k in np.flatnonzero(plan):
            c = self.candidates[k]
            if c.kind == "new_link":
                closed[c.links] = False
        for k in np.flatnonzero(plan):
            c = self.candidates[k]
            for attr, vals in c.set.items():
                arrays[attr][c.links] = (
                    np.minimum(arrays[attr][c.links], vals)
                    if (attr == "free_flow_time")
                    else np.maximum(arrays[attr][c.links], vals)
                )
                changed = True
        for k in np.flatnonzero(plan):
            c = self.candidates[k]
            for attr, vals in c.scale.items():
                arrays[attr][c.links] *= vals
                changed = True
        if not changed:
            return self.network, closed
        return self.network.replace(validate=False, **arrays), closed

    def optimistic(self, fixed_in: np.ndarray, free: np.ndarray) -> tuple[Network, np.ndarray]:
        """A network at least as good as every plan between ``fixed_in`` and ``fixed_in|free``.

        Every new link of those candidates is open, every capacity factor applied and the
        lowest free-flow time taken. Because system-optimal travel time and free-flow path
        times only fall as links open, capacity grows and free-flow times shrink, objective
        values on this network bound every such plan from below.
        """
        both = np.asarray(fixed_in, dtype=bool) | np.asarray(free, dtype=bool)
        return self.apply(both)

    def summary(self) -> dict[str, Any]:
        """Counts by kind, total cost and cost unit, JSON-ready."""
        kinds = {k: sum(c.kind == k for c in self.candidates) for k in KINDS}
        out: dict[str, Any] = {
            "candidates": len(self),
            "total_cost": self.total_cost,
            "kinds": kinds,
            "cost_unit": self.cost_unit,
        }
        if self.excluded:
            out["excluded"] = [dict(r) for r in self.excluded]
        return out


def _validate(cs: CandidateSet) -> None:
    net = cs.network
    m, m0 = net.num_links, cs.num_base_links
    if not 0 <= m0 <= m:
        raise InvalidCandidatesError("num_base_links must be between 0 and the link count")
    seen: set[str] = set()
    builders: dict[int, str] = {}
    for c in cs.candidates:
        where = f"candidate '{c.id}'"
        if not c.id or c.id in seen:
            raise InvalidCandidatesError(f"{where}: ids must be unique and non-empty")
        seen.add(c.id)
        if c.kind not in KINDS:
            raise InvalidCandidatesError(
                f"{where}: unknown kind '{c.kind}'; use one of {', '.join(KINDS)}"
            )
        if not np.isfinite(c.cost) or c.cost < 0:
            raise InvalidCandidatesError(f"{where}: cost {c.cost} must be a number >= 0")
        links = np.asarray(c.links)
        if links.size == 0 or links.min() < 0 or links.max() >= m:
            raise InvalidCandidatesError(f"{where}: links must be positions in 0..{m - 1}")
        if c.kind == "new_link":
            if links.min() < m0:
                raise InvalidCandidatesError(
                    f"{where}: a new link must be a link appended after the existing ones"
                )
            for a in links.tolist():
                if a in builders:
                    raise InvalidCandidatesError(
                        f"{where}: link {a} is built by '{builders[a]}' too"
                    )
                builders[a] = c.id
        for attr, vals in c.scale.items():
            if attr not in SCALABLE or np.shape(vals) != links.shape:
                raise InvalidCandidatesError(
                    f"{where}: scale '{attr}' must be one of {SCALABLE} with a factor per link"
                )
            if np.any(~np.isfinite(vals)) or np.any(np.asarray(vals) < 1):
                raise InvalidCandidatesError(
                    f"{where}: {attr} factors must be >= 1 (an upgrade may not reduce capacity)"
                )
        for attr, vals in c.set.items():
            if attr not in SETTABLE or np.shape(vals) != links.shape:
                raise InvalidCandidatesError(
                    f"{where}: set '{attr}' must be one of {SETTABLE} with a value per link"
                )
            vals = np.asarray(vals, dtype=float)
            if np.any(~np.isfinite(vals)) or np.any(vals < 0):
                raise InvalidCandidatesError(f"{where}: {attr} values must be >= 0")
    ids = {c.id for c in cs.candidates}
    groups: dict[str, str] = {c.id: c.group for c in cs.candidates if c.group}
    for c in cs.candidates:
        for r in c.requires:
            if r not in ids:
                raise InvalidCandidatesError(
                    f"candidate '{c.id}' requires unknown candidate '{r}'"
                )
            if r == c.id or (c.group and groups.get(r) == c.group):
                raise InvalidCandidatesError(
                    f"candidate '{c.id}' requires '{r}', which it excludes (same group or "
                    "itself): contradictory prerequisites"
                )
    # cycles in prerequisites are contradictory only with exclusivity; a cycle of
    # requirements just means "all or none", which is legal.
    for k, c in enumerate(cs.candidates):
        if c.kind != "new_link":
            new_targets = [int(a) for a in np.asarray(c.links) if a >= m0]
            for a in new_targets:
                b = builders.get(a)
                if b is None:
                    raise InvalidCandidatesError(
                        f"candidate '{c.id}' changes new link {a} that no candidate builds"
                    )
                if b not in c.requires:
                    raise InvalidCandidatesError(
                        f"candidate '{c.id}' changes a link that '{b}' builds; add "
                        f"requires = '{b}'"
                    )
        del k


def extend_network(base: Network, new: Mapping[str, Any]) -> Network:
    """Append links to a network (``new`` holds per-link arrays with internal node indices).

    Keys: ``init``, ``term`` (internal node indices), ``free_flow_time``, ``capacity`` and
    optionally ``alpha``, ``beta``, ``length``, ``toll``, ``speed``, ``lanes``,
    ``link_type``, ``road_class``, ``link_ids``, ``geometry``, ``osm_way_ids``.
    """
    k = len(np.asarray(new["init"]))
    if k == 0:
        return base

    def col(name: str, default: Any) -> np.ndarray:
        base_arr = getattr(base, name)
        add = np.asarray(new.get(name, default))
        add = np.broadcast_to(add, (k,)) if add.ndim == 0 else add
        return np.concatenate([base_arr, add.astype(base_arr.dtype)])

    extra = dict(base.extra)
    for key in ("geometry", "osm_way_ids", "osm_way_dirs", "name", "ref"):
        if key in base.extra and len(base.extra[key]) == base.num_links:
            vals = list(new.get(key, [None] * k))
            extra[key] = list(base.extra[key]) + vals
    start = int(base.link_ids.max()) + 1 if base.num_links else 1
    return base.replace(
        validate=True,
        init=col("init", 0),
        term=col("term", 0),
        free_flow_time=col("free_flow_time", 0.0),
        capacity=col("capacity", 1.0),
        alpha=col("alpha", 0.15),
        beta=col("beta", 4.0),
        length=col("length", 0.0),
        toll=col("toll", 0.0),
        speed=col("speed", 0.0),
        lanes=col("lanes", np.nan),
        link_type=col("link_type", 0),
        road_class=np.concatenate(
            [base.road_class, np.asarray(new.get("road_class", [""] * k), dtype=object)]
        ),
        link_ids=np.concatenate(
            [
                base.link_ids,
                np.asarray(new.get("link_ids", np.arange(start, start + k)), dtype=np.int64),
            ]
        ),
        extra=extra,
    )


def from_instance(network: Network, *, cost_unit: str = "cost unit") -> CandidateSet:
    """Candidates of a network-design instance: each candidate link its own yes/no choice.

    The instance's candidate links (``network.candidates``, read from a TNTP file with a
    ``Cost`` column and ``<NUMBER OF NEW LINKS>``) are appended to the network; candidate
    ``k`` builds link ``num_links + k`` and is named by its file row and end nodes.
    """
    cl = network.candidates
    if cl is None or cl.num_candidates == 0:
        raise InvalidCandidatesError(
            f"network '{network.name}' has no candidate links; give a candidates file"
        )
    base = network.replace(candidates=None, validate=False)
    ext = extend_network(
        base,
        {
            "init": cl.init,
            "term": cl.term,
            "free_flow_time": cl.free_flow_time,
            "capacity": cl.capacity,
            "alpha": cl.alpha,
            "beta": cl.beta,
            "length": cl.length,
            "toll": cl.toll,
            "speed": cl.speed,
            "link_type": cl.link_type,
            "link_ids": cl.link_ids,
        },
    )
    m0 = base.num_links
    ids = network.node_ids
    cands = tuple(
        Candidate(
            id=f"L{int(cl.link_ids[k])}",
            kind="new_link",
            cost=float(cl.cost[k]),
            links=np.array([m0 + k], dtype=np.int64),
            label=f"new link {ids[cl.init[k]]}->{ids[cl.term[k]]} (row {cl.link_ids[k]})",
        )
        for k in range(cl.num_candidates)
    )
    return CandidateSet(ext, m0, cands, cost_unit=cost_unit)


def candidate_table(cs: CandidateSet) -> list[dict[str, Any]]:
    """One JSON-ready row per candidate."""
    return [c.summary(cs.network) for c in cs.candidates]


def plan_ids(cs: CandidateSet, plan: Sequence[bool] | np.ndarray) -> list[str]:
    return [cs.candidates[k].id for k in np.flatnonzero(np.asarray(plan, dtype=bool))]


# ---------------------------------------------------------------------- network facts
# What the candidate readers (optimizer._candidate_rows, optimizer.candidate_files) and the
# generator (optimizer.generate) both need to know about a network's links and units.
_TIME_PER_HOUR = {"min": 60.0, "minute": 60.0, "minutes": 60.0, "h": 1.0, "hour": 1.0}
_TIME_PER_HOUR.update({"hours": 1.0, "s": 3600.0, "sec": 3600.0, "seconds": 3600.0})
_LENGTH_SPEED = {("km", "km/h"), ("mi", "mph"), ("mi", "mi/h"), ("m", "m/h")}


def _time_factor(network: Network) -> float | None:
    """``f`` such that time = length / speed * f in the network's units; None if unknown."""
    u = network.units
    if (u.length, u.speed) not in _LENGTH_SPEED:
        return None
    return _TIME_PER_HOUR.get(u.time)


def _road_profile(network: Network, profile: Any = None) -> Any:
    """The road profile for class defaults: given, the network's own, generic, or None.

    A network built from OSM records its profile in ``extra["profile"]``; another network
    whose units are km and km/h and whose classes are OSM classes gets the generic profile.
    """
    if profile is not None:
        return get_profile(profile)
    name = network.extra.get("profile")
    if name in PROFILES:
        return PROFILES[name]
    if (network.units.length, network.units.speed) == ("km", "km/h") and any(
        c in PROFILES["generic"].table for c in set(network.road_class.tolist())
    ):
        return PROFILES["generic"]
    return None


def _is_osm(network: Network) -> bool:
    return "osm_way_ids" in network.extra


def _way_ids(network: Network, link: int) -> tuple[int, ...]:
    ways = network.extra.get("osm_way_ids")
    if ways is None or len(ways) != network.num_links or ways[link] is None:
        return ()
    return tuple(int(w) for w in ways[link])


def _link_type(network: Network, road_class: str) -> int:
    if not _is_osm(network):
        return 0
    return LINK_TYPE.get(road_class, 0)


def _straight_line(network: Network, a: int, b: int) -> Any:
    import shapely

    return shapely.LineString(
        [(float(network.x[a]), float(network.y[a])), (float(network.x[b]), float(network.y[b]))]
    )


def _metres_per_crs_unit(crs: str | None) -> float | None:
    """Metres per coordinate unit of a projected CRS (1 when unknown); None if geographic."""
    if crs is None:
        return 1.0
    import pyproj

    c = pyproj.CRS.from_user_input(crs)
    if c.is_geographic:
        return None
    try:
        return float(c.axis_info[0].unit_conversion_factor)
    except (IndexError, AttributeError):
        return 1.0


def _reverse_links(
    network: Network, link: int, allowed: np.ndarray, *, exclude: Iterable[int] = ()
) -> list[int]:
    """Links ``term -> init`` of ``link`` among ``allowed`` (a mask), best match first.

    Same OSM ways first, then the same class; within those, the closest length.
    """
    a, b = int(network.init[link]), int(network.term[link])
    out = network.fs_links[network.fs_indptr[b] : network.fs_indptr[b + 1]]
    rev = [int(k) for k in out if network.term[k] == a and allowed[k] and k not in exclude]
    if len(rev) <= 1:
        return rev
    ways = _way_ids(network, link)
    same = [k for k in rev if ways and _way_ids(network, k) == ways]
    if not same:
        same = [k for k in rev if network.road_class[k] == network.road_class[link]]
    pool = same or rev
    return sorted(pool, key=lambda k: (abs(network.length[k] - network.length[link]), k))
