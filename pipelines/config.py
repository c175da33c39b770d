"""One validated YAML configuration for the monthly retraining job and the scoring job.

The file (``conf/upseg.yaml``, documented in ``docs/config.md``) holds paths,
horizons, hyperparameters and the scoring policy; credentials never live in it
and come from the environment (``MLFLOW_TRACKING_USERNAME`` …). Everything is
checked when the file is loaded, and every problem is reported at once, each
naming its dotted key, what is allowed and what was given.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import annotated_types
import pandas as pd
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from upseg.features.labels import CHURN_HORIZON_DAYS, PURCHASE_HORIZON_DAYS
from upseg.features.sets import FEATURE_SETS
from upseg.models.evaluation import METRIC_DIRECTIONS
from upseg.models.uplift.learners import APPROACHES
from upseg.errors import UpsegError

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
    "UpliftConfig",
    "UpsegConfig",
    "load_config",
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


class ConfigError(UpsegError, ValueError):
    """The configuration file is missing, is not YAML, or breaks the schema.

    Attributes
    ----------
    path : Path
        The file, as given.
    problems : tuple of str
        One line per problem, each starting with the dotted key it concerns.
    """

    def __init__(self, path: Path, problems: list[str]):
        self.path = Path(path)
        self.problems = tuple(problems)
        if len(problems) == 1:
            message = f"{path}: {problems[0]}"
        else:
            lines = "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, 1))
            message = f"{path}: {len(problems)} problems:\n{lines}"
        super().__init__(message)


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


def _section():
    """An omitted section: all its defaults, validated like a written one."""
    return Field(default_factory=dict)


class DataConfig(_Section):
    """Where the data source lives and what happens to rows that break the contract."""

    path: _RelPath
    quarantine: _RelPath | None = None


class FeaturesConfig(_Section):
    """The named feature set every model is trained on."""

    set: _FeatureSetKey = "customer_v1"


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


class ModelsConfig(_Section):
    """The three models the retraining job trains; at least one is enabled."""

    churn: ChurnConfig = _section()
    propensity: PropensityConfig = _section()
    uplift: UpliftConfig = _section()

    @model_validator(mode="after")
    def _one_enabled(self) -> ModelsConfig:
        if not (self.churn.enabled or self.propensity.enabled or self.uplift.enabled):
            raise ValueError(
                "at least one of churn, propensity, uplift must have enabled: true; "
                "got all three disabled"
            )
        return self


class PromotionConfig(_Section):
    """The champion gate a newly trained model must pass to be promoted."""

    metric: _Metric = "roc_auc"
    margin: _Amount = 0.0
    force: bool = False


class ScoringConfig(_Section):
    """The audience the scoring job writes, and when it refuses to."""

    campaign: str = "newsletter-{as_of:%Y-%m}"
    out: str = "../audiences/audience-{as_of:%Y-%m-%d}.parquet"
    policy: _RelPath | None = None
    holdout: float = Field(0.1, ge=0, le=0.9)
    budget: _Count | None = None
    cost_per_send: _Amount | None = None
    value_per_conversion: _Amount | None = None
    psi_fail: _Amount = 0.25
    strict_drift: bool = False

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
    promotion: PromotionConfig = _section()
    scoring: ScoringConfig = _section()
    reports: ReportsConfig = _section()

    _environ: Mapping[str, str] | None = PrivateAttr(default=None)

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


# ------------------------------------------------------------------------------ loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects a key given twice in one mapping, where YAML keeps the last."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, ["no such configuration file"]) from None
    except IsADirectoryError:
        raise ConfigError(path, ["is a folder, not a configuration file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [f"cannot be read ({exc})"]) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, [f"not valid YAML{where}: {problem}"]) from None


def _dotted(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "(top level)"


def _shown(value: Any) -> str:
    """``value`` as the YAML reader wrote it; containers by kind, never by content."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list" if value else "an empty list"
    return repr(value)


