"""Fixtures of the model tests: one small synthetic world, validated once per session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.sources import connect
from features.synthetic import generate_world, write_world
from pipelines.jobs import load_source

#: Holdout cutoff used by the model tests; the world runs to 2026-07-01.
AS_OF = pd.Timestamp("2026-04-01", tz="UTC")


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6,000-customer synthetic world written as Parquet."""
    out = tmp_path_factory.mktemp("world")
    write_world(generate_world(6_000, seed=7), out)
    return out


@pytest.fixture(scope="session")
def world_tables(world_dir: Path):
    """The validated tables of :func:`world_dir`."""
    return load_source(world_dir, con=connect()).result.tables
