"""Find the tables of a data source and open them on an engine.

This is the only module that knows about files and engines. Everything
downstream works on Ibis table expressions, so the same feature definitions run
on DuckDB (the default, embedded) or on any other Ibis backend.
"""

from __future__ import annotations

import hashlib
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
        A ``.parquet`` or ``.csv`` file, or a directory of Parquet parts.
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
        if present and present[-1].path.is_dir() and not any(present[-1].path.glob("*.parquet")):
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


def read_raw_table(con: BaseBackend, table_file: TableFile) -> ibis.Table:
    """Open a table as it is in the file, without coercing types.

    CSV columns are all read as strings so that a bad value in one row becomes
    a quarantined row instead of a failed read.

    Parameters
    ----------
    con : BaseBackend
        Connection from :func:`connect`.
    table_file : TableFile
        What to open.

    Returns
    -------
    ibis.Table
        A lazy view over the file.

    Raises
    ------
    DataSourceError
        If the engine cannot read the file as its format (a corrupt or truncated file).
    """
    import duckdb

    name = f"raw_{table_file.table}"
    path = table_file.path
    try:
        if table_file.fmt == "csv":
            return con.read_csv(path, table_name=name, all_varchar=True, header=True)
        source = str(path / "*.parquet") if path.is_dir() else str(path)
        return con.read_parquet(source, table_name=name, union_by_name=True)
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataSourceError(
            f"Table {table_file.table!r}: {str(path)!r} cannot be read as {table_file.fmt} "
            f"({reason})."
        ) from exc


def data_fingerprint(files: dict[str, TableFile]) -> str:
    """SHA-256 over each table's name, file names and bytes, in a fixed order.

    The same files give the same digest wherever they live, so a model's
    training data can be recognised later; any changed byte changes it.
    """
    digest = hashlib.sha256()
    for table in sorted(files):
        path = files[table].path
        parts = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
        for part in parts:
            digest.update(f"{table}/{part.name}\0".encode())
            with part.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()
