"""Careless inputs get one clear error (file, line or field, what to do), never a library traceback.

Every fixture is built here in ``tmp_path``: GraphML without coordinates, TNTP files with
repeated destinations or more zones than nodes, UTF-16 and Windows-1252 text, and writes
that fail with a full disk.
"""

from __future__ import annotations

import errno
import logging
import os
import re
from pathlib import Path

import numpy as np
import pytest

from networks import FileFormatError, OutputWriteError, datasets, export, osm, synthetic, tntp
from networks._io import atomic_path, atomic_write_text, read_text_file
from networks.counts import read_counts
from networks.gravity import demand_from_od
from networks.protected import read_protected

NET = (
    "<NUMBER OF ZONES> {zones}\n"
    "<NUMBER OF NODES> {nodes}\n"
    "<FIRST THRU NODE> 1\n"
    "<NUMBER OF LINKS> 3\n"
    "<END OF METADATA>\n"
    "~ init term capacity length fft b power speed toll type ;\n"
    "1 2 100 1 1 0.15 4 0 0 1 ;\n"
    "2 3 100 1 1 0.15 4 0 0 1 ;\n"
    "3 1 100 1 1 0.15 4 0 0 1 ;\n"
)
TRIPS = (
    "<NUMBER OF ZONES> 3\n"
    "<TOTAL OD FLOW> 21\n"
    "<END OF METADATA>\n"
    "~ Zürich to Genève, café hours\n"
    "Origin 1\n"
    "  2 : 5; 3 : 6;\n"
    "Origin 2\n"
    "  1 : 10;\n"
)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------------- 1 GraphML
def _graphml(tmp_path: Path, *, drop: str) -> Path:
    import networkx as nx
    import osmnx as ox

    G = nx.MultiDiGraph(crs="EPSG:4326")
    for n, (x, y) in {1: (11.0, 50.0), 2: (11.01, 50.0), 3: (11.01, 50.01)}.items():
        attrs = {"x": x, "y": y}
        del attrs[drop]
        G.add_node(n, **attrs)
    for k, (u, v) in enumerate([(1, 2), (2, 3)]):
        for a, b, rev in ((u, v, False), (v, u, True)):
            G.add_edge(
                a, b, osmid=k, highway="residential", length=700.0, oneway=False, reversed=rev
            )
    path = tmp_path / f"no_{drop}.graphml"
    ox.save_graphml(G, path)
    return path


@pytest.mark.parametrize("attr", ["x", "y"])
def test_graphml_nodes_without_coordinates_name_the_file_and_the_attribute(tmp_path, attr):
    path = _graphml(tmp_path, drop=attr)
    with pytest.raises(FileFormatError) as info:
        osm.from_file(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}") and f"field '{attr}'" in msg
    assert f"3 of 3 nodes have no '{attr}' attribute" in msg
    assert "node 1, line " in msg and "lon/lat" in msg and "osmnx" in msg
    assert info.value.field == attr
    assert not isinstance(info.value, KeyError)


# ---------------------------------------------------------------------- 2 repeated OD
def test_a_destination_listed_twice_is_summed_with_a_warning(tmp_path, caplog):
    path = tmp_path / "dup_trips.tntp"
    path.write_text(
        "<NUMBER OF ZONES> 3\n<END OF METADATA>\n"
        "Origin 1\n  2 : 5; 3 : 6;\n  2 : 1.5;\n"
        "Origin 2\n  1 : 4; 1 : 1;\n"
    )
    with caplog.at_level(logging.WARNING, logger="networks.tntp"):
        d = tntp.read_trips(path)
    mat = d.dense()
    assert mat[0, 1] == 6.5 and mat[0, 2] == 6 and mat[1, 0] == 5
    msgs = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        m.startswith(f"{path}, line 5: destination 2 is listed again for origin 1")
        and "first on line 4" in m
        and "added up" in m
        for m in msgs
    ), msgs
    assert any(
        m.startswith(f"{path}, line 7: destination 1 is listed again for origin 2")
        and "first on this line" in m
        for m in msgs
    ), msgs


