"""``python -m upseg``: the same command line as ``upseg``."""

from upseg.pipelines.cli import main

main()
