"""One entry point for every network source: built-in region and town, files, datasets, OSM queries.

:func:`open_study` turns what a user names (nothing, a file, a dataset name, a place, a
bounding box) into a :class:`Study`: the network, its demand and, for OpenStreetMap areas,
the zones and gateways the demand was built from. The CLI, scenario files and notebooks all
go through it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import osm, terrain
from .demand import Demand
from .errors import OptionError
from .network import Network

__all__ = [
    "OSM_SUFFIXES",
    "Study",
    "check_crs",
    "check_tolerance",
    "is_osm_file",
    "open_study",
]

log = logging.getLogger(__name__)

#: Names of the networks shipped with roadopt: the default region of small towns (with its
#: terrain) and the small town of the pyrosm wheel.
BUILTIN_NETWORKS = ("builtin-region", "builtin-town")
OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".xml", ".osm.pbf", ".pbf", ".graphml")


@dataclass(frozen=True, eq=False)
class Study:
    """A network with its demand, and how they were made.

    Attributes
    ----------
    network : Network
    demand : Demand or None
        None only for a TNTP network without a trips file.
    model : DemandModel or None
        Zones, gateways and gravity details when the demand was synthesised (OSM areas).
    source : str
        What was opened, in words.
    meta : dict
        Options used (profile, seed, zone count, ...), for reports and reruns.
    """

    network: Network
    demand: Demand | None
    model: Any = None
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


def is_osm_file(path: str | Path) -> bool:
    """Whether a path names an OpenStreetMap file by its extension."""
    return str(path).lower().endswith(OSM_SUFFIXES)


def check_crs(crs: Any) -> str | None:
    """A coordinate reference system that pyproj knows (``EPSG:32650``, a WKT, a PROJ string).

    Raises
    ------
    OptionError
        For a CRS pyproj cannot resolve, before any work is done (field ``crs``).
    """
    if crs is None:
        return None
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(crs)
    except (CRSError, TypeError, ValueError):
        raise OptionError(
            "crs",
            f"{crs!r} is not a coordinate reference system pyproj knows; give one as "
            "EPSG:XXXX (e.g. EPSG:4326 for lon/lat, EPSG:32650 for UTM zone 50N)",
        ) from None
    return str(crs)


def check_tolerance(tolerance: Any) -> float:
    """The intersection consolidation tolerance as metres, a number > 0.

    Raises
    ------
    OptionError
        For anything else (the one check of this option: :func:`open_study` and the job
        settings call it).
    """
    try:
        tol = float(tolerance)
    except (TypeError, ValueError):
        tol = math.nan
    if not (math.isfinite(tol) and tol > 0):
        raise OptionError(
            "tolerance",
            f"{tolerance!r}: the consolidation tolerance is a distance in metres, a number "
            f"> 0 (default {osm.DEFAULT_TOLERANCE_M:g})",
        )
    return tol


def open_study(
    network: str | Path | None = None,
    *,
    trips: str | Path | None = None,
    place: str | None = None,
    bbox: Any = None,
    polygon: Any = None,
    profile: str = "generic",
    consolidate: bool = True,
    tolerance: float = osm.DEFAULT_TOLERANCE_M,
    zones: Any = None,
    gateways: Any = None,
    gateway_classes: Any = None,
    od_period: str | None = None,
    seed: int = 0,
    crs: str | None = None,
    demand_options: Mapping[str, Any] | None = None,
    dem: str | Path | list[str | Path] | tuple[str | Path, ...] | None = None,
    heavy_share: float = terrain.HEAVY_SHARE,
) -> Study:
    """Open a network and its demand from whatever the user names.

    Parameters
    ----------
    network
        None (or ``"builtin-region"``) for the built-in region of small towns north of
        Bayreuth with its terrain (:func:`networks.osm.builtin_region`; its DEM is used
        unless ``dem`` names another); ``"builtin-town"`` for the small town in the pyrosm
        wheel (:func:`networks.osm.builtin_town`); else an existing file (TNTP net file or network-design
        instance; OpenStreetMap ``.osm``/``.osm.bz2``/``.osm.gz``/``.osm.pbf``/``.graphml``)
        or a dataset name (:mod:`networks.datasets`), in that order.
    trips
        TNTP: a trips file overriding the naming rule. OSM: a user's OD matrix CSV
        (``origin,destination,trips`` over the zones and gateways, by id or zone name),
        with ``od_period``.
    place, bbox, polygon
        An OpenStreetMap area to download (needs the internet): a place name, a
        ``(west, south, east, north)`` box in degrees, or a polygon.
    profile
        Road-class defaults for OSM: ``"generic"``, ``"china"`` or ``"china-mountain"``.
    consolidate, tolerance
        OSM sources (the built-ins too): merge the nodes of complex intersections
        within ``tolerance`` metres (:func:`networks.osm.graph_to_network`).
    zones, gateways, gateway_classes, seed
        Demand synthesis for OSM areas (:func:`networks.zoning.demand_model`): ``zones``
        is ``None``/``"places"`` (named settlements), an int (k-means), a zone file or a
        :class:`~networks.zones.Zones`.
    crs
        Coordinate system of a TNTP network's node coordinates, when its files don't say.
    demand_options
        Further keywords of :func:`networks.zoning.demand_model` (``external_share``,
        ``gateway_refs``, ``design_hour_factor``, ``trip_rate``, ...).
    dem, heavy_share
        Digital elevation model file(s) (SRTM ``.hgt``/``.hgt.zip``, GeoTIFF) and the share
        of heavy vehicles: heights, grades, terrain classes and their effect on speeds and
        capacities are put on the network as read, before the demand is built
        (:func:`networks.terrain.apply_terrain`). A TNTP network needs its ``crs``.

    Returns
    -------
    Study
        For OSM areas, the network holds the zones' centroids and connectors (the demand
        loads there) and ``study.model`` the zones, gateways and access points.
    """
    given = [x is not None for x in (network, place, bbox, polygon)]
    if sum(given) > 1:
        raise ValueError("name one network source: a NETWORK, a place, a bbox or a polygon")
    tol = check_tolerance(tolerance) if consolidate else float(tolerance)
    osm_options: dict[str, Any] = {
        "profile": profile,
        "consolidate": bool(consolidate),
        "tolerance": tol,
    }
    meta: dict[str, Any] = {"profile": profile, "seed": seed, "zones_given": _describe(zones)}
    if dem is not None:
        meta["dem"] = [str(p) for p in ([dem] if isinstance(dem, (str, Path)) else dem)]
        meta["heavy_share"] = float(heavy_share)
    net = None
    if place is not None:
        net, what = osm.from_place(place, **osm_options), f"OpenStreetMap place {place!r}"
    elif bbox is not None:
        net, what = osm.from_bbox(bbox, **osm_options), f"OpenStreetMap bbox {tuple(bbox)}"
    elif polygon is not None:
        net, what = osm.from_polygon(polygon, **osm_options), "OpenStreetMap polygon"
    elif network is None or network == "builtin-region":
        net, what = osm.builtin_region(**osm_options), "built-in region (north of Bayreuth)"
        if dem is None:  # the region ships with its terrain
            meta["dem"] = [str(osm.BUILTIN_DEM)]
            meta["heavy_share"] = float(heavy_share)
    elif network == "builtin-town":
        net, what = osm.builtin_town(**osm_options), "built-in town (pyrosm test_pbf)"
    elif Path(network).exists() and is_osm_file(network):
        net, what = osm.from_file(network, **osm_options), f"OpenStreetMap file {network}"
    if net is not None:
        net = _with_terrain(net, meta)  # before the zones: they see the terrain's network
        kw: dict[str, Any] = {
            "seed": seed,
            "zones": zones,
            "gateways": gateways,
            **dict(demand_options or {}),
        }
        if gateway_classes is not None:
            kw["gateway_classes"] = list(gateway_classes)
        if trips is not None:
            if od_period is None:
                raise ValueError(
                    f"{trips}: say which period the OD matrix covers (od_period, CLI "
                    "--od-period, e.g. 'peak hour')"
                )
            kw["od"] = trips
            kw["od_period"] = od_period
        from . import zoning

        model = zoning.demand_model(net, **kw)
        meta = {
            **meta,
            "zones": model.zones.num_zones,
            "zone_source": model.zones.source,
            "gateways": model.gateways.num_gateways,
            "access_points": model.parameters.get("access_points", {}),
            # what the study area left out of the file's roads (count and km by class)
            "trimmed": net.extra.get("trimmed", {}),
        }
        return Study(model.network or net, model.demand, model, what, meta)
    from . import datasets

    assert network is not None  # the built-ins were opened above
    net, demand = datasets.load(network, trips=trips)
    if crs is not None:
        net = net.replace(crs=check_crs(crs), validate=False)
    return Study(_with_terrain(net, meta), demand, None, f"TNTP {network}", meta)


def _with_terrain(net: Network, meta: Mapping[str, Any]) -> Network:
    """The network with the terrain of the DEM in ``meta`` (unchanged without one)."""
    if meta.get("dem") is None:
        return net
    if net.crs is None:
        raise OptionError(
            "dem",
            f"network '{net.name}' has no coordinate reference system, so a DEM cannot be "
            "laid on it; give its CRS (crs, CLI --crs)",
        )
    return terrain.apply_terrain(net, meta["dem"], heavy_share=meta["heavy_share"])


def _describe(zones: Any) -> Any:
    """How ``zones`` was given, for the study's record."""
    if zones is None or isinstance(zones, (int, str)):
        return zones
    if isinstance(zones, Path):
        return str(zones)
    return type(zones).__name__
