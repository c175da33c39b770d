"""``upseg import``: convert public data sets into the data contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from upseg.pipelines._console import console, fail, print_problems, validation_table

app = typer.Typer()
import_app = typer.Typer(
    name="import",
    help="Convert a public data set into the data contract (see docs/data-contract.md).",
    no_args_is_help=True,
)
app.add_typer(import_app)


@import_app.command("cdnow")
def cdnow(
    path: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="CDNOW_master.txt to convert."
        ),
    ],
    out: Annotated[
        Path, typer.Option(help="Directory to write customers.parquet and orders.parquet to.")
    ],
) -> None:
    """Convert the CDNOW transaction log (Fader, Hardie & Lee 2005) into the data contract.

    One completed order per line, at noon UTC of its date; each customer signs
    up at midnight UTC of their first purchase day and is assumed opted in to
    e-mail, since CDNOW has no consent data (docs/cdnow.md). The output is
    validated like `upseg validate` does.
    """
    from upseg.features.cdnow import cdnow_tables, read_cdnow, write_tables
    from upseg.features.sources import connect
    from upseg.pipelines import jobs

    with console.status(f"Reading {path}…"):
        transactions = read_cdnow(path)  # a malformed file is a DataSourceError
        tables = cdnow_tables(transactions)
        paths = write_tables(tables, out)  # so is an output directory in use
    for name, written in paths.items():
        console.print(f"  {name:<10} {len(tables[name]):>8,} rows  {written}")
    first, last = transactions["date"].min(), transactions["date"].max()
    console.print(
        f"{len(transactions):,} purchases from {first.date()} to {last.date()}, "
        f"${transactions['dollar_value'].sum():,.2f} in total, written to {out}"
    )
    with console.status(f"Validating {out}…"):
        result = jobs.check_source(out, con=connect())
    console.print(validation_table(result))
    print_problems(result)
    if not (result.schema_ok and result.rows_ok):
        raise fail(f"the converted data in {out} does not validate; please report this as a bug.")
    console.print("[green]Data is usable.[/]")
