"""Link tables with geometry: GeoDataFrames and atomic GeoPackage / GeoJSON / CSV files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._io import atomic_path
from .errors import RoadoptError
from .network import Network

__all__ = ["link_geometries", "links_frame", "write_frame"]

VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json")


class NoGeometryError(RoadoptError, ValueError):
    """Geometry was asked for a network whose node coordinates or CRS are unknown."""


def link_geometries(network: Network) -> list:
    """One LineString per link in the network's CRS: OSM way geometry, else a straight line.

    Raises
    ------
    NoGeometryError
        When the links have no stored geometry and the nodes no coordinates.
    """
    import shapely

    geoms = network.extra.get("geometry")
    if geoms is not None and len(geoms) == network.num_links:
        return list(geoms)
    if not network.has_coordinates:
        raise NoGeometryError(
            f"network '{network.name}' has no node coordinates, so its links have no "
            "geometry; write a .csv instead, or give the node file"
        )
    xy = np.column_stack([network.x, network.y])
    return list(shapely.linestrings(np.stack([xy[network.init], xy[network.term]], axis=1)))


def links_frame(network: Network, columns: Mapping[str, Any], *, geometry: bool = True):
    """A table of the network's links: ``link_id``, external end nodes, then ``columns``.

    Parameters
    ----------
    network
        The network.
    columns
        Extra per-link columns (arrays of length m).
    geometry
        Return a GeoDataFrame with link geometry in the network's CRS (requires a CRS).
    """
    import pandas as pd

    ids = network.node_ids
    data: dict[str, Any] = {
        "link_id": network.link_ids,
        "init_node": ids[network.init],
        "term_node": ids[network.term],
    }
    data.update(columns)
    if not geometry:
        return pd.DataFrame(data)
    import geopandas as gpd

    if network.crs is None:
        raise NoGeometryError(
            f"network '{network.name}' has no known coordinate reference system; state it "
            "(CLI: --crs EPSG:xxxx) or write a .csv"
        )
    return gpd.GeoDataFrame(data, geometry=link_geometries(network), crs=network.crs)


def write_frame(
    frame: Any, path: str | Path, *, layer: str | None = None, append: bool = False
) -> None:
    """Write a (Geo)DataFrame to ``.gpkg``, ``.geojson`` or ``.csv``, atomically.

    GeoJSON follows RFC 7946: coordinates in WGS 84 longitude/latitude (reprojected from
    the frame's CRS), the collection named ``layer`` (default: the file's stem).

    With ``append`` a further layer is added to an existing GeoPackage (the file is copied
    to a temporary file, extended, and renamed back).
    """
    import shutil

    p = Path(path)
    suffix = p.suffix.lower()
    with atomic_path(p) as tmp:
        if suffix == ".csv":
            frame.drop(columns="geometry", errors="ignore").to_csv(tmp, index=False)
        elif suffix == ".gpkg":
            if append and p.exists():
                shutil.copyfile(p, tmp)
            elif tmp.exists():
                tmp.unlink()
            frame.to_file(
                tmp, driver="GPKG", layer=layer or p.stem, engine="pyogrio", append=False
            )
        elif suffix in (".geojson", ".json"):
            if tmp.exists():
                tmp.unlink()
            # RFC 7946: lon/lat on WGS 84; the collection named after the layer, not the
            # temporary file
            if getattr(frame, "crs", None) is not None:
                frame = frame.to_crs("EPSG:4326")
            frame.to_file(
                tmp, driver="GeoJSON", engine="pyogrio", layer=layer or p.stem, RFC7946="YES"
            )
        else:
            raise ValueError(f"{p}: unknown output type; use .gpkg, .geojson or .csv")
