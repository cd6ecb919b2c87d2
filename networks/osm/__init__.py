"""Road networks from OpenStreetMap: online queries, OSM files and the built-ins.

This package owns the readers (:func:`from_place`, :func:`from_bbox`, :func:`from_polygon`,
:func:`from_file`, :func:`builtin_region`, :func:`builtin_town`, :func:`read_buildings`) and the one conversion
behind them, :func:`graph_to_network`. The road classes, the defaults by class, the road
profiles and the tag-value parsers it applies live in :mod:`networks.roads`.

This is the only package of roadopt that imports osmnx and pyrosm (lazily, inside the
functions, so that ``import networks`` stays fast).

Every reader ends in :func:`graph_to_network`, which turns a raw (unsimplified) osmnx-style
graph into the canonical :class:`networks.Network`:

1. keep the drivable ways of the profile's road classes (``highway=*``), dropping areas,
   ways closed to cars (``access``/``motor_vehicle``/``motorcar``/``vehicle`` = ``no`` or
   ``private``) and parking aisles, driveways and the like;
2. parse ``lanes`` and ``maxspeed`` per direction (:func:`networks.roads.parse_lanes`,
   :func:`networks.roads.parse_maxspeed`), falling back to the profile's defaults by class;
3. simplify so that each link is one upgradable segment: osmnx ``simplify_graph`` with
   ``edge_attrs_differ`` on class, lanes and speed, so a link never mixes them;
4. project to the UTM zone of the area's centre (:func:`utm_crs`);
5. consolidate complex intersections (osmnx ``consolidate_intersections``) within
   :data:`DEFAULT_TOLERANCE_M` metres; switch off with ``consolidate=False``;
6. keep the largest strongly connected component, so every node reaches every other;
7. build the per-link arrays: free-flow time (min), length (km), speed (km/h), lanes and
   capacity (veh/h) per direction, BPR ``alpha``/``beta`` and an integer class code.

Node ids are OSM node ids. A node made by consolidating several OSM nodes gets the id
:func:`consolidated_node_id` of its members: minus a 62-bit BLAKE2b hash of the sorted member
ids, so it is negative (never an OSM id), and the same for the same input. The members are
recorded in ``network.extra["consolidated_nodes"]``.

Two-way roads become two links, one per direction; one-way roads one link in the direction
of travel (``oneway=yes|true|1`` along the way, ``oneway=-1|reverse`` against it,
``junction=roundabout|circular`` along it). A two-way road's ``lanes=n`` gives ``n/2``
lanes (at least 1) to each direction unless ``lanes:forward``/``lanes:backward`` say
otherwise.

``network.extra`` holds, per link (length m, in link order): ``osm_way_ids`` (tuples of
the OSM way ids the link was built from), ``osm_way_dirs`` (aligned with them: 1 where
the link runs along the way's drawing direction, -1 against it, 0 unknown; osmnx keeps no
trace of ``oneway=-1``, so a one-way way drawn against its traffic reads 1), ``geometry``
(shapely LineStrings in the network CRS, from tail to head), ``name`` and ``ref``
(strings, ``""`` when untagged); and per
network: ``boundary`` (the study area, a shapely polygon in the network CRS), ``profile``,
``source`` (a description), ``source_path`` (for files), ``consolidated_nodes`` (new id ->
member OSM ids), ``consolidation_tolerance_m``, ``raw_nodes`` (drivable OSM nodes read) and
``dropped_nodes`` (nodes outside the largest strongly connected component).

Errors: files of the wrong format, truncated or corrupt files raise
:class:`networks.errors.FileFormatError`; a malformed bounding box
:class:`BoundingBoxError`; a place that cannot be geocoded :class:`PlaceNotFoundError`;
an area without drivable roads :class:`NoDrivableRoadsError`; a failed download
:class:`OSMQueryError`. All subclass ``ValueError``.
"""

from ..errors import BoundingBoxError, NoDrivableRoadsError, OSMQueryError, PlaceNotFoundError
from .areas import _as_polygon as _as_polygon  # private helpers the tests call
from .areas import _check_bbox as _check_bbox
from .areas import from_bbox, from_place, from_polygon
from .convert import (
    DEFAULT_TOLERANCE_M,
    consolidated_node_id,
    graph_to_network,
    utm_crs,
)
from .convert import _project_geom as _project_geom
from .features import PLACE_KINDS, read_buildings, read_places
from .files import (
    BUILTIN_DEM,
    BUILTIN_DIR,
    BUILTIN_REGION,
    builtin_region,
    builtin_town,
    from_file,
)

__all__ = [
    "BUILTIN_DEM",
    "BUILTIN_DIR",
    "BUILTIN_REGION",
    "DEFAULT_TOLERANCE_M",
    "PLACE_KINDS",
    "BoundingBoxError",
    "NoDrivableRoadsError",
    "OSMQueryError",
    "PlaceNotFoundError",
    "builtin_region",
    "builtin_town",
    "consolidated_node_id",
    "from_bbox",
    "from_file",
    "from_place",
    "from_polygon",
    "graph_to_network",
    "read_buildings",
    "read_places",
    "utm_crs",
]
