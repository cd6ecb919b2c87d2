"""Money terms of a plan: the value of travel time saved against the cost of the works.

The appraisal compares the plan with doing nothing (the network without any upgrade) over
an appraisal period, in the manner of an economic cost-benefit analysis: the benefits are
the travel time the plan saves, valued at the value of time, plus the residual value of
the works at the end of the period; the costs are the works' costs. Notation:

* ``dT = TSTT_0 - TSTT_1``: total system travel time saved per demand period (network
  time unit x vehicles), ``h`` hours per time unit, so ``dT h`` vehicle-hours per period;
* ``VOT``: the value of time, currency units per vehicle-hour: one value, or the mean of
  the classes' values weighted by their shares of the traffic, ``VOT = sum_k s_k v_k``
  (the assignment has one class, so every class is taken to save the same time per
  vehicle-hour);
* ``P``: demand periods per year, ``periods_per_year``, or for a design-hour demand
  built with the K factor (design-hour trips = K x daily trips) ``P = days_per_year / K``
  (the design hour's saving per trip assumed for every hour of the day: an upper
  estimate where the saving comes from relieving congestion);
* ``s``: currency units per cost unit (1,000 for costs in "thousand CNY").

For a plan of cost ``C`` (the candidates' cost unit) built over ``c`` construction years
(``c = 0``: paid at the start and open at once), appraised over ``n`` years of use at the
discount rate ``r``:

* first-year (annual) benefit ``B = dT h VOT P / s``, constant over the period (the
  demand's level: the design year's where the demand was grown to it);
* present value of the time savings ``PV_T = B A(r, n) (1 + r)^-c`` with the annuity
  factor ``A(r, n) = (1 - (1 + r)^-n) / r`` (``A = n`` at ``r = 0``), benefits at the end
  of each year of use;
* residual value of the works at the end of the period, straight-line over each
  upgrade's service life ``L`` (by kind): ``RV = sum_u C_u max(0, 1 - n / L_u)``, counted
  as a benefit in the last year, ``PV_R = RV (1 + r)^-(c + n)``;
* present value of the benefits ``PV_B = PV_T + PV_R``; of the costs ``PV_C = C`` for
  ``c = 0``, else ``(C / c) sum_{t=0}^{c-1} (1 + r)^-t`` (equal shares at the start of
  each construction year);
* net present value ``NPV = PV_B - PV_C``, benefit/cost ratio ``BCR = PV_B / PV_C`` and
  first-year rate of return ``FYRR = B / C``.

Doing nothing costs nothing and saves nothing (``NPV = 0``): the plan is worth building at
these values when ``NPV > 0`` (``BCR > 1``); the appraisal says so, and warns when
``BCR < 1``. Both alternatives' annual vehicle-hours and their money value are reported.

Each chosen upgrade is valued by leaving it out of the plan, together with the chosen
upgrades that require it: its saving is the TSTT of the plan without them minus the TSTT
of the plan, and its cost theirs; the same formulas give its figures. Savings left out
one at a time need not add up to the plan's (upgrades interact through the equilibrium).

Sources: the discounted-cash-flow indicators (ENPV = sum_t (B - C)_t (1 + i_s)^-t and
R_BC = sum_t B_t (1 + i_s)^-t / sum_t C_t (1 + i_s)^-t, with the residual value of the
assets recovered as an inflow of the last year) and the social discount rate ``i_s`` of 8 %
are those of 国家发展改革委、建设部《建设项目经济评价方法与参数》(第三版), 中国计划出版社
2006 (issued with 发改投资〔2006〕1325号); the values of time by purpose follow Mackie,
Nellthorp and Laird (2005), *Valuation of Time Savings*, World Bank Transport Note TRN-15
(working time at the wage rate, non-working time at 30 % of it, freight at the crew's
wage plus the vehicle's time cost); residual values by straight-line depreciation of the
assets as in the Asian Development Bank's economic analyses of PRC projects (e.g. Jiangxi
Fuzhou Urban Integrated Infrastructure Improvement Project, RRP PRC 44007); the
first-year rate of return is the usual timing test of road appraisal (Spottiswoode 1975,
*Criteria for road investment in developing countries*, PTRC: the loss from a year's
deferral over the cost).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from networks.terrain import HEAVY_SHARE

from .errors import OptionError
from .problem import DesignProblem

__all__ = [
    "ANNUALISATIONS",
    "BUSINESS_SHARE_OF_CARS",
    "CAR_OCCUPANCY",
    "DISCOUNT_RATE",
    "PARAMETERS",
    "SERVICE_LIFE",
    "VALUES_OF_TIME",
    "WAGE_PER_HOUR",
    "Appraisal",
    "appraise",
    "cost_unit_scale",
]

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

#: Social discount rate of China's economic appraisal of construction projects: 8 %
#: (《建设项目经济评价方法与参数》第三版, 2006). A fraction, not a percentage.
DISCOUNT_RATE = 0.08

#: Gross wage per working hour, CNY: the 2023 mean annual wage of employees of urban
#: non-private units, 120,698 CNY (National Bureau of Statistics, 17 May 2024), over
#: 250 working days of 8 hours (劳社部发〔2008〕3号: 365 - 104 rest days - 11 holidays).
WAGE_PER_HOUR = 120698.0 / (250 * 8)

#: Occupants per car (an assumption: replace it with the study's counts).
CAR_OCCUPANCY = 1.5

#: Share of the car traffic travelling on business (an assumption: replace it with the
#: study's survey); the rest is commuting and other non-working travel.
BUSINESS_SHARE_OF_CARS = 0.15

#: Value of time by class, CNY per vehicle-hour (World Bank TRN-15 rules on the wage of
#: :data:`WAGE_PER_HOUR`): ``car`` (commuting and other non-working travel) 30 % of the
#: wage per occupant, ``business`` (cars on working time) the wage per occupant, with
#: :data:`CAR_OCCUPANCY` occupants; ``goods`` (goods vehicles) the driver's wage, without
#: the vehicle's or the cargo's time cost (so a lower estimate).
VALUES_OF_TIME: Mapping[str, float] = {
    "car": round(0.30 * WAGE_PER_HOUR * CAR_OCCUPANCY, 2),
    "business": round(WAGE_PER_HOUR * CAR_OCCUPANCY, 2),
    "goods": round(WAGE_PER_HOUR, 2),
}

#: Service life of the works by candidate kind, years, for the straight-line residual
#: value (planning assumptions: a new road's earthworks and structures outlast its
#: pavement; a widening or a class upgrade renews part of a road). A kind not listed gets
#: the shortest life of the table.
SERVICE_LIFE: Mapping[str, float] = {"new_link": 40.0, "widen": 30.0, "upgrade": 30.0}

#: How demand periods become years: ``periods`` (``periods_per_year``), ``k-factor``
#: (``days_per_year / K`` for a design-hour demand) or ``auto`` (the K factor where the
#: appraisal has one, else periods).
ANNUALISATIONS = ("auto", "periods", "k-factor")

#: The parameters an appraisal reports with its figures (:meth:`Appraisal.parameters`).
PARAMETERS = (
    "value_of_time",
    "value_of_time_by_class",
    "class_shares",
    "annualisation",
    "periods_per_year",
    "days_per_year",
    "design_hour_factor",
    "years",
    "discount_rate",
    "construction_years",
    "residual_value",
    "service_life",
    "currency",
)

#: Currency units in one unit of cost, by the cost unit's first word.
_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "billion": 1e9}
#: Other names of currencies (a currency is otherwise a three-letter ISO 4217 code).
_CURRENCY_ALIASES = {"yuan": "CNY", "rmb": "CNY", "euro": "EUR", "euros": "EUR",
                     "dollar": "USD", "dollars": "USD"}  # fmt: skip


@dataclass(frozen=True)
class Appraisal:
    """The parameters of the money appraisal (:func:`appraise`); see the module docstring.

    Attributes
    ----------
    value_of_time : float or None
        One value of time for all traffic, currency units per vehicle-hour; None: the
        mean of ``value_of_time_by_class`` weighted by ``class_shares``.
    value_of_time_by_class : mapping or None
        Class -> currency units per vehicle-hour (default :data:`VALUES_OF_TIME`).
    class_shares : mapping or None
        Class -> share of the traffic (vehicle-hours), summing to 1. Default: ``goods``
        the ``heavy_share``, the rest ``car`` and ``business`` (the latter
        :data:`BUSINESS_SHARE_OF_CARS` of it).
    annualisation : str
        One of :data:`ANNUALISATIONS`.
    periods_per_year : float
        Demand periods in a year, for ``annualisation="periods"`` (500: 250 working days
        with a morning and an evening peak hour).
    days_per_year : float
        Days in a year, for ``annualisation="k-factor"``.
    years : int
        Appraisal period: years of use after the works open.
    discount_rate : float
        A fraction a year (0.08 for 8 %; default :data:`DISCOUNT_RATE`).
    construction_years : int
        Years of building before the works open (0: paid at the start, open at once).
    residual_value : bool
        Count the straight-line residual value of the works at the end of the period.
    service_life : mapping or None
        Candidate kind -> years (default :data:`SERVICE_LIFE`).
    currency : str
        Currency of the values of time and of the costs (e.g. CNY).
    cost_unit : str or None
        The candidates' cost unit where they do not name one (e.g. "thousand CNY");
        default: the candidates' own.
    time_unit_hours : float or None
        Hours in one unit of the network's time (0.01 for SiouxFalls' hundredths of an
        hour); default: from the network's units (:data:`TIME_UNIT_HOURS`), and no money
        terms where they name none.
    design_hour_factor : float or None
        K, the design hour's share of the daily trips, for a design-hour demand (the
        job pipeline sets it from the study; None: no design-hour demand).
    heavy_share : float
        Share of goods vehicles in the traffic, for the default ``class_shares``.
    """

    value_of_time: float | None = None
    value_of_time_by_class: Mapping[str, float] | None = None
    class_shares: Mapping[str, float] | None = None
    annualisation: str = "auto"
    periods_per_year: float = 500.0
    days_per_year: float = 365.0
    years: int = 20
    discount_rate: float = DISCOUNT_RATE
    construction_years: int = 0
    residual_value: bool = True
    service_life: Mapping[str, float] | None = None
    currency: str = "CNY"
    cost_unit: str | None = None
    time_unit_hours: float | None = None
    design_hour_factor: float | None = None
    heavy_share: float = HEAVY_SHARE

    def __post_init__(self) -> None:
        def bad(name: str, rule: str) -> OptionError:
            return OptionError(name, f"is {getattr(self, name)!r}; {rule}")

        if self.value_of_time is not None and not _finite(self.value_of_time, 0):
            raise bad("value_of_time", "give a number >= 0 (currency units per vehicle-hour)")
        if self.annualisation not in ANNUALISATIONS:
            raise bad("annualisation", f"choose one of {', '.join(ANNUALISATIONS)}")
        for name in ("periods_per_year", "days_per_year"):
            if not _finite(getattr(self, name), 0, strict=True):
                raise bad(name, "give a number > 0")
        if isinstance(self.years, bool) or not isinstance(self.years, int) or self.years < 1:
            raise bad("years", "give a whole number of years >= 1")
        c = self.construction_years
        if isinstance(c, bool) or not isinstance(c, int) or c < 0:
            raise bad("construction_years", "give a whole number of years >= 0")
        if not _finite(self.discount_rate, 0) or self.discount_rate >= 1:
            raise bad("discount_rate", "give a fraction a year in [0, 1), e.g. 0.08 for 8 %")
        if not str(self.currency).strip():
            raise bad("currency", "name the currency, e.g. CNY")
        if self.time_unit_hours is not None and not _finite(self.time_unit_hours, 0, strict=True):
            raise bad("time_unit_hours", "give the hours in one network time unit, > 0")
        if self.design_hour_factor is not None and not (0 < self.design_hour_factor <= 1):
            raise bad("design_hour_factor", "give K in (0, 1]")
        if not (0 <= self.heavy_share <= 1):
            raise bad("heavy_share", "give a share in [0, 1]")
        for name in ("value_of_time_by_class", "service_life"):
            table = getattr(self, name)
            strict = name == "service_life"
            if table is not None and (
                not table or not all(_finite(v, 0, strict=strict) for v in table.values())
            ):
                rule = "> 0" if strict else ">= 0"
                raise bad(name, f"give one or more name=value pairs, each value {rule}")
        if self.value_of_time is None:
            shares = self.shares
            if any(not _finite(v, 0) for v in shares.values()) or not math.isclose(
                sum(shares.values()), 1.0, abs_tol=1e-6
            ):
                raise bad("class_shares", "give shares >= 0 that add up to 1")
            missing = sorted(set(shares) - set(self.values_of_time))
            if missing:
                raise OptionError(
                    "class_shares",
                    f"the classes {', '.join(missing)} have no value of time; give "
                    f"value_of_time_by_class for them (classes: {', '.join(self.values_of_time)})",
                )
        if self.annualisation == "k-factor" and self.design_hour_factor is None:
            raise OptionError(
                "annualisation",
                "k-factor needs a design-hour demand and its K factor (the synthesised "
                "demand of an OpenStreetMap study); for other demands use periods and "
                "periods_per_year",
            )

    # ------------------------------------------------------------------ parameters
    @property
    def values_of_time(self) -> Mapping[str, float]:
        """Value of time by class (the given table or :data:`VALUES_OF_TIME`)."""
        return dict(
            VALUES_OF_TIME if self.value_of_time_by_class is None else self.value_of_time_by_class
        )

    @property
    def shares(self) -> Mapping[str, float]:
        """Each class's share of the traffic (given, or from ``heavy_share``)."""
        if self.class_shares is not None:
            return dict(self.class_shares)
        cars = 1.0 - self.heavy_share
        return {
            "car": cars * (1 - BUSINESS_SHARE_OF_CARS),
            "business": cars * BUSINESS_SHARE_OF_CARS,
            "goods": self.heavy_share,
        }

    @property
    def mean_value_of_time(self) -> float:
        """The value of time used: currency units per vehicle-hour."""
        if self.value_of_time is not None:
            return float(self.value_of_time)
        vot = self.values_of_time
        return float(sum(s * vot[k] for k, s in self.shares.items()))

    @property
    def method(self) -> str:
        """The annualisation used: ``periods`` or ``k-factor``."""
        if self.annualisation == "auto":
            return "periods" if self.design_hour_factor is None else "k-factor"
        return self.annualisation

    @property
    def periods(self) -> float:
        """Demand periods per year, ``P``."""
        if self.method == "k-factor":
            assert self.design_hour_factor is not None  # checked when built
            return self.days_per_year / self.design_hour_factor
        return float(self.periods_per_year)

    @property
    def annuity(self) -> float:
        """``A(r, n)``: present value of one currency unit a year over ``years``."""
        r, n = self.discount_rate, self.years
        return float(n) if r == 0 else (1 - (1 + r) ** -n) / r

    def discount(self, t: float) -> float:
        """``(1 + r)^-t``: present value of one currency unit in year ``t``."""
        return float((1 + self.discount_rate) ** -t)

    def cost_factor(self) -> float:
        """``PV_C / C``: present value of one cost unit spread over the construction years."""
        c = self.construction_years
        return 1.0 if c == 0 else sum(self.discount(t) for t in range(c)) / c

    def life(self, kind: str) -> float:
        """Service life of works of a candidate kind (years)."""
        table = SERVICE_LIFE if self.service_life is None else self.service_life
        return float(table.get(kind, min(table.values())))

    def residual_share(self, kind: str) -> float:
        """Share of the cost left at the end of the period (straight-line)."""
        if not self.residual_value:
            return 0.0
        return max(0.0, 1.0 - self.years / self.life(kind))

    def parameters(self) -> dict[str, Any]:
        """Every parameter as used, JSON-ready (``discount_rate`` as a fraction)."""
        single = self.value_of_time is not None
        out = {
            "value_of_time": self.mean_value_of_time,
            "value_of_time_by_class": None if single else dict(self.values_of_time),
            "class_shares": None if single else dict(self.shares),
            "annualisation": self.method,
            "periods_per_year": self.periods,
            "days_per_year": self.days_per_year if self.method == "k-factor" else None,
            "design_hour_factor": self.design_hour_factor if self.method == "k-factor" else None,
            "years": self.years,
            "discount_rate": self.discount_rate,
            "construction_years": self.construction_years,
            "residual_value": self.residual_value,
            "service_life": dict(SERVICE_LIFE if self.service_life is None else self.service_life),
            "currency": self.currency,
        }
        assert tuple(out) == PARAMETERS
        return out

    def unit_of(self, candidates_unit: str) -> tuple[str, float]:
        """The cost unit and the currency units in one of it, checked against ``currency``.

        ``cost_unit`` names the unit of candidates whose unit names no currency (``cost
        unit``, a TNTP instance's); a unit that names one must be the ``currency``.

        Raises
        ------
        OptionError
            When the candidates' costs name another unit than ``cost_unit`` or another
            currency than ``currency``.
        """
        given, own = self.cost_unit, candidates_unit
        if given is not None and _currency_in(own) and given.strip() != own.strip():
            raise OptionError(
                "cost_unit",
                f"is {given!r} but the candidates' costs are in {own!r}; convert them or "
                "leave cost_unit unset",
            )
        unit = own if given is None or _currency_in(own) else given
        named = _currency_in(unit)
        if named is not None and named != (_currency_in(self.currency) or self.currency.strip()):
            raise OptionError(
                "currency",
                f"is {self.currency!r} but the costs are in {unit!r}; set the currency to "
                f"{named} or convert the costs",
            )
        return unit, cost_unit_scale(unit)


