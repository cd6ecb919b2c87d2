"""Short texts the pictures and the page share: a percent change and a proven gap.

Numbers themselves are written by :func:`optimizer.jobs.format.fmt`.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["finite", "gap_text", "pct_change"]


def finite(v: Any) -> bool:
    """Whether ``v`` is a finite number (None and text that is no number are not)."""
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def gap_text(gap: Any) -> str:
    """A proven optimality gap in percent (below 1e-9: 0 %; unknown: –)."""
    if not finite(gap):
        return "–"
    g = float(gap)
    return "0 %" if g < 1e-9 else f"{100 * g:.2g} %"


def pct_change(before: Any, after: Any) -> str:
    """The change from ``before`` to ``after`` in percent of ``|before|`` (``+1.5 %``).

    Empty when either is not a finite number or ``before`` is zero.
    """
    if not (finite(before) and finite(after)) or float(before) == 0:
        return ""
    return f"{100 * (float(after) - float(before)) / abs(float(before)):+.1f} %"
