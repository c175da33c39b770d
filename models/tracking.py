"""Where runs are tracked, and the facts every run records about its code and data.

By default runs go to a SQLite store in the working directory
(``<workdir>/mlflow.db``, artifacts in ``<workdir>/mlartifacts``), which
``mlflow ui --backend-store-uri sqlite:///<workdir>/mlflow.db`` opens;
``MLFLOW_TRACKING_URI`` points every command at a team server instead.
Credentials for a server (``MLFLOW_TRACKING_TOKEN`` …) come from the
environment only.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from upseg.errors import UpsegError

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.models.model import ModelInfo

__all__ = [
    "TrackingUnavailable",
    "check_tracking",
    "code_version",
    "ensure_experiment",
    "local_tracking_uri",
    "log_model",
    "model_requirements",
    "server_calls",
    "set_tracking",
    "tracking_uri",
    "ui_command",
]


class TrackingUnavailable(UpsegError, RuntimeError):
    """The MLflow tracking server cannot be reached; nothing was trained."""


def local_tracking_uri(workdir: Path) -> str:
    """The embedded SQLite store under ``workdir``."""
    return f"sqlite:///{(Path(workdir) / 'mlflow.db').resolve()}"


def tracking_uri(workdir: Path) -> str:
    """``MLFLOW_TRACKING_URI`` when set, else the embedded store under ``workdir``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or local_tracking_uri(workdir)


#: What unpickling a registered upseg model imports, besides upseg itself.
MODEL_PACKAGES = (
    "cloudpickle",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "lightgbm",
    "scikit-uplift",
)


@functools.cache
def model_requirements() -> tuple[str, ...]:
    """``pip_requirements`` of a logged model: :data:`MODEL_PACKAGES` at their installed versions.

    Given to ``mlflow.sklearn.log_model`` instead of letting MLflow infer them,
    which loads the model in a subprocess to see what it imports (10 to 35
    seconds a run on two cores). A model also needs upseg at the run's
    ``code_version``; it is not on PyPI, so it is not listed.
    """
    pinned = []
    for package in MODEL_PACKAGES:
        try:
            pinned.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return tuple(pinned)


def log_model(
    model: Any,
    example: pd.DataFrame,
    output: Any,
    *,
    metadata: dict[str, str],
    predict_fn: str = "predict",
) -> ModelInfo:
    """Log ``model`` as the active run's ``model``, the way every training job does.

    Cloudpickled, with :func:`model_requirements`, the signature of
    ``example`` → ``output`` (the model's output on it) and ``example`` as the
    input example; ``metadata`` goes in the MLmodel file, and ``predict_fn`` is
    the method MLflow's pyfunc calls (``predict_proba`` for a classifier).
    """
    from mlflow.models import infer_signature

    with warnings.catch_warnings():
        # MLflow warns that integer columns cannot hold missing values; the feature
        # table's integer columns are counts, filled with zero, never missing.
        warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
        signature = infer_signature(example, output)
    return mlflow.sklearn.log_model(
        model,
        name="model",
        pip_requirements=list(model_requirements()),
        serialization_format="cloudpickle",
        signature=signature,
        input_example=example,
        pyfunc_predict_fn=predict_fn,
        metadata=metadata,
    )


def ui_command(uri: str) -> str:
    """The shell command that opens the MLflow UI on ``uri``."""
    if uri.startswith(("http://", "https://")):
        return f"open {uri} in a browser"
    return f"mlflow ui --backend-store-uri {uri}"


def check_tracking(uri: str, *, timeout: float = 5.0) -> None:
    """Fail fast when a tracking server at ``uri`` does not answer its health check.

    Local stores (``sqlite:``, ``file:``) only need their directory, which is
    created, and a SQLite store its tables, which are created one process at a
    time. Called before any training work, so an unreachable server costs
    seconds, not a tuned model.

    Raises
    ------
    TrackingUnavailable
        Naming the URI and what went wrong.
    """
    if uri.startswith("sqlite:///"):
        _prepare_sqlite(uri)
        return
    if not uri.startswith(("http://", "https://")):
        return
    health = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(health, timeout=timeout) as response:  # noqa: S310
            if response.status != 200:
                raise TrackingUnavailable(
                    f"MLflow tracking server {uri} answered {response.status} to {health}; "
                    "nothing was trained."
                )
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingUnavailable(
            f"MLflow tracking server {uri} is unreachable ({reason}); nothing was trained. "
            "Check MLFLOW_TRACKING_URI or start the server."
        ) from None


@contextlib.contextmanager
def server_calls(uri: str, doing: str, *, consequence: str) -> Iterator[None]:
    """Turn a tracking server that stops answering inside the block into one sentence.

    A call that fails while the server at ``uri`` no longer answers its health
    check (after MLflow's own retries, ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``)
    raises :class:`TrackingUnavailable` naming the URI, what the job was
    ``doing`` and the ``consequence``; while the server answers, the error is
    the server's and is raised as it is. Local stores are left alone.
    """
    try:
        yield
    except Exception as exc:
        if not uri.startswith(("http://", "https://")) or _answers(uri):
            raise
        reason = " ".join(str(exc).split())
        reason = reason if len(reason) <= 160 else reason[:157] + "..."
        raise TrackingUnavailable(
            f"MLflow tracking server {uri} stopped answering while {doing} ({reason}); "
            f"{consequence}."
        ) from exc


def _answers(uri: str, timeout: float = 5.0) -> bool:
    """Whether the server at ``uri`` answers its health check now."""
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as response:  # noqa: S310
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _prepare_sqlite(uri: str) -> None:
    """Create (or upgrade) the SQLite store's tables, one process at a time.

    MLflow creates a store's tables on first use; two processes doing so at
    once collide (``table registered_models already exists``). A lock file
    beside the database makes the second wait until the first has made them.
    """
    import fcntl

    database = Path(uri.removeprefix("sqlite:///"))
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(database.with_name(f".{database.name}.init.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process ends
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments(max_results=1)
        client.search_registered_models(max_results=1)


def ensure_experiment(name: str, uri: str) -> str:
    """The id of experiment ``name``, created on first use.

    On the embedded store its artifacts go to ``mlartifacts/`` beside the
    database, not to the current directory.
    """
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        root = Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts"
        location = root.resolve().as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except MlflowException:  # another process may have created it since we looked
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def code_version() -> str:
    """The git commit of the code (``+dirty`` if modified), or the package version."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"upseg {version('upseg')}"
        except PackageNotFoundError:
            return "unknown"


def set_tracking(uri: str) -> None:
    """Point the ``mlflow`` module's fluent API at ``uri``."""
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