def test_an_origin_with_two_blocks_is_summed_with_a_warning(tmp_path, caplog):
    path = tmp_path / "twice_trips.tntp"
    path.write_text(
        "<NUMBER OF ZONES> 2\n<END OF METADATA>\nOrigin 1\n  2 : 5;\nOrigin 1\n  2 : 2;\n"
    )
    with caplog.at_level(logging.WARNING, logger="networks.tntp"):
        d = tntp.read_trips(path)
    assert d.dense()[0, 1] == 7
    assert any(
        r.getMessage().startswith(f"{path}, line 5: origin 1 has a second block")
        and "line 3" in r.getMessage()
        for r in caplog.records
    )


def test_many_repeats_are_listed_then_counted(tmp_path, caplog):
    path = tmp_path / "many_trips.tntp"
    path.write_text("<NUMBER OF ZONES> 2\n<END OF METADATA>\nOrigin 1\n" + "  2 : 1;\n" * 30)
    with caplog.at_level(logging.WARNING, logger="networks.tntp"):
        d = tntp.read_trips(path)
    assert d.dense()[0, 1] == 30
    msgs = [r.getMessage() for r in caplog.records]
    assert len(msgs) == 11
    assert "29 repeated origins or destinations in all" in msgs[-1]


def test_no_warning_for_a_clean_trips_file(tmp_path, caplog):
    path = tmp_path / "clean_trips.tntp"
    path.write_text(TRIPS)
    with caplog.at_level(logging.WARNING, logger="networks.tntp"):
        tntp.read_trips(path)
    assert not caplog.records


# ---------------------------------------------------------------------- 3 zones > nodes
def test_more_zones_than_nodes_in_a_net_file_says_so(tmp_path):
    path = tmp_path / "big_net.tntp"
    path.write_text(NET.format(zones=5, nodes=3))
    with pytest.raises(FileFormatError) as info:
        tntp.read_net(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}, line 1: field 'NUMBER OF ZONES': ")
    assert "<NUMBER OF ZONES> 5 exceeds <NUMBER OF NODES> 3" in msg
    assert "correct the header" in msg and "unknown node" not in msg


def test_a_trips_file_with_more_zones_than_the_network_has_nodes(tmp_path):
    net = tmp_path / "pair_net.tntp"
    net.write_text(NET.format(zones=3, nodes=3))
    trips = tmp_path / "pair_trips.tntp"
    trips.write_text("<NUMBER OF ZONES> 5\n<END OF METADATA>\nOrigin 1\n  5 : 2;\n")
    with pytest.raises(FileFormatError) as info:
        datasets.load_tntp(net)
    msg = str(info.value)
    assert msg.startswith(f"{trips}, line 1: field 'NUMBER OF ZONES': ")
    assert f"<NUMBER OF ZONES> 5 exceeds the 3 nodes of {net}" in msg
    assert "check that the trips file belongs to this network" in msg
    assert "unknown node" not in msg


def test_a_trips_file_whose_zones_are_missing_nodes(tmp_path):
    net = tmp_path / "gap_net.tntp"  # node ids 1, 2, 7: zone 3 has no node
    net.write_text(
        NET.format(zones=2, nodes=3).replace("2 3 100", "2 7 100").replace("3 1", "7 1")
    )
    trips = tmp_path / "gap_trips.tntp"
    trips.write_text("<NUMBER OF ZONES> 3\n<END OF METADATA>\nOrigin 1\n  3 : 2;\n")
    with pytest.raises(FileFormatError, match=r"gap_trips.tntp, line 1: .* has no node 3"):
        datasets.load_tntp(net)


# ---------------------------------------------------------------------- 4 UTF-16 / UTF-32
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_tntp_files_read_equal_to_their_utf8_twins(tmp_path, encoding):
    bom = {"utf-16-be": b"\xfe\xff"}.get(encoding, b"")
    net_text, trips_text = NET.format(zones=3, nodes=3), TRIPS
    (tmp_path / "a_net.tntp").write_text(net_text, encoding="utf-8")
    (tmp_path / "a_trips.tntp").write_text(trips_text, encoding="utf-8")
    (tmp_path / "b_net.tntp").write_bytes(bom + net_text.replace("\n", "\r\n").encode(encoding))
    (tmp_path / "b_trips.tntp").write_bytes(bom + trips_text.encode(encoding))
    a_net, a_trips = datasets.load_tntp(tmp_path / "a_net.tntp")
    b_net, b_trips = datasets.load_tntp(tmp_path / "b_net.tntp")
    assert a_trips is not None and b_trips is not None
    for field in ("init", "term", "capacity", "free_flow_time", "alpha", "beta", "node_ids"):
        np.testing.assert_array_equal(getattr(a_net, field), getattr(b_net, field))
    np.testing.assert_array_equal(a_trips.dense(), b_trips.dense())
    assert read_text_file(tmp_path / "b_trips.tntp") == trips_text


