"""Named datasets: the networks of the Transportation Networks for Research collection.

A name (``SiouxFalls``, ``chicago-sketch``, ...; case, ``-`` and ``_`` do not matter) is
resolved, in this order:

1. in the data directory named by the environment variable ``ROADOPT_DATA_DIR`` (a folder
   laid out like the project's shared data: ``tntp/<Name>/<prefix>_net.tntp`` ...);
2. in the download cache (``ROADOPT_CACHE_DIR``, else the user cache folder), after
   downloading the files once from the collection's public repository
   (``ROADOPT_TNTP_URL`` overrides the address, for mirrors) and checking their SHA-256
   where the hash is known.

:func:`load` also takes a path to an existing file, which always wins over a name.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .demand import Demand
from .errors import DatasetNotFoundError
from .network import Network
from .tntp import (
    check_trips_fit,
    companion_file,
    read_net,
    read_nodes,
    read_readme,
    read_trips,
    with_coordinates,
)

__all__ = [
    "DATA_DIR_ENV",
    "REGISTRY",
    "DatasetFiles",
    "DatasetInfo",
    "available",
    "data_dir",
    "fetch",
    "find_dataset",
    "load",
    "load_tntp",
]

log = logging.getLogger(__name__)

DATA_DIR_ENV = "ROADOPT_DATA_DIR"
CACHE_DIR_ENV = "ROADOPT_CACHE_DIR"
URL_ENV = "ROADOPT_TNTP_URL"
DEFAULT_URL = "https://raw.githubusercontent.com/bstabler/TransportationNetworks/master"


@dataclass(frozen=True)
class DatasetInfo:
    """A network of the collection: its folder, file names, hashes and coordinate system.

    ``files`` maps a role (``net``, ``trips``, ``node``, ``flow``) to a file name inside
    the folder; ``sha256`` maps file names to their hash where known.
    """

    folder: str
    files: dict[str, str]
    crs: str | None = None
    sha256: dict[str, str] = field(default_factory=dict)


def _info(
    folder: str,
    prefix: str,
    roles: str,
    crs: str | None = None,
    node_file: str | None = None,
    **hashes: str,
) -> DatasetInfo:
    files = {r: f"{prefix}_{r}.tntp" for r in roles.split()}
    if node_file:
        files["node"] = node_file
    sha = {files[r]: h for r, h in hashes.items()}
    return DatasetInfo(folder, files, crs, sha)


# Hashes computed from the copies kept in the project's shared data folder.
REGISTRY: dict[str, DatasetInfo] = {
    d.folder: d
    for d in [
        _info(
            "Braess-Example",
            "Braess",
            "net trips",
            net="4cec6e3cd603604347c4ed3deb0de815e62241147d40932e0e962fbd26d83d01",
            trips="4723c01fa0ffbef3d427ba16519cabe74ece85fca67f2aa3e70446053f625423",
        ),
        _info(
            "SiouxFalls",
            "SiouxFalls",
            "net trips node flow",
            crs="EPSG:4326",
            net="ace99b24cec69c273ff0cf3d6d074110177f0cc0ae24b0c7a9f4f4cb5e27635c",
            trips="56f9566857f3f66730fd5c4232258d7ee3ac2931a476526331afd062f4958de7",
            node="91c0b954dcfc6f6f08f48de1ce9d245261f5188a33aef76acf3ce1fff0809969",
            flow="5d0b83a22ecc3ce79dabb2b2972162b78c5eda571dcb5b3687429d8397654fee",
        ),
        _info(
            "Anaheim",
            "Anaheim",
            "net trips flow",
            crs="EPSG:4326",
            node_file="anaheim_nodes.geojson",
            net="99933b415e9500b13907829c37a43cfa9141714fad5af279081e28e5f9356f9a",
            trips="906893854cd0db4479c0b5f07678ce5616fa8e42e2b997f918c378309c66a94e",
            flow="eecd21c2a908b6a1c6729045ea260e96df1de026f05281d341fc281f2552cebe",
            node="09467725693e40b1aad64dbb27520c78967271cf0000bce01eb607b0dda63161",
        ),
        _info(
            "Chicago-Sketch",
            "ChicagoSketch",
            "net trips node flow",
            crs="EPSG:3435",
            net="4396bff6101cb5ad3edaf0eb5b9aec051055cb7f0d85be907d24b43f98bf0027",
            trips="efe68abffc4af09e344cf1e175cfc048c08f4cd8f1f5454f74371b40e8245edc",
            node="21e7f3a0f033ad731ba9e7424607fcddea105c0fb3571410307839d3972393f1",
            flow="068ee541d0e4d06e1e829bebc629ecf18c0f1eaf3b8239aff82de7ac3631370b",
        ),
        _info(
            "Berlin-Friedrichshain",
            "friedrichshain-center",
            "net trips node",
            net="dd195025dbaff8ef749201fa128f797fbe6ac833a75b9225018d2402961f175f",
            trips="015fabbe78cd274a698e478b56ce72e1b7cfd48b0dab8e248ca8e529b4220474",
            node="a16290623325c5a2ece08322273e2ff32f2ef22aa5b066625784ab770efe52e1",
        ),
        _info("Berlin-Center", "berlin-center", "net trips node"),
        _info("Berlin-Mitte-Center", "berlin-mitte-center", "net trips node"),
        _info("Berlin-Prenzlauerberg-Center", "berlin-prenzlauerberg-center", "net trips node"),
        _info("Berlin-Tiergarten", "berlin-tiergarten", "net trips node"),
        _info(
            "Berlin-Mitte-Prenzlauerberg-Friedrichshain-Center",
            "berlin-mitte-prenzlauerberg-friedrichshain-center",
            "net trips node",
        ),
        _info("Barcelona", "Barcelona", "net trips node flow"),
        _info("Winnipeg", "Winnipeg", "net trips node flow"),
        _info("Eastern-Massachusetts", "EMA", "net trips"),
        _info("Chicago-Regional", "ChicagoRegional", "net trips node flow", crs="EPSG:3435"),
        _info("Philadelphia", "Philadelphia", "net trips node"),
        _info("Sydney", "Sydney", "net trips node"),
        _info("Terrassa-Asymmetric", "Terrassa-Asym", "net trips"),
        _info("Hessen-Asymmetric", "Hessen-Asym", "net trips"),
    ]
}


@dataclass(frozen=True)
class DatasetFiles:
    """Paths of one dataset's files (None where the dataset has no such file)."""

    name: str
    net: Path
    trips: Path | None = None
    node: Path | None = None
    flow: Path | None = None
    readme: Path | None = None
    crs: str | None = None


