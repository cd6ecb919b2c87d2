"""Column names that say what a column holds and in which unit (``flow_veh_h``, ``time_min``).

Every table a run writes (the GeoPackage layers, ``plan.csv``, ``sections.csv``, the flows
of ``roadopt assign``) names its columns here, so that one quantity has one name
everywhere: ``vc`` is volume over capacity in every table, ``time_<unit>`` the congested
link time, ``cost_<unit>`` money. A column whose unit the network does not know (a TNTP
file's own units: ``file units``) carries no unit suffix; the ``run`` table and
``plan.json`` record the network's units.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

__all__ = [
    "MONEY",
    "named",
    "result_names",
    "speed",
    "text_or_null",
    "tstt_unit",
    "unit_tag",
]

#: Units with a fixed tag; others are derived by :func:`unit_tag`.
_TAGS = {
    "min": "min",
    "h": "h",
    "s": "s",
    "km": "km",
    "m": "m",
    "mi": "mi",
    "km/h": "kmh",
    "mph": "mph",
    "veh/h": "veh_h",
    "veh": "veh",
    "pcu/h": "pcu_h",
}
#: Words that mean "unknown unit": no suffix.
_UNKNOWN = {"", "file units", "currency unit", "cost unit", "unknown"}
#: Multiples of money units.
_MULTIPLES = {"thousand": "k", "million": "m", "billion": "bn"}
#: Length units (in km) and time units (in h) for speeds.
_KM = {"km": 1.0, "m": 1e-3, "mi": 1.609344}
_HOURS = {"h": 1.0, "min": 1 / 60, "s": 1 / 3600}


def unit_tag(unit: str | None) -> str | None:
    """A unit as a column-name suffix: ``veh/h`` -> ``veh_h``, ``thousand CNY`` -> ``kcny``.

    Returns None for an unknown unit (``file units``).
    """
    if unit is None:
        return None
    u = str(unit).strip()
    if u.lower() in _UNKNOWN:
        return None
    if u in _TAGS:
        return _TAGS[u]
    words = u.split()
    if len(words) == 2 and words[0].lower() in _MULTIPLES:
        return _MULTIPLES[words[0].lower()] + re.sub(r"[^a-z0-9]", "", words[1].lower())
    tag = re.sub(r"[^a-z0-9]+", "_", u.lower()).strip("_")
    return tag or None


def named(quantity: str, unit: str | None, state: str | None = None) -> str:
    """``quantity[_unit][_state]``: ``named("flow", "veh/h", "after") == "flow_veh_h_after"``."""
    parts = [quantity]
    tag = unit_tag(unit)
    if tag:
        parts.append(tag)
    if state:
        parts.append(state)
    return "_".join(parts)


def text_or_null(v: Any) -> str | None:
    """A name or ref as text; None (NULL in every table) where there is none."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return str(v) or None


def speed(length: np.ndarray, time: np.ndarray, units: Any) -> tuple[str, np.ndarray] | None:
    """Speed column (its name and values) from lengths and times, when their units are known.

    km and min give km/h; miles give mph. None when either unit is unknown.
    """
    lu, tu = str(units.length), str(units.time)
    if lu not in _KM or tu not in _HOURS:
        return None
    hours = np.asarray(time, dtype=np.float64) * _HOURS[tu]
    with np.errstate(divide="ignore", invalid="ignore"):
        if lu == "mi":
            return "speed_mph", np.where(hours > 0, np.asarray(length) / hours, np.nan)
        return "speed_kmh", np.where(hours > 0, np.asarray(length) * _KM[lu] / hours, np.nan)


#: Money columns of plan.csv and the upgrades layer (the candidates' cost unit).
MONEY = (
    "cost",
    "annual_benefit",
    "present_value_benefits",
    "present_value_costs",
    "net_present_value",
    "residual_value_at_end",
)


def tstt_unit(units: Any) -> str | None:
    """The unit of total system travel time (flow x time): ``veh min`` for veh/h and min.

    An hourly flow times minutes is vehicle-minutes in that hour; None when either unit
    is unknown.
    """
    f, t = unit_tag(units.flow), unit_tag(units.time)
    if f is None or t is None:
        return None
    return f"{f.removesuffix('_h')} {t}" if f.endswith("_h") else f"{f} {t}"


def result_names(keys: Any, units: Any, cost_unit: str | None) -> dict[str, str]:
    """Column name with unit for each key of an upgrade's figures (plan.csv, ``upgrades``)."""
    out = {}
    for k in keys:
        if k in MONEY:
            out[k] = named(k, cost_unit)
        elif k == "length":
            out[k] = named(k, units.length)
        elif k == "tstt_saved":
            out[k] = named(k, tstt_unit(units))
        else:
            out[k] = k
    return out
