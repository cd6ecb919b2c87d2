"""Named datasets: local data directory first, else a hash-checked download (tested on loopback)."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest

from networks import DatasetNotFoundError, datasets


def test_names_match_without_regard_to_case(data_dir):
    assert datasets.find_dataset("siouxfalls") == "SiouxFalls"
    assert datasets.find_dataset("CHICAGO-SKETCH") == "Chicago-Sketch"
    assert datasets.find_dataset("chicago_sketch") == "Chicago-Sketch"
    files = datasets.fetch("anaheim", download=False)
    assert files.net.parent == data_dir / "tntp" / "Anaheim"
    assert files.trips.name == "Anaheim_trips.tntp"
    assert files.flow.name == "Anaheim_flow.tntp"
    assert files.node.name == "anaheim_nodes.geojson"


def test_load_reads_units_and_coordinates(data_dir):
    net, dem = datasets.load("Chicago-Sketch")
    assert net.units.time == "minutes" and net.units.length == "miles"
    assert net.extra["toll_factor"] == 0.02 and net.extra["distance_factor"] == 0.04
    assert net.has_coordinates and net.crs == "EPSG:3435"
    assert dem.num_zones == 387


def test_unknown_name_lists_known_ones():
    with pytest.raises(DatasetNotFoundError, match="neither an existing file nor a known dataset"):
        datasets.fetch("Atlantis")


@pytest.fixture
def loopback_server(data_dir, tmp_path):
    """Serve a copy of the data folder on 127.0.0.1 (a private copy, so a test may tamper)."""
    root = tmp_path / "mirror"
    shutil.copytree(data_dir / "tntp" / "SiouxFalls", root / "SiouxFalls")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))

    class Quiet(handler.func):  # type: ignore[misc, name-defined]
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()


def test_download_path_with_hash_check(loopback_server, tmp_path, monkeypatch):
    url, _ = loopback_server
    monkeypatch.delenv("ROADOPT_DATA_DIR", raising=False)
    monkeypatch.setenv("ROADOPT_TNTP_URL", url)
    monkeypatch.setenv("ROADOPT_CACHE_DIR", str(tmp_path / "cache"))
    files = datasets.fetch("SiouxFalls")
    assert files.net.is_relative_to(tmp_path / "cache")
    net, dem = datasets.load("siouxfalls")
    assert net.num_links == 76 and dem.total == 360600.0
    # a second fetch uses the cache even when the server is gone
    monkeypatch.setenv("ROADOPT_TNTP_URL", "http://127.0.0.1:9")
    assert datasets.fetch("SiouxFalls").net == files.net


def test_download_rejects_a_file_whose_hash_differs(loopback_server, tmp_path, monkeypatch):
    url, root = loopback_server
    with open(root / "SiouxFalls" / "SiouxFalls_net.tntp", "a") as fh:
        fh.write("\n")
    monkeypatch.delenv("ROADOPT_DATA_DIR", raising=False)
    monkeypatch.setenv("ROADOPT_TNTP_URL", url)
    monkeypatch.setenv("ROADOPT_CACHE_DIR", str(tmp_path / "cache2"))
    with pytest.raises(DatasetNotFoundError, match="SHA-256 does not match"):
        datasets.fetch("SiouxFalls")


def test_download_failure_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("ROADOPT_DATA_DIR", raising=False)
    monkeypatch.setenv("ROADOPT_TNTP_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("ROADOPT_CACHE_DIR", str(tmp_path / "cache3"))
    with pytest.raises(DatasetNotFoundError, match="cannot download dataset 'Anaheim'"):
        datasets.fetch("Anaheim")
