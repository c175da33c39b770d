"""Open the engine the feature definitions run on: embedded DuckDB or Apache Spark.

The definitions are Ibis expressions, so an engine is only a connection:
:func:`open_engine` hands back an Ibis backend and everything downstream
(validation, features) is the same code on either. DuckDB is the default and
needs nothing; Spark is the optional extra ``upseg[spark]`` and a Java runtime.

The Spark session comes, in this order, from ``SPARK_REMOTE`` (Spark Connect:
``sc://host:15002``), from a session already running in the process (under
``spark-submit`` or a notebook on a cluster), or from ``master`` and ``conf``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from upseg.errors import UpsegError
from upseg.features.sources import connect

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

__all__ = [
    "ENGINES",
    "SPARK_DEFAULTS",
    "EngineError",
    "EngineSettings",
    "LOCAL_DEFAULTS",
    "open_engine",
    "spark_session",
]

#: The engines ``--engine`` accepts; the first is the default.
ENGINES = ("duckdb", "spark")

#: Spark settings upseg needs on every session, unless the configuration sets them: UTC as
#: the data contract says, Arrow between Spark and pandas, and instants written as Parquet's
#: UTC timestamps (not INT96), so that readers see them as UTC.
SPARK_DEFAULTS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}

#: And for a new ``local[N]`` session only: no web UI or progress bar (a batch job, and no
#: port to collide with), few shuffle partitions, and a heap of half the machine's memory
#: (the driver is the executor too; Spark's default of 1 GB fails at a million customers).
#: A cluster's own values are left alone.
LOCAL_DEFAULTS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
}


def _local_driver_memory() -> str:
    """Half the machine's memory, at least 1 GB, as Spark writes it (``12g``)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "1g"
    return f"{max(1, total // 2**31)}g"


class EngineError(UpsegError, RuntimeError):
    """The engine asked for cannot be opened (not installed, no Java, a bad setting)."""


@dataclass(frozen=True)
class EngineSettings:
    """Which engine to open and how.

    Parameters
    ----------
    name : {"duckdb", "spark"}
    threads, memory_limit
        DuckDB's worker threads and memory limit (``"3GB"``); unused by Spark.
    master : str, optional
        Spark master (``local[2]``, ``yarn``, ``spark://host:7077``); ignored
        when ``SPARK_REMOTE`` is set or a session is already running.
    conf : mapping of str to str
        Spark settings, over :data:`SPARK_DEFAULTS` (and :data:`LOCAL_DEFAULTS`
        for a new local session).
    """

    name: str = "duckdb"
    threads: int | None = None
    memory_limit: str | None = None
    master: str | None = None
    conf: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise EngineError(f"engine must be one of {', '.join(ENGINES)}; got {self.name!r}")


def open_engine(settings: EngineSettings | None = None) -> BaseBackend:
    """An Ibis backend on the engine ``settings`` name (DuckDB when omitted).

    Raises
    ------
    EngineError
        Spark asked for but PySpark is not installed, or no Java runtime.
    """
    settings = settings or EngineSettings()
    if settings.name == "duckdb":
        return connect(threads=settings.threads, memory_limit=settings.memory_limit)
    import ibis

    return ibis.pyspark.connect(spark_session(settings.master, settings.conf))


def spark_session(master: str | None = None, conf: Mapping[str, str] | None = None) -> Any:
    """The Spark session to run on: Spark Connect, the running one, or a new one.

    Parameters
    ----------
    master : str, optional
        For a new session; ``local[*]`` when omitted.
    conf : mapping of str to str, optional
        Set on the session (a new one is built with them), over :data:`SPARK_DEFAULTS`.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError(
            "engine 'spark' needs PySpark, which is not installed; install the extra "
            "with `pip install 'upseg[spark]'` (PySpark below 4.1, as Ibis 12 supports)"
        ) from None
    settings = {**SPARK_DEFAULTS, **(conf or {})}
    remote = os.environ.get("SPARK_REMOTE")
    if remote:
        session = SparkSession.builder.remote(remote).getOrCreate()
        for key, value in settings.items():
            if key.startswith("spark.sql."):  # a Connect client may set only SQL settings
                session.conf.set(key, value)
        return session
    active = SparkSession.getActiveSession()
    if active is not None:
        for key, value in settings.items():
            if key.startswith("spark.sql."):
                active.conf.set(key, value)
        return active
    if not _has_java():
        raise EngineError(
            "engine 'spark' needs a Java runtime (17 or 21) and none was found: set "
            "JAVA_HOME or put `java` on the PATH (Debian: apt-get install default-jre-headless)"
        )
    master = master or "local[*]"
    if master.startswith("local"):
        local = {**LOCAL_DEFAULTS, "spark.driver.memory": _local_driver_memory()}
        settings = {**SPARK_DEFAULTS, **local, **(conf or {})}
        if not os.environ.get("PYSPARK_PYTHON"):
            # Local Python workers run this interpreter, which has upseg, not whatever
            # `python3` is on the PATH; PySpark reads the variable when the context starts.
            os.environ["PYSPARK_PYTHON"] = sys.executable
    builder = SparkSession.builder.master(master).appName("upseg")
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _has_java() -> bool:
    import shutil

    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return True
    return shutil.which("java") is not None
