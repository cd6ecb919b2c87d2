"""A machine without the internet or the data: what a user is told.

An online OpenStreetMap source without the internet fails in one line, and soon; a test
that needs the benchmark data says how to get them. No test here touches the network: the
download functions, or requests' transport and the name lookup under them, are replaced
by fakes that fail the way an offline machine does.
"""

from __future__ import annotations

import socket
import time

import pytest

from networks import osm
from networks.errors import OSMQueryError

ox = pytest.importorskip("osmnx")
requests = pytest.importorskip("requests")
urllib3 = pytest.importorskip("urllib3")

BBOX = (11.50, 49.90, 11.60, 50.00)


def _offline_error(host: str) -> Exception:
    """What requests raises offline: a ConnectionError over urllib3's retry chain."""
    pool = urllib3.HTTPSConnectionPool(host, 443)
    cause = urllib3.exceptions.NameResolutionError(
        host, pool, socket.gaierror(-2, "Name or service not known")
    )
    retry = urllib3.exceptions.MaxRetryError(pool, "/api/interpreter", cause)
    return requests.exceptions.ConnectionError(retry)


@pytest.fixture(autouse=True)
def _no_name_lookup(monkeypatch):
    """The machine is offline: no host name resolves (and no test asks a real DNS server)."""

    def getaddrinfo(host, *args, **kw):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def offline_downloads(monkeypatch):
    """osmnx's geocoder and Overpass download both fail as if there were no network."""

    def geocode_to_gdf(query, which_result=None, by_osmid=False):
        raise _offline_error("nominatim.openstreetmap.org")

    def graph_from_polygon(polygon, **kw):
        raise _offline_error("overpass-api.de")

    monkeypatch.setattr(ox, "geocode_to_gdf", geocode_to_gdf)
    monkeypatch.setattr(ox, "graph_from_polygon", graph_from_polygon)


def _check_message(exc: BaseException, source: str, host: str) -> None:
    msg = str(exc)
    assert "\n" not in msg
    assert msg.startswith(source) and "needs the internet" in msg and host in msg
    assert "cannot be resolved" in msg and "download failed" in msg
    for noise in ("HTTPSConnectionPool", "Max retries", "urllib3", "NameResolutionError"):
        assert noise not in msg
    assert exc.__cause__ is None and exc.__suppress_context__  # no chain printed


def test_a_place_offline_says_it_needs_the_internet(offline_downloads):
    with pytest.raises(OSMQueryError) as exc:
        osm.from_place("Bayreuth, Germany")
    assert not isinstance(exc.value, osm.PlaceNotFoundError)  # the place may well exist
    _check_message(exc.value, "OpenStreetMap place 'Bayreuth, Germany'", "nominatim")


def test_a_bbox_offline_says_it_needs_the_internet(offline_downloads):
    with pytest.raises(OSMQueryError) as exc:
        osm.from_bbox(BBOX)
    _check_message(exc.value, "OpenStreetMap bbox (11.5, 49.9, 11.6, 50.0)", "overpass-api.de")


@pytest.mark.parametrize(
    "error, reason",
    [
        (socket.gaierror(-3, "Temporary failure in name resolution"), "cannot be resolved"),
        (requests.exceptions.ConnectTimeout("timed out"), "timed out"),
        (ConnectionRefusedError(111, "Connection refused"), "refused"),
        (OSError(101, "Network is unreachable"), "unreachable"),
        (PermissionError(13, "Permission denied: cache"), None),
        (requests.exceptions.SSLError("certificate verify failed"), None),
    ],
)
def test_each_kind_of_unreachable_is_told_apart(monkeypatch, error, reason):
    def graph_from_polygon(polygon, **kw):
        raise error

    monkeypatch.setattr(ox, "graph_from_polygon", graph_from_polygon)
    with pytest.raises(OSMQueryError) as exc:
        osm.from_bbox(BBOX)
    if reason is None:  # an unwritable cache or a bad certificate: not being offline
        assert "the download failed" in str(exc.value) and "internet" not in str(exc.value)
    else:
        assert "needs the internet" in str(exc.value) and reason in str(exc.value)


def test_other_download_failures_keep_their_message(monkeypatch):
    def graph_from_polygon(polygon, **kw):
        raise RuntimeError("the server answered 504")

    monkeypatch.setattr(ox, "graph_from_polygon", graph_from_polygon)
    with pytest.raises(OSMQueryError, match="download failed: the server answered 504") as exc:
        osm.from_bbox(BBOX)
    assert "internet" not in str(exc.value)


def test_the_command_line_prints_one_line(offline_downloads, capsys):
    from optimizer.jobs.cli import main

    for args, source in (
        (["--place", "Bayreuth, Germany"], "OpenStreetMap place 'Bayreuth, Germany'"),
        (["--bbox", "11.5,49.9,11.6,50.0"], "OpenStreetMap bbox"),
    ):
        assert main(["assign", *args]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert source in err[0] and "needs the internet" in err[0]
        assert "Traceback" not in err[0] and "HTTPSConnectionPool" not in err[0]


def test_real_osmnx_offline_fails_at_once(monkeypatch, tmp_path):
    """osmnx itself, down to requests' transport: no 60 s rate-limit pause before the error."""
    monkeypatch.setenv("ROADOPT_CACHE_DIR", str(tmp_path))  # no cached response to serve
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    sent = []

    def send(self, request, **kw):
        sent.append(request.url)
        raise _offline_error(request.url.split("/")[2])

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    assert ox.settings.overpass_rate_limit
    t0 = time.perf_counter()
    with pytest.raises(OSMQueryError) as exc:
        osm.from_bbox(BBOX)
    seconds = time.perf_counter() - t0
    _check_message(exc.value, "OpenStreetMap bbox", "overpass-api.de")
    assert seconds < 20, f"{seconds:.1f} s: osmnx paused before the request"
    assert sent and all("/status" not in u for u in sent)
    assert ox.settings.overpass_rate_limit  # restored
    with pytest.raises(OSMQueryError) as exc:
        osm.from_place("Bayreuth, Germany")
    _check_message(exc.value, "OpenStreetMap place", "nominatim.openstreetmap.org")


def test_a_test_without_its_data_says_how_to_get_it(tmp_path):
    """The skip reason of a test that needs ROADOPT_DATA_DIR names the variable and layout."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["ROADOPT_DATA_DIR"] = str(tmp_path)  # a folder without tntp/
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "tests/test_batch.py::test_the_issue_example_expands_to_ten_stable_scenarios",
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "1 skipped" in r.stdout, r.stdout + r.stderr
    assert "needs the benchmark data: set ROADOPT_DATA_DIR to a folder laid out like" in r.stdout
    assert "(tntp/, dndp/, osm/)" in r.stdout and f"{tmp_path} has no tntp/" in r.stdout
