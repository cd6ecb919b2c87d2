"""The scale suite: equilibrium time and memory on generated regions from 1,000 to 200,000 links.

For each size the runner

1. **builds** the network (:func:`networks.synthetic.region`, seed 1) and an
   OpenStreetMap-style demand for it (:func:`networks.zoning.demand_model`, seed 0: k-means
   zones weighted by road length, gateways on the primary corridors, a gravity model),
   timing both, in a fresh subprocess that stores them for the solves;
2. runs **each solve in its own fresh subprocess** (``assign(method="bfw", rgap=1e-4)``
   and ``assign(method="bush", rgap=1e-6)``, each with a time limit), so that every solve's
   peak memory is its own: the subprocess's peak resident set (``VmHWM``) over its whole
   life (*process peak*: Python, numba, the network and demand, the solve) and the growth
   of the resident set during the solve alone (*solve peak*: ``VmHWM`` reset before the
   solve, minus the resident set before it);
3. fits the **exponent** of time against links (least squares on log-log, over the sizes
   whose solve converged) and draws ``scale.png`` (matplotlib, Agg) with the fitted lines.

The **Berlin-size memory target** (the assignment issue): a network the size of
Berlin-Center (28,376 links, 865 zones) must solve to a relative gap of 1e-6 within 2 GB.
It is generated with ``region(28376, zones=865)`` and the region's own gravity demand
(300 trips per zone, heavily congested) and solved with ``bush`` in a fresh subprocess;
its process peak is the figure checked.

Every solve also records the cores other processes kept busy (*others' load*), measured
inside the subprocess. :func:`run` writes ``scale.json``, ``scale.md`` and ``scale.png``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import math
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from networks._io import atomic_path

from . import measure
from .assignment import DEFAULT_OUT, NOISY_LOAD, _finite, _fmt_load, _fmt_s, write_result

__all__ = ["BERLIN", "METHODS", "SIZES", "fit_exponent", "run", "summary_markdown"]

log = logging.getLogger(__name__)

#: Links of the scale series (full run); smoke: the first.
SIZES: tuple[int, ...] = (1_000, 3_000, 10_000, 30_000, 100_000, 200_000)
#: (method, target relative gap) of the solves at every size.
METHODS: tuple[tuple[str, float], ...] = (("bfw", 1e-4), ("bush", 1e-6))
#: Seconds per solve (full run); smoke: SMOKE_TIME_LIMIT.
TIME_LIMIT = 600.0
SMOKE_TIME_LIMIT = 30.0
#: Seconds the subprocess may take beyond its solve's limit (start-up, reading, set-up).
OVERHEAD_S = 600.0
#: The Berlin-Center memory target: links, zones, target gap, memory cap (GB), time limit.
BERLIN: dict[str, Any] = {
    "links": 28_376,
    "zones": 865,
    "rgap": 1e-6,
    "memory_gb": 2.0,
    "time_limit": 1800.0,
    "reference": "Berlin-Center (TNTP): 12,981 nodes, 28,376 links, 865 zones",
}
SMOKE_BERLIN = {"links": 2_000, "zones": 60, "time_limit": 30.0}
SEED_NETWORK = 1
SEED_DEMAND = 0


# ---------------------------------------------------------------------- subprocess jobs
def _vm(key: str) -> float | None:
    """A ``/proc/self/status`` memory field in MB (Linux), else None."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _peak_mb() -> float:
    hwm = _vm("VmHWM")
    if hwm is not None:
        return hwm
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover


