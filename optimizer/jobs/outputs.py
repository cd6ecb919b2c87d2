"""Files a run writes: plan.json, plan.csv, calibration.csv, flows and the report (:mod:`.report`).

Every file is written atomically (temporary file, then rename) and records the run's
settings and the package version, so a run can be repeated exactly. The writers fill a
folder; :mod:`.folders` chooses it, checks it and makes the writes of one run appear
together (a staging folder swapped in), so that a folder always holds one complete run.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from networks._io import atomic_write_text
from networks.terrain import link_terrain

from .documents import jsonable, plan_document, plan_header, plan_rows, version

__all__ = [
    "flow_columns",
    "write_assign_outputs",
    "write_flow_layer",
    "write_plan_outputs",
]

RUN_FILE = "plan.json"
#: One row per chosen upgrade.
PLAN_TABLE = "plan.csv"
#: An assignment's link flows (GeoPackage where the network has geometry, else CSV).
FLOW_FILES = ("flows.gpkg", "flows.csv")
#: Per-count table of a run whose demand was calibrated to traffic counts.
CALIBRATION_TABLE = "calibration.csv"


def write_plan_outputs(
    run: Any,
    out_dir: str | Path,
    *,
    settings: dict[str, Any] | None = None,
    report: bool = True,
    scenario_file: str | None = None,
) -> list[Path]:
    """Write a plan run's files, each atomically, ``plan.json`` last.

    Parameters
    ----------
    run
        A :class:`optimizer.pipeline.PlanRun`.
    out_dir
        The folder to fill (a staging folder of :meth:`.folders.OutputFolder.staged`).
    settings
        The run's settings, recorded in every file with the package version.
    scenario_file
        The scenario file the settings came from, recorded in ``plan.json``.
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
    doc = plan_document(run, settings=settings, scenario_file=scenario_file)
    written = []
    rows = plan_rows(run)
    buf = io.StringIO()
    fields = plan_header(run)
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    atomic_write_text(d / PLAN_TABLE, buf.getvalue())
    written.append(d / PLAN_TABLE)
    if _write_calibration_table(getattr(run, "calibration", None), d / CALIBRATION_TABLE):
        written.append(d / CALIBRATION_TABLE)
    from . import report as _report

    if report:
        written.extend(_report.write_report(run, d, settings=settings))
    else:  # the folder holds one run: no report of an earlier one
        _report.remove_report_files(d)
    # plan.json last: it marks the folder as holding this run
    atomic_write_text(d / RUN_FILE, json.dumps(doc, indent=2) + "\n")
    written.append(d / RUN_FILE)
    return written


def _write_calibration_table(cal: Any, path: Path) -> bool:
    """calibration.csv: one row per count (or remove one of an earlier run)."""
    if cal is None:
        if path.exists():
            path.unlink()
        return False
    buf = io.StringIO()
    rows = cal.table()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())
    return True


def flow_columns(net, result) -> dict[str, Any]:
    """Per-link result columns for tables and maps, named with their units (:mod:`.columns`).

    The same columns for every network: ``road_class``, ``lanes``, ``length``,
    ``capacity``, ``free_flow_time``, ``flow``, ``vc`` (volume/capacity), ``time`` (the
    congested generalized link time) with unit suffixes where the units are known
    (``length_km``, ``flow_veh_h``, ``time_min``...), ``speed_kmh`` where they allow it,
    and for OpenStreetMap networks ``name``, ``ref``, ``osm_way_ids`` and (with terrain)
    ``grade`` and ``terrain``.
    """
    from .columns import named, speed, text_or_null

    u = net.units
    with np.errstate(divide="ignore", invalid="ignore"):
        vc = np.where(net.capacity > 0, result.flow / net.capacity, np.nan)
    cols: dict[str, Any] = {
        "road_class": [str(v) or None for v in net.road_class],
        "lanes": net.lanes,
        named("length", u.length): net.length,
        named("capacity", u.flow): net.capacity,
        named("free_flow_time", u.time): net.free_flow_time,
        named("flow", u.flow): result.flow,
        "vc": vc,
        named("time", u.time): result.cost,
    }
    v = speed(net.length, result.cost, u)
    if v is not None:
        cols[v[0]] = v[1]
    for key in ("name", "ref"):
        vals = net.extra.get(key)
        if vals is not None and len(vals) == net.num_links:
            cols[key] = [text_or_null(x) for x in vals]
    ways = net.extra.get("osm_way_ids")
    if ways is not None:
        cols["osm_way_ids"] = [
            ";".join(str(w) for w in (v if isinstance(v, (tuple, list)) else [v])) for v in ways
        ]
    terrain = link_terrain(net)
    if terrain is not None:  # grade (signed, rise over run, the link's way) and its class
        cols["grade"], cols["terrain"] = terrain
    return cols


def write_flow_layer(net, result, path: str) -> None:
    """Links with flows, times and volume/capacity as GeoPackage, GeoJSON (WGS 84) or CSV."""
    from networks.export import links_frame, write_frame

    geometry = not path.lower().endswith(".csv")
    write_frame(
        links_frame(net, flow_columns(net, result), geometry=geometry), path, layer="links"
    )


def write_assign_outputs(
    study: Any,
    result: Any,
    out_dir: str | Path,
    settings: dict[str, Any],
    *,
    scenario_file: str | None = None,
) -> None:
    """Write an assignment's files.

    The link flows (GeoPackage where the network has geometry and a CRS, else CSV) and
    ``plan.json`` (the result's figures, its history and the settings), last.
    """
    d = Path(out_dir)
    run: dict[str, Any] = {"version": version(), "settings": settings}
    if scenario_file is not None:
        run["scenario_file"] = scenario_file
    doc = {
        "network": study.network.name,
        "source": study.source,
        **result.summary(),
        "history": result.history.as_dict(),
        "run": run,
    }
    d.mkdir(parents=True, exist_ok=True)
    geo = study.network.crs is not None and (
        study.network.has_coordinates or "geometry" in study.network.extra
    )
    write_flow_layer(study.network, result, str(d / FLOW_FILES[0 if geo else 1]))
    atomic_write_text(d / RUN_FILE, json.dumps(jsonable(doc), indent=2) + "\n")