def _finite(v: Any, low: float, *, strict: bool = False) -> bool:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return math.isfinite(f) and (f > low if strict else f >= low)


def _currency_in(unit: str) -> str | None:
    """The currency a unit names (``thousand CNY`` -> ``CNY``; ``cost unit`` -> None)."""
    for word in re.findall(r"[^\W\d_]+", unit):
        code = _CURRENCY_ALIASES.get(word.lower(), word)
        if re.fullmatch(r"[A-Z]{3}", code):
            return code
    return None


def cost_unit_scale(unit: str) -> float:
    """Base currency units in one cost unit: 1e3 for "thousand CNY", 1e6 for "million"."""
    words = unit.strip().lower().split()
    return _SCALES.get(words[0], 1.0) if words else 1.0


# ---------------------------------------------------------------------- the figures
def _figures(
    app: Appraisal, annual: float | None, cost: float, residual: float
) -> dict[str, float | None]:
    """PV of benefits and costs, NPV, BCR and FYRR of a first-year benefit and a cost."""
    pv_c = cost * app.cost_factor()
    if annual is None:  # no money value of time: the costs alone
        keys = ("annual_benefit", "present_value_time_savings", "residual_value_at_end",
                "present_value_residual", "present_value_benefits")  # fmt: skip
        return {**dict.fromkeys(keys), "present_value_costs": pv_c, "net_present_value": None,
                "benefit_cost_ratio": None, "first_year_rate_of_return": None}  # fmt: skip
    c, n = app.construction_years, app.years
    pv_t = annual * app.annuity * app.discount(c)
    pv_r = residual * app.discount(c + n)
    pv_b = pv_t + pv_r
    return {
        "annual_benefit": annual,
        "present_value_time_savings": pv_t,
        "residual_value_at_end": residual,
        "present_value_residual": pv_r,
        "present_value_benefits": pv_b,
        "present_value_costs": pv_c,
        "net_present_value": pv_b - pv_c,
        "benefit_cost_ratio": pv_b / pv_c if pv_c > 0 else None,
        "first_year_rate_of_return": annual / cost if cost > 0 else None,
    }


