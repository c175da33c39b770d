"""Shared fixtures: tiny hand-made data sources written to real files, and the shared data."""

from __future__ import annotations

import os

# The suite fits hundreds of small models (LightGBM, k-means) while other processes share the
# machine's two cores; OpenMP threads that wait for a busy core made such fits 5 to 15 times
# slower. One thread per process, unless the caller chose, set before any library loads OpenMP.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from upseg.features.sources import connect, find_table_files  # noqa: E402
from upseg.features.validation import validate_source  # noqa: E402
from upseg.pipelines.jobs import load_source  # noqa: E402
from upseg.synthetic import generate_world, write_world  # noqa: E402

NOW = pd.Timestamp("2026-11-01", tz="UTC")

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The public data sets: ``$UPSEG_SHARED_DATA``, by default ``shared/data`` beside the repo."""
    return Path(os.environ.get("UPSEG_SHARED_DATA") or REPO.parent / "shared" / "data")


#: Where the Hillstrom e-mail experiment is, for tests that name it at collection time;
#: a test that reads it also asks for the :func:`shared_data` fixture.
HILLSTROM = shared_data_dir() / "hillstrom.csv"


def shared_file(name: str) -> Path:
    """A file of :func:`shared_data_dir`; skips the test when it is absent, fails under CI.

    CI (``CI`` set) always has the shared data beside the clone, so a missing file
    there is a broken setup, not a reason to pass quietly.
    """
    path = shared_data_dir() / name
    if not path.is_file():
        message = (
            f"{path} not found; set UPSEG_SHARED_DATA to the folder holding hillstrom.csv, "
            "CDNOW_master.txt and CDNOW_sample.txt"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set, so the shared data must be there)", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Callable[[str], Path]:
    """``shared_data("hillstrom.csv")``: a shared data file's path (see :func:`shared_file`)."""
    return shared_file


#: Holdout cutoff of the model tests; the synthetic world runs to 2026-07-01.
AS_OF = pd.Timestamp("2026-04-01", tz="UTC")


def ts(value: str) -> pd.Timestamp:
    """A UTC instant from an ISO string (naive means UTC)."""
    t = pd.Timestamp(value)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def write_source(directory: Path, tables: dict[str, pd.DataFrame], fmt: str = "parquet") -> Path:
    """Write each table as <table>.<fmt> in ``directory`` and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if fmt == "csv":
            frame.to_csv(directory / f"{name}.csv", index=False)
        else:
            frame.to_parquet(directory / f"{name}.parquet", index=False)
    return directory


def customers_frame(rows: list[tuple]) -> pd.DataFrame:
    """customers from (customer_id, signup_at[, email_opt_in, unsubscribed_at])."""
    records = []
    for row in rows:
        cid, signup, *rest = row
        opt_in = rest[0] if rest else True
        unsub = rest[1] if len(rest) > 1 else None
        records.append(
            {
                "customer_id": cid,
                "signup_at": ts(signup),
                "email_opt_in": opt_in,
                "unsubscribed_at": ts(unsub) if unsub else pd.NaT,
            }
        )
    frame = pd.DataFrame.from_records(records)
    frame["unsubscribed_at"] = pd.to_datetime(frame["unsubscribed_at"], utc=True)
    return frame


def orders_frame(rows: list[tuple]) -> pd.DataFrame:
    """orders from (order_id, customer_id, ordered_at, amount[, status, category, discount])."""
    records = []
    for row in rows:
        oid, cid, at, amount, *rest = row
        records.append(
            {
                "order_id": oid,
                "customer_id": cid,
                "ordered_at": ts(at),
                "amount": float(amount),
                "status": rest[0] if rest else "completed",
                "category": rest[1] if len(rest) > 1 else "shoes",
                "discount": float(rest[2]) if len(rest) > 2 else 0.0,
            }
        )
    return pd.DataFrame.from_records(records)


def events_frame(rows: list[tuple], id_column: str) -> pd.DataFrame:
    """email_events or web_events from (customer_id, id, event_type, occurred_at)."""
    return pd.DataFrame.from_records(
        [
            {"customer_id": c, id_column: i, "event_type": e, "occurred_at": ts(t)}
            for c, i, e, t in rows
        ]
    )


@pytest.fixture
def con():
    """A fresh embedded DuckDB connection."""
    return connect(threads=1)


@pytest.fixture
def validated(tmp_path, con):
    """Write tables to a source directory and return the validation result."""
    counter = iter(range(1_000))

    def _validate(tables: dict[str, pd.DataFrame], fmt: str = "parquet", not_after=NOW):
        directory = write_source(tmp_path / f"source{next(counter)}", tables, fmt)
        return validate_source(con, find_table_files(directory), not_after=not_after)

    return _validate


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6,000-customer synthetic world written as Parquet, shared by the model tests."""
    out = tmp_path_factory.mktemp("world")
    write_world(generate_world(6_000, seed=7), out)
    return out


@pytest.fixture(scope="session")
def world_tables(world_dir: Path):
    """The validated tables of :func:`world_dir`."""
    return load_source(world_dir, con=connect()).result.tables


#: MLflow's URI variables as the session found them (taken at import, before any fixture, since
#: module-scoped fixtures run before a test's autouse one and may set them).
_SESSION_MLFLOW_ENV = {
    name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
}


@pytest.fixture(autouse=True)
def _restore_mlflow_uris():
    """Each test starts and ends with MLflow's default URIs, so a test that points
    MLflow at a server (stopped afterwards) cannot send the next test there.

    ``mlflow.set_registry_uri`` also exports ``MLFLOW_REGISTRY_URI``, which
    ``set_registry_uri(None)`` leaves behind: the variables are put back too.
    """
    import mlflow

    yield
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)
    for name, value in _SESSION_MLFLOW_ENV.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