def _key(name: str) -> str:
    return re.sub(r"[-_\s]", "", name).lower()


def data_dir() -> Path | None:
    """The folder named by ``ROADOPT_DATA_DIR``, or None when the variable is unset."""
    value = os.environ.get(DATA_DIR_ENV)
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    value = os.environ.get(CACHE_DIR_ENV)
    if value:
        return Path(value).expanduser()
    import pooch

    return Path(pooch.os_cache("roadopt"))


def available() -> list[str]:
    """Dataset names: the registry's and any folder of the data directory's ``tntp/``."""
    names = set(REGISTRY)
    d = data_dir()
    if d is not None and (d / "tntp").is_dir():
        names |= {p.name for p in (d / "tntp").iterdir() if p.is_dir()}
    return sorted(names, key=str.lower)


def find_dataset(name: str) -> str | None:
    """The canonical folder name for ``name`` (case, ``-``, ``_`` ignored), or None."""
    key = _key(name)
    for cand in available():
        if _key(cand) == key:
            return cand
    return None


def _local_files(folder: Path, name: str) -> DatasetFiles | None:
    nets = sorted(folder.glob("*_net.tntp")) or sorted(folder.glob("*_net.TNTP"))
    if not nets:
        return None
    info = REGISTRY.get(name)
    net = nets[0]
    if info is not None and (folder / info.files["net"]).exists():
        net = folder / info.files["net"]
    node = companion_file(net, "node")
    if node is None:
        geo = sorted(folder.glob("*node*.geojson"))
        node = geo[0] if geo else None
    readme = folder / "README.md"
    return DatasetFiles(
        name=name,
        net=net,
        trips=companion_file(net, "trips"),
        node=node,
        flow=companion_file(net, "flow"),
        readme=readme if readme.exists() else None,
        crs=info.crs if info else None,
    )


