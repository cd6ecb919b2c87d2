"""OpenStreetMap files: OSM XML (.osm, .osm.bz2, .osm.gz), .osm.pbf, GraphML; the built-ins."""

from __future__ import annotations

import bz2
import contextlib
import functools
import gzip
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import FileFormatError, NoDrivableRoadsError
from ..network import Network
from ..roads import RoadProfile, get_profile, oneway_rule
from .areas import _as_polygon, _check_bbox, _short_wkt
from .convert import (
    _EXTRA_WAY_TAGS,
    _LONLAT,
    _XML_SUFFIXES,
    DEFAULT_TOLERANCE_M,
    _osmnx_settings,
    graph_to_network,
)


# ---------------------------------------------------------------------- files
def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".pbf"):
        return "pbf"
    if name.endswith(".graphml"):
        return "graphml"
    if name.endswith(_XML_SUFFIXES):
        return "xml"
    raise FileFormatError(
        path,
        "unknown extension; expected an OpenStreetMap file: .osm, .osm.bz2, .osm.gz "
        "(OSM XML), .osm.pbf or .graphml (osmnx)",
    )


def from_file(
    path: str | Path,
    *,
    bbox: Sequence[float] | None = None,
    polygon: Any = None,
    profile: str | RoadProfile = "generic",
    highway: Iterable[str] | None = None,
    simplify: bool = True,
    consolidate: bool = True,
    tolerance: float = DEFAULT_TOLERANCE_M,
    name: str | None = None,
) -> Network:
    """Read the drivable roads of an OpenStreetMap file (offline).

    Parameters
    ----------
    path
        ``.osm``, ``.osm.bz2``, ``.osm.gz`` (OSM XML, read with osmnx ``graph_from_xml``),
        ``.osm.pbf`` (read with pyrosm) or ``.graphml`` (an osmnx graph).
    bbox
        Keep only ``(west, south, east, north)`` (degrees); it becomes the study area.
    polygon
        Keep only this area (shapely polygon in lon/lat, or a GeoDataFrame).
    profile, highway, simplify, consolidate, tolerance
        As for :func:`graph_to_network`.
    name
        The network's name (default: the file name without extensions).

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    FileFormatError
        For an unknown extension, a file that is not what its extension says, or a
        truncated or corrupt file.
    NoDrivableRoadsError
        When the file (or the area) holds no drivable road.
    """
    import shapely

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    if p.is_dir():
        raise FileFormatError(p, "is a folder, expected an OpenStreetMap file")
    kind = _kind(p)
    if bbox is not None and polygon is not None:
        raise ValueError("give bbox or polygon, not both")
    area = None
    if bbox is not None:
        area = shapely.box(*_check_bbox(bbox))
    elif polygon is not None:
        area = _as_polygon(polygon)
    prof = get_profile(profile, highway=highway)
    label = name or re.sub(r"(\.osm)?(\.(pbf|bz2|gz|xml|graphml|osm))+$", "", p.name) or p.name
    source = f"OpenStreetMap file {p}"
    with _osmnx_settings() as ox:
        if kind == "pbf":
            G = _graph_from_pbf(p, area, prof)
        elif kind == "graphml":
            G = _graph_from_graphml(ox, p)
        else:
            G = _graph_from_xml(ox, p)
        if area is not None:  # pyrosm keeps whole ways that cross the area: cut them too
            G = _clip(ox, G, area)
        if len(G.edges) == 0:
            where = "" if area is None else " inside " + _short_wkt(area)
            raise NoDrivableRoadsError(f"{p}: no drivable roads{where}")
        return graph_to_network(
            G,
            profile=prof,
            simplify=simplify,
            consolidate=consolidate,
            tolerance=tolerance,
            boundary=area,
            extent=_xml_bounds(p) if kind == "xml" and area is None else None,
            name=label,
            source=source,
            extra={"source_path": str(p)},
        )


def _clip(ox: Any, G: Any, area: Any) -> Any:
    crs = G.graph.get("crs", _LONLAT)
    if ox.projection.is_projected(crs):
        G = ox.project_graph(G, to_latlong=True)
    try:
        return ox.truncate.truncate_graph_polygon(G, area)
    except ValueError:  # osmnx: "Found no graph nodes within the requested polygon"
        G = G.copy()
        G.remove_nodes_from(list(G.nodes))
        return G


def _sniff(path: Path) -> bytes:
    """The first KiB of a (possibly compressed) file; FileFormatError if it cannot be read."""
    name = path.name.lower()
    try:
        if name.endswith(".bz2"):
            with bz2.open(path, "rb") as fh:
                return fh.read(1024)
        if name.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                return fh.read(1024)
        with open(path, "rb") as fh:
            return fh.read(1024)
    except (OSError, EOFError) as exc:
        raise FileFormatError(
            path, f"cannot be decompressed ({exc}); is it really that format?"
        ) from None