def _job_build(job: dict[str, Any]) -> dict[str, Any]:
    """Generate the network and its demand; store them (pickle) for the solves."""
    from networks import synthetic, zoning

    t0 = time.perf_counter()
    kw = {"zones": job["zones"]} if job.get("zones") and job["demand"] == "region" else {}
    if job["demand"] == "region" and job.get("trips_per_zone") is not None:
        kw["trips_per_zone"] = job["trips_per_zone"]
    net, dem = synthetic.region(job["links"], seed=SEED_NETWORK, **kw)
    t_net = time.perf_counter() - t0
    t_dem = None
    info: dict[str, Any] = {}
    road_links = net.num_links
    if job["demand"] == "zoning":
        t0 = time.perf_counter()
        model = zoning.demand_model(net, seed=SEED_DEMAND, zones=job.get("zones"))
        t_dem = time.perf_counter() - t0
        net, dem = model.network, model.demand  # the demand loads at the zones' centroids
        info = {
            "internal_zones": int(model.zones.num_zones),
            "gateways": int(model.gateways.num_gateways),
        }
    with atomic_path(job["store"]) as tmp, open(tmp, "wb") as fh:
        pickle.dump((net, dem), fh, protocol=pickle.HIGHEST_PROTOCOL)
    return {
        "nodes": net.num_nodes,
        "links": road_links,
        "connectors": net.num_links - road_links,
        "zones": int(dem.num_zones),
        "od_pairs": int(np.count_nonzero(dem.dense()) if dem.num_zones <= 3000 else -1),
        "trips": float(dem.total),
        "network_seconds": t_net,
        "demand_seconds": t_dem,
        "process_peak_mb": _peak_mb(),
        **info,
    }


def _job_solve(job: dict[str, Any]) -> dict[str, Any]:
    """One equilibrium solve of the stored network and demand."""
    from networks.synthetic import braess
    from optimizer import _kernels as K
    from optimizer import assign

    if job.get("threads"):
        K.set_threads(int(job["threads"]))
    K.warmup()
    tiny, tiny_dem = braess()
    assign(tiny, tiny_dem, method=job["method"], rgap=1e-6, max_iter=20)
    with open(job["store"], "rb") as fh:
        net, dem = pickle.load(fh)
    loaded_peak = _peak_mb()
    rss_before = _vm("VmRSS")
    with measure.OtherLoad() as load, measure.PeakMemory() as mem:
        t0 = time.perf_counter()
        r = assign(
            net,
            dem,
            method=job["method"],
            rgap=job["rgap"],
            time_limit=job["time_limit"],
        )
        wall = time.perf_counter() - t0
    solve_hwm = _peak_mb()
    h = r.history
    per_it = np.diff(h.seconds)
    return {
        "method": r.method,
        "target_gap": job["rgap"],
        "status": str(r.status),
        "final_gap": float(r.relative_gap),
        "iterations": int(r.iterations),
        "seconds": float(r.seconds),
        "wall_seconds": wall,
        "setup_seconds": max(0.0, wall - float(r.seconds)),
        "seconds_per_iteration": float(np.median(per_it)) if per_it.size else None,
        "objective": float(r.objective),
        "process_peak_mb": max(loaded_peak, solve_hwm),
        "solve_peak_mb": mem.peak_bytes / 2**20,
        "rss_before_mb": rss_before,
        "memory_method": mem.method,
        "other_load_cores": load.cores,
        "threads": K.threads(),
        "overloaded_links": float(np.mean(r.flow > net.capacity)),
        "max_vc": float(np.max(r.flow / net.capacity)),
    }


