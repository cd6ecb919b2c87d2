"""The settings types: every CLI option and TOML key comes from them, each default once."""

from __future__ import annotations

import argparse
import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from networks.errors import FileFormatError
from optimizer.errors import OptionError
from optimizer.jobs import batch, pipeline
from optimizer.jobs import settings as S
from optimizer.jobs.cli import COMMANDS, build_parser
from optimizer.jobs.scenario import job_from_doc, scenario_from_dict, schema

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = [
    S.StudySettings,
    S.CostSettings,
    S.AssignSettings,
    S.CandidateSettings,
    S.CalibrationSettings,
    S.OptimizeSettings,
    S.AppraisalSettings,
    S.OutputSettings,
    S.AssignOutputSettings,
    S.ConsoleSettings,
    S.InfoSettings,
    S.RunSettings,
    S.BatchSettings,
    S.ScenarioSettings,
    S.GatewayNote,
]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("command", ["info", "assign", "optimize", "run", "batch"])
def test_every_cli_option_is_a_setting(command):
    """Each option of the subcommand is one setting's, with its flag, help and default."""
    sub = _subparsers(build_parser())[command]
    fields = COMMANDS[command].fields()
    seen = set()
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        f = fields.get(action.dest)
        assert f is not None, f"{command}: option {action.option_strings or action.dest} "
        seen.add(f.name)
        if action.option_strings:
            assert f.option in action.option_strings
        else:
            assert f.spec.positional
        # the default is the setting's (not restated): options not given are not set
        assert action.default is argparse.SUPPRESS
        assert action.help == f.describe(cli=True).replace("%", "%%")
        if f.spec.choices is not None and action.choices is not None:
            assert tuple(action.choices) == f.spec.choices
    assert seen == set(fields), f"{command}: settings without an option: {set(fields) - seen}"


def test_option_names_are_unique_within_each_command():
    for name, cmd in COMMANDS.items():
        names = [f.name for cls, _ in cmd.sections for f in S.specs(cls) if f.spec.cli]
        assert len(names) == len(set(names)), name


@pytest.mark.parametrize("command", sorted(S.JOBS))
def test_every_toml_key_is_a_setting_and_the_document_round_trips(command):
    job_cls = S.JOBS[command]
    tables = schema(job_cls)
    for table, keys in tables.items():
        for key, f in keys.items():
            assert f.table == table and f.key == key and f.spec.toml
    # every setting with a default, written out and read back, gives the same job
    job = job_cls()
    doc = job.document()
    back, _ = job_from_doc(doc)
    assert back.document() == doc
    # and every key of the document is in the schema
    for key, value in doc.items():
        if isinstance(value, dict):
            assert set(value) <= set(tables[key])
        else:
            assert key in tables[""]


def _api_default(func, name):
    p = inspect.signature(func).parameters.get(name)
    return None if p is None or p.default is inspect.Parameter.empty else p


def test_settings_defaults_agree_with_every_api_keyword_of_the_same_name():
    """A setting's default is the default of the keyword it feeds, wherever it is written."""
    checked = 0
    job_api = {
        S.OptimizeSettings: (pipeline.plan_study,),
        S.CandidateSettings: (pipeline.plan_study,),
        S.CostSettings: (pipeline.plan_study,),
        S.BatchSettings: (batch.run_batch,),
        S.StudySettings: (pipeline.plan_study,),
    }
    for cls in SECTIONS:
        for func in (*cls.API, *job_api.get(cls, ())):
            for f in S.specs(cls):
                p = _api_default(func, f.name)
                if p is None:
                    continue
                assert p.default == f.default, (cls.__name__, f.name, func)
                checked += 1
    assert checked >= 30


