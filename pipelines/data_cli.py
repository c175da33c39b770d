"""Commands of the data stages: ``generate``, ``validate`` and ``features``."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from upseg.pipelines._console import (
    console,
    fail,
    instant_option,
    print_problems,
    report_features_run,
    validation_table,
)

if TYPE_CHECKING:
    from upseg.features.engines import EngineSettings
    from upseg.features.validation import ValidationResult

app = typer.Typer()


class FileFormat(StrEnum):
    parquet = "parquet"
    csv = "csv"


class Engine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


EngineOption = Annotated[
    Engine,
    typer.Option(
        help="Where validation, features and scoring run: embedded DuckDB, or Apache Spark "
        "(the extra upseg[spark] and Java; SPARK_REMOTE or a running session is used first).",
    ),
]
SparkMasterOption = Annotated[
    str | None,
    typer.Option(metavar="URL", help="Spark master for a new session, e.g. local[4] or yarn."),
]
SparkConfOption = Annotated[
    list[str] | None,
    typer.Option(metavar="KEY=VALUE", help="A Spark setting; repeat for more."),
]


def spark_conf_pairs(items: list[str] | None) -> dict[str, str]:
    """``--spark-conf KEY=VALUE`` options as a mapping; one without ``=`` is a usage error."""
    pairs = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(
                f"expected KEY=VALUE such as spark.executor.memory=8g; got {item!r}",
                param_hint="--spark-conf",
            )
        pairs[key.strip()] = value.strip()
    return pairs


def engine_settings(
    engine: Engine,
    *,
    master: str | None = None,
    conf: list[str] | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> EngineSettings:
    """The engine the options describe; a --spark-conf without ``=`` is a usage error."""
    from upseg.features.engines import EngineSettings

    base = EngineSettings(threads=threads, memory_limit=memory_limit)
    return configured_engine(base, engine, master, conf)


def configured_engine(
    configured: EngineSettings,
    engine: Engine | None,
    master: str | None,
    conf: list[str] | None,
) -> EngineSettings:
    """The configured engine (a file's ``engine:``) with the command line's options over it.

    ``--engine`` replaces the configured name; ``--spark-master`` the master;
    ``--spark-conf`` pairs are added to (and win over) the configured ones.
    """
    name = engine.value if engine is not None else configured.name
    pairs = spark_conf_pairs(conf)
    if name != "spark" and (master or pairs):
        raise typer.BadParameter(
            f"--spark-master and --spark-conf apply to --engine spark; the engine is {name}",
            param_hint="--engine",
        )
    return replace(
        configured,
        name=name,
        master=master or configured.master,
        conf={**configured.conf, **pairs},
    )


@app.command()
def generate(
    out: Annotated[
        Path | None, typer.Option(help="Directory to write the tables and truth.parquet to.")
    ] = None,
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same world.")] = 0,
    file_format: Annotated[
        FileFormat, typer.Option("--format", help="File format of the tables.")
    ] = FileFormat.parquet,
    world: Annotated[
        str,
        typer.Option(metavar="NAME", help="Effect structure of the campaign (see --list-worlds)."),
    ] = "default",
    list_worlds: Annotated[
        bool, typer.Option("--list-worlds", help="List the worlds --world takes and exit.")
    ] = False,
    personas: Annotated[
        bool,
        typer.Option(
            "--personas",
            help="Give every customer one of five latent types (loyal big spenders, bargain "
            "hunters, loyal openers, browsers, occasional buyers) whose traits drive its "
            "orders, e-mail and web behaviour, and name it in truth.parquet's persona column "
            "(docs/worlds.md). Off: one population, the world as before.",
        ),
    ] = False,
) -> None:
    """Generate a synthetic customer world in the data contract.

    Writes customers, orders, email_events, web_events and campaign_assignments
    (a past randomized campaign with a control arm), plus truth.parquet with
    each customer's true treatment effects and churn, for evaluation only.
    --world picks how large the campaign's effects are, whom they hurt and
    what drives them (docs/worlds.md); the default is the original world.
    --personas draws the customers from latent types (DEFAULT_PERSONAS), the
    answer key of a behavioural clustering.
    """
    from upseg.synthetic.effects import world_effects

    if list_worlds:
        _print_worlds()
        return
    effects = world_effects(world)
    if out is None:
        raise fail("--out DIR is required. See `upseg generate --help`.", code=2)
    from upseg.synthetic import DEFAULT_PERSONAS, generate_world, write_world

    started = time.perf_counter()
    with console.status(f"Generating {customers:,} customers…"):
        built = generate_world(
            customers, seed=seed, effects=effects, personas=DEFAULT_PERSONAS if personas else None
        )
        paths = write_world(built, out, fmt=file_format.value)
    for name, path in paths.items():
        rows = len(built.truth) if name == "truth" else len(built.tables[name])
        console.print(f"  {name:<22} {rows:>12,} rows  {path}")
    notes = ([] if world == "default" else [world]) + (["personas"] if personas else [])
    label = f" ({', '.join(notes)})" if notes else ""
    console.print(
        f"Synthetic world{label} written to {out} in {time.perf_counter() - started:.1f}s"
    )


def _print_worlds() -> None:
    """One line per world --world takes: its name, size, sleeping dogs, drivers and purpose."""
    from upseg.synthetic.effects import world_effects, world_names

    for name in world_names():
        spec = world_effects(name)
        size = "rules" if spec.mean_effect is None else f"{spec.mean_effect:g} pt"
        dogs = "rules" if spec.sleeping_dogs is None else f"{spec.sleeping_dogs:.1%}"
        drivers = ", ".join(f"{k} {v:+g}" for k, v in spec.drivers.items()) or "segment rules"
        for variant, weights in spec.variant_drivers.items():
            drivers += f"; {variant}: " + ", ".join(f"{k} {v:+g}" for k, v in weights.items())
        console.print(
            f"[bold]{name}[/]  {spec.shape}, mean effect {size}, sleeping dogs {dogs}, "
            f"drivers: {drivers}, irrelevant columns {spec.irrelevant_columns}"
        )
        console.print(f"    {spec.description}", markup=False)


@app.command()
def validate(
    data: Annotated[Path, typer.Option(help="Data source directory (see docs/data-contract.md).")],
    quarantine: Annotated[
        Path | None,
        typer.Option(help="Write bad rows here with a `reason` column and accept the rest."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="Reject timestamps at or after this instant (default: now)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
    engine: EngineOption = Engine.duckdb,
    spark_master: SparkMasterOption = None,
    spark_conf: SparkConfOption = None,
) -> None:
    """Check a data source against the data contract.

    Every problem names the table, the column, the number of rows and a few
    examples. Exits 1 when the data is unusable: a missing table or column, or
    bad rows without --quarantine.
    """
    from upseg.features.engines import open_engine
    from upseg.features.validation import write_quarantine
    from upseg.pipelines import jobs

    cutoff = instant_option(as_of, "--as-of")
    label = f"--as-of {as_of}" if as_of else "the current time"
    settings = engine_settings(engine, master=spark_master, conf=spark_conf)
    with console.status(f"Validating {data} on {engine.value}…"):
        con = open_engine(settings)
        result = jobs.check_source(data, con=con, not_after=cutoff, not_after_label=label)
        written = {}
        if quarantine is not None and result.schema_ok:
            written = write_quarantine(result, quarantine)
    usable = result.schema_ok and (quarantine is not None or result.rows_ok)
    if as_json:
        typer.echo(json.dumps(_report(result, written, usable), indent=2))
    else:
        console.print(validation_table(result))
        print_problems(result)
        for name, path in written.items():
            console.print(f"Quarantined rows of {name} written to {path}")
    if not usable:
        hint = "" if not result.schema_ok else " Rerun with --quarantine DIR to set bad rows aside."
        raise fail(f"the data in {data} is unusable as it is.{hint}")
    if not as_json:
        console.print("[green]Data is usable.[/]")


def _report(result: ValidationResult, written: dict[str, Path], usable: bool) -> dict:
    """The validation report as plain data, for ``--json``."""
    return {
        "usable": usable,
        "tables": {
            n: {
                "path": s.path,
                "rows_read": s.rows_read,
                "rows_accepted": s.rows_accepted,
                "rows_quarantined": s.rows_quarantined,
                "reconciles": s.reconciles,
            }
            for n, s in result.summaries.items()
        },
        "problems": [
            {
                "table": p.table,
                "column": p.column,
                "rule": p.rule,
                "message": p.message,
                "rows": p.n_rows,
                "examples": p.examples,
            }
            for p in result.problems
        ],
        "quarantine_files": {n: str(p) for n, p in written.items()},
    }


@app.command()
def features(
    data: Annotated[Path, typer.Option(help="Data source directory (see docs/data-contract.md).")],
    as_of: Annotated[
        str, typer.Option(metavar="DATE", help="Cutoff YYYY-MM-DD: only events strictly before it.")
    ],
    out: Annotated[Path, typer.Option(help="Parquet file to write, one row per customer.")],
    quarantine: Annotated[
        Path | None,
        typer.Option(help="Set bad rows aside here instead of refusing the data."),
    ] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="Engine threads.")] = None,
    memory_limit: Annotated[
        str | None, typer.Option(help="Engine memory limit, e.g. 3GB; it spills beyond.")
    ] = None,
    engine: EngineOption = Engine.duckdb,
    spark_master: SparkMasterOption = None,
    spark_conf: SparkConfOption = None,
) -> None:
    """Build point-in-time features of every customer who signed up before --as-of.

    RFM, engagement and web-behaviour features over 30/90/365-day windows,
    RFM scores and segment, lifecycle stage and customer attributes; the
    columns are listed in docs/features.md. The data is validated first. On
    --engine spark, --out is a folder of Parquet parts (see docs/scale.md).
    """
    from upseg.pipelines import jobs

    cutoff = instant_option(as_of, "--as-of")
    settings = engine_settings(
        engine, master=spark_master, conf=spark_conf, threads=threads, memory_limit=memory_limit
    )
    with console.status(f"Validating {data} and building features as of {as_of}…"):
        run = jobs.run_features(data, cutoff, out, quarantine_dir=quarantine, engine=settings)
    console.print(validation_table(run.source.result))
    print_problems(run.source.result)
    report_features_run(run)
