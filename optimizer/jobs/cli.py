"""The ``roadopt`` command: a thin layer over the public Python API.

Exit codes: 0 done (an assignment that stopped before its gap still counts as done: its
status says so), 1 failed (bad input, an error), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from networks.errors import RoadoptError

from ..errors import UsageError
from .documents import jsonable, version

log = logging.getLogger("roadopt")

EXAMPLES = {
    "batch": """examples:
  roadopt batch demand.toml                        all cores, one process each
  roadopt batch budgets.toml --executor dask --workers 4
  roadopt batch big.toml --executor dask --scheduler tcp://10.0.0.5:8786

A sweep file:
  command = "assign"
  [network]
  path = "${ROADOPT_DATA_DIR}/tntp/SiouxFalls/SiouxFalls_net.tntp"
  trips = "${ROADOPT_DATA_DIR}/tntp/SiouxFalls/SiouxFalls_trips.tntp"
  [sweep]
  demand_scale = [0.5, 0.75, 1.0, 1.25, 1.5]
  method = ["fw", "bfw"]""",
    "run": """examples:
  roadopt run town.toml                      run a scenario file
  roadopt run ziliujing --out zlj            a bundled Zigong preset (needs the internet)

A scenario file (TOML), paths relative to the file, ${VAR} expanded:
  command = "optimize"
  [network]
  path = "${ROADOPT_DATA_DIR}/osm/West-Oakland.osm.bz2"
  [optimize]
  budget_share = 0.3
  weights = { internal = 0.5, external = 0.5 }""",
    "optimize": """examples:
  roadopt optimize                                 the built-in town, everything automatic
  roadopt optimize town.osm.pbf --budget 50000 --weights internal=0.3,external=0.7
  roadopt optimize SF_DNDP_10_1.txt --trips SiouxFalls_trips.tntp --budget-share 0.5 \\
      --objective tstt --summary plan.json
  roadopt optimize --place "Ziliujing District, Zigong, Sichuan, China" --profile china \\
      --min-resilience 0.9 --time-limit 600 --out ziliujing""",
    "assign": """examples:
  roadopt assign                                   the built-in example
  roadopt assign SiouxFalls --gap 1e-10 --out flows.csv
  roadopt assign Chicago-Sketch --method bush --gap 1e-10 \\
      --toll-factor 0.02 --distance-factor 0.04 --summary summary.json
  roadopt assign X_net.tntp --trips other_trips.tntp --method bfw --time-limit 60""",
    "info": """examples:
  roadopt info                        the built-in example
  roadopt info SiouxFalls             a dataset, by name
  roadopt info path/to/X_net.tntp     a TNTP file (X_trips.tntp beside it is found)
  roadopt info X_net.tntp --json      machine-readable""",
}


# ---------------------------------------------------------------------- helpers
class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _add_common(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("-v", "--verbose", action="store_true", help="debug logging; tracebacks")
    g.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")


def _add_cost_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--toll-factor",
        type=float,
        default=None,
        metavar="F",
        help="generalized cost per toll unit, in time units (default 0)",
    )
    p.add_argument(
        "--distance-factor",
        type=float,
        default=None,
        metavar="F",
        help="generalized cost per length unit, in time units (default 0)",
    )


def _add_network_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "network",
        nargs="?",
        metavar="NETWORK",
        help="an existing network file or a dataset name (default: the built-in example)",
    )
    p.add_argument(
        "--trips",
        metavar="FILE",
        help="TNTP trips file (default: by the _net/_trips naming rule); for an "
        "OSM area, an OD matrix CSV origin,destination,trips (with --od-period)",
    )
    g = p.add_argument_group("OpenStreetMap")
    g.add_argument(
        "--place",
        metavar="NAME",
        help='download a place, e.g. "Ziliujing '
        'District, Zigong, Sichuan, China" (needs the internet)',
    )
    g.add_argument("--bbox", metavar="W,S,E,N", help="download a bounding box in degrees")
    g.add_argument(
        "--profile",
        default="generic",
        choices=("generic", "china", "china-mountain"),
        help="road-class defaults (default: generic)",
    )
    g.add_argument(
        "--zones",
        type=int,
        metavar="N",
        help="number of internal zones (default: by network size)",
    )
    g.add_argument("--od-period", metavar="TEXT", help="the period a --trips OD CSV covers")
    g.add_argument("--seed", type=int, default=0, help="seed of every random choice (default: 0)")
    p.add_argument(
        "--crs",
        metavar="EPSG:XXXX",
        help="CRS of a TNTP network's node coordinates, for GeoPackage output",
    )


def open_network(args: argparse.Namespace, *, need_demand: bool = True):
    """Resolve the CLI's network options into a :class:`networks.Study`."""
    from networks import open_study

    bbox = None
    if getattr(args, "bbox", None):
        try:
            bbox = tuple(float(v) for v in args.bbox.split(","))
        except ValueError:
            raise UsageError(
                f"--bbox {args.bbox}: give four numbers west,south,east,north"
            ) from None
        if len(bbox) != 4:
            raise UsageError(f"--bbox {args.bbox}: give four numbers west,south,east,north")
    study = open_study(
        args.network,
        trips=args.trips,
        place=getattr(args, "place", None),
        bbox=bbox,
        profile=getattr(args, "profile", "generic"),
        n_zones=getattr(args, "zones", None),
        od_period=getattr(args, "od_period", None),
        seed=getattr(args, "seed", 0),
        crs=getattr(args, "crs", None),
    )
    if study.demand is None and need_demand:
        raise UsageError(
            f"no trips file found for {args.network} by the _net/_trips naming rule; "
            "give one with --trips FILE"
        )
    return study


