"""Batch runs: sweeps of scenarios on one machine or a Dask cluster, resumable.

A sweep file is a scenario file (:mod:`optimizer.jobs.scenario`) plus a ``[sweep]`` table
of lists; the run is the product of the lists. Several networks are an array of
``[[network]]`` tables (one more sweep dimension). A sweep key names a setting of the
scenario's job (:mod:`optimizer.jobs.settings`) by

* its dotted scenario key (``"optimize.budget_share"``, ``"demand.scale"``, ``"seed"``);
* its field name (``demand_scale``, ``n_zones``, ``max_candidates``, ``budget_share``);
* or its scenario key alone where no other setting of the job has it (``gap``, ``method``
  and ``time_limit`` mean the assignment's in an ``assign`` sweep and the search's in an
  ``optimize`` one).

Results: ``DIR/results.csv`` (one row per scenario: ``scenario_id``, the swept values
(a swept key named like a result column, such as ``objective``, is written as
``sweep_objective``), ``status`` ok/error, ``run_status``, key figures, the error) and
``DIR/scenarios/<scenario_id>.json`` (the full result). Every file is written atomically.
Re-running the same command skips scenarios that finished and completes the rest.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import itertools
import json
import logging
import os
import signal
import sys
import threading
import time
import tomllib
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from networks import BUILTIN_NETWORKS
from networks._io import atomic_write_text
from networks.errors import FileFormatError

from ..errors import UsageError
from .scenario import error_at, job_from_doc, scenario_from_dict, schema
from .settings import COMMANDS, EXECUTORS, JOBS, BatchSettings, Field, Job

__all__ = ["SweepCase", "expand_sweep", "load_sweep", "run_batch", "sweep_keys"]

log = logging.getLogger(__name__)

FIGURES = ("relative_gap", "objective", "tstt", "seconds", "cost", "lower_bound")


@dataclass(frozen=True)
class SweepCase:
    """One scenario of a sweep: its id, swept values and complete scenario document."""

    scenario_id: str
    params: dict[str, Any]
    doc: dict[str, Any]
    base: str | None


def sweep_keys(job: type[Job]) -> dict[str, Field]:
    """Every key a sweep of this job may use: dotted keys, field names, unique keys."""
    out: dict[str, Field] = {}
    by_key: dict[str, list[Field]] = {}
    for table in schema(job).values():
        for f in table.values():
            out[f.dotted] = f
            out.setdefault(f.name, f)
            by_key.setdefault(f.key, []).append(f)
    for key, fs in by_key.items():
        if len(fs) == 1:
            out.setdefault(key, fs[0])
    return out


def _target(key: str, job: type[Job], where: str, text: str) -> Field:
    f = sweep_keys(job).get(key)
    if f is None:
        short = sorted(k for k in sweep_keys(job) if "." not in k)
        raise error_at(
            where,
            text,
            "sweep",
            key,
            "unknown sweep key; use a dotted scenario key (optimize.budget) or one of "
            f"{', '.join(short)}",
        )
    return f


def _scenario_id(doc: dict[str, Any]) -> str:
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def load_sweep(path: str | Path) -> tuple[list[SweepCase], dict[str, Any]]:
    """Read a sweep file and expand it into scenarios (all checked before anything runs).

    Raises
    ------
    FileFormatError
        For an empty list, an unknown key, a wrong type (with key and line), or a
        network file that does not exist.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such sweep file")
    text = p.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FileFormatError(p, f"is not valid TOML: {exc}") from None
    return expand_sweep(doc, base=p.parent, where=str(p), text=text), doc


