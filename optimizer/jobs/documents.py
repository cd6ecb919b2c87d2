"""The JSON documents a run writes: the plan document and the package version.

Shared by :mod:`.outputs` (plan.json, plan.csv) and :mod:`.report` (the GeoPackage run
table and report.html), so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["jsonable", "plan_document", "plan_rows", "version"]


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


def plan_rows(run: Any) -> list[dict[str, Any]]:
    """One row per chosen upgrade, for plan.csv."""
    rows = []
    for d in run.plan.selected_details:
        rows.append(
            {
                "id": d["id"],
                "kind": d["kind"],
                "label": d.get("label", ""),
                "cost": d["cost"],
                "init_node": d.get("init_node"),
                "term_node": d.get("term_node"),
                "length": d.get("length"),
                "tstt_saved": d.get("tstt_saved"),
                "objective_gain": d.get("objective_gain"),
                "annual_benefit": d.get("annual_benefit"),
                "benefit_cost_ratio": d.get("benefit_cost_ratio"),
            }
        )
    return rows
