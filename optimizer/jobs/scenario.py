"""Scenario files: one TOML file describes a whole run, so it can be repeated exactly.

Schema (every table optional; unknown keys are errors that name the key and its line)::

    name = "ziliujing-2030"          # label (default: the file name)
    title = "..."                    # free text
    command = "optimize"             # "optimize" (default) or "assign"
    seed = 0                         # seed of every random choice

    [network]                        # default: the built-in town
    source = "file"                  # builtin | file | dataset | place | bbox | polygon
    path = "town.osm.pbf"            # source = file (relative to this file)
    dataset = "SiouxFalls"           # source = dataset
    query = "Ziliujing District, Zigong, Sichuan, China"   # source = place
    bbox = [104.7, 29.3, 104.8, 29.4]                      # source = bbox (W, S, E, N)
    polygon = [[lon, lat], ...]                            # source = polygon
    trips = "X_trips.tntp"           # TNTP trips file, or an OD CSV for OSM areas
    profile = "china"                # generic | china | china-mountain
    crs = "EPSG:32648"               # CRS of a TNTP network's node coordinates
    consolidate = true               # (accepted for OSM presets)
    tolerance = 10.0

    [demand]
    n_zones = 12                     # internal zones (k-means)
    scale = 1.0                      # multiply every trip
    od_period = "peak hour"          # the period an OD CSV covers
    external_share = 0.2
    gateway_classes = ["motorway", "trunk"]
    gateway_refs = ["G85"]

    [[gateway]]                      # notes on expected gateways (not used by code)

    [assignment]                     # command = "assign"
    method = "bush"                  # auto | msa | fw | cfw | bfw | bush
    gap = 1e-6
    max_iter = 1000
    time_limit = 60.0
    toll_factor = 0.0
    distance_factor = 0.0

    [candidates]
    source = "auto"                  # auto | instance | a CSV/GeoJSON path
    max = 12                         # generated candidates

    [optimize]
    budget = 50000.0                 # or budget_share = 0.3
    objective = "connectivity"       # auto | tstt | connectivity
    weights = { internal = 0.5, external = 0.5 }
    min_resilience = 0.9
    method = "bnb"                   # bnb | enumerate | greedy
    gap = 1e-8
    time_limit = 600.0
    value_of_time = 40.0

    [output]
    dir = "out"                      # relative to this file; default ./roadopt-out

Paths are relative to the scenario file; ``${VAR}`` (any environment variable, for
example ``${ROADOPT_DATA_DIR}``) is expanded. The Zigong presets in ``networks/presets``
are scenario files.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from networks.errors import FileFormatError

__all__ = ["SCHEMA", "Scenario", "load_scenario", "run_scenario", "scenario_from_dict"]

_NUM = (int, float)
_PATHS = {("network", "path"), ("network", "trips"), ("candidates", "source"), ("output", "dir")}

SCHEMA: dict[str, Any] = {
    "name": str,
    "title": str,
    "command": str,
    "seed": int,
    "description": str,
    "network": {
        "source": str,
        "path": str,
        "dataset": str,
        "query": str,
        "bbox": list,
        "polygon": list,
        "trips": str,
        "profile": str,
        "crs": str,
        "consolidate": bool,
        "tolerance": _NUM,
    },
    "demand": {
        "n_zones": int,
        "seed": int,
        "scale": _NUM,
        "od_period": str,
        "external_share": _NUM,
        "gateway_classes": list,
        "gateway_refs": list,
    },
    "gateway": [{"road": str, "ref": str, "class": str, "note": str}],
    "assignment": {
        "method": str,
        "gap": _NUM,
        "max_iter": int,
        "time_limit": _NUM,
        "toll_factor": _NUM,
        "distance_factor": _NUM,
    },
    "candidates": {"source": str, "max": int},
    "optimize": {
        "budget": _NUM,
        "budget_share": _NUM,
        "objective": str,
        "weights": dict,
        "min_resilience": _NUM,
        "method": str,
        "gap": _NUM,
        "time_limit": _NUM,
        "value_of_time": _NUM,
    },
    "output": {"dir": str},
}
_CHOICES = {
    ("command",): ("optimize", "assign"),
    ("network", "source"): ("builtin", "file", "dataset", "place", "bbox", "polygon"),
    ("network", "profile"): ("generic", "china", "china-mountain"),
    ("assignment", "method"): ("auto", "msa", "fw", "cfw", "bfw", "bush"),
    ("optimize", "objective"): ("auto", "tstt", "connectivity"),
    ("optimize", "method"): ("bnb", "enumerate", "greedy"),
}


@dataclass(frozen=True, eq=False)
class Scenario:
    """A checked scenario: its document (paths resolved) and where it came from."""

    doc: dict[str, Any]
    path: Path | None
    text: str = ""

    @property
    def name(self) -> str:
        return str(self.doc.get("name") or (self.path.stem if self.path else "scenario"))

    @property
    def command(self) -> str:
        return str(self.doc.get("command", "optimize"))

    def get(self, table: str, key: str, default: Any = None) -> Any:
        return self.doc.get(table, {}).get(key, default)


def _line_of(text: str, table: str | None, key: str) -> int | None:
    """1-based line of ``key = ...`` (inside ``[table]`` when given) in the TOML text."""
    current = None
    for k, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        m = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?$", s)
        if m:
            current = m.group(1)
            continue
        if re.match(rf"^\"?{re.escape(key)}\"?\s*=", s) and (table is None or current == table):
            return k
        if table is None and current is None and s.startswith(f"[{key}"):
            return k
    return None


def _err(where: str, text: str, table: str | None, key: str, msg: str) -> FileFormatError:
    line = _line_of(text, table, key)
    name = key if table is None else f"{table}.{key}"
    return FileFormatError(where, msg, line=line, field=name)


def _check(doc: Mapping[str, Any], where: str, text: str) -> None:
    for key, val in doc.items():
        spec = SCHEMA.get(key)
        if spec is None and key != "sweep":
            raise _err(where, text, None, key, f"unknown key; known: {', '.join(SCHEMA)}")
        if key == "sweep":
            continue
        if isinstance(spec, dict):
            if not isinstance(val, dict):
                raise _err(where, text, None, key, "must be a table, e.g. [" + key + "]")
            for k2, v2 in val.items():
                want = spec.get(k2)
                if want is None:
                    raise _err(
                        where, text, key, k2, f"unknown key in [{key}]; known: {', '.join(spec)}"
                    )
                _check_type(v2, want, where, text, key, k2)
        elif isinstance(spec, list):
            if not isinstance(val, list) or not all(isinstance(v, dict) for v in val):
                raise _err(where, text, None, key, "must be an array of tables [[" + key + "]]")
            for item in val:
                for k2, v2 in item.items():
                    want = spec[0].get(k2)
                    if want is None:
                        raise _err(
                            where,
                            text,
                            key,
                            k2,
                            f"unknown key in [[{key}]]; known: {', '.join(spec[0])}",
                        )
                    _check_type(v2, want, where, text, key, k2)
        else:
            _check_type(val, spec, where, text, None, key)


def _check_type(v: Any, want: Any, where: str, text: str, table: str | None, key: str) -> None:
    ok = isinstance(v, want) and not (want in (int, _NUM) and isinstance(v, bool))
    if want is _NUM and isinstance(v, bool):
        ok = False
    if not ok:
        names = {
            str: "a string",
            int: "a whole number",
            bool: "true or false",
            list: "an array",
            dict: "an inline table",
        }
        expected = "a number" if want is _NUM else names.get(want, str(want))
        raise _err(where, text, table, key, f"is {v!r}; expected {expected}")
    choice = _CHOICES.get((key,) if table is None else (table, key))
    if choice and v not in choice:
        raise _err(where, text, table, key, f"is {v!r}; choose one of {', '.join(choice)}")


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: str, where: str, text: str, table: str, key: str) -> str:
    def sub(m: re.Match) -> str:
        v = os.environ.get(m.group(1))
        if v is None:
            raise _err(
                where,
                text,
                table,
                key,
                f"uses ${{{m.group(1)}}}, but that environment variable is not set",
            )
        return v

    return _VAR.sub(sub, value)


def _resolve(doc: dict[str, Any], base: Path | None, where: str, text: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for table, key in _PATHS:
        t = doc.get(table)
        if isinstance(t, dict) and isinstance(t.get(key), str):
            v = _expand(t[key], where, text, table, key)
            if table == "candidates" and v in ("auto", "instance"):
                t[key] = v
                continue
            p = Path(v).expanduser()
            if not p.is_absolute() and base is not None:
                p = base / p
            t[key] = str(p)
    net = doc.get("network", {})
    for key in ("query", "dataset", "crs"):
        if isinstance(net.get(key), str):
            net[key] = _expand(net[key], where, text, "network", key)
    src = net.get("source")
    given = [
        k
        for k, s in (
            ("path", "file"),
            ("dataset", "dataset"),
            ("query", "place"),
            ("bbox", "bbox"),
            ("polygon", "polygon"),
        )
        if k in net
    ]
    inferred = {
        "path": "file",
        "dataset": "dataset",
        "query": "place",
        "bbox": "bbox",
        "polygon": "polygon",
    }
    if src is None:
        if len(given) > 1:
            raise _err(
                where, text, "network", given[1], "name one network source: " + " or ".join(given)
            )
        net_src = inferred[given[0]] if given else "builtin"
        if net:
            net["source"] = net_src
    else:
        need = {
            "file": "path",
            "dataset": "dataset",
            "place": "query",
            "bbox": "bbox",
            "polygon": "polygon",
        }.get(src)
        if need and need not in net:
            raise _err(where, text, "network", "source", f"source = {src!r} needs a '{need}' key")
    if "bbox" in net and (
        len(net["bbox"]) != 4 or not all(isinstance(v, _NUM) for v in net["bbox"])
    ):
        raise _err(where, text, "network", "bbox", "must be [west, south, east, north] in degrees")
    opt = doc.get("optimize", {})
    if "budget" in opt and "budget_share" in opt:
        raise _err(
            where, text, "optimize", "budget_share", "give budget or budget_share, not both"
        )
    return doc


def scenario_from_dict(
    doc: Mapping[str, Any], *, base: Path | None = None, where: str = "scenario"
) -> Scenario:
    """Check a scenario given as a dict (paths relative to ``base``)."""
    _check(doc, where, "")
    return Scenario(_resolve(dict(doc), base, where, ""), None, "")


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file (a bundled preset name works too).

    Raises
    ------
    FileFormatError
        Naming the key and line of an unknown key, a wrong type, a value outside its
        choices, a missing required value or an unset environment variable.
    """
    p = Path(path)
    if not p.exists() and not p.suffix:
        from importlib import resources

        cand = resources.files("networks") / "presets" / f"{path}.toml"
        if cand.is_file():
            text = cand.read_text("utf-8")
            p = Path(str(cand))
        else:
            raise FileNotFoundError(f"{path}: no such scenario file or bundled preset")
    elif not p.exists():
        raise FileNotFoundError(f"{p}: no such scenario file")
    else:
        text = p.read_text(encoding="utf-8")
    where = str(p)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise FileFormatError(
            where, f"is not valid TOML: {exc}", line=int(m.group(1)) if m else None
        ) from None
    _check(doc, where, text)
    return Scenario(_resolve(doc, p.parent, where, text), p, text)


