"""Money terms of a plan: the value of travel time saved against the building cost.

For a plan with total cost ``C`` (the candidates' cost unit) that saves ``dT`` of total
system travel time per demand period (the network's time unit times vehicles):

* annual benefit ``B = dT * h * VOT * P / s``, with ``h`` hours per time unit, ``VOT`` the
  value of time (base currency units per vehicle-hour), ``P`` demand periods per year and
  ``s`` base currency units per cost unit (1,000 for "thousand CNY");
* present value ``PV = B * A`` with the annuity factor ``A = (1 - (1 + r)^-n) / r`` over
  ``n`` years at discount rate ``r`` (``A = n`` at ``r = 0``);
* benefit/cost ratio ``PV / C``.

Each chosen upgrade is also valued by leaving it out of the plan (with what requires it):
its own saving is the TSTT of the plan without it minus the TSTT of the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .problem import DesignProblem

__all__ = ["Appraisal", "appraise", "cost_unit_scale"]

#: Hours in one unit of a network's time unit (as :class:`networks.Units` names them).
TIME_UNIT_HOURS: Mapping[str, float] = {
    "min": 1 / 60,
    "minute": 1 / 60,
    "minutes": 1 / 60,
    "h": 1.0,
    "hr": 1.0,
    "hour": 1.0,
    "hours": 1.0,
    "s": 1 / 3600,
    "sec": 1 / 3600,
    "seconds": 1 / 3600,
}


@dataclass(frozen=True)
class Appraisal:
    """Money terms of a plan: value of travel time saved against the building cost.

    The annual benefit is the total travel time saved in the demand's period (vehicle
    hours) times ``value_of_time`` (base currency units per vehicle-hour) times
    ``periods_per_year``, reported in the candidates' cost unit (for example thousand
    CNY); its present value uses an annuity over ``years`` at ``discount_rate``.
    Defaults are planning conventions to be set by the user: 250 working days with two
    peak hours each (500 periods a year for a peak-hour demand), 20 years at 5%, and a
    value of time of 40 currency units per vehicle-hour (of the order of Chinese appraisal
    practice for cars, in CNY).
    """

    value_of_time: float = 40.0
    periods_per_year: float = 500.0
    years: int = 20
    discount_rate: float = 0.05

    @property
    def annuity(self) -> float:
        """Present value of one currency unit a year over ``years`` at ``discount_rate``."""
        r = self.discount_rate
        return float(self.years) if r == 0 else (1 - (1 + r) ** -self.years) / r


def cost_unit_scale(unit: str) -> float:
    """Base currency units in one cost unit: 1e3 for "thousand CNY", 1e6 for "million"."""
    words = unit.strip().lower().split()
    scale = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "billion": 1e9}
    return scale.get(words[0], 1.0) if words else 1.0


def appraise(
    problem: DesignProblem,
    plan: np.ndarray,
    before: Mapping[str, float],
    after: Mapping[str, float],
    after_value: float,
    app: Appraisal,
    evaluate: Callable[[np.ndarray], tuple[float, Mapping[str, float]]],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Benefit in money of the plan and (leave-one-out) of each chosen upgrade.

    Parameters
    ----------
    before, after
        Equilibrium figures (``tstt`` at least) without and with the plan.
    after_value
        The plan's objective value.
    evaluate
        ``plan -> (objective value, figures)`` for the leave-one-out plans.

    Returns
    -------
    details, row
        One JSON-ready row per chosen upgrade, and the plan's money row. Money is ``None``
        where the network's time unit is not one of :data:`TIME_UNIT_HOURS`.
    """
    cs = problem.candidates
    to_hours = TIME_UNIT_HOURS.get(cs.network.units.time.strip().lower())
    per_cost_unit = cost_unit_scale(cs.cost_unit)
    factor = (
        None
        if to_hours is None
        else to_hours * app.value_of_time * app.periods_per_year / per_cost_unit
    )

    def money(saved: float) -> float | None:
        return None if factor is None else saved * factor

    saved = before["tstt"] - after["tstt"]
    cost = problem.cost(plan)
    annual = money(saved)
    pv = None if annual is None else annual * app.annuity
    row = {
        "tstt_saved": saved,
        "annual_benefit": annual,
        "present_value": pv,
        "benefit_cost_ratio": None if pv is None or cost <= 0 else pv / cost,
        "value_of_time": app.value_of_time,
        "periods_per_year": app.periods_per_year,
        "years": app.years,
        "discount_rate": app.discount_rate,
        "time_unit": cs.network.units.time,
        "money_unit": cs.cost_unit,
    }
    details = []
    for k in np.flatnonzero(plan):
        c = cs.candidates[k]
        d = c.summary(cs.network)
        without = plan.copy()
        without[k] = False
        for a, b in cs.prerequisites():  # drop what needed this one
            if b == k:
                without[a] = False
        value, figures = evaluate(without)
        own = figures["tstt"] - after["tstt"]
        d["tstt_saved"] = own
        d["objective_gain"] = value - after_value
        m = money(own)
        d["annual_benefit"] = m
        d["benefit_cost_ratio"] = None if m is None or c.cost <= 0 else m * app.annuity / c.cost
        details.append(d)
    return details, row
