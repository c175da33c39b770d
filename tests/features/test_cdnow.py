"""CDNOW_master.txt becomes a data source that validates, with every purchase and dollar kept."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import typer

from tests.conftest import NOW
from tests.pipelines._invoke import invoke, invoke_app
from upseg.features.cdnow import cdnow_tables, read_cdnow, write_tables
from upseg.features.sources import DataSourceError, find_table_files
from upseg.features.validation import validate_source
from upseg.models.bgnbd import BetaGeoModel, rfm_summary
from upseg.pipelines import import_cli

HEADER = " customer_id  date number_of_cds  dollar_value"
GOOD = " 00001 19970101  1   11.77"


def write_lines(path: Path, *lines: str) -> Path:
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


@pytest.fixture(scope="module")
def master(shared_data) -> Path:
    return shared_data("CDNOW_master.txt")


@pytest.fixture(scope="module")
def master_lines(master) -> list[list[str]]:
    """The master file split by hand, header dropped: an independent reading."""
    return [line.split() for line in master.read_text().splitlines()[1:] if line.strip()]


@pytest.fixture(scope="module")
def tables(master) -> dict[str, pd.DataFrame]:
    return cdnow_tables(read_cdnow(master))


@pytest.fixture(scope="module")
def source(tables, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cdnow")
    write_tables(tables, out)
    return out


# -- the real file ------------------------------------------------------------------


def test_master_keeps_every_customer_order_and_dollar(tables, master_lines):
    customers, orders = tables["customers"], tables["orders"]
    assert len(customers) == 23_570
    assert len(orders) == 69_659 == len(master_lines)
    file_total = sum(Decimal(fields[3]) for fields in master_lines)
    assert round(orders["amount"].sum(), 2) == float(file_total)
    zero_dollar = sum(Decimal(fields[3]) == 0 for fields in master_lines)
    assert zero_dollar == 80 and (orders["amount"] == 0).sum() == zero_dollar
    assert orders["order_id"].is_unique and customers["customer_id"].is_unique
    assert set(orders["customer_id"]) == set(customers["customer_id"])


def test_master_validates_with_nothing_quarantined(source, con):
    result = validate_source(con, find_table_files(source), not_after=NOW)
    assert result.schema_ok and result.rows_ok, result.problems
    assert {name: s.rows_quarantined for name, s in result.summaries.items()} == {
        "customers": 0,
        "orders": 0,
    }
    assert result.summaries["customers"].rows_accepted == 23_570
    assert result.summaries["orders"].rows_accepted == 69_659
    assert set(find_table_files(source)) == {"customers", "orders"}


def test_signup_at_midnight_of_the_first_purchase_and_orders_at_noon(tables):
    customers, orders = tables["customers"], tables["orders"]
    assert (orders["ordered_at"].dt.hour == 12).all()
    assert (customers["signup_at"] == customers["signup_at"].dt.normalize()).all()
    first_order = orders.groupby("customer_id")["ordered_at"].min()
    signup = customers.set_index("customer_id")["signup_at"]
    assert (first_order - signup[first_order.index] == pd.Timedelta(hours=12)).all()
    assert str(orders["ordered_at"].dt.tz) == "UTC" == str(customers["signup_at"].dt.tz)
    assert customers["email_opt_in"].all() and customers["unsubscribed_at"].isna().all()
    assert (orders["status"] == "completed").all()


def test_order_ids_number_each_customers_lines_in_file_order(tables):
    orders = tables["orders"].set_index("order_id")
    # 00002 bought twice on 1997-01-12, as two lines: two orders, not one
    assert orders.loc[["00002-1", "00002-2"], "amount"].tolist() == [12.0, 77.0]
    assert orders.loc["00001-1", "ordered_at"] == pd.Timestamp("1997-01-01 12:00", tz="UTC")


def test_converted_orders_give_the_papers_bgnbd_fit(tables, shared_data):
    """The orders keep each purchase on its calendar day: the sample's fit is the paper's."""
    sample = pd.read_csv(
        shared_data("CDNOW_sample.txt"), sep=r"\s+", header=None, dtype=str, usecols=[0]
    )
    orders = tables["orders"]
    orders = orders[orders["customer_id"].isin(set(sample[0]))]
    summary = rfm_summary(
        orders, customer_col="customer_id", date_col="ordered_at", calibration_end="1997-09-30"
    )
    model = BetaGeoModel().fit(summary["frequency"], summary["recency"], summary["T"])
    assert len(summary) == 2357
    assert model.params_ == pytest.approx(
        {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, abs=0.0015
    )
    assert model.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)


# -- malformed files ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([HEADER, GOOD, " 00001 19970101  1"], r"line 3: expected 4 whitespace-separated fields"),
        (
            [HEADER, GOOD, " 00001 19971332  1   11.77"],
            r"line 3, column 'date': '19971332' is not a date YYYYMMDD",
        ),
        (
            [HEADER, GOOD, " 00001 1997-01-01  1   11.77"],
            r"line 3, column 'date': '1997-01-01' is not a date YYYYMMDD",
        ),
        (
            [HEADER, GOOD, " 00001 19970101  1   11,77"],
            r"line 3, column 'dollar_value': '11,77' is not a number >= 0",
        ),
        (
            [HEADER, GOOD, " 00001 19970101  1   -1.00"],
            r"line 3, column 'dollar_value': '-1.00' is not a number >= 0",
        ),
        (
            [HEADER, GOOD, " 00001 19970101  1.5   11.77"],
            r"line 3, column 'number_of_cds': '1.5' is not a whole number >= 0",
        ),
        (
            [HEADER, GOOD, " 0000A 19970101  1   11.77"],
            r"line 3, column 'customer_id': '0000A' is not a numeric id",
        ),
        ([GOOD, " 00004 0001 19970101  2   29.33"], r"line 2: .*got 5 \(CDNOW_sample.txt has"),
        ([HEADER, "", GOOD, " x"], r"has 1 malformed line\(s\).*line 4: .*got 1: ' x'"),
        ([HEADER, "oops 1 2 3", *[GOOD] * 3, "a b"], r"has 2 malformed line\(s\).*line 2, col"),
        ([HEADER, *["1 2 3"] * 7], r"has 7 malformed line\(s\).*line 6: .*; and 2 more$"),
        ([HEADER], r"holds no purchase; expected lines of customer_id date number_of_cds"),
        ([""], r"holds no purchase"),
    ],
)
def test_malformed_files_name_the_file_line_and_column(tmp_path, lines, message):
    path = write_lines(tmp_path / "bad.txt", *lines)
    with pytest.raises(ValueError, match=message) as caught:
        read_cdnow(path)
    assert str(path) in str(caught.value)


def test_a_binary_file_is_named(tmp_path):
    path = tmp_path / "cdnow.zip"
    path.write_bytes(b"PK\x03\x04\xff\xfe")
    with pytest.raises(ValueError, match=r"cdnow.zip' is not a text file: byte 4 is not UTF-8"):
        read_cdnow(path)


def test_a_small_file_without_header(tmp_path):
    path = write_lines(
        tmp_path / "cdnow.txt", GOOD, " 00001 19970301  2   0.00", " 00007 19970105 1 5"
    )
    transactions = read_cdnow(path)
    assert transactions["customer_id"].tolist() == ["00001", "00001", "00007"]
    assert transactions["number_of_cds"].tolist() == [1, 2, 1]
    tables = cdnow_tables(transactions)
    assert tables["orders"]["order_id"].tolist() == ["00001-1", "00001-2", "00007-1"]
    assert tables["customers"]["signup_at"].tolist() == [
        pd.Timestamp("1997-01-01", tz="UTC"),
        pd.Timestamp("1997-01-05", tz="UTC"),
    ]


def test_cdnow_tables_names_missing_columns():
    with pytest.raises(ValueError, match=r"missing \['dollar_value'\], found \['customer_id', 'd"):
        cdnow_tables(pd.DataFrame({"customer_id": ["1"], "date": [pd.Timestamp("1997-01-01")]}))


# -- writing ------------------------------------------------------------------------


def test_write_tables_refuses_a_directory_holding_other_tables(tmp_path, tables):
    small = {name: frame.head(3) for name, frame in tables.items()}
    (tmp_path / "email_events.parquet").write_bytes(b"")
    (tmp_path / "orders.csv").write_text("order_id\n")
    with pytest.raises(DataSourceError, match=r"already holds \['email_events.parquet', 'orders"):
        write_tables(small, tmp_path)
    assert not (tmp_path / "customers.parquet").exists()


def test_write_tables_replaces_its_own_files(tmp_path, tables):
    small = {name: frame.head(3) for name, frame in tables.items()}
    write_tables(small, tmp_path / "out")
    paths = write_tables(small, tmp_path / "out")
    assert paths == {n: tmp_path / "out" / f"{n}.parquet" for n in ("customers", "orders")}
    with pytest.raises(ValueError, match=r"only write contract tables .*; got \['truth'\]"):
        write_tables({"truth": small["orders"]}, tmp_path / "out")


# -- the command --------------------------------------------------------------------


def test_import_cdnow_prints_counts_dates_and_validation(master, tmp_path):
    result = invoke("import", "cdnow", master, "--out", tmp_path / "cdnow")
    assert result.exit_code == 0, result.output
    assert "customers 23,570 rows" in result.text and "orders 69,659 rows" in result.text
    assert "69,659 purchases from 1997-01-01 to 1998-06-30, $2,500,315.63 in total" in result.text
    assert "customers.parquet 23,570 23,570 0 yes" in result.text
    assert "orders.parquet 69,659 69,659 0 yes" in result.text
    assert "Data is usable." in result.text


def test_import_cdnow_composes_into_the_main_app(tmp_path):
    # what `app.add_typer(import_cli.app)` in pipelines/cli.py gives the user
    main = typer.Typer()

    @main.command()
    def other() -> None:
        """A second command, as the real app has."""

    main.add_typer(import_cli.app)
    path = write_lines(tmp_path / "cdnow.txt", HEADER, GOOD)
    result = invoke_app(main, "import", "cdnow", path, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "1 purchases from 1997-01-01 to 1997-01-01" in result.text
    assert "cdnow" in invoke_app(main, "import", "--help").text


def test_import_cdnow_fails_clearly_on_a_malformed_file(tmp_path):
    path = write_lines(tmp_path / "cdnow.txt", HEADER, GOOD, " 00002 1997011 1 5.00")
    result = invoke("import", "cdnow", path, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "error: CDNOW file" in result.text
    assert "line 3, column 'date': '1997011' is not a date YYYYMMDD" in result.text
    assert not (tmp_path / "out").exists()


def test_import_cdnow_refuses_an_output_directory_in_use(tmp_path):
    path = write_lines(tmp_path / "cdnow.txt", HEADER, GOOD)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "web_events.parquet").write_bytes(b"")
    result = invoke("import", "cdnow", path, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "already holds ['web_events.parquet']" in result.text


def test_import_cdnow_needs_an_existing_file(tmp_path):
    # a path longer than the terminal is wide: Typer's error panel wraps it
    missing = tmp_path.joinpath(*["a-folder-with-a-rather-long-name"] * 8, "nope.txt")
    result = invoke("import", "cdnow", missing, "--out", tmp_path)
    assert result.exit_code == 2
    assert "Invalid value for 'path'" in result.text and "does not exist" in result.text
