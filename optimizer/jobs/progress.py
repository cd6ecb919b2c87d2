"""Progress bars for the application wing: tqdm on a terminal, silent elsewhere.

The algorithms never draw anything: they log a line every few seconds and call a
``callback(row)`` (:func:`optimizer.assign`, :func:`optimizer.optimize`). The bars here turn
those rows into a bar on standard error, only when standard error is a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = ["ProgressBar", "assignment_bar", "progress_bar", "search_bar"]


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


class ProgressBar:
    """A callback for the algorithms that draws their rows as a bar (a context manager).

    Parameters
    ----------
    desc, unit
        The bar's label and unit.
    count
        Key of the row's counter (``iteration`` for an assignment, ``nodes`` for a search).
    describe
        Text shown after the bar for a row.
    then
        A further callback (the user's), called with every row; its answer is returned.
    """

    def __init__(
        self,
        desc: str,
        *,
        unit: str,
        count: str,
        describe: Callable[[dict], str],
        then: Callable[[dict], Any] | None = None,
        enabled: bool | None = None,
    ) -> None:
        self.bar = progress_bar(desc, unit=unit, enabled=enabled)
        self.count, self.describe, self.then = count, describe, then

    def __call__(self, row: dict) -> Any:
        """Draw one row; return what the further callback answers."""
        if not self.bar.disable:
            self.bar.n = int(row.get(self.count, 0))
            self.bar.set_postfix_str(self.describe(row), refresh=False)
            self.bar.update(0)
        return None if self.then is None else self.then(row)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.bar.close()


def assignment_bar(method: str, then: Callable[[dict], Any] | None = None) -> ProgressBar:
    """A bar over an assignment's iterations, showing the relative gap."""
    return ProgressBar(
        method,
        unit="iter",
        count="iteration",
        describe=lambda r: f"gap {r['relative_gap']:.3e}",
        then=then,
    )


def search_bar(what: str, then: Callable[[dict], Any] | None = None) -> ProgressBar:
    """A bar over a design search's nodes, showing the incumbent, gap and equilibria."""

    def describe(r: dict) -> str:
        gap = r.get("gap")
        return (
            f"incumbent {r['incumbent']:.6g}"
            + ("" if gap is None else f", gap {100 * gap:.3f}%")
            + f", {r['evaluations']} equilibria"
        )

    return ProgressBar(what, unit="node", count="nodes", describe=describe, then=then)