def test_utf16_csv_inputs_read_equal_to_their_utf8_twins(tmp_path):
    text = "origin,destination,trips\nMüller,Ölberg,7\n2,1,2\n"
    (tmp_path / "od8.csv").write_text(text, encoding="utf-8")
    (tmp_path / "od16.csv").write_bytes(text.encode("utf-16"))
    ids = np.array([1, 2])
    kw = dict(names=("Müller", "Ölberg"), period="peak hour", period_hours=1.0)
    a = demand_from_od(tmp_path / "od8.csv", ids, ids, np.array([True, True]), **kw)
    b = demand_from_od(tmp_path / "od16.csv", ids, ids, np.array([True, True]), **kw)
    np.testing.assert_array_equal(a.dense(), b.dense())
    assert b.dense()[0, 1] == 7

    net, _ = synthetic.braess()
    counts = "link_id,count,id\n1,500,Zähler Süd\n"
    (tmp_path / "c8.csv").write_text(counts, encoding="utf-8")
    (tmp_path / "c16.csv").write_bytes(counts.encode("utf-16"))
    c8, c16 = read_counts(tmp_path / "c8.csv", net), read_counts(tmp_path / "c16.csv", net)
    assert c8.ids == c16.ids and "Zähler Süd" in c16.ids


def test_utf16_without_a_bom_is_named_not_called_binary(tmp_path):
    path = tmp_path / "nobom_net.tntp"
    path.write_bytes(NET.format(zones=3, nodes=3).encode("utf-16-le"))
    with pytest.raises(FileFormatError) as info:
        tntp.read_net(path)
    msg = str(info.value)
    assert msg.startswith(str(path)) and "UTF-16LE" in msg and "save it as UTF-8" in msg
    assert "binary" not in msg


def test_real_binary_files_are_still_binary(tmp_path):
    path = tmp_path / "bin_net.tntp"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(FileFormatError, match="looks like a binary file"):
        tntp.read_net(path)


def test_a_utf16_geojson_is_read(tmp_path):
    text = (
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
        '{"name": "Naturschutzgebiet Röthelmoos"}, "geometry": {"type": "Polygon", '
        '"coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}]}'
    )
    (tmp_path / "p.geojson").write_bytes(text.encode("utf-16"))
    areas = read_protected(tmp_path / "p.geojson", crs="EPSG:4326")
    assert "Röthelmoos" in " ".join(map(str, areas.names))


# ---------------------------------------------------------------------- 5 Windows-1252
WIN = "not UTF-8 (it looks like Windows-1252/Latin-1); save it as UTF-8"
WIN_RE = re.escape(WIN)


def test_windows1252_od_csv_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "od.csv"
    path.write_bytes("origin,destination,trips\n1,2,3\nMüller,2,7\n".encode("cp1252"))
    ids = np.array([1, 2])
    with pytest.raises(FileFormatError) as info:
        demand_from_od(
            path, ids, ids, np.array([True, True]), names=("Müller", "B"), period="p",
            period_hours=1.0,
        )  # fmt: skip
    msg = str(info.value)
    assert msg.startswith(f"{path}, line 3: {WIN}")
    assert "FC" in msg and "'ü'" in msg
    assert info.value.line == 3


def test_windows1252_counts_and_tntp_are_refused(tmp_path):
    net, _ = synthetic.braess()
    counts = tmp_path / "counts.csv"
    counts.write_bytes("link_id,count,id\n1,500,north\n2,400,Zähler Süd\n".encode("cp1252"))
    with pytest.raises(FileFormatError, match=rf"counts.csv, line 3: {WIN_RE}"):
        read_counts(counts, net)
    trips = tmp_path / "w_trips.tntp"
    trips.write_bytes(TRIPS.encode("cp1252"))
    with pytest.raises(FileFormatError, match=rf"w_trips.tntp, line 4: {WIN_RE}"):
        tntp.read_trips(trips)
    euro = tmp_path / "euro_trips.tntp"
    euro.write_bytes(TRIPS.replace("Zürich to Genève, café hours", "price 5 €").encode("cp1252"))
    with pytest.raises(FileFormatError, match="byte 80 there would be '€' in Windows-1252"):
        tntp.read_trips(euro)


