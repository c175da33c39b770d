"""What every benchmark script shares: where the real data lives, stage timing, progress."""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["REPO", "peak_rss_mb", "progress", "shared_data_dir", "stage"]

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$UPSEG_SHARED_DATA``, by default ``<repo>/../shared/data``."""
    return Path(os.environ.get("UPSEG_SHARED_DATA", REPO.parent / "shared" / "data"))


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (ru_maxrss is KB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


@contextmanager
def stage(name: str, stages: dict[str, dict[str, float]]) -> Iterator[None]:
    """Record the wall time of the block and the process's peak memory at its end."""
    started = time.perf_counter()
    yield
    stages[name] = {"seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}


def progress(message: str) -> None:
    """A time-stamped progress line on stderr, so stdout stays the report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
