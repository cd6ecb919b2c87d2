"""The bilevel search: published DNDP optima, enumeration agreement, Braess, rules, errors."""

from __future__ import annotations

import numpy as np
import pytest

from networks import Demand, Network, datasets
from networks.synthetic import braess, grid
from networks.tntp import read_trips
from optimizer.candidates import Candidate, CandidateSet, extend_network, from_instance
from optimizer.errors import InfeasibleBudgetError, InvalidCandidatesError, UsageError
from optimizer.results import Status
from optimizer.search import optimize

# Rey (2020), best published TSTT / 1000 for budgets of 25, 50 and 75 % of all candidates
PUBLISHED = {
    "10_1": (6227.9, 5680.2, 5294.0),
    "10_2": (6509.7, 5756.8, 5088.5),
    "10_6": (5823.6, 5152.0, 4810.4),
}


@pytest.fixture(scope="module")
def sioux_demand(data_dir):
    return read_trips(data_dir / "tntp" / "SiouxFalls" / "SiouxFalls_trips.tntp")


def _instance(data_dir, name):
    net, _ = datasets.load(data_dir / "dndp" / "SiouxFalls" / f"SF_DNDP_{name}.txt")
    return net.replace(candidates=None, validate=False), from_instance(net)


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_dndp_cases_are_matched_or_beaten_and_proven(data_dir, sioux_demand, name):
    base, cs = _instance(data_dir, name)
    for share, published in zip((0.25, 0.5, 0.75), PUBLISHED[name], strict=True):
        plan = optimize(base, sioux_demand, cs, budget_share=share, baseline=False)
        assert plan.status == Status.OPTIMAL
        assert plan.objective / 1000 <= published * 1.0005
        assert plan.cost <= plan.budget and cs.is_feasible(plan.plan, plan.budget)
        assert plan.lower_bound is not None and plan.lower_bound <= plan.objective
        assert plan.gap <= 1e-6
        assert plan.objective_before / 1000 == pytest.approx(7480.2, abs=0.05)


def test_branch_and_bound_agrees_with_complete_enumeration(data_dir, sioux_demand):
    base, cs = _instance(data_dir, "10_3")
    bnb = optimize(base, sioux_demand, cs, budget_share=0.5, baseline=True)
    full = optimize(base, sioux_demand, cs, budget_share=0.5, method="enumerate", baseline=False)
    assert full.status == Status.OPTIMAL
    assert bnb.objective == pytest.approx(full.objective, rel=2e-6)
    # bnb scores far fewer plans than enumeration
    assert bnb.settings["ue_solves"] < full.settings["ue_solves"]
    # the greedy baseline is reported and is never better than the optimum
    assert bnb.baseline["objective"] >= bnb.objective * (1 - 1e-6)


def _braess_candidates():
    """The middle link of Braess's network as a candidate: building it makes TSTT worse."""
    base, dem = braess(with_middle=False)
    full, _ = braess(with_middle=True)
    mid = int(np.flatnonzero((full.node_ids[full.init] == 3) & (full.node_ids[full.term] == 4))[0])
    ext = extend_network(
        base,
        {
            "init": [full.init[mid]],
            "term": [full.term[mid]],
            "free_flow_time": [full.free_flow_time[mid]],
            "capacity": [full.capacity[mid]],
            "alpha": [full.alpha[mid]],
            "beta": [full.beta[mid]],
            "length": [100.0],
        },
    )
    cs = CandidateSet(
        ext, base.num_links, (Candidate("middle", "new_link", 1.0, np.array([base.num_links])),)
    )
    return base, dem, cs


def test_braess_link_is_not_built_even_when_affordable():
    base, dem, cs = _braess_candidates()
    plan = optimize(base, dem, cs, budget=10.0, rgap=1e-10)
    assert plan.selected == () and plan.status == Status.OPTIMAL
    assert plan.objective == pytest.approx(6 * 83, rel=1e-6)
    assert plan.baseline["selected"] == []
    # forcing it in (a user constraint) shows the paradox: the equilibrium gets worse
    forced = optimize(
        base,
        dem,
        cs,
        budget=10.0,
        rgap=1e-10,
        constraints=lambda model, y: model.Add(y["middle"] == 1),
    )
    assert forced.selected == ("middle",)
    assert forced.objective == pytest.approx(6 * 92, rel=1e-6)
    assert forced.objective > plan.objective


def _grid_candidates():
    net, dem = grid(4, 4, trips_per_zone=2500, seed=1)
    ids = net.node_ids
    # new diagonal 1 -> 16 (corner to corner), widen options on two links, a prerequisite
    a, b = net.node_index(1), net.node_index(16)
    ext = extend_network(
        net,
        {
            "init": [a, b],
            "term": [b, a],
            "free_flow_time": [2.0, 2.0],
            "capacity": [3000.0, 3000.0],
            "length": [2.1, 2.1],
        },
    )
    m0 = net.num_links
    l0 = int(np.flatnonzero((ids[net.init] == 1) & (ids[net.term] == 2))[0])
    cands = (
        Candidate("diag", "new_link", 50.0, np.array([m0, m0 + 1])),
        Candidate(
            "w1", "widen", 10.0, np.array([l0]), scale={"capacity": np.array([1.5])}, group="w"
        ),
        Candidate(
            "w2", "widen", 18.0, np.array([l0]), scale={"capacity": np.array([2.0])}, group="w"
        ),
        Candidate(
            "diag+",
            "widen",
            5.0,
            np.array([m0]),
            scale={"capacity": np.array([2.0])},
            requires=("diag",),
        ),
    )
    return net, dem, CandidateSet(ext, m0, cands)


