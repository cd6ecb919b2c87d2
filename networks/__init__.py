"""roadopt's data side: the canonical network model, demand, and everything that builds them.

``networks`` never imports ``optimizer``.
"""

from .datasets import available, fetch, load, load_tntp
from .demand import Demand
from .errors import (
    DatasetNotFoundError,
    FileFormatError,
    InvalidDemandError,
    InvalidNetworkError,
    RoadoptError,
)
from .network import CandidateLinks, Network, Units

__all__ = [
    "CandidateLinks",
    "DatasetNotFoundError",
    "Demand",
    "FileFormatError",
    "InvalidDemandError",
    "InvalidNetworkError",
    "Network",
    "RoadoptError",
    "Units",
    "available",
    "fetch",
    "load",
    "load_tntp",
]
