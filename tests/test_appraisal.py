"""The money appraisal: figures against a hand computation, its settings, its warning.

The network of the hand computation has two separate roads with flow-independent link
times, so every equilibrium is the shortest path and each figure can be worked out on
paper:

* road 1 -> 2, 30 min, 100 veh/h; upgrade ``A`` (cost 500) makes it 20 min;
* road 3 -> 4, 15 min, 60 veh/h; new link ``B`` (cost 200) beside it takes 10 min.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from networks import Demand, Network
from networks.errors import FileFormatError
from networks.network import OSM_UNITS, Units
from networks.roads import PROFILES
from networks.sources import Study
from optimizer.appraisal import (
    DISCOUNT_RATE,
    VALUES_OF_TIME,
    WAGE_PER_HOUR,
    Appraisal,
    appraise,
)
from optimizer.candidates import Candidate, CandidateSet, extend_network
from optimizer.errors import OptionError
from optimizer.jobs import pipeline
from optimizer.jobs.cli import build_parser, print_plan_summary, settings_of
from optimizer.jobs.documents import plan_document
from optimizer.jobs.outputs import write_plan_outputs
from optimizer.jobs.scenario import scenario_from_dict
from optimizer.jobs.settings import AppraisalSettings, OptimizeJob, StudySettings
from optimizer.problem import DesignProblem

WARNING = "the plan costs more than it saves at these values"

# the hand computation (money in thousand CNY)
TSTT_BEFORE = 100 * 30 + 60 * 15  # 3900 veh-min per hour
TSTT_AFTER = 100 * 20 + 60 * 10  # 2600 veh-min per hour
VOT = 0.75 * 20 + 0.25 * 80  # 35 CNY per vehicle-hour
ANNUAL = 1300 / 60 * VOT * 600 / 1000  # 455 thousand CNY a year
ANNUITY = 9.818147407449294  # (1 - 1.08 ** -20) / 0.08
D20 = 0.21454820740405647  # 1.08 ** -20
RESIDUAL = 500 * (1 - 20 / 30) + 200 * (1 - 20 / 40)  # 266.667: lives 30 (upgrade), 40 (new)


def _two_roads() -> tuple[Network, Demand, CandidateSet]:
    net = Network.from_links(
        [1, 3],
        [2, 4],
        node_ids=[1, 2, 3, 4],
        free_flow_time=[30.0, 15.0],
        capacity=1000.0,
        alpha=0.0,  # flow-independent times
        beta=1.0,
        length=1.0,
        units=dataclasses.replace(OSM_UNITS),
        name="two roads",
    )
    trips = np.zeros((4, 4))
    trips[0, 1], trips[2, 3] = 100.0, 60.0
    dem = Demand(
        zone_ids=np.arange(1, 5),
        zone_node_ids=np.arange(1, 5),
        matrix=trips,
        internal=np.ones(4, dtype=bool),
        name="two roads",
    )
    ext = extend_network(
        net,
        {
            "init": [net.node_index(3)],
            "term": [net.node_index(4)],
            "free_flow_time": [10.0],
            "capacity": [1000.0],
            "alpha": [0.0],
            "beta": [1.0],
            "length": [1.0],
        },
    )
    m0 = net.num_links
    cands = (
        Candidate("A", "upgrade", 500.0, np.array([0]), set={"free_flow_time": np.array([20.0])}),
        Candidate("B", "new_link", 200.0, np.array([m0])),
    )
    return net, dem, CandidateSet(ext, m0, cands, cost_unit="thousand CNY")


HAND = Appraisal(
    value_of_time_by_class={"car": 20.0, "goods": 80.0},
    class_shares={"car": 0.75, "goods": 0.25},
    annualisation="periods",
    periods_per_year=600.0,
)


@pytest.fixture(scope="module")
def hand_run() -> pipeline.PlanRun:
    net, dem, cs = _two_roads()
    return pipeline.plan_study(
        Study(net, dem, source="two roads"),
        candidates=cs,
        budget=700.0,
        objective="tstt",
        rgap=1e-10,
        appraisal=HAND,
    )


@pytest.fixture(scope="module")
def poor_run() -> pipeline.PlanRun:
    """The same plan at a value of time of 1 CNY per vehicle-hour: BCR below 1."""
    net, dem, cs = _two_roads()
    return pipeline.plan_study(
        Study(net, dem, source="two roads"),
        candidates=cs,
        budget=700.0,
        objective="tstt",
        rgap=1e-10,
        appraisal=dataclasses.replace(HAND, value_of_time=1.0),
    )


# ---------------------------------------------------------------------- the figures
def test_the_plan_figures_match_the_hand_computation(hand_run):
    plan = hand_run.plan
    assert plan.selected == ("A", "B") and plan.cost == 700.0
    app = plan.appraisal
    assert app["tstt_saved"] == pytest.approx(1300.0)  # 3900 - 2600 veh-min per hour
    assert app["value_of_time"] == pytest.approx(35.0)
    assert app["annual_vehicle_hours_saved"] == pytest.approx(13000.0)  # 1300 / 60 x 600
    assert app["annual_benefit"] == pytest.approx(455.0)  # x 35 CNY / 1000
    assert app["present_value_time_savings"] == pytest.approx(4467.2571, abs=1e-3)
    assert app["residual_value_at_end"] == pytest.approx(266.6667, abs=1e-3)
    assert app["present_value_residual"] == pytest.approx(57.2129, abs=1e-3)  # x 1.08^-20
    assert app["present_value_benefits"] == pytest.approx(4524.4699, abs=1e-3)
    assert app["present_value_costs"] == pytest.approx(700.0)
    assert app["net_present_value"] == pytest.approx(3824.4699, abs=1e-3)
    assert app["benefit_cost_ratio"] == pytest.approx(6.463528, abs=1e-5)
    assert app["first_year_rate_of_return"] == pytest.approx(0.65)  # 455 / 700
    # the constants above say the same
    assert (TSTT_BEFORE, TSTT_AFTER, VOT, ANNUAL) == (3900, 2600, 35.0, pytest.approx(455.0))
    assert ANNUAL * ANNUITY + RESIDUAL * D20 == pytest.approx(app["present_value_benefits"])
    # every parameter used, the discount rate as a fraction
    assert app["discount_rate"] == 0.08 and app["years"] == 20
    assert app["periods_per_year"] == 600.0 and app["annualisation"] == "periods"
    assert app["class_shares"] == {"car": 0.75, "goods": 0.25}
    assert app["currency"] == "CNY" and app["money_unit"] == "thousand CNY"
    assert app["service_life"] == {"new_link": 40.0, "widen": 30.0, "upgrade": 30.0}
    assert app["warning"] is None and app["preferred"] == "plan"


def test_each_upgrade_is_valued_by_leaving_it_out(hand_run):
    a, b = hand_run.plan.selected_details
    # A: 100 veh x 10 min = 1000 veh-min -> 350 a year; residual 500 x (1 - 20/30)
    assert a["tstt_saved"] == pytest.approx(1000.0)
    assert a["annual_benefit"] == pytest.approx(350.0)
    assert a["present_value_benefits"] == pytest.approx(3472.1096, abs=1e-3)
    assert a["net_present_value"] == pytest.approx(2972.1096, abs=1e-3)
    assert a["benefit_cost_ratio"] == pytest.approx(6.944219, abs=1e-5)
    assert a["first_year_rate_of_return"] == pytest.approx(0.7)
    # B: 60 veh x 5 min = 300 veh-min -> 105 a year; residual 200 x (1 - 20/40)
    assert b["tstt_saved"] == pytest.approx(300.0)
    assert b["annual_benefit"] == pytest.approx(105.0)
    assert b["present_value_benefits"] == pytest.approx(1052.3603, abs=1e-3)
    assert b["net_present_value"] == pytest.approx(852.3603, abs=1e-3)
    assert b["benefit_cost_ratio"] == pytest.approx(5.261801, abs=1e-5)
    assert b["first_year_rate_of_return"] == pytest.approx(0.525)
    assert (a["service_life"], b["service_life"]) == (30.0, 40.0)


def test_the_comparison_with_doing_nothing(hand_run):
    app = hand_run.plan.appraisal
    nothing, plan = app["do_nothing"], app["with_plan"]
    assert nothing["tstt"] == pytest.approx(3900.0) and plan["tstt"] == pytest.approx(2600.0)
    # 3900 / 60 x 600 = 39000 vehicle-hours a year, x 35 CNY = 1365 thousand CNY
    assert nothing["annual_vehicle_hours"] == pytest.approx(39000.0)
    assert nothing["annual_time_cost"] == pytest.approx(1365.0)
    assert plan["annual_vehicle_hours"] == pytest.approx(26000.0)
    assert plan["annual_time_cost"] == pytest.approx(910.0)
    assert (nothing["cost"], nothing["net_present_value"]) == (0.0, 0.0)
    assert plan["cost"] == 700.0 and plan["net_present_value"] == app["net_present_value"]
    assert nothing["annual_time_cost"] - plan["annual_time_cost"] == pytest.approx(455.0)


def _problem() -> DesignProblem:
    net, dem, cs = _two_roads()
    return DesignProblem.build(cs, dem, network=net, budget=700.0, objective="tstt")


def _tstt(plan: np.ndarray) -> tuple[float, dict[str, float]]:
    """The hand-computed TSTT of any plan of the two roads."""
    t = 100 * (20 if plan[0] else 30) + 60 * (10 if plan[1] else 15)
    return float(t), {"tstt": float(t)}


def test_construction_years_discount_the_costs_and_delay_the_benefits():
    pb = _problem()
    both = np.array([True, True])
    app = dataclasses.replace(HAND, construction_years=2)
    _, row = appraise(pb, both, _tstt(pb.empty())[1], _tstt(both)[1], 2600.0, app, _tstt)
    # costs 350 now and 350 in a year: 350 + 350 / 1.08
    assert row["present_value_costs"] == pytest.approx(674.0741, abs=1e-3)
    # benefits in years 3..22: 455 x A(8 %, 20) / 1.08^2; residual at year 22
    assert row["present_value_time_savings"] == pytest.approx(3829.9529, abs=1e-3)
    assert row["present_value_residual"] == pytest.approx(49.0508, abs=1e-3)
    assert row["net_present_value"] == pytest.approx(3204.9296, abs=1e-3)
    assert row["benefit_cost_ratio"] == pytest.approx(5.754566, abs=1e-5)
    assert row["first_year_rate_of_return"] == pytest.approx(0.65)  # undiscounted
    # no residual value, no discounting: 20 years of 455 against 700
    flat = dataclasses.replace(HAND, discount_rate=0.0, residual_value=False)
    _, row = appraise(pb, both, _tstt(pb.empty())[1], _tstt(both)[1], 2600.0, flat, _tstt)
    assert row["present_value_benefits"] == pytest.approx(20 * 455.0)
    assert row["benefit_cost_ratio"] == pytest.approx(20 * 455.0 / 700.0)


def test_a_prerequisite_is_left_out_with_what_requires_it():
    net, dem, cs = _two_roads()
    a, b = cs.candidates
    cs = dataclasses.replace(cs, candidates=(a, dataclasses.replace(b, requires=("A",))))
    pb = DesignProblem.build(cs, dem, network=net, budget=700.0, objective="tstt")
    both = np.array([True, True])
    details, _ = appraise(pb, both, _tstt(pb.empty())[1], _tstt(both)[1], 2600.0, HAND, _tstt)
    # leaving A out leaves B out too: both savings against both costs
    assert details[0]["left_out_with"] == ["B"]
    assert details[0]["tstt_saved"] == pytest.approx(1300.0)
    assert details[0]["first_year_rate_of_return"] == pytest.approx(0.65)
    assert "left_out_with" not in details[1]


def test_a_network_time_unit_in_hundredths_of_an_hour_needs_its_hours():
    net, dem, cs = _two_roads()
    cs = dataclasses.replace(cs, network=cs.network.replace(units=Units()))  # "file units"
    pb = DesignProblem.build(cs, dem, network=net, budget=700.0, objective="tstt")
    both = np.array([True, True])
    details, row = appraise(pb, both, _tstt(pb.empty())[1], _tstt(both)[1], 2600.0, HAND, _tstt)
    assert row["benefit_cost_ratio"] is None and row["net_present_value"] is None
    assert row["present_value_costs"] == 700.0 and details[0]["annual_benefit"] is None
    # the same times read as hundredths of an hour: 1300 x 0.01 h x 600 x 35 / 1000
    app = dataclasses.replace(HAND, time_unit_hours=0.01)
    _, row = appraise(pb, both, _tstt(pb.empty())[1], _tstt(both)[1], 2600.0, app, _tstt)
    assert row["annual_benefit"] == pytest.approx(273.0) and row["time_unit_hours"] == 0.01


def test_annualisation_by_periods_or_by_the_k_factor():
    assert Appraisal().periods == 500.0 and Appraisal().method == "periods"
    k = Appraisal(design_hour_factor=0.1)  # a design-hour demand: 365 days / K
    assert k.method == "k-factor" and k.periods == pytest.approx(3650.0)
    assert k.parameters()["design_hour_factor"] == 0.1
    assert Appraisal(design_hour_factor=0.1, annualisation="periods").periods == 500.0
    with pytest.raises(OptionError, match="k-factor needs a design-hour demand"):
        Appraisal(annualisation="k-factor")


def test_default_values_of_time_and_shares():
    assert WAGE_PER_HOUR == pytest.approx(60.349)  # 120,698 CNY / (250 days x 8 h)
    assert VALUES_OF_TIME == {"car": 27.16, "business": 90.52, "goods": 60.35}
    app = Appraisal()  # goods 10 % (the heavy share), business 15 % of the cars
    assert app.shares == pytest.approx({"car": 0.765, "business": 0.135, "goods": 0.1})
    assert app.mean_value_of_time == pytest.approx(0.765 * 27.16 + 0.135 * 90.52 + 0.1 * 60.35)
    assert Appraisal(heavy_share=0.3).shares["goods"] == 0.3
    assert Appraisal(value_of_time=40.0).mean_value_of_time == 40.0
    assert Appraisal(value_of_time=40.0).parameters()["class_shares"] is None


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"class_shares": {"car": 0.5, "goods": 0.2}}, "add up to 1"),
        ({"class_shares": {"car": 0.5, "bus": 0.5}}, "bus have no value of time"),
        ({"discount_rate": 8.0}, "fraction"),
        ({"years": 0}, "years >= 1"),
        ({"service_life": {"new_link": 0.0}}, "> 0"),
    ],
)
def test_bad_parameters_are_refused(kw, match):
    with pytest.raises(OptionError, match=match):
        Appraisal(**kw)


def test_money_units_must_agree():
    assert Appraisal().unit_of("thousand CNY") == ("thousand CNY", 1000.0)
    assert Appraisal(cost_unit="million CNY").unit_of("cost unit") == ("million CNY", 1e6)
    assert Appraisal(currency="EUR").unit_of("cost unit") == ("cost unit", 1.0)
    with pytest.raises(OptionError, match="currency: is 'EUR'"):
        Appraisal(currency="EUR").unit_of("thousand CNY")
    with pytest.raises(OptionError, match="cost_unit"):
        Appraisal(cost_unit="million CNY").unit_of("thousand CNY")


# ---------------------------------------------------------------------- the warning
def test_a_plan_below_one_is_flagged_in_summary_plan_and_report(poor_run, tmp_path, capsys):
    app = poor_run.plan.appraisal
    # 455 / 35 = 13 thousand CNY a year: PV 13 x 9.818 + 57.2 = 184.9 against 700
    assert app["benefit_cost_ratio"] == pytest.approx((13 * ANNUITY + RESIDUAL * D20) / 700)
    assert app["benefit_cost_ratio"] < 1 and app["preferred"] == "do nothing"
    assert app["warning"].startswith(WARNING)
    print_plan_summary(poor_run)
    out = capsys.readouterr().out
    assert "WARNING" in out and WARNING in out
    write_plan_outputs(poor_run, tmp_path, settings={"command": "optimize"})
    doc = json.loads((tmp_path / "plan.json").read_text())
    assert doc["warnings"] == [app["warning"]]
    assert doc["appraisal"]["warning"] == app["warning"]
    assert doc["appraisal"]["discount_rate"] == 0.08
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="warning"' in page and WARNING in page
    assert "Appraisal against doing nothing" in page
    # plan.csv stays a plain table: the warning is plan.json's, not a comment row
    assert "#" not in (tmp_path / "plan.csv").read_text()


def test_a_plan_worth_building_has_no_warning(hand_run, capsys):
    assert plan_document(hand_run)["warnings"] == []
    print_plan_summary(hand_run)
    out = capsys.readouterr().out
    assert "WARNING" not in out and "net present value" in out


# ---------------------------------------------------------------------- the settings
def test_appraisal_settings_from_the_command_line():
    args = build_parser().parse_args(
        [
            "optimize",
            "--value-of-time-by-class",
            "car=20,goods=80",
            "--class-shares",
            "car=0.75,goods=0.25",
            "--annualisation",
            "periods",
            "--periods-per-year",
            "600",
            "--years",
            "30",
            "--discount-rate",
            "0.06",
            "--construction-years",
            "2",
            "--no-residual-value",
            "--service-life",
            "new_link=50,widen=25",
            "--currency",
            "CNY",
            "--cost-unit",
            "thousand CNY",
            "--time-unit-hours",
            "0.01",
        ]
    )
    s = settings_of(args, AppraisalSettings)
    app = s.appraisal()
    assert app.values_of_time == {"car": 20.0, "goods": 80.0}
    assert app.mean_value_of_time == pytest.approx(35.0)
    assert (app.periods, app.years, app.discount_rate) == (600.0, 30, 0.06)
    assert (app.construction_years, app.residual_value) == (2, False)
    assert app.life("widen") == 25.0 and app.life("upgrade") == 25.0  # the shortest
    assert (app.cost_unit, app.time_unit_hours) == ("thousand CNY", 0.01)
    assert settings_of(build_parser().parse_args(["optimize", "--value-of-time", "40"]),
                       AppraisalSettings).appraisal().mean_value_of_time == 40.0  # fmt: skip


def test_appraisal_settings_from_a_scenario_file():
    sc = scenario_from_dict(
        {
            "appraisal": {
                "value_of_time": 45,
                "discount_rate": 0.06,
                "years": 25,
                "annualisation": "k-factor",
                "days_per_year": 300,
                "service_life": {"new_link": 50},
            }
        }
    )
    a = sc.job.appraisal
    assert (a.value_of_time, a.discount_rate, a.years) == (45.0, 0.06, 25)
    app = a.appraisal(design_hour_factor=0.12)
    assert app.periods == pytest.approx(300 / 0.12)
    # written out and read back
    assert sc.job.document()["appraisal"]["discount_rate"] == 0.06


@pytest.mark.parametrize(
    "doc, match",
    [
        ({"optimize": {"value_of_time": 40}}, r"has moved: write it as \[appraisal\]"),
        ({"appraisal": {"discount_rate": 8}}, r"appraisal.discount_rate.*fraction.*0.08"),
        ({"appraisal": {"annualisation": "weekly"}}, "choose one of"),
        ({"appraisal": {"class_shares": {"car": 0.2}}}, "add up to 1"),
    ],
)
def test_bad_appraisal_keys_in_a_scenario(doc, match):
    with pytest.raises(FileFormatError, match=match):
        scenario_from_dict(doc)


@pytest.mark.parametrize("profile", list(PROFILES))
def test_the_discount_rate_is_eight_percent_under_every_profile(profile):
    job = OptimizeJob(study=StudySettings(profile=profile))
    assert job.document()["appraisal"]["discount_rate"] == 0.08 == DISCOUNT_RATE
    assert job.appraisal.appraisal().discount_rate == 0.08


def test_the_job_passes_its_appraisal_with_what_the_study_knows(monkeypatch):
    net, dem, _ = _two_roads()
    study = Study(net, dem, source="two roads")
    seen = {}
    monkeypatch.setattr(pipeline, "plan_study", lambda study, **kw: seen.update(kw))
    job = OptimizeJob(
        study=StudySettings(heavy_share=0.2),
        appraisal=AppraisalSettings(years=30, discount_rate=0.07),
    )
    pipeline.run_optimize(job, study=study)
    app = seen["appraisal"]
    assert (app.years, app.discount_rate, app.heavy_share) == (30, 0.07, 0.2)
    assert app.design_hour_factor is None  # no design-hour demand here
    assert "value_of_time" not in seen  # no longer an optimize setting
