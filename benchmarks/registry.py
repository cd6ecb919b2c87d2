"""The benchmark cases: named networks with their demand, cost weights, methods and targets.

A :class:`Case` is a recipe, not data: ``case.load(size)`` builds the network and demand
when a run needs them. Adding a case is one :func:`register` call::

    register(Case("Winnipeg", tntp_loader("Winnipeg"), best_known_objective=...))

    register(
        Case(
            "region",
            lambda size: synthetic.region(size, seed=1),
            sizes=(5_000, 50_000, 500_000),  # a scale series
            smoke_size=1_000,
        )
    )

Datasets of the data directory (``$ROADOPT_DATA_DIR/tntp/<Name>``) that hold a best-known
flow file are registered on first use (:func:`discover`); any other dataset name can still
be run by name (:func:`get` builds a case for it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from networks import Demand, Network, datasets, synthetic

__all__ = [
    "DEFAULT_GAPS",
    "METHOD_TIGHTEST_GAP",
    "REGISTRY",
    "Case",
    "cases",
    "discover",
    "get",
    "register",
    "tntp_loader",
]

#: Target relative gaps reported by default: industry practice, tight, and "exact".
DEFAULT_GAPS: tuple[float, ...] = (1e-4, 1e-6, 1e-10)

#: The tightest gap each method is asked for by default. Link-based methods need hundreds
#: of iterations per factor of ten below about 1e-5 (field notes), so asking them for 1e-10
#: only burns the time limit; the runner's ``--exhaustive`` lifts this.
METHOD_TIGHTEST_GAP: Mapping[str, float] = MappingProxyType(
    {"msa": 1e-4, "fw": 1e-6, "cfw": 1e-6, "bfw": 1e-6, "bush": 1e-12}
)

ALL_METHODS: tuple[str, ...] = ("msa", "fw", "cfw", "bfw", "bush")

Loader = Callable[[int | None], tuple[Network, Demand]]


@dataclass(frozen=True)
class Case:
    """One benchmark case.

    Attributes
    ----------
    name
        Label used on the command line and in reports (matched ignoring case, ``-``, ``_``).
    load
        ``load(size)`` returns ``(network, demand)``; ``size`` is an entry of ``sizes`` (None
        for a fixed dataset).
    toll_factor, distance_factor
        Generalized-cost weights (time per toll unit, time per length unit). None takes
        the dataset's own README weights (``network.extra``), else 0.
    methods
        Assignment methods run by default.
    gaps
        Target relative gaps reported by default.
    tightest_gap
        Per-method override of :data:`METHOD_TIGHTEST_GAP`.
    best_known_objective
        Published Beckmann objective (with the generalized cost), if any. When None and
        ``best_known_flow`` is True, it is computed from the dataset's flow file.
    best_known_flow
        Compute the best-known objective from the dataset's ``*_flow.tntp`` file.
    sizes
        Sizes of a full run (a scale series); ``(None,)`` for a fixed dataset.
    smoke_size
        The size a smoke run uses (the smallest that still exercises the case).
    suites
        Benchmark suites the case belongs to (``"assignment"``; later ``"design"``, ...).
    peers
        Whether peer solvers (AequilibraE) are run on the case.
    description
        One line for reports.
    """

    name: str
    load: Loader = field(repr=False)
    toll_factor: float | None = None
    distance_factor: float | None = None
    methods: tuple[str, ...] = ALL_METHODS
    gaps: tuple[float, ...] = DEFAULT_GAPS
    tightest_gap: Mapping[str, float] = field(default_factory=dict)
    best_known_objective: float | None = None
    best_known_flow: bool = False
    sizes: tuple[int | None, ...] = (None,)
    smoke_size: int | None = None
    suites: tuple[str, ...] = ("assignment",)
    peers: bool = True
    description: str = ""

    def label(self, size: int | None) -> str:
        """The case name, with the size for a scaled case (``region-5000``)."""
        return self.name if size is None else f"{self.name}-{size}"

    def solve_gap(self, method: str, gaps: Iterable[float], *, exhaustive: bool = False) -> float:
        """The gap one solve of ``method`` aims at: the tightest target it is asked for."""
        tightest = min(gaps)
        if exhaustive:
            return tightest
        floor = self.tightest_gap.get(method, METHOD_TIGHTEST_GAP.get(method, 0.0))
        return max(tightest, floor)

    def factors(self, network: Network) -> tuple[float, float]:
        """``(toll_factor, distance_factor)`` for ``network`` loaded by this case."""
        tf = self.toll_factor
        df = self.distance_factor
        if tf is None:
            tf = float(network.extra.get("toll_factor", 0.0))
        if df is None:
            df = float(network.extra.get("distance_factor", 0.0))
        return tf, df


REGISTRY: dict[str, Case] = {}


def _key(name: str) -> str:
    return re.sub(r"[-_\s]", "", name).lower()


def register(case: Case, *, replace: bool = False) -> Case:
    """Add ``case`` to :data:`REGISTRY` (an existing name needs ``replace=True``)."""
    for existing in REGISTRY:
        if _key(existing) == _key(case.name) and not replace:
            raise ValueError(f"a benchmark case named {existing!r} is already registered")
    REGISTRY[case.name] = case
    return case


def tntp_loader(name: str) -> Loader:
    """A loader for a named dataset (``networks.load``), ignoring ``size``."""

    def load(size: int | None = None) -> tuple[Network, Demand]:
        net, dem = datasets.load(name)
        if dem is None:
            raise ValueError(f"dataset {name!r} has no trips file; it cannot be assigned")
        return net, dem

    load.__qualname__ = f"tntp_loader({name!r})"
    return load


def _region(size: int | None) -> tuple[Network, Demand]:
    # Trips per zone fall with size (40 at 5,000 links, 134 at 1,000) so that a few per cent of
    # links end above capacity at every size, like the TNTP cases: zones grow with the area
    # and so do trip lengths, and the generator's default (300 per zone) overloads some
    # links of a 5,000-link region twenty times over.
    size = size or 5_000
    return synthetic.region(size, seed=1, trips_per_zone=40.0 * (5_000 / size) ** 0.75)


# ------------------------------------------------------------------ the built-in cases
# Best-known objectives: the shared data README (Beckmann, the files' own units).
register(
    Case(
        "SiouxFalls",
        tntp_loader("SiouxFalls"),
        best_known_objective=4_231_335.287,
        description="TNTP SiouxFalls: 24 nodes, 76 links, 24 zones",
    )
)
register(
    Case(
        "Anaheim",
        tntp_loader("Anaheim"),
        best_known_objective=1_286_032.171,
        description="TNTP Anaheim: 416 nodes, 914 links, 38 zones (zones are not passed through)",
    )
)
register(
    Case(
        "Chicago-Sketch",
        tntp_loader("Chicago-Sketch"),
        toll_factor=0.02,
        distance_factor=0.04,
        best_known_objective=17_313_018.739,
        description="TNTP Chicago-Sketch: 933 nodes, 2,950 links, 387 zones; "
        "generalized cost 0.02 * toll + 0.04 * length",
    )
)
register(
    Case(
        "region",
        _region,
        sizes=(5_000,),
        smoke_size=1_000,
        description="synthetic region (networks.synthetic.region, seed 1): Delaunay roads, "
        "gravity demand, 40 * (5000 / links) ** 0.75 trips per zone; sized by its links",
    )
)


def discover() -> list[str]:
    """Register every data-directory dataset with a best-known flow file; return new names."""
    added: list[str] = []
    d = datasets.data_dir()
    if d is None or not (d / "tntp").is_dir():
        return added
    known = {_key(n) for n in REGISTRY}
    for folder in sorted((d / "tntp").iterdir(), key=lambda p: p.name.lower()):
        if not folder.is_dir() or _key(folder.name) in known:
            continue
        if not any(folder.glob("*_flow.tntp")) or not any(folder.glob("*_trips.tntp")):
            continue
        register(
            Case(
                folder.name,
                tntp_loader(folder.name),
                best_known_flow=True,
                description=f"TNTP {folder.name} (found in the data directory)",
            )
        )
        added.append(folder.name)
    return added


def get(name: str) -> Case:
    """The registered case called ``name``, else a case built for a dataset of that name."""
    discover()
    for existing, case in REGISTRY.items():
        if _key(existing) == _key(name):
            return case
    canonical = datasets.find_dataset(name)
    if canonical is None:
        raise KeyError(
            f"no benchmark case or dataset named {name!r}; cases: {', '.join(REGISTRY)}; "
            f"datasets: {', '.join(datasets.available())}"
        )
    return Case(canonical, tntp_loader(canonical), best_known_flow=True)


def cases(suite: str = "assignment", names: Iterable[str] | None = None) -> list[Case]:
    """Cases of ``suite``: the named ones (in that order), else every registered one."""
    if names:
        return [get(n) for n in names]
    discover()
    return [c for c in REGISTRY.values() if suite in c.suites]
