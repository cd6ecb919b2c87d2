"""Progress bars that show on a terminal and switch off when output is not one."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["progress_bar"]


def progress_bar(
    desc: str, *, total: int | None = None, unit: str = "it", enabled: bool | None = None
) -> Any:
    """A tqdm bar on standard error; disabled (no output, no cost) off a terminal.

    Parameters
    ----------
    enabled
        Force the bar on or off; by default on only when standard error is a terminal.
    """
    from tqdm import tqdm

    on = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=not on,
        leave=False,
        dynamic_ncols=True,
        mininterval=0.5,
        file=sys.stderr,
    )