def test_windows1252_geojson_is_refused_before_pyogrio(tmp_path):
    path = tmp_path / "areas.geojson"
    path.write_bytes(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties":\n'
        '{"name": "Naturschutzgebiet Röthelmoos"}, "geometry": {"type": "Polygon",\n'
        '"coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}]}'.encode("cp1252")
    )
    with pytest.raises(FileFormatError) as info:
        read_protected(path, crs="EPSG:4326")
    msg = str(info.value)
    assert msg.startswith(f"{path}, line 2: {WIN}") and "codec" not in msg


def test_utf8_with_a_bom_still_reads(tmp_path):
    path = tmp_path / "bom_trips.tntp"
    path.write_bytes(b"\xef\xbb\xbf" + TRIPS.encode("utf-8"))
    assert tntp.read_trips(path).dense()[0, 2] == 6


# ---------------------------------------------------------------------- 6 failing writes
class _FullDisk:
    """A text file whose writes stop halfway with ENOSPC, as on a full disk."""

    def __init__(self, fh):
        self._fh = fh

    def write(self, text: str) -> int:
        self._fh.write(text[: len(text) // 2])
        self._fh.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()
        return False


def _full_disk_open(monkeypatch: pytest.MonkeyPatch) -> None:
    import networks._io as nio

    real = open

    def fake(path, mode="r", **kwargs):
        return _FullDisk(real(path, mode, **kwargs))

    monkeypatch.setattr(nio, "open", fake, raising=False)


def test_a_full_disk_names_the_target_and_leaves_no_partial_file(tmp_path, monkeypatch):
    net, demand = synthetic.braess()
    target = tmp_path / "out" / "braess_net.tntp"
    target.parent.mkdir()
    target.write_text("earlier run\n")
    _full_disk_open(monkeypatch)
    for write, path in (
        (lambda p: tntp.write_net(net, p), target),
        (lambda p: tntp.write_trips(demand, p), tmp_path / "out" / "braess_trips.tntp"),
        (lambda p: atomic_write_text(p, "x" * 1000), tmp_path / "out" / "plan.json"),
    ):
        with pytest.raises(OutputWriteError) as info:
            write(path)
        assert str(info.value) == (
            f"could not write {path}: No space left on device; free some disk space or "
            "write to another disk"
        )
        assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC
        assert info.value.path == str(path)
    assert target.read_text() == "earlier run\n"  # the earlier file is untouched
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["braess_net.tntp"]


def test_a_full_disk_while_writing_a_table(tmp_path, monkeypatch):
    import pandas as pd

    frame = pd.DataFrame({"link_id": [1, 2], "flow": [3.0, 4.0]})

    def full(self, path, *args, **kwargs):
        Path(path).write_text("link_id,fl")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    with pytest.raises(OSError, match=r"could not write .*network.csv: No space left on device"):
        export.write_frame(frame, tmp_path / "network.csv")
    assert list(tmp_path.iterdir()) == []


def test_a_failing_rename_and_an_unwritable_folder(tmp_path, monkeypatch):
    import networks._io as nio

    def refuse(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied", str(src))

    with monkeypatch.context() as m:
        m.setattr(nio.os, "replace", refuse)
        with pytest.raises(OutputWriteError) as info:
            atomic_write_text(tmp_path / "report.html", "<html/>")
    assert str(info.value).startswith(f"could not write {tmp_path / 'report.html'}: ")
    assert "Permission denied; check the folder's permissions" in str(info.value)
    assert ".tmp" not in str(info.value)  # the temporary twin is not what the user named
    assert list(tmp_path.iterdir()) == []

    blocker = tmp_path / "results"
    blocker.write_text("a file, not a folder")
    with pytest.raises(
        OutputWriteError,
        match=r"could not write .*plan.csv: .*results is a file, not a folder; choose another output folder",
    ):
        atomic_write_text(blocker / "plan.csv", "a,b\n")


def test_other_errors_inside_the_write_pass_unchanged(tmp_path):
    with pytest.raises(ValueError, match="not mine"), atomic_path(tmp_path / "x.csv") as tmp:
        tmp.write_text("partial")
        raise ValueError("not mine")
    assert list(tmp_path.iterdir()) == []
    assert _leftovers(tmp_path) == []
