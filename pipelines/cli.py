"""The ``upseg`` command line: one Typer app per area, composed here.

Errors end in one place, :class:`~upseg.pipelines._console.UpsegGroup`: an
:class:`~upseg.errors.UpsegError` becomes ``error: <message>`` on stderr and exit
1 (2 for a bad configuration), click's usage errors exit 2, anything else is a
bug and keeps its traceback. The command modules import pandas, ibis, MLflow and
the models only inside their commands, so ``upseg --help`` answers at once.
"""

from __future__ import annotations

import typer

from upseg.pipelines import (
    analyze_cli,
    data_cli,
    demo_cli,
    import_cli,
    monitor_cli,
    predict_cli,
    retrain_cli,
    score_cli,
    train_cli,
    triggers_cli,
)
from upseg.pipelines._console import UpsegGroup

__all__ = ["app", "main"]

app = typer.Typer(
    cls=UpsegGroup,
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
app.add_typer(triggers_cli.app)
app.add_typer(retrain_cli.app)
app.add_typer(analyze_cli.app)
app.add_typer(monitor_cli.app)
app.add_typer(demo_cli.app)


def main() -> None:
    """Run the ``upseg`` command line (the console script's entry point)."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
