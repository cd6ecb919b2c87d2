"""The ``roadopt`` command: a thin layer over the public Python API.

Every option comes from the settings of :mod:`optimizer.jobs.settings`: its flag, type,
choices, help, unit and default. A command is a list of settings sections; the parsed
options build those sections (checked as they are built), and the job functions of
:mod:`optimizer.jobs.pipeline` run them.

Exit codes: 0 done (an assignment that stopped before its gap still counts as done: its
status says so; so does an infeasible design problem), 1 failed (bad input, an error),
2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
import typing
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import Any

from networks.errors import RoadoptError
from networks.terrain import describe_terrain

from ..errors import OptionError, UsageError
from .documents import jsonable, version
from .format import fmt
from .pipeline import open_job_study
from .settings import (
    AppraisalSettings,
    AssignJob,
    AssignOutputSettings,
    AssignSettings,
    BatchSettings,
    CalibrationSettings,
    CandidateSettings,
    ConsoleSettings,
    CostSettings,
    Field,
    InfoSettings,
    OptimizeJob,
    OptimizeSettings,
    OutputSettings,
    PresetsSettings,
    RunSettings,
    Section,
    StudySettings,
    specs,
)

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
    "presets": """examples:
  roadopt presets                            the bundled scenario files, one line each
  roadopt presets daan > daan.toml           one of them, to edit and run with roadopt run""",
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
  roadopt optimize                                 the built-in region: settlements, their
                                                   access to the motorway, regional candidates
  roadopt optimize builtin-town                    the small built-in town
  roadopt optimize town.osm.pbf --budget 50000 --weights internal=0.3,external=0.7
  roadopt optimize SF_DNDP_10_1.txt --trips SiouxFalls_trips.tntp --budget-share 0.5 \\
      --objective tstt --summary plan.json
  roadopt optimize --place "Ziliujing District, Zigong, Sichuan, China" --profile china \\
      --min-resilience 0.9 --time-limit 600 --out ziliujing
  roadopt optimize region.osm.pbf --protected redlines.gpkg --counts counts.csv
  roadopt optimize isolated.osm --drop-disconnected  trips no existing road joins: dropped

Outputs go to a new folder ./roadopt-out/NAME-001, -002, ... per run (roadopt-out/latest:
the newest) unless --out names one; a folder holding another run needs --overwrite.""",
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


# ---------------------------------------------------------------------- options from settings
class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _cli_type(f: Field) -> Callable[[str], Any]:
    """Argparse ``type=`` of a setting: its parser or its base type, with a clear error.

    A repeatable setting's is the type of one item.
    """
    parse = f.spec.parse or (typing.get_args(f.base)[0] if f.repeatable else f.base)

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except OptionError as exc:
            raise argparse.ArgumentTypeError(exc.detail) from None
        except ValueError as exc:
            msg = str(exc) if f.spec.parse else f"{text!r} is not {_article(f.base)}"
            raise argparse.ArgumentTypeError(msg) from None

    convert.__name__ = getattr(f.base, "__name__", "value")
    return convert


def _article(tp: Any) -> str:
    return {int: "a whole number", float: "a number"}.get(tp, "valid")


def add_settings(
    parser: argparse.ArgumentParser, cls: type[Section], *, only: Sequence[str] | None = None
) -> None:
    """Add a section's settings to a parser as options (or positionals).

    Options default to "not given" (``argparse.SUPPRESS``), so the section's own defaults
    apply: they are written once, in :mod:`optimizer.jobs.settings`.
    """
    group: Any = parser.add_argument_group(cls.TITLE)
    exclusive: dict[str, Any] = {}
    for f in specs(cls):
        if not f.spec.cli or (only is not None and f.name not in only):
            continue
        s = f.spec
        target = group
        if s.group is not None:
            if s.group not in exclusive:
                exclusive[s.group] = parser.add_mutually_exclusive_group()
            target = exclusive[s.group]
        help_text = f.describe(cli=True).replace("%", "%%")  # argparse formats help with %
        kw: dict[str, Any] = {"help": help_text, "default": argparse.SUPPRESS}
        if s.positional:
            target.add_argument(
                f.name,
                nargs=None if f.default is MISSING else "?",
                metavar=s.metavar or f.name.upper(),
                type=_cli_type(f),
                **kw,
            )
            continue
        names = ([s.short] if s.short else []) + [f.option]
        if s.const is not None:
            target.add_argument(*names, dest=f.name, action="store_const", const=s.const, **kw)
        elif f.base is bool:
            action = "store_false" if f.default is True else "store_true"
            target.add_argument(*names, dest=f.name, action=action, **kw)
        elif f.repeatable:
            target.add_argument(
                *names, dest=f.name, action="append", type=_cli_type(f), metavar=s.metavar, **kw
            )
        else:
            target.add_argument(
                *names,
                dest=f.name,
                type=_cli_type(f),
                choices=s.choices,
                metavar=s.metavar,
                **kw,
            )


