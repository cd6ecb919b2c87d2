"""roadopt's algorithms: equilibrium assignment, connectivity, design and the bilevel search."""

from .assignment import METHODS, assign, link_costs
from .results import AssignmentResult, History, Status

__all__ = ["METHODS", "AssignmentResult", "History", "Status", "assign", "link_costs"]
