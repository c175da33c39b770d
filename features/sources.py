"""Find the tables of a data source and open them on an engine.

This is the only module that knows about files and engines. Everything
downstream works on Ibis table expressions, so the same feature definitions run
on DuckDB (the default, embedded) or on any other Ibis backend.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ibis
from ibis.backends import BaseBackend

from upseg.errors import UpsegError
from upseg.features.contract import CONTRACT

__all__ = [
    "DataSourceError",
    "TableFile",
    "connect",
    "data_fingerprint",
    "find_table_files",
    "read_raw_table",
    "table_parts",
    "table_read_error",
]


class DataSourceError(UpsegError, ValueError):
    """A data source directory cannot be read as the contract describes."""


@dataclass(frozen=True)
class TableFile:
    """Where one table of a data source lives.

    Parameters
    ----------
    table : str
        Contract table name.
    path : Path
        A ``.parquet`` or ``.csv`` file, or a directory of Parquet parts, flat
        or partitioned Hive-style (``orders/ordered_date=2026-01-01/part-0.parquet``).
    fmt : {"parquet", "csv"}
        File format.
    """

    table: str
    path: Path
    fmt: str


def connect(*, threads: int | None = None, memory_limit: str | None = None) -> BaseBackend:
    """Open an embedded DuckDB connection whose session time zone is UTC.

    Parameters
    ----------
    threads : int, optional
        Worker threads; DuckDB's default (all cores) when omitted.
    memory_limit : str, optional
        DuckDB memory limit such as ``"3GB"``; beyond it DuckDB spills to disk.

    Returns
    -------
    ibis.backends.duckdb.Backend
    """
    con = ibis.duckdb.connect()
    # Naive timestamps in the data are UTC by contract, and DuckDB interprets
    # them in the session time zone.
    con.raw_sql("SET TimeZone = 'UTC'")
    if threads is not None:
        con.raw_sql(f"SET threads = {int(threads)}")
    if memory_limit is not None:
        con.raw_sql(f"SET memory_limit = '{memory_limit}'")
    return con


def find_table_files(data_dir: Path) -> dict[str, TableFile]:
    """Locate each contract table present in ``data_dir``.

    Parameters
    ----------
    data_dir : Path
        Directory of the data source.

    Returns
    -------
    dict of str to TableFile
        Only the tables that are present; files that are not contract tables
        (for example the synthetic world's ``truth.parquet``) are ignored.

    Raises
    ------
    DataSourceError
        If the directory does not exist, or a table is present in more than
        one form.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataSourceError(
            f"Data source {str(data_dir)!r} is not a directory; expected a directory "
            "holding <table>.parquet, <table>.csv or <table>/ for each table."
        )
    found: dict[str, TableFile] = {}
    for table in CONTRACT:
        candidates = [
            TableFile(table, data_dir / f"{table}.parquet", "parquet"),
            TableFile(table, data_dir / f"{table}.csv", "csv"),
            TableFile(table, data_dir / table, "parquet"),
        ]
        present = [c for c in candidates if c.path.exists()]
        if present and present[-1].path.is_dir() and not _parts(present[-1].path):
            present = present[:-1]
        if len(present) > 1:
            names = ", ".join(repr(c.path.name) for c in present)
            raise DataSourceError(
                f"Table {table!r} is present more than once in {str(data_dir)!r} ({names}); "
                "keep exactly one of <table>.parquet, <table>.csv or <table>/."
            )
        if present:
            found[table] = present[0]
    return found


def read_raw_table(
    con: BaseBackend, table_file: TableFile, *, parts: Sequence[Path] | None = None
) -> ibis.Table:
    """Open a table as it is in the file, without coercing types.

    CSV columns are all read as strings so that a bad value in one row becomes
    a quarantined row instead of a failed read. A CSV file is read as RFC 4180
    says: UTF-8, comma-separated, a header row, fields quoted with ``"``, so a
    quote that does not close or a row with too many fields names its line
    instead of being guessed around. The parts of a folder must agree on the
    kind of every column they share; a partitioned folder's partition columns
    (``ordered_date=2026-01-01``) are columns of the table, on either engine.

    Parameters
    ----------
    con : BaseBackend
        Connection from :func:`connect` or :func:`upseg.features.engines.open_engine`.
    table_file : TableFile
        What to open.
    parts : sequence of Path, optional
        Of a folder, the Parquet parts to read (:func:`table_parts` less
        those pruned, see :mod:`upseg.features.partitions`); all when omitted.

    Returns
    -------
    ibis.Table
        A lazy view over the file. Errors the engine finds only when it reads
        the rows (a corrupt page, a bad line far into a CSV file) are raised by
        the first query; :func:`table_read_error` words them.

    Raises
    ------
    DataSourceError
        If the file is empty, is not its format (a corrupt or truncated file, a
        CSV file in another encoding), or its parts clash.
    """
    if con.name == "pyspark":
        return _read_raw_spark(con, table_file, parts)
    import duckdb

    name = f"raw_{table_file.table}"
    path = table_file.path
    try:
        if table_file.fmt == "csv":
            _check_not_empty(table_file, path)
            columns = {column: "VARCHAR" for column in _csv_header(table_file)}
            return con.read_csv(
                path, table_name=name, auto_detect=False, header=True, delim=",", quote='"',
                escape='"', strict_mode=True, columns=columns,
            )  # fmt: skip
        chosen = _checked_parts(table_file, parts)
        if not path.is_dir():
            return con.read_parquet(str(path), table_name=name, union_by_name=True)
        partitioned = any(p.parent != path for p in chosen)
        return con.read_parquet(
            [str(p) for p in chosen], table_name=name, union_by_name=True,
            hive_partitioning=partitioned,
        )  # fmt: skip
    except duckdb.Error as exc:
        raise table_read_error(table_file, exc) from exc


def _read_raw_spark(
    con: BaseBackend, table_file: TableFile, parts: Sequence[Path] | None
) -> ibis.Table:
    """:func:`read_raw_table` on Spark: the same reading rules, by Spark's readers."""
    from pyspark.errors import PySparkException
    from pyspark.sql import types as T

    session = con._session
    path = table_file.path
    try:
        if table_file.fmt == "csv":
            _check_not_empty(table_file, path)
            schema = T.StructType(
                [T.StructField(c, T.StringType()) for c in _csv_header(table_file)]
            )
            frame = session.read.csv(
                str(path), header=True, schema=schema, sep=",", quote='"', escape='"',
                mode="FAILFAST", encoding="UTF-8", enforceSchema=False,
            )  # fmt: skip
        elif parts is None:
            _checked_parts(table_file)
            # Partition folders (name=value) are discovered and become columns.
            frame = session.read.option("mergeSchema", "true").parquet(str(path))
        else:
            chosen = _checked_parts(table_file, parts)
            # basePath: the partition folders of the chosen parts still become columns
            reader = session.read.option("mergeSchema", "true").option("basePath", str(path))
            frame = reader.parquet(*[str(p) for p in chosen])
    except PySparkException as exc:
        raise table_read_error(table_file, exc) from exc
    name = f"raw_{table_file.table}"
    frame.createOrReplaceTempView(name)
    return con.table(name)


def _parts(folder: Path) -> list[Path]:
    """The Parquet parts of a table's folder, in its partition folders too, in a fixed order."""
    return sorted(p for p in folder.rglob("*.parquet") if not p.name.startswith((".", "_")))


def table_parts(table_file: TableFile) -> list[Path]:
    """The Parquet parts of a folder table, in a fixed order; the file itself otherwise."""
    path = table_file.path
    return _parts(path) if path.is_dir() else [path]


def _checked_parts(table_file: TableFile, parts: Sequence[Path] | None = None) -> list[Path]:
    """The table's Parquet files (or ``parts`` of them), refused when one is empty or
    they disagree on a type."""
    parts = table_parts(table_file) if parts is None else list(parts)
    if not parts:
        raise ValueError(f"read_raw_table: no part of {str(table_file.path)!r} was chosen to read")
    for part in parts:
        _check_not_empty(table_file, part)
    if len(parts) > 1:
        _check_parts_agree(table_file, parts)
    return parts


def table_read_error(table_file: TableFile, exc: Exception) -> DataSourceError:
    """The error to raise when the engine cannot read ``table_file``: the table, file and why.

    The engine's message runs to many lines (the offending line, possible fixes,
    the dialect); this keeps its first line and its explanation.
    """
    return DataSourceError(
        f"Table {table_file.table!r}: {str(table_file.path)!r} cannot be read as "
        f"{table_file.fmt} ({_engine_reason(exc)})."
    )


def _engine_reason(exc: Exception) -> str:
    """``CSV Error on Line: 11: Value with unterminated quote found`` from DuckDB's message."""
    lines = [line.strip() for line in str(exc).strip().splitlines()]
    if not lines or not lines[0]:
        return type(exc).__name__
    head = lines[0]
    for prefix in ("Invalid Input Error: ", "IO Error: "):
        head = head.removeprefix(prefix)
    block = []
    for line in lines[1:]:
        if line.startswith(("Possible", "LINE ")):  # fixes to try, or the engine's own SQL
            break
        if line:
            block.append(line)
    # "Original Line: ..." quotes the data (over many lines when a quote is open);
    # the explanation is the last line before the possible fixes.
    if block and block[0].startswith("Original Line"):
        block = block[-1:] if len(block) > 1 else []
    reason = f"{head.rstrip('.')}: {block[0].rstrip('.')}" if block else head.rstrip(".")
    return reason if len(reason) <= 300 else reason[:297] + "..."


def _check_not_empty(table_file: TableFile, path: Path) -> None:
    if path.stat().st_size == 0:
        raise DataSourceError(
            f"Table {table_file.table!r}: {str(path)!r} is empty (0 bytes); expected a "
            f"{table_file.fmt} file" + (" with a header row." if table_file.fmt == "csv" else ".")
        )


def _csv_header(table_file: TableFile) -> list[str]:
    """The column names of a CSV file's header row; an unnamed column is ``column<i>``."""
    import csv

    path = table_file.path
    where = f"Table {table_file.table!r}: {str(path)!r}"
    with path.open("rb") as fh:
        first = fh.readline()
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataSourceError(
            f"{where} is not UTF-8 text (byte 0x{first[exc.start]:02x} at position "
            f"{exc.start} of its header row); save it as UTF-8 CSV."
        ) from None
    header = next(csv.reader([text.rstrip("\r\n")]), [])
    if not header or not any(name.strip() for name in header):
        raise DataSourceError(f"{where} has no header row; its first line is empty.")
    if any(not name.isprintable() for name in header):
        raise DataSourceError(
            f"{where}: its header row holds control characters; expected a text file with "
            "the column names on its first line."
        )
    # As DuckDB and pandas name them: a CSV written with an unnamed index starts with ",".
    names = [name if name else f"column{i}" for i, name in enumerate(header)]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataSourceError(
            f"{where}: its header row names column(s) {repeated} more than once; "
            "each column needs its own name."
        )
    return names


def _check_parts_agree(table_file: TableFile, parts: list[Path]) -> None:
    """Refuse parts holding a shared column as different kinds (a number here, text there)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    kinds: dict[str, tuple[str, str, Path]] = {}
    clashes = []
    for part in parts:
        try:
            schema = pq.read_schema(part)
        except (pa.ArrowException, OSError) as exc:
            raise DataSourceError(
                f"Table {table_file.table!r}: part {str(part)!r} cannot be read as parquet "
                f"({_engine_reason(exc)})."
            ) from None
        for column in schema:
            kind = _arrow_kind(column.type)
            if kind is None:
                continue  # a column that is null throughout this part fits any kind
            first = kinds.setdefault(column.name, (kind, str(column.type), part))
            if first[0] != kind:
                clashes.append(
                    f"{column.name!r} is {first[1]} in {first[2].name} but {column.type} in "
                    f"{part.name}"
                )
    if clashes:
        raise DataSourceError(
            f"Table {table_file.table!r}: the parts of {str(table_file.path)!r} disagree on "
            f"the type of column(s): {'; '.join(clashes[:5])}"
            + (f" (and {len(clashes) - 5} more)" if len(clashes) > 5 else "")
            + ". Write every part with the same schema."
        )


def _arrow_kind(type_) -> str | None:
    """The kind a column's Arrow type holds: number, text, timestamp, date, boolean…"""
    import pyarrow as pa

    checks = (
        ("number", (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal)),
        ("text", (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)),
        ("timestamp", (pa.types.is_timestamp,)),
        ("date", (pa.types.is_date,)),
        ("boolean", (pa.types.is_boolean,)),
    )
    if pa.types.is_dictionary(type_):  # pandas' categories
        type_ = type_.value_type
    if pa.types.is_null(type_):
        return None
    for kind, tests in checks:
        if any(test(type_) for test in tests):
            return kind
    return str(type_)


def data_fingerprint(files: dict[str, TableFile]) -> str:
    """SHA-256 over each table's name, file names and bytes, in a fixed order.

    The same files give the same digest wherever they live, so a model's
    training data can be recognised later; any changed byte changes it.
    """
    digest = hashlib.sha256()
    for table in sorted(files):
        path = files[table].path
        parts = _parts(path) if path.is_dir() else [path]
        for part in parts:
            name = part.relative_to(path).as_posix() if path.is_dir() else part.name
            digest.update(f"{table}/{name}\0".encode())
            with part.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()
