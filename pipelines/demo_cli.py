"""``upseg demo``: the main job end to end on the built-in synthetic world."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from features.synthetic import generate_world, write_world
from pipelines import jobs
from pipelines._console import (
    console,
    print_problems,
    report_features_run,
    validation_table,
)

app = typer.Typer()

DEMO_AS_OF = "2026-04-01"


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Directory for every output of the demo.")] = Path(
        "demo-output"
    ),
    customers: Annotated[int, typer.Option(min=100, help="Customers in the world.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed of the world.")] = 0,
    as_of: Annotated[str, typer.Option(help="Cutoff date of the features.")] = DEMO_AS_OF,
) -> None:
    """Run generate → validate → features on a synthetic world and say where it all is."""
    cutoff = jobs.parse_instant(as_of, option="--as-of")
    data = out / "data"
    features_path = out / f"features_{cutoff.date().isoformat()}.parquet"
    with console.status(f"1/3 generating a world of {customers:,} customers…"):
        write_world(generate_world(customers, seed=seed), data)
    console.print(f"[bold]1/3 generate[/]  synthetic world in {data}")
    with console.status("2/3 validating, 3/3 building features…"):
        run = jobs.run_features(data, cutoff, features_path)
    console.print("[bold]2/3 validate[/]")
    console.print(validation_table(run.source.result))
    print_problems(run.source.result)
    console.print("[bold]3/3 features[/]")
    report_features_run(run)
    console.print(
        "\nOutputs:\n"
        f"  data source      {data}/ (customers, orders, email_events, web_events, "
        "campaign_assignments)\n"
        f"  ground truth     {data}/truth.parquet (for evaluation only)\n"
        f"  features         {features_path}\n"
        "Next: `upseg validate --data DIR`, `upseg features --help`, docs/data-contract.md"
    )
