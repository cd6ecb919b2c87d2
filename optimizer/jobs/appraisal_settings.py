"""The money appraisal's settings (``[appraisal]``): :class:`optimizer.appraisal.Appraisal`.

One section, re-exported by :mod:`optimizer.jobs.settings`; every field is a keyword of
:class:`~optimizer.appraisal.Appraisal` with the same default (the tests check it), and
the pipeline adds what the study knows (the K factor of a design-hour demand, the share
of heavy vehicles).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from ..appraisal import (
    ANNUALISATIONS,
    BUSINESS_SHARE_OF_CARS,
    CAR_OCCUPANCY,
    SERVICE_LIFE,
    VALUES_OF_TIME,
    WAGE_PER_HOUR,
    Appraisal,
)
from ..errors import OptionError
from .setting_types import Section, _positive, default_of, parse_weights, setting

__all__ = ["AppraisalSettings"]


def _pairs(table: Any) -> str:
    return ",".join(f"{k}={v:g}" for k, v in table.items())


def _whole(name: str, low: int) -> Callable[[int], None]:
    def check(v: int) -> None:
        if v < low:
            raise OptionError(name, f"is {v}; give a whole number >= {low}")

    return check


def _fraction(v: float) -> None:
    if not (0 <= v < 1):
        hint = f" ({v:g} % is {v / 100:g})" if 1 <= v <= 100 else ""
        raise OptionError("discount_rate", f"is {v!r}; give a fraction a year, e.g. 0.08{hint}")


_VOT_SOURCE = (
    f"World Bank TRN-15 rules (working time: the wage; other: 30 % of it) on the NBS 2023 "
    f"urban wage, {WAGE_PER_HOUR:.2f} CNY/h; {CAR_OCCUPANCY:g} occupants a car (assumed)"
)


@dataclass(frozen=True)
class AppraisalSettings(Section):
    """The money appraisal of the plan against doing nothing: ``[appraisal]``."""

    TITLE: ClassVar[str] = "appraisal (money terms)"
    API: ClassVar[tuple[Callable[..., Any], ...]] = (Appraisal,)

    TABLE: ClassVar[str] = "appraisal"

    value_of_time: float | None = setting(
        default_of(Appraisal, "value_of_time"),
        "one value of time for all traffic (default: the classes' values weighted by "
        "their shares)",
        unit="currency per vehicle-hour",
        metavar="V",
        check=_positive("value_of_time", strict=False),
    )
    value_of_time_by_class: dict[str, float] | None = setting(
        default_of(Appraisal, "value_of_time_by_class"),
        f"value of time by class or purpose (default: {_pairs(VALUES_OF_TIME)})",
        unit="currency per vehicle-hour",
        source=_VOT_SOURCE,
        metavar="CLASS=V,...",
        parse=parse_weights,
    )
    class_shares: dict[str, float] | None = setting(
        default_of(Appraisal, "class_shares"),
        "each class's share of the traffic, adding up to 1 (default: goods the heavy "
        f"vehicles' share --heavy-share, business {BUSINESS_SHARE_OF_CARS:g} of the "
        "rest, car the remainder)",
        unit="share of the vehicle-hours",
        source=f"business share of cars {BUSINESS_SHARE_OF_CARS:g}: an assumption; use "
        "the study's survey",
        metavar="CLASS=S,...",
        parse=parse_weights,
    )
    annualisation: str = setting(
        default_of(Appraisal, "annualisation"),
        "demand periods to years: periods (periods-per-year), k-factor (days-per-year / "
        "the K factor, for a design-hour demand) or auto (k-factor for a design-hour "
        "demand, else periods)",
        choices=ANNUALISATIONS,
    )
    periods_per_year: float = setting(
        default_of(Appraisal, "periods_per_year"),
        "demand periods in a year (with --annualisation periods)",
        unit="periods per year",
        source="250 working days (劳社部发〔2008〕3号) x 2 peak hours",
        metavar="P",
        check=_positive("periods_per_year"),
    )
    days_per_year: float = setting(
        default_of(Appraisal, "days_per_year"),
        "days of traffic in a year (with --annualisation k-factor)",
        unit="days per year",
        metavar="D",
        check=_positive("days_per_year"),
    )
    years: int = setting(
        default_of(Appraisal, "years"),
        "appraisal period: years of use after the works open",
        unit="years",
        source="a common road appraisal period",
        metavar="N",
        check=_whole("years", 1),
    )
    discount_rate: float = setting(
        default_of(Appraisal, "discount_rate"),
        "discount rate, a fraction a year (0.08 for 8 %; under every road profile)",
        unit="fraction per year",
        source="the social discount rate of 建设项目经济评价方法与参数, 3rd ed., 2006",
        metavar="R",
        check=_fraction,
    )
    construction_years: int = setting(
        default_of(Appraisal, "construction_years"),
        "years of building before the works open, the cost spread evenly over them (0: "
        "paid at the start, open at once)",
        unit="years",
        metavar="N",
        check=_whole("construction_years", 0),
    )
    residual_value: bool = setting(
        default_of(Appraisal, "residual_value"),
        "count the residual value of the works at the end of the period (straight-line "
        "over their service life)",
        cli_help="leave out the residual value of the works at the end of the period",
        source="straight-line depreciation, as in ADB economic analyses of PRC projects",
    )
    service_life: dict[str, float] | None = setting(
        default_of(Appraisal, "service_life"),
        f"service life of the works by candidate kind (default: {_pairs(SERVICE_LIFE)}; "
        "a kind not listed: the shortest)",
        unit="years",
        source="planning assumptions",
        metavar="KIND=YEARS,...",
        parse=parse_weights,
    )
    currency: str = setting(
        default_of(Appraisal, "currency"),
        "currency of the values of time and of the costs",
        metavar="CODE",
    )
    cost_unit: str | None = setting(
        default_of(Appraisal, "cost_unit"),
        "the candidates' cost unit where they name no currency, e.g. 'thousand CNY' "
        "(default: the candidates' own)",
        metavar="UNIT",
    )

    time_unit_hours: float | None = setting(
        default_of(Appraisal, "time_unit_hours"),
        "hours in one unit of the network's time, e.g. 0.01 for a TNTP file in hundredths "
        "of an hour (default: from the network's units: min, h or s; no money terms "
        "where they name none)",
        unit="hours",
        metavar="H",
        check=_positive("time_unit_hours"),
    )

    def check(self) -> None:
        """The checks of :class:`~optimizer.appraisal.Appraisal` itself.

        The K factor comes from the study, so ``k-factor`` is checked with a stand-in
        here and against the demand when the job runs.
        """
        self.appraisal(design_hour_factor=0.1 if self.annualisation == "k-factor" else None)

    def appraisal(self, **study: Any) -> Appraisal:
        """The :class:`Appraisal` of these settings (``study``: what the study adds)."""
        return Appraisal(**self.values(), **study)
