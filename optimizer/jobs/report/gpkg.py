"""``network.gpkg``: the plan's links, upgrades, zones and gateways, and a table of the run.

Layers ``links`` (directed, :func:`.frames.plan_links_frame`), ``sections`` (both
directions in one row, :func:`.tables.sections_frame`), ``nodes``
(:func:`.tables.nodes_frame`), ``upgrades`` (:func:`.frames.upgrades_frame`), ``zones``,
``gateways`` and ``access_points`` (studies built from OpenStreetMap) in the network's
CRS; ``run``: key / JSON value rows with the settings, the package version, the units and
the plan's headline numbers; ``layer_styles``: the QGIS styles that open ``links`` and
``sections`` coloured by v/c after the plan.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from networks._io import atomic_path

from ..documents import jsonable, version
from .frames import line_geometries, plan_links_frame, upgrades_frame
from .tables import layer_style_rows, nodes_frame, sections_frame

__all__ = ["write_geopackage"]

log = logging.getLogger(__name__)


def _run_rows(run: Any, settings: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Key / JSON value pairs describing the run (the GeoPackage ``run`` table)."""
    plan, net = run.plan, run.candidates.network
    items: dict[str, Any] = {
        "roadopt_version": version(),
        "settings": settings or {},
        "search_settings": plan.settings,
        "study": run.study.meta,
        "source": run.study.source,
        "network": run.study.network.name,
        "crs": net.crs,
        "units": net.units.as_dict(),
        "cost_unit": run.candidates.cost_unit,
        "objective_name": plan.objective_name,
        "objective_before": plan.objective_before,
        "objective": plan.objective,
        "status": str(plan.status),
        "gap": plan.gap,
        "cost": plan.cost,
        "budget": plan.budget,
        "selected": list(plan.selected),
        "columns": {
            "*_<unit>": "the unit the suffix names (min, km, veh_h, kmh, kcny...)",
            "length, capacity, flow, time without a unit suffix": "the network's units",
            "time_*": "congested generalized link time",
            "vc_*": "volume / capacity",
            "cost_*": run.candidates.cost_unit,
        },
    }
    return [(k, json.dumps(jsonable(v), ensure_ascii=False)) for k, v in items.items()]


def _model_layers(run: Any) -> dict[str, Any]:
    """Zones, gateways and access points of the study as GeoDataFrames (when it has them).

    Zones carry their names, activity and its source, trips and loading nodes; gateways
    their entry and exit nodes; access points their kind and junction name.
    """
    model = getattr(run.study, "model", None)
    out: dict[str, Any] = {}
    if model is None:
        return out
    zones = getattr(model, "zones", None)
    if zones is not None and len(zones.zone_ids):
        gdf = zones.to_geodataframe()
        z = len(gdf)
        origins = getattr(model, "origins", None)
        dests = getattr(model, "destinations", None)
        if origins is not None and len(origins) >= z:
            gdf["trips_from"] = np.asarray(origins[:z], dtype=np.float64)
        if dests is not None and len(dests) >= z:
            gdf["trips_to"] = np.asarray(dests[:z], dtype=np.float64)
        system = getattr(model, "system", None)
        if system is not None:
            gdf["loading_nodes"] = [len(system.loading[k]) for k in range(z)]
            gdf["loading_node_ids"] = [
                ";".join(str(i) for i in system.loading[k]) for k in range(z)
            ]
        out["zones"] = gdf
    gws = getattr(model, "gateways", None)
    if gws is not None and len(gws.node_ids):
        gdf = gws.to_geodataframe()
        gdf.insert(0, "gateway", np.arange(1, len(gdf) + 1))
        g = len(gdf)
        gdf["entry_node_ids"] = [";".join(map(str, gws.entries(j))) for j in range(g)]
        gdf["exit_node_ids"] = [";".join(map(str, gws.exits(j))) for j in range(g)]
        if gws.names:
            gdf["name"] = list(gws.names)
        out["gateways"] = gdf
    access = getattr(model, "access", None)
    net = run.study.network
    if access is not None and access.num_points:
        import geopandas as gpd

        idx = net.node_indices(access.node_ids, what="access point")
        out["access_points"] = gpd.GeoDataFrame(
            {
                "node_id": access.node_ids,
                "kind": list(access.kind),
                "name": list(access.name),
                "ref": list(access.ref),
            },
            geometry=gpd.points_from_xy(net.x[idx], net.y[idx]),
            crs=net.crs,
        )
    return out


def write_geopackage(
    run: Any,
    path: str | Path,
    *,
    settings: Mapping[str, Any] | None = None,
    sections: Any = None,
) -> bool:
    """Write ``network.gpkg``: links, upgrades, zones, gateways, access points, run; atomically.

    Parameters
    ----------
    run
        A :class:`optimizer.jobs.pipeline.PlanRun`.
    path
        The GeoPackage to write; it appears only once every layer is in it.
    settings
        The run's settings (recorded in the ``run`` table with the package version).
    sections
        The run's :func:`.tables.sections_frame` (with geometry) where already built.

    Returns
    -------
    bool
        False (and a log line) when the network has no geometry or no known CRS: then
        nothing is written.
    """
    import pandas as pd
    import pyogrio

    net = run.candidates.network
    if net.crs is None or line_geometries(net) is None:
        why = "no node coordinates" if not net.has_coordinates else "no known CRS"
        log.info(
            "no %s: network '%s' has %s (give its CRS, e.g. --crs EPSG:xxxx, for a GeoPackage)",
            Path(path).name,
            net.name,
            why,
        )
        return False
    layers: dict[str, Any] = {
        "links": plan_links_frame(run),
        "sections": sections_frame(run) if sections is None else sections,
        "nodes": nodes_frame(run),
        "upgrades": upgrades_frame(run),
    }
    for name, gdf in _model_layers(run).items():
        layers[name] = gdf.to_crs(net.crs) if gdf.crs is not None else gdf.set_crs(net.crs)
    run_table = pd.DataFrame(_run_rows(run, settings), columns=["key", "value"])
    styles = layer_style_rows({"links": "vc_after", "sections": "max_vc_after"})
    with atomic_path(path) as tmp:
        tmp.unlink()  # GDAL creates the file
        for name, gdf in layers.items():
            kind = "MultiLineString" if name == "upgrades" else None
            pyogrio.write_dataframe(
                gdf, tmp, layer=name, driver="GPKG", geometry_type=kind, promote_to_multi=False
            )
        pyogrio.write_dataframe(run_table, tmp, layer="run", driver="GPKG")
        # QGIS opens the links and sections coloured by v/c after the plan
        pyogrio.write_dataframe(styles, tmp, layer="layer_styles", driver="GPKG")
    return True