def open_scenario_study(sc: Scenario):
    """The :class:`networks.Study` a scenario describes."""
    from networks import open_study

    net = sc.doc.get("network", {})
    dem = sc.doc.get("demand", {})
    src = net.get("source", "builtin")
    seed = int(dem.get("seed", sc.doc.get("seed", 0)))
    kwargs: dict[str, Any] = {
        "profile": net.get("profile", "generic"),
        "n_zones": dem.get("n_zones"),
        "seed": seed,
        "od_period": dem.get("od_period"),
        "crs": net.get("crs"),
        "trips": net.get("trips"),
    }
    extra = {k: dem[k] for k in ("external_share", "gateway_refs") if k in dem}
    if "gateway_classes" in dem:
        kwargs["gateway_classes"] = dem["gateway_classes"]
    if extra:
        kwargs["demand_options"] = extra
    if src == "file":
        study = open_study(net["path"], **kwargs)
    elif src == "dataset":
        study = open_study(net["dataset"], **kwargs)
    elif src == "place":
        study = open_study(place=net["query"], **kwargs)
    elif src == "bbox":
        study = open_study(bbox=tuple(net["bbox"]), **kwargs)
    elif src == "polygon":
        import shapely

        study = open_study(polygon=shapely.Polygon(net["polygon"]), **kwargs)
    else:
        study = open_study(**kwargs)
    scale = dem.get("scale")
    if scale is not None and study.demand is not None and float(scale) != 1.0:
        from dataclasses import replace

        study = replace(
            study,
            demand=study.demand.scaled(float(scale)),
            meta={**study.meta, "demand_scale": float(scale)},
        )
    return study


