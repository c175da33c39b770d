"""`upseg generate --world` and `--list-worlds` as a user runs them."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.pipelines._invoke import invoke
from upseg.synthetic import WORLD_FAMILY, world_names


def test_list_worlds_names_every_world_and_what_it_is_for():
    result = invoke("generate", "--list-worlds")
    assert result.exit_code == 0, result.output
    for name in world_names():
        assert name in result.output
    for spec in WORLD_FAMILY:
        assert spec.description.split(":")[0] in result.text


def test_a_named_world_is_written_with_its_extra_columns(tmp_path):
    result = invoke(
        "generate", "--out", tmp_path, "--customers", 800, "--seed", 2, "--world", "realistic"
    )
    assert result.exit_code == 0, result.output
    assert "(realistic)" in result.text
    customers = pd.read_parquet(tmp_path / "customers.parquet")
    assert [c for c in customers if c.startswith("attr_")] == [
        f"attr_{j:02d}" for j in range(1, 11)
    ]
    truth = pd.read_parquet(tmp_path / "truth.parquet")
    tau = truth[["tau_conversion_discount_10", "tau_conversion_new_arrivals"]].dropna()
    assert 100 * tau.to_numpy().mean() == pytest.approx(1.0)


def test_an_unknown_world_is_one_line_naming_the_worlds(tmp_path):
    result = invoke("generate", "--out", tmp_path, "--world", "huge")
    assert result.exit_code == 2
    assert (
        "No synthetic world is named 'huge'; choose one of ['default', 'tiny-smooth'" in result.text
    )
    assert "Traceback" not in result.output


def test_generate_without_out_asks_for_it():
    result = invoke("generate", "--customers", 100)
    assert result.exit_code == 2
    assert "--out DIR is required" in result.text


def test_the_docs_name_every_world():
    from tests.conftest import REPO

    worlds, cli = ((REPO / "docs" / f).read_text() for f in ("worlds.md", "cli.md"))
    for name in world_names():
        assert f"| `{name}` |" in worlds and f"`{name}`" in cli, name
