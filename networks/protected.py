"""Protected areas: polygons where road building is forbidden or costs more.

A file of polygons (GeoPackage, GeoJSON, Shapefile: anything geopandas reads) describes
ecological red lines, heritage towns, water-source zones and the like. Each feature is
one area with a *rule*, from its optional column ``rule``:

``forbid`` (also an empty cell, or no ``rule`` column at all)
    No upgrade whose geometry intersects the area may be offered.
a number ``>= 1``
    A cost multiplier for every upgrade whose geometry intersects the area (``1.5``:
    50 % dearer, e.g. tunnelling or heritage-grade materials).

The optional column ``name`` names the areas in reports (default ``feature N``). The
polygons are reprojected to the network's CRS. The rule is applied to candidate
upgrades by :func:`optimizer.protect.protect_candidates`; this module only reads the file.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._io import geojson_source
from .errors import FileFormatError

__all__ = ["FORBID", "ProtectedAreas", "read_protected"]

log = logging.getLogger(__name__)

#: The rule word of a forbidden area (its multiplier is infinite).
FORBID = "forbid"


@dataclass(frozen=True, eq=False)
class ProtectedAreas:
    """Polygons with a rule each, in the network's CRS.

    Attributes
    ----------
    geometry : tuple of shapely (Multi)Polygon
        One per area, in ``crs``.
    names : tuple of str
        The ``name`` column, else ``feature N``.
    rows : tuple of int
        1-based feature number in the file.
    multiplier : float64 array
        Cost multiplier of each area, ``>= 1``; ``inf`` for a forbidden area.
    crs : str or None
        CRS of ``geometry`` (the network's).
    source : str
        The file.
    """

    geometry: tuple[Any, ...]
    names: tuple[str, ...]
    rows: tuple[int, ...]
    multiplier: np.ndarray
    crs: str | None
    source: str

    def __len__(self) -> int:
        return len(self.geometry)

    def rule(self, k: int) -> str:
        """Area ``k``'s rule as written in reports: ``forbid`` or ``x1.5``."""
        m = float(self.multiplier[k])
        return FORBID if math.isinf(m) else f"x{m:g}"

    def summary(self) -> dict[str, Any]:
        """The areas as JSON-ready rows (name, feature, rule)."""
        return {
            "source": self.source,
            "areas": [
                {"name": self.names[k], "feature": self.rows[k], "rule": self.rule(k)}
                for k in range(len(self))
            ],
        }


def _rule(value: Any, path: Path, row: int) -> float:
    """A ``rule`` cell as a multiplier (``inf`` for forbid)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.inf
    text = str(value).strip()
    if text == "" or text.lower() == FORBID:
        return math.inf
    try:
        m = float(text)
    except ValueError:
        m = math.nan
    if not (math.isfinite(m) and m >= 1.0):
        raise FileFormatError(
            path,
            f"feature {row}: rule is {text!r}; write forbid or a cost multiplier >= 1 (e.g. 1.5)",
            field="rule",
        )
    return m


def read_protected(path: str | Path, *, crs: str | None) -> ProtectedAreas:
    """Read protected areas from a polygon file and reproject them to ``crs``.

    Parameters
    ----------
    path
        A GeoPackage (first layer), GeoJSON, Shapefile or other file geopandas reads.
    crs
        The network's CRS. None: the network has no CRS, and the file must have none
        either (its coordinates are then taken as the network's).

    Returns
    -------
    ProtectedAreas

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    FileFormatError
        Naming the file, the feature and the field: an unreadable or empty file, a
        geometry that is not a polygon, a bad ``rule``, a file without a CRS (or with one
        for a network without), or a CRS that cannot be transformed to the network's.
    """
    import geopandas as gpd
    import pyproj
    import shapely

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file (protected areas)")
    src = geojson_source(p)  # GeoJSON must be UTF-8: say so, not pyogrio
    try:
        gdf = gpd.read_file(src)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise FileFormatError(
            p, f"cannot be read as a polygon file (GeoPackage, GeoJSON, Shapefile): {exc}"
        ) from None
    if len(gdf) == 0:
        raise FileFormatError(p, "holds no features; draw at least one protected polygon")
    if gdf.crs is None and crs is not None:
        raise FileFormatError(
            p,
            f"has no CRS, so it cannot be placed on the network ({crs}); set one "
            "(a .prj beside a Shapefile; GeoJSON is EPSG:4326)",
        )
    if gdf.crs is not None and crs is None:
        raise FileFormatError(
            p,
            f"is in {gdf.crs.to_string()} but the network has no CRS; give the network's "
            "CRS (--crs for TNTP node coordinates)",
        )
    geoms = list(gdf.geometry.values)
    for k, g in enumerate(geoms, 1):
        if g is None or g.is_empty:
            raise FileFormatError(p, f"feature {k}: no geometry; draw a polygon", field="geometry")
        if g.geom_type not in ("Polygon", "MultiPolygon"):
            raise FileFormatError(
                p,
                f"feature {k}: geometry is a {g.geom_type}; protected areas must be "
                "polygons (buffer lines and points first)",
                field="geometry",
            )
    if crs is not None and gdf.crs is not None:
        target = pyproj.CRS.from_user_input(crs)
        if not gdf.crs.equals(target):
            try:
                gdf = gdf.to_crs(target)
            except Exception as exc:  # pyproj.exceptions.CRSError, ProjError
                raise FileFormatError(
                    p,
                    f"its CRS {gdf.crs.to_string()} cannot be transformed to the "
                    f"network's {crs}: {exc}",
                    field="geometry",
                ) from None
            for k, g in enumerate(gdf.geometry.values, 1):
                if g is None or g.is_empty or not np.all(np.isfinite(shapely.get_coordinates(g))):
                    raise FileFormatError(
                        p,
                        f"feature {k}: cannot be transformed from {gdf.crs} to the "
                        f"network's {crs} (outside the CRS's area of use?)",
                        field="geometry",
                    )
            geoms = list(gdf.geometry.values)
    for k, g in enumerate(geoms):
        if not g.is_valid:
            log.info("%s: feature %d is not a valid polygon; repaired (make_valid)", p, k + 1)
            fixed = shapely.make_valid(g)
            parts = [
                q for q in getattr(fixed, "geoms", [fixed]) if q.geom_type.endswith("Polygon")
            ]
            geoms[k] = shapely.union_all(parts) if parts else g
    rules = gdf["rule"].tolist() if "rule" in gdf.columns else [None] * len(geoms)
    mult = np.array([_rule(v, p, k) for k, v in enumerate(rules, 1)], dtype=np.float64)
    names: list[str] = []
    col = gdf["name"].tolist() if "name" in gdf.columns else [None] * len(geoms)
    for k, v in enumerate(col, 1):
        text = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip()
        names.append(text or f"feature {k}")
    mult.setflags(write=False)
    areas = ProtectedAreas(
        geometry=tuple(geoms),
        names=tuple(names),
        rows=tuple(range(1, len(geoms) + 1)),
        multiplier=mult,
        crs=crs,
        source=str(p),
    )
    log.info(
        "%s: %d protected areas (%d forbidden, %d with a cost multiplier)",
        p,
        len(areas),
        int(np.isinf(mult).sum()),
        int(np.isfinite(mult).sum()),
    )
    return areas