def expand_sweep(
    doc: dict[str, Any], *, base: Path | None = None, where: str = "sweep", text: str = ""
) -> list[SweepCase]:
    """The product of the ``[sweep]`` lists (and ``[[network]]`` tables) as scenarios."""
    doc = copy.deepcopy(doc)
    sweep = doc.pop("sweep", {}) or {}
    if not isinstance(sweep, dict):
        raise error_at(where, text, None, "sweep", "must be a table of lists, e.g. [sweep]")
    networks = doc.get("network")
    net_list: list[dict | None]
    if isinstance(networks, list):
        if not networks:
            raise error_at(where, text, None, "network", "the [[network]] list is empty")
        net_list = networks
    else:
        net_list = [networks]
    command = doc.get("command", "optimize")
    job = JOBS.get(command) if isinstance(command, str) else None
    if job is None:
        raise error_at(
            where, text, None, "command", f"is {command!r}; choose one of {', '.join(COMMANDS)}"
        )
    dims: list[tuple[str, list, Field]] = []
    for key, values in sweep.items():
        if not isinstance(values, list):
            raise error_at(
                where,
                text,
                "sweep",
                key,
                f"is {values!r}; a sweep value must be a list, e.g. [0.5, 1.0]",
            )
        if not values:
            raise error_at(where, text, "sweep", key, "is an empty list; give at least one value")
        dims.append((key, values, _target(key, job, where, text)))
    cases = []
    for k_net, net in enumerate(net_list):
        for combo in itertools.product(*[v for _, v, _ in dims]):
            d = copy.deepcopy(doc)
            if net is None:
                d.pop("network", None)
            else:
                d["network"] = copy.deepcopy(net)
            params: dict[str, Any] = {}
            if len(net_list) > 1:
                params["network"] = _net_label(net, k_net)
            for (key, _, f), value in zip(dims, combo, strict=True):
                (d.setdefault(f.table, {}) if f.table else d)[f.key] = value
                params[key] = value
            try:
                case_job, _ = job_from_doc(d, base=base, where=where, text=text)
            except FileFormatError as exc:
                raise FileFormatError(
                    where, f"scenario {params}: {exc.detail}", line=exc.line, field=exc.field
                ) from None
            _check_inputs(case_job, where, text)
            resolved = case_job.document()
            cases.append(
                SweepCase(
                    _scenario_id(resolved), params, resolved, None if base is None else str(base)
                )
            )
    ids = [c.scenario_id for c in cases]
    if len(set(ids)) != len(ids):
        raise error_at(where, text, None, "sweep", "two scenarios of the sweep are identical")
    return cases


def _net_label(net: dict | None, k: int) -> str:
    if not net:
        return "builtin"
    for key in ("name", "dataset", "query", "path"):
        if key in net:
            return Path(str(net[key])).name if key == "path" else str(net[key])
    return f"network{k + 1}"


def _check_inputs(job: Job, where: str, text: str) -> None:
    s = job.study
    for name, key in (("network", "path"), ("trips", "trips")):
        value = getattr(s, name)
        if value is not None and value not in BUILTIN_NETWORKS and not Path(value).exists():
            raise error_at(where, text, "network", key, f"{value} does not exist")
    if s.dataset is not None:
        from networks.datasets import find_dataset

        if find_dataset(s.dataset) is None:
            raise error_at(
                where, text, "network", "dataset", f"'{s.dataset}' is not a known dataset"
            )


# ---------------------------------------------------------------------- running
def run_case(doc: dict[str, Any], base: str | None = None) -> dict[str, Any]:
    """Run one scenario and return its full result as JSON-ready data (never raises)."""
    from .documents import jsonable, plan_document
    from .scenario import run_scenario

    t0 = time.perf_counter()
    try:
        sc = scenario_from_dict(doc, base=Path(base) if base else None)
        res = run_scenario(sc, write=False)
        if sc.command == "assign":
            full = {**res.summary(), "history": res.history.as_dict()}
            figures = {k: full.get(k) for k in FIGURES}
            run_status = str(res.status)
        else:
            full = plan_document(res, settings=sc.doc)
            figures = {
                "relative_gap": full["metrics_after"].get("relative_gap"),
                "objective": full["objective"],
                "tstt": full["tstt"],
                "seconds": full["seconds"],
                "cost": full["cost"],
                "lower_bound": full["lower_bound"],
            }
            run_status = str(res.plan.status)
        return jsonable(
            {
                "status": "ok",
                "run_status": run_status,
                "figures": figures,
                "result": full,
                "error": "",
                "wall_seconds": time.perf_counter() - t0,
            }
        )
    except Exception as exc:  # a failing scenario is recorded, the others go on
        return {
            "status": "error",
            "run_status": "",
            "figures": {},
            "result": None,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=8),
            "wall_seconds": time.perf_counter() - t0,
        }


