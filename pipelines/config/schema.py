"""The schema of ``conf/upseg.yaml``: one frozen pydantic model per section.

Field types carry the allowed values (ranges, choices, templates), so the
loader (:mod:`upseg.pipelines.config.loading`) can say what each key allows;
validators that concern one key of a section raise :class:`_KeyedError` so the
message names that key.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from upseg.features.labels import CHURN_HORIZON_DAYS, CLV_HORIZON_DAYS, PURCHASE_HORIZON_DAYS
from upseg.features.sets import CUSTOMER_V1, FEATURE_SETS
from upseg.models.dataset import DEFAULT_MAX_ROWS
from upseg.models.drift import PSI_FAIL
from upseg.models.evaluation import METRIC_DIRECTIONS
from upseg.models.uplift.learners import APPROACHES
from upseg.serving.policy.schema import (
    COST_PER_SEND,
    HOLDOUT_SHARE,
    MAX_SENDS_MIN,
    NumberRange,
)

__all__ = [
    "ChurnConfig",
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
]

#: Parts of a key name that mark a credential, which belongs in the environment.
_SECRET_WORDS = ("password", "passwd", "secret", "token", "api_key", "apikey", "credential")
_CREDENTIALS_HINT = (
    "credentials do not belong in the configuration file; set them in the environment "
    "(MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN)"
)
#: The date templates are formatted with at load time, to catch bad fields early.
_SAMPLE_AS_OF = pd.Timestamp("2026-06-01")
_AUDIENCE_SUFFIXES = (".parquet", ".csv")


class _KeyedError(ValueError):
    """A validator's complaint about ``key``, a field of the model it checks."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(message)


# ------------------------------------------------------------------------------ field types


def _resolve(value: Path, info: ValidationInfo) -> Path:
    """``value`` relative to the configuration file's folder (the working directory without one)."""
    base = (info.context or {}).get("base", Path.cwd())
    return (Path(base) / value.expanduser()).resolve()


_RelPath = Annotated[Path, AfterValidator(_resolve)]
# Integers are strict: YAML already types them, and `seed: true` or `trials: 2.5` is a slip.
_Int = Annotated[int, Strict()]
_Count = Annotated[int, Strict(), Field(ge=0)]
_Amount = Annotated[float, Field(ge=0)]
_Calibration = Literal["sigmoid", "isotonic"]
_FeatureSetKey = Literal[tuple(sorted(FEATURE_SETS))]  # type: ignore[valid-type]
_Metric = Literal[tuple(METRIC_DIRECTIONS)]  # type: ignore[valid-type]
_Approach = Literal[APPROACHES]  # type: ignore[valid-type]
# models.uplift.selection.CRITERIA, the default first (a test checks; the selection
# module loads LightGBM, which validating a file should not).
_Criterion = Literal["dr_loss", "r_loss", "qini"]
_Preference = Literal["cheapest", "simplest"]
# models.clv.training.GATE_METRICS and models.clv.lgbm.LOSSES (a test checks; naming them
# here keeps LightGBM out of loading a configuration).
_CLVMetric = Literal["gini", "spearman", "top_decile_capture", "decile_error", "mae", "rmse"]
_CLVLoss = Literal["ziln", "tweedie"]
# features.sets.CLUSTER_FEATURE_SETS and models.clusters.model.ALGORITHMS (a test checks).
_ClusterSet = Literal["behaviour_v1"]
_ClusterAlgorithm = Literal["auto", "kmeans", "minibatch"]


def _check_template(template: str, *, suffixes: tuple[str, ...] = ()) -> str:
    """Format ``template`` with a sample date so a bad field fails at load, not at scoring."""
    try:
        sample = template.format(as_of=_SAMPLE_AS_OF)
    except KeyError as exc:
        raise ValueError(
            f"unknown template field {{{exc.args[0]}}}; allowed: {{as_of}} with a date format "
            f"such as {{as_of:%Y-%m}}; got {template!r}"
        ) from None
    except (IndexError, ValueError, AttributeError, TypeError) as exc:
        raise ValueError(
            f"must be a template whose only field is {{as_of}} (e.g. {{as_of:%Y-%m}}) "
            f"- {exc}; got {template!r}"
        ) from None
    if not sample.strip():
        raise ValueError(f"must not be empty; got {template!r}")
    if suffixes and not sample.endswith(suffixes):
        raise ValueError(f"must end in {' or '.join(suffixes)}; got {template!r}")
    return template


# ------------------------------------------------------------------------------ sections


class _Section(BaseModel):
    # Defaults are validated too, so default paths resolve against the file's folder.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _within(allowed: NumberRange) -> Any:
    """An optional number in ``allowed`` (a range of the policy), null by default."""
    lo, hi = allowed.lo, allowed.hi if math.isfinite(allowed.hi) else None
    return Field(
        None,
        gt=lo if allowed.lo_open else None,
        ge=None if allowed.lo_open else lo,
        lt=hi if allowed.hi_open else None,
        le=None if allowed.hi_open else hi,
    )


