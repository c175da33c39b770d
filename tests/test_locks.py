"""One job at a time per work directory, between real processes; a SQLite store's first use."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests._processes import clean_environment
from upseg.errors import UpsegError
from upseg.locks import LOCK_FILE, JobLockedError, job_lock, job_locks, lock_timeout


def hold(workdir: Path, job: str, *, seconds: float = 60) -> subprocess.Popen:
    """A process that takes ``workdir``'s lock for ``job`` and keeps it ``seconds``."""
    code = textwrap.dedent(f"""
        import sys, time
        from upseg.locks import job_lock
        with job_lock({str(workdir)!r}, {job!r}):
            print("held", flush=True)
            time.sleep({seconds})
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_job_stops_at_once_naming_the_one_that_holds_the_lock(tmp_path):
    holder = hold(tmp_path, "train churn")
    try:
        started = time.monotonic()
        with pytest.raises(JobLockedError) as error, job_lock(tmp_path, "score JUNE"):
            pytest.fail("the lock was taken twice")
        assert time.monotonic() - started < 1
        message = str(error.value)
        assert message.startswith(f"{tmp_path} is in use by 'train churn' (pid {holder.pid} on ")
        assert "stopped at once, nothing was done" in message
        assert "UPSEG_LOCK_TIMEOUT" in message and error.value.exit_code == 1
    finally:
        holder.kill()
        holder.wait()


def test_a_job_waits_for_the_lock_up_to_its_timeout(tmp_path):
    holder = hold(tmp_path, "retrain", seconds=1)
    try:
        started = time.monotonic()
        with job_lock(tmp_path, "score JUNE", timeout=30):
            assert time.monotonic() - started > 0.5  # it got the lock when the holder let go
            holding = json.loads((tmp_path / LOCK_FILE).read_text())
            assert holding["job"] == "score JUNE" and holding["pid"] == os.getpid()
        assert (tmp_path / LOCK_FILE).read_text() == ""  # a free lock names nobody
    finally:
        holder.wait()


def test_a_timeout_that_passes_says_how_long_it_waited(tmp_path):
    holder = hold(tmp_path, "retrain")
    try:
        with (
            pytest.raises(JobLockedError, match="stopped after waiting 0.5 s"),
            job_lock(tmp_path, "score JUNE", timeout=0.5),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_frees_the_lock(tmp_path):
    holder = hold(tmp_path, "train churn")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == holder.pid  # what it left
    with job_lock(tmp_path, "train churn"):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()


def test_a_job_inside_a_job_of_the_same_process_holds_the_lock_once(tmp_path):
    with job_lock(tmp_path, "retrain"), job_lock(tmp_path / ".", "train churn"):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["job"] == "retrain"
    with job_lock(tmp_path, "score"):
        pass


def test_a_sqlite_store_elsewhere_is_locked_too(tmp_path):
    store = tmp_path / "shared"
    holder = hold(store, "train churn")
    try:
        uri = f"sqlite:///{store / 'mlflow.db'}"
        with (
            pytest.raises(JobLockedError, match="'train churn'"),
            job_locks("score JUNE", tmp_path / "work", uri, timeout=0),
        ):
            pass
        with job_locks("score JUNE", tmp_path / "work", "http://127.0.0.1:1", timeout=0):
            pass
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize(
    ("value", "expected"), [("", 0.0), ("2.5", 2.5), (" 0 ", 0.0), ("soon", None), ("-1", None)]
)
def test_the_timeout_comes_from_the_environment(value, expected, monkeypatch):
    monkeypatch.setenv("UPSEG_LOCK_TIMEOUT", value)
    if expected is None:
        with pytest.raises(UpsegError, match="UPSEG_LOCK_TIMEOUT must be a number of seconds") as e:
            lock_timeout()
        assert e.value.exit_code == 2
    else:
        assert lock_timeout() == expected


def test_two_processes_use_a_fresh_sqlite_store_at_once(tmp_path):
    """MLflow creates a store's tables on first use; two processes at once used to collide."""
    go = tmp_path / "go"
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    code = textwrap.dedent(f"""
        import pathlib, time
        from mlflow.tracking import MlflowClient
        from upseg.models.tracking import check_tracking, ensure_experiment
        print("ready", flush=True)
        while not pathlib.Path({str(go)!r}).exists():
            time.sleep(0.005)
        check_tracking({uri!r})
        ensure_experiment("upseg-churn", {uri!r})
        MlflowClient({uri!r}).search_registered_models()
    """)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_environment(),
        )  # fmt: skip
        for _ in range(2)
    ]
    for proc in procs:  # both have imported MLflow: they start on the store together
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
