"""The docs describe what the code does: every table, column and feature is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from upseg.features.contract import CONTRACT
from upseg.features.segments import LIFECYCLE_STAGES, RFM_SEGMENTS
from upseg.features.sets import CUSTOMER_V1

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("table", list(CONTRACT))
def test_data_contract_names_every_table_and_column(table):
    text = (DOCS / "data-contract.md").read_text()
    assert f"### {table}" in text
    for column in CONTRACT[table].all_columns:
        assert f"`{column.name}`" in text, column.name
        for value in column.allowed or ():
            assert f"`{value}`" in text, value


def test_features_doc_names_every_feature_segment_and_stage():
    text = (DOCS / "features.md").read_text()
    missing = [c for c in CUSTOMER_V1.columns() if f"`{c}`" not in text]
    assert not missing, f"undocumented features: {missing}"
    for name in (*RFM_SEGMENTS, *LIFECYCLE_STAGES):
        assert name in text, name


def test_readme_starts_with_the_two_commands():
    text = (DOCS.parent / "README.md").read_text()
    assert "make demo" in text and "make test" in text
    assert "BENCHMARK_TABLE" not in text, "the benchmark figures are filled in"


def test_experiments_doc_names_every_results_column_and_method():
    from upseg.experiments.analysis import RESULT_COLUMNS

    text = (DOCS / "experiments.md").read_text()
    missing = [c for c in RESULT_COLUMNS if f"`{c}`" not in text and f"`{c}," not in text]
    assert not missing, f"undocumented results columns: {missing}"
    for method in ("z_test", "welch", "bootstrap", "cuped_welch"):
        assert f"`{method}`" in text, method


def test_cli_doc_has_a_section_for_every_command():
    from typer.main import get_command

    from upseg.pipelines.cli import app

    text = (DOCS / "cli.md").read_text()
    for name in get_command(app).commands:
        assert f"## `upseg {name}" in text, name


def test_cli_doc_explains_the_errors_and_exit_codes():
    from upseg.pipelines._console import UpsegGroup

    text = (DOCS / "cli.md").read_text()
    section = text.split("## Errors and exit status", 1)[1].split("\n## ", 1)[0]
    for needed in ("| 0 |", "| 1 |", "| 2 |", "error: ", "UpsegError", UpsegGroup.__name__):
        assert needed in section, needed