def _xml_bounds(path: Path) -> Any:
    """The extract's ``<bounds>`` (lon/lat box) from the start of an OSM XML file, if any."""
    import shapely

    m = re.search(rb"<bounds\b([^>]*)>", _sniff(path))
    if m is None:
        return None
    vals = {
        (a + b).decode(): float(c)
        for a, b, c in re.findall(rb'(min|max)(lat|lon)="([-0-9.]+)"', m.group(1))
    }
    if len(vals) != 4:
        return None
    return shapely.box(vals["minlon"], vals["minlat"], vals["maxlon"], vals["maxlat"])


def _graph_from_xml(ox: Any, path: Path) -> Any:
    from xml.sax import SAXException

    head = _sniff(path)
    if not head.strip():
        raise FileFormatError(path, "is empty, expected OSM XML")
    if b"<osm" not in head:
        raise FileFormatError(
            path, "is not OSM XML: no <osm> root element at the start of the file"
        )
    try:
        return ox.graph_from_xml(path, simplify=False, retain_all=True)
    except ox._errors.InsufficientResponseError:
        raise NoDrivableRoadsError(f"{path}: the OSM XML holds no nodes or ways") from None
    except (SAXException, OSError, EOFError, UnicodeDecodeError) as exc:
        raise FileFormatError(
            path, f"is not valid OSM XML (truncated or corrupt?): {exc}"
        ) from None
    except Exception as exc:  # ElementTree's ParseError and friends
        if type(exc).__name__ in ("ParseError", "ExpatError"):
            raise FileFormatError(path, f"is not valid OSM XML (truncated?): {exc}") from None
        raise


def _graph_from_graphml(ox: Any, path: Path) -> Any:
    head = _sniff(path)
    if b"<graphml" not in head:
        raise FileFormatError(path, "is not GraphML: no <graphml> root element")
    try:
        G = ox.load_graphml(path)
    except Exception as exc:
        raise FileFormatError(path, f"cannot be read as an osmnx GraphML graph: {exc}") from None
    _check_node_coordinates(path, G)
    return G


def _check_node_coordinates(path: Path, G: Any) -> None:
    """FileFormatError naming the file, the attribute and a node when a node lacks x or y."""
    for attr in ("x", "y"):
        lacking = [n for n, d in G.nodes(data=True) if d.get(attr) is None]
        if not lacking:
            continue
        first = lacking[0]
        raise FileFormatError(
            path,
            f"{len(lacking)} of {len(G)} nodes have no '{attr}' attribute (the first: node "
            f"{first}{_graphml_node_line(path, first)}); every node needs x and y, which "
            "GraphML saved by osmnx (osmnx.save_graphml) has, as lon/lat in degrees "
            "(x = longitude, y = latitude) unless the graph's crs says otherwise; add them "
            "or re-save the graph with osmnx",
            field=attr,
        )


def _graphml_node_line(path: Path, node: Any) -> str:
    """``", line N"`` of ``<node id="node">`` in a GraphML file, or "" when not found."""
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    m = re.search(rb'<node\b[^>]*\bid="' + re.escape(str(node).encode()) + rb'"', data)
    if m is None:
        return ""
    line = data[: m.start()].count(b"\n") + 1
    return f", line {line}"


def _pbf_check(path: Path) -> None:
    head = _sniff(path)
    if len(head) < 16 or b"OSMHeader" not in head[:32]:
        raise FileFormatError(path, "is not an OSM PBF file (no OSMHeader block at its start)")


_PBF_TAGS = (
    "access",
    "area",
    "service",
    "junction",
    "oneway",
    "lanes",
    "maxspeed",
    "name",
    "ref",
    *_EXTRA_WAY_TAGS,
)


