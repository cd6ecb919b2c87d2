"""Command line: ``python -m benchmarks {assignment,dndp,design-osm,scale,all,summary} ...``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]


def _csv(text: str) -> list[str]:
    return [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]


def _gaps(text: str) -> list[float]:
    try:
        vals = [float(p) for p in _csv(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"gaps must be numbers such as 1e-4,1e-6: {text!r}"
        ) from None
    if not vals or any(not (0 < v < 1) for v in vals):
        raise argparse.ArgumentTypeError(f"gaps must lie between 0 and 1: {text!r}")
    return vals


def _methods(text: str) -> list[str]:
    from optimizer.assignment import METHODS

    names = [m.lower() for m in _csv(text)]
    bad = [m for m in names if m not in METHODS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown method(s) {', '.join(bad) or text!r}; choose from {', '.join(METHODS)}"
        )
    return names


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="roadopt benchmarks. Results go to benchmarks/results/ unless --out says "
        "otherwise.",
    )
    sub = p.add_subparsers(dest="suite", required=True)
    a = sub.add_parser(
        "assignment",
        help="equilibrium assignment: time to target gaps, in seconds and scipy passes",
        description="Time every case and method to each target relative gap (one solve per "
        "method), against one scipy Dijkstra pass; optionally AequilibraE bfw as a peer.",
    )
    a.add_argument("--cases", type=_csv, help="comma-separated case names (default: all)")
    a.add_argument(
        "--methods", type=_methods, help="comma-separated: msa,fw,cfw,bfw,bush (default: all)"
    )
    a.add_argument("--gaps", type=_gaps, help="target gaps, e.g. 1e-4,1e-6,1e-10")
    a.add_argument("--time-limit", type=float, help="seconds per solve (default 60; --smoke: 20)")
    a.add_argument("--smoke", action="store_true", help="every case once, small, loose gaps")
    a.add_argument("--out", help="output folder (default benchmarks/results)")
    peer = a.add_mutually_exclusive_group()
    peer.add_argument(
        "--peer",
        dest="peer",
        action="store_true",
        default=None,
        help="run AequilibraE bfw where installed (default, except with --smoke)",
    )
    peer.add_argument("--no-peer", dest="peer", action="store_false", help="skip AequilibraE")
    a.add_argument(
        "--peer-time-limit", type=float, help="seconds for AequilibraE per case (default 120)"
    )
    a.add_argument("--peer-cores", type=int, help="AequilibraE threads (default: all cores)")
    a.add_argument("--repeats", type=int, help="timed runs of the scipy unit and AON (>= 5)")
    a.add_argument(
        "--exhaustive",
        action="store_true",
        help="ask every method for the tightest gap (default: link-based methods stop at 1e-6, "
        "msa at 1e-4)",
    )
    a.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each measurement wait up to S seconds for other processes to go idle",
    )
    a.add_argument(
        "--retries",
        type=int,
        default=0,
        metavar="N",
        help="redo a measurement up to N times while other processes kept the cores busy",
    )
    a.add_argument("--threads", type=int, help="numba threads for our kernels (default: all)")
    a.add_argument("-q", "--quiet", action="store_true", help="only warnings")
    _design_parsers(sub)
    r = sub.add_parser(
        "summary",
        help="re-render the Markdown tables from a suite's JSON",
        description="Write the Markdown tables again from a run's JSON (assignment.json -> "
        "summary.md; dndp.json -> dndp.md; design-osm.json -> design-osm.md; scale.json -> "
        "scale.md).",
    )
    r.add_argument("json", help="a JSON file written by a run")
    r.add_argument("--out", help="folder for the Markdown (default: beside the JSON)")
    return p


def _shared_options(a: argparse.ArgumentParser, *, retries: bool = True) -> None:
    a.add_argument("--smoke", action="store_true", help="every case once, smallest, tiny limits")
    a.add_argument("--out", help="output folder (default benchmarks/results)")
    a.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each measurement wait up to S seconds for other processes to go idle",
    )
    if retries:
        a.add_argument(
            "--retries",
            type=int,
            default=0,
            metavar="N",
            help="redo a measurement up to N times while other processes kept the cores busy",
        )
    a.add_argument("--threads", type=int, help="numba threads for our kernels (default: all)")
    a.add_argument("-q", "--quiet", action="store_true", help="only warnings")


def _floats(text: str) -> list[float]:
    try:
        return [float(p) for p in _csv(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers such as 0.25,0.5: {text!r}") from None


def _ints(text: str) -> list[int]:
    try:
        return [int(float(p.replace("_", ""))) for p in _csv(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected whole numbers such as 1000,3000: {text!r}"
        ) from None


def _design_parsers(sub: Any) -> None:
    d = sub.add_parser(
        "dndp",
        help="Rey (2020) DNDP instances on Sioux Falls: bnb against published optima",
        description="Rey's ten-candidate instances at budgets of 25/50/75%% (bnb, 60 s each) "
        "against the published best TSTT, optionally verified by complete enumeration, and "
        "twenty-candidate instances merged from two files (600 s each).",
    )
    d.add_argument("--instances", type=_csv, help="e.g. 10_1,10_6 (default: all ten)")
    d.add_argument("--budgets", type=_floats, help="budget shares (default 0.25,0.5,0.75)")
    d.add_argument("--time-limit", type=float, help="seconds per ten-candidate case (default 60)")
    d.add_argument(
        "--verify",
        nargs="?",
        const="all",
        default=None,
        choices=("all", "some", "none"),
        help="complete enumeration too: all cases (bare --verify), some (default: 10_1, 10_6) "
        "or none",
    )
    d.add_argument("--no-large", dest="large", action="store_false", help="skip 20 candidates")
    d.add_argument(
        "--no-small", dest="small", action="store_false", help="only the 20-candidate cases"
    )
    d.add_argument("--pairs", type=_csv, help="merged instances, e.g. 10_1+10_5,10_2+10_7")
    d.add_argument(
        "--large-time-limit", type=float, help="seconds per twenty-candidate case (default 600)"
    )
    _shared_options(d)

    o = sub.add_parser(
        "design-osm",
        help="connectivity plans on OSM areas: bnb vs enumeration and vs greedy",
        description="The built-in town and West-Oakland with generated candidates: bnb against "
        "complete enumeration (10-12 candidates) and against the greedy baseline (20-30).",
    )
    o.add_argument("--areas", type=_csv, help="town,West-Oakland (default: both)")
    o.add_argument("--exact-sizes", type=_ints, help="max_candidates checked by enumeration")
    o.add_argument("--baseline-sizes", type=_ints, help="max_candidates checked against greedy")
    o.add_argument("--budget-share", type=float, default=0.3, help="default 0.3")
    o.add_argument("--time-limit", type=float, help="seconds per bnb of the baseline check")
    _shared_options(o)

    c = sub.add_parser(
        "scale",
        help="generated regions from 1,000 to 200,000 links: time, memory, exponent",
        description="region(links) with OSM-style demand; bfw to 1e-4 and bush to 1e-6, each "
        "in a fresh subprocess (peak memory); fitted exponents and scale.png; the Berlin-size "
        "memory target.",
    )
    c.add_argument("--sizes", type=_ints, help="links, e.g. 1000,10000 (default: 1e3 ... 2e5)")
    c.add_argument("--zones", type=int, help="internal zones (default: zoning's, at most 50)")
    c.add_argument("--time-limit", type=float, help="seconds per solve (default 600)")
    c.add_argument("--no-berlin", dest="berlin", action="store_false", help="skip Berlin size")
    c.add_argument("--berlin-time-limit", type=float, help="seconds (default 1800)")
    _shared_options(c, retries=False)

    al = sub.add_parser(
        "all",
        help="every suite, one summary.md",
        description="assignment, dndp, design-osm and scale into one folder, with a combined "
        "summary.md (targets first).",
    )
    al.add_argument("--suites", type=_csv, help="a subset, e.g. dndp,scale (default: all)")
    al.add_argument(
        "--verify",
        nargs="?",
        const="all",
        default=None,
        choices=("all", "some", "none"),
        help="dndp: complete enumeration of all cases (bare --verify), some or none",
    )
    al.add_argument(
        "--no-large",
        dest="large",
        action="store_false",
        help="dndp: skip the 20-candidate cases (up to 600 s each; run them with dndp --no-small)",
    )
    al.add_argument(
        "--no-peer", dest="peer", action="store_false", default=None, help="skip AequilibraE"
    )
    _shared_options(al)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.suite == "assignment":
        from . import assignment

        logging.basicConfig(
            level=logging.WARNING if args.quiet else logging.INFO,
            format="%(asctime)s %(name)s: %(message)s",
            datefmt="%H:%M:%S",
            stream=sys.stderr,
        )
        for noisy in ("optimizer", "numexpr", "aequilibrae"):
            logging.getLogger(noisy).setLevel(logging.WARNING)

        try:
            result = assignment.run(
                args.cases,
                methods=args.methods,
                gaps=args.gaps,
                time_limit=args.time_limit,
                smoke=args.smoke,
                out=args.out,
                peer=args.peer,
                peer_time_limit=args.peer_time_limit,
                peer_cores=args.peer_cores,
                repeats=args.repeats,
                exhaustive=args.exhaustive,
                wait_idle=args.wait_idle,
                retries=args.retries,
                threads=args.threads,
            )
        except KeyError as exc:
            print(exc.args[0], file=sys.stderr)
            return 2
        failed = [c["case"] for c in result["cases"] if "error" in c]
        print(assignment.summary_markdown(result))
        if failed:
            print(f"failed cases: {', '.join(failed)}", file=sys.stderr)
            return 1
        return 0
    if args.suite in ("dndp", "design-osm", "scale", "all"):
        _logging(args.quiet)
        return _design_main(args)
    if args.suite == "summary":
        import json
        from pathlib import Path

        from networks._io import atomic_write_text

        from .suite import render

        src = Path(args.json)
        result = json.loads(src.read_text(encoding="utf-8"))
        text = render(result)
        suite = result.get("suite", "assignment")
        name = "summary.md" if suite == "assignment" else f"{suite}.md"
        atomic_write_text(Path(args.out or src.parent) / name, text)
        print(text)
        return 0
    return 2


def _logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("optimizer", "numexpr", "aequilibrae", "networks", "pyrosm"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _failed(result: dict) -> list[str]:
    """Cases of a design/scale result that ended in an error."""
    out = []
    for key in ("cases", "large", "sizes"):
        for c in result.get(key) or []:
            if "error" in c:
                out.append(str(c.get("instance") or c.get("area") or c.get("case")))
            for s in c.get("solves", []) if isinstance(c, dict) else []:
                if "error" in s:
                    out.append(f"{c.get('links_asked')} {s.get('method')}")
            if isinstance(c, dict) and "error" in c.get("build", {}):
                out.append(f"{c.get('links_asked')} build")
    return out


def _design_main(args: argparse.Namespace) -> int:
    from .suite import combined_markdown, render, run_all

    common = {
        "smoke": args.smoke,
        "out": args.out,
        "wait_idle": args.wait_idle,
        "threads": args.threads,
    }
    try:
        if args.suite == "dndp":
            from . import dndp

            pairs = None
            if args.pairs:
                pairs = [dndp.parse_pair(p) for p in args.pairs]
            result = dndp.run(
                args.instances,
                budgets=args.budgets,
                time_limit=args.time_limit,
                verify=args.verify,
                large=args.large,
                small=args.small,
                pairs=pairs,
                large_time_limit=args.large_time_limit,
                retries=args.retries,
                **common,
            )
        elif args.suite == "design-osm":
            from . import design_osm

            result = design_osm.run(
                args.areas,
                exact_sizes=args.exact_sizes,
                baseline_sizes=args.baseline_sizes,
                budget_share=args.budget_share,
                time_limit=args.time_limit,
                retries=args.retries,
                **common,
            )
        elif args.suite == "scale":
            from . import scale

            result = scale.run(
                args.sizes,
                zones=args.zones,
                time_limit=args.time_limit,
                berlin=args.berlin,
                berlin_time_limit=args.berlin_time_limit,
                **common,
            )
        else:
            combined = run_all(
                suites=args.suites,
                verify=args.verify,
                large=args.large,
                peer=args.peer,
                retries=args.retries,
                **common,
            )
            print(combined_markdown(combined))
            failed = [n for n, r in combined["suites"].items() if "error" in r]
            for n, r in combined["suites"].items():
                if "error" not in r and n != "assignment":
                    failed += [f"{n}: {c}" for c in _failed(r)]
                elif n == "assignment" and "error" not in r:
                    failed += [f"assignment: {c['case']}" for c in r["cases"] if "error" in c]
            if failed:
                print(f"failed: {', '.join(failed)}", file=sys.stderr)
                return 1
            return 0
    except (KeyError, ValueError, FileNotFoundError) as exc:
        print(exc.args[0] if exc.args else str(exc), file=sys.stderr)
        return 2
    print(render(result))
    failed = _failed(result)
    if failed:
        print(f"failed cases: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