def appraise(
    problem: DesignProblem,
    plan: np.ndarray,
    before: Mapping[str, float],
    after: Mapping[str, float],
    after_value: float,
    app: Appraisal,
    evaluate: Callable[[np.ndarray], tuple[float, Mapping[str, float]]],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Money terms of the plan against doing nothing, and (leave-one-out) of each upgrade.

    Parameters
    ----------
    before, after
        Equilibrium figures (``tstt`` at least) without and with the plan.
    after_value
        The plan's objective value.
    app
        The appraisal's parameters.
    evaluate
        ``plan -> (objective value, figures)`` for the leave-one-out plans.

    Returns
    -------
    details, row
        One JSON-ready row per chosen upgrade, and the plan's money row with every
        parameter used, the comparison with doing nothing and a ``warning`` (None
        unless the benefit/cost ratio is below 1). Money is in the cost unit; it is
        ``None`` where the network's time unit is not one of :data:`TIME_UNIT_HOURS` and
        ``time_unit_hours`` is not given.
    """
    cs = problem.candidates
    unit, per_cost_unit = app.unit_of(cs.cost_unit)
    to_hours = app.time_unit_hours
    if to_hours is None:
        to_hours = TIME_UNIT_HOURS.get(cs.network.units.time.strip().lower())
    periods, vot = app.periods, app.mean_value_of_time

    def money(vehicle_time: float) -> float | None:
        """Annual money value of a time per demand period (network units)."""
        return (
            None if to_hours is None else vehicle_time * to_hours * periods * vot / per_cost_unit
        )

    def residual(chosen: np.ndarray) -> float:
        return float(sum(cs.candidates[k].cost * app.residual_share(cs.candidates[k].kind)
                         for k in np.flatnonzero(chosen)))  # fmt: skip

    saved = before["tstt"] - after["tstt"]
    cost = problem.cost(plan)
    figures = _figures(app, money(saved), cost, residual(plan))
    hours = None if to_hours is None else to_hours * periods

    def alternative(tstt: float, c: float, npv: float | None) -> dict[str, Any]:
        return {
            "tstt": tstt,
            "annual_vehicle_hours": None if hours is None else tstt * hours,
            "annual_time_cost": money(tstt),
            "cost": c,
            "net_present_value": npv,
        }

    npv = figures.get("net_present_value")
    bcr = figures.get("benefit_cost_ratio")
    row: dict[str, Any] = {
        "tstt_saved": saved,
        "annual_vehicle_hours_saved": None if hours is None else saved * hours,
        **figures,
        "cost": cost,
        "do_nothing": alternative(before["tstt"], 0.0, 0.0),
        "with_plan": alternative(after["tstt"], cost, npv),
        "preferred": None if npv is None else ("plan" if npv > 0 else "do nothing"),
        "warning": None,
        **app.parameters(),
        "time_unit": cs.network.units.time,
        "time_unit_hours": to_hours,
        "money_unit": unit,
    }
    if bcr is not None and bcr < 1:
        row["warning"] = (
            f"the plan costs more than it saves at these values: benefit/cost {bcr:.2f}, "
            f"net present value {npv:,.0f} {unit}; doing nothing is better on these money "
            "terms"
        )
    requires = cs.prerequisites()
    details = []
    for k in np.flatnonzero(plan):
        c = cs.candidates[k]
        d = c.summary(cs.network)
        out = _with_dependents(int(k), plan, requires)
        without = plan & ~out
        value, figs = evaluate(without)
        own = figs["tstt"] - after["tstt"]
        d["tstt_saved"] = own
        d["objective_gain"] = value - after_value
        d.update(_figures(app, money(own), problem.cost(out), residual(out)))
        d["service_life"] = app.life(c.kind)
        if out.sum() > 1:
            d["left_out_with"] = [cs.candidates[j].id for j in np.flatnonzero(out) if j != k]
        details.append(d)
    return details, row


def _with_dependents(k: int, plan: np.ndarray, requires: list[tuple[int, int]]) -> np.ndarray:
    """Candidate ``k`` and every chosen candidate that requires it, directly or not."""
    out = np.zeros_like(plan, dtype=bool)
    out[k] = True
    grew = True
    while grew:
        grew = False
        for a, b in requires:
            if out[b] and plan[a] and not out[a]:
                out[a] = grew = True
    return out
