"""Access points to the trunk network: where a settlement's traffic gets onto it.

External access is the time from a zone to the nearest point where it can join a road of a
higher class, not to where a road leaves the study area (:mod:`networks.gateways` carries
the external trips). :func:`find_access_points` classifies those points by the road they
join:

``expressway``
    where an on-ramp (``motorway_link``) coming from a local road merges into a
    ``motorway`` carriageway, named after the nearest ``highway=motorway_junction`` node
    (its ``name`` and ``ref``); ramps fed only by other motorways (a motorway-to-motorway
    interchange, a German *Dreieck* or *Kreuz*) give local traffic no access and do not
    count; where a network has no such merge, the junction nodes themselves;
``trunk``
    where a road of a lower class, or a ``trunk_link``, joins a ``trunk`` road (China: the
    national roads, G-numbers);
``primary``
    likewise for ``primary`` roads (provincial roads, S-numbers; German Bundesstraßen).

A node counts once, in its highest class. Points are stored in
``network.extra["access_points"]`` (see :func:`attach`), where the connectivity metrics of
:mod:`optimizer.connectivity` find them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .network import Network

__all__ = ["ACCESS_KINDS", "AccessPoints", "attach", "find_access_points"]

#: Access point kinds, from the highest class down.
ACCESS_KINDS: tuple[str, ...] = ("expressway", "trunk", "primary")


@dataclass(frozen=True, eq=False)
class AccessPoints:
    """Points where traffic can join the trunk network.

    Attributes
    ----------
    node_ids : int64 array (p,)
        Network nodes.
    kind : object array (p,)
        ``expressway``, ``trunk`` or ``primary``.
    name, ref : object arrays (p,)
        The junction's name and number (``"Kulmbach/Neudrossenfeld"``, ``"24"``) or the
        joined road's name and ref; ``""`` where untagged.
    """

    node_ids: np.ndarray
    kind: np.ndarray
    name: np.ndarray
    ref: np.ndarray

    @property
    def num_points(self) -> int:
        """Number of access points."""
        return int(self.node_ids.shape[0])

    def kinds(self) -> list[str]:
        """The kinds present, highest class first."""
        present = set(self.kind.tolist())
        return [k for k in ACCESS_KINDS if k in present]

    def as_dict(self) -> dict[str, list]:
        """Plain lists (how ``network.extra["access_points"]`` stores them)."""
        return {
            "node_ids": [int(v) for v in self.node_ids],
            "kind": [str(v) for v in self.kind],
            "name": [str(v) for v in self.name],
            "ref": [str(v) for v in self.ref],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AccessPoints:
        """The inverse of :meth:`as_dict`."""
        return cls(
            np.asarray(d.get("node_ids", []), dtype=np.int64),
            np.asarray(d.get("kind", []), dtype=object),
            np.asarray(d.get("name", []), dtype=object),
            np.asarray(d.get("ref", []), dtype=object),
        )


def find_access_points(network: Network) -> AccessPoints:
    """The network's access points to the trunk network (see the module docstring)."""
    rc = np.asarray([str(c) for c in network.road_class], dtype=object)
    names = network.extra.get("name") or [""] * network.num_links
    refs = network.extra.get("ref") or [""] * network.num_links
    n = network.num_nodes
    kind = np.full(n, "", dtype=object)
    label = np.full(n, "", dtype=object)
    num = np.full(n, "", dtype=object)
    # expressway: on-ramp merges
    into_motorway = np.zeros(n, dtype=bool)
    into_motorway[network.init[rc == "motorway"]] = True
    ramp_heads = network.term[rc == "motorway_link"]
    merges = np.unique(ramp_heads[into_motorway[ramp_heads]])
    fed = _fed_locally(network, rc, merges)
    if fed.any():
        merges = merges[fed]
    junctions = {int(k): v for k, v in dict(network.extra.get("motorway_junctions") or {}).items()}
    if merges.size == 0 and junctions:
        merges = network.node_indices(list(junctions), what="junction")
    jidx = network.node_indices(list(junctions), what="junction") if junctions else None
    jxy = (
        np.column_stack([network.x[jidx], network.y[jidx]])
        if jidx is not None
        else np.zeros((0, 2))
    )
    jinfo = list(junctions.values())
    for i in merges.tolist():
        kind[i] = "expressway"
        if jxy.size:
            d = np.hypot(jxy[:, 0] - network.x[i], jxy[:, 1] - network.y[i])
            best = int(np.argmin(d))
            label[i] = jinfo[best].get("name", "")
            num[i] = jinfo[best].get("ref", "")
    # trunk and primary entries: a node on such a road that another road joins
    for access in ("trunk", "primary"):
        on = np.zeros(n, dtype=bool)
        other = np.zeros(n, dtype=bool)
        ks = np.flatnonzero(rc == access)
        on[network.init[ks]] = on[network.term[ks]] = True
        lower = ~np.isin(rc, (access, "motorway", "motorway_link", "connector"))
        for arr in (network.init, network.term):
            other[arr[lower]] = True
        for i in np.flatnonzero(on & other & (kind == "")).tolist():
            kind[i] = access
            k = ks[(network.init[ks] == i) | (network.term[ks] == i)][0]
            label[i] = str(names[k])
            num[i] = str(refs[k])
    keep = np.flatnonzero(kind != "")
    kind_rank = np.array([ACCESS_KINDS.index(k) for k in kind[keep]], dtype=np.int64)
    order = keep[np.lexsort((network.node_ids[keep], kind_rank))]
    return AccessPoints(
        network.node_ids[order].copy(),
        kind[order].copy(),
        label[order].copy(),
        num[order].copy(),
    )


def _fed_locally(network: Network, rc: np.ndarray, merges: np.ndarray) -> np.ndarray:
    """Whether each ramp merge is reached, back along its ramps, from a local road."""
    local = np.zeros(network.num_nodes, dtype=bool)
    other = ~np.isin(rc, ("motorway", "motorway_link", "connector"))
    local[network.init[other]] = True
    local[network.term[other]] = True
    out = np.zeros(merges.size, dtype=bool)
    for m, start in enumerate(merges.tolist()):
        seen, stack = {start}, [start]
        while stack and not out[m]:
            v = stack.pop()
            for k in network.bs_links[network.bs_indptr[v] : network.bs_indptr[v + 1]].tolist():
                u = int(network.init[k])
                if rc[k] != "motorway_link" or u in seen:
                    continue
                if local[u]:
                    out[m] = True
                    break
                seen.add(u)
                stack.append(u)
    return out


def attach(network: Network, points: AccessPoints | None = None) -> Network:
    """The network with ``extra["access_points"]`` set (found when not given)."""
    points = find_access_points(network) if points is None else points
    return network.replace(
        validate=False, extra={**network.extra, "access_points": points.as_dict()}
    )
