"""The engineer's view of a plan run: a GeoPackage, a map, convergence plots, an HTML report.

:func:`write_report` writes, beside ``plan.json`` and ``plan.csv``:

``network.gpkg`` (:mod:`.gpkg`)
    Layers ``links`` (every link that exists before or after the plan, with its
    attributes, flow, volume/capacity and congested time before and after), ``sections``
    (both directions in one row), ``nodes``, ``upgrades`` (the chosen candidates with their
    geometry), ``zones`` and ``gateways`` (OpenStreetMap studies), ``run`` (a table of
    settings and the package version) and ``layer_styles`` (QGIS opens the links coloured
    by v/c). Only for networks with geometry and a known CRS. The tables come from
    :mod:`.frames` and :mod:`.tables`.
``sections.csv``, ``skims.omx``, ``skims.csv`` (:mod:`.tables`)
    The road sections with both directions in one row; zone-to-zone congested time and
    distance before and after the plan (Open Matrix and a tidy table).
``map.png`` (:mod:`.maps`)
    Links coloured by volume/capacity after the plan, line width by flow, the chosen
    upgrades drawn over them, zones and gateways marked.
``convergence.png`` (:mod:`.maps`)
    The search's incumbent and bound over time and the equilibrium gap of the final
    assignment per iteration, when either has more than one point.
``calibration.png`` (:mod:`.counts`)
    Modelled against counted flows before and after the demand's calibration, when the
    run had traffic counts.
``report.html`` (:mod:`.html`)
    One self-contained page (images as data URIs, inline CSS, no external resources)
    with the summary, the upgrades, the before/after metrics, the greedy baseline, the
    settings and the pictures.

Every file is written atomically (temporary file, then rename) and records the run's
settings and the package version: a ``run`` layer in the GeoPackage, PNG text chunks
(``Software``, ``roadopt-settings``) in the pictures, a table and a JSON block in the page.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from networks._io import atomic_path, atomic_write_text

from .counts import plot_calibration
from .frames import line_geometries, plan_links_frame, upgrades_frame
from .gpkg import write_geopackage
from .html import render_html
from .maps import UPGRADE_COLOR, plot_convergence, plot_plan_map, png_bytes
from .tables import plan_skims, sections_frame, skims_frame, write_skims_omx

__all__ = [
    "CALIBRATION_FILE",
    "CONVERGENCE_FILE",
    "GPKG_FILE",
    "HTML_FILE",
    "MAP_FILE",
    "REPORT_FILES",
    "UPGRADE_COLOR",
    "plan_links_frame",
    "plot_calibration",
    "plot_convergence",
    "plot_plan_map",
    "remove_report_files",
    "render_html",
    "upgrades_frame",
    "write_geopackage",
    "write_report",
    "write_tables",
]

log = logging.getLogger(__name__)

GPKG_FILE = "network.gpkg"
MAP_FILE = "map.png"
CONVERGENCE_FILE = "convergence.png"
HTML_FILE = "report.html"
CALIBRATION_FILE = "calibration.png"
SECTIONS_FILE = "sections.csv"
SKIMS_OMX = "skims.omx"
SKIMS_CSV = "skims.csv"


#: Every file :func:`write_report` may write.
REPORT_FILES = (
    GPKG_FILE,
    MAP_FILE,
    CONVERGENCE_FILE,
    CALIBRATION_FILE,
    HTML_FILE,
    SECTIONS_FILE,
    SKIMS_OMX,
    SKIMS_CSV,
)


def remove_report_files(out_dir: str | Path) -> None:
    """Remove the report files of an earlier run from a folder (a run without a report)."""
    for name in REPORT_FILES:
        _remove_stale(Path(out_dir) / name)


def _remove_stale(path: Path) -> None:
    """Remove a report file of an earlier run that this run does not produce."""
    if path.exists():
        log.info("removing %s of an earlier run (this run has none)", path.name)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def write_tables(
    run: Any, out_dir: str | Path, skims: Any = None, sections: Any = None
) -> list[Path]:
    """``sections.csv``, ``skims.omx`` and ``skims.csv`` (:mod:`.tables`), each atomically.

    ``skims``, ``sections``: the run's :func:`.tables.plan_skims` and
    :func:`.tables.sections_frame` where already computed.
    """
    from networks.export import write_frame

    d = Path(out_dir)
    written = []
    if sections is None:
        sections = sections_frame(run, geometry=False)
    write_frame(sections, d / SECTIONS_FILE)
    written.append(d / SECTIONS_FILE)
    if skims is None:
        skims = plan_skims(run)
    if skims is None:
        log.info("no skims: the run has no demand or no equilibrium costs")
        return written
    write_skims_omx(skims, d / SKIMS_OMX)
    write_frame(skims_frame(skims), d / SKIMS_CSV)
    return [*written, d / SKIMS_OMX, d / SKIMS_CSV]


def write_report(
    run: Any, out_dir: str | Path, *, settings: Mapping[str, Any] | None = None
) -> list[Path]:
    """Write network.gpkg, map.png, convergence.png and report.html, each atomically.

    Files a run cannot have (no GeoPackage without a CRS, no map without coordinates, no
    convergence plot without a history) are not written, and those of an earlier run in
    the folder are removed, so that the folder holds one run.

    Parameters
    ----------
    run
        A :class:`optimizer.jobs.pipeline.PlanRun`.
    out_dir
        The output folder (made if missing).
    settings
        The run's settings, recorded in every file with the package version.

    Returns
    -------
    list of Path
        The files written.
    """
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    net = run.candidates.network
    lines = line_geometries(net) is not None
    # one sections table for the GeoPackage layer and sections.csv
    sections = sections_frame(run, geometry=lines and net.crs is not None)
    if write_geopackage(run, d / GPKG_FILE, settings=settings, sections=sections):
        written.append(d / GPKG_FILE)
    else:
        _remove_stale(d / GPKG_FILE)
    skims = plan_skims(run)
    written.extend(write_tables(run, d, skims, sections))
    images: dict[str, bytes] = {}
    if lines:
        fig = plot_plan_map(run)
        images["map"] = png_bytes(fig, run, settings, f"roadopt map: {net.name}")
    else:
        log.info("no %s: network '%s' has no node coordinates", MAP_FILE, net.name)
    fig = plot_convergence(run)
    if fig is not None:
        images["convergence"] = png_bytes(fig, run, settings, f"roadopt convergence: {net.name}")
    if getattr(run, "calibration", None) is not None:
        fig = plot_calibration(run.calibration)
        images["calibration"] = png_bytes(fig, run, settings, f"roadopt calibration: {net.name}")
    for name, fname in (
        ("map", MAP_FILE),
        ("convergence", CONVERGENCE_FILE),
        ("calibration", CALIBRATION_FILE),
    ):
        if name in images:
            with atomic_path(d / fname) as tmp:
                tmp.write_bytes(images[name])
            written.append(d / fname)
        else:
            _remove_stale(d / fname)
    page = render_html(
        run,
        settings=settings,
        images=images,
        files=[p.name for p in written] + [HTML_FILE],
        skims=skims,
    )
    atomic_write_text(d / HTML_FILE, page)
    written.append(d / HTML_FILE)
    return written