def _emit_json(obj: Any, path: str | None) -> None:
    from networks._io import atomic_write_text

    text = json.dumps(jsonable(obj), indent=2) + "\n"
    if path in (None, "-"):
        sys.stdout.write(text)
    else:
        atomic_write_text(path, text)


# ---------------------------------------------------------------------- commands
def cmd_info(args: argparse.Namespace) -> int:
    study = open_network(args, need_demand=False)
    net, demand = study.network, study.demand
    info: dict[str, Any] = {"network": net.summary()}
    warnings: list[str] = []
    if demand is not None:
        info["demand"] = demand.summary()
        if demand.intrazonal > 0:
            warnings.append(
                f"{demand.intrazonal:.10g} intrazonal trips are kept in the data but never "
                "assigned"
            )
    else:
        warnings.append("no demand: no trips file was found")
    zero_fft = int((net.free_flow_time == 0).sum())
    if zero_fft:
        warnings.append(f"{zero_fft} link(s) have zero free-flow time")
    const = int(((net.alpha == 0) | (net.beta == 0)).sum())
    if const:
        warnings.append(f"{const} link(s) have a flow-independent cost (B = 0 or power 0)")
    low_power = int(((net.beta > 0) & (net.beta < 1)).sum())
    if low_power:
        warnings.append(f"{low_power} link(s) have a BPR power below 1")
    if net.no_thru.any():
        warnings.append(
            f"{int(net.no_thru.sum())} zone node(s) cannot be passed through (<FIRST THRU NODE>)"
        )
    readme = net.extra.get("readme_factors")
    if readme:
        warnings.append(readme)
    info["warnings"] = warnings
    if args.json:
        _emit_json(info, None)
        return 0
    n = info["network"]
    print(
        f"network   {n['name']}: {n['nodes']} nodes, {n['links']} links"
        + (f", {n['candidate_links']} candidate links" if n["candidate_links"] else "")
    )
    print(f"units     time={net.units.time}, length={net.units.length}, flow={net.units.flow}")
    print(f"crs       {n['crs'] or 'unknown'}")
    if demand is not None:
        d = info["demand"]
        print(
            f"zones     {d['zones']} ({d['internal_zones']} internal, {d['external_zones']} "
            "external)"
        )
        print(
            f"demand    {d['total_trips']:.10g} trips in {d['od_pairs']} OD pairs "
            f"({d['period']}); intrazonal {d['intrazonal_trips']:.10g} (not assigned)"
        )
    for w in warnings:
        print(f"warning   {w}")
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    from ..assignment import assign
    from .outputs import write_flow_layer, write_link_table

    if args.out and not args.out.lower().endswith((".csv", ".gpkg", ".geojson", ".json")):
        raise UsageError(f"--out {args.out}: write flows to a .csv, .gpkg or .geojson file")
    study = open_network(args)
    net, demand = study.network, study.demand
    readme = net.extra.get("readme_factors")
    if readme and args.toll_factor is None and args.distance_factor is None:
        log.warning("note: %s", readme)
    result = assign(
        net,
        demand,
        method=args.method,
        rgap=args.gap,
        max_iter=args.max_iter,
        time_limit=args.time_limit,
        toll_factor=args.toll_factor or 0.0,
        distance_factor=args.distance_factor or 0.0,
        on_disconnected="drop" if args.drop_disconnected else "raise",
    )
    if args.out:
        if args.out.lower().endswith(".csv") and "osm_way_ids" not in net.extra:
            write_link_table(net, result, args.out)
        else:
            write_flow_layer(net, result, args.out)
    summary = {
        "network": net.name,
        **result.summary(),
        "links": net.num_links,
        "zones": demand.num_zones,
        "total_demand": demand.total,
        "intrazonal_demand": demand.intrazonal,
    }
    if args.summary:
        _emit_json(summary, args.summary)
    log.info(
        "%s: %s, relative gap %.3e, objective %.10g, TSTT %.10g, %d iterations, %.3f s",
        net.name,
        result.status,
        result.relative_gap,
        result.objective,
        result.tstt,
        result.iterations,
        result.seconds,
    )
    return 0


