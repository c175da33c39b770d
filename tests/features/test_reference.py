"""The engine's features equal an independent pandas implementation on a synthetic world."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.pandas_features import pandas_features, read_tables
from upseg.features.build import build_features
from upseg.features.pit import customer_spine
from upseg.features.sets import CUSTOMER_V1
from upseg.features.sources import connect, find_table_files
from upseg.features.validation import validate_source
from upseg.synthetic import generate_world, write_world

AS_OF = pd.Timestamp("2026-02-15T12:00", tz="UTC")


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    data = tmp_path_factory.mktemp("ref")
    write_world(generate_world(3_000, seed=11), data)
    result = validate_source(
        connect(), find_table_files(data), not_after=pd.Timestamp.now(tz="UTC")
    )
    assert result.schema_ok and result.rows_ok, result.problems
    engine = build_features(result.tables, customer_spine(result.tables["customers"], AS_OF))
    engine = engine.execute().set_index("customer_id").sort_index()
    reference = pandas_features(read_tables(data), AS_OF).sort_index()
    return engine, reference


def test_same_customers(both):
    engine, reference = both
    assert engine.index.equals(reference.index)
    assert len(engine) > 1_000


@pytest.mark.parametrize("column", CUSTOMER_V1.columns())
def test_same_values(both, column):
    engine, reference = both
    a, b = engine[column], reference[column]
    if pd.api.types.is_numeric_dtype(b) and not pd.api.types.is_bool_dtype(b):
        np.testing.assert_allclose(
            a.astype(float), b.astype(float), rtol=1e-9, atol=1e-9, err_msg=column
        )
    else:
        assert (
            a.astype(str).where(a.notna(), "<NA>") == b.astype(str).where(b.notna(), "<NA>")
        ).all(), column


def test_world_is_rich_enough_to_exercise_every_rule(both):
    engine, _ = both
    assert set(engine.lifecycle_stage) == {
        "discovery",
        "consideration",
        "conversion",
        "retention",
        "churned",
    }
    assert engine.rfm_segment.nunique() >= 10
    assert (engine.cart_abandonments_365d > 0).any() and (engine.returns_365d > 0).any()


def test_per_row_cutoffs_give_the_same_features(both, tmp_path):
    """The join path (a cutoff per row, as for campaigns) equals the constant-cutoff path."""
    import ibis

    engine, _ = both
    data = tmp_path / "src"
    write_world(generate_world(3_000, seed=11), data)
    con = connect()
    result = validate_source(con, find_table_files(data), not_after=pd.Timestamp.now(tz="UTC"))
    constant = customer_spine(result.tables["customers"], AS_OF).execute()
    per_row = con.create_table("per_row_spine", constant)  # the same values, but as data
    frame = build_features(result.tables, per_row).execute().set_index("customer_id")
    assert isinstance(per_row.as_of.op(), ibis.expr.operations.Field)
    pd.testing.assert_frame_equal(frame.sort_index(), engine, check_dtype=False)
