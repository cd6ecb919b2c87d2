"""Travel demand: zones, an origin-destination matrix, zone roles and the period it covers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .errors import InvalidDemandError

__all__ = ["Demand"]


@dataclass(frozen=True, eq=False)
class Demand:
    """An origin-destination trip matrix between zones.

    A zone is attached to one network node (its centroid); for TNTP data zone ``k`` is node
    ``k``. The matrix may be dense (small networks) or a SciPy sparse array (large ones);
    entry ``[i, j]`` is the trips from zone ``i`` to zone ``j`` in the period. Intrazonal
    trips (the diagonal) are kept but never assigned.

    Attributes
    ----------
    zone_ids : int64 array (z,)
        External zone ids.
    zone_node_ids : int64 array (z,)
        External id of the network node each zone loads at.
    matrix : float64 array (z, z) or scipy.sparse array
        Trips per period (vehicles, or the file's own unit).
    internal : bool array (z,)
        True for zones inside the study area, False for external gateways.
    period : str
        The period the trips cover, in words (``"peak hour"``, ``"as in file"``).
    period_hours : float or None
        Its length in hours, where known.
    name : str
        A label for reports.
    """

    zone_ids: np.ndarray
    zone_node_ids: np.ndarray
    matrix: Any
    internal: np.ndarray
    period: str = "as in file"
    period_hours: float | None = None
    name: str = "demand"

    def __post_init__(self) -> None:
        z = int(np.asarray(self.zone_ids).shape[0])
        zone_ids = np.asarray(self.zone_ids, dtype=np.int64).copy()
        zone_nodes = np.asarray(self.zone_node_ids, dtype=np.int64).copy()
        internal = np.broadcast_to(np.asarray(self.internal, dtype=bool), (z,)).copy()
        if zone_nodes.shape != (z,):
            raise InvalidDemandError("zone_node_ids must have one entry per zone")
        if len(set(zone_ids.tolist())) != z:
            raise InvalidDemandError(f"demand '{self.name}': zone ids are not unique")
        mat = self.matrix
        if sp.issparse(mat):
            mat = sp.csr_array(mat, dtype=np.float64)
            mat.sum_duplicates()
            vals = mat.data
        else:
            mat = np.ascontiguousarray(np.asarray(mat, dtype=np.float64))
            vals = mat
        if mat.shape != (z, z):
            raise InvalidDemandError(
                f"demand '{self.name}': the matrix is {mat.shape[0]}x{mat.shape[1]} "
                f"but there are {z} zones"
            )
        if not np.all(np.isfinite(vals)):
            raise InvalidDemandError(f"demand '{self.name}': the matrix holds NaN or infinity")
        if np.any(vals < 0):
            i, j = _first_negative(mat)
            raise InvalidDemandError(
                f"demand '{self.name}': negative trips from zone {zone_ids[i]} to zone "
                f"{zone_ids[j]}; trips must be >= 0"
            )
        for arr in (zone_ids, zone_nodes, internal):
            arr.setflags(write=False)
        if not sp.issparse(mat):
            mat.setflags(write=False)
        object.__setattr__(self, "zone_ids", zone_ids)
        object.__setattr__(self, "zone_node_ids", zone_nodes)
        object.__setattr__(self, "internal", internal)
        object.__setattr__(self, "matrix", mat)

    # ------------------------------------------------------------------ properties
    @property
    def num_zones(self) -> int:
        """Number of zones (internal zones and gateways)."""
        return int(self.zone_ids.shape[0])

    @property
    def is_sparse(self) -> bool:
        """Whether the matrix is a SciPy sparse array."""
        return sp.issparse(self.matrix)

    def dense(self) -> np.ndarray:
        """The matrix as a dense array (a copy when it is sparse)."""
        return self.matrix.toarray() if self.is_sparse else np.asarray(self.matrix)

    @property
    def total(self) -> float:
        """Trips between different zones (the demand that is assigned)."""
        return float(self.matrix.sum()) - self.intrazonal

    @property
    def intrazonal(self) -> float:
        """Trips from a zone to itself: kept in the data, never assigned."""
        return float(self.matrix.diagonal().sum())

    def od_csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positive off-diagonal trips as CSR arrays over zone positions.

        Returns ``indptr`` (z+1), ``dest`` (zone positions) and ``trips``; row ``i`` holds
        the destinations of origin zone ``i``. This is what the assignment kernels take.
        """
        csr = sp.csr_array(self.matrix, dtype=np.float64)
        csr.setdiag(0)
        csr.eliminate_zeros()
        csr.sort_indices()
        return (
            np.ascontiguousarray(csr.indptr, dtype=np.int64),
            np.ascontiguousarray(csr.indices, dtype=np.int64),
            np.ascontiguousarray(csr.data, dtype=np.float64),
        )

    def scaled(self, factor: float) -> Demand:
        """The same demand with every trip multiplied by ``factor`` (>= 0)."""
        if not np.isfinite(factor) or factor < 0:
            raise InvalidDemandError(f"demand scale must be a number >= 0, got {factor}")
        return Demand(
            zone_ids=self.zone_ids,
            zone_node_ids=self.zone_node_ids,
            matrix=self.matrix * factor,
            internal=self.internal,
            period=self.period,
            period_hours=self.period_hours,
            name=self.name,
        )

    def summary(self) -> dict[str, Any]:
        """Zones, trips and period as plain JSON-ready values."""
        return {
            "name": self.name,
            "zones": self.num_zones,
            "internal_zones": int(self.internal.sum()),
            "external_zones": int((~self.internal).sum()),
            "total_trips": self.total,
            "intrazonal_trips": self.intrazonal,
            "od_pairs": int(self.od_csr()[1].shape[0]),
            "period": self.period,
        }

    def __repr__(self) -> str:
        return (
            f"Demand(name={self.name!r}, zones={self.num_zones}, total={self.total:.6g}, "
            f"intrazonal={self.intrazonal:.6g}, period={self.period!r})"
        )


def _first_negative(mat: Any) -> tuple[int, int]:
    if sp.issparse(mat):
        coo = sp.coo_array(mat)
        k = int(np.flatnonzero(coo.data < 0)[0])
        return int(coo.row[k]), int(coo.col[k])
    i, j = np.argwhere(mat < 0)[0]
    return int(i), int(j)