def test_exclusive_groups_and_prerequisites_hold_in_every_method():
    net, dem, cs = _grid_candidates()
    for method in ("bnb", "enumerate", "greedy"):
        plan = optimize(net, dem, cs, budget=100.0, method=method, baseline=False)
        chosen = set(plan.selected)
        assert not {"w1", "w2"} <= chosen
        assert "diag+" not in chosen or "diag" in chosen
        assert plan.cost <= 100.0
    bnb = optimize(net, dem, cs, budget=100.0, baseline=False)
    full = optimize(net, dem, cs, budget=100.0, method="enumerate", baseline=False)
    assert bnb.objective == pytest.approx(full.objective, rel=1e-6)


def test_applying_a_plan_changes_the_network_as_described():
    net, _, cs = _grid_candidates()
    ext, closed = cs.apply(cs.as_plan(["diag", "w2", "diag+"]))
    m0 = cs.num_base_links
    assert not closed[m0] and not closed[m0 + 1] and closed.sum() == 0
    l0 = int(cs.candidates[2].links[0])
    assert ext.capacity[l0] == pytest.approx(2 * net.capacity[l0])
    assert ext.capacity[m0] == pytest.approx(6000.0)
    _, closed = cs.apply(cs.as_plan([]))
    assert closed[m0] and closed[m0 + 1]


def test_budget_below_cheapest_option_returns_the_empty_plan():
    net, dem, cs = _grid_candidates()
    plan = optimize(net, dem, cs, budget=1.0)
    assert plan.selected == () and "below the cheapest option" in plan.message
    assert plan.objective == plan.objective_before


def test_bad_input_fails_before_solving():
    net, dem, cs = _grid_candidates()
    with pytest.raises(UsageError, match="give a budget"):
        optimize(net, dem, cs)
    with pytest.raises(InfeasibleBudgetError, match="must be a number >= 0"):
        optimize(net, dem, cs, budget=-5)
    with pytest.raises(UsageError, match="unknown objective"):
        optimize(net, dem, cs, budget=10, objective="happiness")
    with pytest.raises(UsageError, match="need gateways"):
        optimize(net, dem, cs, budget=10, objective="connectivity")
    with pytest.raises(InvalidCandidatesError, match="cost -1"):
        CandidateSet(
            cs.network,
            cs.num_base_links,
            (Candidate("x", "widen", -1.0, np.array([0]), scale={"capacity": np.array([1.2])}),),
        )
    with pytest.raises(InvalidCandidatesError, match="may not reduce capacity"):
        CandidateSet(
            cs.network,
            cs.num_base_links,
            (Candidate("x", "widen", 1.0, np.array([0]), scale={"capacity": np.array([0.5])}),),
        )
    with pytest.raises(InvalidCandidatesError, match="contradictory"):
        CandidateSet(
            cs.network,
            cs.num_base_links,
            (
                Candidate(
                    "a",
                    "widen",
                    1.0,
                    np.array([0]),
                    scale={"capacity": np.array([1.2])},
                    group="g",
                    requires=("b",),
                ),
                Candidate(
                    "b",
                    "widen",
                    1.0,
                    np.array([1]),
                    scale={"capacity": np.array([1.2])},
                    group="g",
                ),
            ),
        )
    with pytest.raises(InvalidCandidatesError, match="add requires"):
        CandidateSet(
            cs.network,
            cs.num_base_links,
            (
                cs.candidates[0],
                Candidate(
                    "z",
                    "widen",
                    1.0,
                    np.array([cs.num_base_links]),
                    scale={"capacity": np.array([1.2])},
                ),
            ),
        )


def test_connectivity_objective_with_gateways():
    net, dem = grid(5, 5, trips_per_zone=800, seed=2)
    # make the two last zones gateways
    internal = np.ones(dem.num_zones, dtype=bool)
    internal[-2:] = False
    dem = Demand(
        zone_ids=dem.zone_ids,
        zone_node_ids=dem.zone_node_ids,
        matrix=dem.matrix,
        internal=internal,
        period=dem.period,
    )
    a, b = net.node_index(1), net.node_index(25)
    ext = extend_network(
        net,
        {
            "init": [a, b],
            "term": [b, a],
            "free_flow_time": [1.0, 1.0],
            "capacity": [2000.0, 2000.0],
            "length": [1.0, 1.0],
        },
    )
    m0 = net.num_links
    cs = CandidateSet(
        ext,
        m0,
        (
            Candidate("shortcut", "new_link", 10.0, np.array([m0, m0 + 1])),
            *(
                Candidate(
                    f"fast{k}",
                    "upgrade",
                    3.0,
                    np.array([k]),
                    set={"free_flow_time": np.array([net.free_flow_time[k] / 2])},
                )
                for k in range(0, 8)
            ),
        ),
    )
    bnb = optimize(
        net,
        dem,
        cs,
        budget=15.0,
        objective="connectivity",
        weights={"internal": 0.3, "external": 0.7},
    )
    full = optimize(
        net,
        dem,
        cs,
        budget=15.0,
        objective="connectivity",
        weights={"internal": 0.3, "external": 0.7},
        method="enumerate",
        baseline=False,
    )
    assert bnb.status == Status.OPTIMAL
    assert bnb.objective == pytest.approx(full.objective, rel=1e-6)
    m = bnb.metrics_after
    assert bnb.objective == pytest.approx(0.3 * m["internal"] + 0.7 * m["external"])
    assert bnb.objective <= bnb.objective_before
    assert 0.0 <= m["resilience"] <= 1.0


