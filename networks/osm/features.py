"""Features of OpenStreetMap files beside the roads: buildings and settlements.

:func:`read_buildings` gives building footprints with their storeys (activity proxies);
:func:`read_places` the settlements (``place=*`` nodes) with their names and populations.
"""

from __future__ import annotations

import json
import math
import re
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
        One row per building with a polygon ``geometry``, ``levels`` (storeys from
        ``building:levels``, NaN where untagged) and ``building`` (the tag's value,
        ``"yes"`` where it says no more); empty when the file has none.
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
    empty = gpd.GeoDataFrame(
        {"levels": [], "building": []}, geometry=gpd.GeoSeries([], crs=_LONLAT)
    )
    if gdf is None or len(gdf) == 0:
        out = empty
    else:
        gdf = gdf.set_crs(_LONLAT, allow_override=True) if gdf.crs is None else gdf
        keep = gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
        tag = gdf["building:levels"] if "building:levels" in gdf.columns else None
        levels = [_levels(v) for v in (tag.tolist() if tag is not None else [None] * len(gdf))]
        kinds = gdf["building"].tolist() if "building" in gdf.columns else ["yes"] * len(gdf)
        out = gpd.GeoDataFrame(
            {
                "levels": [lv for lv, k in zip(levels, keep, strict=True) if k],
                "building": [
                    str(b) if isinstance(b, str) else "yes"
                    for b, k in zip(kinds, keep, strict=True)
                    if k
                ],
            },
            geometry=gdf.geometry[keep].reset_index(drop=True),
            crs=gdf.crs,
        )
        if area is not None and kind != "pbf":
            out = out[out.geometry.intersects(area)].reset_index(drop=True)
    return out.to_crs(crs) if crs else out


def _levels(value: Any) -> float:
    """Storeys from a ``building:levels`` value (``"2"``, ``"2.5"``, ``"2;3"``); NaN if none."""
    try:
        vals = [float(v) for v in str(value).replace(",", ".").split(";") if v.strip()]
    except (TypeError, ValueError):
        return math.nan
    vals = [v for v in vals if math.isfinite(v) and 0 < v < 200]
    return max(vals) if vals else math.nan


#: ``place=*`` values read as settlements, from the largest to the smallest.
PLACE_KINDS: tuple[str, ...] = (
    "city",
    "town",
    "village",
    "suburb",
    "quarter",
    "neighbourhood",
    "hamlet",
    "isolated_dwelling",
)


def read_places(path: str | Path) -> list[dict[str, Any]]:
    """The settlements of an OpenStreetMap file: ``place=*`` nodes of :data:`PLACE_KINDS`.

    Parameters
    ----------
    path
        OSM XML (``.osm``, ``.osm.bz2``, ``.osm.gz``; read as a stream) or ``.osm.pbf``
        (pyrosm). GraphML holds no places: the result is empty.

    Returns
    -------
    list of dict
        ``osm_id``, ``kind`` (the ``place`` value), ``name`` (``""`` when untagged),
        ``population`` (float, NaN when untagged or unreadable), ``lon``, ``lat``; sorted
        by ``osm_id``.
    """
    p = Path(path)
    kind = _kind(p)
    rows: list[dict[str, Any]] = []
    if kind == "pbf":
        import pyrosm

        _pbf_check(p)
        try:
            gdf = pyrosm.OSM(str(p)).get_data_by_custom_criteria(
                custom_filter={"place": list(PLACE_KINDS)},
                keep_nodes=True,
                keep_ways=False,
                keep_relations=False,
            )
        except Exception as exc:
            raise FileFormatError(p, f"cannot read places from the PBF: {exc}") from None
        if gdf is not None:
            for row in gdf.itertuples(index=False):
                tags = getattr(row, "tags", None)
                if isinstance(tags, str):
                    try:
                        tags = json.loads(tags)
                    except ValueError:
                        tags = {}
                tags = dict(tags or {})
                for k in ("name", "population"):
                    v = getattr(row, k, None)
                    if isinstance(v, str) and v:
                        tags.setdefault(k, v)
                rows.append(_place(row.id, str(row.place), tags, row.lon, row.lat))
    elif kind == "xml":
        rows = _xml_places(p)
    return sorted(rows, key=lambda r: r["osm_id"])


def _place(osm_id: Any, kind: str, tags: dict[str, Any], lon: Any, lat: Any) -> dict[str, Any]:
    return {
        "osm_id": int(osm_id),
        "kind": kind,
        "name": str(tags.get("name") or ""),
        "population": _population(tags.get("population")),
        "lon": float(lon),
        "lat": float(lat),
    }


def _population(value: Any) -> float:
    """A ``population=*`` value as a number (``"1085"``, ``"1.085"``, ``"3,959"``), else NaN."""
    if value is None:
        return math.nan
    text = re.sub(r"[\s,.'](?=\d{3}\b)", "", str(value)).split(";")[0].strip()
    try:
        v = float(text)
    except ValueError:
        return math.nan
    return v if math.isfinite(v) and v >= 0 else math.nan


def _xml_places(path: Path) -> list[dict[str, Any]]:
    """``place=*`` nodes of an OSM XML file, read as a stream (the file may be large)."""
    import bz2
    import gzip
    import xml.etree.ElementTree as ET

    name = path.name.lower()
    opener: Any = (
        bz2.open if name.endswith(".bz2") else gzip.open if name.endswith(".gz") else open
    )
    wanted = set(PLACE_KINDS)
    rows = []
    try:
        with opener(path, "rb") as fh:
            for _, el in ET.iterparse(fh, events=("end",)):
                if el.tag == "node":
                    tags = {t.get("k"): t.get("v") for t in el.iter("tag")}
                    if tags.get("place") in wanted:
                        rows.append(
                            _place(el.get("id"), tags["place"], tags, el.get("lon"), el.get("lat"))
                        )
                    el.clear()
                elif el.tag in ("way", "relation"):
                    el.clear()
    except (ET.ParseError, OSError, EOFError) as exc:
        raise FileFormatError(path, f"cannot read places (truncated or corrupt?): {exc}") from None
    return rows
