import numpy as np
import pytest

from networks import Demand, InvalidDemandError, InvalidNetworkError, Network
from networks.synthetic import braess, grid, region


def small(**kw):
    base = dict(free_flow_time=[1.0, 2.0, 3.0], capacity=[10.0, 10.0, 5.0])
    base.update(kw)
    return Network.from_links([1, 1, 2], [2, 2, 3], **base)


def test_parallel_links_are_kept_by_position():
    net = small()
    assert net.num_links == 3
    assert list(net.init) == [0, 0, 1] and list(net.term) == [1, 1, 2]
    # forward star lists both parallel links of node 1
    out = net.fs_links[net.fs_indptr[0] : net.fs_indptr[1]]
    assert sorted(out.tolist()) == [0, 1]
    inn = net.bs_links[net.bs_indptr[2] : net.bs_indptr[3]]
    assert inn.tolist() == [2]


def test_forward_and_backward_star_cover_every_link_once():
    net, _ = region(600, seed=3)
    for indptr, links, ends in (
        (net.fs_indptr, net.fs_links, net.init),
        (net.bs_indptr, net.bs_links, net.term),
    ):
        assert sorted(links.tolist()) == list(range(net.num_links))
        for i in range(net.num_nodes):
            assert np.all(ends[links[indptr[i] : indptr[i + 1]]] == i)


def test_arrays_are_read_only():
    net = small()
    with pytest.raises(ValueError):
        net.capacity[0] = 3.0


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(capacity=[-1.0, 10.0, 5.0]), "negative capacity"),
        (dict(capacity=[0.0, 10.0, 5.0]), "zero capacity"),
        (dict(free_flow_time=[-1.0, 2.0, 3.0]), "negative free_flow_time"),
        (dict(free_flow_time=[np.nan, 2.0, 3.0]), "non-finite free_flow_time"),
        (dict(alpha=[-0.1, 0.15, 0.15]), "negative B"),
        (dict(beta=[-1.0, 4.0, 4.0]), "negative power"),
    ],
)
def test_validate_rejects_what_kernels_must_not_see(change, message):
    with pytest.raises(InvalidNetworkError, match=message) as info:
        small(**change)
    assert "1 (1->2)" in str(info.value)  # names the link by external id and end nodes


def test_zero_capacity_is_fine_when_cost_is_constant():
    net = small(capacity=[0.0, 10.0, 5.0], alpha=[0.0, 0.15, 0.15])
    assert net.capacity[0] == 0


def test_unknown_node_in_links():
    with pytest.raises(InvalidNetworkError, match="node 7"):
        Network.from_links([1, 7], [2, 1], node_ids=[1, 2], free_flow_time=1, capacity=1)


def test_node_indices_names_missing_ids():
    net = small()
    assert net.node_indices([3, 1]).tolist() == [2, 0]
    with pytest.raises(InvalidNetworkError, match="99"):
        net.node_indices([1, 99], what="zone node")


def test_demand_totals_and_intrazonal():
    d = Demand(
        zone_ids=[1, 2], zone_node_ids=[1, 2], matrix=[[5.0, 3.0], [2.0, 0.0]], internal=True
    )
    assert d.total == 5.0 and d.intrazonal == 5.0
    indptr, dest, trips = d.od_csr()
    assert indptr.tolist() == [0, 1, 2] and dest.tolist() == [1, 0]
    assert trips.tolist() == [3.0, 2.0]
    with pytest.raises(InvalidDemandError, match="negative trips from zone 2 to zone 1"):
        Demand(zone_ids=[1, 2], zone_node_ids=[1, 2], matrix=[[0, 1], [-1, 0]], internal=True)
    with pytest.raises(InvalidDemandError, match="2 zones"):
        Demand(zone_ids=[1, 2], zone_node_ids=[1, 2], matrix=np.zeros((3, 3)), internal=True)


def test_sparse_and_dense_demand_agree():
    import scipy.sparse as sp

    _, d = grid(5, 5, seed=1)
    s = Demand(
        zone_ids=d.zone_ids,
        zone_node_ids=d.zone_node_ids,
        matrix=sp.csr_array(d.matrix),
        internal=True,
    )
    for a, b in zip(d.od_csr(), s.od_csr(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert s.total == pytest.approx(d.total)


def test_synthetic_generators_are_seeded():
    a, da = region(800, seed=5)
    b, db = region(800, seed=5)
    c, _ = region(800, seed=6)
    np.testing.assert_array_equal(a.capacity, b.capacity)
    np.testing.assert_array_equal(da.dense(), db.dense())
    assert not np.array_equal(a.x, c.x)
    net, dem = braess()
    assert net.num_links == 5 and dem.total == 6.0
