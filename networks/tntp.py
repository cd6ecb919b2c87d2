"""Read and write the TNTP formats of the Transportation Networks for Research collection.

Files: ``*_net.tntp`` (links), ``*_trips.tntp`` (OD demand), ``*_node.tntp`` (coordinates)
and ``*_flow.tntp`` (best-known equilibrium flows). The network-design instances of Rey
(2020) extend the net format with a right-most ``Cost`` column and a
``<NUMBER OF NEW LINKS>`` line; there ``<NUMBER OF LINKS>`` counts the existing links only.

Traps handled: metadata lines with trailing tabs, CRLF line ends, ``~`` comment lines, a
trailing ``;`` glued to the last field or missing, ``<FIRST THRU NODE>`` above 1 or absent,
zero free-flow times, ``B = 0`` with power 0, powers below 1, zero capacities, node ids that
are not contiguous, parallel links (never keyed by their end nodes) and intrazonal trips.
Units are the file's own.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload

import numpy as np
import scipy.sparse as sp

from ._io import atomic_write_text, decode_text, format_float, read_text_file
from .demand import Demand
from .errors import FileFormatError
from .network import CandidateLinks, Network, Units

__all__ = [
    "LinkFlows",
    "align_flows",
    "check_trips_fit",
    "companion_file",
    "read_flow",
    "read_net",
    "read_nodes",
    "read_readme",
    "read_trips",
    "write_flow",
    "write_net",
    "write_nodes",
    "write_trips",
]

log = logging.getLogger(__name__)

NET_FIELDS = (
    "init_node",
    "term_node",
    "capacity",
    "length",
    "free_flow_time",
    "b",
    "power",
    "speed",
    "toll",
    "link_type",
)
_DENSE_MAX_ZONES = 3000
_MAX_REPEAT_WARNINGS = 10  # repeated OD entries logged one by one in a trips file
_META_RE = re.compile(r"^\s*<([^>]+)>(.*)$")
_PAIR_RE = re.compile(r"([^\s:;]+)\s*:\s*([^\s:;]+)")


# ---------------------------------------------------------------------- metadata
def _lines(text: str) -> list[str]:
    return text.splitlines()


def _metadata(path: Path, lines: list[str]) -> tuple[dict[str, str], int]:
    """Parse ``<KEY> value`` lines up to ``<END OF METADATA>``; return them and the next line."""
    meta: dict[str, str] = {}
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line or line.startswith("~"):
            continue
        m = _META_RE.match(line)
        if m is None:
            raise FileFormatError(
                path,
                f"found {_clip(' '.join(line.split()))!r} where a metadata line such as "
                "'<NUMBER OF ZONES> 24' was expected; is the <END OF METADATA> line missing?",
                line=i + 1,
            )
        key = m.group(1).strip().upper()
        if key == "END OF METADATA":
            return meta, i + 1
        meta[key] = m.group(2).strip()
    raise FileFormatError(
        path, "no <END OF METADATA> line: the metadata block must end with <END OF METADATA>"
    )


@overload
def _meta_int(path: Path, meta: dict[str, str], key: str, *, required: Literal[True]) -> int: ...


@overload
def _meta_int(
    path: Path, meta: dict[str, str], key: str, *, required: Literal[False]
) -> int | None: ...


def _meta_int(path: Path, meta: dict[str, str], key: str, *, required: bool) -> int | None:
    if key not in meta:
        if required:
            raise FileFormatError(path, f"the metadata has no <{key}> line", field=key)
        return None
    text = meta[key].split()[0] if meta[key].split() else ""
    try:
        value = float(text)
    except ValueError:
        raise FileFormatError(
            path, f"<{key}> is {text!r}, expected a whole number", field=key
        ) from None
    if value != int(value) or value < 0:
        raise FileFormatError(
            path, f"<{key}> is {text!r}, expected a whole number >= 0", field=key
        )
    return int(value)


def _meta_line(lines: list[str], key: str) -> int | None:
    """1-based number of the ``<KEY>`` metadata line, None when there is none."""
    for i, raw in enumerate(lines):
        m = _META_RE.match(raw.strip())
        if m is None:
            continue
        found = m.group(1).strip().upper()
        if found == key:
            return i + 1
        if found == "END OF METADATA":
            return None
    return None


def _clip(s: str, n: int = 60) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."


def _body_rows(lines: list[str], start: int) -> Iterator[tuple[int, list[str]]]:
    """Yield (1-based line number, fields) for each data line, ``;`` and comments removed."""
    for i in range(start, len(lines)):
        line = lines[i].strip()
        if not line or line.startswith("~") or line.startswith("<"):
            continue
        fields = line.split(";", 1)[0].split()
        if fields:
            yield i + 1, fields


def _number(path: Path, lineno: int, field: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise FileFormatError(
            path, f"{_clip(text)!r} is not a number", line=lineno, field=field
        ) from None


def _node_id(path: Path, lineno: int, field: str, text: str) -> int:
    v = _number(path, lineno, field, text)
    if v != int(v) or v < 1:
        raise FileFormatError(
            path, f"{text!r} is not a node number (a whole number >= 1)", line=lineno, field=field
        )
    return int(v)


# ---------------------------------------------------------------------- networks
def read_net(path: str | Path, *, name: str | None = None, units: Units | None = None) -> Network:
    """Read a TNTP network file (or a network-design instance) into a :class:`Network`.

    Parameters
    ----------
    path
        A ``*_net.tntp`` file, or a network-design instance with a ``Cost`` column and
        ``<NUMBER OF NEW LINKS>`` (the candidates go to ``network.candidates``).
    name
        Label for the network; by default the file name without ``_net.tntp``.
    units
        Units of the file's columns, when known (see :func:`read_readme`).

    Returns
    -------
    Network
        Links in file order (link id ``k`` is file row ``k + 1``); node ids ``1..N`` when
        the links use only those, else the sorted distinct ids; ``no_thru`` marks nodes
        numbered below ``<FIRST THRU NODE>``.

    Raises
    ------
    FileFormatError
        For any malformed content, naming the line and field.
    """
    path = Path(path)
    lines = _lines(read_text_file(path, what="TNTP network"))
    meta, start = _metadata(path, lines)
    n_zones = _meta_int(path, meta, "NUMBER OF ZONES", required=False) or 0
    n_nodes = _meta_int(path, meta, "NUMBER OF NODES", required=True)
    n_links = _meta_int(path, meta, "NUMBER OF LINKS", required=True)
    n_new = _meta_int(path, meta, "NUMBER OF NEW LINKS", required=False)
    first_thru = _meta_int(path, meta, "FIRST THRU NODE", required=False)
    first_thru = 1 if first_thru is None else first_thru
    if n_zones > n_nodes:
        raise FileFormatError(
            path,
            f"<NUMBER OF ZONES> {n_zones} exceeds <NUMBER OF NODES> {n_nodes}: zone k is "
            "node k, so a network cannot have more zones than nodes; correct the header "
            "(is the zone count a trips file's, or are nodes missing?)",
            line=_meta_line(lines, "NUMBER OF ZONES"),
            field="NUMBER OF ZONES",
        )
    ncols = len(NET_FIELDS) + (1 if n_new is not None else 0)
    names = (*NET_FIELDS, "cost") if n_new is not None else NET_FIELDS

    rows: list[list[float]] = []
    linenos: list[int] = []
    for lineno, fields in _body_rows(lines, start):
        if len(fields) < ncols:
            raise FileFormatError(
                path,
                f"expected {ncols} fields ({' '.join(names)}), found {len(fields)}",
                line=lineno,
            )
        row = [
            float(_node_id(path, lineno, names[0], fields[0])),
            float(_node_id(path, lineno, names[1], fields[1])),
        ]
        for k in range(2, ncols):
            # the cost is the right-most column even when extra columns sit between
            text = fields[-1] if (n_new is not None and k == ncols - 1) else fields[k]
            row.append(_number(path, lineno, names[k], text))
        rows.append(row)
        linenos.append(lineno)

    expected = n_links + (n_new or 0)
    if len(rows) != expected:
        what = f"<NUMBER OF LINKS> {n_links}" + (
            f" + <NUMBER OF NEW LINKS> {n_new}" if n_new is not None else ""
        )
        raise FileFormatError(
            path, f"the metadata says {what} = {expected} links but the file lists {len(rows)}"
        )
    data = np.asarray(rows, dtype=np.float64).reshape(len(rows), ncols)
    ends = data[:, :2].astype(np.int64)
    for k, field in enumerate(NET_FIELDS[2:], start=2):
        col = data[:, k]
        if not np.all(np.isfinite(col)):
            i = int(np.flatnonzero(~np.isfinite(col))[0])
            raise FileFormatError(path, "is not a finite number", line=linenos[i], field=field)
    _check_nonneg(path, data, linenos, 2, "capacity")
    _check_nonneg(path, data, linenos, 4, "free_flow_time")
    _check_nonneg(path, data, linenos, 5, "b")
    _check_nonneg(path, data, linenos, 6, "power")
    bad_cap = np.flatnonzero((data[:, 2] == 0) & (data[:, 5] > 0) & (data[:, 4] > 0))
    if bad_cap.size:
        i = int(bad_cap[0])
        raise FileFormatError(
            path,
            "is 0 on a link whose cost depends on flow (B > 0); give a positive capacity or B = 0",
            line=linenos[i],
            field="capacity",
        )

    # node set: 1..N when the links stay inside it, else the distinct ids (non-contiguous)
    used = np.unique(np.concatenate([ends.ravel(), np.arange(1, n_zones + 1)]))
    if used.size and used.max() <= n_nodes:
        node_ids = np.arange(1, n_nodes + 1, dtype=np.int64)
    else:
        if used.size > n_nodes:
            # the first row that brings the count of distinct ids above the metadata's
            seen = set(range(1, n_zones + 1))
            for i, (a, b) in enumerate(ends):
                seen.update((int(a), int(b)))
                if len(seen) > n_nodes:
                    bad = int(a) if int(a) > n_nodes else int(b)
                    raise FileFormatError(
                        path,
                        f"link to unknown node {bad}: the metadata declares <NUMBER OF NODES> "
                        f"{n_nodes} and the links use more distinct node ids than that",
                        line=linenos[i],
                        field="term_node" if int(b) == bad else "init_node",
                    )
        node_ids = used  # holds 1..n_zones (n_zones <= n_nodes is checked above)

    existing = slice(0, n_links)
    label = name or _stem(path, "_net")
    net = Network.from_links(
        ends[existing, 0],
        ends[existing, 1],
        node_ids=node_ids,
        capacity=data[existing, 2],
        length=data[existing, 3],
        free_flow_time=data[existing, 4],
        alpha=data[existing, 5],
        beta=data[existing, 6],
        speed=data[existing, 7],
        toll=data[existing, 8],
        link_type=np.rint(data[existing, 9]).astype(np.int64),
        link_ids=np.arange(1, n_links + 1),
        no_thru=node_ids < first_thru,
        units=units or Units(),
        name=label,
        extra={"tntp_zones": n_zones, "first_thru_node": first_thru, "source": str(path)},
        validate=False,
    )
    if n_new is not None:
        cand = slice(n_links, n_links + n_new)
        cost = data[cand, ncols - 1]
        if np.any(cost < 0):
            i = n_links + int(np.flatnonzero(cost < 0)[0])
            raise FileFormatError(
                path, "is negative; building costs must be >= 0", line=linenos[i], field="cost"
            )
        net = net.replace(
            validate=False,
            candidates=CandidateLinks(
                init=net.node_indices(ends[cand, 0]),
                term=net.node_indices(ends[cand, 1]),
                capacity=data[cand, 2].copy(),
                length=data[cand, 3].copy(),
                free_flow_time=data[cand, 4].copy(),
                alpha=data[cand, 5].copy(),
                beta=data[cand, 6].copy(),
                speed=data[cand, 7].copy(),
                toll=data[cand, 8].copy(),
                link_type=np.rint(data[cand, 9]).astype(np.int64),
                cost=cost.copy(),
                link_ids=np.arange(n_links + 1, n_links + n_new + 1, dtype=np.int64),
            ),
        )
    return net.validate()


def _check_nonneg(path: Path, data: np.ndarray, linenos: list[int], col: int, field: str) -> None:
    neg = np.flatnonzero(data[:, col] < 0)
    if neg.size:
        i = int(neg[0])
        raise FileFormatError(
            path, f"is {data[i, col]:g}; it must be >= 0", line=linenos[i], field=field
        )


def _stem(path: Path, suffix: str) -> str:
    stem = path.name
    for ext in (".tntp", ".txt"):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
    if stem.lower().endswith(suffix.lower()):
        stem = stem[: -len(suffix)]
    return stem


def write_net(network: Network, path: str | Path) -> None:
    """Write a network (and its candidate links, if any) as a TNTP net file, atomically.

    Reading the file back with :func:`read_net` gives the same network: same link order,
    same node ids, same values to the last bit.
    """
    net = network
    cand = net.candidates
    zones = int(net.extra.get("tntp_zones", 0))
    first_thru = int(net.extra.get("first_thru_node", _first_thru(net)))
    out = [
        f"<NUMBER OF ZONES> {zones}",
        f"<NUMBER OF NODES> {net.num_nodes}",
        f"<FIRST THRU NODE> {first_thru}",
        f"<NUMBER OF LINKS> {net.num_links}",
    ]
    if cand is not None:
        out.append(f"<NUMBER OF NEW LINKS> {cand.num_candidates}")
    out += ["<END OF METADATA>", "", ""]
    cols = list(NET_FIELDS) + (["cost"] if cand is not None else [])
    out.append("~\t" + "\t".join(cols) + "\t;")
    ids = net.node_ids

    def emit(a, b, cap, ln, fft, al, be, spd, tl, lt, cost=None):
        vals = [
            str(int(ids[a])),
            str(int(ids[b])),
            format_float(cap),
            format_float(ln),
            format_float(fft),
            format_float(al),
            format_float(be),
            format_float(spd),
            format_float(tl),
            str(int(lt)),
        ]
        if cost is not None:
            vals.append(format_float(cost))
        out.append("\t" + "\t".join(vals) + "\t;")

    for k in range(net.num_links):
        emit(
            net.init[k],
            net.term[k],
            net.capacity[k],
            net.length[k],
            net.free_flow_time[k],
            net.alpha[k],
            net.beta[k],
            net.speed[k],
            net.toll[k],
            net.link_type[k],
            0.0 if cand is not None else None,
        )
    if cand is not None:
        for k in range(cand.num_candidates):
            emit(
                cand.init[k],
                cand.term[k],
                cand.capacity[k],
                cand.length[k],
                cand.free_flow_time[k],
                cand.alpha[k],
                cand.beta[k],
                cand.speed[k],
                cand.toll[k],
                cand.link_type[k],
                cand.cost[k],
            )
    atomic_write_text(path, "\n".join(out) + "\n")


def _first_thru(net: Network) -> int:
    """Smallest node id such that every node numbered below it is ``no_thru``."""
    if not net.no_thru.any():
        return 1
    return (
        int(net.node_ids[~net.no_thru].min())
        if (~net.no_thru).any()
        else int(net.node_ids.max() + 1)
    )


# ---------------------------------------------------------------------- trips
def read_trips(path: str | Path, *, name: str | None = None) -> Demand:
    """Read a TNTP trips file into a :class:`Demand` (zone ``k`` loads at node ``k``).

    Intrazonal trips stay in the matrix (``Demand.intrazonal``) and are never assigned.
    A ``<TOTAL OD FLOW>`` that disagrees with the body is logged as a warning. A destination
    listed twice in one origin block, and an origin with two blocks, add up; each is logged
    as a warning naming the line (the first few; then one count).

    Raises
    ------
    FileFormatError
        For an origin or destination outside ``1..<NUMBER OF ZONES>``, negative or
        non-numeric trips, entries before the first ``Origin`` line and the like.
    """
    path = Path(path)
    lines = _lines(read_text_file(path, what="TNTP trips"))
    meta, start = _metadata(path, lines)
    z = _meta_int(path, meta, "NUMBER OF ZONES", required=True)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    origin: int | None = None
    origin_lines: dict[int, int] = {}  # origin -> line of its (first) block
    dest_lines: dict[int, int] = {}  # destination -> line, in the current block
    repeats = 0

    def repeated(lineno: int, text: str) -> None:
        nonlocal repeats
        repeats += 1
        if repeats <= _MAX_REPEAT_WARNINGS:
            log.warning("%s, line %d: %s", path, lineno, text)

    for i in range(start, len(lines)):
        line = lines[i].strip()
        lineno = i + 1
        if not line or line.startswith("~"):
            continue
        if line[:6].lower() == "origin":
            parts = line.split()
            if len(parts) < 2:
                raise FileFormatError(
                    path, "an 'Origin' line needs a zone number", line=lineno, field="origin"
                )
            origin = _zone(path, lineno, "origin", parts[1], z)
            dest_lines = {}
            if origin in origin_lines:
                repeated(
                    lineno,
                    f"origin {origin} has a second block (the first is on line "
                    f"{origin_lines[origin]}); its trips are added to the first's; merge the "
                    "two blocks if that is not meant",
                )
            else:
                origin_lines[origin] = lineno
            continue
        if origin is None:
            raise FileFormatError(
                path, f"found {_clip(line)!r} before the first 'Origin' line", line=lineno
            )
        pos = 0
        for m in _PAIR_RE.finditer(line):
            gap = line[pos : m.start()].replace(";", "").strip()
            if gap:
                raise FileFormatError(
                    path,
                    f"cannot read {_clip(gap)!r}; expected 'destination : trips;' entries",
                    line=lineno,
                )
            dest = _zone(path, lineno, "destination", m.group(1), z)
            v = _number(path, lineno, "trips", m.group(2))
            if not np.isfinite(v) or v < 0:
                raise FileFormatError(
                    path,
                    f"is {m.group(2)} (from zone {origin} to zone {dest}); trips must "
                    "be a number >= 0",
                    line=lineno,
                    field="trips",
                )
            if dest in dest_lines:
                first = dest_lines[dest]
                repeated(
                    lineno,
                    f"destination {dest} is listed again for origin {origin} (first "
                    f"{'on this line' if first == lineno else f'on line {first}'}); the trips "
                    "are added up; remove one entry if that is not meant",
                )
            else:
                dest_lines[dest] = lineno
            rows.append(origin - 1)
            cols.append(dest - 1)
            vals.append(v)
            pos = m.end()
        rest = line[pos:].replace(";", "").strip()
        if rest:
            raise FileFormatError(
                path,
                f"cannot read {_clip(rest)!r}; expected 'destination : trips;' entries",
                line=lineno,
            )
    if repeats > _MAX_REPEAT_WARNINGS:
        log.warning(
            "%s: %d repeated origins or destinations in all (only the first %d are listed "
            "above); their trips are added up",
            path,
            repeats,
            _MAX_REPEAT_WARNINGS,
        )
    coo = sp.coo_array(
        (
            np.asarray(vals, dtype=np.float64),
            (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)),
        ),
        shape=(z, z),
    )
    matrix = coo.toarray() if z <= _DENSE_MAX_ZONES else sp.csr_array(coo)
    total_meta = meta.get("TOTAL OD FLOW")
    body_total = float(np.sum(vals))
    if total_meta:
        try:
            t = float(total_meta.split()[0])
            if abs(t - body_total) > 1e-6 * max(1.0, abs(t)):
                log.warning(
                    "%s: <TOTAL OD FLOW> is %s but the trips add up to %.10g",
                    path,
                    total_meta,
                    body_total,
                )
        except ValueError:
            log.warning("%s: cannot read <TOTAL OD FLOW> %r", path, total_meta)
    ids = np.arange(1, z + 1, dtype=np.int64)
    return Demand(
        zone_ids=ids,
        zone_node_ids=ids,
        matrix=matrix,
        internal=np.ones(z, dtype=bool),
        period="as in file",
        name=name or _stem(path, "_trips"),
    )


def check_trips_fit(network: Network, demand: Demand, trips_path: str | Path) -> None:
    """Check that a TNTP trips file's zones are nodes of its network (zone ``k`` is node ``k``).

    Parameters
    ----------
    network
        The network read from the net file.
    demand
        The demand read from ``trips_path`` with :func:`read_trips`.
    trips_path
        The trips file, for the message.

    Raises
    ------
    FileFormatError
        Naming the trips file and its ``<NUMBER OF ZONES>`` line when the trips file has
        more zones than the network has nodes, or zones whose node the network lacks.
    """
    path = Path(trips_path)
    zone_nodes = np.asarray(demand.zone_node_ids, dtype=np.int64)
    missing = zone_nodes[~np.isin(zone_nodes, network.node_ids)]
    if missing.size == 0:
        return
    z = demand.num_zones
    source = network.extra.get("source", f"network '{network.name}'")
    try:
        line = _meta_line(_lines(read_text_file(path, what="TNTP trips")), "NUMBER OF ZONES")
    except (OSError, FileFormatError):
        line = None
    if z > network.num_nodes:
        what = (
            f"<NUMBER OF ZONES> {z} exceeds the {network.num_nodes} nodes of {source}: zone k "
            "loads at node k, so there cannot be more zones than nodes"
        )
    else:
        shown = ", ".join(str(int(v)) for v in missing[:10]) + (
            " ..." if missing.size > 10 else ""
        )
        what = (
            f"<NUMBER OF ZONES> is {z} but {source} has no node {shown}: zone k loads at "
            "node k, so every zone must be a node of the network"
        )
    raise FileFormatError(
        path,
        f"{what}; check that the trips file belongs to this network",
        line=line,
        field="NUMBER OF ZONES",
    )


def _zone(path: Path, lineno: int, field: str, text: str, z: int) -> int:
    v = _number(path, lineno, field, text)
    if v != int(v) or not 1 <= v <= z:
        raise FileFormatError(
            path,
            f"zone {text} is out of range; <NUMBER OF ZONES> is {z}, so zones are 1..{z}",
            line=lineno,
            field=field,
        )
    return int(v)


def write_trips(demand: Demand, path: str | Path) -> None:
    """Write a demand as a TNTP trips file (zones numbered by ``zone_ids``), atomically."""
    mat = sp.csr_array(demand.matrix)
    mat.sort_indices()
    out = [
        f"<NUMBER OF ZONES> {demand.num_zones}",
        f"<TOTAL OD FLOW> {format_float(float(mat.sum()))}",
        "<END OF METADATA>",
        "",
        "",
    ]
    ids = demand.zone_ids
    for i in range(demand.num_zones):
        a, b = mat.indptr[i], mat.indptr[i + 1]
        out.append(f"Origin \t{ids[i]}")
        entries = [
            f"{ids[j]} : {format_float(v)};"
            for j, v in zip(mat.indices[a:b], mat.data[a:b], strict=True)
        ]
        for k in range(0, len(entries), 5):
            out.append("    " + "\t".join(entries[k : k + 5]))
        out.append("")
    atomic_write_text(path, "\n".join(out) + "\n")


# ---------------------------------------------------------------------- flows
@dataclass(frozen=True, eq=False)
class LinkFlows:
    """Rows of a TNTP flow file: external end-node ids, volume and cost, in file order."""

    init_ids: np.ndarray
    term_ids: np.ndarray
    volume: np.ndarray
    cost: np.ndarray

    def __len__(self) -> int:
        return int(self.volume.shape[0])


def read_flow(path: str | Path) -> LinkFlows:
    """Read a TNTP flow file (``From To Volume Cost``); a header line is skipped."""
    path = Path(path)
    lines = _lines(read_text_file(path, what="TNTP flow"))
    a: list[int] = []
    b: list[int] = []
    v: list[float] = []
    c: list[float] = []
    start = 0
    if any(line.strip().upper().startswith("<END OF METADATA>") for line in lines):
        _, start = _metadata(path, lines)
    for lineno, fields in _body_rows(lines, start):
        if not fields[0].lstrip("-").replace(".", "", 1).isdigit():
            if not a:  # a header such as "From To Volume Cost"
                continue
            raise FileFormatError(
                path,
                f"expected 'from to volume cost', found {_clip(' '.join(fields))!r}",
                line=lineno,
            )
        if len(fields) < 3:
            raise FileFormatError(
                path, f"expected 4 fields (from to volume cost), found {len(fields)}", line=lineno
            )
        a.append(_node_id(path, lineno, "from", fields[0]))
        b.append(_node_id(path, lineno, "to", fields[1]))
        v.append(_number(path, lineno, "volume", fields[2]))
        c.append(_number(path, lineno, "cost", fields[3]) if len(fields) > 3 else np.nan)
    if not a:
        raise FileFormatError(path, "holds no flow rows")
    return LinkFlows(
        np.asarray(a, np.int64), np.asarray(b, np.int64), np.asarray(v), np.asarray(c)
    )


def align_flows(network: Network, flows: LinkFlows) -> np.ndarray:
    """Volumes of a flow file aligned with the network's links (by position).

    Flow files list links in the order of the net file, so rows are matched by position
    when the end nodes agree row by row (this keeps parallel links apart); otherwise each
    row is matched by its end nodes, which must then be unique.

    Raises
    ------
    FileFormatError
        When a row names a link the network does not have, or the match is ambiguous.
    """
    ids = network.node_ids
    ni, nt = ids[network.init], ids[network.term]
    if (
        len(flows) == network.num_links
        and np.array_equal(ni, flows.init_ids)
        and np.array_equal(nt, flows.term_ids)
    ):
        return flows.volume.copy()
    by_ends: dict[tuple[int, int], list[int]] = {}
    for k, (a, b) in enumerate(zip(ni.tolist(), nt.tolist(), strict=True)):
        by_ends.setdefault((a, b), []).append(k)
    out = np.zeros(network.num_links)
    seen = np.zeros(network.num_links, dtype=bool)
    for r, (a, b) in enumerate(zip(flows.init_ids.tolist(), flows.term_ids.tolist(), strict=True)):
        ks = by_ends.get((a, b))
        if not ks:
            raise FileFormatError("flow file", f"row {r + 1}: the network has no link {a}->{b}")
        free = [k for k in ks if not seen[k]]
        if not free:
            raise FileFormatError("flow file", f"row {r + 1}: link {a}->{b} listed twice")
        out[free[0]] = flows.volume[r]
        seen[free[0]] = True
    return out


def write_flow(network: Network, flow: np.ndarray, cost: np.ndarray, path: str | Path) -> None:
    """Write link flows and costs in the TNTP flow format, one row per link in link order."""
    ids = network.node_ids
    out = ["From \tTo \tVolume \tCost "]
    for k in range(network.num_links):
        out.append(
            f"{ids[network.init[k]]} \t{ids[network.term[k]]} \t{float(flow[k])!r} \t"
            f"{float(cost[k])!r} "
        )
    atomic_write_text(path, "\n".join(out) + "\n")


# ---------------------------------------------------------------------- nodes
def read_nodes(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read node coordinates: a TNTP ``*_node.tntp`` file or a GeoJSON of points.

    Returns
    -------
    ids, x, y
        External node ids and their coordinates, in file order.
    """
    path = Path(path)
    text = read_text_file(path, what="TNTP node")
    if path.suffix.lower() in (".geojson", ".json"):
        return _read_nodes_geojson(path, text)
    ids: list[int] = []
    xs: list[float] = []
    ys: list[float] = []
    for lineno, fields in _body_rows(_lines(text), 0):
        if not ids and not fields[0].replace(".", "", 1).isdigit():
            continue  # header "Node X Y"
        if len(fields) < 3:
            raise FileFormatError(
                path, f"expected 3 fields (node x y), found {len(fields)}", line=lineno
            )
        ids.append(_node_id(path, lineno, "node", fields[0]))
        xs.append(_number(path, lineno, "x", fields[1]))
        ys.append(_number(path, lineno, "y", fields[2]))
    if not ids:
        raise FileFormatError(path, "holds no node rows")
    return np.asarray(ids, np.int64), np.asarray(xs), np.asarray(ys)