def _worker_init() -> None:
    os.environ["NUMBA_NUM_THREADS"] = "1"
    os.environ.setdefault("OMP_NUM_THREADS", "1")


#: Seconds between two looks of a pool worker at whether its parent still lives.
PARENT_POLL_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _pool_worker_init(parent: int) -> None:
    """Initialise a process-pool worker that exits as soon as ``parent`` (the batch) dies.

    A batch killed with SIGKILL cannot shut its pool down: its workers would go on for
    good (computing, then waiting on the dead batch's queue), and so would the
    multiprocessing resource tracker, whose pipe they hold open. On Linux the kernel sends the worker SIGKILL when its
    parent dies (``prctl(PR_SET_PDEATHSIG)``, which works even while a kernel holds the
    GIL); everywhere a daemon thread also compares ``os.getppid()`` with ``parent`` every
    :data:`PARENT_POLL_SECONDS` and calls ``os._exit`` once the worker has been orphaned.
    """
    _worker_init()
    _die_with_parent()
    if os.getppid() != parent:  # the batch died before this worker got here
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="roadopt-parent-watch", daemon=True).start()


def _die_with_parent() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):  # no libc or no prctl: the watching thread remains
        return False


def _results_csv(cases: list[SweepCase], done: dict[str, dict]) -> str:
    keys: list[str] = []
    for c in cases:
        for k in c.params:
            if k not in keys:
                keys.append(k)
    # a swept key named like a result column ("objective") gets a "sweep_" prefix
    label = {
        k: f"sweep_{k}" if k in (*FIGURES, "status", "run_status", "error", "scenario_id") else k
        for k in keys
    }
    cols = ["scenario_id", *label.values(), "status", "run_status", *FIGURES, "error"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for c in cases:
        rec = done.get(c.scenario_id)
        if rec is None:
            continue
        row = {
            "scenario_id": c.scenario_id,
            "status": rec["status"],
            "run_status": rec.get("run_status", ""),
            "error": rec.get("error", ""),
        }
        for k in keys:
            v = c.params.get(k)
            row[label[k]] = json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v
        for f in FIGURES:
            v = rec.get("figures", {}).get(f)
            row[f] = "" if v is None else v
        w.writerow(row)
    return buf.getvalue()


def _load_done(out: Path) -> dict[str, dict]:
    done = {}
    d = out / "scenarios"
    if d.is_dir():
        for f in sorted(d.glob("*.json")):
            try:
                rec = json.loads(f.read_text())
            except (json.JSONDecodeError, OSError):
                continue  # a file from an older crash cannot be half-written, but be safe
            done[f.stem] = rec
    return done


def run_batch(
    cases: list[SweepCase],
    out: str | Path,
    *,
    executor: str = BatchSettings.executor,
    workers: int | None = BatchSettings.workers,
    scheduler: str | None = BatchSettings.scheduler,
    timeout: float = BatchSettings.timeout,
    progress: bool = True,
) -> dict[str, Any]:
    """Run every scenario not yet finished in ``out``; return counts.

    Parameters
    ----------
    executor
        ``serial``, ``process`` (a process pool) or ``dask`` (a ``LocalCluster`` with one
        thread per worker, or the cluster at ``scheduler``).
    workers
        Parallel workers (default: the number of cores).
    scheduler
        ``tcp://host:port`` of an existing Dask scheduler (``executor="dask"``).
    timeout
        Seconds to wait for a Dask scheduler before giving up.
    """
    out = Path(out)
    (out / "scenarios").mkdir(parents=True, exist_ok=True)
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise UsageError(f"--workers {workers}: give at least 1")
    for stale in [*out.glob(".*.tmp*"), *(out / "scenarios").glob(".*.tmp*")]:
        stale.unlink(missing_ok=True)  # left by a run killed while writing
    done = _load_done(out)
    todo = [c for c in cases if done.get(c.scenario_id, {}).get("status") != "ok"]
    skipped = len(cases) - len(todo)
    if skipped:
        log.info(
            "batch: %d of %d scenarios already finished in %s; running the rest",
            skipped,
            len(cases),
            out,
        )
    t0 = time.perf_counter()
    failed = 0
    finished = 0
    from .progress import progress_bar

    bar = progress_bar(
        "batch", total=len(todo), unit="scenario", enabled=None if progress else False
    )

    def record(case: SweepCase, rec: dict[str, Any]) -> None:
        nonlocal failed, finished
        rec = {"scenario_id": case.scenario_id, "params": case.params, **rec, "scenario": case.doc}
        atomic_write_text(
            out / "scenarios" / f"{case.scenario_id}.json",
            json.dumps(rec, indent=2, default=str) + "\n",
        )
        done[case.scenario_id] = rec
        atomic_write_text(out / "results.csv", _results_csv(cases, done))
        finished += 1
        failed += rec["status"] != "ok"
        bar.update(1)
        bar.set_postfix_str(f"{failed} failed", refresh=False)
        if progress:
            log.info(
                "batch: %d done, %d failed, %d remaining, %.1f s",
                finished,
                failed,
                len(todo) - finished,
                time.perf_counter() - t0,
            )

    atomic_write_text(out / "results.csv", _results_csv(cases, done))
    if todo:
        if executor == "serial":
            for c in todo:
                record(c, run_case(c.doc, c.base))
        elif executor == "process":
            _run_pool(todo, workers, record)
        elif executor == "dask":
            _run_dask(todo, workers, scheduler, timeout, record)
        else:
            raise UsageError(
                f"unknown executor {executor!r}; use {', '.join(EXECUTORS[:-1])} or "
                f"{EXECUTORS[-1]}"
            )
    bar.close()
    n_err = sum(1 for c in cases if done.get(c.scenario_id, {}).get("status") != "ok")
    return {
        "scenarios": len(cases),
        "ran": finished,
        "skipped": skipped,
        "errors": n_err,
        "seconds": time.perf_counter() - t0,
    }


def _run_pool(todo: list[SweepCase], workers: int, record) -> None:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(workers, len(todo)),
        mp_context=ctx,
        initializer=_pool_worker_init,
        initargs=(os.getpid(),),
    ) as pool:
        futs = {pool.submit(run_case, c.doc, c.base): c for c in todo}
        try:
            for f in as_completed(futs):
                c = futs[f]
                try:
                    record(c, f.result())
                except BrokenProcessPool as exc:
                    record(
                        c,
                        {
                            "status": "error",
                            "run_status": "",
                            "figures": {},
                            "result": None,
                            "error": f"worker died: {exc}",
                        },
                    )
        except KeyboardInterrupt:
            for f in futs:
                f.cancel()
            raise


