"""roadopt's data side: the canonical network model, demand, and everything that builds them.

``networks`` never imports ``optimizer``.
"""

from .datasets import available, fetch, load, load_tntp
from .demand import Demand
from .errors import (
    BoundingBoxError,
    DatasetNotFoundError,
    DEMCoverageError,
    FileFormatError,
    InvalidDemandError,
    InvalidNetworkError,
    NoDrivableRoadsError,
    OSMQueryError,
    OutputWriteError,
    PlaceNotFoundError,
    RoadoptError,
)
from .network import CandidateLinks, Network, Units
from .sources import BUILTIN_NETWORKS, Study, open_study

__all__ = [
    "BUILTIN_NETWORKS",
    "BoundingBoxError",
    "CandidateLinks",
    "DEMCoverageError",
    "DatasetNotFoundError",
    "Demand",
    "FileFormatError",
    "InvalidDemandError",
    "InvalidNetworkError",
    "Network",
    "NoDrivableRoadsError",
    "OSMQueryError",
    "OutputWriteError",
    "PlaceNotFoundError",
    "RoadoptError",
    "Study",
    "Units",
    "available",
    "fetch",
    "load",
    "load_tntp",
    "open_study",
]
