"""What every benchmark script shares: where the real data lives, stage timing, progress."""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["REPO", "machine", "peak_rss_mb", "progress", "shared_data_dir", "stage"]

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$UPSEG_SHARED_DATA``, by default ``<repo>/../shared/data``."""
    return Path(os.environ.get("UPSEG_SHARED_DATA", REPO.parent / "shared" / "data"))


def machine() -> dict[str, object]:
    """What a benchmark's results were measured on, for its JSON output."""
    return {
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }


def machine_line() -> str:
    """``machine: x86_64, 2 cores, CPython 3.11.7``: the machine, as a report prints it."""
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    On Linux, ``VmHWM`` of ``/proc/self/status``: ``ru_maxrss`` starts a
    subprocess at its parent's resident size at the fork (Linux keeps it across
    ``execve``), so a parent holding a large table would lend each stage run in
    a fresh process its own peak. Elsewhere ``ru_maxrss`` (bytes on macOS).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
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