def _run_dask(
    todo: list[SweepCase], workers: int, scheduler: str | None, timeout: float, record
) -> None:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise UsageError("the dask executor needs Dask: pip install 'roadopt[dask]'") from None
    cluster = None
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout=f"{timeout}s")
            except (OSError, TimeoutError) as exc:
                raise UsageError(
                    f"no Dask scheduler answered at {scheduler} within "
                    f"{timeout:g} s ({exc}); start one or use --executor "
                    "process"
                ) from None
        else:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
            )
            client = Client(cluster)
        try:
            client.run(_worker_init)
            futs = {
                client.submit(
                    run_case, c.doc, c.base, pure=False, key=f"roadopt-{c.scenario_id}"
                ): c
                for c in todo
            }
            for f in as_completed(list(futs)):
                c = futs[f]
                try:
                    rec = f.result()
                except Exception as exc:  # a killed worker surfaces here
                    rec = {
                        "status": "error",
                        "run_status": "",
                        "figures": {},
                        "result": None,
                        "error": f"{type(exc).__name__}: {exc}",
                    }
                record(c, rec)
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def sweep_parameters(cases: Iterable[SweepCase]) -> list[str]:
    keys: list[str] = []
    for c in cases:
        keys += [k for k in c.params if k not in keys]
    return keys
