"""OpenStreetMap areas: the online readers (place, polygon, bounding box) and area checks."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..errors import BoundingBoxError, NoDrivableRoadsError, OSMQueryError, PlaceNotFoundError
from ..network import Network
from ..roads import RoadProfile, get_profile
from .convert import (
    _LONLAT,
    DEFAULT_TOLERANCE_M,
    _osmnx_settings,
    _overpass_filter,
    graph_to_network,
)


# ---------------------------------------------------------------------- areas
def _check_bbox(bbox: Any) -> tuple[float, float, float, float]:
    """Validate ``(west, south, east, north)`` in degrees."""
    hint = (
        "give bbox as (west, south, east, north) in degrees, e.g. (104.70, 29.30, 104.80, 29.40)"
    )
    try:
        vals = tuple(float(v) for v in bbox)
    except (TypeError, ValueError):
        raise BoundingBoxError(f"bbox {bbox!r} is not four numbers; {hint}") from None
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
        raise BoundingBoxError(f"bbox {bbox!r} is not four finite numbers; {hint}")
    w, s, e, n = vals
    if not (-90.0 <= s <= 90.0 and -90.0 <= n <= 90.0):
        raise BoundingBoxError(
            f"bbox {vals}: south {s} / north {n} are not latitudes in [-90, 90] "
            f"(latitude and longitude swapped?); {hint}"
        )
    if not (-180.0 <= w <= 180.0 and -180.0 <= e <= 180.0):
        raise BoundingBoxError(f"bbox {vals}: west {w} / east {e} are not longitudes; {hint}")
    if w >= e:
        raise BoundingBoxError(f"bbox {vals}: west {w} is not less than east {e}; {hint}")
    if s >= n:
        raise BoundingBoxError(f"bbox {vals}: south {s} is not less than north {n}; {hint}")
    return vals


def _as_polygon(polygon: Any) -> Any:
    """A shapely (Multi)Polygon in lon/lat from a shapely geometry or a GeoDataFrame/Series."""
    import shapely

    geom = polygon
    if hasattr(polygon, "to_crs") and hasattr(polygon, "crs"):
        gs = polygon.geometry if hasattr(polygon, "geometry") else polygon
        if gs.crs is not None:
            gs = gs.to_crs(_LONLAT)
        geom = gs.union_all()
    if not isinstance(geom, (shapely.Polygon, shapely.MultiPolygon)):
        raise BoundingBoxError(
            f"the study area must be a shapely Polygon or MultiPolygon in lon/lat, not "
            f"{type(geom).__name__}"
        )
    if geom.is_empty or not geom.is_valid:
        raise BoundingBoxError("the study area polygon is empty or invalid (self-intersecting?)")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise BoundingBoxError(
            f"the study area polygon's bounds {geom.bounds} are not lon/lat degrees; "
            "reproject it to EPSG:4326"
        )
    return geom


# ---------------------------------------------------------------------- online
def from_place(
    query: str | Mapping[str, str],
    *,
    profile: str | RoadProfile = "generic",
    which_result: int | None = None,
    highway: Iterable[str] | None = None,
    simplify: bool = True,
    consolidate: bool = True,
    tolerance: float = DEFAULT_TOLERANCE_M,
    name: str | None = None,
) -> Network:
    """Download the drivable roads of a named place (needs the internet; osmnx caches).

    The place is geocoded with Nominatim into a boundary polygon, which becomes the
    study area (``extra["boundary"]``); the roads inside are downloaded from Overpass.

    Parameters
    ----------
    query
        A place name such as ``"Ziliujing District, Zigong, Sichuan, China"``, or a
        structured Nominatim query (dict).
    profile, highway, simplify, consolidate, tolerance
        As for :func:`graph_to_network`.
    which_result
        Which geocoding result to use (osmnx default: the first polygon).
    name
        The network's name (default: the query).

    Raises
    ------
    PlaceNotFoundError
        When the geocoder finds no area for ``query``.
    NoDrivableRoadsError
        When the area holds no drivable road.
    OSMQueryError
        When the download fails.
    """
    label = query if isinstance(query, str) else json.dumps(dict(query), ensure_ascii=False)
    with _osmnx_settings() as ox:
        try:
            gdf = ox.geocode_to_gdf(query, which_result=which_result)
        except (ox._errors.InsufficientResponseError, TypeError, ValueError) as exc:
            raise PlaceNotFoundError(
                f"cannot geocode place {query!r}: {exc}. Check the spelling, add the "
                "province and country, or use from_bbox/from_polygon"
            ) from exc
        except Exception as exc:
            _raise_if_offline(exc, f"OpenStreetMap place {label!r}", ox.settings.nominatim_url)
            raise OSMQueryError(f"geocoding {query!r} failed: {exc}") from exc
        if len(gdf) == 0:
            raise PlaceNotFoundError(f"cannot geocode place {query!r}: no result")
        poly = gdf.geometry.union_all()
        import shapely

        if not isinstance(poly, (shapely.Polygon, shapely.MultiPolygon)):
            raise PlaceNotFoundError(
                f"place {query!r} geocodes to a {poly.geom_type}, not an area; use "
                "from_bbox or a polygon"
            )
        return _from_area(
            ox,
            poly,
            profile=profile,
            highway=highway,
            simplify=simplify,
            consolidate=consolidate,
            tolerance=tolerance,
            name=name or label,
            source=f"OpenStreetMap place {label!r}",
        )


def from_polygon(
    polygon: Any,
    *,
    profile: str | RoadProfile = "generic",
    highway: Iterable[str] | None = None,
    simplify: bool = True,
    consolidate: bool = True,
    tolerance: float = DEFAULT_TOLERANCE_M,
    name: str = "osm-polygon",
) -> Network:
    """Download the drivable roads inside a polygon (needs the internet; osmnx caches).

    Parameters
    ----------
    polygon
        A shapely Polygon/MultiPolygon in lon/lat (EPSG:4326), or a GeoDataFrame/GeoSeries
        in any CRS (its union is used).
    profile, highway, simplify, consolidate, tolerance, name
        As for :func:`graph_to_network`.
    """
    poly = _as_polygon(polygon)
    with _osmnx_settings() as ox:
        return _from_area(
            ox,
            poly,
            profile=profile,
            highway=highway,
            simplify=simplify,
            consolidate=consolidate,
            tolerance=tolerance,
            name=name,
            source="OpenStreetMap polygon " + _short_wkt(poly),
        )


def from_bbox(
    bbox: Sequence[float],
    *,
    profile: str | RoadProfile = "generic",
    highway: Iterable[str] | None = None,
    simplify: bool = True,
    consolidate: bool = True,
    tolerance: float = DEFAULT_TOLERANCE_M,
    name: str = "osm-bbox",
) -> Network:
    """Download the drivable roads inside a bounding box (needs the internet; osmnx caches).

    Parameters
    ----------
    bbox
        ``(west, south, east, north)`` in degrees (osmnx 2's order).
    profile, highway, simplify, consolidate, tolerance, name
        As for :func:`graph_to_network`.

    Raises
    ------
    BoundingBoxError
        When ``bbox`` is not ``(west, south, east, north)``.
    """
    import shapely

    w, s, e, n = _check_bbox(bbox)
    with _osmnx_settings() as ox:
        return _from_area(
            ox,
            shapely.box(w, s, e, n),
            profile=profile,
            highway=highway,
            simplify=simplify,
            consolidate=consolidate,
            tolerance=tolerance,
            name=name,
            source=f"OpenStreetMap bbox ({w}, {s}, {e}, {n})",
        )


def _short_wkt(geom: Any) -> str:
    b = ", ".join(f"{v:.5f}" for v in geom.bounds)
    return f"with bounds ({b})"


def _from_area(
    ox: Any, poly: Any, *, profile, highway, simplify, consolidate, tolerance, name, source
):
    prof = get_profile(profile, highway=highway)
    try:
        with _no_pause_when_offline(ox):
            G = ox.graph_from_polygon(
                poly,
                custom_filter=_overpass_filter(prof),
                simplify=False,
                retain_all=True,
            )
    except (ox._errors.InsufficientResponseError, ValueError) as exc:
        raise NoDrivableRoadsError(f"{source}: no drivable roads found ({exc})") from exc
    except Exception as exc:
        _raise_if_offline(exc, source, ox.settings.overpass_url)
        raise OSMQueryError(f"{source}: the download failed: {exc}") from exc
    return graph_to_network(
        G,
        profile=prof,
        simplify=simplify,
        consolidate=consolidate,
        tolerance=tolerance,
        boundary=poly,
        name=name,
        source=source,
    )


# ---------------------------------------------------------------------- offline
def _offline_types() -> tuple[type[BaseException], ...]:
    """The exceptions that mean a server could not be reached at all (no answer came)."""
    types: list[type[BaseException]] = [socket.gaierror, TimeoutError, ConnectionError]
    with contextlib.suppress(ImportError):
        import requests

        types += [requests.exceptions.ConnectionError, requests.exceptions.Timeout]
    with contextlib.suppress(ImportError):
        import urllib3

        types += [
            urllib3.exceptions.NewConnectionError,
            urllib3.exceptions.MaxRetryError,
            urllib3.exceptions.TimeoutError,
        ]
    return tuple(types)


def _unreachable(exc: BaseException) -> str | None:
    """Why no server answered, when ``exc`` or an exception in its chain says so, else None."""
    offline = _offline_types()
    seen: set[int] = set()
    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        chain.append(e)
        e = e.__cause__ or e.__context__
    unreachable = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN)
    if any(_is_ssl(e) for e in chain):  # an answer came, but not one to trust
        return None
    if not any(
        isinstance(e, offline) or (isinstance(e, OSError) and e.errno in unreachable)
        for e in chain
    ):
        return None
    # the deepest cause names the reason; requests and urllib3 keep theirs in args too
    text = " ".join(str(e) for e in chain)
    if any(isinstance(e, socket.gaierror) for e in chain) or "resolve" in text.lower():
        return "its name cannot be resolved"
    if any(isinstance(e, TimeoutError) for e in chain) or "timed out" in text.lower():
        return "the connection timed out"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text.lower():
        return "the connection was refused"
    if any(isinstance(e, OSError) and e.errno in unreachable for e in chain):
        return "the network is unreachable"
    return "no connection"


def _is_ssl(exc: BaseException) -> bool:
    """Whether ``exc`` is a TLS failure (requests files it under ConnectionError)."""
    import ssl

    return isinstance(exc, ssl.SSLError) or type(exc).__name__ == "SSLError"


def _raise_if_offline(exc: BaseException, source: str, url: str) -> None:
    """Raise one clear :class:`OSMQueryError` when ``exc`` means that ``url`` is unreachable.

    The requests/urllib3 chain (pools, retries, sockets) says nothing a user can act on,
    so it is left out (``from None``); the reason is kept in a few words.
    """
    reason = _unreachable(exc)
    if reason is None:
        return
    host = urlsplit(url).hostname or url
    raise OSMQueryError(
        f"{source} needs the internet: {host} cannot be reached ({reason}), so the download "
        "failed; connect to the internet, or use a saved OpenStreetMap extract "
        "(.osm, .osm.pbf) as the network file"
    ) from None


def _cannot_resolve(url: str) -> bool:
    """Whether ``url``'s host has no address here (no DNS: offline), when no proxy is set."""
    try:
        import requests

        if requests.utils.get_environ_proxies(url):
            return False  # the proxy resolves names; nothing to learn here
    except ImportError:  # pragma: no cover - osmnx depends on requests
        pass
    host = urlsplit(url).hostname
    if not host:
        return False
    try:
        socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return True
    except OSError:
        return False
    return False


@contextlib.contextmanager
def _no_pause_when_offline(ox: Any) -> Iterator[None]:
    """Skip osmnx's Overpass rate-limit pause when the server's name does not resolve.

    Before each request osmnx asks the Overpass status endpoint how long to wait and, when
    that fails, sleeps 60 s. Offline that only delays the error; a cached response is still
    served without the pause.
    """
    s = ox.settings
    saved = s.overpass_rate_limit
    if saved and _cannot_resolve(s.overpass_url):
        s.overpass_rate_limit = False
    try:
        yield
    finally:
        s.overpass_rate_limit = saved
