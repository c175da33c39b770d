"""Real faults, issue 14: real processes killed with SIGKILL, real locks, real tampering.

A scoring or training run is a subprocess running the ``upseg`` command line on
a small generated world. The test watches the file system for the point it
wants (the scorer's temporary folder, the audience's temporary file, the
training run's artifacts, a version row in the registry), freezes the process
there with SIGSTOP, checks the point was reached, and kills it with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests._processes import clean_environment
from tests.pipelines._invoke import invoke
from upseg.files import _host
from upseg.models.registry import REGISTRATION_TAG
from upseg.models.tracking import local_tracking_uri
from upseg.pipelines.train_job import TrainSettings, run_training
from upseg.synthetic import generate_world, write_world

AS_OF = pd.Timestamp("2026-04-01", tz="UTC")
SCORE_AS_OF = "2026-05-01"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A 1,500-customer world: small enough that a process runs in seconds."""
    out = tmp_path_factory.mktemp("fault-world")
    write_world(generate_world(1_500, seed=3), out)
    return out


@pytest.fixture(scope="module")
def registry(world, tmp_path_factory) -> Path:
    """A work directory whose local registry has churn and propensity champions."""
    work = tmp_path_factory.mktemp("fault-work")
    for task in ("churn", "propensity"):
        run_training(
            TrainSettings(
                task=task,
                data_dir=world,
                as_of=AS_OF,
                tracking_uri=local_tracking_uri(work),
                workdir=work,
                snapshots=1,
            )  # fmt: skip
        )
    return work


def score_args(world: Path, registry: Path, out: Path, *extra) -> list:
    return [
        "score", "--data", world, "--as-of", SCORE_AS_OF, "--campaign", "JUNE", "--out", out,
        "--workdir", registry, "--uplift-fallback", "none", *extra,
    ]  # fmt: skip