def _worker(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scale")
    p.add_argument("--job", required=True)
    args = p.parse_args(argv)
    job = json.loads(Path(args.job).read_text(encoding="utf-8"))
    fn = {"build": _job_build, "solve": _job_solve}[job["kind"]]
    out = fn(job)
    with atomic_path(job["result"]) as tmp:
        tmp.write_text(json.dumps(_finite(out)), encoding="utf-8")
    return 0


def _spawn(job: dict[str, Any], workdir: Path, *, timeout: float) -> dict[str, Any]:
    """Run one job in a fresh Python process; its result dict, or ``{"error": ...}``."""
    tag = f"{job['kind']}-{job.get('links')}-{job.get('method', 'x')}-{time.monotonic_ns()}"
    job = {**job, "result": str(workdir / f"{tag}.result.json")}
    job_file = workdir / f"{tag}.job.json"
    job_file.write_text(json.dumps(job), encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    commit = measure.git_commit()  # the code the fresh process imports
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.scale", "--job", str(job_file)],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"the subprocess ran past {timeout:.0f} s and was stopped"}
    wall = time.perf_counter() - t0
    res = Path(job["result"])
    if proc.returncode != 0 or not res.is_file():
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: {' | '.join(tail)}", "process_seconds": wall}
    out = json.loads(res.read_text(encoding="utf-8"))
    out["process_seconds"] = wall
    out["git_commit"] = commit
    return out


# ---------------------------------------------------------------------- fits and plot
def fit_exponent(links: Sequence[float], seconds: Sequence[float]) -> dict[str, Any] | None:
    """Least-squares fit of ``log(seconds) = log(c) + k log(links)``: ``k``, ``c``, points."""
    x = np.asarray(links, dtype=float)
    y = np.asarray(seconds, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        return None
    lx, ly = np.log(x[ok]), np.log(y[ok])
    k, logc = np.polyfit(lx, ly, 1)
    pred = logc + k * lx
    ss_res = float(np.sum((ly - pred) ** 2))
    ss_tot = float(np.sum((ly - ly.mean()) ** 2))
    return {
        "exponent": float(k),
        "coefficient": float(math.exp(logc)),
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else None,
        "points": int(ok.sum()),
        "links": x[ok].tolist(),
    }


def _series(result: dict[str, Any]) -> dict[str, tuple[list[float], list[float]]]:
    """Per quantity: the (links, seconds) points that enter the fit."""
    out: dict[str, tuple[list[float], list[float]]] = {}
    for rec in result["sizes"]:
        b = rec.get("build", {})
        if b.get("demand_seconds") is not None:
            out.setdefault("demand model", ([], []))
            out["demand model"][0].append(b["links"])
            out["demand model"][1].append(b["demand_seconds"])
        for s in rec.get("solves", []):
            if "error" in s or s.get("status") != "converged":
                continue
            key = f"{s['method']} to {s['target_gap']:.0e}"
            out.setdefault(key, ([], []))
            out[key][0].append(b["links"])
            out[key][1].append(s["seconds"])
    return out


def _plot(result: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return False
    fig, ax = plt.subplots(figsize=(7.0, 4.8), dpi=120)
    markers = iter("osD^v<>")
    for key, (x, y) in _series(result).items():
        if not x:
            continue
        m = next(markers, "o")
        pts = ax.loglog(x, y, m, label=None)[0]
        fit = result["fits"].get(key)
        if fit:
            xs = np.geomspace(min(x), max(x), 50)
            ax.loglog(
                xs,
                fit["coefficient"] * xs ** fit["exponent"],
                "-",
                color=pts.get_color(),
                label=f"{key}: time ∝ links^{fit['exponent']:.2f}",
            )
        else:
            pts.set_label(key)
    ax.set_xlabel("links")
    ax.set_ylabel("seconds")
    ax.set_title("Generated regions: time against size (log-log, least-squares fits)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return True


# ---------------------------------------------------------------------- the suite
def run(
    sizes: Sequence[int] | None = None,
    *,
    methods: Sequence[tuple[str, float]] | None = None,
    zones: int | None = None,
    time_limit: float | None = None,
    berlin: bool = True,
    berlin_time_limit: float | None = None,
    smoke: bool = False,
    out: str | Path | None = None,
    wait_idle: float = 0.0,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run the scale suite; write ``scale.json``, ``scale.md`` and ``scale.png`` into ``out``.

    Parameters
    ----------
    sizes
        Links of the generated regions (default :data:`SIZES`; smoke: 1,000).
    methods
        ``(method, rgap)`` pairs (default :data:`METHODS`).
    zones
        Internal zones of the demand model (default :func:`networks.zones.default_zone_count`,
        at most 50).
    time_limit
        Seconds per solve (default 600; smoke 30).
    berlin, berlin_time_limit
        Also run the Berlin-size memory target (default on; time limit 1,800 s; smoke: a
        2,000-link, 60-zone stand-in with 30 s).
    wait_idle
        Before each solve, wait up to this many seconds for idle cores.
    threads
        numba threads in the solves (default: all cores).
    """
    size_list = list(sizes) if sizes else ([SIZES[0]] if smoke else list(SIZES))
    method_list = list(methods) if methods else list(METHODS)
    time_limit = (
        time_limit if time_limit is not None else (SMOKE_TIME_LIMIT if smoke else TIME_LIMIT)
    )
    bspec = dict(BERLIN)
    if smoke:
        bspec.update(SMOKE_BERLIN)
    if berlin_time_limit is not None:
        bspec["time_limit"] = berlin_time_limit
    out_dir = Path(out) if out is not None else DEFAULT_OUT
    created = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    load_start = measure.load_average()
    commit_start = measure.git_commit()
    t_start = time.perf_counter()
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="roadopt-scale-") as tmp:
        work = Path(tmp)
        for n in size_list:
            rec = _size(
                n,
                work,
                demand="zoning",
                zones=zones,
                methods=method_list,
                time_limit=time_limit,
                wait_idle=wait_idle,
                threads=threads,
            )
            records.append(rec)
        berlin_rec = None
        if berlin:
            berlin_rec = _size(
                bspec["links"],
                work,
                demand="region",
                zones=bspec["zones"],
                methods=[("bush", bspec["rgap"])],
                time_limit=bspec["time_limit"],
                wait_idle=wait_idle,
                threads=threads,
            )
            berlin_rec["target"] = {
                k: bspec[k] for k in ("links", "zones", "rgap", "memory_gb", "reference")
            }
    result: dict[str, Any] = {
        "schema": 1,
        "suite": "scale",
        "created": created,
        "settings": {
            "sizes": size_list,
            "methods": [[m, g] for m, g in method_list],
            "zones": zones,
            "time_limit": time_limit,
            "berlin": berlin,
            "berlin_time_limit": bspec["time_limit"] if berlin else None,
            "smoke": smoke,
            "wait_idle": wait_idle,
            "threads": threads,
            "seed_network": SEED_NETWORK,
            "seed_demand": SEED_DEMAND,
        },
        "machine": measure.machine_info(load_average_start=load_start, commit_start=commit_start),
        "sizes": records,
        "berlin": berlin_rec,
    }
    fits = {}
    for key, (x, y) in _series(result).items():
        f = fit_exponent(x, y)
        if f is not None:
            fits[key] = f
    result["fits"] = fits
    result["seconds"] = time.perf_counter() - t_start
    result["targets"] = check_targets(result)
    result = _finite(result)
    out_dir.mkdir(parents=True, exist_ok=True)
    result["plot"] = "scale.png" if _plot(result, out_dir / "scale.png") else None
    write_result(out_dir, result, "scale.json", "scale.md", summary_markdown)
    return result


def _size(
    n: int,
    work: Path,
    *,
    demand: str,
    zones: int | None,
    methods: Sequence[tuple[str, float]],
    time_limit: float,
    wait_idle: float,
    threads: int | None,
) -> dict[str, Any]:
    store = work / f"region-{n}-{demand}.pickle"
    log.info("region %d links: building the network and its demand (%s)", n, demand)
    build = _spawn(
        {"kind": "build", "links": n, "zones": zones, "demand": demand, "store": str(store)},
        work,
        timeout=OVERHEAD_S + 3600,
    )
    rec: dict[str, Any] = {"links_asked": n, "demand": demand, "build": build, "solves": []}
    if "error" in build:
        log.error("region %d: build failed: %s", n, build["error"])
        return rec
    log.info(
        "region %d: %d nodes, %d links, %d zones; network %.2f s, demand model %s",
        n,
        build["nodes"],
        build["links"],
        build["zones"],
        build["network_seconds"],
        "-" if build["demand_seconds"] is None else f"{build['demand_seconds']:.2f} s",
    )
    for method, rgap in methods:
        if wait_idle > 0:
            measure.wait_until_quiet(wait_idle, threshold=NOISY_LOAD / 2)
        s = _spawn(
            {
                "kind": "solve",
                "links": n,
                "method": method,
                "rgap": rgap,
                "time_limit": time_limit,
                "threads": threads,
                "store": str(store),
            },
            work,
            timeout=time_limit + OVERHEAD_S,
        )
        s.setdefault("method", method)
        s.setdefault("target_gap", rgap)
        if "error" in s:
            log.error("region %d %s: %s", n, method, s["error"])
        else:
            log.info(
                "region %d %-4s -> %.0e: %s, gap %.2e after %d iterations, %.2f s; peak %.0f MB "
                "(solve %.0f MB)",
                n,
                method,
                rgap,
                s["status"],
                s["final_gap"],
                s["iterations"],
                s["seconds"],
                s["process_peak_mb"],
                s["solve_peak_mb"],
            )
        rec["solves"].append(s)
    store.unlink(missing_ok=True)
    return rec


# ---------------------------------------------------------------------- targets, Markdown
def check_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    b = result.get("berlin")
    if not b:
        rows.append({"id": "berlin-memory", "text": "Berlin-size memory", "status": "not run"})
    else:
        t = b["target"]
        s = (b.get("solves") or [{}])[0]
        text = (
            f"{t['links']:,} links, {t['zones']} zones solved to {t['rgap']:.0e} within "
            f"{t['memory_gb']:g} GB"
        )
        if "error" in s or "error" in b["build"]:
            rows.append(
                {
                    "id": "berlin-memory",
                    "text": text,
                    "status": "missed",
                    "note": s.get("error") or b["build"].get("error"),
                }
            )
        else:
            mem_ok = s["process_peak_mb"] <= t["memory_gb"] * 1024
            gap_ok = s["final_gap"] <= t["rgap"]
            rows.append(
                {
                    "id": "berlin-memory",
                    "text": text,
                    "value": s["process_peak_mb"],
                    "seconds": s["seconds"],
                    "final_gap": s["final_gap"],
                    "status": "met"
                    if mem_ok and gap_ok
                    else ("missed (gap not reached)" if mem_ok else "missed (memory)"),
                }
            )
    for key, f in result.get("fits", {}).items():
        rows.append(
            {
                "id": f"exponent-{key}",
                "text": f"exponent of {key} time against links",
                "value": f["exponent"],
                "status": f"{f['points']} sizes, r² {f['r2']:.3f}"
                if f.get("r2") is not None
                else f"{f['points']} sizes",
            }
        )
    return rows


def _mb(v: float | None) -> str:
    return "" if v is None else f"{v:,.0f}"


def summary_markdown(result: dict[str, Any]) -> str:
    st = result["settings"]
    mach = result["machine"]
    zone_text = "default zone count, at most 50" if st["zones"] is None else f"{st['zones']} zones"
    lines = [
        "# Scale series: generated regions",
        "",
        f"Run {result['created']}{' (smoke mode)' if st['smoke'] else ''} on {mach['cpu']} "
        f"({mach['cpus_usable']} usable cores, {mach['memory_gb']} GB), roadopt "
        f"{mach['versions'].get('roadopt')} ({mach.get('git_commit')}); "
        f"{result['seconds']:.0f} s in all.{_commits_note(result)}",
        "",
        "`region(links, seed=1)` with the OSM-style demand of `zoning.demand_model(net, seed=0)` "
        f"({zone_text} plus gateways). Each solve runs in a fresh subprocess, capped at "
        f"{st['time_limit']:g} s. *time*: the solver's algorithm time (set-up and compilation "
        "excluded; *set-up* is the rest of the call). *process peak*: the subprocess's peak "
        "resident memory over its life (interpreter, libraries, network, demand and solve); "
        "*solve peak*: what the solve added to the resident set. *overloaded*: share of links "
        "above capacity at the end.",
        "",
        "| links | nodes | zones | trips | network | demand model | build peak MB |",
        "|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for rec in result["sizes"]:
        b = rec["build"]
        if "error" in b:
            lines.append(f"| {rec['links_asked']:,} | error: {b['error']} ||||||")
            continue
        lines.append(
            f"| {b['links']:,} | {b['nodes']:,} | {b['zones']} | {b['trips']:,.0f} | "
            f"{_fmt_s(b['network_seconds'])} | {_fmt_s(b['demand_seconds'])} | "
            f"{_mb(b['process_peak_mb'])} |"
        )
    lines += [
        "",
        "| links | method | target | status | final gap | iterations | time | s / iteration | "
        "set-up | process peak MB | solve peak MB | overloaded | others' load |",
        "|--:|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for rec in result["sizes"]:
        links = rec["build"].get("links", rec["links_asked"])
        for s in rec["solves"]:
            lines.append(_solve_row(links, s))
    lines += ["", "## Fitted exponents (time ∝ links^k, converged solves only)", ""]
    if result.get("fits"):
        lines += ["| quantity | k | r² | sizes |", "|---|--:|--:|--:|"]
        for key, f in result["fits"].items():
            r2 = "" if f.get("r2") is None else f"{f['r2']:.3f}"
            lines.append(f"| {key} | **{f['exponent']:.2f}** | {r2} | {f['points']} |")
    else:
        lines.append("Too few converged sizes for a fit.")
    if result.get("plot"):
        lines += ["", f"![time against links]({result['plot']})"]
    b = result.get("berlin")
    if b:
        t = b["target"]
        lines += [
            "",
            "## Berlin-size memory target",
            "",
            f"`region({t['links']}, zones={t['zones']}, seed=1)` with the region's own gravity "
            f"demand, `bush` to {t['rgap']:.0e} in a fresh subprocess (reference: "
            f"{t['reference']}).",
            "",
        ]
        bb = b["build"]
        if "error" in bb:
            lines.append(f"Build failed: {bb['error']}")
        else:
            lines += [
                f"Generated: {bb['nodes']:,} nodes, {bb['links']:,} links, {bb['zones']} zones, "
                f"{bb['trips']:,.0f} trips.",
                "",
                "| links | method | target | status | final gap | iterations | time | s / iteration | "
                "set-up | process peak MB | solve peak MB | overloaded | others' load |",
                "|--:|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
            ]
            for s in b["solves"]:
                lines.append(_solve_row(bb["links"], s))
    lines += ["", "## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    for t in result.get("targets", []):
        lines.append(f"| {t['text']} | {measured_text(t)} | **{t['status']}** |")
    return "\n".join(lines) + "\n"


def _commits_note(result: dict[str, Any]) -> str:
    """The commits the subprocesses imported, when any differs from the run's start."""
    recs = [*result["sizes"], *([result["berlin"]] if result.get("berlin") else [])]
    seen = []
    for rec in recs:
        for job in [rec.get("build", {}), *rec.get("solves", [])]:
            c = job.get("git_commit")
            if c and c not in seen:
                seen.append(c)
    if not seen or seen == [result["machine"].get("git_commit")]:
        return ""
    return " The subprocesses imported the code of commit(s) " + ", ".join(seen) + "."


def measured_text(t: dict[str, Any]) -> str:
    """What a target row measured, in words."""
    v = t.get("value")
    if t["id"] == "berlin-memory":
        if v is None:
            return t.get("note", "")
        return f"process peak {v:,.0f} MB, {_fmt_s(t['seconds'])}, final gap {t['final_gap']:.1e}"
    return "" if v is None else f"k = {v:.2f}"


def _solve_row(links: int, s: dict[str, Any]) -> str:
    if "error" in s:
        return (
            f"| {links:,} | {s['method']} | {s['target_gap']:.0e} | error: {s['error']} |"
            + " |" * 9
        )
    return (
        f"| {links:,} | {s['method']} | {s['target_gap']:.0e} | {s['status']} | "
        f"{s['final_gap']:.1e} | {s['iterations']} | {_fmt_s(s['seconds'])} | "
        f"{_fmt_s(s['seconds_per_iteration'])} | {_fmt_s(s['setup_seconds'])} | "
        f"{_mb(s['process_peak_mb'])} | {_mb(s['solve_peak_mb'])} | "
        f"{100 * s['overloaded_links']:.1f} % | {_fmt_load(s.get('other_load_cores'))} |"
    )


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1:]))
