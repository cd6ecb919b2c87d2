"""networks.roads: road classes, the defaults by class, profiles and the OSM tag parsers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from networks import roads


def test_roads_loads_without_osmnx_or_pyrosm():
    """The tables are usable without the readers' heavy imports (checked in a fresh process)."""
    code = (
        "import sys, networks.roads; "
        "bad = sorted(m for m in ('osmnx', 'pyrosm') if m in sys.modules); "
        "assert not bad, bad"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ)
    )
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------------- tag parsing
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2", 2.0),
        (3, 3.0),
        ("2;3", 2.0),
        (["3", "2"], 2.0),
        ("1.5", 1.5),
        ("none", None),
        ("many", None),
        ("0", None),
        ("-2", None),
        ("99", None),
        ("", None),
        (None, None),
        (float("nan"), None),
    ],
)
def test_parse_lanes(value, expected):
    assert roads.parse_lanes(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("50", 50.0),
        (60, 60.0),
        ("50 mph", 50 * 1.609344),
        ("30mph", 30 * 1.609344),
        ("20 knots", 20 * 1.852),
        ("50 km/h", 50.0),
        ("50;70", 60.0),
        (["30", "50"], 40.0),
        ("RU:urban", 60.0),
        ("RU:rural", 90.0),
        ("DE:zone30", 30.0),
        ("DE:zone:30", 30.0),
        ("IT:urban", 50.0),
        ("CN:rural", 70.0),
        ("DE:motorway", None),
        ("none", None),
        ("signals", None),
        ("variable", None),
        ("fast", None),
        ("500", None),
        (None, None),
        (float("nan"), None),
    ],
)
def test_parse_maxspeed(value, expected):
    got = roads.parse_maxspeed(value)
    assert got == (None if expected is None else pytest.approx(expected))


def test_profiles_cover_every_class_and_rank_ramps_with_their_road():
    for prof in roads.PROFILES.values():
        assert set(prof.classes) <= set(prof.table)
        for c in roads.ROAD_CLASSES:
            speed, lanes, cap = prof.table[c]
            assert speed > 0 and lanes >= 1 and cap > 0
            assert prof.bpr[c][0] > 0 and prof.bpr[c][1] > 0
    assert (
        roads.class_rank("trunk_link") == roads.class_rank("trunk") < roads.class_rank("primary")
    )
    assert roads.class_rank("footway") > roads.class_rank("track")
    assert "track" in roads.PROFILES["china"].classes
    assert "track" not in roads.PROFILES["generic"].classes
    # mountain terrain lowers the design speeds
    for c in roads.ROAD_CLASSES:
        assert roads.PROFILES["china-mountain"].speed(c) <= roads.PROFILES["china"].speed(c)
    with pytest.raises(ValueError, match="unknown road profile"):
        roads.get_profile("martian")
    with pytest.raises(ValueError, match="not in profile"):
        roads.get_profile("generic", highway=["footway"])


def test_way_rules_read_access_oneway_and_directions():
    assert roads.car_allowed({"highway": "residential"})
    assert not roads.car_allowed({"access": "private"})
    assert roads.car_allowed({"access": "no", "motor_vehicle": "destination"})
    assert not roads.car_allowed({"motorcar": "no", "access": "yes"})
    assert not roads.car_allowed({"area": "yes"})
    assert roads.oneway_rule({"oneway": "yes"}) == (True, False)
    assert roads.oneway_rule({"oneway": "-1"}) == (True, True)
    assert roads.oneway_rule({"junction": "roundabout"}) == (True, False)
    assert roads.oneway_rule({"oneway": "no", "junction": "roundabout"}) == (False, False)
    assert roads.way_class(["residential", "primary", "footway"], roads.ROAD_CLASSES) == "primary"
    assert roads.way_class("footway", roads.ROAD_CLASSES) is None
    prof = roads.PROFILES["generic"]
    two_way = {"oneway": False, "reversed": True, "lanes": "4", "lanes:backward": "1"}
    assert roads.direction_lanes(two_way, prof, "primary") == 1.0
    assert roads.direction_lanes({**two_way, "reversed": False}, prof, "primary") == 2.0
    assert roads.direction_lanes({"oneway": True, "lanes": "3"}, prof, "primary") == 3.0
    assert roads.direction_lanes({}, prof, "trunk") == prof.lanes("trunk")
    speeds = {"oneway": False, "reversed": False, "maxspeed": "50", "maxspeed:forward": "70"}
    assert roads.direction_speed(speeds, prof, "primary") == 70.0
    assert roads.direction_speed({**speeds, "reversed": True}, prof, "primary") == 50.0
    assert roads.direction_speed({}, prof, "primary") == prof.speed("primary")
