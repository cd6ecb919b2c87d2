"""Careless command lines: each gets one clear message, exit 2, and no output at all."""

from __future__ import annotations

import json

import numpy as np
import pytest

from optimizer.design import integer_costs
from optimizer.errors import OptionError
from optimizer.jobs.cli import main
from optimizer.problem import resolve_weights
from tests.conftest import sioux_falls_dndp_args


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget-share", "1.5"], "--budget-share: 1.5 is more than 1"),
        (["--budget-share", "0.5", "--weights", "internal=2"], "internal=2: internal and"),
        (
            ["--budget-share", "0.5", "--weights", "internal=0.6,external=0.6"],
            "sum to 1.2",
        ),
        (["--budget-share", "0.5", "--crs", "EPSG:99999"], "--crs: 'EPSG:99999' is not"),
    ],
)
def test_bad_options_are_refused_before_any_work(
    data_dir, tmp_path, monkeypatch, capsys, args, message
):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert main(["optimize", *sioux_falls_dndp_args(data_dir), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # no folder, no file


def test_info_with_a_bad_crs_is_an_error(capsys):
    assert main(["info", "builtin-town", "--crs", "foo"]) == 2
    captured = capsys.readouterr()
    assert "'foo' is not a coordinate reference system" in captured.err
    assert "crs       foo" not in captured.out


def test_one_share_weight_sets_the_other():
    w = resolve_weights({"internal": 0.7})
    assert w["internal"] == 0.7 and w["external"] == pytest.approx(0.3)
    assert resolve_weights({"external": 1.0})["internal"] == 0.0
    assert resolve_weights({"resilience": 10.0})["internal"] == 0.5  # not a share
    with pytest.raises(OptionError, match="shares of the objective"):
        resolve_weights({"external": 1.5})


def test_a_huge_budget_is_capped_at_the_total_cost():
    costs = np.array([750.0, 825.0, 900.0])
    ints, b, scale = integer_costs(costs, 1e20)
    assert b == sum(ints) and scale == 1.0
    ints, b, _ = integer_costs(costs, float("1e300"))
    assert b == sum(ints)
    ints, b, _ = integer_costs(costs, 1600.0)
    assert b == 1600  # below the total: unchanged


def test_optimize_with_a_huge_budget_runs(data_dir, tmp_path):
    out = tmp_path / "out"
    assert (
        main(["optimize", *sioux_falls_dndp_args(data_dir), "--budget", "1e20", "--out", str(out)])
        == 0
    )
    doc = json.loads((out / "plan.json").read_text())
    assert doc["status"] == "optimal" and doc["budget"] == 1e20


def _island_study():
    """Towns 1 and 3 on a road; zone 4 on an island no existing road reaches."""
    from networks.demand import Demand
    from networks.network import Network
    from networks.sources import Study

    net = Network.from_links(
        [1, 2, 2, 3, 4, 5],
        [2, 1, 3, 2, 5, 4],
        free_flow_time=[5.0, 5.0, 5.0, 5.0, 1.0, 1.0],
        capacity=100.0,
        length=1.0,
        node_ids=[1, 2, 3, 4, 5],
        name="island",
    )
    dem = Demand(
        zone_ids=[1, 3, 4],
        zone_node_ids=[1, 3, 4],
        matrix=np.array([[0, 60.0, 7.0], [40.0, 0, 0], [2.0, 0, 0]]),
        internal=True,
    )
    return Study(net, dem, source="hand-built")


def test_drop_disconnected_on_optimize_drops_only_the_unjoined_trips(caplog):
    from optimizer.candidates import Candidate, CandidateSet
    from optimizer.errors import DisconnectedDemandError
    from optimizer.jobs.pipeline import plan_study

    study = _island_study()
    net = study.network
    wider = np.flatnonzero(net.init < 3)  # the road 1 - 2 - 3
    cs = CandidateSet(
        net,
        net.num_links,
        (Candidate("wider", "upgrade", 5.0, wider, scale={"capacity": np.full(len(wider), 2.0)}),),
    )
    with pytest.raises(DisconnectedDemandError, match="drop-disconnected"):
        plan_study(study, candidates=cs, budget=10.0, objective="tstt")
    with caplog.at_level("WARNING"):
        run = plan_study(
            study, candidates=cs, budget=10.0, objective="tstt", on_disconnected="drop"
        )
    assert "dropped 2 OD pair(s) with 9 trips that no road joins" in caplog.text
    assert run.study.demand.total == pytest.approx(100.0)  # 60 + 40 kept
    assert run.study.meta["dropped_disconnected"] == {"pairs": 2, "trips": 9.0}
    assert run.plan.selected == ("wider",)


def test_drop_disconnected_is_an_optimize_option_and_a_scenario_key():
    from optimizer.jobs.cli import build_parser, settings_of
    from optimizer.jobs.scenario import scenario_from_dict
    from optimizer.jobs.settings import OptimizeSettings

    args = build_parser().parse_args(["optimize", "--drop-disconnected"])
    assert settings_of(args, OptimizeSettings).on_disconnected == "drop"
    sc = scenario_from_dict({"command": "optimize", "optimize": {"on_disconnected": "drop"}})
    assert sc.job.optimize.on_disconnected == "drop"


def test_workers_zero_is_refused(tmp_path, capsys):
    sweep = tmp_path / "s.toml"
    sweep.write_text('command = "assign"\n[sweep]\ndemand_scale = [1.0]\n')
    assert main(["batch", str(sweep), "--workers", "0"]) == 2
    assert "--workers: is 0; must be a number > 0" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
