"""Run the ``upseg`` CLI in-process: the one runner every CLI test uses."""

from __future__ import annotations

from typing import Any

import typer
from click.testing import Result
from typer.testing import CliRunner

from upseg.pipelines.cli import app

#: Columns of the terminal every invocation sees. Rich (our consoles and Typer's
#: usage-error panels) reads ``COLUMNS`` at each print, so a long temporary path in
#: a message stays on one line instead of being wrapped inside a box.
WIDTH = 200

runner = CliRunner(env={"COLUMNS": str(WIDTH), "TERMINAL_WIDTH": str(WIDTH)})


def invoke(*args: object, **kwargs: Any) -> Result:
    """Run ``upseg *args``; ``result.text`` is the output as words (see :func:`words`)."""
    return invoke_app(app, *args, **kwargs)


def invoke_app(typer_app: typer.Typer, *args: object, **kwargs: Any) -> Result:
    """Run ``typer_app *args`` (a sub-app composed on its own) the same way as :func:`invoke`."""
    result = runner.invoke(typer_app, [str(a) for a in args], **kwargs)
    result.text = words(result.output)  # type: ignore[attr-defined]
    return result


def words(output: str) -> str:
    """``output`` without Rich's vertical box lines, every run of whitespace as one space.

    Table cells and a message longer than :data:`WIDTH` inside a Typer error panel
    still wrap ("does │\n│ not exist"); as words they read "does not exist".
    """
    return " ".join(output.replace("│", " ").split())
