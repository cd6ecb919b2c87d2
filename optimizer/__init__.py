"""roadopt's algorithms: equilibrium assignment, connectivity, design and the bilevel search.

The public API::

    from optimizer import assign, optimize, plan_study
    result = assign(network, demand, rgap=1e-6)            # user equilibrium
    run = plan_study(networks.open_study(), budget_share=0.3)  # the whole design job
"""

from .assignment import METHODS, assign, link_costs
from .batch import load_sweep, run_batch
from .candidate_sources import generate_candidates, read_candidates, write_candidates
from .candidates import Candidate, CandidateSet, extend_network, from_instance
from .connectivity import connectivity, resilience, zone_roles
from .outputs import write_plan_outputs
from .pipeline import PlanRun, plan_study
from .results import AssignmentResult, History, Plan, Status
from .scenario import load_scenario, run_scenario
from .search import OBJECTIVES, Appraisal, optimize

__all__ = [
    "METHODS",
    "OBJECTIVES",
    "Appraisal",
    "AssignmentResult",
    "Candidate",
    "CandidateSet",
    "History",
    "Plan",
    "PlanRun",
    "Status",
    "assign",
    "connectivity",
    "extend_network",
    "from_instance",
    "generate_candidates",
    "link_costs",
    "load_scenario",
    "load_sweep",
    "optimize",
    "plan_study",
    "read_candidates",
    "resilience",
    "run_batch",
    "run_scenario",
    "write_candidates",
    "write_plan_outputs",
    "zone_roles",
]
