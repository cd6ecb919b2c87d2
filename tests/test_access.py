"""Access to the trunk network: figures by hand, the access objective, require-access.

A six-node network small enough to compute every figure on paper::

    A(1) --5-- 3 --10-- 5(junction) --1-- 6(gateway)
               |3       |20
    B(2) --4-- 4 -------+

Settlement A (100 persons) reaches the junction in 5 + 10 = 15 min, B (300 persons) in
4 + 3 + 10 = 17 min (its own road 4-5 takes 4 + 20 = 24). With an expressway target of
14 min and the default penalty P = 2 (each minute beyond counts three times):

* A: 15 + 2 x 1 = 17, B: 17 + 2 x 3 = 23; access = (100 x 17 + 300 x 23) / 400 = 21.5;
  worst 23, excess 3 min, 400 persons beyond;
* Hansen (beta 0.1/min, A-B 5 + 3 + 4 = 12 min): (100 x 300 + 300 x 100) e^-1.2 / 400.

Candidates (10 each): ``fast`` makes 4-5 take 8 min (B: 12, within; A unchanged):
access (1,700 + 300 x 12) / 400 = 13.25; ``new`` builds 1-5 in 6 min (A: 6; B stays 17):
(600 + 6,900) / 400 = 18.75. Both: (600 + 3,600) / 400 = 10.5.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from networks import Network
from networks.demand import Demand
from networks.errors import OptionError
from optimizer.access import access_targets
from optimizer.candidates import Candidate, CandidateSet, extend_network
from optimizer.results import Status
from optimizer.search import optimize

POP = np.array([100.0, 300.0])
TARGET = {"expressway": 14.0}
ROADS = [(1, 3, 5.0), (3, 5, 10.0), (2, 4, 4.0), (4, 5, 20.0), (3, 4, 3.0), (5, 6, 1.0)]


def _network(gateway_class: str | None = None) -> Network:
    init, term, fft = [], [], []
    for a, b, t in ROADS:
        init += [a, b]
        term += [b, a]
        fft += [t, t]
    extra = {"access_points": {"node_ids": [5], "kind": ["expressway"], "name": ["J"]}}
    return Network.from_links(
        init,
        term,
        free_flow_time=fft,
        capacity=1e9,  # no congestion: equilibrium times are the free-flow times
        length=1.0,
        node_ids=[1, 2, 3, 4, 5, 6],
        name="access-test",
        extra=extra,
    )


def _demand() -> Demand:
    m = np.array([[0, 5.0, 5.0], [5.0, 0, 5.0], [5.0, 5.0, 0]])
    return Demand(
        zone_ids=np.array([1, 2, 3]),
        zone_node_ids=np.array([1, 2, 6]),
        matrix=m,
        internal=np.array([True, True, False]),
    )


def _candidates(net: Network, fast_cost: float = 10.0) -> CandidateSet:
    a, e = net.node_index(1), net.node_index(5)
    ext = extend_network(
        net,
        {"init": [a, e], "term": [e, a], "free_flow_time": [6.0, 6.0], "capacity": [1e9, 1e9]},
    )
    ids = net.node_ids
    road45 = np.flatnonzero(np.isin(ids[net.init], [4, 5]) & np.isin(ids[net.term], [4, 5]))
    m0 = net.num_links
    return CandidateSet(
        ext,
        m0,
        (
            Candidate(
                "fast", "upgrade", fast_cost, road45, set={"free_flow_time": np.full(2, 8.0)}
            ),
            Candidate("new", "new_link", 10.0, np.array([m0, m0 + 1])),
        ),
        cost_unit="kCNY",
    )


def _optimize(budget: float, fast_cost: float = 10.0, **kw):
    net = _network()
    kw.setdefault("access_targets", TARGET)
    return optimize(
        net,
        _demand(),
        _candidates(net, fast_cost),
        budget=budget,
        objective="access",
        activity=POP,
        settlement_names=["A", "B"],
        rgap=1e-10,
        baseline=False,
        **kw,
    )


def test_figures_before_any_upgrade_match_the_hand_computation():
    plan = _optimize(0.0)
    m = plan.metrics_before
    assert plan.objective_before == pytest.approx(21.5, rel=1e-7)
    assert m["access"] == pytest.approx(21.5, rel=1e-7)
    assert m["access_worst"] == pytest.approx(23.0, rel=1e-7)
    assert m["access_excess"] == pytest.approx(3.0, rel=1e-6)
    assert m["access_expressway"] == pytest.approx((100 * 15 + 300 * 17) / 400, rel=1e-7)
    assert m["worst_expressway"] == pytest.approx(17.0, rel=1e-7)
    assert m["beyond_expressway"] == m["beyond_target"] == 400.0
    assert m["hansen"] == pytest.approx(150.0 * math.exp(-1.2), rel=1e-6)


def test_access_objective_picks_the_better_candidate_and_reports_each_settlement():
    plan = _optimize(10.0)
    assert plan.status == Status.OPTIMAL and plan.selected == ("fast",)
    assert plan.objective == pytest.approx(13.25, rel=1e-7)
    assert plan.lower_bound is not None and plan.lower_bound <= plan.objective + 1e-9
    rows = {r["name"]: r for r in plan.settlements}
    assert rows["A"]["population"] == 100.0
    assert rows["A"]["expressway_min_before"] == pytest.approx(15.0, rel=1e-7)
    assert rows["A"]["expressway_min_after"] == pytest.approx(15.0, rel=1e-7)
    assert rows["B"]["expressway_min_before"] == pytest.approx(17.0, rel=1e-7)
    assert rows["B"]["expressway_min_after"] == pytest.approx(12.0, rel=1e-7)
    assert not rows["A"]["within_target"] and rows["B"]["within_target"]
    assert not rows["B"]["within_target_before"]
    assert plan.metrics_after["beyond_expressway"] == 100.0
    # enumeration agrees
    full = _optimize(10.0, method="enumerate")
    assert full.selected == plan.selected and full.objective == pytest.approx(plan.objective)


def test_equity_weight_adds_the_worst_settlement():
    plan = _optimize(10.0, weights={"equity": 1.0})
    # fast: 13.25 + A's 17; new: 18.75 + B's 23
    assert plan.selected == ("fast",) and plan.objective == pytest.approx(30.25, rel=1e-7)


def test_penalty_zero_is_the_plain_weighted_time():
    plan = _optimize(20.0, access_penalty=0.0)
    assert plan.objective_before == pytest.approx((100 * 15 + 300 * 17) / 400, rel=1e-7)
    assert plan.objective == pytest.approx((100 * 6 + 300 * 12) / 400, rel=1e-7)


def test_require_access_infeasible_names_the_worst_settlement_and_the_least_budget():
    plan = _optimize(10.0, require_access=True)
    assert plan.status == Status.INFEASIBLE and plan.selected == ()
    msg = plan.message
    # each upgrade fits the budget and both together would meet the target, but not both
    assert "cost more together than the budget" in msg
    assert "upgrades costing 20 kCNY (fast, new) would meet every target" in msg


def test_require_access_names_the_settlement_left_beyond_with_every_affordable_upgrade():
    plan = _optimize(10.0, fast_cost=30.0, require_access=True)
    assert plan.status == Status.INFEASIBLE
    # only "new" is affordable: B stays at 17 min, 3 beyond; both (40 kCNY) would do
    assert "B stays 3.0 min beyond its expressway target (14 min)" in plan.message
    assert "upgrades costing 40 kCNY (fast, new) would meet every target" in plan.message


def test_require_access_with_the_budget_meets_every_target():
    plan = _optimize(20.0, require_access=True)
    assert plan.status == Status.OPTIMAL and set(plan.selected) == {"fast", "new"}
    assert all(r["within_target"] for r in plan.settlements)
    assert plan.metrics_after["access_excess"] <= 0
    assert plan.objective == pytest.approx(10.5, rel=1e-7)


def test_require_access_with_targets_out_of_reach_gives_the_remaining_excess():
    plan = _optimize(20.0, require_access=True, access_targets={"expressway": 5.0})
    assert plan.status == Status.INFEASIBLE
    # with both built A needs 6 min and B 12: 7 min beyond a 5-minute target
    assert "worst remaining excess 7.0 min" in plan.message


# ---------------------------------------------------------------------- fallbacks
def test_a_class_without_access_points_falls_back_to_gateways_on_its_roads(caplog):
    t = access_targets(
        np.array([4]),
        np.array(["expressway"], dtype=object),
        np.array([5, 6]),
        population=POP,
        targets={"expressway": 30, "trunk": 15},
        gateway_classes=["trunk", "residential"],
    )
    assert t.kinds == ("expressway", "trunk")
    # trunk: the trunk gateway and the expressway junction (a higher class serves it too)
    assert t.nodes[1].tolist() == [4, 5]
    assert "no trunk access point in the area" in t.notes[0]
    assert "no trunk access point" in caplog.text


def test_a_class_with_nothing_to_reach_is_measured_to_higher_classes_or_left_out():
    t = access_targets(
        np.array([4]),
        np.array(["expressway"], dtype=object),
        np.zeros(0, dtype=np.int64),
        population=POP,
        targets={"trunk": 15},
    )
    assert t.nodes[0].tolist() == [4] and "of higher classes" in t.notes[0]
    only_primary = access_targets(
        np.array([4]),
        np.array(["primary"], dtype=object),
        np.zeros(0, dtype=np.int64),
        population=POP,
        targets={"expressway": 30, "primary": 15},
    )
    assert only_primary.kinds == ("primary",) and "is left out" in only_primary.notes[0]
    with pytest.raises(OptionError, match="no access point to the trunk network"):
        access_targets(
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=object),
            np.zeros(0, dtype=np.int64),
            population=POP,
        )


@pytest.mark.parametrize(
    ("targets", "match"),
    [
        ({"motorway": 30}, "unknown access class 'motorway'"),
        ({"expressway": -1}, "must be minutes > 0"),
        ({"expressway": "soon"}, "is not a number"),
    ],
)
def test_bad_targets_are_named(targets, match):
    with pytest.raises(OptionError, match=match):
        _optimize(10.0, access_targets=targets)
