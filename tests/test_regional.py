"""Regional studies end to end, read back from the GeoPackage the command line writes.

The same treatment on real extracts of different kinds (``.osm.gz`` with its SRTM tiles,
``.osm.pbf`` with a terrain model made here): the trunk roads kept end to end, the named
settlements as zones with their tagged populations, every zone loading at two nodes or
more, motorway junctions as access points, grades from the terrain model, protected areas
honoured by every offered and chosen upgrade.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from optimizer.jobs.cli import main

gpd = pytest.importorskip("geopandas")
shapely = pytest.importorskip("shapely")


def _raw_km(path: Path, classes: tuple[str, ...]) -> float:
    """Length (km) of the directed road of ``classes`` in an extract, straight from its
    file: every way's consecutive nodes, once per direction of travel."""
    if path.suffix == ".pbf":
        import pyrosm

        _, edges = pyrosm.OSM(str(path)).get_network(network_type="driving", nodes=True)
        keep = edges["highway"].isin(classes)
        one = edges["oneway"].fillna("").isin(["yes", "true", "1", "-1"])
        return float((edges.loc[keep, "length"] * np.where(one[keep], 1, 2)).sum()) / 1000
    lon: dict[str, float] = {}
    lat: dict[str, float] = {}
    total = 0.0
    with gzip.open(path) as fh:
        for _, el in ET.iterparse(fh):
            if el.tag == "node":
                lon[el.get("id")], lat[el.get("id")] = float(el.get("lon")), float(el.get("lat"))
            elif el.tag == "way":
                tags = {t.get("k"): t.get("v") for t in el.iter("tag")}
                if tags.get("highway") in classes:
                    ids = [n.get("ref") for n in el.iter("nd") if n.get("ref") in lon]
                    km = sum(
                        _haversine(lon[a], lat[a], lon[b], lat[b])
                        for a, b in itertools.pairwise(ids)
                    )
                    one = tags.get("oneway") in ("yes", "1", "true", "-1")
                    one = one or tags.get("highway") == "motorway"  # implied one-way
                    total += km * (1 if one else 2)
                el.clear()
    return total


def _haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))


def _forbidden_square(links: gpd.GeoDataFrame, path: Path) -> shapely.Polygon:
    """A forbidden square of 1.2 km around the middle of the roads (GeoJSON, lon/lat)."""
    c = links.geometry.union_all().centroid
    box = shapely.box(c.x - 600, c.y - 600, c.x + 600, c.y + 600)
    gpd.GeoDataFrame(
        {"name": ["reserve"], "rule": ["forbid"]}, geometry=[box], crs=links.crs
    ).to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    return box


def _run(network: str, out: Path, *extra: str) -> None:
    rc = main(["optimize", network, "--max-candidates", "8", "--out", str(out), "-q", *extra])
    assert rc == 0


def _check(out: Path, raw_motorway_km: float, places: list[dict], forbidden) -> None:
    gpkg = out / "network.gpkg"
    links = gpd.read_file(gpkg, layer="links")
    road = links["road_class"] != "connector"
    # the trunk network end to end: every km of motorway the extract holds
    motorway = links.loc[links["road_class"] == "motorway", "length_km"].sum()
    assert motorway == pytest.approx(raw_motorway_km, rel=0.03)
    # grades on every road link, from the terrain model
    assert np.isfinite(links.loc[road, "grade"]).all()
    assert (links.loc[road, "grade"].abs() < 0.3).all()
    assert set(links.loc[road, "terrain"]) <= {"plain", "rolling", "mountainous"}
    # zones: the named settlements, with their tagged populations, each at two nodes or more
    zones = gpd.read_file(gpkg, layer="zones")
    named = {p["name"]: p for p in places if p["name"]}
    assert len(zones) >= 2 and set(zones["name"]) <= set(named)
    for _, z in zones.iterrows():
        pop = named[z["name"]]["population"]
        if np.isfinite(pop):
            assert z["activity"] == pytest.approx(pop) and "(OSM)" in z["activity_source"]
    assert (zones["loading_nodes"] >= 2).all()
    # motorway junctions are access points; gateways pair their carriageways
    access = gpd.read_file(gpkg, layer="access_points")
    assert (access["kind"] == "expressway").any()
    gateways = gpd.read_file(gpkg, layer="gateways")
    assert (gateways["entry_node_ids"] != "").any() and (gateways["exit_node_ids"] != "").any()
    # the protected area: no chosen upgrade enters it, and the plan lists what it excluded
    doc = json.loads((out / "plan.json").read_text())
    upgrades = gpd.read_file(gpkg, layer="upgrades")
    if len(upgrades):
        assert not upgrades.geometry.intersects(forbidden).any()
    assert doc["protected"]["excluded"], "the forbidden square holds candidate upgrades"


@pytest.mark.slow
def test_north_bayreuth_with_its_srtm_tiles(data_dir, tmp_path):
    from networks import osm

    extract = data_dir / "osm" / "north-bayreuth.osm.gz"
    tiles = [data_dir / "dem" / "N49E011.hgt.zip", data_dir / "dem" / "N50E011.hgt.zip"]
    dem = [arg for t in tiles for arg in ("--dem", str(t))]
    first = tmp_path / "first"
    _run(str(extract), first, *dem)
    zone = tmp_path / "reserve.geojson"
    forbidden = _forbidden_square(gpd.read_file(first / "network.gpkg", layer="links"), zone)
    out = tmp_path / "out"
    _run(str(extract), out, *dem, "--protected", str(zone))
    places = osm.read_places(extract)
    _check(out, _raw_km(extract, ("motorway",)), places, forbidden)
    zones = gpd.read_file(out / "network.gpkg", layer="zones")
    # the villages of the area, hamlets merged into them
    villages = {p["name"] for p in places if p["kind"] == "village"}
    assert set(zones["name"]) == villages
    assert dict(zip(zones["name"], zones["activity"], strict=True))["Neudrossenfeld"] == 3959
    access = gpd.read_file(out / "network.gpkg", layer="access_points")
    junctions = set(access.loc[access["kind"] == "expressway", "name"])
    # the one junction with ramps from local roads; the motorway-to-motorway Dreieck gives
    # local traffic no access
    assert junctions == {"Kulmbach/Neudrossenfeld"}
    gateways = gpd.read_file(out / "network.gpkg", layer="gateways")
    both = gateways[(gateways["entry_node_ids"] != "") & (gateways["exit_node_ids"] != "")]
    assert {"A 9", "A 70"} <= set(both["ref"])  # motorways cross the edge as gateway pairs


@pytest.mark.slow
def test_a_pbf_extract_gets_the_same_treatment(tmp_path):
    import pyrosm

    from networks import open_study, osm

    from .test_terrain import write_plane

    extract = Path(pyrosm.get_data("test_pbf"))
    net = open_study(str(extract)).network
    tif = write_plane(tmp_path / "dem.tif", net)
    first = tmp_path / "first"
    _run(str(extract), first, "--dem", str(tif))
    zone = tmp_path / "reserve.geojson"
    forbidden = _forbidden_square(gpd.read_file(first / "network.gpkg", layer="links"), zone)
    out = tmp_path / "out"
    _run(str(extract), out, "--dem", str(tif), "--protected", str(zone))
    _check(out, _raw_km(extract, ("motorway",)), osm.read_places(extract), forbidden)
