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
from typing import Any

import numpy as np

from networks.errors import RoadoptError

from .errors import UsageError

log = logging.getLogger("roadopt")

EXAMPLES = {
    "info": """examples:
  roadopt info                        the built-in example
  roadopt info SiouxFalls             a dataset, by name
  roadopt info path/to/X_net.tntp     a TNTP file (X_trips.tntp beside it is found)
  roadopt info X_net.tntp --json      machine-readable""",
}


# ---------------------------------------------------------------------- helpers
class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def _add_common(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("-v", "--verbose", action="store_true", help="debug logging; tracebacks")
    g.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")


def _add_network_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "network",
        nargs="?",
        metavar="NETWORK",
        help="an existing network file or a dataset name (default: the built-in example)",
    )
    p.add_argument("--trips", metavar="FILE", help="OD trips file (default: by naming rule)")


def open_network(source: str | None, trips: str | None = None, *, need_demand: bool = True):
    """Resolve the CLI's NETWORK argument: nothing (built-in), a file, or a dataset name."""
    from networks import datasets, synthetic

    if source is None:
        if trips is not None:
            raise UsageError("--trips needs a NETWORK")
        return synthetic.grid(6, 6, seed=0)
    net, demand = datasets.load(source, trips=trips)
    if demand is None and need_demand:
        raise UsageError(
            f"no trips file found for {source} by the _net/_trips naming rule; "
            "give one with --trips FILE"
        )
    return net, demand


def _emit_json(obj: Any, path: str | None) -> None:
    from networks._io import atomic_write_text

    text = json.dumps(obj, indent=2, default=_json_default) + "\n"
    if path in (None, "-"):
        sys.stdout.write(text)
    else:
        atomic_write_text(path, text)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot serialise {type(o).__name__}")


# ---------------------------------------------------------------------- commands
def cmd_info(args: argparse.Namespace) -> int:
    net, demand = open_network(args.network, args.trips, need_demand=False)
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


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roadopt",
        description="Road network design: networks from OSM or TNTP, equilibrium "
        "assignment, upgrade plans.",
        formatter_class=_Formatter,
        epilog="run 'roadopt COMMAND --help' for a command's options and examples",
    )
    parser.add_argument("--version", action="version", version=f"roadopt {_version()}")
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
    return parser


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("roadopt")
    except Exception:
        return "unknown"


def _setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr, force=True)
    for noisy in ("numba", "matplotlib", "urllib3", "fiona", "pyogrio", "PIL"):
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
