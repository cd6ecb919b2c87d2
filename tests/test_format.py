"""The number formatter for people (:func:`optimizer.jobs.format.fmt`)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer.jobs.format import fmt


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (1234567.891, 6, "1,234,568"),
        (1234.5678, 6, "1,234.57"),
        (12.5, 3, "12.5"),
        (0.5, 6, "0.5"),
        (2.0, 6, "2"),
        (0.001234567, 3, "0.00123"),
        (-98765.4321, 4, "-98,765"),  # the integer part is written in full
        (0.0, 6, "0"),
        (-0.0, 6, "0"),
        (1e-5, 3, "1.00e-05"),
        (2.5e13, 4, "2.500e+13"),
        (1234567, 2, "1,234,567"),  # integers are never rounded
        (np.int64(-4200), 6, "-4,200"),
        (np.float32(0.25), 6, "0.25"),
        ("3.5", 6, "3.5"),
        ("a label", 6, "a label"),
        (True, 6, "yes"),
        (np.bool_(False), 6, "no"),
    ],
)
def test_positional_examples(value, digits, text):
    assert fmt(value, digits) == text


@pytest.mark.parametrize("value", [None, math.nan, math.inf, -math.inf, np.float64("nan")])
def test_missing_values_get_the_missing_mark(value):
    assert fmt(value) == "–"
    assert fmt(value, missing="-") == "-"
    assert fmt(value, missing="-", notation="general") == "-"


def test_thousands_separators_can_be_left_out():
    assert fmt(1234567.891, thousands=False) == "1234568"
    assert fmt(1234567, thousands=False) == "1234567"
    assert fmt(1234.5, thousands=False, notation="general") == "1234.5"
    assert fmt(1234.5, notation="general") == "1,234.5"


def test_an_unknown_notation_is_refused():
    with pytest.raises(ValueError, match="notation"):
        fmt(1.0, notation="fixed")


def _cli_reference(value, digits: int) -> str:
    """The command line's summary format: ``-`` for missing, else ``:.{digits}g``."""
    if value is None:
        return "-"
    f = float(value)
    return "-" if not math.isfinite(f) else f"{f:.{digits}g}"


_numbers = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**18), max_value=10**18),
)


@given(value=_numbers, digits=st.integers(min_value=1, max_value=15))
def test_general_notation_reproduces_the_command_line_summary(value, digits):
    assert fmt(value, digits, missing="-", thousands=False, notation="general") == (
        _cli_reference(value, digits)
    )


@given(
    value=st.floats(min_value=1e-4, max_value=1e12, exclude_max=True)
    | st.floats(min_value=-1e12, max_value=-1e-4, exclude_min=True),
    digits=st.integers(min_value=1, max_value=12),
)
def test_positional_text_reads_back_to_the_value_within_its_digits(value, digits):
    text = fmt(value, digits)
    assert "e" not in text
    back = float(text.replace(",", ""))
    # rounded at the digits-th significant digit, or to an integer where that lies left
    # of the decimal point: off by at most half a unit there
    unit = min(10.0 ** (math.floor(math.log10(abs(value))) - digits + 1), 1.0)
    assert abs(back - value) <= 0.5 * unit * (1 + 1e-9)
    assert not ("." in text and text.endswith("0"))  # trailing zeros dropped
