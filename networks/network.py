"""The canonical network model: one array-based object every part of roadopt works on.

Links are identified by position (the link id, 0-based); their external ids (the 1-based row
of a TNTP file, an OSM-derived id) live in ``link_ids``. Parallel links between the same two
nodes are legal. Nodes are 0-based contiguous internal indices; external node ids (TNTP node
numbers, OSM node ids) live in ``node_ids``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InvalidNetworkError

__all__ = ["CandidateLinks", "Network", "Units", "forward_star"]

_LINK_FLOAT_FIELDS = (
    "free_flow_time",
    "capacity",
    "alpha",
    "beta",
    "length",
    "toll",
    "speed",
    "lanes",
)


@dataclass(frozen=True)
class Units:
    """Units of a network's arrays, recorded as plain words.

    A TNTP network keeps its file's own units (so that published objectives match to the
    digit): for example SiouxFalls' free-flow times are in 0.01 hours and Chicago-Sketch's
    lengths are in miles. Networks built from OpenStreetMap use minutes, km, km/h and
    vehicles per hour.
    """

    time: str = "file units"
    length: str = "file units"
    speed: str = "file units"
    flow: str = "file units"
    cost: str = "file units"

    def as_dict(self) -> dict[str, str]:
        """The units as a plain dict (quantity -> unit)."""
        return dataclasses.asdict(self)


OSM_UNITS = Units(time="min", length="km", speed="km/h", flow="veh/h", cost="currency unit")


def forward_star(tail: np.ndarray, num_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR star of links grouped by ``tail`` node.

    Returns ``indptr`` (``num_nodes + 1``) and ``links`` such that the links leaving node
    ``i`` are ``links[indptr[i]:indptr[i+1]]``, in increasing link id (a stable sort).
    """
    order = np.argsort(tail, kind="stable").astype(np.int64)
    counts = np.bincount(tail, minlength=num_nodes)
    indptr = np.zeros(num_nodes + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, order


def _as_float(name: str, value: Any, m: int) -> np.ndarray:
    arr = np.ascontiguousarray(np.broadcast_to(np.asarray(value, dtype=np.float64), (m,)))
    arr = arr.copy()
    arr.setflags(write=False)
    return arr


def _as_int(value: Any, m: int) -> np.ndarray:
    arr = np.ascontiguousarray(np.broadcast_to(np.asarray(value, dtype=np.int64), (m,))).copy()
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class CandidateLinks:
    """Candidate new links of a network-design instance, each its own yes/no choice.

    Arrays are aligned: entry ``k`` is candidate ``k``. ``init`` and ``term`` are internal
    node indices of the network the candidates belong to.

    Attributes
    ----------
    init, term
        Internal tail and head node indices.
    free_flow_time, capacity, alpha, beta, length, toll, speed
        Link attributes in the network's units, as for existing links.
    link_type
        TNTP link type.
    cost
        Building cost, in the instance's cost unit.
    link_ids
        External ids (for TNTP instances, the 1-based row in the file, counted after the
        existing links).
    """

    init: np.ndarray
    term: np.ndarray
    free_flow_time: np.ndarray
    capacity: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    length: np.ndarray
    toll: np.ndarray
    speed: np.ndarray
    link_type: np.ndarray
    cost: np.ndarray
    link_ids: np.ndarray

    @property
    def num_candidates(self) -> int:
        """Number of candidate links."""
        return int(self.init.shape[0])

    def __len__(self) -> int:
        return self.num_candidates


@dataclass(frozen=True, eq=False)
class Network:
    """A directed road network with separable BPR link costs.

    The link travel time is ``free_flow_time * (1 + alpha * (flow / capacity) ** beta)``.
    Build one with :meth:`Network.from_links` (external node ids) or a reader
    (:func:`networks.tntp.read_net`, :mod:`networks.osm`); change one with
    :meth:`replace`, which re-validates.

    Attributes
    ----------
    node_ids : int64 array (n,)
        External node ids (TNTP numbers, OSM ids); position is the internal index.
    init, term : int64 arrays (m,)
        Internal tail and head node index of every link; the position is the link id.
    free_flow_time : float64 array (m,)
        Free-flow travel time (``units.time``); zero is allowed.
    capacity : float64 array (m,)
        Capacity (``units.flow``); must be positive wherever ``alpha > 0``.
    alpha, beta : float64 arrays (m,)
        BPR coefficient ``B`` and power. ``beta == 0`` gives a constant cost
        ``fft * (1 + alpha)`` (0**0 is 1).
    length : float64 array (m,)
        Link length (``units.length``).
    toll : float64 array (m,)
        Toll (``units.cost``).
    speed : float64 array (m,)
        Speed limit or free-flow speed (``units.speed``); 0 when unknown.
    lanes : float64 array (m,)
        Number of lanes, NaN when unknown.
    link_type : int64 array (m,)
        TNTP link type or a class code; 0 when unknown.
    road_class : object array (m,)
        Road class name (OSM ``highway`` value or similar), ``""`` when unknown.
    link_ids : int64 array (m,)
        External link ids (1-based file rows for TNTP).
    x, y : float64 arrays (n,)
        Node coordinates in ``crs``; NaN when unknown.
    crs : str or None
        Coordinate reference system of ``x``/``y`` (``"EPSG:4326"``, ...), None if unknown.
    no_thru : bool array (n,)
        Nodes that trips may start or end at but never pass through (TNTP
        ``<FIRST THRU NODE>``: every node numbered below it).
    units : Units
        Units of the arrays above.
    name : str
        A label for reports.
    candidates : CandidateLinks or None
        Candidate new links of a network-design instance.
    extra : mapping
        Optional per-link or per-node data that travels with the network (OSM way ids and
        geometries, source metadata). Per-link entries have length ``m``.
    """

    node_ids: np.ndarray
    init: np.ndarray
    term: np.ndarray
    free_flow_time: np.ndarray
    capacity: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    length: np.ndarray
    toll: np.ndarray
    speed: np.ndarray
    lanes: np.ndarray
    link_type: np.ndarray
    road_class: np.ndarray
    link_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    no_thru: np.ndarray
    crs: str | None = None
    units: Units = field(default_factory=Units)
    name: str = "network"
    candidates: CandidateLinks | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    # derived in __post_init__
    fs_indptr: np.ndarray = field(init=False, repr=False)
    fs_links: np.ndarray = field(init=False, repr=False)
    bs_indptr: np.ndarray = field(init=False, repr=False)
    bs_links: np.ndarray = field(init=False, repr=False)
    _index: dict[int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = int(np.asarray(self.node_ids).shape[0])
        m = int(np.asarray(self.init).shape[0])
        set_ = object.__setattr__
        set_(self, "node_ids", _as_int(self.node_ids, n))
        set_(self, "init", _as_int(self.init, m))
        set_(self, "term", _as_int(self.term, m))
        for name in _LINK_FLOAT_FIELDS:
            set_(self, name, _as_float(name, getattr(self, name), m))
        set_(self, "link_type", _as_int(self.link_type, m))
        set_(self, "link_ids", _as_int(self.link_ids, m))
        rc = np.empty(m, dtype=object)
        rc[:] = np.broadcast_to(np.asarray(self.road_class, dtype=object), (m,))
        rc.setflags(write=False)
        set_(self, "road_class", rc)
        set_(self, "x", _as_float("x", self.x, n))
        set_(self, "y", _as_float("y", self.y, n))
        nt = np.ascontiguousarray(np.broadcast_to(np.asarray(self.no_thru, dtype=bool), (n,)))
        nt = nt.copy()
        nt.setflags(write=False)
        set_(self, "no_thru", nt)
        set_(self, "extra", dict(self.extra))
        if m and (
            self.init.min() < 0
            or self.init.max() >= n
            or self.term.min() < 0
            or self.term.max() >= n
        ):
            raise InvalidNetworkError(
                f"network '{self.name}': link end nodes must be internal indices in [0, {n})"
            )
        fs_indptr, fs_links = forward_star(self.init, n)
        bs_indptr, bs_links = forward_star(self.term, n)
        for k, v in (
            ("fs_indptr", fs_indptr),
            ("fs_links", fs_links),
            ("bs_indptr", bs_indptr),
            ("bs_links", bs_links),
        ):
            v.setflags(write=False)
            set_(self, k, v)
        index = {int(v): i for i, v in enumerate(self.node_ids)}
        if len(index) != n:
            raise InvalidNetworkError(f"network '{self.name}': node ids are not unique")
        set_(self, "_index", index)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_links(
        cls,
        init: Any,
        term: Any,
        *,
        free_flow_time: Any,
        capacity: Any,
        alpha: Any = 0.15,
        beta: Any = 4.0,
        length: Any = 0.0,
        toll: Any = 0.0,
        speed: Any = 0.0,
        lanes: Any = np.nan,
        link_type: Any = 0,
        road_class: Any = "",
        link_ids: Any = None,
        node_ids: Any = None,
        x: Any = np.nan,
        y: Any = np.nan,
        no_thru: Any = False,
        crs: str | None = None,
        units: Units | None = None,
        name: str = "network",
        extra: Mapping[str, Any] | None = None,
        validate: bool = True,
    ) -> Network:
        """Build a network from links given by their external end-node ids.

        Parameters
        ----------
        init, term
            External node ids of each link's tail and head.
        node_ids
            All external node ids in the order of the internal index; by default the sorted
            distinct ids used by the links. ``x``, ``y`` and ``no_thru`` follow this order.
        link_ids
            External link ids; by default ``1..m`` (file rows).
        validate
            Run :meth:`validate` before returning.

        Other parameters are the link attributes described on :class:`Network`; scalars
        broadcast to every link.
        """
        init_ext = np.asarray(init, dtype=np.int64).ravel()
        term_ext = np.asarray(term, dtype=np.int64).ravel()
        if init_ext.shape != term_ext.shape:
            raise InvalidNetworkError("init and term must have the same length")
        if node_ids is None:
            ids = np.unique(np.concatenate([init_ext, term_ext]))
        else:
            ids = np.asarray(node_ids, dtype=np.int64).ravel()
        net_index = {int(v): i for i, v in enumerate(ids)}
        try:
            init_int = np.fromiter((net_index[int(v)] for v in init_ext), np.int64, len(init_ext))
            term_int = np.fromiter((net_index[int(v)] for v in term_ext), np.int64, len(term_ext))
        except KeyError as exc:
            k = int(np.flatnonzero(~np.isin(np.concatenate([init_ext, term_ext]), ids))[0])
            k %= max(len(init_ext), 1)
            raise InvalidNetworkError(
                f"link {k + 1} ({init_ext[k]} -> {term_ext[k]}) uses node {exc.args[0]}, "
                "which is not in node_ids; add the node or fix the link"
            ) from None
        m = len(init_ext)
        net = cls(
            node_ids=ids,
            init=init_int,
            term=term_int,
            free_flow_time=free_flow_time,
            capacity=capacity,
            alpha=alpha,
            beta=beta,
            length=length,
            toll=toll,
            speed=speed,
            lanes=lanes,
            link_type=link_type,
            road_class=road_class,
            link_ids=np.arange(1, m + 1) if link_ids is None else link_ids,
            x=x,
            y=y,
            no_thru=no_thru,
            crs=crs,
            units=units or Units(),
            name=name,
            extra=extra or {},
        )
        if validate:
            net.validate()
        return net

    def replace(self, *, validate: bool = True, **changes: Any) -> Network:
        """A copy with some fields changed (for example a new ``capacity`` array)."""
        net = dataclasses.replace(self, **changes)
        if validate:
            net.validate()
        return net

    # ------------------------------------------------------------------ properties
    @property
    def num_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_ids.shape[0])

    @property
    def num_links(self) -> int:
        """Number of links."""
        return int(self.init.shape[0])

    @property
    def has_coordinates(self) -> bool:
        """Whether every node has finite x and y coordinates."""
        return bool(self.num_nodes) and bool(
            np.isfinite(self.x).all() and np.isfinite(self.y).all()
        )

    def node_index(self, node_id: int) -> int:
        """Internal index of an external node id; ``KeyError`` with a clear message if absent."""
        try:
            return self._index[int(node_id)]
        except KeyError:
            raise KeyError(f"node {node_id} is not in network '{self.name}'") from None

    def node_indices(self, node_ids: Any, *, what: str = "node") -> np.ndarray:
        """Internal indices of many external node ids.

        Raises
        ------
        InvalidNetworkError
            Naming the first few ids that the network does not have.
        """
        ids = np.asarray(node_ids, dtype=np.int64).ravel()
        out = np.empty(ids.shape[0], dtype=np.int64)
        missing = []
        for k, v in enumerate(ids):
            i = self._index.get(int(v))
            if i is None:
                missing.append(int(v))
                out[k] = -1
            else:
                out[k] = i
        if missing:
            shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
            raise InvalidNetworkError(
                f"{len(missing)} {what} id(s) not in network '{self.name}': {shown}"
            )
        return out

    def generalized_constant(self, toll_factor: float = 0.0, distance_factor: float = 0.0):
        """Flow-independent cost added to every link: ``toll_factor*toll + distance_factor*length``."""
        return toll_factor * self.toll + distance_factor * self.length

    # ------------------------------------------------------------------ checking
    def problems(self) -> list[str]:
        """Everything :meth:`validate` would reject, as messages (empty when the network is fine)."""
        out: list[str] = []

        def bad(mask: np.ndarray, what: str, hint: str) -> None:
            idx = np.flatnonzero(mask)
            if idx.size:
                shown = ", ".join(
                    f"{self.link_ids[i]} ({self.node_ids[self.init[i]]}->{self.node_ids[self.term[i]]})"
                    for i in idx[:5]
                )
                more = f" and {idx.size - 5} more" if idx.size > 5 else ""
                out.append(f"{idx.size} link(s) with {what}: {shown}{more}; {hint}")

        for name in ("free_flow_time", "capacity", "alpha", "beta", "length", "toll"):
            bad(~np.isfinite(getattr(self, name)), f"non-finite {name}", "give a number")
        bad(self.free_flow_time < 0, "negative free_flow_time", "times must be >= 0")
        bad(self.alpha < 0, "negative B (alpha)", "B must be >= 0")
        bad(self.beta < 0, "negative power (beta)", "the power must be >= 0")
        bad(self.capacity < 0, "negative capacity", "capacity must be > 0")
        bad(
            (self.capacity == 0) & (self.alpha > 0) & (self.free_flow_time > 0),
            "zero capacity but a flow-dependent cost (B > 0)",
            "give a positive capacity, or B = 0 for a constant cost",
        )
        bad(self.length < 0, "negative length", "lengths must be >= 0")
        if self.candidates is not None:
            c = self.candidates
            n = self.num_nodes
            if c.num_candidates and (
                c.init.min() < 0 or c.init.max() >= n or c.term.min() < 0 or c.term.max() >= n
            ):
                out.append("candidate links reference nodes outside the network")
            if np.any(~np.isfinite(c.cost)) or np.any(c.cost < 0):
                out.append("candidate links have a negative or missing cost")
            if np.any((c.capacity <= 0) & (c.alpha > 0)):
                out.append("candidate links with non-positive capacity and B > 0")
        return out

    def validate(self) -> Network:
        """Reject what the kernels must never see; return ``self`` for chaining.

        Raises
        ------
        InvalidNetworkError
            Listing every problem found, with the offending links' external ids.
        """
        problems = self.problems()
        if problems:
            raise InvalidNetworkError(f"network '{self.name}': " + "; ".join(problems))
        return self

    def summary(self) -> dict[str, Any]:
        """Counts and units for reports and ``roadopt info``."""
        return {
            "name": self.name,
            "nodes": self.num_nodes,
            "links": self.num_links,
            "candidate_links": 0 if self.candidates is None else self.candidates.num_candidates,
            "no_thru_nodes": int(self.no_thru.sum()),
            "crs": self.crs,
            "units": self.units.as_dict(),
        }

    def __repr__(self) -> str:
        return (
            f"Network(name={self.name!r}, nodes={self.num_nodes}, links={self.num_links}, "
            f"crs={self.crs!r})"
        )


def csgraph(network: Network, weights: np.ndarray) -> tuple[Any, np.ndarray]:
    """A scipy CSR graph of the links, cheapest of parallel links, that honours ``no_thru``.

    Each ``no_thru`` node (a zone centroid, a TNTP zone below ``<FIRST THRU NODE>``) is
    split: its outgoing links leave the node itself, its incoming links end at an arriving
    copy with no way out, so shortest paths may start and end there but never pass through.

    Returns
    -------
    graph, arrive
        The ``(n + k) x (n + k)`` graph and, per node, the index paths *to* it end at (the
        node itself, or its arriving copy). Search from a node with its own index; read
        the distance to node ``j`` at ``arrive[j]`` (and search the transposed graph from
        ``arrive[j]`` for distances to ``j``).
    """
    import scipy.sparse as sp

    n = network.num_nodes
    nt = np.flatnonzero(network.no_thru)
    arrive = np.arange(n, dtype=np.int64)
    arrive[nt] = n + np.arange(nt.size)
    head = arrive[network.term]
    w = np.asarray(weights, dtype=np.float64)
    order = np.lexsort((w, head, network.init))
    a, b, c = network.init[order], head[order], w[order]
    first = np.ones(a.shape[0], dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    size = n + nt.size
    return sp.csr_array((c[first], (a[first], b[first])), shape=(size, size)), arrive
