"""The one adapter from the configuration file to the settings of each job.

``upseg retrain``, ``upseg score --config`` and ``upseg demo`` all read
``conf/upseg.yaml``; this module is the only place that says which key of it
becomes which setting of :class:`~upseg.pipelines.train_job.TrainSettings`,
:class:`~upseg.pipelines.uplift_job.UpliftSettings` and
:class:`~upseg.pipelines.score_job.ScoreSettings`. The jobs load lazily, so
scoring does not import the trainers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from upseg.features.engines import EngineSettings
from upseg.pipelines.config import UpsegConfig

if TYPE_CHECKING:
    from upseg.pipelines.clusters_job import ClustersSettings
    from upseg.pipelines.clv_job import CLVSettings
    from upseg.pipelines.score_job import ScoreSettings
    from upseg.pipelines.train_job import TrainSettings
    from upseg.pipelines.uplift_job import UpliftSettings

__all__ = [
    "PREDICTIVE_MODELS",
    "clusters_settings",
    "clv_settings",
    "key_settings",
    "score_settings",
    "train_settings",
    "uplift_settings",
]

#: The models of ``models:`` trained by :func:`train_settings` (uplift has its own).
PREDICTIVE_MODELS = ("churn", "propensity")


def _path(value: Path | str | None) -> Path | None:
    return None if value is None else Path(value)


def engine_settings(config: UpsegConfig) -> EngineSettings:
    """The engine the configuration's ``engine:`` section describes (DuckDB by default)."""
    engine = config.engine
    return EngineSettings(engine.name, master=engine.spark_master, conf=engine.spark_conf)


def key_settings(config: UpsegConfig, name: str) -> dict[str, Any]:
    """What of the configuration makes model ``name`` what it is, for its training key.

    The model's section without ``enabled``, the seed, the bound on training
    rows, the promotion gate and the feature set. Not the engine: DuckDB and
    Spark build the same rows.
    """
    settings = getattr(config.models, name).model_dump(mode="json")
    settings.pop("enabled", None)
    settings["seed"] = config.seed
    if name in ("churn", "propensity", "clv"):  # the models trained on sampled snapshots
        settings["max_rows"] = config.training.max_rows
    settings["promotion"] = config.promotion.model_dump(mode="json")
    settings["feature_set"] = config.features.set
    return settings


def train_settings(
    config: UpsegConfig,
    name: str,
    as_of: pd.Timestamp,
    *,
    experiment: str | None = None,
    training_key: str | None = None,
) -> TrainSettings:
    """The settings of ``upseg train <name>`` that the configuration describes.

    Parameters
    ----------
    config : UpsegConfig
    name : {"churn", "propensity"}
        The model, a key of :data:`PREDICTIVE_MODELS`.
    as_of : pandas.Timestamp
        The holdout cutoff.
    experiment : str, optional
        MLflow experiment; ``upseg-<name>`` when omitted.
    training_key : str, optional
        Tagged on the registered version.
    """
    from upseg.pipelines.train_job import TrainSettings

    if name not in PREDICTIVE_MODELS:
        raise ValueError(
            f"name must be one of {', '.join(PREDICTIVE_MODELS)} (uplift: uplift_settings); "
            f"got {name!r}"
        )
    model = getattr(config.models, name)
    return TrainSettings(
        task=name,
        data_dir=Path(config.data.path),
        as_of=as_of,
        tracking_uri=config.tracking_uri(),
        workdir=Path(config.tracking.workdir),
        horizon_days=model.horizon_days,
        snapshots=model.snapshots,
        trials=model.trials,
        seed=config.seed,
        experiment=experiment,
        metric=config.promotion.metric,
        margin=config.promotion.margin,
        promote=config.promotion.force,
        calibration=model.calibration,
        quarantine_dir=_path(config.data.quarantine),
        feature_set=config.features.set,
        training_key=training_key,
        max_rows=config.training.max_rows,
        engine=engine_settings(config),
    )


def uplift_settings(
    config: UpsegConfig, *, experiment: str | None = None, training_key: str | None = None
) -> UpliftSettings:
    """The settings of ``upseg train uplift --data --campaign`` that the configuration describes."""
    from upseg.pipelines.uplift_job import UpliftSettings

    model = config.models.uplift
    return UpliftSettings(
        tracking_uri=config.tracking_uri(),
        workdir=Path(config.tracking.workdir),
        data_dir=Path(config.data.path),
        campaign=model.campaign,
        control=model.control,
        outcome=model.outcome,
        approaches=tuple(model.approaches) if model.approaches else None,
        n_folds=model.n_folds,
        criterion=model.criterion,
        prefer=model.prefer,
        seed=config.seed,
        trials=model.trials,
        experiment=experiment,
        margin=config.promotion.margin,
        promote=config.promotion.force,
        quarantine_dir=_path(config.data.quarantine),
        feature_set=config.features.set,
        training_key=training_key,
    )