def test_the_scoring_gap_literal_is_written_once():
    """``1e-8`` as a default gap appears once in networks/ and optimizer/ (the search's)."""
    hits = []
    for path in [*ROOT.glob("networks/**/*.py"), *ROOT.glob("optimizer/**/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args
                pos = args.posonlyargs + args.args
                pairs = list(zip(pos[len(pos) - len(args.defaults) :], args.defaults, strict=True))
                pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
                for a, d in pairs:
                    if isinstance(d, ast.Constant) and d.value == 1e-8:
                        hits.append((path.name, node.name, a.arg))
            elif isinstance(node, ast.keyword) and isinstance(node.value, ast.Constant):
                if node.value.value == 1e-8 and node.arg and "gap" in node.arg:
                    hits.append((path.name, "call", node.arg))
            elif isinstance(node, ast.Call) and any(
                isinstance(a, ast.Constant) and a.value == 1e-8 for a in node.args
            ):
                hits.append((path.name, "call", ast.unparse(node.func)))
    assert hits == [("search.py", "optimize", "rgap")]


def test_sweep_keys_follow_the_job():
    assign_keys = batch.sweep_keys(S.AssignJob)
    optimize_keys = batch.sweep_keys(S.OptimizeJob)
    assert assign_keys["gap"].dotted == "assignment.gap"
    assert optimize_keys["gap"].dotted == "optimize.gap"
    assert assign_keys["method"].dotted == "assignment.method"
    assert optimize_keys["method"].dotted == "optimize.method"
    for keys in (assign_keys, optimize_keys):
        assert keys["demand_scale"].dotted == "demand.scale"
        assert keys["zones"].dotted == "demand.zones" and keys["seed"].dotted == "seed"
    assert optimize_keys["max_candidates"].dotted == "candidates.max"
    assert "source" not in optimize_keys  # network.source and candidates.source: ambiguous
    assert "budget" not in assign_keys


def test_a_setting_refuses_a_bad_value_naming_itself():
    with pytest.raises(OptionError) as info:
        S.AssignSettings(rgap=-1.0)
    assert info.value.option == "rgap"
    with pytest.raises(OptionError) as info:
        S.OptimizeSettings(budget=1.0, budget_share=0.2)
    assert info.value.option == "budget_share"
    with pytest.raises(OptionError) as info:
        S.OptimizeSettings(weights={"interior": 1.0})
    assert info.value.option == "weights"
    with pytest.raises(OptionError) as info:
        S.StudySettings(place="Zigong", bbox=(1.0, 2.0, 3.0, 4.0))
    assert info.value.option == "bbox"
    with pytest.raises(OptionError, match="expected a string") as info:
        S.StudySettings(zones=2.5)
    assert info.value.option == "zones"
    assert S.StudySettings(zones=3).zones == "3"  # a whole number is kept as its text
    with pytest.raises(OptionError, match="at least one zone"):
        S.StudySettings(zones="0")


def test_option_errors_use_the_users_words(tmp_path):
    """The CLI names the flag, a scenario file the key and its line."""
    cmd = [sys.executable, "-m", "optimizer.jobs.cli"]
    r = subprocess.run(
        [*cmd, "optimize", "--budget", "1", "--budget-share", "0.2", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "error: --budget-share: give a budget" in r.stderr
    r = subprocess.run(
        [*cmd, "assign", "--gap", "-1"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 2 and "error: --gap: must be a number >= 0" in r.stderr
    p = tmp_path / "s.toml"
    p.write_text('command = "assign"\n\n[assignment]\ngap = -1\n')
    from optimizer.jobs.scenario import load_scenario

    with pytest.raises(FileFormatError, match=r"line 4: field 'assignment.gap': must be"):
        load_scenario(p)


def test_tables_of_the_other_command_are_refused():
    with pytest.raises(FileFormatError, match=r"unknown key in \[assignment\] for command"):
        scenario_from_dict({"command": "optimize", "assignment": {"gap": 1e-6}})
    with pytest.raises(FileFormatError, match="unknown key; known"):
        scenario_from_dict({"command": "assign", "optimize": {"budget": 1.0}})
    sc = scenario_from_dict({"command": "assign", "assignment": {"toll_factor": 0.1}})
    assert sc.job.assignment.toll_factor == 0.1 and sc.doc["network"]["source"] == "builtin"


def test_a_new_network_source_infers_its_kind_again():
    job = S.OptimizeJob()
    assert job.study.kind == "builtin"
    other = job.with_values(network="x_net.tntp")
    assert other.study.kind == "file" and other.study.network == "x_net.tntp"
    with pytest.raises(OptionError, match="does not match"):
        S.StudySettings(kind="builtin", network="x_net.tntp")
    with pytest.raises(OptionError, match="needs a 'query' key"):
        S.StudySettings(kind="place")
