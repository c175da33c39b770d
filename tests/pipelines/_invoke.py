"""Run the ``upseg`` CLI in-process, as the pipelines tests do."""

from __future__ import annotations

from typer.testing import CliRunner

from upseg.pipelines.cli import app

runner = CliRunner()


def invoke(*args: object):
    """Run ``upseg *args``; ``result.text`` is the output with whitespace collapsed."""
    result = runner.invoke(app, [str(a) for a in args])
    # Rich wraps at the terminal width; compare words, not line breaks.
    result.text = " ".join(result.output.split())
    return result
