"""Command line: ``python -m benchmarks assignment [--cases ...] [--methods ...] ...``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

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
    r = sub.add_parser(
        "summary",
        help="re-render summary.md from an assignment.json",
        description="Write the Markdown tables again from a run's assignment.json.",
    )
    r.add_argument("json", help="an assignment.json written by a run")
    r.add_argument("--out", help="folder for summary.md (default: beside the JSON)")
    return p


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
    if args.suite == "summary":
        import json
        from pathlib import Path

        from networks._io import atomic_write_text

        from .assignment import summary_markdown

        src = Path(args.json)
        text = summary_markdown(json.loads(src.read_text(encoding="utf-8")))
        atomic_write_text(Path(args.out or src.parent) / "summary.md", text)
        print(text)
        return 0
    return 2
