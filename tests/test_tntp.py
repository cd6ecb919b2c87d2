"""TNTP reader and writer: real files, every trap of the collection, and a corpus of broken files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from networks import FileFormatError, Network
from networks._io import format_float
from networks.tntp import (
    align_flows,
    companion_file,
    read_flow,
    read_net,
    read_nodes,
    read_trips,
    write_flow,
    write_net,
    write_nodes,
    write_trips,
)

# (folder, nodes, links, zones) from the data README's table
COLLECTION = [
    ("Braess-Example", 4, 5, 2),
    ("SiouxFalls", 24, 76, 24),
    ("Anaheim", 416, 914, 38),
    ("Chicago-Sketch", 933, 2950, 387),
    ("Berlin-Friedrichshain", 224, 523, 23),
]


def _meta(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"\s*<([^>]+)>\s*(.*)", line)
        if m:
            if m.group(1) == "END OF METADATA":
                break
            out[m.group(1)] = m.group(2).strip()
    return out


def _readme_dims(folder: Path) -> dict[str, float]:
    text = (folder / "README.md").read_text()
    out = {}
    for key in ("Zones", "Nodes", "Links", "Trips"):
        m = re.search(rf"^{key}:\s*([\d,\.]+)", text, re.M)
        if m:
            out[key] = float(m.group(1).replace(",", ""))
    return out


@pytest.mark.parametrize("folder, nodes, links, zones", COLLECTION)
def test_collection_counts_match_metadata_and_readme(data_dir, folder, nodes, links, zones):
    d = data_dir / "tntp" / folder
    net_path = next(d.glob("*_net.tntp"))
    net = read_net(net_path)
    meta = _meta(net_path)
    assert net.num_nodes == int(meta["NUMBER OF NODES"]) == nodes
    assert net.num_links == int(meta["NUMBER OF LINKS"]) == links
    assert net.extra["tntp_zones"] == int(meta["NUMBER OF ZONES"]) == zones
    first_thru = int(meta.get("FIRST THRU NODE", "1"))
    assert net.no_thru.sum() == max(0, first_thru - 1)
    dims = _readme_dims(d)
    assert dims["Nodes"] == nodes and dims["Links"] == links and dims["Zones"] == zones
    demand = read_trips(companion_file(net_path, "trips"))
    assert demand.num_zones == zones
    # the README's trip total counts every entry, intrazonal ones included
    assert demand.total + demand.intrazonal == pytest.approx(dims["Trips"], rel=1e-9)
    node = companion_file(net_path, "node")
    if node is not None:
        ids, x, y = read_nodes(node)
        assert len(ids) == nodes and np.isfinite(x).all() and np.isfinite(y).all()


@pytest.mark.parametrize("folder", ["SiouxFalls", "Anaheim", "Chicago-Sketch"])
def test_best_known_flow_files_load_and_align(data_dir, folder):
    d = data_dir / "tntp" / folder
    net = read_net(next(d.glob("*_net.tntp")))
    flows = read_flow(next(d.glob("*_flow.tntp")))
    assert len(flows) == net.num_links
    vol = align_flows(net, flows)
    assert vol.shape == (net.num_links,) and (vol >= 0).all() and vol.sum() > 0
    # flow conservation: inflow - outflow at every node = trips ending - trips starting there
    dem = read_trips(next(d.glob("*_trips.tntp"))).dense().copy()
    np.fill_diagonal(dem, 0.0)
    want = np.zeros(net.num_nodes)
    zn = net.node_indices(np.arange(1, dem.shape[0] + 1))
    want[zn] = dem.sum(axis=0) - dem.sum(axis=1)
    bal = np.bincount(net.term, vol, net.num_nodes) - np.bincount(net.init, vol, net.num_nodes)
    assert np.abs(bal - want).max() <= 1e-6 * vol.max()


def test_dndp_instances_keep_their_candidates(data_dir):
    files = sorted((data_dir / "dndp" / "SiouxFalls").glob("SF_DNDP_10_*.txt"))
    assert len(files) == 10
    base = read_net(data_dir / "tntp" / "SiouxFalls" / "SiouxFalls_net.tntp")
    for f in files:
        net = read_net(f)
        meta = _meta(f)
        assert net.num_links == int(meta["NUMBER OF LINKS"]) == 76
        c = net.candidates
        assert c is not None and c.num_candidates == int(meta["NUMBER OF NEW LINKS"]) == 10
        assert (c.cost > 0).all()
        assert c.link_ids.tolist() == list(range(77, 87))
        np.testing.assert_array_equal(net.capacity, base.capacity)
        np.testing.assert_array_equal(net.free_flow_time, base.free_flow_time)
        # each candidate appears with its reverse direction at the same cost
        pairs = {
            (int(a), int(b)): float(k) for a, b, k in zip(c.init, c.term, c.cost, strict=True)
        }
        assert all(pairs[(b, a)] == k for (a, b), k in pairs.items())


# ---------------------------------------------------------------------- traps
TRAPS_NET = (
    "<NUMBER OF ZONES> 3\t\t\t\r\n"
    "<NUMBER OF NODES> 6\t\r\n"
    "<FIRST THRU NODE> 4\t\t\r\n"
    "<NUMBER OF LINKS> 9\r\n"
    "<ORIGINAL HEADER>~ whatever ; \r\n"
    "<END OF METADATA>\t\t\r\n"
    "\r\n"
    "~ init term cap len fft b power speed toll type ;\r\n"
    "\t1\t10\t100\t1\t0\t0.15\t4\t0\t0\t1\t;\r\n"  # zero free-flow time
    "\t10\t2\t100\t1\t2\t0\t0\t0\t0\t1;\r\n"  # B = 0, power 0 (0**0 = 1), glued ;
    "\t10\t20\t50\t1\t3\t0.5\t0.5\t0\t0\t1\r\n"  # power below 1, no ;
    "~ a comment in the middle\r\n"
    "\t10\t20\t60\t1\t3\t0.15\t4\t0\t0\t1\t;\r\n"  # a parallel link
    "\t20\t3\t0\t1\t1\t0\t4\t0\t0\t1\t;\r\n"  # zero capacity with B = 0
    "\t20\t10\t100\t1\t2.5\t0.15\t4\t0\t0\t1\t;\r\n"
    "\t3\t20\t100\t1\t1\t0.15\t4\t0\t0\t1\t;\r\n"
    "\t2\t10\t100\t1\t1\t0.15\t4\t0\t0\t1\t;\r\n"
    "\t10\t30\t100\t1\t1\t0.15\t4\t0\t0\t1\t;\r\n"  # node 30 (ids are not contiguous)
)

TRAPS_TRIPS = (
    "<NUMBER OF ZONES> 3\n<TOTAL OD FLOW> 16.0\n<END OF METADATA>\n\n"
    "Origin \t1 \n    1 :      4.0;     2 :    5.0;\n"
    "Origin 2\n 3 : 2.0 ;1:1.0;\n"
    "~ comment\n"
    "Origin\t3\n3:4.0\n"
)


def _write(tmp_path: Path, name: str, text: str, mode: str = "w") -> Path:
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(text)  # type: ignore[arg-type]
    else:
        p.write_bytes(text.encode())
    return p


def test_every_trap_of_the_collection(tmp_path):
    net = read_net(_write(tmp_path, "traps_net.tntp", TRAPS_NET))
    assert net.num_links == 9
    assert net.node_ids.tolist() == [1, 2, 3, 10, 20, 30]
    assert net.no_thru.tolist() == [True, True, True, False, False, False]
    assert net.free_flow_time[0] == 0.0
    assert (net.alpha[1], net.beta[1]) == (0.0, 0.0)
    assert net.beta[2] == 0.5
    ids = net.node_ids
    assert [(ids[net.init[k]], ids[net.term[k]]) for k in (2, 3)] == [(10, 20), (10, 20)]
    assert net.capacity[4] == 0.0
    assert net.link_ids.tolist() == list(range(1, 10))
    dem = read_trips(_write(tmp_path, "traps_trips.tntp", TRAPS_TRIPS))
    assert dem.dense().tolist() == [[4.0, 5.0, 0.0], [1.0, 0.0, 2.0], [0.0, 0.0, 4.0]]
    assert dem.intrazonal == 8.0 and dem.total == 8.0
    assert companion_file(tmp_path / "traps_net.tntp", "trips").name == "traps_trips.tntp"


def test_first_thru_node_absent_means_every_node_passable(tmp_path):
    text = TRAPS_NET.replace("<FIRST THRU NODE> 4\t\t\r\n", "")
    assert not read_net(_write(tmp_path, "x_net.tntp", text)).no_thru.any()


def _same_network(a: Network, b: Network) -> None:
    for f in (
        "node_ids",
        "init",
        "term",
        "free_flow_time",
        "capacity",
        "alpha",
        "beta",
        "length",
        "toll",
        "speed",
        "link_type",
        "link_ids",
        "no_thru",
    ):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    assert (a.candidates is None) == (b.candidates is None)
    if a.candidates is not None:
        for f in ("init", "term", "capacity", "free_flow_time", "cost", "link_ids"):
            np.testing.assert_array_equal(getattr(a.candidates, f), getattr(b.candidates, f))


def test_round_trip_traps_and_real_files(tmp_path, data_dir):
    sources = [
        _write(tmp_path, "traps_net.tntp", TRAPS_NET),
        data_dir / "tntp" / "Chicago-Sketch" / "ChicagoSketch_net.tntp",
        data_dir / "dndp" / "SiouxFalls" / "SF_DNDP_10_3.txt",
    ]
    for src in sources:
        a = read_net(src)
        out = tmp_path / f"copy_{src.name}"
        write_net(a, out)
        _same_network(a, read_net(out))
    dem = read_trips(data_dir / "tntp" / "SiouxFalls" / "SiouxFalls_trips.tntp")
    write_trips(dem, tmp_path / "t.tntp")
    np.testing.assert_array_equal(read_trips(tmp_path / "t.tntp").dense(), dem.dense())
    sf = read_net(data_dir / "tntp" / "SiouxFalls" / "SiouxFalls_net.tntp")
    flows = read_flow(data_dir / "tntp" / "SiouxFalls" / "SiouxFalls_flow.tntp")
    write_flow(sf, flows.volume, flows.cost, tmp_path / "f.tntp")
    back = read_flow(tmp_path / "f.tntp")
    np.testing.assert_array_equal(back.volume, flows.volume)
    np.testing.assert_array_equal(back.cost, flows.cost)
    ids, x, y = read_nodes(data_dir / "tntp" / "SiouxFalls" / "SiouxFalls_node.tntp")
    from networks.tntp import with_coordinates

    sfc = with_coordinates(sf, ids, x, y)
    write_nodes(sfc, tmp_path / "n.tntp")
    _ids2, x2, y2 = read_nodes(tmp_path / "n.tntp")
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 8),
            st.integers(1, 8),
            st.floats(0.5, 1e6, allow_nan=False),
            st.floats(0, 1e3, allow_nan=False),
            st.floats(0, 1e3, allow_nan=False),
            st.floats(0, 5, allow_nan=False),
            st.floats(0, 8, allow_nan=False),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_round_trip_random_networks_with_parallel_links(tmp_path_factory, links):
    a, b, cap, ln, fft, al, be = (np.array(c) for c in zip(*links, strict=True))
    net = Network.from_links(
        a,
        b,
        node_ids=np.arange(1, 9),
        capacity=cap,
        length=ln,
        free_flow_time=fft,
        alpha=al,
        beta=be,
    )
    path = tmp_path_factory.mktemp("rt") / "r_net.tntp"
    write_net(net, path)
    _same_network(net, read_net(path))


# ---------------------------------------------------------------------- broken files
GOOD_HEAD = "<NUMBER OF ZONES> 2\n<NUMBER OF NODES> 3\n<FIRST THRU NODE> 1\n<NUMBER OF LINKS> 2\n"
ROW1 = "\t1\t2\t100\t1\t1\t0.15\t4\t0\t0\t1\t;\n"
ROW2 = "\t2\t3\t100\t1\t1\t0.15\t4\t0\t0\t1\t;\n"

BROKEN_NETS = [
    (
        "non-numeric capacity",
        GOOD_HEAD + "<END OF METADATA>\n" + ROW1 + "\t2\t3\tabc\t1\t1\t0.15\t4\t0\t0\t1\t;\n",
        r"line 7: field 'capacity': 'abc' is not a number",
    ),
    (
        "link to an unknown node",
        GOOD_HEAD
        + "<END OF METADATA>\n"
        + ROW1
        + "\t2\t99\t100\t1\t1\t0.15\t4\t0\t0\t1\t;\n".replace("\t2\t99", "\t3\t99"),
        r"line 7: field 'term_node': link to unknown node 99",
    ),
    (
        "a short row",
        GOOD_HEAD + "<END OF METADATA>\n" + ROW1 + "\t2\t3\t100\t1\t1\n",
        r"line 7: expected 10 fields \(init_node term_node capacity .*\), found 5",
    ),
    (
        "metadata count disagrees",
        GOOD_HEAD.replace("LINKS> 2", "LINKS> 3") + "<END OF METADATA>\n" + ROW1 + ROW2,
        r"the metadata says <NUMBER OF LINKS> 3 = 3 links but the file lists 2",
    ),
    (
        "no end of metadata",
        GOOD_HEAD + ROW1 + ROW2,
        r"line 5: found '1 2 100 .*' where a metadata line .* is the <END OF METADATA> line missing",
    ),
    ("metadata never ends", GOOD_HEAD, r"no <END OF METADATA> line"),
    (
        "negative capacity",
        GOOD_HEAD + "<END OF METADATA>\n" + ROW1 + ROW2.replace("\t100\t", "\t-5\t"),
        r"line 7: field 'capacity': is -5; it must be >= 0",
    ),
    (
        "zero capacity with a congestion term",
        GOOD_HEAD + "<END OF METADATA>\n" + ROW1 + ROW2.replace("\t100\t", "\t0\t"),
        r"line 7: field 'capacity': is 0 on a link whose cost depends on flow",
    ),
    (
        "missing node count",
        GOOD_HEAD.replace("<NUMBER OF NODES> 3\n", "") + "<END OF METADATA>\n" + ROW1 + ROW2,
        r"field 'NUMBER OF NODES': the metadata has no <NUMBER OF NODES> line",
    ),
    (
        "negative candidate cost",
        GOOD_HEAD
        + "<NUMBER OF NEW LINKS> 1\n<END OF METADATA>\n"
        + ROW1.replace(";", "0\t;")
        + ROW2.replace(";", "0\t;")
        + "\t3\t1\t100\t1\t1\t0.15\t4\t0\t0\t1\t-7\t;\n",
        r"line 9: field 'cost': is negative",
    ),
]


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_are_written_in_the_shortest_exact_form(x):
    """The one float formatter of the TNTP and candidate writers reads back exactly."""
    text = format_float(x)
    assert float(text) == x
    if x.is_integer() and abs(x) < 1e15:
        assert text == str(int(x))
    else:
        assert text == repr(x)


@pytest.mark.parametrize("label, text, message", BROKEN_NETS, ids=[b[0] for b in BROKEN_NETS])
def test_broken_net_files(tmp_path, label, text, message):
    path = _write(tmp_path, "broken_net.tntp", text)
    with pytest.raises(FileFormatError) as info:
        read_net(path)
    assert str(info.value).startswith(str(path))
    assert re.search(message, str(info.value)), str(info.value)


TRIPS_HEAD = "<NUMBER OF ZONES> 2\n<TOTAL OD FLOW> 3\n<END OF METADATA>\n"
BROKEN_TRIPS = [
    (
        "origin out of range",
        TRIPS_HEAD + "Origin 3\n 1 : 1.0;\n",
        r"line 4: field 'origin': zone 3 is out of range; <NUMBER OF ZONES> is 2",
    ),
    (
        "destination out of range",
        TRIPS_HEAD + "Origin 1\n 5 : 1.0;\n",
        r"line 5: field 'destination': zone 5 is out of range",
    ),
    (
        "negative demand",
        TRIPS_HEAD + "Origin 1\n 2 : -4.0;\n",
        r"line 5: field 'trips': is -4.0 \(from zone 1 to zone 2\); trips must be a number >= 0",
    ),
    (
        "non-numeric demand",
        TRIPS_HEAD + "Origin 1\n 2 : lots;\n",
        r"line 5: field 'trips': 'lots' is not a number",
    ),
    (
        "entries before any origin",
        TRIPS_HEAD + " 2 : 1.0;\n",
        r"line 4: found '2 : 1.0;' before the first 'Origin' line",
    ),
    (
        "garbage between entries",
        TRIPS_HEAD + "Origin 1\n 2 : 1.0; xyz\n",
        r"line 5: cannot read 'xyz'",
    ),
    (
        "no zone count",
        "<TOTAL OD FLOW> 3\n<END OF METADATA>\nOrigin 1\n",
        r"the metadata has no <NUMBER OF ZONES> line",
    ),
]


@pytest.mark.parametrize("label, text, message", BROKEN_TRIPS, ids=[b[0] for b in BROKEN_TRIPS])
def test_broken_trips_files(tmp_path, label, text, message):
    path = _write(tmp_path, "broken_trips.tntp", text)
    with pytest.raises(FileFormatError) as info:
        read_trips(path)
    assert re.search(message, str(info.value)), str(info.value)


@pytest.mark.parametrize("reader", [read_net, read_trips, read_flow, read_nodes])
def test_empty_and_binary_files(tmp_path, reader):
    empty = _write(tmp_path, "e_net.tntp", "   \n\n")
    with pytest.raises(FileFormatError, match="the file is empty"):
        reader(empty)
    binary = tmp_path / "b_net.tntp"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(FileFormatError, match="looks like a binary file"):
        reader(binary)


def test_total_od_flow_mismatch_is_a_warning(tmp_path, caplog):
    path = _write(tmp_path, "w_trips.tntp", TRIPS_HEAD + "Origin 1\n 2 : 1.0;\n")
    read_trips(path)
    assert "TOTAL OD FLOW" in caplog.text


def test_flow_alignment_keeps_parallel_links_apart(tmp_path):
    net = read_net(_write(tmp_path, "traps_net.tntp", TRAPS_NET))
    vol = np.arange(net.num_links, dtype=float) + 1.0
    write_flow(net, vol, vol * 2, tmp_path / "traps_flow.tntp")
    np.testing.assert_array_equal(align_flows(net, read_flow(tmp_path / "traps_flow.tntp")), vol)
