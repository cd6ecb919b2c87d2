"""``report.html``: one self-contained page about a plan run.

The summary, the chosen upgrades, the before/after metrics, the greedy baseline, the
settings and the pictures (as data URIs), with inline CSS and no external resources: a
Content-Security-Policy forbids loading anything, so the page opens offline. Every text
is escaped; the whole plan document is embedded as a JSON block.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from ...appraisal import PARAMETERS
from ..documents import jsonable, plan_document, version
from ..format import fmt
from .text import bcr_note, finite, gap_text, pct_change

__all__ = ["render_html"]

# Human names of the plan metrics, and whether higher values are better.
_METRICS = {
    "tstt": ("total system travel time (TSTT)", False),
    "internal": ("internal connectivity (mean zone-to-zone time)", False),
    "external": ("external connectivity (mean time to the nearest gateway)", False),
    "resilience": ("resilience (share of activity with two disjoint routes out)", True),
    "unreachable": ("unreachable share", False),
    "access": (
        "access score (population-weighted minutes to the trunk network, with the "
        "penalty beyond targets)",
        False,
    ),
    "access_worst": ("worst settlement's access score", False),
    "access_excess": ("worst minutes beyond an access target (<= 0: all met)", False),
    "beyond_target": ("population beyond an access target", False),
    "hansen": ("Hansen accessibility to the other settlements (persons)", True),
    "objective_beckmann": ("Beckmann objective", False),
    "relative_gap": ("equilibrium relative gap", False),
}


def _e(v: Any) -> str:
    return escape(str(v), quote=True)


def _cap(text: str) -> str:
    """The text with its first letter upper case (a sentence of its own)."""
    return text[:1].upper() + text[1:]


def _table(
    head: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    cls: str = "",
    numeric: Sequence[int] = (),
) -> str:
    """An HTML table; every cell is escaped (cells are plain text).

    ``numeric``: positions of right-aligned columns.
    """
    c = f' class="{_e(cls)}"' if cls else ""
    num = set(numeric)

    def cell(tag: str, i: int, v: Any) -> str:
        a = ' class="n"' if i in num else ""
        return f"<{tag}{a}>{_e(v)}</{tag}>"

    out = [f"<table{c}><thead><tr>"]
    out += [cell("th", i, h) for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _settings_rows(d: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for k, v in d.items():
        if isinstance(v, (dict, list, tuple)):
            text = json.dumps(jsonable(v), ensure_ascii=False)
        elif isinstance(v, float):
            text = repr(v)
        else:
            text = "–" if v is None else str(v)
        rows.append((str(k), text))
    return rows


_CSS = """
:root{--ink:#1d2330;--muted:#5b6372;--line:#d9dde4;--accent:#1f4fd6;--good:#1b7f3b;--bad:#b3261e}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;
color:var(--ink);margin:0;background:#f6f7f9;line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:32px 0 10px;
border-bottom:2px solid var(--line);padding-bottom:4px}
.sub{color:var(--muted);margin:0 0 16px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:10px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card .k{color:var(--muted);font-size:.82em}.card .v{font-size:1.15em;font-weight:600}
.card .d{font-size:.85em}.good{color:var(--good)}.bad{color:var(--bad)}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:6px 0}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}td.n,th.n{text-align:right}
table.kv td:first-child{white-space:nowrap;color:var(--muted);width:1%}
td.n{font-variant-numeric:tabular-nums;white-space:nowrap}
figure{margin:10px 0}figure img{max-width:100%;height:auto;border:1px solid var(--line)}
figcaption{color:var(--muted);font-size:.85em}
.msg{background:#fff6e0;border:1px solid #f0d48a;border-radius:6px;padding:8px 12px}
.warn{background:#fdecea;border-color:#e8a39d;color:var(--bad);font-weight:600}
.bcr{border-width:2px;border-left-width:6px;font-size:1.05em}
footer{color:var(--muted);font-size:.8em;margin-top:36px}
code{font-size:.92em}
@media print{body{background:#fff}main{padding:0}}
"""


def _figure_html(id_: str, png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img id="{_e(id_)}" alt="{_e(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _upgrades_html(plan: Any, unit: str) -> str:
    if not plan.selected_details:
        msg = "No upgrade was chosen" + (f": {plan.message}" if plan.message else ".")
        return f"<p>{_e(msg)}</p>"
    rows = [
        (
            i + 1,
            d["id"],
            d.get("kind", ""),
            d.get("label", ""),
            fmt(d.get("cost")),
            fmt(d.get("tstt_saved")),
            fmt(d.get("objective_gain"), 4),
            fmt(d.get("annual_benefit")),
            fmt(d.get("net_present_value")),
            fmt(d.get("benefit_cost_ratio"), 3),
            fmt(d.get("first_year_rate_of_return"), 3),
        )
        for i, d in enumerate(plan.selected_details)
    ]
    head = (
        "#",
        "id",
        "kind",
        "description",
        f"cost ({unit})",
        "TSTT saved",
        "objective gain",
        f"annual benefit ({unit})",
        f"NPV ({unit})",
        "benefit/cost",
        "first-year return",
    )
    return _table(head, rows, cls="upgrades", numeric=(0, 4, 5, 6, 7, 8, 9, 10)) + (
        '<p class="sub">TSTT saved, objective gain and money terms of an upgrade: what the '
        "plan loses without it and the chosen upgrades that require it, against their cost "
        "(leave-one-out).</p>"
    )


def _metrics_html(b: Mapping[str, Any], a: Mapping[str, Any]) -> str:
    keys = [k for k in _METRICS if k in a or k in b]
    keys += [k for k in (*a, *b) if k not in _METRICS and k not in keys]
    rows = [
        (
            _METRICS.get(k, (k, False))[0],
            fmt(b.get(k)),
            fmt(a.get(k)),
            pct_change(b.get(k), a.get(k)),
        )
        for k in keys
    ]
    return _table(("metric", "before", "after", "change"), rows, numeric=(1, 2, 3))


def _settlements_html(plan: Any) -> str:
    """Each settlement's minutes to every access class before and after, against target."""
    rows_in = getattr(plan, "settlements", None) or []
    if not rows_in:
        return ""
    kinds = [k.removesuffix("_min_after") for k in rows_in[0] if k.endswith("_min_after")]
    head = ["settlement", "population"]
    for kind in kinds:
        head += [f"{kind} before (min)", f"{kind} after (min)", f"{kind} target (min)"]
    head.append("within every target")
    rows = []
    for r in sorted(rows_in, key=lambda r: -float(r["population"])):
        row = [r["name"], fmt(r["population"], 4)]
        for kind in kinds:
            row += [
                fmt(r.get(f"{kind}_min_before"), 3),
                fmt(r.get(f"{kind}_min_after"), 3),
                fmt(r.get(f"{kind}_target_min"), 3),
            ]
        before, after = r["within_target_before"], r["within_target"]
        was = "" if before == after else (" (was no)" if after else " (was yes)")
        row.append(("yes" if after else "no") + was)
        rows.append(row)
    numeric = tuple(range(1, 2 + 3 * len(kinds)))
    beyond = [r for r in rows_in if not r["within_target"]]
    note = (
        f"<p>{len(beyond)} of {len(rows_in)} settlements "
        f"({fmt(sum(float(r['population']) for r in beyond), 4)} people) stay beyond a "
        "target after the plan.</p>"
        if beyond
        else f"<p>All {len(rows_in)} settlements are within every target after the plan.</p>"
    )
    return note + _table(head, rows, cls="settlements", numeric=numeric)


#: Settlement pairs shown in the report's OD table (the most trips first); skims.csv has all.
OD_ROWS = 30


def _od_html(skims: Any) -> str:
    """Zone pairs (settlements by name) before and after: trips, congested time, distance."""
    import numpy as np

    m = skims.matrices
    names = [n or f"zone {int(z_id)}" for n, z_id in zip(skims.names, skims.zone_ids, strict=True)]
    z = len(names)
    i, j = np.meshgrid(np.arange(z), np.arange(z), indexing="ij")
    keep = (i != j) & (m["trips"] > 0)
    if not keep.any():
        return ""
    i, j = i[keep], j[keep]
    order = np.argsort(-m["trips"][i, j], kind="stable")[:OD_ROWS]
    t, d = skims.units["time"], skims.units["distance"]
    head = [
        "from",
        "to",
        "trips",
        f"time before ({t})",
        f"time after ({t})",
        f"saved ({t})",
        f"distance before ({d})",
        f"distance after ({d})",
    ]
    rows = []
    for k in order.tolist():
        a, b = int(i[k]), int(j[k])
        tb, ta = m["time_before"][a, b], m["time_after"][a, b]
        rows.append(
            [
                names[a],
                names[b],
                fmt(m["trips"][a, b], 3),
                fmt(tb, 3),
                fmt(ta, 3),
                fmt(tb - ta, 3) if np.isfinite(tb) and np.isfinite(ta) else "-",
                fmt(m["distance_before"][a, b], 3),
                fmt(m["distance_after"][a, b], 3),
            ]
        )
    note = (
        f"<p>The {len(rows)} zone pairs with the most trips of {int(keep.sum())}; "
        "times are the least congested times at each state's equilibrium, distances the "
        "lengths of those paths. All zone pairs are in skims.csv and skims.omx.</p>"
    )
    return note + _table(head, rows, cls="od", numeric=tuple(range(2, 8)))


def _baseline_html(plan: Any, unit: str) -> str:
    base = plan.baseline
    if not base:
        return "<p>No baseline was computed for this run.</p>"
    rows = [
        ("method", "optimized", base.get("method", "greedy")),
        (plan.objective_name, fmt(plan.objective), fmt(base.get("objective"))),
        (f"cost ({unit})", fmt(plan.cost), fmt(base.get("cost"))),
        (
            "upgrades",
            ", ".join(plan.selected) or "none",
            ", ".join(base.get("selected", [])) or "none",
        ),
        ("feasible", "yes", fmt(bool(base.get("feasible", True)))),
    ]
    out = _table(("", "this plan", "baseline"), rows, cls="kv")
    g = base.get("objective")
    if finite(g) and float(g) != 0:
        rel = (float(g) - plan.objective) / abs(float(g))
        if abs(rel) < 1e-9:
            text = "The optimized plan's objective equals the greedy baseline's."
        else:
            word = "lower (better)" if rel > 0 else "higher (worse)"
            text = (
                f"The optimized plan's objective is {100 * abs(rel):.2g} % {word} than the "
                "greedy baseline's."
            )
        out += f"<p>{_e(text)}</p>"
    return out


def _appraisal_html(app: Mapping[str, Any]) -> str:
    """The money terms against doing nothing, and every parameter they used."""
    if app.get("present_value_benefits") is None:
        return (
            f"<p>No money terms: the network's time unit ({_e(app.get('time_unit'))}) is not "
            "minutes, hours or seconds; set <code>appraisal.time_unit_hours</code>.</p>"
        )
    u = app.get("money_unit", "")
    note = bcr_note(app)
    head = f'<p class="msg warn bcr" id="bcr-note">{_e(_cap(note))}.</p>' if note else ""
    rows = [
        ("present value of the time savings", fmt(app.get("present_value_time_savings"))),
        ("present value of the residual value", fmt(app.get("present_value_residual"))),
        ("present value of the benefits", fmt(app.get("present_value_benefits"))),
        ("present value of the costs", fmt(app.get("present_value_costs"))),
        ("net present value (NPV)", fmt(app.get("net_present_value"))),
        ("benefit/cost ratio (BCR)", fmt(app.get("benefit_cost_ratio"), 3)),
        ("first-year rate of return", fmt(app.get("first_year_rate_of_return"), 3)),
    ]
    out = [head, _table(("", u), rows, cls="kv", numeric=(1,))]
    dn, wp = app.get("do_nothing") or {}, app.get("with_plan") or {}
    cmp_rows = [
        (what, fmt(dn.get(k)), fmt(wp.get(k)))
        for what, k in (
            ("TSTT per demand period", "tstt"),
            ("vehicle-hours a year", "annual_vehicle_hours"),
            (f"value of that time a year ({u})", "annual_time_cost"),
            (f"cost of the works ({u})", "cost"),
            (f"net present value ({u})", "net_present_value"),
        )
    ]
    out.append("<h3>Against doing nothing</h3>")
    out.append(_table(("", "do nothing", "this plan"), cmp_rows, cls="kv", numeric=(1, 2)))
    if app.get("preferred"):
        out.append(f"<p>Preferred at these values: {_e(app['preferred'])}.</p>")
    params = {
        k: app.get(k)
        for k in (*PARAMETERS, "time_unit", "time_unit_hours", "money_unit")
        if k in app
    }
    out.append("<h3>Parameters</h3>")
    out.append(_table(("parameter", "value"), _settings_rows(params), cls="kv"))
    return "".join(out)


def _protection_html(protection: Any, unit: str) -> str:
    """The protected areas, the candidates they excluded and those they made dearer."""
    d = protection.summary()
    out = [
        f"<p>{_e(len(d['areas']))} areas from <code>{_e(d['source'])}</code>; an upgrade "
        "touching a forbidden area is never offered; one touching multiplier areas costs "
        "its cost times the largest of their multipliers.</p>",
        _table(
            ("area", "feature", "rule"),
            [(a["name"], a["feature"], a["rule"]) for a in d["areas"]],
            numeric=(1,),
        ),
    ]
    rows: list[tuple[Any, ...]]
    if d["excluded"]:
        rows = [
            (
                r["id"],
                r["kind"],
                r["label"],
                fmt(r["cost"]),
                r["area"],
                "" if r["feature"] is None else r["feature"],
                r["rule"],
            )
            for r in d["excluded"]
        ]
        out += [
            "<h3>Excluded candidates</h3>",
            _table(
                ("id", "kind", "description", f"cost ({unit})", "area", "feature", "rule"),
                rows,
                numeric=(3, 5),
            ),
        ]
    else:
        out.append("<p>No candidate touched a forbidden area.</p>")
    if d["priced"]:
        rows = [
            (
                r["id"],
                r["kind"],
                fmt(r["cost_before"]),
                fmt(r["cost"]),
                f"x{r['multiplier']:g}",
                ", ".join(r["areas"]),
            )
            for r in d["priced"]
        ]
        out += [
            "<h3>Candidates priced up</h3>",
            _table(
                ("id", "kind", f"cost before ({unit})", f"cost ({unit})", "multiplier", "areas"),
                rows,
                numeric=(2, 3),
            ),
        ]
    return "".join(out)


def _calibration_html(cal: Any, png: bytes | None) -> str:
    """The demand's calibration to counts: the fit before and after, the figure, per count."""
    d = cal.summary()
    b, a = d["before"], d["after"]
    fit = [
        ("counts with GEH < 5", f"{100 * b['geh_share']:.1f} %", f"{100 * a['geh_share']:.1f} %"),
        ("R² (modelled = counted)", fmt(b["r2"], 4), fmt(a["r2"], 4)),
        ("mean GEH", fmt(b["mean_geh"], 3), fmt(a["mean_geh"], 3)),
        ("squared error Z", fmt(b["objective"]), fmt(a["objective"])),
        ("trips", fmt(d["trips_before"]), fmt(d["trips_after"])),
    ]
    out = [
        f"<p>{_e(d['counts'])} counts from <code>{_e(d['counts_file'])}</code>; the OD matrix "
        f"adjusted by Spiess's (1990) gradient method, proportions from the equilibrium's "
        f"origin-based bushes: {_e(d['iterations'])} steps, {_e(d['status'])}, "
        f"{d['seconds']:.1f} s. GEH on hourly flows ({_e(fmt(d['geh_hours']))} h per "
        "period).</p>",
        _table(("", "seed matrix", "calibrated"), fit, cls="kv", numeric=(1, 2)),
    ]
    if png is not None:
        out.append(
            _figure_html(
                "img-calibration",
                png,
                "modelled against counted flows before and after the calibration",
                "Modelled against counted flow per count, before (grey) and after (blue); "
                "dashed: GEH = 5.",
            )
        )
    rows = [
        (
            r["id"],
            r["where"],
            fmt(r["count"]),
            fmt(r["model_before"]),
            fmt(r["model_after"]),
            fmt(r["geh_before"], 3),
            fmt(r["geh_after"], 3),
        )
        for r in d["table"]
    ]
    head = ("count", "where", "counted", "model before", "model after", "GEH before", "GEH after")
    out.append(_table(head, rows, numeric=(2, 3, 4, 5, 6)))
    return "".join(out)


def _settings_html(run: Any, settings: Mapping[str, Any] | None) -> str:
    out = [f"<p>roadopt <code>{_e(version())}</code></p>"]
    for name, d in (
        ("Run", settings or {}),
        ("Search", run.plan.settings),
        ("Study", run.study.meta),
    ):
        if d:
            out.append(f"<h3>{_e(name)}</h3>")
            out.append(_table(("setting", "value"), _settings_rows(d), cls="kv"))
    return "".join(out)


def render_html(
    run: Any,
    *,
    settings: Mapping[str, Any] | None = None,
    images: Mapping[str, bytes] | None = None,
    files: Sequence[str] = (),
    skims: Any = None,
) -> str:
    """The report page: one self-contained HTML document.

    Parameters
    ----------
    run
        A :class:`optimizer.jobs.pipeline.PlanRun`.
    settings
        The run's settings, shown and embedded with the version.
    images
        PNG bytes by name (``"map"``, ``"convergence"``), embedded as data URIs.
    files
        Names of the run's other files, listed in the footer.
    skims
        The run's :class:`.tables.Skims`, for the table of settlement pairs before and
        after (none without).

    Returns
    -------
    str
        HTML with inline CSS and images only: it loads nothing (a Content-Security-Policy
        forbids it) and opens offline. All text is escaped.
    """
    plan, cs, study = run.plan, run.candidates, run.study
    net = study.network
    images = dict(images or {})
    unit = cs.cost_unit
    tunit = net.units.time
    b, a = plan.metrics_before, plan.metrics_after
    doc = plan_document(run, settings=settings)
    title = f"roadopt plan: {net.name}"

    def card(key: str, value: str, delta: str = "", good: bool | None = None) -> str:
        cls = "" if good is None else (" good" if good else " bad")
        d = f'<div class="d{cls}">{_e(delta)}</div>' if delta else ""
        return (
            f'<div class="card"><div class="k">{_e(key)}</div>'
            f'<div class="v">{_e(value)}</div>{d}</div>'
        )

    def better(k: str, before: Any, after: Any) -> bool | None:
        if not (finite(before) and finite(after)) or float(before) == float(after):
            return None
        higher = _METRICS.get(k, ("", False))[1]
        return (float(after) > float(before)) == higher

    cards = [
        card(
            f"objective ({plan.objective_name}, lower is better)",
            f"{fmt(plan.objective_before)} → {fmt(plan.objective)}",
            pct_change(plan.objective_before, plan.objective),
            better("objective", plan.objective_before, plan.objective),
        )
    ]
    for k, label in (
        ("access", f"access score ({tunit}, population-weighted)"),
        ("beyond_target", "population beyond an access target"),
        ("hansen", "Hansen accessibility (persons)"),
        ("internal", f"internal connectivity ({tunit})"),
        ("external", f"external connectivity ({tunit})"),
        ("resilience", "resilience (share)"),
        ("tstt", f"TSTT ({net.units.flow} × {tunit})"),
    ):
        if k in a or k in b:
            cards.append(
                card(
                    label,
                    f"{fmt(b.get(k))} → {fmt(a.get(k))}",
                    pct_change(b.get(k), a.get(k)),
                    better(k, b.get(k), a.get(k)),
                )
            )
    share = f"{100 * plan.cost / plan.budget:.0f} % of the budget" if plan.budget else ""
    cards.append(card(f"cost ({unit})", f"{fmt(plan.cost)} of {fmt(plan.budget)}", share))
    gap = gap_text(plan.gap)
    cards.append(
        card(
            "status and proven gap",
            f"{plan.status}, gap {gap}",
            f"lower bound {fmt(plan.lower_bound)}" if plan.lower_bound is not None else "",
        )
    )
    app = plan.appraisal or {}
    if app.get("benefit_cost_ratio") is not None:
        bcr = float(app["benefit_cost_ratio"])
        cards.append(
            card(
                "benefit / cost ratio",
                fmt(bcr, 3),
                f"NPV {fmt(app.get('net_present_value'))} {unit} against doing nothing",
                bcr >= 1,
            )
        )
    cards.append(
        card(
            "search",
            f"{plan.evaluations} equilibria, {plan.seconds:.1f} s",
            f"{len(cs)} candidates, total cost {fmt(cs.total_cost)} {unit}",
        )
    )

    head = [f"<h1>{_e(title)}</h1>"]
    head.append(
        f'<p class="sub">{_e(study.source or net.name)} · {net.num_nodes:,} nodes, '
        f"{cs.num_base_links:,} links · units: time {_e(tunit)}, flow "
        f"{_e(net.units.flow)}, length {_e(net.units.length)}, money {_e(unit)}</p>"
    )
    note = bcr_note(app)
    for warning in doc.get("warnings", []):
        if note and warning == app.get("warning"):
            # the plan does not pay: said first and plainly, then the appraisal's words
            head.append(
                f'<p class="msg warn bcr" id="warning"><strong>{_e(_cap(note))}.</strong> '
                f"Warning: {_e(warning)}</p>"
            )
            note = None
        else:
            head.append(f'<p class="msg warn" id="warning">Warning: {_e(warning)}</p>')
    if note:
        head.append(f'<p class="msg warn bcr" id="warning"><strong>{_e(_cap(note))}.</strong></p>')
    if plan.message:
        head.append(f'<p class="msg">{_e(plan.message)}</p>')
    sections = {
        "summary": ("Summary", f'<div class="cards">{"".join(cards)}</div>'),
        "upgrades": ("Chosen upgrades", _upgrades_html(plan, unit)),
    }
    if "map" in images:
        sections["map"] = (
            "Map",
            _figure_html(
                "img-map",
                images["map"],
                "map of volume/capacity before and after the plan, with the chosen upgrades",
                "Volume/capacity before (left) and after the plan (right) on one colour "
                "scale, width by flow; in the after panel the chosen upgrades have a blue "
                "casing and a label with the road and what is done. Settlements by name "
                "(with their minutes to the highest access class in that panel, in red where "
                "beyond a target) or zones (Z), gateways (G) and junctions; north up.",
            ),
        )
    if getattr(plan, "settlements", None):
        sections["settlements"] = ("Access of each settlement", _settlements_html(plan))
    od = _od_html(skims) if skims is not None else ""
    if od:
        sections["od"] = ("Between settlements, before and after", od)
    if getattr(run, "protection", None) is not None:
        sections["protected"] = ("Protected areas", _protection_html(run.protection, unit))
    if getattr(run, "calibration", None) is not None:
        sections["calibration"] = (
            "Calibration to traffic counts",
            _calibration_html(run.calibration, images.get("calibration")),
        )
    sections["metrics"] = ("Before and after", _metrics_html(b, a))
    sections["appraisal"] = ("Appraisal against doing nothing", _appraisal_html(app))
    sections["baseline"] = ("Greedy baseline", _baseline_html(plan, unit))
    if "convergence" in images:
        sections["convergence"] = (
            "Convergence",
            _figure_html(
                "img-convergence",
                images["convergence"],
                "convergence of the search and of the final equilibrium",
                "The search's best plan (incumbent) and proven lower bound over time; the "
                "relative gap of the final equilibrium per iteration, where it took more "
                "than one.",
            ),
        )
    sections["settings"] = ("Settings", _settings_html(run, settings))
    body = "".join(
        f'<section id="{_e(key)}"><h2>{_e(name)}</h2>{content}</section>'
        for key, (name, content) in sections.items()
    )
    names = ["plan.json", "plan.csv", *(files or ())]
    footer = (
        f"<footer>Written by roadopt {_e(version())}. Files of this run: "
        f"{_e(', '.join(dict.fromkeys(names)))}.</footer>"
    )
    # the whole plan document, machine-readable; "<" escaped so no tag can end the block
    data = json.dumps(doc, indent=1, ensure_ascii=False).replace("<", "\\u003c")
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="roadopt {_e(version())}">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n"
        f"<body><main>{''.join(head)}{body}{footer}</main>\n"
        f'<script type="application/json" id="roadopt-plan">{data}</script>\n'
        "</body></html>\n"
    )