def settings_of(args: argparse.Namespace, cls: type[Section]) -> Any:
    """The section built from the parsed options (defaults for those not given)."""
    given = {f.name: getattr(args, f.name) for f in specs(cls) if hasattr(args, f.name)}
    return cls(**given)


@dataclass(frozen=True)
class Command:
    """One subcommand: its help, its settings sections and what runs it."""

    help: str
    description: str
    sections: tuple[tuple[type[Section], tuple[str, ...] | None], ...]
    run: Callable[[argparse.Namespace], int]

    def fields(self) -> dict[str, Field]:
        """The command's settings by name (those on the command line)."""
        return {
            f.name: f
            for cls, only in self.sections
            for f in specs(cls)
            if f.spec.cli and (only is None or f.name in only)
        }


def _emit_json(obj: Any, path: str | None) -> None:
    from networks._io import atomic_write_text

    text = json.dumps(jsonable(obj), indent=2) + "\n"
    if path in (None, "-"):
        sys.stdout.write(text)
    else:
        atomic_write_text(path, text)


def _num(v: Any, digits: int = 6) -> str:
    return fmt(v, digits, missing="-", thousands=False, notation="general")


# ---------------------------------------------------------------------- commands
def cmd_info(args: argparse.Namespace) -> int:
    """``roadopt info``: print a network's and its demand's summary and warnings."""
    study = open_job_study(settings_of(args, StudySettings), need_demand=False)
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
    terrain = describe_terrain(net)
    if terrain:
        info["terrain"] = terrain
    info["warnings"] = warnings
    if settings_of(args, InfoSettings).json:
        _emit_json(info, None)
        return 0
    n = info["network"]
    print(
        f"network   {n['name']}: {n['nodes']} nodes, {n['links']} links"
        + (f", {n['candidate_links']} candidate links" if n["candidate_links"] else "")
    )
    print(f"units     time={net.units.time}, length={net.units.length}, flow={net.units.flow}")
    print(f"crs       {n['crs'] or 'unknown'}")
    if terrain:
        lo, hi = terrain["height_range_m"]
        shares = ", ".join(f"{c} {v:.1%}" for c, v in terrain["terrain_shares"].items())
        print(f"terrain   heights {lo:.0f}-{hi:.0f} m; road links {shares}")
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


