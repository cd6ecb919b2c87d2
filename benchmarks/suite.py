"""Every suite in one run: ``python -m benchmarks all [--smoke]``.

Runs the suites of :data:`SUITES` in order (assignment, dndp, design-osm, scale), each
writing its own JSON and Markdown into the output folder, then writes ``summary.md``: a
table of every suite's targets followed by each suite's own tables. A suite that fails is
reported and the others still run.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from networks._io import atomic_write_text

from .assignment import DEFAULT_OUT

__all__ = ["SUITES", "combined_markdown", "render", "run_all"]

log = logging.getLogger(__name__)

#: Suite name -> its JSON file (the Markdown file has the same stem, except assignment's).
SUITES: dict[str, str] = {
    "assignment": "assignment.json",
    "dndp": "dndp.json",
    "design-osm": "design-osm.json",
    "scale": "scale.json",
}


def _markdown_of(suite: str) -> Callable[[dict[str, Any]], str]:
    if suite == "assignment":
        from .assignment import summary_markdown
    elif suite == "dndp":
        from .dndp import summary_markdown
    elif suite == "design-osm":
        from .design_osm import summary_markdown
    elif suite == "scale":
        from .scale import summary_markdown
    else:
        raise KeyError(f"unknown suite {suite!r}; suites: {', '.join(SUITES)}")
    return summary_markdown


def render(result: dict[str, Any]) -> str:
    """The Markdown of any suite's result dict (its ``suite`` key says which)."""
    return _markdown_of(result.get("suite", "assignment"))(result)


def _run_suite(suite: str, *, smoke: bool, out: Path, opts: dict[str, Any]) -> dict[str, Any]:
    wait_idle = opts.get("wait_idle", 0.0)
    retries = opts.get("retries", 0)
    threads = opts.get("threads")
    if suite == "assignment":
        from . import assignment

        res = assignment.run(
            smoke=smoke,
            out=out,
            wait_idle=wait_idle,
            retries=retries,
            threads=threads,
            peer=opts.get("peer"),
        )
        # a standalone assignment run calls its tables summary.md; here that name is the
        # combined report's
        atomic_write_text(out / "assignment.md", assignment.summary_markdown(res))
        return res
    if suite == "dndp":
        from . import dndp

        return dndp.run(
            smoke=smoke,
            out=out,
            verify=opts.get("verify"),
            large=opts.get("large", True),
            wait_idle=wait_idle,
            retries=retries,
            threads=threads,
        )
    if suite == "design-osm":
        from . import design_osm

        return design_osm.run(
            smoke=smoke, out=out, wait_idle=wait_idle, retries=retries, threads=threads
        )
    if suite == "scale":
        from . import scale

        return scale.run(smoke=smoke, out=out, wait_idle=wait_idle, threads=threads)
    raise KeyError(f"unknown suite {suite!r}; suites: {', '.join(SUITES)}")


def run_all(
    *,
    smoke: bool = False,
    out: str | Path | None = None,
    suites: Sequence[str] | None = None,
    verify: str | bool | None = None,
    large: bool = True,
    peer: bool | None = None,
    wait_idle: float = 0.0,
    retries: int = 0,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run the suites (default: all) into ``out`` and write the combined ``summary.md``.

    ``verify`` and ``large`` go to the dndp suite (``large=False`` skips its
    twenty-candidate cases, which take up to 600 s each: run them with ``dndp --no-small``);
    ``peer`` to the assignment suite.

    Returns ``{"suites": {name: result or {"error": ...}}, "seconds": ..., ...}``.
    """
    names = list(suites) if suites else list(SUITES)
    bad = [s for s in names if s not in SUITES]
    if bad:
        raise KeyError(f"unknown suite(s) {', '.join(bad)}; suites: {', '.join(SUITES)}")
    out_dir = Path(out) if out is not None else DEFAULT_OUT
    out_dir.mkdir(parents=True, exist_ok=True)
    opts = {
        "verify": verify,
        "large": large,
        "peer": peer,
        "wait_idle": wait_idle,
        "retries": retries,
        "threads": threads,
    }
    created = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    results: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    t_all = time.perf_counter()
    for name in names:
        log.info("suite %s%s", name, " (smoke)" if smoke else "")
        t0 = time.perf_counter()
        try:
            results[name] = _run_suite(name, smoke=smoke, out=out_dir, opts=opts)
        except Exception as exc:  # one failed suite does not stop the others
            log.exception("suite %s failed", name)
            results[name] = {"suite": name, "error": f"{type(exc).__name__}: {exc}"}
        seconds[name] = time.perf_counter() - t0
    combined = {
        "created": created,
        "smoke": smoke,
        "suites": results,
        "seconds": seconds,
        "total_seconds": time.perf_counter() - t_all,
    }
    atomic_write_text(out_dir / "summary.md", combined_markdown(combined))
    atomic_write_text(
        out_dir / "all.json",
        json.dumps(
            {
                "created": created,
                "smoke": smoke,
                "seconds": seconds,
                "total_seconds": combined["total_seconds"],
                "files": {n: SUITES[n] for n in names if "error" not in results[n]},
                "errors": {n: r["error"] for n, r in results.items() if "error" in r},
            },
            indent=1,
        )
        + "\n",
    )
    return combined


def _demote(md: str) -> str:
    """Headings one level down, so that a suite's report nests under the combined one."""
    return "\n".join("#" + line if line.startswith("#") else line for line in md.splitlines())


def _target_rows(name: str, res: dict[str, Any]) -> list[str]:
    measured = _measured_of(name)
    return [
        f"| {name} | {t.get('text', t.get('id'))} | {measured(t)} | {t['status']} |"
        for t in res.get("targets", [])
    ]


def _generic_measured(t: dict[str, Any]) -> str:
    v = t.get("value")
    if v is None:
        return t.get("note", "")
    text = f"{v:.3g}" if isinstance(v, float) else str(v)
    where = t.get("where") or ""
    return f"{text} ({where})" if where else text


def _measured_of(suite: str) -> Callable[[dict[str, Any]], str]:
    if suite == "dndp":
        from .dndp import measured_text
    elif suite == "design-osm":
        from .design_osm import measured_text
    elif suite == "scale":
        from .scale import measured_text
    else:
        return _generic_measured
    return measured_text


def combined_markdown(combined: dict[str, Any]) -> str:
    """One report: every suite's targets, then every suite's tables."""
    lines = [
        "# roadopt benchmarks",
        "",
        f"Run {combined['created']}{' (smoke mode: tiny sizes and limits, not for numbers)' if combined['smoke'] else ''}; "
        + ", ".join(f"{n} {s:.0f} s" for n, s in combined["seconds"].items())
        + f"; {combined['total_seconds']:.0f} s in all. Per-suite JSON and Markdown lie beside "
        "this file.",
        "",
        "## Targets",
        "",
        "| suite | target | measured | verdict |",
        "|---|---|---|---|",
    ]
    for name, res in combined["suites"].items():
        if "error" in res:
            lines.append(f"| {name} | the suite ran | {res['error']} | failed |")
            continue
        lines += _target_rows(name, res)
    for name, res in combined["suites"].items():
        lines += ["", ""]
        if "error" in res:
            lines += [f"## {name}", "", f"Failed: {res['error']}"]
            continue
        lines.append(_demote(render(res)))
    return "\n".join(lines) + "\n"
