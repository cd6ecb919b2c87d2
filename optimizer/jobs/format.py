"""Numbers for people: the one formatter behind the report's tables, titles and labels.

:func:`fmt` writes a value with a chosen number of significant digits. Two notations:

``"positional"`` (the report's)
    Digits written out with thousands separators (``1,234,567``, ``0.00123``, ``12.5``):
    rounded to ``digits`` significant digits, except that the integer part is always
    written in full (``fmt(98765.4, 3)`` is ``98,765``) and integers are never rounded;
    trailing zeros after the decimal point dropped; scientific notation (``digits``
    significant digits) only for magnitudes of 10^12 and more or below 10^-4.
``"general"``
    Python's ``g`` format (``1.23457e+06``): scientific once the exponent reaches
    ``digits`` or falls below -4, trailing zeros dropped.

Missing values (None, NaN, infinities) become the ``missing`` mark, booleans ``yes`` and
``no``, anything that is not a number its ``str``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

__all__ = ["fmt"]


def fmt(
    value: Any,
    digits: int = 6,
    *,
    missing: str = "–",
    thousands: bool = True,
    notation: Literal["positional", "general"] = "positional",
) -> str:
    """A number as text for people.

    Parameters
    ----------
    value
        A number (Python or NumPy), a boolean, None, or anything else (written with
        ``str`` unless ``float`` accepts it).
    digits
        Significant digits (at least 1).
    missing
        The text for None, NaN and infinities.
    thousands
        Separate thousands with commas.
    notation
        ``"positional"`` or ``"general"`` (see the module docstring).

    Returns
    -------
    str
        The text; ``fmt(1234567.891)`` is ``"1,234,568"``, ``fmt(0.5, missing="-",
        thousands=False, notation="general")`` is ``"0.5"``.
    """
    if notation not in ("positional", "general"):
        raise ValueError(f"notation={notation!r}: choose 'positional' or 'general'")
    if value is None:
        return missing
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    sep = "," if thousands else ""
    if notation == "positional" and isinstance(value, (int, np.integer)):
        return f"{int(value):{sep}}"
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(f):
        return missing
    if notation == "general":
        return f"{f:{sep}.{digits}g}"
    if f == 0:
        return "0"
    a = abs(f)
    if a >= 1e12 or a < 1e-4:
        return f"{f:.{max(digits - 1, 1)}e}"
    dec = max(0, digits - 1 - math.floor(math.log10(a)))
    text = f"{f:{sep}.{dec}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
