"""One validated YAML configuration for the monthly retraining job and the scoring job.

The file (``conf/upseg.yaml``, documented in ``docs/config.md``) holds paths,
horizons, hyperparameters and the scoring policy; credentials never live in it
and come from the environment (``MLFLOW_TRACKING_USERNAME`` …). Everything is
checked when the file is loaded, and every problem is reported at once, each
naming its dotted key, what is allowed and what was given.

:mod:`.schema` holds the sections, :mod:`.loading` reads the file and
:mod:`._messages` turns pydantic's errors into those lines.
"""

from upseg.pipelines.config.loading import ConfigError, load_config
from upseg.pipelines.config.schema import (
    ChurnConfig,
    DataConfig,
    FeaturesConfig,
    ModelsConfig,
    PredictiveModelConfig,
    PromotionConfig,
    PropensityConfig,
    ReportsConfig,
    ScoringConfig,
    TrackingConfig,
    TrainingConfig,
    UpliftConfig,
    UpsegConfig,
)

__all__ = [
    "ChurnConfig",
    "ConfigError",
    "DataConfig",
    "FeaturesConfig",
    "ModelsConfig",
    "PredictiveModelConfig",
    "PromotionConfig",
    "PropensityConfig",
    "ReportsConfig",
    "ScoringConfig",
    "TrackingConfig",
    "TrainingConfig",
    "UpliftConfig",
    "UpsegConfig",
    "load_config",
]