def _section() -> Any:
    """An omitted section: all its defaults, validated like a written one."""
    return Field(default_factory=dict)


class DataConfig(_Section):
    """Where the data source lives and what happens to rows that break the contract."""

    path: _RelPath
    quarantine: _RelPath | None = None


class FeaturesConfig(_Section):
    """The named feature set every model is trained on."""

    set: _FeatureSetKey = CUSTOMER_V1.key  # type: ignore[valid-type]


class TrackingConfig(_Section):
    """The MLflow store and the working directory of the embedded one."""

    uri: str | None = Field(None, min_length=1)
    workdir: _RelPath = Path("../upseg-work")

    @field_validator("uri")
    @classmethod
    def _no_credentials(cls, uri: str | None) -> str | None:
        # The URI itself is never echoed: it holds the secret.
        if uri is not None and "@" in urlsplit(uri).netloc:
            raise ValueError(f"must not contain user:password@; {_CREDENTIALS_HINT}")
        return uri


class PredictiveModelConfig(_Section):
    """A LightGBM classifier retrained on monthly snapshots (churn or propensity)."""

    enabled: bool = True
    horizon_days: _Int = Field(ge=1)
    snapshots: _Count = 3
    trials: _Count = 10
    calibration: _Calibration = "sigmoid"


class ChurnConfig(PredictiveModelConfig):
    """Churn: no order within ``horizon_days`` of the cutoff."""

    horizon_days: _Int = Field(CHURN_HORIZON_DAYS, ge=1)


class PropensityConfig(PredictiveModelConfig):
    """Propensity: an order within ``horizon_days`` of the cutoff."""

    horizon_days: _Int = Field(PURCHASE_HORIZON_DAYS, ge=1)


class UpliftConfig(_Section):
    """The uplift model, learnt from one past randomised campaign."""

    enabled: bool = True
    campaign: str | None = Field(None, min_length=1)
    control: str = Field("control", min_length=1)
    outcome: Literal["conversion", "revenue"] = "conversion"
    trials: _Count = 0
    approaches: tuple[_Approach, ...] | None = Field(None, min_length=1)
    n_folds: _Int = Field(3, ge=2)
    criterion: _Criterion = "dr_loss"
    prefer: _Preference = "cheapest"

    @model_validator(mode="after")
    def _campaign_when_enabled(self) -> UpliftConfig:
        if self.enabled and self.campaign is None:
            raise _KeyedError(
                "campaign",
                "required when models.uplift.enabled is true; give the campaign id the "
                "uplift model learns from, or set enabled: false",
            )
        if self.outcome == "revenue" and "class_transformation" in (self.approaches or ()):
            raise _KeyedError(
                "approaches",
                "class_transformation cannot model a revenue outcome; choose among "
                + ", ".join(a for a in APPROACHES if a != "class_transformation"),
            )
        return self


class CLVConfig(_Section):
    """Lifetime value: each customer's discounted revenue over ``horizon_days``."""

    enabled: bool = True
    horizon_days: _Int = Field(CLV_HORIZON_DAYS, ge=1)
    discount_rate: _Amount = 0.1
    snapshots: _Count = 3
    losses: tuple[_CLVLoss, ...] = Field(("ziln", "tweedie"), min_length=0)
    # The CLV gate's own metric: promotion.metric is a classifier's.
    metric: _CLVMetric = "gini"


class ClustersConfig(_Section):
    """Behavioural clusters: k-means segments with stable labels and names."""

    enabled: bool = True
    k: Literal["auto"] | Annotated[int, Strict(), Field(ge=2)] = "auto"
    k_min: _Int = Field(3, ge=2)
    k_max: _Int = Field(10, ge=2)
    features: _ClusterSet = "behaviour_v1"
    exclude: tuple[str, ...] = ()
    algorithm: _ClusterAlgorithm = "auto"
    pca: Annotated[float, Field(gt=0)] | None = None
    names: _RelPath | None = None
    sample: _Int = Field(20_000, ge=100)
    eval_sample: _Int = Field(5_000, ge=50)
    resamples: _Int = Field(5, ge=1)
    # The clusters gate: silhouette and stability each at least the champion's minus this.
    tolerance: _Amount = 0.02

    @model_validator(mode="after")
    def _ranges(self) -> ClustersConfig:
        if self.k_min > self.k_max:
            raise _KeyedError("k_min", f"must not be above k_max ({self.k_max}); got {self.k_min}")
        if self.eval_sample > self.sample:
            raise _KeyedError(
                "eval_sample", f"must not be above sample ({self.sample}); got {self.eval_sample}"
            )
        if self.pca is not None and self.pca >= 1 and self.pca != int(self.pca):
            raise _KeyedError(
                "pca",
                "must be a number of components (an integer) or a share of variance between "
                f"0 and 1; got {self.pca}",
            )
        return self


