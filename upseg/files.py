"""Files written whole or not at all, for every stage that writes a result users read.

A result is written to a temporary file (or folder) beside it and renamed into
place, so a crash leaves the previous file or none, never half of one. The
temporary names say whose they are, ``.<name>.upseg-<host>-<pid>-<random>``: a
run killed before its rename leaves one behind, and the next run that writes the
same result removes those of processes on this host that are gone
(:func:`remove_stale_temporaries`). A live process's, or another host's, are
left alone.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = [
    "remove_stale_temporaries",
    "temporary_folder_beside",
    "write_atomically",
    "write_folder_atomically",
]

_MARK = "upseg"


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:40] or "host"


def _prefix(path: Path) -> str:
    """The start of this process's temporary names for ``path``."""
    return f".{path.name}.{_MARK}-{_host()}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove what killed runs of this host left beside ``path``; return what was removed.

    Only names this module makes for ``path`` count, and only those whose
    process is gone: a run still writing keeps its files.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    pattern = re.compile(
        rf"^\.{re.escape(path.name)}\.{_MARK}-(?P<host>.+)-(?P<pid>\d+)-[^-]+?(\.tmp)?$"
    )
    removed = []
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.{_MARK}-*"):
        match = pattern.match(candidate.name)
        if match is None or match["host"] != _host() or _alive(int(match["pid"])):
            continue
        if candidate.is_dir() and not candidate.is_symlink():
            shutil.rmtree(candidate, ignore_errors=True)
        else:
            candidate.unlink(missing_ok=True)
        removed.append(candidate)
    return removed


@contextlib.contextmanager
def temporary_folder_beside(path: Path) -> Iterator[Path]:
    """A scratch folder beside ``path`` (same file system), removed on exit.

    Stale folders and files of killed runs for ``path`` are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    with tempfile.TemporaryDirectory(prefix=_prefix(path), dir=path.parent) as tmp:
        yield Path(tmp)


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place.

    The file is flushed to disk before the rename, and the rename after it, so
    even a power cut leaves the old file or the new one. Stale temporary files
    of killed runs for ``path`` are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        _fsync(Path(tmp))
        os.replace(tmp, path)
        _fsync(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_folder_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` to create a folder beside ``path``, then put it in ``path``'s place.

    For writers that make a folder of parts themselves (Spark): ``tmp`` does
    not exist when ``write`` is called. What was at ``path`` is moved aside and
    removed after the new folder is in place, so ``path`` is the old data or
    the new, never a mix; between the two renames it is briefly absent, and a
    Spark writer's ``_SUCCESS`` marker tells readers the folder is complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = Path(tempfile.mkdtemp(prefix=_prefix(path), suffix=".tmp", dir=path.parent))
    tmp.rmdir()
    old = tmp.with_suffix(".old")
    try:
        write(tmp)
        if path.exists() or path.is_symlink():
            os.replace(path, old)
        os.replace(tmp, path)
        _fsync(path.parent)
    finally:
        for leftover in (tmp, old):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            elif leftover.exists():
                leftover.unlink()


def _fsync(path: Path) -> None:
    """Flush ``path`` (a file, or a folder's entries) to disk, where the system allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a folder
        pass
    finally:
        os.close(fd)
