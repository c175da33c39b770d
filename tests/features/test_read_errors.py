"""Files that cannot be read as their format: one error naming the table, the file and why."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import NOW, write_source
from tests.features.test_validation import good_tables
from upseg.features.sources import DataSourceError, connect, find_table_files
from upseg.features.validation import validate_source


def _lines(path, i, how):
    lines = path.read_bytes().split(b"\n")
    lines[i] = how(lines[i])
    path.write_bytes(b"\n".join(lines))


def _parts(directory, column, kind):
    source = write_source(directory, good_tables())
    orders = pd.read_parquet(source / "orders.parquet")
    (source / "orders.parquet").unlink()
    (source / "orders").mkdir()
    orders.iloc[:1].to_parquet(source / "orders" / "part-0.parquet", index=False)
    rest = orders.iloc[1:].astype({column: kind})
    rest.to_parquet(source / "orders" / "part-1.parquet", index=False)
    return source


#: (how the orders file is broken, the format it is written in, what the error says)
BROKEN = {
    "truncated": (
        "parquet",
        lambda p: p.write_bytes(p.read_bytes()[:100]),
        "cannot be read as parquet (No magic bytes found at end of file",
    ),
    "empty parquet": ("parquet", lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    "empty csv": ("csv", lambda p: p.write_bytes(b""), "is empty (0 bytes); expected a csv file"),
    "utf-16": (
        "csv",
        lambda p: p.write_bytes(p.read_text().encode("utf-16")),
        "is not UTF-8 text (byte 0xff at position 0 of its header row)",
    ),
    "latin-1 value": (
        "csv",
        lambda p: _lines(p, 2, lambda s: s.replace(b"shoes", b"chauss\xe9es")),
        "CSV Error on Line: 3: Invalid unicode (byte sequence mismatch) detected",
    ),
    "broken quote": (
        "csv",
        lambda p: _lines(p, 3, lambda s: s.replace(b",", b',"', 1)),
        "CSV Error on Line: 4: Value with unterminated quote found",
    ),
    "extra field": (
        "csv",
        lambda p: _lines(p, 1, lambda s: s + b",x"),
        "CSV Error on Line: 2: Expected Number of Columns: 7 Found: 8",
    ),
    "repeated header": (
        "csv",
        lambda p: _lines(p, 0, lambda s: s.replace(b"amount", b"status")),
        "its header row names column(s) ['status'] more than once",
    ),
    "binary": (
        "csv",
        lambda p: p.write_bytes(bytes(range(256))),
        "its header row holds control characters",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_an_unreadable_orders_file_is_named_with_its_reason(case, tmp_path):
    fmt, breaker, expected = BROKEN[case]
    source = write_source(tmp_path, good_tables(), fmt=fmt)
    path = source / f"orders.{fmt}"
    breaker(path)
    with pytest.raises(DataSourceError) as error:
        validate_source(connect(threads=1), find_table_files(source), not_after=NOW)
    message = str(error.value)
    assert message.startswith(f"Table 'orders': '{path}'"), message
    assert expected in message
    assert "\n" not in message and len(message) < 400
    assert "LINE 1" not in message and "SELECT" not in message  # not the engine's own SQL


def test_parts_that_disagree_on_a_column_are_refused_naming_both(tmp_path):
    source = _parts(tmp_path, "amount", str)
    with pytest.raises(DataSourceError, match="disagree") as error:
        validate_source(connect(threads=1), find_table_files(source), not_after=NOW)
    assert (
        f"Table 'orders': the parts of '{source / 'orders'}' disagree on the type of column(s): "
        "'amount' is double in part-0.parquet but large_string in part-1.parquet"
    ) in str(error.value)


def test_parts_of_one_kind_in_other_widths_are_read_together(tmp_path):
    source = _parts(tmp_path, "amount", "float32")
    result = validate_source(connect(threads=1), find_table_files(source), not_after=NOW)
    assert result.summaries["orders"].rows_accepted == 3


def test_a_quoted_comma_an_unnamed_index_and_crlf_are_ordinary_csv(tmp_path):
    tables = good_tables()
    tables["orders"].loc[0, "category"] = 'shoes, "red"'
    source = write_source(tmp_path, tables, fmt="csv")
    orders = source / "orders.csv"
    text = orders.read_text().splitlines()
    # pandas' to_csv(index=True) leaves the index column unnamed; Windows ends lines in CRLF
    rows = [",".join(["", text[0]])] + [f"{i},{line}" for i, line in enumerate(text[1:])]
    orders.write_bytes(("\r\n".join(rows) + "\r\n").encode())
    result = validate_source(connect(threads=1), find_table_files(source), not_after=NOW)
    assert result.rows_ok and result.summaries["orders"].rows_accepted == 3
    categories = result.tables["orders"].category.execute().tolist()
    assert 'shoes, "red"' in categories
