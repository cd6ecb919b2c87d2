"""Files a plan run writes: plan.json, plan.csv and the report (:mod:`optimizer.report`).

Every file is written atomically (temporary file, then rename) and records the run's
settings and the package version, so a run can be repeated exactly. An output folder
holds one run: a folder holding a different run is refused unless ``overwrite``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from networks._io import atomic_write_text

from .errors import UsageError

__all__ = ["plan_document", "prepare_out_dir", "version", "write_plan_outputs"]

RUN_FILE = "plan.json"


def version() -> str:
    try:
        from importlib.metadata import version as v

        return v("roadopt")
    except Exception:
        return "unknown"


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, (float, np.floating)):
        f = float(o)
        return f if np.isfinite(f) else None
    if isinstance(o, np.ndarray):
        return _jsonable(o.tolist())
    return o


def prepare_out_dir(out: str | Path, *, overwrite: bool, key: dict[str, Any]) -> Path:
    """Create the output folder, refusing one that holds a different run."""
    d = Path(out)
    if d.exists() and not d.is_dir():
        raise UsageError(f"--out {d}: exists and is not a folder")
    run_file = d / RUN_FILE
    if run_file.exists() and not overwrite:
        try:
            old = json.loads(run_file.read_text()).get("run", {}).get("settings")
        except (json.JSONDecodeError, OSError):
            old = None
        if old != _jsonable(key):
            raise UsageError(
                f"{d} holds the outputs of a different run; choose another --out "
                "folder or pass --overwrite"
            )
    elif d.exists() and any(d.iterdir()) and not run_file.exists() and not overwrite:
        raise UsageError(
            f"{d} is not empty and holds no roadopt run; choose another --out "
            "folder or pass --overwrite"
        )
    d.mkdir(parents=True, exist_ok=True)
    return d


def plan_document(run: Any, *, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The plan as one JSON document (``plan.json`` and ``--summary``)."""
    plan = run.plan
    doc = plan.summary()
    doc["network"] = run.study.network.name
    doc["source"] = run.study.source
    doc["candidates"] = run.candidates.summary()
    doc["run"] = {
        "version": version(),
        "settings": _jsonable(settings or {}),
        "study": _jsonable(run.study.meta),
    }
    return _jsonable(doc)


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


def write_plan_outputs(
    run: Any,
    out_dir: str | Path,
    *,
    settings: dict[str, Any] | None = None,
    report: bool = True,
) -> list[Path]:
    """Write a plan run's files, each atomically, ``plan.json`` last.

    Parameters
    ----------
    run
        A :class:`optimizer.pipeline.PlanRun`.
    out_dir
        The output folder (see :func:`prepare_out_dir`).
    settings
        The run's settings, recorded in every file with the package version.
    report
        Also write ``network.gpkg``, ``map.png``, ``convergence.png`` and ``report.html``
        (:func:`optimizer.report.write_report`); without it, those of an earlier run in
        the folder are removed.

    Returns
    -------
    list of Path
        The files written, in order.
    """
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    doc = plan_document(run, settings=settings)
    written = []
    rows = plan_rows(run)
    buf = io.StringIO()
    fields = [
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
        "benefit_cost_ratio",
    ]
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    buf.write(
        f"# roadopt {version()}; objective {doc['objective_name']} "
        f"{doc['objective_before']} -> {doc['objective']}; cost {doc['cost']} of "
        f"budget {doc['budget']}\n"
    )
    atomic_write_text(d / "plan.csv", buf.getvalue())
    written.append(d / "plan.csv")
    from . import report as _report

    if report:
        written.extend(_report.write_report(run, d, settings=settings))
    else:  # the folder holds one run: no report of an earlier one
        _report.remove_report_files(d)
    # plan.json last: it marks the folder as holding this run
    atomic_write_text(d / RUN_FILE, json.dumps(doc, indent=2) + "\n")
    written.append(d / RUN_FILE)
    return written