def spawn(*args: object, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``upseg *args`` in a process of its own, as a scheduler starts it."""
    return subprocess.Popen(
        [sys.executable, "-m", "upseg", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**clean_environment(), "COLUMNS": "200", **(env or {})},
    )


def kill_when(
    proc: subprocess.Popen,
    reached: Callable[[], bool],
    *,
    recheck: bool = True,
    timeout: float = 120,
) -> None:
    """Freeze ``proc`` the moment ``reached()``, check it still holds, and SIGKILL it.

    ``recheck`` False skips the check for a point that cannot be undone (a committed row).
    """
    deadline = time.monotonic() + timeout
    while not reached():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended (exit {proc.returncode}) before the point:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the point was not reached in time")
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        assert not recheck or reached(), "the point passed before the process froze"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()  # reaped: its pid is gone, as after a real crash
    assert proc.returncode == -signal.SIGKILL


def leftovers(folder: Path, name: str) -> list[Path]:
    """upseg's temporary files and folders for ``name`` in ``folder``."""
    return sorted(folder.glob(f".{name}.upseg-*"))


# -- a killed scoring run -------------------------------------------------------------


def test_a_killed_scoring_run_leaves_the_previous_audience_and_the_next_run_cleans_up(
    world, registry, tmp_path
):
    out = tmp_path / "audiences" / "june.parquet"
    first = invoke(*score_args(world, registry, out))
    assert first.exit_code == 0, first.output
    before, audience = out.read_bytes(), pd.read_parquet(out)

    def building_features() -> bool:  # in the temporary folder beside the audience
        return any(p.is_dir() for p in leftovers(out.parent, out.name))

    def writing_the_audience() -> bool:  # its temporary file beside it
        return any(p.suffix == ".tmp" for p in leftovers(out.parent, out.name))

    kill_when(spawn(*score_args(world, registry, out)), building_features)
    assert out.read_bytes() == before
    stale = leftovers(out.parent, out.name)
    assert stale, "the killed run left nothing to clean up"

    kill_when(spawn(*score_args(world, registry, out)), writing_the_audience)
    assert out.read_bytes() == before
    assert not any(p.exists() for p in stale), "the second run did not remove the first's folder"
    stale = leftovers(out.parent, out.name)
    assert {p.suffix for p in stale} >= {".tmp"} and any(p.is_dir() for p in stale)

    again = invoke(*score_args(world, registry, out))
    assert again.exit_code == 0, again.output
    assert leftovers(out.parent, out.name) == []
    assert pd.read_parquet(out).equals(audience)


def test_another_live_process_temporary_file_is_left_alone(tmp_path):
    from upseg.files import remove_stale_temporaries, write_atomically

    target = tmp_path / "a.csv"
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as sleeper:
        try:
            host = _host()
            live = tmp_path / f".a.csv.upseg-{host}-{sleeper.pid}-abc123.tmp"
            dead = tmp_path / f".a.csv.upseg-{host}-{_a_dead_pid()}-def456.tmp"
            elsewhere = tmp_path / ".a.csv.upseg-otherhost-1-ghi789.tmp"
            other_file = tmp_path / ".a.csv.swp"
            for path in (live, dead, elsewhere, other_file):
                path.write_text("x")
            write_atomically(target, lambda tmp: tmp.write_text("new"))
            assert target.read_text() == "new"
            assert not dead.exists()
            assert live.exists() and elsewhere.exists() and other_file.exists()
            assert remove_stale_temporaries(target) == []
        finally:
            sleeper.kill()


def test_a_folder_is_replaced_whole_or_not_at_all(tmp_path):
    from upseg.files import write_folder_atomically

    target = tmp_path / "audience.parquet"
    target.write_text("an earlier run's single file")

    def parts(folder: Path) -> None:
        folder.mkdir()  # the writer makes the folder itself, as Spark does
        (folder / "part-0.parquet").write_text("new")
        (folder / "_SUCCESS").write_text("")

    write_folder_atomically(target, parts)
    assert sorted(p.name for p in target.iterdir()) == ["_SUCCESS", "part-0.parquet"]

    def fails(folder: Path) -> None:
        folder.mkdir()
        (folder / "part-0.parquet").write_text("half")
        raise RuntimeError("executor lost")

    with pytest.raises(RuntimeError, match="executor lost"):
        write_folder_atomically(target, fails)
    assert (target / "part-0.parquet").read_text() == "new"  # the old folder, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audience.parquet"]  # nothing left


def _a_dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- a killed training run ------------------------------------------------------------


def _versions(registry: Path, name: str) -> list:
    return MlflowClient(local_tracking_uri(registry)).search_model_versions(f"name = '{name}'")


def _version_rows(registry: Path, name: str) -> int:
    """Versions of ``name`` as the database holds them, read without MLflow (-1 while locked)."""
    try:
        with sqlite3.connect(f"file:{registry / 'mlflow.db'}?mode=ro", uri=True) as db:
            query = "SELECT count(*) FROM model_versions WHERE name = ?"
            return int(db.execute(query, (name,)).fetchone()[0])
    except sqlite3.OperationalError:
        return -1


def _artifact_folders(registry: Path) -> bool:
    return bool(leftovers(registry, "run-artifacts"))


def test_a_killed_training_run_registers_nothing_half_and_the_next_run_completes(world, registry):
    client = MlflowClient(local_tracking_uri(registry))
    champion = client.get_model_version_by_alias("churn", "champion").version
    rows = _version_rows(registry, "churn")
    args = ["train", "churn", "--data", world, "--as-of", "2026-04-01", "--snapshots", 1,
            "--workdir", registry]  # fmt: skip

    def logging_the_run() -> bool:  # writing its plots and tables, in the work directory
        return _artifact_folders(registry)

    def registering() -> bool:  # the version row is written; its alias is not yet
        return _version_rows(registry, "churn") > rows

    kill_when(spawn(*args), logging_the_run)
    assert _version_rows(registry, "churn") == rows
    stale = leftovers(registry, "run-artifacts")
    assert stale

    # a committed row cannot be undone: no need to check it again once frozen
    kill_when(spawn(*args), registering, recheck=False)
    assert not any(p.exists() for p in stale), "the second run did not remove the first's folder"
    # every version holds its facts and its gate's decision; the champion is the one before
    versions = _versions(registry, "churn")
    for v in versions:
        assert {"feature_set", "data_fingerprint", "gate", "gate_reason"} <= set(v.tags), v.tags
    assert client.get_model_version_by_alias("churn", "champion").version == champion
    left = [v.version for v in versions if v.tags.get(REGISTRATION_TAG) == "incomplete"]

    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert not _artifact_folders(registry)
    for v in _versions(registry, "churn"):
        assert v.tags.get(REGISTRATION_TAG, "complete") == "complete", (v.version, v.tags)
    for version in left:  # the alias was not yet set when the run was killed
        assert f"churn version {version} was left half-registered" in result.text


def test_an_unreadable_previous_audience_stops_the_run_before_it_writes(world, registry, tmp_path):
    previous = tmp_path / "may.parquet"
    previous.write_bytes(b"PAR1 cut short")
    out = tmp_path / "out" / "june.parquet"
    result = invoke(*score_args(world, registry, out, "--previous", previous))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert f"error: {previous}: not a readable Parquet file" in result.text
    assert not out.parent.exists() or not any(out.parent.iterdir())


# -- two jobs on one work directory ---------------------------------------------------


def test_two_training_jobs_started_together_on_a_fresh_work_directory_do_not_race(world, tmp_path):
    work = tmp_path / "work"
    args = ["train", "churn", "--data", world, "--as-of", "2026-04-01", "--snapshots", 1,
            "--workdir", work]  # fmt: skip
    procs = [spawn(*args), spawn(*args)]
    try:
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.05)
        # the one that did not get the lock stops at once; the other is still training
        loser = next(proc for proc in procs if proc.returncode is not None)
        winner = next(proc for proc in procs if proc is not loser)
        _, err = loser.communicate()
        assert loser.returncode == 1, err
        assert winner.poll() is None
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith(
            f"error: {work.resolve()} is in use by 'train churn' (pid {winner.pid} on "
        ), lines[0]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


