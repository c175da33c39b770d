"""The ``upseg`` command line: one Typer app per area, composed here."""

from __future__ import annotations

import typer

from upseg.pipelines import (
    analyze_cli,
    data_cli,
    demo_cli,
    import_cli,
    predict_cli,
    retrain_cli,
    score_cli,
    train_cli,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="upseg",
    help=(
        "Predictive and uplift segmentation of e-mail marketing audiences.\n\n"
        "Customer data in (see docs/data-contract.md), point-in-time features out; "
        "start with `upseg demo`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.add_typer(data_cli.app)
app.add_typer(import_cli.app)
app.add_typer(train_cli.app)
app.add_typer(predict_cli.app)
app.add_typer(score_cli.app)
app.add_typer(retrain_cli.app)
app.add_typer(analyze_cli.app)
app.add_typer(demo_cli.app)


def main() -> None:
    """Run the ``upseg`` command line (the console script's entry point)."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
