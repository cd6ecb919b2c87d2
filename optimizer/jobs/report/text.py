"""Short texts the pictures and the page share: percent changes, gaps, upgrade names.

Numbers themselves are written by :func:`optimizer.jobs.format.fmt`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["NEAR_SETTLEMENT_M", "bcr_note", "finite", "gap_text", "pct_change", "upgrade_label"]


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


def bcr_note(appraisal: Mapping[str, Any] | None) -> str | None:
    """The plain statement that a plan's benefit/cost ratio is below 1, else None.

    ``benefit/cost 0.55 < 1: the plan's discounted benefits (169,848 thousand CNY) do not
    cover its cost (310,747 thousand CNY)``, from the plan's appraisal row
    (:func:`optimizer.appraisal.appraise`); None where the ratio is 1 or more or unknown
    (no money terms, nothing built).
    """
    from ..format import fmt

    app: Mapping[str, Any] = appraisal or {}
    bcr: Any = app.get("benefit_cost_ratio")
    if not finite(bcr) or float(bcr) >= 1:
        return None
    u = app.get("money_unit", "")

    def amount(key: str) -> str:
        v = app.get(key)
        return f" ({' '.join(t for t in (fmt(v), u) if t)})" if finite(v) else ""

    return (
        f"benefit/cost {float(bcr):.2f} < 1: the plan's discounted benefits"
        f"{amount('present_value_benefits')} do not cover its cost"
        f"{amount('present_value_costs')}"
    )


#: Words for each candidate kind in a map label.
_KIND_WORDS = {"new_link": "new link", "widen": "widening", "upgrade": "upgrade"}
#: A new road's end is named after a settlement whose centre lies this close (metres).
NEAR_SETTLEMENT_M = 800.0


def _road_names(network: Any) -> list[str] | None:
    """Each link's road: its ``ref`` (``B 303``), else its first ``name``; None: no names."""
    extra = network.extra
    m = network.num_links
    cols = [extra.get(k) for k in ("ref", "name")]
    cols = [c if c is not None and len(c) == m else None for c in cols]
    if all(c is None for c in cols):
        return None
    out = []
    for a in range(m):
        key = ""
        for i, c in enumerate(cols):
            v = "" if c is None or c[a] is None else str(c[a])
            v = v.split(";")[0].strip()
            if v:
                # a bare number is a road's number (Finnish ``170``): "road 170"
                key = f"road {v}" if i == 0 and v.isdigit() else v
                break
        out.append(key)
    return out


def _main_roads(roads: list[str], network: Any, links: Any, most: int) -> str:
    """The ``most`` roads that make up most of the links' length, ``/``-separated."""
    length: dict[str, float] = {}
    for a in links:
        key = roads[int(a)]
        if key:
            length[key] = length.get(key, 0.0) + float(network.length[int(a)])
    top = sorted(length, key=lambda k: -length[k])[:most]
    return " / ".join(top)


def _chain_ends(network: Any, links: Any) -> tuple[int, int] | None:
    """The two end nodes of a chain of links (both directions counted once)."""
    if len(links) == 0:
        return None
    edges = {tuple(sorted((int(network.init[a]), int(network.term[a])))) for a in links}
    degree: dict[int, int] = {}
    for i, j in edges:
        degree[i] = degree.get(i, 0) + 1
        degree[j] = degree.get(j, 0) + 1
    ends = [n for n, d in degree.items() if d == 1]
    if len(ends) == 2:
        return ends[0], ends[1]
    a = int(links[0])
    return int(network.init[a]), int(network.term[a])


def _end_name(
    node: int, network: Any, roads: list[str] | None, m0: int, zones: Any, metric: bool
) -> str:
    """What a new road's end is called (empty when nothing is known).

    The settlement whose zone node it is, else the road that meets it there, else (in
    metres) a settlement whose centre is within :data:`NEAR_SETTLEMENT_M`.
    """
    import numpy as np

    names = list(getattr(zones, "names", None) or ()) if zones is not None else []
    names += [""] * (len(getattr(zones, "node_ids", ())) - len(names))
    if names:
        ext = network.node_ids[node]
        for zid, name in zip(zones.node_ids, names, strict=False):
            if zid == ext and name:
                return str(name)
    if roads is not None:
        m0 = min(m0, network.num_links)
        near = np.flatnonzero((network.init[:m0] == node) | (network.term[:m0] == node))
        keys = [roads[int(a)] for a in near if roads[int(a)]]
        if keys:
            return max(dict.fromkeys(keys), key=keys.count)
    if names and metric and network.has_coordinates:
        d = np.hypot(np.asarray(zones.x) - network.x[node], np.asarray(zones.y) - network.y[node])
        k = int(np.argmin(d))
        if d[k] <= NEAR_SETTLEMENT_M and names[k]:
            return str(names[k])
    return ""


def _standard(candidate: Any) -> str:
    """The design standard a candidate builds to (``JTG-2``), else its road class."""
    from ...corridors import STANDARDS

    for s in STANDARDS.values():
        if s.label in (candidate.label or ""):
            return s.name.upper()
    return str(candidate.road_class or "")


def upgrade_label(
    candidate: Any,
    network: Any,
    *,
    num_base_links: int | None = None,
    zones: Any = None,
    metric: bool = False,
) -> str:
    """A short name of a candidate for a map: the road and what is done to it.

    ``B 303 widening``, ``KU 11 / St 2183 upgrade to JTG-1``, ``new link Ramsenthal –
    Zettlitz (JTG-2)``. The road is the links' ``ref`` or ``name`` (OpenStreetMap
    networks) that covers most of their length; a new road's ends are named after the
    settlement there (a zone whose node it is, or, with ``metric``, whose centre is within
    :data:`NEAR_SETTLEMENT_M`) or the road it meets. Networks without road names (TNTP
    files) keep the candidate's id, the only name it has.

    Parameters
    ----------
    candidate
        An :class:`optimizer.candidates.Candidate`.
    network
        The extended network its links index.
    num_base_links
        How many links exist today (the roads a new link meets are among these).
    zones
        The study's zones (names, nodes and centres), if any.
    metric
        Whether the network's coordinates are metres.
    """
    roads = _road_names(network)
    m0 = network.num_links if num_base_links is None else int(num_base_links)
    links = [int(a) for a in candidate.links]
    what = _KIND_WORDS.get(candidate.kind, candidate.kind.replace("_", " "))
    std = _standard(candidate)

    def ends() -> str:
        pair = _chain_ends(network, links)
        if pair is None:
            return ""
        a, b = (_end_name(n, network, roads, m0, zones, metric) for n in pair)
        if a and a == b:
            return f"along {a}"
        return f"{a} – {b}" if a and b else (a or b)

    if candidate.kind == "new_link":
        where = ends()
        text = f"{what} {where}" if where else what
        text += f" ({std})" if std else ""
    else:
        where = _main_roads(roads, network, links, 2) if roads is not None else ""
        where = where or ends().removeprefix("along ")
        if candidate.kind == "upgrade" and std:
            what = f"{what} to {std}"
        text = f"{where} {what}" if where else what
    if roads is None and not where:
        text = f"{candidate.id}: {text}"
    return text
