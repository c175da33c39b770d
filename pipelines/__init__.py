"""The ``upseg`` command line and the jobs that wire the stages together.

Nothing statistical lives here: :mod:`pipelines.jobs` connects the packages to
files, the clock and the engine; :mod:`pipelines.cli` composes one Typer app
per area.
"""

__all__ = ["cli", "jobs"]