def run_scenario(
    sc: Scenario, *, out: str | Path | None = None, overwrite: bool = False, write: bool = True
) -> Any:
    """Run a scenario: an assignment or an optimization, writing its outputs.

    Returns the :class:`optimizer.AssignmentResult` (``command = "assign"``) or the
    :class:`optimizer.pipeline.PlanRun` (``command = "optimize"``).
    """
    from .documents import version
    from .outputs import prepare_out_dir

    out_dir = Path(out) if out is not None else Path(sc.get("output", "dir", "roadopt-out"))
    settings = {
        "scenario": sc.doc,
        "scenario_file": str(sc.path) if sc.path else None,
        "version": version(),
    }
    if write:
        prepare_out_dir(out_dir, overwrite=overwrite, key=settings)
    study = open_scenario_study(sc)
    if sc.command == "assign":
        from ..assignment import assign

        a = sc.doc.get("assignment", {})
        result = assign(
            study.network,
            study.demand,
            method=a.get("method", "auto"),
            rgap=float(a.get("gap", 1e-4)),
            max_iter=a.get("max_iter"),
            time_limit=a.get("time_limit"),
            toll_factor=float(a.get("toll_factor", 0.0)),
            distance_factor=float(a.get("distance_factor", 0.0)),
        )
        if write:
            _write_assign_outputs(study, result, out_dir, settings)
        return result
    from ..search import Appraisal
    from .pipeline import plan_study

    o = sc.doc.get("optimize", {})
    c = sc.doc.get("candidates", {})
    a = sc.doc.get("assignment", {})
    run = plan_study(
        study,
        candidates=c.get("source"),
        budget=o.get("budget"),
        budget_share=o.get("budget_share"),
        objective=o.get("objective", "auto"),
        weights=o.get("weights"),
        min_resilience=o.get("min_resilience"),
        method=o.get("method", "bnb"),
        rgap=float(o.get("gap", 1e-8)),
        time_limit=o.get("time_limit"),
        max_candidates=int(c.get("max", 12)),
        appraisal=Appraisal(value_of_time=float(o.get("value_of_time", 40.0))),
        toll_factor=float(a.get("toll_factor", 0.0)),
        distance_factor=float(a.get("distance_factor", 0.0)),
        seed=int(sc.doc.get("seed", 0)),
    )
    if write:
        from .outputs import write_plan_outputs

        write_plan_outputs(run, out_dir, settings=settings)
    return run


def _write_assign_outputs(
    study: Any, result: Any, out_dir: Path, settings: dict[str, Any]
) -> None:
    import json

    from networks._io import atomic_write_text

    from .documents import jsonable

    doc = {
        "network": study.network.name,
        "source": study.source,
        **result.summary(),
        "history": result.history.as_dict(),
        "run": {"settings": jsonable(settings)},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    from .outputs import write_flow_layer

    geo = study.network.crs is not None and (
        study.network.has_coordinates or "geometry" in study.network.extra
    )
    write_flow_layer(study.network, result, str(out_dir / ("flows.gpkg" if geo else "flows.csv")))
    atomic_write_text(out_dir / "plan.json", json.dumps(jsonable(doc), indent=2) + "\n")
