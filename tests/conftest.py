"""Shared fixtures. Benchmark data come from ROADOPT_DATA_DIR (CI points it at ../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[1]

#: What a test that is skipped for want of data says, so that the reader knows what to do.
DATA_HINT = (
    "needs the benchmark data: set ROADOPT_DATA_DIR to a folder laid out like "
    "../shared/data (tntp/, dndp/, osm/)"
)


def _data_dir() -> Path | None:
    value = os.environ.get("ROADOPT_DATA_DIR")
    if value:
        return Path(value)
    guess = REPO.parent / "shared" / "data"
    return guess if guess.is_dir() else None


def skip_without_data(what: str) -> NoReturn:
    """Skip a test whose data are missing, saying how to get them (on CI: fail).

    Parameters
    ----------
    what
        What is missing, e.g. ``"/data has no tntp/ folder"``.
    """
    reason = f"{DATA_HINT}; {what}"
    if os.environ.get("CI"):
        pytest.fail(f"on CI every test runs: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    if d is None:
        skip_without_data(
            f"ROADOPT_DATA_DIR is unset and {REPO.parent / 'shared' / 'data'} does not exist"
        )
    if not (d / "tntp").is_dir():
        skip_without_data(f"ROADOPT_DATA_DIR={d} has no tntp/ folder")
    return d


@pytest.fixture(autouse=True)
def _data_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the data directory visible to code under test the way users set it."""
    d = _data_dir()
    if d is not None and "ROADOPT_DATA_DIR" not in os.environ:
        monkeypatch.setenv("ROADOPT_DATA_DIR", str(d))


def sioux_falls_dndp_args(data_dir: Path) -> list[str]:
    """``roadopt optimize`` arguments of a quick design run: Rey's SF_DNDP_10_1, no report."""
    return [
        str(data_dir / "dndp" / "SiouxFalls" / "SF_DNDP_10_1.txt"),
        "--trips",
        str(data_dir / "tntp" / "SiouxFalls" / "SiouxFalls_trips.tntp"),
        "--no-report",
        "--gap",
        "1e-5",
        "-q",
    ]
