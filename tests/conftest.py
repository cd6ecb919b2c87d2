"""Shared fixtures. Benchmark data come from ROADOPT_DATA_DIR (CI points it at ../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _data_dir() -> Path | None:
    value = os.environ.get("ROADOPT_DATA_DIR")
    if value:
        return Path(value)
    guess = REPO.parent / "shared" / "data"
    return guess if guess.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    if d is None or not (d / "tntp").is_dir():
        if os.environ.get("CI"):
            pytest.fail("ROADOPT_DATA_DIR must point at the shared data folder in CI")
        pytest.skip("no data directory (set ROADOPT_DATA_DIR)")
    return d


@pytest.fixture(autouse=True)
def _data_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the data directory visible to code under test the way users set it."""
    d = _data_dir()
    if d is not None and "ROADOPT_DATA_DIR" not in os.environ:
        monkeypatch.setenv("ROADOPT_DATA_DIR", str(d))