def _graph_from_pbf(path: Path, area: Any, prof: RoadProfile) -> Any:
    """A raw osmnx-style graph of the profile's roads in a PBF, read with pyrosm."""
    import networkx as nx
    import pyrosm

    _pbf_check(path)
    try:
        osm = pyrosm.OSM(str(path), bounding_box=area, progress=False)
        got = osm.get_network(
            network_type="driving",
            nodes=True,
            custom_filter={"highway": list(prof.classes)},
            filter_type="keep",
            extra_attributes=list(_PBF_TAGS),
        )
    except Exception as exc:  # pyrosm raises DecodeError, PBFException, ...
        raise FileFormatError(
            path, f"cannot be read as OSM PBF (truncated or corrupt?): {type(exc).__name__}: {exc}"
        ) from None
    nodes, edges = got if isinstance(got, tuple) else (None, got)
    G = nx.MultiDiGraph(crs=_LONLAT)
    if edges is None or nodes is None or len(edges) == 0:
        return G
    node_tags = nodes["tags"].tolist() if "tags" in nodes.columns else [None] * len(nodes)
    for nid, x, y, nt in zip(
        nodes["id"].tolist(), nodes["lon"].tolist(), nodes["lat"].tolist(), node_tags, strict=True
    ):
        attrs = {}
        if isinstance(nt, str) and nt:
            with contextlib.suppress(ValueError):
                nt = json.loads(nt)
        if isinstance(nt, dict):  # junctions and their names, as osmnx keeps them
            attrs = {k: str(nt[k]) for k in ("highway", "ref", "name") if nt.get(k)}
        G.add_node(int(nid), x=float(x), y=float(y), **attrs)
    cols = [c for c in ("highway", *_PBF_TAGS) if c in edges.columns]
    extra_tags = edges["tags"].tolist() if "tags" in edges.columns else [None] * len(edges)
    for row, js in zip(
        edges[["id", "u", "v", "length", *cols]].itertuples(index=False, name=None),
        extra_tags,
        strict=True,
    ):
        way, u, v, length = int(row[0]), int(row[1]), int(row[2]), float(row[3])
        tags: dict[str, Any] = {}
        if isinstance(js, str) and js:
            with contextlib.suppress(ValueError):
                tags.update({k: val for k, val in json.loads(js).items() if k in _PBF_TAGS})
        for c, val in zip(cols, row[4:], strict=True):
            if isinstance(val, str) and val:
                tags[c] = val
        one_way, rev = oneway_rule(tags)
        if rev:
            u, v = v, u
        tags.update(osmid=way, length=length, oneway=one_way)
        G.add_edge(u, v, reversed=False, **tags)
        if not one_way:
            G.add_edge(v, u, reversed=True, **tags)
    G.remove_nodes_from([n for n in list(G.nodes) if G.degree(n) == 0])
    return G


def builtin_town(
    *,
    profile: str = "generic",
    consolidate: bool = True,
    tolerance: float = DEFAULT_TOLERANCE_M,
) -> Network:
    """The built-in default: the real small-town extract inside the pyrosm wheel (offline).

    ``pyrosm.get_data("test_pbf")``: a town in south-eastern Finland, about 2 x 2 km, with a
    motorway, secondary, tertiary and residential roads and about 2,200 buildings. OSM data
    (c) OpenStreetMap contributors, ODbL. The same options give the same (cached) network.

    Parameters
    ----------
    profile
        Road profile name.
    consolidate, tolerance
        As for :func:`graph_to_network`.
    """
    return _builtin_town(str(profile), bool(consolidate), float(tolerance))


@functools.lru_cache(maxsize=2)
def _builtin_town(profile: str, consolidate: bool, tolerance: float) -> Network:
    import pyrosm

    path = pyrosm.get_data("test_pbf")
    return from_file(
        path,
        profile=profile,
        consolidate=consolidate,
        tolerance=tolerance,
        name="builtin-town",
    )


#: The folder of the data shipped inside the package (``networks/builtin``; its README
#: states the licences: OSM data ODbL, SRTM public domain).
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "builtin"
#: The built-in region: an OSM XML extract of about 20 x 24 km north of Bayreuth, Germany
#: (Overpass, 2014; the GraphHopper test suite's extract): villages tagged ``place=*``, the
#: rural roads between them, primary roads and the A 9 / A 70 motorways with their junctions.
BUILTIN_REGION = BUILTIN_DIR / "north-bayreuth.osm.gz"
#: Its terrain: SRTM 3 arc-second heights (m) cropped to the extract (a deflated GeoTIFF,
#: from the tiles N49E011 and N50E011).
BUILTIN_DEM = BUILTIN_DIR / "north-bayreuth-srtm.tif"


def builtin_region(
    *,
    profile: str = "generic",
    consolidate: bool = True,
    tolerance: float = DEFAULT_TOLERANCE_M,
) -> Network:
    """The built-in default: a real region of small towns and a motorway (offline).

    :data:`BUILTIN_REGION`, shipped inside the package with its terrain
    (:data:`BUILTIN_DEM`): about 20 villages and small towns north of Bayreuth, Germany, the
    tertiary and unclassified roads between them, primary roads and the A 9 / A 70
    motorways. OSM data (c) OpenStreetMap contributors, ODbL. The same options give the same
    (cached) network, named ``"north-bayreuth"``.

    Parameters
    ----------
    profile
        Road profile name.
    consolidate, tolerance
        As for :func:`graph_to_network`.
    """
    return _builtin_region(str(profile), bool(consolidate), float(tolerance))


@functools.lru_cache(maxsize=2)
def _builtin_region(profile: str, consolidate: bool, tolerance: float) -> Network:
    if not BUILTIN_REGION.exists():  # a broken installation, not a user's mistake
        raise FileNotFoundError(
            f"{BUILTIN_REGION}: the built-in region is missing from the installation; "
            "reinstall roadopt (pip install --force-reinstall roadopt)"
        )
    return from_file(
        BUILTIN_REGION,
        profile=profile,
        consolidate=consolidate,
        tolerance=tolerance,
        name="north-bayreuth",
    )