def print_plan_summary(run) -> None:
    """A short human summary of a plan on stdout."""
    plan, cs = run.plan, run.candidates
    net = run.study.network
    unit = cs.cost_unit
    print(
        f"network     {net.name}: {net.num_links} links, {len(cs)} candidate upgrades "
        f"(total cost {_num(cs.total_cost)} {unit})"
    )
    print(
        f"objective   {plan.objective_name}: {_num(plan.objective_before, 8)} -> "
        f"{_num(plan.objective, 8)}  ({plan.status}, gap {_num(plan.gap, 3)}, "
        f"lower bound {_num(plan.lower_bound, 8)})"
    )
    print(f"budget      {_num(plan.budget)} {unit}; plan cost {_num(plan.cost)} {unit}")
    from .report.text import bcr_note

    note = bcr_note(plan.appraisal)
    if note:
        # said before the details, so that it is not missed (the appraisal lines say more)
        print(f"WARNING     {note}")
    if getattr(run, "protection", None) is not None:
        p = run.protection
        print(
            f"protected   {len(p.areas)} areas: {len(p.excluded)} candidates excluded, "
            f"{len(p.priced)} priced up"
        )
    if getattr(run, "calibration", None) is not None:
        c = run.calibration
        b, a = c.fit("before"), c.fit("after")
        print(
            f"calibrated  {len(c.counts)} counts, {c.iterations} steps: GEH < 5 on "
            f"{100 * b['geh_share']:.0f} % -> {100 * a['geh_share']:.0f} %, R² "
            f"{_num(b['r2'], 4)} -> {_num(a['r2'], 4)}"
        )
    if not plan.selected:
        print("chosen      nothing" + (f" ({plan.message})" if plan.message else ""))
    for d in plan.selected_details:
        bcr = d.get("benefit_cost_ratio")
        print(
            f"chosen      {d['id']}: {d.get('label', '')} (cost {_num(d['cost'])}, "
            f"benefit/cost {_num(bcr, 3)}"
            + (", costs more than it saves)" if bcr is not None and bcr < 1 else ")")
        )
    b, a = plan.metrics_before, plan.metrics_after
    for key, what in (
        ("internal", "internal connectivity"),
        ("external", "external connectivity"),
    ):
        if key in a:
            print(f"{what:22s} {_num(b.get(key))} -> {_num(a.get(key))} ({net.units.time})")
    if "resilience" in a:
        print(
            f"{'resilience':22s} {_num(b.get('resilience'), 3)} -> {_num(a.get('resilience'), 3)}"
        )
    print(f"{'TSTT':22s} {_num(b.get('tstt'), 8)} -> {_num(a.get('tstt'), 8)}")
    for line in appraisal_lines(plan.appraisal):
        print(line)
    if plan.baseline:
        print(
            f"{'greedy baseline':22s} {_num(plan.baseline['objective'], 8)} "
            f"(cost {_num(plan.baseline['cost'])})"
        )
    per = plan.settings.get("seconds_per_equilibrium") if plan.settings else None
    each = f" ({per:.3g} s each)" if per else ""
    print(
        f"equilibria  {plan.evaluations} solved{each}, equilibrium gap "
        f"{_num(a.get('relative_gap'), 3)}, {plan.seconds:.1f} s"
    )


def appraisal_lines(app: dict[str, Any]) -> list[str]:
    """The plan's money terms against doing nothing, with the warning when BCR < 1."""
    if app.get("present_value_benefits") is None:
        return [
            f"{'appraisal':22s} no money terms: the network's time unit "
            f"({app.get('time_unit')}) is not minutes, hours or seconds; give "
            "--time-unit-hours"
        ]
    u = app.get("money_unit", "")
    lines = [
        f"{'benefit/cost ratio':22s} {_num(app.get('benefit_cost_ratio'), 3)}: present value "
        f"of benefits {_num(app['present_value_benefits'])} against costs "
        f"{_num(app.get('present_value_costs'))} {u}",
        f"{'net present value':22s} {_num(app.get('net_present_value'))} {u} against doing "
        f"nothing; first-year return {_num(app.get('first_year_rate_of_return'), 3)} "
        f"(annual benefit {_num(app.get('annual_benefit'))} {u})",
        f"{'appraisal':22s} {app.get('years')} years at {_num(app.get('discount_rate'), 3)} "
        f"a year, value of time {_num(app.get('value_of_time'), 4)} {app.get('currency')}"
        f"/veh-h, {_num(app.get('periods_per_year'), 5)} periods a year "
        f"({app.get('annualisation')})",
    ]
    if app.get("warning"):
        lines.append(f"WARNING     {app['warning']}")
    return lines