def _fmt(v: Any, digits: int = 6) -> str:
    if v is None:
        return "-"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "-" if not np.isfinite(f) else f"{f:.{digits}g}"


def print_plan_summary(run) -> None:
    """A short human summary of a plan on stdout."""
    plan, cs = run.plan, run.candidates
    net = run.study.network
    unit = cs.cost_unit
    print(
        f"network     {net.name}: {net.num_links} links, {len(cs)} candidate upgrades "
        f"(total cost {_fmt(cs.total_cost)} {unit})"
    )
    print(
        f"objective   {plan.objective_name}: {_fmt(plan.objective_before, 8)} -> "
        f"{_fmt(plan.objective, 8)}  ({plan.status}, gap {_fmt(plan.gap, 3)}, "
        f"lower bound {_fmt(plan.lower_bound, 8)})"
    )
    print(f"budget      {_fmt(plan.budget)} {unit}; plan cost {_fmt(plan.cost)} {unit}")
    if not plan.selected:
        print("chosen      nothing" + (f" ({plan.message})" if plan.message else ""))
    for d in plan.selected_details:
        print(
            f"chosen      {d['id']}: {d.get('label', '')} (cost {_fmt(d['cost'])}, "
            f"benefit/cost {_fmt(d.get('benefit_cost_ratio'), 3)})"
        )
    b, a = plan.metrics_before, plan.metrics_after
    for key, what in (
        ("internal", "internal connectivity"),
        ("external", "external connectivity"),
    ):
        if key in a:
            print(f"{what:22s} {_fmt(b.get(key))} -> {_fmt(a.get(key))} ({net.units.time})")
    if "resilience" in a:
        print(
            f"{'resilience':22s} {_fmt(b.get('resilience'), 3)} -> {_fmt(a.get('resilience'), 3)}"
        )
    print(f"{'TSTT':22s} {_fmt(b.get('tstt'), 8)} -> {_fmt(a.get('tstt'), 8)}")
    app = plan.appraisal
    if app.get("benefit_cost_ratio") is not None:
        print(
            f"{'benefit/cost ratio':22s} {_fmt(app['benefit_cost_ratio'], 3)} "
            f"(annual benefit {_fmt(app['annual_benefit'])})"
        )
    if plan.baseline:
        print(
            f"{'greedy baseline':22s} {_fmt(plan.baseline['objective'], 8)} "
            f"(cost {_fmt(plan.baseline['cost'])})"
        )
    print(
        f"equilibria  {plan.evaluations} solved, equilibrium gap "
        f"{_fmt(a.get('relative_gap'), 3)}, {plan.seconds:.1f} s"
    )


