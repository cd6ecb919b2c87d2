"""Traffic counts: locating them on links (ways, link ids, points) and the file's errors."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyproj
import pytest

from networks import osm
from networks.counts import read_counts
from networks.errors import FileFormatError
from networks.synthetic import grid

TOWN = Path(__file__).parent / "fixtures" / "town.osm"
# the fixture's nodes sit at metre offsets from this UTM 48N point (see its comment)
ORIGIN = (477674.0, 3246786.0)


@pytest.fixture(scope="module")
def town():
    return osm.from_file(TOWN)


def _link(net, a, b) -> int:
    """Position of the one link between external node ids a -> b."""
    ids = net.node_ids
    hits = [k for k in range(net.num_links) if ids[net.init[k]] == a and ids[net.term[k]] == b]
    assert len(hits) == 1
    return hits[0]


def _lonlat(dx: float, dy: float) -> tuple[float, float]:
    tr = pyproj.Transformer.from_crs("EPSG:32648", "EPSG:4326", always_xy=True)
    return tr.transform(ORIGIN[0] + dx, ORIGIN[1] + dy)


def _csv(tmp_path: Path, text: str, name: str = "counts.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _weights(counts, c) -> dict[int, float]:
    row = counts.weights[[c]]
    return {int(k): float(v) for k, v in zip(row.indices, row.data, strict=True)}


def test_way_counts_follow_the_drawing_direction(town, tmp_path, caplog):
    # way 100 is drawn 1-2-3-4 (two-way trunk): forward is 1->3->4, backward 4->3->1
    p = _csv(
        tmp_path,
        "id,way_id,direction,count\n"
        "t1,100,forward,500\n"
        "t2,100,backward,450\n"
        "t3,203,both,80\n"
        "# a comment line\n"
        "t4,200,forward,40\n",
    )
    with caplog.at_level(logging.WARNING, logger="networks.counts"):
        c = read_counts(p, town)
    assert "2 way counts span several links in one direction (lines 2, 3)" in caplog.text
    assert c.ids == ("t1", "t2", "t3", "t4") and c.lines == (2, 3, 4, 6)
    np.testing.assert_array_equal(c.count, [500, 450, 80, 40])
    fwd = [_link(town, 1, 3), _link(town, 3, 4)]
    w = _weights(c, 0)
    assert set(w) == set(fwd)  # a way over two links: their mean weighted by length
    length = town.length[fwd]
    np.testing.assert_allclose([w[k] for k in fwd], length / length.sum())
    assert set(_weights(c, 1)) == {_link(town, 4, 3), _link(town, 3, 1)}
    assert _weights(c, 2) == {_link(town, 4, 21): 1.0, _link(town, 21, 4): 1.0}
    assert _weights(c, 3) == {_link(town, 3, 11): 1.0}
    flow = np.arange(town.num_links, dtype=float)
    assert c.modelled(flow)[2] == flow[_link(town, 4, 21)] + flow[_link(town, 21, 4)]


def test_one_way_way_counted_the_other_way_warns(town, tmp_path, caplog):
    # way 202 is oneway=-1 (drawn 14-13, travel 13->14); osmnx records its link as forward
    p = _csv(tmp_path, "way_id,direction,count\n202,backward,30\n")
    with caplog.at_level(logging.WARNING, logger="networks.counts"):
        c = read_counts(p, town)
    assert "one-way" in caplog.text
    (k,) = c.links(0)
    assert town.extra["osm_way_ids"][k] == (202,)


def test_link_id_counts(town, tmp_path):
    a, b = _link(town, 4, 21), _link(town, 21, 4)
    one = _link(town, 3, 11)
    lid = town.link_ids
    p = _csv(
        tmp_path,
        f"link_id,direction,count\n{lid[a]},forward,10\n{lid[a]},backward,11\n"
        f"{lid[one]},both,12\n",
    )
    c = read_counts(p, town)
    assert _weights(c, 0) == {a: 1.0} and _weights(c, 1) == {b: 1.0}
    assert _weights(c, 2) == {one: 1.0}  # a one-way road: both is the link itself
    bad = _csv(tmp_path, f"link_id,direction,count\n{lid[one]},backward,3\n", "oneway.csv")
    with pytest.raises(FileFormatError, match=r"line 2: field 'direction': .*no reverse link"):
        read_counts(bad, town)


def test_point_counts_snap_to_the_nearest_road(town, tmp_path):
    lon, lat = _lonlat(3.0, -150.0)  # 3 m east of the middle of way 203 (node 4 to 21)
    down, up = _link(town, 4, 21), _link(town, 21, 4)
    p = _csv(
        tmp_path,
        "id,lon,lat,direction,count\n"
        f"both,{lon},{lat},both,90\n"
        f"sb,{lon},{lat},southbound,50\n"
        f"n,{lon},{lat},north,40\n",
    )
    c = read_counts(p, town)
    assert _weights(c, 0) == {down: 1.0, up: 1.0}
    assert _weights(c, 1) == {down: 1.0} and _weights(c, 2) == {up: 1.0}
    assert "3.0 m" in c.where[0]
    fwd = _csv(tmp_path, f"lon,lat,direction,count\n{lon},{lat},forward,50\n", "fwd.csv")
    assert _weights(read_counts(fwd, town), 0) == {down: 1.0}  # way 203 is drawn 4-21
    east = _csv(tmp_path, f"lon,lat,direction,count\n{lon},{lat},east,5\n", "east.csv")
    with pytest.raises(FileFormatError, match=r"line 2: field 'direction': no link .* runs east"):
        read_counts(east, town)
    far_lon, far_lat = _lonlat(150.0, -150.0)
    far = _csv(tmp_path, f"lon,lat,count\n{far_lon},{far_lat},5\n", "far.csv")
    with pytest.raises(FileFormatError, match=r"far.csv, line 2: field 'lon': .* 150 m from"):
        read_counts(far, town)
    assert read_counts(far, town, tolerance=200.0).count[0] == 5


@pytest.mark.parametrize(
    ("text", "line", "field", "match"),
    [
        ("way_id,count\n999,5\n", 2, "way_id", "way 999 is not in the network"),
        ("link_id,count\n10,1\n99999,5\n", 3, "link_id", "link 99999 is not in network"),
        ("way_id,count\n100,-5\n", 2, "count", "negative"),
        ("way_id,count\n100,\n", 2, "count", "missing"),
        ("way_id,count\n100,many\n", 2, "count", "not a number"),
        ("way_id,direction,count\n100,up,5\n", 2, "direction", "use forward, backward, both"),
        ("way_id,direction,count\n100,north,5\n", 2, "direction", "use forward"),
        ("way_id,link_id,count\n100,3,5\n", 2, "way_id", "exactly one of"),
        (
            "way_id,direction,count\n200,forward,5\n200,both,6\n",
            3,
            "way_id",
            "same links as line 2",
        ),
        ("way_id,period,count\n200,am,5\n203,pm,6\n", 3, "period", "one period per file"),
        ("way_id,lanes\n200,2\n", 1, "count", "no 'count' column"),
    ],
)
def test_bad_counts_name_file_line_and_field(town, tmp_path, text, line, field, match):
    p = _csv(tmp_path, text)
    with pytest.raises(FileFormatError, match=match) as info:
        read_counts(p, town)
    assert info.value.line == line and info.value.field == field
    assert str(info.value).startswith(f"{p}, line {line}: field '{field}'")


def test_duplicate_by_way_and_link(town, tmp_path):
    lid = town.link_ids[_link(town, 3, 11)]
    p = _csv(tmp_path, f"way_id,link_id,direction,count\n200,,forward,5\n,{lid},forward,5\n")
    with pytest.raises(FileFormatError, match="line 3: field 'link_id': counts the same links"):
        read_counts(p, town)


def test_empty_files(town, tmp_path):
    with pytest.raises(FileFormatError, match="empty"):
        read_counts(_csv(tmp_path, ""), town)
    with pytest.raises(FileFormatError, match="holds no counts"):
        read_counts(_csv(tmp_path, "way_id,count\n# nothing yet\n"), town)
    with pytest.raises(FileNotFoundError):
        read_counts(tmp_path / "missing.csv", town)


def test_connectors_carry_no_counts(tmp_path):
    net, _ = grid(3, 3)
    cls = net.road_class.copy()
    cls[0] = "connector"
    net = net.replace(road_class=cls)
    p = _csv(tmp_path, f"link_id,count\n{net.link_ids[0]},5\n")
    with pytest.raises(FileFormatError, match=r"line 2: field 'link_id': .*zone connector"):
        read_counts(p, net)
    ok = _csv(tmp_path, f"link_id,direction,count\n{net.link_ids[1]},forward,5\n", "ok.csv")
    assert read_counts(ok, net).links(0) == [1]


def test_points_need_a_crs_and_ways_need_osm(tmp_path):
    net, _ = grid(3, 3)  # no CRS, no OSM ways
    p = _csv(tmp_path, "lon,lat,count\n104.7,29.3,5\n")
    with pytest.raises(FileFormatError, match=r"line 2: field 'lon': .*has no CRS"):
        read_counts(p, net)
    w = _csv(tmp_path, "way_id,count\n100,5\n", "ways.csv")
    with pytest.raises(FileFormatError, match=r"line 2: field 'way_id': .*has no OSM ways"):
        read_counts(w, net)
