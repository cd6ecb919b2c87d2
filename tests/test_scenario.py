"""Scenario files: checked with key and line in every error; runs are repeatable."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from networks import osm, roads
from networks.errors import FileFormatError
from optimizer.jobs.cli import main
from optimizer.jobs.scenario import load_scenario, run_scenario


def _write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "text, message",
    [
        (
            'command = "assign"\n[network]\npath = "x"\nspeed = 3\n',
            r"line 4: field 'network.speed': unknown key in \[network\]",
        ),
        ('colour = "red"\n', r"line 1: field 'colour': unknown key"),
        (
            '[optimize]\nbudget = "lots"\n',
            r"line 2: field 'optimize.budget': is 'lots'; expected a number",
        ),
        ("[demand]\nzones = 2.5\n", r"line 2: field 'demand.zones': is 2.5; expected a string"),
        ('command = "dance"\n', r"line 1: field 'command': is 'dance'; choose one of"),
        (
            '[network]\nsource = "place"\n',
            r"line 2: field 'network.source': source = 'place' "
            r"needs a 'query' key",
        ),
        (
            '[network]\npath = "${NO_SUCH_VARIABLE_X}/a.tntp"\n',
            r"line 2: field 'network.path': uses \$\{NO_SUCH_VARIABLE_X\}, but that environment",
        ),
        (
            "[optimize]\nbudget = 1\nbudget_share = 0.2\n",
            r"line 3: field 'optimize.budget_share': give a budget .* not both",
        ),
        ("[network\n", r"is not valid TOML"),
    ],
)
def test_bad_scenarios_name_key_and_line(tmp_path, text, message):
    import re

    with pytest.raises(FileFormatError) as info:
        load_scenario(_write(tmp_path, text))
    assert re.search(message, str(info.value)), str(info.value)


def test_paths_are_relative_to_the_file_and_variables_expand(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_DATA", "/data/here")
    sub = tmp_path / "cases"
    sub.mkdir()
    sc = load_scenario(
        _write(
            sub,
            '[network]\npath = "nets/a_net.tntp"\ntrips = '
            '"${MY_DATA}/t.tntp"\n[output]\ndir = "out"\n',
        )
    )
    assert sc.doc["network"]["path"] == str(sub / "nets" / "a_net.tntp")
    assert sc.doc["network"]["trips"] == "/data/here/t.tntp"
    assert sc.doc["network"]["source"] == "file"
    assert sc.get("output", "dir") == str(sub / "out")


def _bundled_presets() -> list[str]:
    root = resources.files("networks") / "presets"
    return sorted(p.name.removesuffix(".toml") for p in root.iterdir() if p.name.endswith(".toml"))


def test_bundled_presets_are_scenarios():
    """Every preset in networks/presets loads as a scenario, by name, with its network source."""
    names = _bundled_presets()
    assert len(names) >= 4 and "ziliujing" in names
    for name in names:
        sc = load_scenario(name)
        assert sc.name == name and sc.text.startswith("# roadopt scenario:")
        assert "NEEDS THE INTERNET" in sc.text and "roadopt run NAME" in sc.text
        assert {"name", "title", "network", "demand"} <= set(sc.doc)
        net = sc.doc["network"]
        assert net["source"] in ("place", "bbox", "polygon")
        assert net["profile"] in roads.PROFILES and net["profile"].startswith("china")
        if net["source"] == "place":
            assert "Zigong" in net["query"] and "Sichuan" in net["query"]
        if net["source"] == "bbox":
            w, s, e, n = osm._check_bbox(net["bbox"])
            assert osm.utm_crs((w + e) / 2, (s + n) / 2) == "EPSG:32648"  # Zigong's zone
        dem = sc.doc["demand"]
        assert dem["zones"] == "places" and isinstance(sc.doc["seed"], int)
        assert 0 <= dem["external_share"] < 1
        assert set(dem["gateway_classes"]) <= set(roads.ROAD_CLASSES)
        assert sc.notes, "each preset names the roads that serve as gateways"
        assert all(n.road and n.road_class for n in sc.notes)


def test_assign_scenario_runs_and_records_itself(data_dir, tmp_path):
    p = _write(
        tmp_path,
        'command = "assign"\n[network]\npath = '
        '"${ROADOPT_DATA_DIR}/tntp/SiouxFalls/SiouxFalls_net.tntp"\n'
        "[assignment]\ngap = 1e-9\n",
    )
    out = tmp_path / "out"
    assert main(["run", str(p), "--out", str(out), "-q"]) == 0
    doc = json.loads((out / "plan.json").read_text())
    assert doc["relative_gap"] <= 1e-9 and abs(doc["objective"] - 4231335.287) < 1e-3
    assert doc["run"]["settings"]["command"] == "assign"
    assert doc["run"]["settings"]["assignment"]["gap"] == 1e-9
    assert doc["run"]["scenario_file"] == str(p) and doc["run"]["version"]
    assert (out / "flows.csv").exists()


def test_optimize_scenario_on_an_instance(data_dir, tmp_path):
    p = _write(
        tmp_path,
        '[network]\npath = "${ROADOPT_DATA_DIR}/dndp/SiouxFalls/'
        'SF_DNDP_10_2.txt"\ntrips = "${ROADOPT_DATA_DIR}/tntp/SiouxFalls/'
        'SiouxFalls_trips.tntp"\n[optimize]\nbudget_share = 0.25\nobjective = "tstt"\n'
        "gap = 1e-6\n",
    )
    out = tmp_path / "plan"
    sc = load_scenario(p)
    run = run_scenario(sc, out=out)
    assert run.plan.objective / 1000 <= 6509.7 * 1.0005
    doc = json.loads((out / "plan.json").read_text())
    assert (
        doc["status"] == "optimal" and doc["run"]["settings"]["optimize"]["budget_share"] == 0.25
    )
    # the same run into the same folder replaces its files; a different one is refused
    run_scenario(sc, out=out)
    other = load_scenario(_write(tmp_path, p.read_text().replace("0.25", "0.5"), "o.toml"))
    from optimizer.errors import UsageError

    with pytest.raises(UsageError, match="different run"):
        run_scenario(other, out=out)
    run_scenario(other, out=out, overwrite=True)


def test_the_schema_document_is_current():
    """docs/scenario-schema.md is what the settings types generate (regenerate if not)."""
    from optimizer.jobs.scenario import schema_markdown
    from optimizer.jobs.setting_types import specs
    from optimizer.jobs.settings import OptimizeSettings

    doc = Path(__file__).resolve().parents[1] / "docs" / "scenario-schema.md"
    assert doc.read_text(encoding="utf-8") == schema_markdown(), (
        "docs/scenario-schema.md is stale: python -m optimizer.jobs.scenario --markdown "
        "> docs/scenario-schema.md"
    )
    text = schema_markdown()
    # every scenario key of the design search is documented, with its CLI option
    for f in specs(OptimizeSettings):
        if f.spec.toml:
            assert f"| `{f.key}` |" in text, f.key
    assert "| `on_disconnected` |" in text and "`--drop-disconnected`" in text
    assert "| `budget_share` | number | (none) |" in text


def test_presets_lists_and_prints(capsys):
    from optimizer.jobs.cli import main
    from optimizer.jobs.scenario import preset_path, presets

    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = presets()
    assert [ln.split()[0] for ln in lines[: len(names)]] == names
    assert all("needs the internet" in ln for ln in lines[: len(names)])  # all download OSM
    assert main(["presets", "daan"]) == 0
    path = preset_path("daan")
    assert path is not None and capsys.readouterr().out == path.read_text(encoding="utf-8")
    assert main(["presets", "nowhere"]) == 2
    assert "no preset named 'nowhere'; the presets are daan" in capsys.readouterr().err
