"""Features of OpenStreetMap files beside the roads: buildings (activity proxies)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import FileFormatError
from .areas import _as_polygon, _check_bbox
from .convert import _LONLAT, _ox
from .files import _kind, _pbf_check


def read_buildings(
    path: str | Path,
    *,
    bbox: Sequence[float] | None = None,
    polygon: Any = None,
    crs: str | None = None,
) -> Any:
    """Building footprints of an OpenStreetMap file, as polygons (for activity proxies).

    Parameters
    ----------
    path
        ``.osm.pbf`` (pyrosm) or OSM XML (osmnx ``features_from_xml``).
    bbox, polygon
        Keep only buildings in this area (lon/lat).
    crs
        Project the result to this CRS (default: lon/lat).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per building with a polygon ``geometry`` (empty when the file has none).
    """
    import geopandas as gpd
    import shapely

    p = Path(path)
    kind = _kind(p)
    area = shapely.box(*_check_bbox(bbox)) if bbox is not None else None
    if polygon is not None:
        area = _as_polygon(polygon)
    gdf = None
    if kind == "pbf":
        import pyrosm

        _pbf_check(p)
        try:
            gdf = pyrosm.OSM(str(p), bounding_box=area, progress=False).get_buildings()
        except Exception as exc:
            raise FileFormatError(p, f"cannot be read as OSM PBF: {exc}") from None
    elif kind == "xml":
        ox = _ox()
        try:
            gdf = ox.features_from_xml(p, tags={"building": True})
        except ox._errors.InsufficientResponseError:
            gdf = None
        except Exception as exc:
            raise FileFormatError(p, f"cannot read buildings: {exc}") from None
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=_LONLAT))
    if gdf is None or len(gdf) == 0:
        out = empty
    else:
        gdf = gdf.set_crs(_LONLAT, allow_override=True) if gdf.crs is None else gdf
        keep = gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
        out = gpd.GeoDataFrame(geometry=gdf.geometry[keep].reset_index(drop=True), crs=gdf.crs)
        if area is not None and kind != "pbf":
            out = out[out.geometry.intersects(area)].reset_index(drop=True)
    return out.to_crs(crs) if crs else out