class ModelsConfig(_Section):
    """The models the retraining job trains; at least one is enabled."""

    churn: ChurnConfig = _section()
    propensity: PropensityConfig = _section()
    uplift: UpliftConfig = _section()
    clv: CLVConfig = _section()
    clusters: ClustersConfig = _section()

    @model_validator(mode="after")
    def _one_enabled(self) -> ModelsConfig:
        sections = (self.churn, self.propensity, self.uplift, self.clv, self.clusters)
        if not any(section.enabled for section in sections):
            raise ValueError(
                "at least one of churn, propensity, uplift, clv, clusters must have enabled: "
                "true; got all five disabled"
            )
        return self


class PromotionConfig(_Section):
    """The champion gate a newly trained model must pass to be promoted."""

    metric: _Metric = "roc_auc"  # type: ignore[valid-type]
    margin: _Amount = 0.0
    force: bool = False


class ScoringConfig(_Section):
    """The audience the scoring job writes, and when it refuses to."""

    campaign: str = "newsletter-{as_of:%Y-%m}"
    out: str = "../audiences/audience-{as_of:%Y-%m-%d}.parquet"
    policy: _RelPath | None = None
    # Overrides of the policy's holdout.share, budget.max_sends and budget.cost_per_send,
    # in the policy's own ranges; null keeps the policy's value.
    holdout: float | None = _within(HOLDOUT_SHARE)
    budget: _Int | None = Field(None, ge=MAX_SENDS_MIN)
    cost_per_send: float | None = _within(COST_PER_SEND)
    value_per_conversion: _Amount | None = None
    psi_fail: _Amount = PSI_FAIL
    strict_drift: bool = False
    # Without an uplift @champion (upseg.serving.uplift_source.FALLBACKS, checked by a test).
    uplift_fallback: Literal["average", "none", "refuse"] = "average"

    @field_validator("campaign")
    @classmethod
    def _campaign_template(cls, template: str) -> str:
        return _check_template(template)

    @field_validator("out")
    @classmethod
    def _out_template(cls, template: str, info: ValidationInfo) -> str:
        _check_template(template, suffixes=_AUDIENCE_SUFFIXES)
        if Path(template).expanduser().is_absolute():
            return os.path.normpath(os.path.expanduser(template))
        base = Path((info.context or {}).get("base", Path.cwd())).resolve()
        # The folder is literal text in the template, so its braces are escaped.
        literal = str(base).replace("{", "{{").replace("}", "}}")
        return os.path.normpath(os.path.join(literal, template))


class EngineConfig(_Section):
    """Where ``upseg score`` and ``upseg retrain`` validate and build features (docs/scale.md)."""

    name: Literal["duckdb", "spark"] = "duckdb"
    spark_master: str | None = Field(None, min_length=1)
    spark_conf: dict[str, str] = Field(default_factory=dict)


class TrainingConfig(_Section):
    """How many rows the models trained on snapshots (churn, propensity, CLV) may use."""

    max_rows: _Int | None = Field(DEFAULT_MAX_ROWS, ge=10)


class ReportsConfig(_Section):
    """Where the retraining job writes its reports."""

    out: _RelPath = Path("../reports")


class UpsegConfig(_Section):
    """The whole configuration of ``upseg retrain`` and ``upseg score``.

    Build it with :func:`load_config`. Paths are absolute, resolved against the
    configuration file's folder.
    """

    version: Literal[1]
    data: DataConfig
    features: FeaturesConfig = _section()
    tracking: TrackingConfig = _section()
    seed: _Int = 0
    models: ModelsConfig = _section()
    training: TrainingConfig = _section()
    promotion: PromotionConfig = _section()
    scoring: ScoringConfig = _section()
    engine: EngineConfig = _section()
    reports: ReportsConfig = _section()

    _environ: Mapping[str, str] | None = PrivateAttr(default=None)
    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        """The file this configuration was loaded from (``None`` when built in code)."""
        return self._source

    def scoring_campaign(self, as_of: pd.Timestamp) -> str:
        """The campaign name of the scoring run as of ``as_of``, e.g. ``newsletter-2026-06``."""
        return self.scoring.campaign.format(as_of=as_of)

    def scoring_out(self, as_of: pd.Timestamp) -> Path:
        """The audience file of the scoring run as of ``as_of``."""
        return Path(self.scoring.out.format(as_of=as_of))

    def tracking_uri(self) -> str:
        """``MLFLOW_TRACKING_URI`` when set, else ``tracking.uri``, else SQLite in the workdir.

        The environment is the one given to :func:`load_config`, ``os.environ`` by default.
        """
        # MLflow loads only when a URI is asked for, not when a file is validated.
        from upseg.models.tracking import local_tracking_uri

        environ = os.environ if self._environ is None else self._environ
        return (
            environ.get("MLFLOW_TRACKING_URI")
            or self.tracking.uri
            or local_tracking_uri(self.tracking.workdir)
        )

    def digest(self) -> str:
        """SHA-256 of the validated configuration as sorted JSON, to tag the runs it drove.

        Defaults are filled in and paths resolved, so two files that say the same thing
        in a different order or with different spelling share a digest.
        """
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()
