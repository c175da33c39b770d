"""The configuration file: the shipped example, defaults, paths, and every error message."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pandas as pd
import pytest
import typer
import yaml
from pydantic import BaseModel

from upseg.features.labels import CHURN_HORIZON_DAYS, PURCHASE_HORIZON_DAYS
from upseg.pipelines.config import ConfigError, UpsegConfig, load_config
from upseg.pipelines.data_cli import Engine
from upseg.pipelines.settings import score_settings, train_settings, uplift_settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "conf" / "upseg.yaml"
AS_OF = pd.Timestamp("2026-06-20", tz="UTC")

#: The smallest file that loads.
MINIMAL = """\
version: 1
data: {path: data}
models: {uplift: {campaign: C1}}
"""


def write(tmp_path: Path, text: str, name: str = "upseg.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def schema_keys(model: type[BaseModel] = UpsegConfig, prefix: str = "") -> list[str]:
    """Every dotted key of the schema, sections included."""
    keys = []
    for name, field in model.model_fields.items():
        keys.append(prefix + name)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            keys.extend(schema_keys(field.annotation, f"{prefix}{name}."))
    return keys


def yaml_keys(node: dict, prefix: str = "") -> list[str]:
    keys = []
    for name, value in node.items():
        keys.append(prefix + name)
        if isinstance(value, dict):
            keys.extend(yaml_keys(value, f"{prefix}{name}."))
    return keys


# ------------------------------------------------------------------------------ the example


def test_shipped_example_loads_with_the_demo_values():
    cfg = load_config(EXAMPLE, environ={})
    demo = REPO / "demo-output"
    assert cfg.data.path == demo / "data"
    assert cfg.data.quarantine is None
    assert cfg.tracking.workdir == demo
    assert cfg.tracking_uri() == f"sqlite:///{demo / 'mlflow.db'}"
    assert cfg.features.set == "customer_v1"
    assert cfg.models.churn.horizon_days == CHURN_HORIZON_DAYS
    assert cfg.models.propensity.horizon_days == PURCHASE_HORIZON_DAYS
    assert cfg.models.churn.trials == cfg.models.propensity.trials == 10
    assert cfg.models.uplift.campaign == "C2026-06-SUMMER"
    assert cfg.models.uplift.approaches is None
    assert cfg.promotion.metric == "roc_auc"
    assert cfg.scoring_campaign(AS_OF) == "newsletter-2026-06"
    assert cfg.scoring_out(AS_OF) == demo / "audience-2026-06-20.parquet"
    assert cfg.scoring.holdout is None  # the policy's holdout.share
    assert cfg.reports.out == demo / "reports"


def test_shipped_example_writes_out_every_key():
    written = yaml_keys(yaml.safe_load(EXAMPLE.read_text()))
    assert sorted(written) == sorted(schema_keys())


def test_docs_name_every_key():
    text = (REPO / "docs" / "config.md").read_text()
    missing = [key for key in schema_keys() if f"`{key}`" not in text]
    assert not missing, f"undocumented keys: {missing}"
    assert "upseg retrain --config conf/upseg.yaml" in text
    assert "upseg score --config conf/upseg.yaml" in text


# ------------------------------------------------------------------------------ defaults, paths


def test_minimal_file_gets_the_documented_defaults(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL), environ={})
    assert cfg.version == 1 and cfg.seed == 0
    assert cfg.features.set == "customer_v1"
    assert cfg.tracking.uri is None
    assert cfg.tracking.workdir == tmp_path.parent / "upseg-work"
    churn, propensity, uplift = cfg.models.churn, cfg.models.propensity, cfg.models.uplift
    assert (churn.enabled, churn.horizon_days, churn.snapshots, churn.trials) == (True, 90, 3, 10)
    assert (propensity.horizon_days, propensity.calibration) == (30, "sigmoid")
    assert (uplift.enabled, uplift.control, uplift.outcome) == (True, "control", "conversion")
    assert (uplift.trials, uplift.approaches, uplift.n_folds) == (0, None, 3)
    assert uplift.criterion == "dr_loss"
    assert cfg.promotion.model_dump() == {
        "metric": "roc_auc",
        "margin": 0.0,
        "force": False,
    }
    assert cfg.scoring.model_dump(exclude={"out"}) == {
        "campaign": "newsletter-{as_of:%Y-%m}",
        "policy": None,
        "holdout": None,
        "budget": None,
        "cost_per_send": None,
        "value_per_conversion": None,
        "psi_fail": 0.25,
        "strict_drift": False,
        "uplift_fallback": "average",
    }
    assert cfg.scoring_out(AS_OF) == tmp_path.parent / "audiences/audience-2026-06-20.parquet"
    assert cfg.reports.out == tmp_path.parent / "reports"


def test_the_uplift_criteria_are_those_of_the_selection_with_the_jobs_default():
    from typing import get_args

    from upseg.models.uplift.selection import CRITERIA
    from upseg.pipelines.config.schema import UpliftConfig
    from upseg.pipelines.uplift_job import UpliftSettings

    field = UpliftConfig.model_fields["criterion"]
    assert sorted(get_args(field.annotation)) == sorted(CRITERIA)
    assert field.default == get_args(field.annotation)[0]  # named first in the error
    assert field.default == UpliftSettings.__dataclass_fields__["criterion"].default


def test_the_uplift_preferences_are_those_of_the_rule_with_the_jobs_default():
    from typing import get_args

    from upseg.models.uplift.criteria import PREFERENCES
    from upseg.models.uplift.selection import select_approach
    from upseg.pipelines.config.schema import UpliftConfig
    from upseg.pipelines.uplift_job import UpliftSettings

    field = UpliftConfig.model_fields["prefer"]
    assert get_args(field.annotation) == PREFERENCES
    default = inspect.signature(select_approach).parameters["prefer"].default
    assert field.default == UpliftSettings.__dataclass_fields__["prefer"].default == default


def test_the_clv_metrics_and_losses_are_those_of_the_models_with_the_jobs_defaults():
    from typing import get_args

    from upseg.models.clv.lgbm import LOSSES
    from upseg.models.clv.training import GATE_METRICS
    from upseg.pipelines.clv_cli import CLVMetric
    from upseg.pipelines.clv_job import CLVSettings
    from upseg.pipelines.config.schema import CLVConfig

    metric = CLVConfig.model_fields["metric"]
    assert sorted(get_args(metric.annotation)) == sorted(GATE_METRICS) == sorted(CLVMetric)
    assert metric.default == CLVSettings.__dataclass_fields__["metric"].default == "gini"
    loss = get_args(CLVConfig.model_fields["losses"].annotation)[0]
    assert sorted(get_args(loss)) == sorted(LOSSES)
    defaults = CLVSettings.__dataclass_fields__
    assert CLVConfig.model_fields["losses"].default == defaults["losses"].default
    for key in ("horizon_days", "discount_rate", "snapshots"):
        assert CLVConfig.model_fields[key].default == defaults[key].default, key


def test_the_clusters_choices_are_those_of_the_models_with_the_jobs_defaults():
    from typing import get_args

    from upseg.features.sets import CLUSTER_FEATURE_SETS
    from upseg.models.clusters.model import ALGORITHMS
    from upseg.pipelines.clusters_job import ClustersSettings
    from upseg.pipelines.config.schema import ClustersConfig

    fields = ClustersConfig.model_fields
    assert sorted(get_args(fields["features"].annotation)) == sorted(CLUSTER_FEATURE_SETS)
    assert sorted(get_args(fields["algorithm"].annotation)) == sorted(ALGORITHMS)
    defaults = ClustersSettings.__dataclass_fields__
    for key in ("k", "k_min", "k_max", "algorithm", "pca", "sample", "eval_sample", "resamples",
                "tolerance"):  # fmt: skip
        assert fields[key].default == defaults[key].default, key
    assert fields["features"].default == defaults["feature_set"].default


def test_a_bad_clusters_section_is_refused_naming_its_keys(tmp_path):
    path = write(
        tmp_path,
        "version: 1\ndata: {path: d}\nmodels:\n  uplift: {enabled: false}\n"
        "  clusters: {k: 1, algorithm: dbscan, features: rfm_v9}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    for key in ("models.clusters.k", "models.clusters.algorithm", "models.clusters.features"):
        assert key in message
    path = write(
        tmp_path,
        "version: 1\ndata: {path: d}\nmodels:\n  uplift: {enabled: false}\n"
        "  clusters: {k_min: 8, k_max: 4}\n",
    )
    with pytest.raises(ConfigError, match=r"models\.clusters\.k_min: must not be above k_max"):
        load_config(path)


def test_a_bad_clv_section_is_refused_naming_its_keys(tmp_path):
    path = write(
        tmp_path,
        "version: 1\ndata: {path: d}\nmodels:\n  uplift: {enabled: false}\n"
        "  clv: {metric: auc, losses: [mse], discount_rate: -1}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    for key in ("models.clv.metric", "models.clv.losses", "models.clv.discount_rate"):
        assert key in message


def test_uplift_may_be_disabled_instead_of_given_a_campaign(tmp_path):
    path = write(tmp_path, "version: 1\ndata: {path: d}\nmodels: {uplift: {enabled: false}}\n")
    cfg = load_config(path)
    assert not cfg.models.uplift.enabled and cfg.models.uplift.campaign is None


def test_relative_paths_resolve_against_the_files_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    conf = tmp_path / "deploy" / "conf"
    conf.mkdir(parents=True)
    text = MINIMAL + (
        "tracking: {workdir: work}\n"
        "scoring: {policy: ../policy.yaml, out: 'out/{as_of:%Y}/a.csv'}\n"
        "reports: {out: /srv/reports}\n"
    )
    write(conf, text)
    cfg = load_config(Path("deploy/conf/upseg.yaml"))
    assert cfg.data.path == conf / "data"
    assert cfg.tracking.workdir == conf / "work"
    assert cfg.scoring.policy == tmp_path / "deploy" / "policy.yaml"
    assert cfg.scoring_out(AS_OF) == conf / "out" / "2026" / "a.csv"
    assert cfg.reports.out == Path("/srv/reports")


def test_braces_in_the_folder_are_not_template_fields(tmp_path):
    folder = tmp_path / "team{x}"
    folder.mkdir()
    cfg = load_config(write(folder, MINIMAL))
    assert cfg.scoring_out(AS_OF) == tmp_path / "audiences" / "audience-2026-06-20.parquet"


# ------------------------------------------------------------------------------ tracking, digest


def test_environment_tracking_uri_overrides_the_file(tmp_path):
    path = write(tmp_path, MINIMAL + "tracking: {uri: 'http://file:5000'}\n")
    env = {"MLFLOW_TRACKING_URI": "http://env:5000"}
    assert load_config(path, environ=env).tracking_uri() == "http://env:5000"
    assert load_config(path, environ={}).tracking_uri() == "http://file:5000"


def test_tracking_uri_defaults_to_sqlite_in_the_workdir(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL), environ={"MLFLOW_TRACKING_URI": ""})
    assert cfg.tracking_uri() == f"sqlite:///{tmp_path.parent / 'upseg-work' / 'mlflow.db'}"


def test_digest_ignores_key_order_and_tracks_values(tmp_path):
    one = write(tmp_path, MINIMAL + "seed: 3\nscoring: {holdout: 0.2, budget: 5}\n", "a.yaml")
    two = write(
        tmp_path,
        "scoring: {budget: 5, holdout: 0.2}\nseed: 3\n"
        "models: {uplift: {campaign: C1}}\ndata: {path: data}\nversion: 1\n",
        "b.yaml",
    )
    three = write(tmp_path, MINIMAL + "seed: 4\nscoring: {holdout: 0.2, budget: 5}\n", "c.yaml")
    digest = load_config(one).digest()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert load_config(two).digest() == digest
    assert load_config(three).digest() != digest


def test_config_is_frozen(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL))
    with pytest.raises(ValueError, match="frozen"):
        cfg.models.churn.trials = 3


# ------------------------------------------------------------------------------ errors

BAD = [
    pytest.param(
        "models: {uplift: {campaign: C}}\ntrails: 3\n",
        r"trails: unknown key; allowed: version, data, features, tracking, seed, models, "
        r"training, promotion, scoring, engine, reports$",
        id="unknown-top-level-key",
    ),
    pytest.param(
        "models: {churn: {trails: 3}, uplift: {campaign: C}}\n",
        r"models\.churn\.trails: unknown key \(did you mean trials\?\); "
        r"allowed: enabled, horizon_days, snapshots, trials, calibration$",
        id="unknown-nested-key",
    ),
    pytest.param(
        "models: {churn: {trials: ten}, uplift: {campaign: C}}\n",
        r"models\.churn\.trials: must be an integer >= 0; got 'ten'$",
        id="wrong-type",
    ),
    pytest.param(
        "seed: true\nmodels: {uplift: {campaign: C}}\n",
        r"seed: must be an integer; got true$",
        id="bool-is-not-an-integer",
    ),
    pytest.param(
        "models: {uplift: {campaign: C}}\nreports: ../reports\n",
        r"reports: must be a mapping with keys out; got '\.\./reports'$",
        id="section-not-a-mapping",
    ),
    pytest.param(
        "models: {uplift: {campaign: C}}\nscoring: {holdout: 1.0}\n",
        r"scoring\.holdout: must be a number >= 0\.0 and < 1\.0 or null; got 1\.0$",
        id="holdout-out-of-range",
    ),
    pytest.param(
        "models: {uplift: {campaign: C}}\nscoring: {budget: 0}\n",
        r"scoring\.budget: must be an integer >= 1 or null; got 0$",
        id="budget-below-one",
    ),
    pytest.param(
        "models: {uplift: {campaign: C}}\nscoring: {uplift_fallback: guess}\n",
        r"scoring\.uplift_fallback: must be one of average, none, refuse; got 'guess'$",
        id="bad-uplift-fallback",
    ),
    pytest.param(
        "models: {propensity: {calibration: platt}, uplift: {campaign: C}}\n",
        r"models\.propensity\.calibration: must be one of sigmoid, isotonic; got 'platt'$",
        id="bad-calibration",
    ),
    pytest.param(
        "models: {propensity: {horizon_days: 0}, uplift: {campaign: C}}\n",
        r"models\.propensity\.horizon_days: must be an integer >= 1; got 0$",
        id="zero-horizon",
    ),
    pytest.param(
        "features: {set: customer_v9}\nmodels: {uplift: {campaign: C}}\n",
        r"features\.set: must be one of customer_v1; got 'customer_v9'$",
        id="unknown-feature-set",
    ),
    pytest.param(
        "promotion: {metric: accuracy}\nmodels: {uplift: {campaign: C}}\n",
        r"promotion\.metric: must be one of roc_auc, pr_auc, log_loss, brier, .*; "
        r"got 'accuracy'$",
        id="unknown-promotion-metric",
    ),
    pytest.param(
        "models: {uplift: {campaign: C, approaches: [t_learner, magic]}}\n",
        r"models\.uplift\.approaches\[1\]: must be one of s_learner, .*, dr_learner; "
        r"got 'magic'$",
        id="bad-approach",
    ),
    pytest.param(
        "models: {uplift: {campaign: C, criterion: auuc}}\n",
        r"models\.uplift\.criterion: must be one of dr_loss, r_loss, qini; got 'auuc'$",
        id="bad-uplift-criterion",
    ),
    pytest.param(
        "models: {uplift: {campaign: C, outcome: revenue, approaches: [class_transformation]}}\n",
        r"models\.uplift\.approaches: class_transformation cannot model a revenue outcome",
        id="approach-unfit-for-outcome",
    ),
    pytest.param(
        "models: {uplift: {outcome: revenue}}\n",
        r"models\.uplift\.campaign: required when models\.uplift\.enabled is true",
        id="uplift-without-campaign",
    ),
    pytest.param(
        "models:\n  churn: {enabled: false}\n  propensity: {enabled: false}\n"
        "  uplift: {enabled: false}\n  clv: {enabled: false}\n  clusters: {enabled: false}\n",
        r"models: at least one of churn, propensity, uplift, clv, clusters must have enabled: "
        r"true",
        id="no-model-enabled",
    ),
    pytest.param(
        "models: {uplift: {campaign: C}}\ntracking: {password: hunter2}\n",
        r"tracking\.password: credentials do not belong in the configuration file; "
        r"set them in the environment \(MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD",
        id="password-key",
    ),
    pytest.param(
        "models: {uplift: {campaign: C}}\nmlflow_api_key: hunter2\n",
        r"mlflow_api_key: credentials do not belong in the configuration file",
        id="api-key-at-top-level",
    ),
    pytest.param(
        "models: {uplift: {campaign: C}}\n"
        "tracking: {uri: 'https://bob:hunter2@mlflow.example.com'}\n",
        r"tracking\.uri: must not contain user:password@; credentials do not belong",
        id="credentials-in-tracking-uri",
    ),
    pytest.param(
        "models: {uplift: {campaign: C}}\nscoring: {campaign: 'news-{month}'}\n",
        r"scoring\.campaign: unknown template field \{month\}; allowed: \{as_of\}",
        id="bad-template-field",
    ),
    pytest.param(
        "models: {uplift: {campaign: C}}\nscoring: {out: 'a-{as_of:%Y'}\n",
        r"scoring\.out: must be a template whose only field is \{as_of\}",
        id="unclosed-template",
    ),
    pytest.param(
        "models: {uplift: {campaign: C}}\nscoring: {out: 'a-{as_of:%Y}.xlsx'}\n",
        r"scoring\.out: must end in \.parquet or \.csv; got 'a-\{as_of:%Y\}\.xlsx'$",
        id="out-not-parquet-or-csv",
    ),
]


@pytest.mark.parametrize(("snippet", "message"), BAD)
def test_bad_value_is_named_with_what_is_allowed(tmp_path, snippet, message):
    path = write(tmp_path, "version: 1\ndata: {path: d}\n" + snippet)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: ") + message) as caught:
        load_config(path)
    assert len(caught.value.problems) == 1, caught.value.problems
    assert "hunter2" not in str(caught.value)
    assert "pydantic" not in str(caught.value)


FILE_LEVEL = [
    pytest.param("version: 2\ndata: {path: d}\n", r"version: must be 1\b.*; got 2$", id="v2"),
    pytest.param("data: {path: d}\n", r"version: required", id="no-version"),
    pytest.param("version: '1'\n", r"version: must be 1\b.*; got '1'$", id="version-string"),
    pytest.param(
        "version: 1\ndata:\n  path: d\n  quarantine: [q\nseed: 1\n",
        r"not valid YAML at line 5, column 5: ",
        id="yaml-syntax",
    ),
    pytest.param(
        "version: 1\nseed: 1\nseed: 2\n",
        r"not valid YAML at line 3, column 1: duplicate key 'seed'",
        id="duplicate-key",
    ),
    pytest.param("", r"the top level must be a mapping of keys; got an empty file", id="empty"),
    pytest.param("- version: 1\n", r"the top level must be a mapping.*; got a list", id="list"),
]


@pytest.mark.parametrize(("text", "message"), FILE_LEVEL)
def test_unreadable_file_is_refused_before_the_schema(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: ") + message):
        load_config(path)


def test_missing_file_is_named(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=re.escape(f"{path}: no such configuration file")):
        load_config(path)


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(
        tmp_path,
        "version: 1\n"
        "data: {path: d, secret: x}\n"
        "models: {churn: {trials: ten}, uplift: {campaign: C}}\n"
        "scoring: {holdout: 2}\n"
        "colour: blue\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: 4 problems:\n  1. data.secret: credentials")
    assert "\n  2. models.churn.trials: must be an integer >= 0; got 'ten'" in message
    assert "\n  3. scoring.holdout: must be a number >= 0.0 and < 1.0 or null; got 2" in message
    assert "\n  4. colour: unknown key; allowed: version, data," in message
    assert len(caught.value.problems) == 4
    assert "https://errors.pydantic.dev" not in message


# ------------------------------------------------------------------------------ job settings


SETTINGS = """\
version: 1
data: {path: data, quarantine: bad}
features: {set: customer_v1}
tracking: {workdir: work}
seed: 7
models:
  churn: {horizon_days: 60, snapshots: 2, trials: 4, calibration: isotonic}
  uplift: {campaign: C1, outcome: revenue, approaches: [t_learner], n_folds: 4, trials: 2,
           criterion: qini}