# -- model integrity ------------------------------------------------------------------


def _model_file(registry: Path, name: str) -> tuple[MlflowClient, object, Path]:
    """The champion of ``name`` and its pickled model file in the registry's artifact store."""
    client = MlflowClient(local_tracking_uri(registry))
    version = client.get_model_version_by_alias(name, "champion")
    folder = client.get_model_version_download_uri(name, str(version.version))
    return client, version, Path(folder.removeprefix("file://")) / "model.pkl"


def test_a_changed_model_file_is_refused_before_anything_is_unpickled(world, registry, tmp_path):
    import pickle

    _, version, model_file = _model_file(registry, "churn")
    original = model_file.read_bytes()
    sentinel = tmp_path / "the pickle ran"
    # what an attacker with write access to the artifact store could put there
    model_file.write_bytes(pickle.dumps(_Touch(str(sentinel))))
    try:
        out = tmp_path / "out" / "june.parquet"
        result = invoke(*score_args(world, registry, out))
    finally:
        model_file.write_bytes(original)
    assert result.exit_code == 1, result.output
    assert not sentinel.exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"error: model 'churn' version {version.version}: its files' SHA-256 is "
    ), result.stderr
    assert "recorded when it was registered; they have changed since" in lines[0]
    assert not out.parent.exists() or not any(out.parent.iterdir())


class _Touch:
    """Unpickling it creates a file: the proof that a pickle was loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_a_version_without_a_recorded_digest_is_refused_naming_it(world, registry, tmp_path):
    from upseg.models.registry import MODEL_SHA256_TAG

    client, version, _ = _model_file(registry, "propensity")
    digest = version.tags[MODEL_SHA256_TAG]
    client.delete_model_version_tag("propensity", str(version.version), MODEL_SHA256_TAG)
    try:
        result = invoke(*score_args(world, registry, tmp_path / "june.parquet"))
    finally:
        client.set_model_version_tag("propensity", str(version.version), MODEL_SHA256_TAG, digest)
    assert result.exit_code == 1, result.output
    assert (
        f"error: model 'propensity' version {version.version} has no recorded SHA-256 of its "
        "files (it was registered before upseg recorded them), so it is not loaded"
    ) in result.text
    assert "Retrain it and promote the new version (--promote" in result.text
    assert not (tmp_path / "june.parquet").exists()
