"""The DNDP suite: Rey's (2020) discrete network design instances on Sioux Falls.

Rey, D. (2020). "Computational benchmarking of exact methods for the bilevel discrete
network design problem". Transportation Research Procedia 47: 11-18. Ten instances of ten
candidate links each (``$ROADOPT_DATA_DIR/dndp/SiouxFalls/SF_DNDP_10_<k>.txt``) with the
standard Sioux Falls demand; budgets of 25, 50 and 75 % of the total candidate cost; the
objective is the total system travel time (TSTT) at user equilibrium. His exact methods
(with CPLEX) close most ten-candidate cases within 600 s; on his twenty-candidate
instances they stop at 2-8 % gaps.

For every case the runner calls :func:`optimizer.search.optimize` (``method="bnb"``, the
default ``rgap`` of 1e-8, a time limit per case) and reports the objective against the
published best value, the proven lower bound and gap, the equilibrium solves, the time and
where it went (:class:`benchmarks.design.TimeSplit`), and the greedy baseline. With
``verify`` it also scores every feasible plan (``method="enumerate"``) and checks that
both agree.

**Larger instances.** The data hold no twenty-candidate files, so twenty-candidate
instances are built by merging the candidate links of two ten-candidate files on the same
base network (:func:`merge_instances`; identical links are kept once). The default pairs
(:data:`LARGE_PAIRS`) share no candidate link, so each has exactly twenty; consecutive
pairs such as 10_1+10_2 share 4-6 of their links and would give 14-16.

:func:`run` writes ``dndp.json`` (everything) and ``dndp.md`` (tables) atomically.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from networks import Demand, Network, datasets
from networks.network import CandidateLinks
from networks.tntp import read_net, read_trips
from optimizer import _kernels as K
from optimizer.candidates import CandidateSet, from_instance
from optimizer.search import optimize

from . import measure
from .assignment import (
    DEFAULT_OUT,
    NOISY_LOAD,
    _finite,
    _fmt_load,
    _fmt_s,
    _quiet,
    write_result,
)
from .design import AGREE_RTOL, TimeSplit, agreement, plan_record, warmup_search

__all__ = [
    "BUDGETS",
    "LARGE_PAIRS",
    "NO_BUILD_TSTT",
    "PUBLISHED",
    "RATIO_TARGET",
    "instance_path",
    "load_instance",
    "merge_instances",
    "run",
    "summary_markdown",
]

log = logging.getLogger(__name__)

#: Rey (2020), best published TSTT / 1000 for budgets of 25, 50 and 75 % of all candidates.
PUBLISHED: dict[str, tuple[float, float, float]] = {
    "10_1": (6227.9, 5680.2, 5294.0),
    "10_2": (6509.7, 5756.8, 5088.5),
    "10_3": (6287.8, 5448.4, 5087.8),
    "10_4": (6059.4, 5626.4, 5504.4),
    "10_5": (5900.9, 5359.0, 5111.8),
    "10_6": (5823.6, 5152.0, 4810.4),
    "10_7": (5900.9, 5650.4, 5593.9),
    "10_8": (5900.9, 5366.5, 5189.5),
    "10_9": (6335.5, 5377.4, 4952.0),
    "10_10": (6349.7, 5505.2, 5180.8),
}
BUDGETS: tuple[float, ...] = (0.25, 0.5, 0.75)
#: TSTT / 1000 of Sioux Falls without any candidate (Rey 2020).
NO_BUILD_TSTT = 7480.2
#: Our objective / published must not exceed this (the published values carry one decimal).
RATIO_TARGET = 1.0005
#: Seconds per ten-candidate case (Rey's runs took up to 600 s).
TIME_LIMIT = 60.0
#: Seconds per twenty-candidate case in a full run (Rey's limit).
LARGE_TIME_LIMIT = 600.0
#: Pairs merged into twenty-candidate instances: pairwise disjoint candidate links.
LARGE_PAIRS: tuple[tuple[str, str], ...] = (
    ("10_1", "10_5"),
    ("10_2", "10_7"),
    ("10_3", "10_8"),
    ("10_4", "10_10"),
    ("10_1", "10_7"),
)
#: Instances whose three budgets are checked by complete enumeration unless ``verify="all"``.
VERIFY_SOME: tuple[str, ...] = ("10_1", "10_6")
#: With ``verify="all"`` the merged instances are enumerated at these budgets too (about
#: 14,500 feasible plans at 25 %; 527,000 at 50 %).
LARGE_VERIFY_SHARES: tuple[float, ...] = (0.25,)
#: Rey's exact methods stop at these gaps on twenty candidates after 600 s (field notes).
REY_LARGE_GAPS = "2-8 %"

SMOKE_INSTANCE = "10_1"
SMOKE_BUDGET = 0.25
SMOKE_LARGE_TIME_LIMIT = 3.0


# ---------------------------------------------------------------------- instances
def _data_root() -> Path:
    d = datasets.data_dir()
    if d is None:
        guess = Path(__file__).resolve().parents[2] / "shared" / "data"
        d = guess if guess.is_dir() else None
    if d is None or not (d / "dndp" / "SiouxFalls").is_dir():
        raise FileNotFoundError(
            "the DNDP instances were not found: set ROADOPT_DATA_DIR to the shared data folder "
            "(it holds dndp/SiouxFalls/SF_DNDP_10_*.txt and tntp/SiouxFalls/)"
        )
    return d


def _key(name: str) -> str:
    """``"10_1"``, ``"SF_DNDP_10_1"``, ``"10-1"`` -> ``"10_1"``."""
    k = name.strip().replace("-", "_")
    k = k.removeprefix("SF_DNDP_").removeprefix("sf_dndp_").removesuffix(".txt")
    if k not in PUBLISHED:
        raise KeyError(f"no DNDP instance {name!r}; instances: {', '.join(PUBLISHED)}")
    return k


def instance_path(name: str) -> Path:
    """The file of a ten-candidate instance (``"10_3"``)."""
    return _data_root() / "dndp" / "SiouxFalls" / f"SF_DNDP_{_key(name)}.txt"


def _demand() -> Demand:
    return read_trips(_data_root() / "tntp" / "SiouxFalls" / "SiouxFalls_trips.tntp")


def load_instance(name: str) -> tuple[Network, CandidateSet]:
    """The base network (no candidates) and the candidate set of a ten-candidate instance."""
    net = read_net(instance_path(name))
    return net.replace(candidates=None, validate=False), from_instance(net)


_FIELDS = (
    "init",
    "term",
    "free_flow_time",
    "capacity",
    "alpha",
    "beta",
    "length",
    "toll",
    "speed",
    "link_type",
    "cost",
)


def _same_link(a: CandidateLinks, i: int, b: CandidateLinks, j: int) -> bool:
    """Same ends, free-flow time, BPR parameters and cost; capacities within 0.01 % (the
    files round them differently: 8601.72 and 8601.7)."""
    if a.init[i] != b.init[j] or a.term[i] != b.term[j]:
        return False
    for f in ("free_flow_time", "alpha", "beta", "cost"):
        if not np.isclose(getattr(a, f)[i], getattr(b, f)[j], rtol=1e-9, atol=0.0):
            return False
    return bool(np.isclose(a.capacity[i], b.capacity[j], rtol=1e-4, atol=0.0))


def merge_instances(first: Network, second: Network, *, name: str | None = None) -> Network:
    """``first`` with the candidate links of both instances (``second``'s duplicates dropped).

    Both must share the base network (same nodes and existing links). The merged
    candidates are renumbered after the existing links, so that every candidate id stays
    unique; ``network.extra["candidate_sources"]`` says where each came from.
    """
    a, b = first.candidates, second.candidates
    if a is None or b is None:
        raise ValueError("both networks must be network-design instances (with candidates)")
    if (
        first.num_links != second.num_links
        or not np.array_equal(first.node_ids, second.node_ids)
        or not np.array_equal(first.init, second.init)
        or not np.array_equal(first.term, second.term)
    ):
        raise ValueError("the two instances are not on the same base network")
    keep = [
        j
        for j in range(b.num_candidates)
        if not any(_same_link(a, i, b, j) for i in range(len(a)))
    ]
    arrays = {f: np.concatenate([getattr(a, f), getattr(b, f)[keep]]) for f in _FIELDS}
    k = len(arrays["init"])
    m0 = first.num_links
    arrays["link_ids"] = np.arange(m0 + 1, m0 + 1 + k, dtype=np.int64)
    sources = [f"{first.name} row {int(r)}" for r in a.link_ids] + [
        f"{second.name} row {int(b.link_ids[j])}" for j in keep
    ]
    return first.replace(
        candidates=CandidateLinks(**arrays),
        name=name or f"{first.name}+{second.name}",
        extra={**first.extra, "candidate_sources": sources},
    )


def load_merged(pair: Sequence[str]) -> tuple[Network, CandidateSet, list[str]]:
    """Base network, merged candidate set and the source of each candidate for a pair."""
    one, two = (read_net(instance_path(p)) for p in pair)
    merged = merge_instances(one, two, name="+".join(_key(p) for p in pair))
    return (
        merged.replace(candidates=None, validate=False),
        from_instance(merged),
        list(merged.extra["candidate_sources"]),
    )


def parse_pair(text: str) -> tuple[str, str]:
    """``"10_1+10_5"`` -> ``("10_1", "10_5")``."""
    parts = [p for p in text.replace(" ", "").split("+") if p]
    if len(parts) != 2:
        raise ValueError(f"a pair is two instances joined by '+', such as 10_1+10_5: {text!r}")
    return _key(parts[0]), _key(parts[1])


# ---------------------------------------------------------------------- one case
def _solve(
    base: Network,
    demand: Demand,
    cs: CandidateSet,
    *,
    share: float,
    method: str,
    time_limit: float | None,
    rgap: float,
    baseline: bool,
) -> dict[str, Any]:
    with measure.OtherLoad() as load, TimeSplit() as split:
        t0 = time.perf_counter()
        plan = optimize(
            base,
            demand,
            cs,
            budget_share=share,
            method=method,
            rgap=rgap,
            time_limit=time_limit,
            baseline=baseline,
        )
        wall = time.perf_counter() - t0
    rec = plan_record(plan, scale=1000.0)
    rec.update(
        method=method,
        wall_seconds=wall,
        time_split=split.as_dict(wall),
        other_load_cores=load.cores,
        plan=np.flatnonzero(plan.plan).tolist(),
    )
    return rec


def _case(
    label: str,
    base: Network,
    demand: Demand,
    cs: CandidateSet,
    *,
    share: float,
    published: float | None,
    time_limit: float,
    rgap: float,
    enumerate_too: bool,
    retries: int,
    wait_idle: float,
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "instance": label,
        "budget_share": share,
        "candidates": len(cs),
        "total_cost": cs.total_cost,
        "time_limit": time_limit,
        "rgap": rgap,
        "published": published,
    }
    bnb = _quiet(
        lambda: _solve(
            base,
            demand,
            cs,
            share=share,
            method="bnb",
            time_limit=time_limit,
            rgap=rgap,
            baseline=True,
        ),
        label=f"{label} {share:.0%} bnb",
        retries=retries,
        wait_idle=wait_idle,
    )
    rec["bnb"] = bnb
    rec["ratio"] = bnb["objective"] / published if published else None
    g = bnb["greedy"]
    rec["greedy_vs_bnb"] = agreement(g["objective"], bnb["objective"]) if g else None
    log.info(
        "%s %3.0f%%: %.1f (published %s, ratio %s), bound %s, %s, %d UE + %d SO solves, "
        "%.2f s (search %.2f s); greedy %.1f",
        label,
        100 * share,
        bnb["objective"],
        "-" if published is None else f"{published:.1f}",
        "-" if published is None else f"{rec['ratio']:.6f}",
        "-" if bnb["lower_bound"] is None else f"{bnb['lower_bound']:.1f}",
        bnb["status"],
        bnb["ue_solves"],
        bnb["so_solves"],
        bnb["seconds"],
        bnb["search_seconds"] or 0.0,
        g["objective"] if g else math.nan,
    )
    if enumerate_too:
        enum = _solve(
            base,
            demand,
            cs,
            share=share,
            method="enumerate",
            time_limit=None,
            rgap=rgap,
            baseline=False,
        )
        enum.pop("history", None)
        rec["enumeration"] = enum
        rec["enumeration_vs_bnb"] = {
            **agreement(bnb["objective"], enum["objective"]),
            "same_plan": sorted(bnb["selected"]) == sorted(enum["selected"]),
        }
        log.info(
            "%s %3.0f%%: enumeration %.1f (%s), %d plans scored, %.2f s",
            label,
            100 * share,
            enum["objective"],
            "agrees" if rec["enumeration_vs_bnb"]["agree"] else "DISAGREES",
            enum["ue_solves"],
            enum["seconds"],
        )
    return rec


# ---------------------------------------------------------------------- the suite
def run(
    instances: Sequence[str] | None = None,
    *,
    budgets: Sequence[float] | None = None,
    time_limit: float | None = None,
    rgap: float = 1e-8,
    verify: str | bool | None = None,
    large: bool = True,
    small: bool = True,
    pairs: Sequence[Sequence[str]] | None = None,
    large_time_limit: float | None = None,
    smoke: bool = False,
    out: str | Path | None = None,
    wait_idle: float = 0.0,
    retries: int = 0,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run the DNDP suite; write ``dndp.json`` and ``dndp.md`` into ``out``.

    Parameters
    ----------
    instances
        Ten-candidate instances (``"10_1"`` ...; default all ten; smoke: ``10_1``).
    budgets
        Budget shares (default 0.25, 0.5, 0.75; smoke: 0.25).
    time_limit
        Seconds per ten-candidate case (default 60).
    rgap
        Relative gap of every equilibrium (the optimizer's default, 1e-8).
    verify
        Complete enumeration too: ``"all"`` (or True) for every ten-candidate case and the
        merged instances at the budgets of :data:`LARGE_VERIFY_SHARES`, ``"some"`` (default)
        for the instances of :data:`VERIFY_SOME` (smoke: its one case), ``"none"``.
    small
        Run the ten-candidate cases (default); False runs only the merged instances.
    large, pairs, large_time_limit
        The merged twenty-candidate instances (default :data:`LARGE_PAIRS`, 600 s each;
        smoke: the first pair at the first budget, 3 s).
    smoke
        One case of each kind, small limits.
    out
        Output folder (default ``benchmarks/results``).
    wait_idle, retries
        For shared machines, as in the assignment suite.
    threads
        numba threads (default: all cores).
    """
    names = [_key(n) for n in instances] if instances else None
    if names is None:
        names = [SMOKE_INSTANCE] if smoke else list(PUBLISHED)
    shares = list(budgets) if budgets else ([SMOKE_BUDGET] if smoke else list(BUDGETS))
    time_limit = time_limit if time_limit is not None else TIME_LIMIT
    if verify is None:
        verify = "some"
    verify = {True: "all", False: "none"}.get(verify, verify)  # type: ignore[call-overload]
    if verify not in ("all", "some", "none"):
        raise ValueError(f"verify must be 'all', 'some' or 'none', not {verify!r}")
    pair_list = [tuple(_key(p) for p in pr) for pr in (pairs or LARGE_PAIRS)]
    if smoke and not pairs:
        pair_list = pair_list[:1]
    large_shares = shares[:1] if smoke else shares
    large_time_limit = (
        large_time_limit
        if large_time_limit is not None
        else (SMOKE_LARGE_TIME_LIMIT if smoke else LARGE_TIME_LIMIT)
    )
    out_dir = Path(out) if out is not None else DEFAULT_OUT
    if threads is not None:
        K.set_threads(threads)
    warm_s = warmup_search()
    demand = _demand()
    created = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    load_start = measure.load_average()
    commit_start = measure.git_commit()
    t_start = time.perf_counter()

    records: list[dict[str, Any]] = []
    for name in names if small else []:
        base, cs = load_instance(name)
        check = verify == "all" or (verify == "some" and (smoke or name in VERIFY_SOME))
        for share in shares:
            published = _published(name, share)
            try:
                rec = _case(
                    name,
                    base,
                    demand,
                    cs,
                    share=share,
                    published=published,
                    time_limit=time_limit,
                    rgap=rgap,
                    enumerate_too=check,
                    retries=retries,
                    wait_idle=wait_idle,
                )
            except Exception as exc:  # a benchmark run reports failures and goes on
                log.exception("DNDP %s %.0f%% failed", name, 100 * share)
                rec = {
                    "instance": name,
                    "budget_share": share,
                    "error": f"{type(exc).__name__}: {exc}",
                }
            records.append(rec)

    large_records: list[dict[str, Any]] = []
    if large:
        for pair in pair_list:
            base, cs, sources = load_merged(pair)
            label = "+".join(pair)
            for share in large_shares:
                try:
                    rec = _case(
                        label,
                        base,
                        demand,
                        cs,
                        share=share,
                        published=None,
                        time_limit=large_time_limit,
                        rgap=rgap,
                        enumerate_too=verify == "all"
                        and any(math.isclose(share, v) for v in LARGE_VERIFY_SHARES),
                        retries=0,  # a 600 s case is not redone
                        wait_idle=wait_idle,
                    )
                    rec["candidate_sources"] = sources
                except Exception as exc:
                    log.exception("DNDP %s %.0f%% failed", label, 100 * share)
                    rec = {
                        "instance": label,
                        "budget_share": share,
                        "error": f"{type(exc).__name__}: {exc}",
                    }
                large_records.append(rec)

    result = {
        "schema": 1,
        "suite": "dndp",
        "created": created,
        "settings": {
            "instances": names if small else [],
            "budgets": shares,
            "time_limit": time_limit,
            "rgap": rgap,
            "verify": verify,
            "large": large,
            "pairs": ["+".join(p) for p in pair_list] if large else [],
            "large_budgets": large_shares if large else [],
            "large_time_limit": large_time_limit,
            "smoke": smoke,
            "wait_idle": wait_idle,
            "retries": retries,
            "warmup_seconds": warm_s,
            "ratio_target": RATIO_TARGET,
            "agree_rtol": AGREE_RTOL,
        },
        "machine": measure.machine_info(load_average_start=load_start, commit_start=commit_start),
        "cases": records,
        "large": large_records,
        "seconds": time.perf_counter() - t_start,
    }
    result["targets"] = check_targets(result)
    result = _finite(result)
    write_result(out_dir, result, "dndp.json", "dndp.md", summary_markdown)
    return result


def _published(name: str, share: float) -> float | None:
    for s, v in zip(BUDGETS, PUBLISHED[name], strict=True):
        if math.isclose(s, share):
            return v
    return None


# ---------------------------------------------------------------------- targets
def check_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, checked on this run."""
    tl = result["settings"]["time_limit"]
    cases = [c for c in result["cases"] if "error" not in c]
    errors = [c for c in result["cases"] if "error" in c]
    rows: list[dict[str, Any]] = []
    pub = [c for c in cases if c.get("published")]
    if not pub and not errors:
        if result["settings"]["instances"]:
            rows.append({"id": "dndp-published", "text": "published values", "status": "not run"})
    else:
        worst = max(pub, key=lambda c: c["ratio"]) if pub else None
        bad = [c for c in pub if c["ratio"] > RATIO_TARGET]
        slow = [c for c in pub if c["bnb"]["seconds"] > tl or c["bnb"]["status"] != "optimal"]
        rows.append(
            {
                "id": "dndp-published",
                "text": f"every ten-candidate case within {RATIO_TARGET} of Rey's best published "
                f"TSTT ({len(pub)} cases run)",
                "value": worst["ratio"] if worst else None,
                "where": _where(worst) if worst else None,
                "status": "met" if not bad and not errors else "missed",
                "failing": [_where(c) for c in bad] + [_where(c) for c in errors],
            }
        )
        slowest = max(pub, key=lambda c: c["bnb"]["seconds"]) if pub else None
        rows.append(
            {
                "id": "dndp-time",
                "text": f"every ten-candidate case proven optimal within {tl:g} s",
                "value": slowest["bnb"]["seconds"] if slowest else None,
                "where": _where(slowest) if slowest else None,
                "status": "met" if not slow and not errors else "missed",
                "failing": [_where(c) for c in slow],
            }
        )
    large_ok = [c for c in result.get("large", []) if "error" not in c]
    checked = [c for c in cases + large_ok if "enumeration_vs_bnb" in c]
    if checked:
        bad = [c for c in checked if not c["enumeration_vs_bnb"]["agree"]]
        worst = max(checked, key=lambda c: abs(c["enumeration_vs_bnb"]["relative_difference"]))
        rows.append(
            {
                "id": "dndp-enumeration",
                "text": f"bnb agrees with complete enumeration (relative {AGREE_RTOL:g}; "
                f"{len(checked)} cases)",
                "value": worst["enumeration_vs_bnb"]["relative_difference"],
                "where": _where(worst),
                "status": "met" if not bad else "missed",
                "failing": [_where(c) for c in bad],
            }
        )
    large = [c for c in result.get("large", []) if "error" not in c]
    if large:
        closed = [c for c in large if c["bnb"]["status"] == "optimal"]
        gaps = [c["bnb"]["gap"] for c in large if c["bnb"]["gap"] is not None]
        rows.append(
            {
                "id": "dndp-large",
                "text": "twenty-candidate instances closed within "
                f"{result['settings']['large_time_limit']:g} s (Rey: {REY_LARGE_GAPS} gaps "
                "after 600 s)",
                "value": max(gaps) if gaps else None,
                "status": f"{len(closed)} of {len(large)} closed",
                "open": [_where(c) for c in large if c["bnb"]["status"] != "optimal"],
            }
        )
    elif result["settings"].get("large"):
        rows.append(
            {"id": "dndp-large", "text": "twenty-candidate instances", "status": "not run"}
        )
    return rows


def _where(c: dict[str, Any]) -> str:
    return f"{c['instance']} {100 * c['budget_share']:.0f}%"


# ---------------------------------------------------------------------- Markdown
def _f1(v: float | None) -> str:
    return "" if v is None else f"{v:,.1f}"


def _gap(v: float | None) -> str:
    if v is None:
        return ""
    return "0" if v == 0 else (f"{100 * v:.2f} %" if v >= 1e-4 else f"{v:.1e}")


def _split(rec: dict[str, Any]) -> str:
    s = rec.get("time_split", {}).get("seconds", {})
    tot = rec.get("wall_seconds") or 0.0
    if not s or tot <= 0:
        return ""
    parts = [(k, s.get(k, 0.0)) for k in ("ue", "so", "polish", "master", "other")]
    return " / ".join(f"{100 * v / tot:.0f}" for _, v in parts)


def _enum_cell(c: dict[str, Any]) -> str:
    e = c.get("enumeration")
    if not e:
        return "–"
    ok = c["enumeration_vs_bnb"]
    return (
        f"{'agrees' if ok['agree'] else '**differs**'}: {e['objective']:,.1f}, "
        f"{e['ue_solves']} plans, {_fmt_s(e['seconds'])}"
    )


def summary_markdown(result: dict[str, Any]) -> str:
    """The report's tables as Markdown."""
    st = result["settings"]
    mach = result["machine"]
    lines = [
        "# Network design benchmarks: Rey (2020) DNDP on Sioux Falls",
        "",
        f"Run {result['created']}{' (smoke mode)' if st['smoke'] else ''} on {mach['cpu']} "
        f"({mach['cpus_usable']} usable cores), numba threads {mach['numba_threads']}, "
        f"roadopt {mach['versions'].get('roadopt')} ({mach.get('git_commit')}); "
        f"{result['seconds']:.0f} s in all.",
        "",
        *_load_lines(result),
        '`optimize(method="bnb")` on each instance and budget (share of the total candidate '
        f"cost), equilibria to rgap {st['rgap']:g}, time limit {st['time_limit']:g} s per case. "
        "TSTT in thousands (vehicle-minutes / 1000, as Rey). *ratio*: ours / published (target "
        f"≤ {RATIO_TARGET}). *bound*: the proven lower bound; *gap*: (objective − bound) / "
        "objective. *UE / SO*: equilibrium solves of plans (including the greedy baseline's "
        "and the two final re-solves) / system-optimum solves of bounds. *time*: the whole "
        "`optimize` call (search, greedy baseline, re-solves); *search*: the branch and bound "
        "alone. *split %*: UE / SO / final re-solves / CP-SAT master / other. *greedy*: the "
        "benefit-per-cost baseline (`plan.baseline`). *enumeration*: every feasible plan "
        'scored (`method="enumerate"`): its objective, plans scored and time.',
        "",
        "| instance | budget | TSTT/1000 | published | ratio | bound | gap | status | UE / SO "
        "| time | search | split % | greedy | enumeration | others' load |",
        "|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|---|--:|",
    ]
    for c in result["cases"]:
        if "error" in c:
            lines.append(
                f"| {c['instance']} | {c['budget_share']:.0%} | error: {c['error']} |" + " |" * 12
            )
            continue
        b = c["bnb"]
        enum = _enum_cell(c)
        ratio = c["ratio"]
        r = "" if ratio is None else f"{ratio:.5f}"
        if ratio is not None and ratio > RATIO_TARGET:
            r = f"**{r}**"
        lines.append(
            f"| {c['instance']} | {c['budget_share']:.0%} | {b['objective']:,.1f} | "
            f"{_f1(c['published'])} | {r} | {_f1(b['lower_bound'])} | {_gap(b['gap'])} | "
            f"{b['status']} | {b['ue_solves']} / {b['so_solves']} | {_fmt_s(b['seconds'])} | "
            f"{_fmt_s(b['search_seconds'])} | {_split(b)} | "
            f"{_f1((b['greedy'] or {}).get('objective'))} | {enum} | "
            f"{_fmt_load(b.get('other_load_cores'))} |"
        )
    if result.get("large") or st.get("large"):
        lines += [
            "",
            "## Twenty-candidate instances (two ten-candidate files merged)",
            "",
            f"Time limit {st['large_time_limit']:g} s per case (Rey's exact methods stop at "
            f"{REY_LARGE_GAPS} gaps after 600 s on his twenty-candidate instances). *incumbent "
            "at*: when the search first held its final plan's value.",
            "",
            "| instances | candidates | budget | TSTT/1000 | bound | gap | status | UE / SO | "
            "time | search | incumbent at | split % | greedy | enumeration | others' load |",
            "|---|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|---|--:|",
        ]
        for c in result.get("large", []):
            if "error" in c:
                lines.append(
                    f"| {c['instance']} | | {c['budget_share']:.0%} | error: {c['error']} |"
                    + " |" * 11
                )
                continue
            b = c["bnb"]
            lines.append(
                f"| {c['instance']} | {c['candidates']} | {c['budget_share']:.0%} | "
                f"{b['objective']:,.1f} | {_f1(b['lower_bound'])} | {_gap(b['gap'])} | "
                f"{b['status']} | {b['ue_solves']} / {b['so_solves']} | {_fmt_s(b['seconds'])} | "
                f"{_fmt_s(b['search_seconds'])} | {_fmt_s(b['time_to_incumbent'])} | {_split(b)} | "
                f"{_f1((b['greedy'] or {}).get('objective'))} | {_enum_cell(c)} | "
                f"{_fmt_load(b.get('other_load_cores'))} |"
            )
    lines += ["", "## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    for t in result.get("targets", []):
        lines.append(f"| {t['text']} | {measured_text(t)} | **{t['status']}** |")
    return "\n".join(lines) + "\n"


def measured_text(t: dict[str, Any]) -> str:
    """What a target row measured, in words."""
    v = t.get("value")
    if v is None:
        meas = ""
    elif t["id"] == "dndp-published":
        meas = f"worst ratio {v:.5f} ({t.get('where')})"
    elif t["id"] == "dndp-time":
        meas = f"slowest {_fmt_s(v)} ({t.get('where')})"
    elif t["id"] == "dndp-enumeration":
        meas = f"largest difference {v:+.1e} ({t.get('where')})"
    else:
        meas = f"largest gap {_gap(v)}"
    extra = t.get("failing") or t.get("open")
    if extra:
        meas += "; " + ("failing" if "failing" in t else "open") + ": " + ", ".join(extra)
    return meas


def _load_lines(result: dict[str, Any]) -> list[str]:
    noisy = []
    for c in [*result["cases"], *result.get("large", [])]:
        for key in ("bnb", "enumeration"):
            m = c.get(key) or {}
            v = m.get("other_load_cores")
            if v is not None and v > NOISY_LOAD:
                noisy.append(f"{_where(c)} {key} ({v:.2f} cores)")
    mach = result["machine"]
    start, end = mach.get("load_average_start"), mach.get("load_average")
    text = ""
    if start and end:
        text = f"Load average (1 min) {start[0]:.2f} at the start, {end[0]:.2f} at the end. "
    if noisy:
        text += (
            "**Other processes kept the cores busy during: "
            + ", ".join(noisy)
            + ". Those times are inflated.**"
        )
    else:
        text += (
            f"Other processes used at most {NOISY_LOAD} cores during every case (*others' load*)."
        )
    return [text, ""]