def fetch(name: str, *, download: bool = True) -> DatasetFiles:
    """Locate (and if needed download) the files of a named dataset.

    Parameters
    ----------
    name
        A dataset name; see :func:`available`.
    download
        Allow downloading into the cache when the data directory does not hold it.

    Raises
    ------
    DatasetNotFoundError
        When the name is unknown, or the files are neither local nor downloadable.
    """
    canonical = find_dataset(name)
    if canonical is None:
        raise DatasetNotFoundError(
            f"'{name}' is neither an existing file nor a known dataset; known datasets: "
            + ", ".join(available())
        )
    d = data_dir()
    if d is not None:
        folder = d / "tntp" / canonical
        if folder.is_dir():
            files = _local_files(folder, canonical)
            if files is not None:
                return files
    info = REGISTRY.get(canonical)
    if info is None or not download:
        where = f"{d}/tntp/{canonical}" if d else f"${DATA_DIR_ENV}/tntp/{canonical}"
        raise DatasetNotFoundError(f"dataset '{canonical}' has no files in {where}")
    return _download(canonical, info)


def _download(name: str, info: DatasetInfo) -> DatasetFiles:
    import pooch

    base = os.environ.get(URL_ENV, DEFAULT_URL).rstrip("/")
    target = cache_dir() / "tntp" / name
    paths: dict[str, Path | None] = {}
    for role, fname in info.files.items():
        url = f"{base}/{name}/{fname}"
        try:
            got = pooch.retrieve(
                url,
                known_hash=(f"sha256:{info.sha256[fname]}" if fname in info.sha256 else None),
                fname=fname,
                path=target,
                progressbar=False,
            )
            paths[role] = Path(got)
        except ValueError as exc:  # hash mismatch
            raise DatasetNotFoundError(
                f"downloaded {url} but its SHA-256 does not match the known hash: {exc}"
            ) from None
        except Exception as exc:
            if role in ("net", "trips"):
                raise DatasetNotFoundError(
                    f"cannot download dataset '{name}' ({url}): {exc}. Set {DATA_DIR_ENV} to "
                    "a folder holding tntp/<Name>/ or check the network connection"
                ) from None
            log.info("dataset %s: no %s file (%s)", name, role, exc)
            paths[role] = None
    net = paths["net"]
    assert net is not None  # a missing net file raised above
    return DatasetFiles(
        name=name,
        net=net,
        trips=paths.get("trips"),
        node=paths.get("node"),
        flow=paths.get("flow"),
        crs=info.crs,
    )


def load_tntp(
    net_path: str | Path,
    trips_path: str | Path | None = None,
    *,
    node_path: str | Path | None = None,
    readme: str | Path | None = None,
    crs: str | None = None,
    name: str | None = None,
) -> tuple[Network, Demand | None]:
    """Read a TNTP network with its demand and node coordinates.

    The trips file defaults to the one found by the ``_net``/``_trips`` naming rule (None
    when there is none); the node file likewise. Units come from ``readme`` when given.

    Raises
    ------
    FileFormatError
        For a malformed file, or a trips file whose zones are not nodes of the network
        (:func:`~networks.tntp.check_trips_fit`).
    """
    about = read_readme(readme) if readme else None
    net = read_net(net_path, units=about["units"] if about else None, name=name)
    if about and (about["toll_factor"] or about["distance_factor"]):
        tf, df = about["toll_factor"], about["distance_factor"]
        net = net.replace(
            validate=False,
            extra={
                **net.extra,
                "toll_factor": tf,
                "distance_factor": df,
                "readme_factors": f"the dataset's README gives a generalized cost of {tf:g} * toll "
                f"+ {df:g} * length; pass --toll-factor {tf:g} --distance-factor {df:g} to use it",
            },
        )
    node_path = node_path if node_path is not None else companion_file(net_path, "node")
    if node_path is not None:
        ids, x, y = read_nodes(node_path)
        net = with_coordinates(net, ids, x, y, crs=crs)
    trips_path = trips_path if trips_path is not None else companion_file(net_path, "trips")
    demand = read_trips(trips_path) if trips_path is not None else None
    if demand is not None and trips_path is not None:
        check_trips_fit(net, demand, trips_path)
    return net, demand


def load(source: str | Path, *, trips: str | Path | None = None) -> tuple[Network, Demand | None]:
    """Open a network by path or dataset name: an existing file first, then a dataset.

    Parameters
    ----------
    source
        A TNTP net file or network-design instance, or a dataset name.
    trips
        A trips file overriding the one the naming rule finds.
    """
    p = Path(source)
    if p.exists():
        return load_tntp(p, trips)
    files = fetch(str(source))
    return load_tntp(
        files.net,
        trips if trips is not None else files.trips,
        node_path=files.node,
        readme=files.readme,
        crs=files.crs,
        name=files.name,
    )
