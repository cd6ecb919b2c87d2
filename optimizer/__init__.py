"""roadopt's algorithms: equilibrium assignment, connectivity, design and the bilevel search.

The public API::

    from optimizer import assign, optimize, plan_study
    result = assign(network, demand, rgap=1e-6)            # user equilibrium
    run = plan_study(networks.open_study(), budget_share=0.3)  # the whole design job

The algorithms live in this package's modules; the application wing (settings, the whole
job, scenario files, batch runs, outputs, reports, the CLI) lives in :mod:`optimizer.jobs`
and is re-exported here lazily, so that ``import optimizer`` loads no application code and
no algorithm module ever imports the wing.
"""

from importlib import import_module
from typing import Any

from .assignment import METHODS, assign, link_costs
from .calibration import Calibration, calibrate
from .candidate_files import read_candidates, write_candidates
from .candidates import Candidate, CandidateSet, extend_network, from_instance
from .connectivity import connectivity, resilience, zone_roles
from .corridors import regional_candidates
from .generate import generate_candidates
from .protect import Protection, protect_candidates
from .results import AssignmentResult, History, Plan, Status
from .search import OBJECTIVES, Appraisal, optimize

#: names of the application wing, by the :mod:`optimizer.jobs` module that defines them
_JOBS = {
    "PlanRun": "pipeline",
    "plan_study": "pipeline",
    "load_scenario": "scenario",
    "run_scenario": "scenario",
    "load_sweep": "batch",
    "run_batch": "batch",
    "write_plan_outputs": "outputs",
}


def __getattr__(name: str) -> Any:
    module = _JOBS.get(name)
    if module is None:
        raise AttributeError(f"module 'optimizer' has no attribute {name!r}")
    value = getattr(import_module(f"optimizer.jobs.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "METHODS",
    "OBJECTIVES",
    "Appraisal",
    "AssignmentResult",
    "Calibration",
    "Candidate",
    "CandidateSet",
    "History",
    "Plan",
    "PlanRun",
    "Protection",
    "Status",
    "assign",
    "calibrate",
    "connectivity",
    "extend_network",
    "from_instance",
    "generate_candidates",
    "link_costs",
    "load_scenario",
    "load_sweep",
    "optimize",
    "plan_study",
    "protect_candidates",
    "read_candidates",
    "regional_candidates",
    "resilience",
    "run_batch",
    "run_scenario",
    "write_candidates",
    "write_plan_outputs",
    "zone_roles",
]
