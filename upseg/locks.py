"""One job at a time per work directory: train, retrain and score take its lock.

The lock is ``<workdir>/upseg.lock`` (and the same file in the folder of a local
SQLite tracking store kept elsewhere, so that jobs of two work directories that
share one registry wait for each other too), held with ``flock`` for the whole job, so
the system releases it when the process ends, however it ends (a SIGKILL
included): a lock is never stale. The file holds the holder's job, pid, host and
start time, for the message of the job that finds it taken. That job waits for
it up to ``UPSEG_LOCK_TIMEOUT`` seconds (0 by default: it stops at once), then
stops with one line naming the holder.

A job that runs others in the same process (``upseg retrain`` trains each model,
``upseg demo`` retrains then scores) holds the lock once; the inner jobs find it
already theirs.

``flock`` works between processes of one host. Jobs on other hosts that share a
work directory over a network file system, or a tracking server, are not held
back by it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from upseg.errors import UpsegError

__all__ = ["LOCK_FILE", "JobLockedError", "job_lock", "job_locks", "lock_timeout"]

#: The lock's file name in a work directory.
LOCK_FILE = "upseg.lock"
#: How often a waiting job tries the lock again, in seconds.
_POLL = 0.2

# Locks this process holds, by resolved path: [file descriptor, depth].
_held: dict[Path, list[int]] = {}


class JobLockedError(UpsegError, RuntimeError):
    """Another job holds the work directory's lock; nothing was done."""


def lock_timeout() -> float:
    """``UPSEG_LOCK_TIMEOUT`` in seconds: how long a job waits for the lock (default 0).

    Raises
    ------
    UpsegError
        Exit 2, when the variable is not a number of seconds, 0 or more.
    """
    raw = os.environ.get("UPSEG_LOCK_TIMEOUT", "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses nan
        error = UpsegError(
            f"UPSEG_LOCK_TIMEOUT must be a number of seconds, 0 or more; got {raw!r}."
        )
        error.exit_code = 2
        raise error
    return value


@contextlib.contextmanager
def job_lock(workdir: Path, job: str, *, timeout: float = 0.0) -> Iterator[None]:
    """Hold ``workdir``'s lock for ``job`` (e.g. ``"train churn"``) while the block runs.

    Parameters
    ----------
    workdir : Path
        The work directory (created if needed).
    job : str
        What this job is, as the message of a job that waits for it names it.
    timeout : float, default 0
        Seconds to wait for a lock another process holds; 0 tries once.

    Raises
    ------
    JobLockedError
        When the lock is still taken after ``timeout``, naming the job that holds it.
    """
    path = (Path(workdir) / LOCK_FILE).resolve()
    if path in _held:  # this process holds it already: a job inside a job
        _held[path][1] += 1
        try:
            yield
        finally:
            _held[path][1] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, timeout)
        _write_holder(fd, job)
        _held[path] = [fd, 1]
        try:
            yield
        finally:
            del _held[path]
            os.ftruncate(fd, 0)  # a free lock names nobody
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def job_locks(job: str, workdir: Path, tracking_uri: str, *, timeout: float) -> Iterator[None]:
    """Hold the locks of a job on ``workdir`` that tracks to ``tracking_uri``.

    The work directory's, and the folder's of a local SQLite store outside it;
    taken in a fixed order, so two jobs never wait for each other in a circle.
    A tracking server cannot be locked from here: jobs on other hosts that use
    it are not held back.
    """
    folders = {Path(workdir).resolve()}
    if tracking_uri.startswith("sqlite:///"):
        folders.add(Path(tracking_uri.removeprefix("sqlite:///")).resolve().parent)
    with contextlib.ExitStack() as stack:
        for folder in sorted(folders):
            stack.enter_context(job_lock(folder, job, timeout=timeout))
        yield


def _acquire(fd: int, path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise JobLockedError(_taken(path, timeout)) from None
            time.sleep(min(_POLL, max(deadline - time.monotonic(), 0.01)))


def _write_holder(fd: int, job: str) -> None:
    holder = {
        "job": job,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(holder).encode(), 0)
    os.fsync(fd)


def _taken(path: Path, waited: float) -> str:
    """The message of a job that did not get the lock: who holds it, since when."""
    holder: dict = {}
    # The holder writes its name just after taking the lock; a job that lost the
    # race by microseconds may find the file still empty, so look a few times.
    for _ in range(20):
        try:
            holder = json.loads(path.read_text() or "{}")
        except (OSError, ValueError):
            holder = {}
        if holder.get("job"):
            break
        time.sleep(0.05)
    if holder.get("job"):
        who = (
            f"{holder['job']!r} (pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
            f"started {holder.get('started', '?')})"
        )
    else:
        who = "another upseg job"
    wait = f"after waiting {waited:g} s" if waited else "at once"
    return (
        f"{path.parent} is in use by {who}; stopped {wait}, nothing was done. "
        "Run again when it has finished, or set UPSEG_LOCK_TIMEOUT=<seconds> to wait for it."
    )