promotion: {metric: pr_auc, margin: 0.01, force: true}
scoring: {campaign: "c-{as_of:%Y}", psi_fail: 0.3, strict_drift: true, value_per_conversion: 5,
          uplift_fallback: refuse}
"""


def test_train_settings_carry_every_key_of_the_model_and_the_feature_set(tmp_path):
    cfg = load_config(write(tmp_path, SETTINGS), environ={})
    s = train_settings(cfg, "churn", AS_OF, experiment="upseg-retrain", training_key="k")
    assert (s.task, s.as_of, s.data_dir, s.quarantine_dir) == (
        "churn",
        AS_OF,
        tmp_path / "data",
        tmp_path / "bad",
    )
    assert (s.horizon_days, s.snapshots, s.trials, s.calibration) == (60, 2, 4, "isotonic")
    assert (s.seed, s.metric, s.margin, s.promote) == (7, "pr_auc", 0.01, True)
    assert (s.feature_set, s.experiment, s.training_key) == ("customer_v1", "upseg-retrain", "k")
    assert s.tracking_uri == cfg.tracking_uri() and s.workdir == tmp_path / "work"
    with pytest.raises(ValueError, match="name must be one of churn, propensity"):
        train_settings(cfg, "uplift", AS_OF)


def test_uplift_settings_carry_the_campaign_and_the_feature_set(tmp_path):
    cfg = load_config(write(tmp_path, SETTINGS), environ={})
    s = uplift_settings(cfg, training_key="k")
    assert (s.data_dir, s.campaign, s.control, s.outcome) == (
        tmp_path / "data",
        "C1",
        "control",
        "revenue",
    )
    assert (s.approaches, s.n_folds, s.trials, s.seed) == (("t_learner",), 4, 2, 7)
    assert s.criterion == "qini"
    assert (s.margin, s.promote, s.feature_set, s.training_key) == (0.01, True, "customer_v1", "k")
    assert s.quarantine_dir == tmp_path / "bad"


def test_score_settings_take_the_file_and_let_given_options_win(tmp_path):
    cfg = load_config(write(tmp_path, SETTINGS), environ={})
    s = score_settings(cfg, AS_OF)
    assert (s.data_dir, s.campaign, s.out) == (
        tmp_path / "data",
        "c-2026",
        cfg.scoring_out(AS_OF),
    )
    assert (s.psi_fail, s.strict_drift, s.value_per_conversion) == (0.3, True, 5)
    assert s.quarantine_dir == tmp_path / "bad"
    assert s.uplift_fallback == "refuse"
    given = score_settings(
        cfg,
        AS_OF,
        campaign="X",
        psi_fail=0.5,
        budget=None,
        strict_drift=False,
        reasons="all",
        uplift_fallback="none",
    )
    assert (given.campaign, given.psi_fail, given.reasons) == ("X", 0.5, "all")
    assert given.uplift_fallback == "none"  # the option wins over the file
    assert given.strict_drift  # the option only turns the strict check on


def test_score_settings_name_where_each_override_of_the_policy_came_from(tmp_path):
    text = MINIMAL + "scoring: {holdout: 0.2, budget: 500}\n"
    cfg = load_config(write(tmp_path, text), environ={})
    s = score_settings(cfg, AS_OF)
    assert (s.holdout, s.budget, s.cost_per_send) == (0.2, 500, None)
    assert s.given_by == {
        "holdout": "scoring.holdout in upseg.yaml",
        "max_sends": "scoring.budget in upseg.yaml",
    }
    given = score_settings(cfg, AS_OF, holdout=0.3, given_by={"holdout": "--holdout"})
    assert (given.holdout, given.given_by["holdout"]) == (0.3, "--holdout")
    assert score_settings(load_config(write(tmp_path, MINIMAL)), AS_OF).given_by == {}


def test_the_uplift_fallbacks_of_the_configuration_are_the_scorers():
    from typing import get_args

    from upseg.pipelines.config.schema import ScoringConfig
    from upseg.serving.uplift_source import FALLBACKS

    allowed = get_args(ScoringConfig.model_fields["uplift_fallback"].annotation)
    assert allowed == FALLBACKS


def test_the_engine_section_reaches_the_scoring_settings_and_the_options_override_it(tmp_path):
    from upseg.pipelines.data_cli import configured_engine as _engine

    path = tmp_path / "upseg.yaml"
    path.write_text(
        "version: 1\ndata: {path: data}\nmodels: {uplift: {campaign: C}}\n"
        "engine: {name: spark, spark_master: 'local[2]', "
        "spark_conf: {spark.sql.shuffle.partitions: '4'}}\n"
    )
    configured = score_settings(load_config(path), pd.Timestamp("2026-01-01", tz="UTC")).engine
    assert (configured.name, configured.master) == ("spark", "local[2]")
    assert configured.conf == {"spark.sql.shuffle.partitions": "4"}
    merged = _engine(configured, None, None, ["spark.executor.memory=2g"])
    assert merged.name == "spark" and merged.master == "local[2]"
    assert merged.conf == {"spark.sql.shuffle.partitions": "4", "spark.executor.memory": "2g"}
    assert _engine(configured, Engine.duckdb, None, None).name == "duckdb"
    with pytest.raises(typer.BadParameter, match="apply to --engine spark"):
        _engine(configured, Engine.duckdb, "local[4]", None)
    path.write_text("version: 1\ndata: {path: data}\nengine: {name: flink}\n")
    with pytest.raises(ConfigError, match="engine.name"):
        load_config(path)


def test_the_training_bound_and_the_engine_reach_the_snapshot_models_and_their_key(tmp_path):
    from upseg.models.dataset import DEFAULT_MAX_ROWS
    from upseg.pipelines.settings import clv_settings, key_settings

    base = "version: 1\ndata: {path: data}\nmodels: {uplift: {campaign: C}}\n"
    path = tmp_path / "upseg.yaml"
    path.write_text(base)
    default = load_config(path)
    assert train_settings(default, "churn", AS_OF).max_rows == DEFAULT_MAX_ROWS
    path.write_text(base + "training: {max_rows: 5000}\nengine: {name: spark}\n")
    cfg = load_config(path)
    churn, clv = train_settings(cfg, "propensity", AS_OF), clv_settings(cfg, AS_OF)
    assert churn.max_rows == clv.max_rows == 5000
    assert churn.engine is not None and churn.engine.name == "spark"
    assert clv.engine is not None and clv.engine.name == "spark"
    # the bound makes a different model, so a different training key; the engine does not
    assert key_settings(cfg, "churn")["max_rows"] == 5000
    assert key_settings(default, "churn")["max_rows"] == DEFAULT_MAX_ROWS
    assert "engine" not in key_settings(cfg, "churn")
    assert "max_rows" not in key_settings(cfg, "uplift")
    path.write_text(base + "training: {max_rows: null}\n")
    assert train_settings(load_config(path), "churn", AS_OF).max_rows is None
    path.write_text(base + "training: {max_rows: 3}\n")
    with pytest.raises(ConfigError, match="training.max_rows"):
        load_config(path)