def clv_settings(
    config: UpsegConfig,
    as_of: pd.Timestamp,
    *,
    experiment: str | None = None,
    training_key: str | None = None,
) -> CLVSettings:
    """The settings of ``upseg train clv`` that the configuration describes.

    The gate's metric is ``models.clv.metric``; margin and force are the promotion's.
    """
    from upseg.pipelines.clv_job import CLVSettings

    model = config.models.clv
    return CLVSettings(
        data_dir=Path(config.data.path),
        as_of=as_of,
        tracking_uri=config.tracking_uri(),
        workdir=Path(config.tracking.workdir),
        horizon_days=model.horizon_days,
        discount_rate=model.discount_rate,
        snapshots=model.snapshots,
        seed=config.seed,
        experiment=experiment,
        metric=model.metric,
        margin=config.promotion.margin,
        promote=config.promotion.force,
        losses=tuple(model.losses),
        quarantine_dir=_path(config.data.quarantine),
        feature_set=config.features.set,
        training_key=training_key,
        max_rows=config.training.max_rows,
        engine=engine_settings(config),
    )


def clusters_settings(
    config: UpsegConfig,
    as_of: pd.Timestamp,
    *,
    experiment: str | None = None,
    training_key: str | None = None,
) -> ClustersSettings:
    """The settings of ``upseg train clusters`` that the configuration describes.

    The gate is the clusters' own (``models.clusters.tolerance``); force is the promotion's.
    """
    from upseg.pipelines.clusters_job import ClustersSettings

    model = config.models.clusters
    pca = model.pca
    return ClustersSettings(
        data_dir=Path(config.data.path),
        as_of=as_of,
        tracking_uri=config.tracking_uri(),
        workdir=Path(config.tracking.workdir),
        k=model.k,
        k_min=model.k_min,
        k_max=model.k_max,
        feature_set=model.features,
        exclude=tuple(model.exclude),
        algorithm=model.algorithm,
        pca=int(pca) if pca is not None and pca >= 1 else pca,
        names_file=_path(model.names),
        seed=config.seed,
        sample=model.sample,
        eval_sample=model.eval_sample,
        resamples=model.resamples,
        tolerance=model.tolerance,
        promote=config.promotion.force,
        experiment=experiment,
        quarantine_dir=_path(config.data.quarantine),
        training_key=training_key,
    )


def score_settings(config: UpsegConfig, as_of: pd.Timestamp, **overrides: Any) -> ScoreSettings:
    """The settings of ``upseg score`` that the configuration describes, with overrides.

    Parameters
    ----------
    config : UpsegConfig
    as_of : pandas.Timestamp
        The scoring date; it fills the campaign and audience templates.
    **overrides
        Fields of :class:`~upseg.pipelines.score_job.ScoreSettings` given on the
        command line (``data_dir``, ``campaign``, ``out``, ``holdout``, ...).
        Those that are not ``None`` win over the file; ``strict_drift`` can
        only turn the strict check on. ``given_by`` names the options that
        override the policy (``{"holdout": "--holdout"}``); the file's overrides
        are named by their key, e.g. ``scoring.budget in upseg.yaml``.
    """
    from upseg.pipelines.score_job import ScoreSettings

    scoring = config.scoring
    settings: dict[str, Any] = {
        "data_dir": Path(config.data.path),
        "as_of": as_of,
        "campaign": config.scoring_campaign(as_of),
        "out": config.scoring_out(as_of),
        "tracking_uri": config.tracking_uri(),
        "workdir": Path(config.tracking.workdir),
        "policy_path": _path(scoring.policy),
        "holdout": scoring.holdout,
        "budget": scoring.budget,
        "cost_per_send": scoring.cost_per_send,
        "value_per_conversion": scoring.value_per_conversion,
        "psi_fail": scoring.psi_fail,
        "strict_drift": scoring.strict_drift,
        "uplift_fallback": scoring.uplift_fallback,
        "quarantine_dir": _path(config.data.quarantine),
        "engine": engine_settings(config),
    }
    # Where each override of the policy came from, by the policy's key, for its errors.
    where = f" in {config.source.name}" if config.source is not None else ""
    given_by = {
        key: f"scoring.{name}{where}"
        for key, name in (
            ("holdout", "holdout"),
            ("max_sends", "budget"),
            ("cost_per_send", "cost_per_send"),
        )
        if getattr(scoring, name) is not None
    }
    given_by.update(overrides.pop("given_by", None) or {})
    settings.update({k: v for k, v in overrides.items() if v is not None})
    settings["strict_drift"] = scoring.strict_drift or bool(overrides.get("strict_drift"))
    settings["given_by"] = given_by
    return ScoreSettings(**settings)
