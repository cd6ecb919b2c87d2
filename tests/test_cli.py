"""The roadopt command: exit codes, one-line errors, no output file on failure."""

from __future__ import annotations

import json
import subprocess
import sys

from optimizer.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optimizer.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_info_on_a_dataset(data_dir, capsys):
    assert main(["info", "SiouxFalls", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["network"]["links"] == 76
    assert info["demand"]["total_trips"] == 360600.0


def test_info_reports_intrazonal_demand(data_dir, capsys):
    assert main(["info", str(data_dir / "tntp/Chicago-Sketch/ChicagoSketch_net.tntp")]) == 0
    out = capsys.readouterr().out
    assert "intrazonal 123414" in out and "387 (387 internal" in out


def test_broken_file_gives_one_line_and_exit_1(tmp_path):
    bad = tmp_path / "bad_net.tntp"
    bad.write_text(
        "<NUMBER OF NODES> 2\n<NUMBER OF LINKS> 1\n<END OF METADATA>\n1 2 x 1 1 0 1 0 0 1\n"
    )
    r = run("info", str(bad))
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "line 4: field 'capacity': 'x' is not a number" in lines[0]
    assert "Traceback" not in r.stderr
    r = run("info", str(bad), "--verbose")
    assert r.returncode == 1 and "Traceback" in r.stderr


def test_bad_usage_exits_2():
    r = run("info", "--no-such-option")
    assert r.returncode == 2
    r = run()
    assert r.returncode == 2