def _secret_keys(node: Any, loc: tuple = ()) -> list[tuple]:
    """The locations of keys anywhere in ``node`` whose names mark a credential."""
    found = []
    if isinstance(node, Mapping):
        for key, value in node.items():
            name = str(key).lower().replace("-", "_")
            if any(word in name for word in _SECRET_WORDS):
                found.append((*loc, key))
            else:
                found.extend(_secret_keys(value, (*loc, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_secret_keys(value, (*loc, i)))
    return found


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The section model whose keys live at ``loc``, if ``loc`` names one."""
    model: type[BaseModel] | None = UpsegConfig
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        inner = [a for a in _members(model.model_fields[part].annotation) if _is_model(a)]
        model = inner[0] if inner else None
    return model


def _field_at(loc: tuple) -> FieldInfo | None:
    """The field of the key at ``loc`` (list indices skipped), if there is one."""
    keys = tuple(p for p in loc if not isinstance(p, int))
    parent = _model_at(keys[:-1]) if keys else None
    return parent.model_fields.get(keys[-1]) if parent else None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _members(annotation: Any) -> tuple:
    """The alternatives of ``X | None`` (or just ``X``)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _expected(annotation: Any, metadata: list, *, item: bool = False) -> str:
    """What a key of this type accepts, in words: ``an integer >= 0``, ``one of a, b``."""
    members = [a for a in _members(annotation) if a is not type(None)]
    nullable = len(members) < len(_members(annotation))
    tp = members[0]
    if typing.get_origin(tp) is Annotated:
        tp, *extra = typing.get_args(tp)
        for m in extra:
            metadata = [*metadata, *(m.metadata if isinstance(m, FieldInfo) else [m])]
    if item and typing.get_origin(tp) is tuple:
        return _expected(typing.get_args(tp)[0], [])
    bounds = []
    for m in metadata:
        for kind, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(m, kind, None)
            if value is not None:
                bounds.append(f"{symbol} {value}")
    if typing.get_origin(tp) is Literal:
        words = "one of " + ", ".join(str(a) for a in typing.get_args(tp))
    elif typing.get_origin(tp) is tuple:
        choices = typing.get_args(typing.get_args(tp)[0])
        words = "a non-empty list drawn from " + ", ".join(choices)
    elif _is_model(tp):
        words = "a mapping with keys " + ", ".join(tp.model_fields)
    else:
        words = {
            bool: "true or false",
            int: "an integer",
            float: "a number",
            str: "a string",
            Path: "a path",
        }.get(tp, getattr(tp, "__name__", str(tp)))
        if tp is str and any(isinstance(m, annotated_types.MinLen) for m in metadata):
            words = "a non-empty string"
    words = " ".join([words, " and ".join(bounds)]).strip()
    if not nullable:
        return words
    return f"{words}, or null" if "," in words else f"{words} or null"


def _problem(error: dict) -> tuple[tuple, str]:
    """One pydantic error as (location, "must be …; got …")."""
    loc, kind = tuple(error["loc"]), error["type"]
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        allowed = list(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return loc, f"unknown key{hint}; allowed: {', '.join(allowed)}"
    error_obj = (error.get("ctx") or {}).get("error")
    if isinstance(error_obj, _KeyedError):
        return (*loc, error_obj.key), str(error_obj)
    if isinstance(error_obj, ValueError):
        return loc, str(error_obj)
    field = _field_at(loc)
    if field is None:
        return loc, error["msg"]
    item = bool(loc) and isinstance(loc[-1], int)
    expected = _expected(field.annotation, field.metadata, item=item)
    if kind == "missing":
        return loc, f"required; must be {expected}"
    return loc, f"must be {expected}; got {_shown(error['input'])}"


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> UpsegConfig:
    """Read and validate the configuration file at ``path``.

    Parameters
    ----------
    path : Path
        The YAML file, e.g. ``conf/upseg.yaml``. Relative paths inside it are
        resolved against its folder.
    environ : mapping of str to str, optional
        Where :meth:`UpsegConfig.tracking_uri` looks up ``MLFLOW_TRACKING_URI``;
        ``os.environ`` by default.

    Returns
    -------
    UpsegConfig
        Frozen, with every default filled in and every path absolute.

    Raises
    ------
    ConfigError
        Listing every problem at once: a missing file, invalid YAML (with its
        line), a wrong ``version``, unknown keys (with the allowed ones), wrong
        types or values (with what is allowed and what was given), and
        credentials written into the file.
    """
    path = Path(path)
    raw = _read_yaml(path)
    if not isinstance(raw, Mapping):
        got = "an empty file" if raw is None else _shown(raw)
        raise ConfigError(path, [f"the top level must be a mapping of keys; got {got}"])
    version = raw.get("version")
    if "version" not in raw:
        raise ConfigError(path, ["version: required; start the file with `version: 1`"])
    if type(version) is not int or version != 1:
        raise ConfigError(
            path, [f"version: must be 1, the only version this upseg reads; got {_shown(version)}"]
        )

    secrets = _secret_keys(raw)
    problems = {loc: _CREDENTIALS_HINT for loc in secrets}
    try:
        config = UpsegConfig.model_validate(raw, context={"base": path.parent.resolve()})
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc, message = _problem(error)
            if not any(loc[: len(s)] == s for s in secrets):
                problems.setdefault(loc, message)
    if problems:
        raise ConfigError(path, [f"{_dotted(loc)}: {message}" for loc, message in problems.items()])
    config._environ = environ
    return config