def _read_nodes_geojson(path: Path, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import json

    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileFormatError(path, f"is not valid JSON ({exc.msg})", line=exc.lineno) from None
    ids, xs, ys = [], [], []
    for k, feat in enumerate(doc.get("features", [])):
        props = feat.get("properties") or {}
        nid = props.get("id", props.get("node"))
        geom = feat.get("geometry") or {}
        if nid is None or geom.get("type") != "Point":
            raise FileFormatError(path, f"feature {k}: expected a Point with an 'id' property")
        ids.append(int(nid))
        xs.append(float(geom["coordinates"][0]))
        ys.append(float(geom["coordinates"][1]))
    return np.asarray(ids, np.int64), np.asarray(xs), np.asarray(ys)


def write_nodes(network: Network, path: str | Path) -> None:
    """Write node coordinates as a TNTP node file, atomically."""
    out = ["Node\tX\tY\t;"]
    for i in range(network.num_nodes):
        out.append(f"{network.node_ids[i]}\t{float(network.x[i])!r}\t{float(network.y[i])!r}\t;")
    atomic_write_text(path, "\n".join(out) + "\n")


def with_coordinates(
    network: Network, ids: np.ndarray, x: np.ndarray, y: np.ndarray, crs: str | None = None
) -> Network:
    """The network with node coordinates filled from ``(ids, x, y)``; unknown ids ignored."""
    xs = np.full(network.num_nodes, np.nan)
    ys = np.full(network.num_nodes, np.nan)
    for nid, a, b in zip(ids.tolist(), x.tolist(), y.tolist(), strict=True):
        i = network._index.get(int(nid))
        if i is not None:
            xs[i], ys[i] = a, b
    return network.replace(x=xs, y=ys, crs=crs, validate=False)


# ---------------------------------------------------------------------- README, companions
def read_readme(path: str | Path) -> dict:
    """Units and generalized-cost weights from a collection folder's ``README.md``.

    Returns a dict with ``units`` (a :class:`Units`) and ``toll_factor`` /
    ``distance_factor`` (floats, 0 where the README gives none).

    Raises
    ------
    FileFormatError
        When the README is not UTF-8 text (:func:`networks._io.decode_text`).
    """
    text = decode_text(Path(path).read_bytes(), path, what="README")
    found: dict[str, str] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            section = line.lstrip("#").strip().lower()
            continue
        if ":" in line and section in ("units", "generalized cost weights"):
            key, _, val = line.partition(":")
            found[f"{section}/{key.strip().lower()}"] = val.strip()
    u = {k.split("/", 1)[1]: v for k, v in found.items() if k.startswith("units/") and v}
    units = Units(
        time=u.get("time", "file units"),
        length=u.get("distance", "file units"),
        speed=u.get("speed", "file units"),
        flow="veh/h" if u.get("time") else "file units",
        cost=u.get("cost", "file units"),
    )

    def factor(key: str) -> float:
        m = re.match(r"\s*([-+0-9.eE]+)", found.get(f"generalized cost weights/{key}", ""))
        return float(m.group(1)) if m else 0.0

    return {"units": units, "toll_factor": factor("toll"), "distance_factor": factor("distance")}


def companion_file(net_path: str | Path, kind: str) -> Path | None:
    """The ``kind`` file (``trips``, ``node``, ``flow``) beside a net file, by the naming rule.

    ``X_net.tntp`` pairs with ``X_trips.tntp`` (and so on), case-insensitively. A
    network-design instance (no ``_net`` in its name) pairs with nothing.
    """
    p = Path(net_path)
    m = re.match(r"(?i)^(.*)_net(\.tntp)$", p.name)
    if not m:
        return None
    prefix = m.group(1).lower()
    want = {f"{prefix}_{kind}.tntp"}
    if kind == "node":
        want |= {f"{prefix}_nodes.tntp", f"{prefix}_nodes.geojson", f"{prefix}_node.geojson"}
    for f in sorted(p.parent.iterdir()) if p.parent.is_dir() else []:
        if f.name.lower() in want:
            return f
    return None