def test_min_resilience_is_a_constraint():
    # a chain town: zone 1 reaches the gateway 3 through one road only
    net = Network.from_links([1, 2, 2, 3], [2, 1, 3, 2], free_flow_time=1.0, capacity=100.0)
    dem = Demand(
        zone_ids=[1, 2, 3],
        zone_node_ids=[1, 2, 3],
        matrix=[[0, 5, 5], [5, 0, 5], [5, 5, 0]],
        internal=[True, True, False],
    )
    i1, i3 = net.node_index(1), net.node_index(3)
    ext = extend_network(
        net,
        {
            "init": [i1, i3],
            "term": [i3, i1],
            "free_flow_time": [3.0, 3.0],
            "capacity": [100.0, 100.0],
        },
    )
    cs = CandidateSet(
        ext,
        net.num_links,
        (Candidate("bypass", "new_link", 5.0, np.array([net.num_links, net.num_links + 1])),),
    )
    plain = optimize(net, dem, cs, budget=10.0)
    assert plain.selected == ()  # the bypass is slower: no time benefit
    safe = optimize(net, dem, cs, budget=10.0, min_resilience=1.0)
    assert safe.selected == ("bypass",) and safe.metrics_after["resilience"] == 1.0
    assert plain.metrics_after["resilience"] == 0.0
    # well-formed but without a solution: a status and a message that says by how much
    tight = optimize(net, dem, cs, budget=1.0, min_resilience=0.75)
    assert tight.status == Status.INFEASIBLE and tight.selected == () and tight.cost == 0
    assert "no plan within the budget meets min_resilience 0.75" in tight.message
    assert "at most 0 (short by 0.75)" in tight.message
    assert tight.lower_bound is None and tight.gap is None
    assert tight.summary()["objective"] is None and tight.summary()["status"] == "infeasible"


def test_the_search_reports_the_time_per_equilibrium():
    net, dem, cs = _grid_candidates()
    plan = optimize(net, dem, cs, budget=100.0, method="bnb", rgap=1e-8, baseline=False)
    st = plan.settings
    assert st["ue_solves"] + st["so_solves"] == plan.evaluations > 0
    spent = st["ue_seconds"] + st["so_seconds"]
    assert 0 < spent <= plan.seconds
    assert st["seconds_per_equilibrium"] == pytest.approx(spent / plan.evaluations)
    assert plan.summary()["seconds_per_equilibrium"] == pytest.approx(spent / plan.evaluations)


def test_equilibria_start_from_the_nearest_plan_kept(monkeypatch):
    from optimizer import search
    from optimizer.problem import DesignProblem

    _, dem, cs = _grid_candidates()
    pb = DesignProblem.build(cs, dem, objective="tstt", budget=100.0)
    ev = search._Evaluator(pb, 1e-8, "bush")
    plans = {
        "none": np.array([0, 0, 0, 0], dtype=bool),
        "diag": np.array([1, 0, 0, 0], dtype=bool),
        "w2": np.array([0, 0, 1, 0], dtype=bool),
    }
    results = {k: ev._ue(p) for k, p in plans.items()}
    # diag with its widening is one candidate from "diag", two from the others
    near = ev._nearest_warm(np.array([1, 0, 0, 1], dtype=bool))
    assert near is results["diag"]
    assert ev._nearest_warm(np.array([0, 1, 0, 0], dtype=bool)) is results["none"]
    assert ev._nearest_warm(np.array([1, 0, 1, 0], dtype=bool)) is results["w2"]  # tie: latest
    # warm or cold, the same equilibrium
    both = np.array([1, 0, 0, 1], dtype=bool)
    warm = ev._ue(both)
    net_b, closed_b = cs.apply(both)
    cold = search.assign(net_b, dem, rgap=1e-8, closed_links=closed_b)
    assert warm.tstt == pytest.approx(cold.tstt, rel=1e-7)
    # the pool stays within its memory: with room for one, only the latest is kept
    monkeypatch.setattr(search, "WARM_BYTES", 1)
    ev._ue(plans["none"])
    assert len(ev.warm_pool) == 1 and ev._nearest_warm(plans["w2"]) is ev.warm