def cmd_assign(args: argparse.Namespace) -> int:
    """``roadopt assign``: solve the equilibrium, write flows and a summary."""
    from .outputs import write_flow_layer
    from .pipeline import run_assign
    from .progress import assignment_bar

    job = AssignJob(
        study=settings_of(args, StudySettings), assignment=settings_of(args, AssignSettings)
    )
    files = settings_of(args, AssignOutputSettings)
    study = open_job_study(job.study)
    net, demand = study.network, study.demand
    assert demand is not None  # open_job_study asks for a trips file otherwise
    readme = net.extra.get("readme_factors")
    a = job.assignment
    if readme and not hasattr(args, "toll_factor") and not hasattr(args, "distance_factor"):
        log.warning("note: %s", readme)
    with assignment_bar(a.method) as bar:
        _, result = run_assign(job, study=study, callback=bar)
    if files.out:
        write_flow_layer(net, result, files.out)
    summary = {
        "network": net.name,
        **result.summary(),
        "links": net.num_links,
        "zones": demand.num_zones,
        "total_demand": demand.total,
        "intrazonal_demand": demand.intrazonal,
    }
    if files.summary:
        _emit_json(summary, files.summary)
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


def cmd_optimize(args: argparse.Namespace) -> int:
    """``roadopt optimize``: the whole design job, its files and a summary."""
    from .documents import plan_document
    from .folders import output_folder
    from .outputs import write_plan_outputs
    from .pipeline import open_job_study, run_optimize
    from .progress import search_bar

    job = OptimizeJob(
        study=settings_of(args, StudySettings),
        calibration=settings_of(args, CalibrationSettings),
        costs=settings_of(args, CostSettings),
        candidates=settings_of(args, CandidateSettings),
        optimize=settings_of(args, OptimizeSettings),
        appraisal=settings_of(args, AppraisalSettings),
        output=settings_of(args, OutputSettings),
    )
    settings = job.document()
    out = job.output
    study = open_job_study(job.study)  # input errors before output-folder checks
    folder = output_folder(out.out, name=study.network.name, overwrite=out.overwrite, key=settings)
    with search_bar(f"optimize ({job.optimize.objective}, {job.optimize.method})") as bar:
        run = run_optimize(job, study=study, callback=bar)
    with folder.staged() as stage:
        write_plan_outputs(run, stage, settings=settings, report=out.report)
    if out.summary:
        _emit_json(plan_document(run, settings=settings), out.summary)
    if not settings_of(args, ConsoleSettings).quiet:
        print_plan_summary(run)
        print(f"outputs     {folder.path}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """``roadopt run``: run a scenario file or a bundled preset."""
    from .scenario import load_scenario, run_scenario_into

    opts = settings_of(args, RunSettings)
    sc = load_scenario(opts.scenario)
    result, folder = run_scenario_into(sc, out=opts.out, overwrite=opts.overwrite)
    if settings_of(args, ConsoleSettings).quiet:
        return 0
    if sc.command == "optimize":
        print_plan_summary(result)
    else:
        print(
            f"{sc.name}: {result.status}, relative gap {result.relative_gap:.3e}, "
            f"objective {result.objective:.10g}, TSTT {result.tstt:.10g}"
        )
    print(f"outputs     {folder}")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    """``roadopt presets``: list the bundled scenario files, or print one."""
    import tomllib

    from .scenario import preset_path, presets

    opts = settings_of(args, PresetsSettings)
    if opts.name is not None:
        path = preset_path(opts.name)
        if path is None:
            raise UsageError(
                f"no preset named {opts.name!r}; the presets are {', '.join(presets())}"
            )
        print(path.read_text(encoding="utf-8"), end="")
        return 0
    online = {"place", "bbox", "polygon"}
    for name in presets():
        path = preset_path(name)
        assert path is not None
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        net = doc.get("network", {})
        source = net.get("source") or ("place" if "query" in net else "file")
        where = "needs the internet" if source in online or "bbox" in net else "offline"
        print(f"{name:16s} {doc.get('command', 'optimize'):9s} {where:18s} {doc.get('title', '')}")
    print("run one with: roadopt run NAME   (print it to edit: roadopt presets NAME)")
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    """``roadopt batch``: run a sweep, skipping finished scenarios."""
    from .batch import load_sweep, run_batch

    opts = settings_of(args, BatchSettings)
    cases, _ = load_sweep(opts.sweep)
    out = opts.out or str(Path(opts.sweep).with_suffix(""))
    log.info(
        "batch: %d scenarios from %s into %s (%s executor)",
        len(cases),
        opts.sweep,
        out,
        opts.executor,
    )
    res = run_batch(
        cases,
        out,
        executor=opts.executor,
        workers=opts.workers,
        scheduler=opts.scheduler,
        timeout=opts.timeout,
    )
    if not settings_of(args, ConsoleSettings).quiet:
        print(
            f"batch       {res['scenarios']} scenarios: {res['ran']} ran, {res['skipped']} "
            f"already finished, {res['errors']} failed, {res['seconds']:.1f} s"
        )
        print(f"results     {Path(out) / 'results.csv'}")
    return 1 if res["errors"] else 0


_CONSOLE = (ConsoleSettings, None)
COMMANDS: dict[str, Command] = {
    "info": Command(
        "summarise a network and its demand",
        "Print nodes, links, zones, total and intrazonal demand and any warnings.",
        ((StudySettings, None), (InfoSettings, None), _CONSOLE),
        cmd_info,
    ),
    "assign": Command(
        "user-equilibrium traffic assignment",
        "Solve the static user equilibrium (BPR link costs) and report link flows, costs, "
        "gap and objective. Exit 0 when the run finished, converged or not (the status "
        "says).",
        ((StudySettings, None), (AssignSettings, None), (AssignOutputSettings, None), _CONSOLE),
        cmd_assign,
    ),
    "optimize": Command(
        "choose road upgrades within a budget",
        "Choose road upgrades (new links, widenings, class or speed upgrades) that minimise "
        "an objective at user equilibrium within a budget. Without NETWORK: the built-in "
        "region of small towns north of Bayreuth with its terrain, regional candidates, the "
        "access objective, 30% of the candidates' cost.",
        (
            (StudySettings, None),
            (CalibrationSettings, None),
            (CandidateSettings, None),
            (OptimizeSettings, None),
            (AppraisalSettings, None),
            (CostSettings, None),
            (OutputSettings, None),
            _CONSOLE,
        ),
        cmd_optimize,
    ),
    "run": Command(
        "run a scenario file (TOML)",
        "Run the assignment or optimization a scenario file describes; every output "
        "records the scenario and the version.",
        ((RunSettings, None), _CONSOLE),
        cmd_run,
    ),
    "presets": Command(
        "list the bundled scenario files (or print one)",
        "List the bundled scenario presets (name, command, whether they need the internet, "
        "title), or print one to copy and edit.",
        ((PresetsSettings, None), _CONSOLE),
        cmd_presets,
    ),
    "batch": Command(
        "run a sweep of scenarios (resumable)",
        "Run the product of a sweep file's [sweep] lists (and its [[network]] tables). "
        "Results go to OUT/results.csv and OUT/scenarios/<id>.json; re-running skips "
        "finished scenarios. Exit 1 when any scenario failed (after running the rest).",
        ((BatchSettings, None), _CONSOLE),
        cmd_batch,
    ),
}


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The ``roadopt`` parser: one subcommand per :data:`COMMANDS` entry."""
    parser = argparse.ArgumentParser(
        prog="roadopt",
        description="Road network design: networks from OSM or TNTP, equilibrium "
        "assignment, upgrade plans.",
        formatter_class=_Formatter,
        epilog="run 'roadopt COMMAND --help' for a command's options and examples",
    )
    parser.add_argument("--version", action="version", version=f"roadopt {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, cmd in COMMANDS.items():
        p = sub.add_parser(
            name,
            help=cmd.help,
            description=cmd.description,
            epilog=EXAMPLES[name],
            formatter_class=_Formatter,
        )
        for cls, only in cmd.sections:
            add_settings(p, cls, only=only)
        p.set_defaults(func=cmd.run)
    return parser


def _setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr, force=True)
    for noisy in ("numba", "matplotlib", "urllib3", "fiona", "pyogrio", "PIL", "pyrosm", "osmnx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _usage_text(exc: UsageError, command: str) -> str:
    """An option error in the command line's own words (``--gap``, not ``rgap``)."""
    if isinstance(exc, OptionError):
        f = COMMANDS[command].fields().get(exc.option)
        if f is not None:
            return f"{f.option}: {exc.detail}"
    return str(exc)


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
        print(f"roadopt {args.command}: error: {_usage_text(exc, args.command)}", file=sys.stderr)
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
