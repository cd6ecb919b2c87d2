"""The JSON documents a run writes: the plan document and the package version.

Shared by :mod:`.outputs` (plan.json, plan.csv) and :mod:`.report` (the GeoPackage run
table and report.html), so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "PLAN_COLUMNS",
    "jsonable",
    "plan_document",
    "plan_header",
    "plan_rows",
    "plan_warnings",
    "version",
]


def version() -> str:
    """The installed roadopt version (``unknown`` when it is not installed)."""
    try:
        from importlib.metadata import version as v

        return v("roadopt")
    except Exception:
        return "unknown"


def jsonable(o: Any) -> Any:
    """Plain JSON values.

    Numpy scalars and arrays, tuples and paths are converted; NaN and infinities become
    None.
    """
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, (float, np.floating)):
        f = float(o)
        return f if np.isfinite(f) else None
    if isinstance(o, np.ndarray):
        return jsonable(o.tolist())
    return o


def plan_document(
    run: Any,
    *,
    settings: Mapping[str, Any] | None = None,
    scenario_file: str | None = None,
) -> dict[str, Any]:
    """The plan as one JSON document (``plan.json`` and ``--summary``).

    ``run.settings`` is the job's complete settings as a scenario document
    (:meth:`optimizer.jobs.settings.Job.document`), ``run.scenario_file`` the file they
    came from (scenario runs). ``protected``: the protected areas and the candidates they
    excluded or priced (:class:`optimizer.protect.Protection`); ``calibration``: the
    demand's adjustment to counts, per count (:class:`optimizer.calibration.Calibration`).
    """
    plan = run.plan
    doc = plan.summary()
    doc["warnings"] = plan_warnings(plan)
    doc["network"] = run.study.network.name
    doc["source"] = run.study.source
    doc["candidates"] = run.candidates.summary()
    doc["run"] = {
        "version": version(),
        "settings": jsonable(settings or {}),
        "study": jsonable(run.study.meta),
    }
    if scenario_file is not None:
        doc["run"]["scenario_file"] = scenario_file
    for key, what in (("protected", "protection"), ("calibration", "calibration")):
        part = getattr(run, what, None)
        if part is not None:
            doc[key] = part.summary()
    return jsonable(doc)


#: The columns of plan.csv: one row per chosen upgrade, its money terms left out one at a
#: time (:func:`optimizer.appraisal.appraise`).
PLAN_COLUMNS = (
    "id",
    "kind",
    "label",
    "cost",
    "init_node",
    "term_node",
    "length",
    "tstt_saved",
    "objective_gain",
    "annual_benefit",
    "present_value_benefits",
    "present_value_costs",
    "net_present_value",
    "benefit_cost_ratio",
    "first_year_rate_of_return",
    "residual_value_at_end",
)


def plan_header(run: Any) -> list[str]:
    """The column names of plan.csv: :data:`PLAN_COLUMNS` with their units (:mod:`.columns`)."""
    from .columns import result_names

    names = result_names(PLAN_COLUMNS, run.candidates.network.units, run.candidates.cost_unit)
    return [names[k] for k in PLAN_COLUMNS]


def plan_rows(run: Any) -> list[dict[str, Any]]:
    """One row per chosen upgrade, for plan.csv, keyed by :func:`plan_header`'s names."""
    header = plan_header(run)
    return [
        {h: d.get(k) for h, k in zip(header, PLAN_COLUMNS, strict=True)}
        for d in run.plan.selected_details
    ]


def plan_warnings(plan: Any) -> list[str]:
    """What the reader of a plan must know first: a benefit/cost ratio below 1."""
    warning = (plan.appraisal or {}).get("warning")
    return [warning] if warning else []