def cmd_optimize(args: argparse.Namespace) -> int:
    from ..search import Appraisal
    from .outputs import prepare_out_dir, write_plan_outputs
    from .pipeline import plan_study

    out_dir = prepare_out_dir(args.out, overwrite=args.overwrite, key=_run_key(args))
    study = open_network(args)
    run = plan_study(
        study,
        candidates=args.candidates,
        budget=args.budget,
        budget_share=args.budget_share,
        objective=args.objective,
        weights=args.weights,
        min_resilience=args.min_resilience,
        method=args.method,
        rgap=args.gap,
        time_limit=args.time_limit,
        max_candidates=args.max_candidates,
        appraisal=Appraisal(value_of_time=args.value_of_time),
        toll_factor=args.toll_factor or 0.0,
        distance_factor=args.distance_factor or 0.0,
        seed=args.seed,
    )
    write_plan_outputs(run, out_dir, settings=_run_key(args), report=not args.no_report)
    if args.summary:
        from .documents import plan_document

        _emit_json(plan_document(run, settings=_run_key(args)), args.summary)
    if not args.quiet:
        print_plan_summary(run)
        print(f"outputs     {out_dir}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .scenario import load_scenario, run_scenario

    sc = load_scenario(args.scenario)
    out = args.out if args.out is not None else sc.get("output", "dir", "roadopt-out")
    result = run_scenario(sc, out=out, overwrite=args.overwrite)
    if args.quiet:
        return 0
    if sc.command == "optimize":
        print_plan_summary(result)
    else:
        print(
            f"{sc.name}: {result.status}, relative gap {result.relative_gap:.3e}, "
            f"objective {result.objective:.10g}, TSTT {result.tstt:.10g}"
        )
    print(f"outputs     {out}")
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from .batch import load_sweep, run_batch

    cases, _ = load_sweep(args.sweep)
    out = args.out or str(Path(args.sweep).with_suffix(""))
    log.info(
        "batch: %d scenarios from %s into %s (%s executor)",
        len(cases),
        args.sweep,
        out,
        args.executor,
    )
    res = run_batch(
        cases,
        out,
        executor=args.executor,
        workers=args.workers,
        scheduler=args.scheduler,
        timeout=args.timeout,
    )
    if not args.quiet:
        print(
            f"batch       {res['scenarios']} scenarios: {res['ran']} ran, {res['skipped']} "
            f"already finished, {res['errors']} failed, {res['seconds']:.1f} s"
        )
        print(f"results     {Path(out) / 'results.csv'}")
    return 1 if res["errors"] else 0


def _run_key(args: argparse.Namespace) -> dict[str, Any]:
    """The options that define a run (an output folder holds one run)."""
    skip = {"func", "verbose", "quiet", "overwrite", "out", "summary"}
    return {k: v for k, v in sorted(vars(args).items()) if k not in skip}


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roadopt",
        description="Road network design: networks from OSM or TNTP, equilibrium "
        "assignment, upgrade plans.",
        formatter_class=_Formatter,
        epilog="run 'roadopt COMMAND --help' for a command's options and examples",
    )
    parser.add_argument("--version", action="version", version=f"roadopt {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "info",
        help="summarise a network and its demand",
        description="Print nodes, links, zones, total and intrazonal demand and any warnings.",
        epilog=EXAMPLES["info"],
        formatter_class=_Formatter,
    )
    _add_network_args(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    _add_common(p)
    p.set_defaults(func=cmd_info)

    from ..assignment import METHODS

    p = sub.add_parser(
        "assign",
        help="user-equilibrium traffic assignment",
        description="Solve the static user equilibrium (BPR link costs) and "
        "report link flows, costs, gap and objective. Exit 0 when the run "
        "finished, converged or not (the status says).",
        epilog=EXAMPLES["assign"],
        formatter_class=_Formatter,
    )
    _add_network_args(p)
    p.add_argument(
        "--method",
        default="auto",
        choices=("auto", *METHODS),
        help="algorithm (default: auto, the fastest for the gap)",
    )
    p.add_argument(
        "--gap",
        type=float,
        default=1e-4,
        metavar="G",
        help="target relative gap (TSTT - SPTT) / TSTT (default: 1e-4)",
    )
    p.add_argument(
        "--max-iter",
        type=int,
        default=None,
        metavar="N",
        help="iteration limit (default: 1000 sweeps for bush, 10000 otherwise)",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="S",
        help="algorithm time limit in seconds",
    )
    _add_cost_args(p)
    p.add_argument(
        "--drop-disconnected",
        action="store_true",
        help="drop trips between zones no path joins (with a warning)",
    )
    p.add_argument(
        "--out",
        metavar="FLOWS",
        help="write link flows and costs (.csv, .gpkg "
        "or .geojson; geometry needs node coordinates and a CRS)",
    )
    p.add_argument("--summary", metavar="SUMMARY.json", help="write a JSON summary")
    _add_common(p)
    p.set_defaults(func=cmd_assign)

    from ..search import OBJECTIVES

    p = sub.add_parser(
        "optimize",
        help="choose road upgrades within a budget",
        description="Choose road upgrades (new links, widenings, class or "
        "speed upgrades) that minimise an objective at user equilibrium "
        "within a budget. Without NETWORK: the built-in town, automatic "
        "candidates, the connectivity objective, 30% of the candidates' cost.",
        epilog=EXAMPLES["optimize"],
        formatter_class=_Formatter,
    )
    _add_network_args(p)
    p.add_argument(
        "--candidates",
        metavar="FILE|auto",
        default=None,
        help="candidate upgrades: a CSV/GeoJSON file, or auto (generated for OSM "
        "networks); default: the instance file's candidates, else auto",
    )
    b = p.add_mutually_exclusive_group()
    b.add_argument("--budget", type=float, metavar="B", help="budget in the candidates' cost unit")
    b.add_argument(
        "--budget-share",
        type=float,
        metavar="S",
        help="budget as a share of the "
        "total cost of all candidates (default for generated candidates: 0.3)",
    )
    p.add_argument(
        "--objective",
        default="auto",
        choices=("auto", *OBJECTIVES),
        help="what to minimise (default: connectivity where there are gateways, else tstt)",
    )
    p.add_argument(
        "--weights",
        metavar="W",
        help="connectivity weights, e.g. internal=0.5,external=0.5[,resilience=10]",
    )
    p.add_argument(
        "--min-resilience",
        type=float,
        metavar="R",
        help="required share of "
        "internal activity that keeps a gateway when any one link is closed",
    )
    p.add_argument(
        "--method",
        default="bnb",
        choices=("bnb", "enumerate", "greedy"),
        help="search method (default: bnb, exact branch and bound)",
    )
    p.add_argument(
        "--gap",
        type=float,
        default=1e-8,
        metavar="G",
        help="equilibrium relative gap for scoring plans (default: 1e-8)",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        metavar="S",
        help="search time limit in seconds; the best plan so far is returned with its proven gap",
    )
    p.add_argument(
        "--max-candidates",
        type=int,
        default=12,
        metavar="N",
        help="number of generated candidates (default: 12)",
    )
    p.add_argument(
        "--value-of-time",
        type=float,
        default=40.0,
        metavar="V",
        help="currency units per vehicle-hour for the money appraisal (default: 40)",
    )
    _add_cost_args(p)
    p.add_argument(
        "--out",
        metavar="DIR",
        default="roadopt-out",
        help="output folder (default: ./roadopt-out)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an output folder that holds a different run",
    )
    p.add_argument("--summary", metavar="PLAN.json", help="also write the plan document here")
    p.add_argument(
        "--no-report",
        action="store_true",
        help="write only plan.json and plan.csv (no network.gpkg, maps or report.html)",
    )
    _add_common(p)
    p.set_defaults(func=cmd_optimize)

    p = sub.add_parser(
        "run",
        help="run a scenario file (TOML)",
        description="Run the assignment or optimization a scenario file "
        "describes; every output records the scenario and the version.",
        epilog=EXAMPLES["run"],
        formatter_class=_Formatter,
    )
    p.add_argument(
        "scenario",
        metavar="SCENARIO",
        help="a .toml scenario file or the name "
        "of a bundled preset (ziliujing, daan, yantan, ...)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default: the scenario's [output] dir, else ./roadopt-out)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an output folder that holds a different run",
    )
    _add_common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "batch",
        help="run a sweep of scenarios (resumable)",
        description="Run the product of a sweep file's [sweep] lists (and its "
        "[[network]] tables). Results go to OUT/results.csv and "
        "OUT/scenarios/<id>.json; re-running skips finished scenarios. Exit 1 "
        "when any scenario failed (after running the rest).",
        epilog=EXAMPLES["batch"],
        formatter_class=_Formatter,
    )
    p.add_argument("sweep", metavar="SWEEP.toml", help="a scenario file with a [sweep] table")
    p.add_argument(
        "--executor",
        default="process",
        choices=("serial", "process", "dask"),
        help="where scenarios run (default: process)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="parallel workers (default: the number of cores)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (with --executor dask)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait for the Dask scheduler (default: 10)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="results folder (default: beside the sweep file, named after it)",
    )
    _add_common(p)
    p.set_defaults(func=cmd_batch)
    return parser


def _setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr, force=True)
    for noisy in ("numba", "matplotlib", "urllib3", "fiona", "pyogrio", "PIL", "pyrosm", "osmnx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``roadopt`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    verbose = bool(getattr(args, "verbose", False))
    _setup_logging(verbose, bool(getattr(args, "quiet", False)))
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except UsageError as exc:
        if verbose:
            traceback.print_exc()
        print(f"roadopt {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (RoadoptError, OSError, ValueError, KeyError) as exc:
        if verbose:
            traceback.print_exc()
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"roadopt {args.command}: error: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"roadopt {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
