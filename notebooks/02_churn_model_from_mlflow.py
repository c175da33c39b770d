# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. The churn model: train, register, load back from MLflow, explain
#
# `upseg train churn` trains a calibrated LightGBM model of churn: an active customer (an order
# in the past 365 days) who orders nothing in the next 90 days. It scores the model on held-out
# customers of a later month, next to a recency-only baseline, logs everything to MLflow and
# registers a version of the model `churn`. This notebook runs that job on a small synthetic
# world. It then works only from what MLflow holds, as the batch scorer does:
#
# 1. train and register (`pipelines.train_job.run_training`);
# 2. load the model back **from the registry** (`models:/churn/<version>`);
# 3. read the logged metrics against the recency baseline;
# 4. check the calibration on the held-out customers;
# 5. explain the model globally (SHAP importance) and per customer (top drivers).
#
# `UPSEG_NOTEBOOK_OUT` sets the work folder (default `notebook-output/`); the MLflow store is
# a SQLite file inside it. `UPSEG_NOTEBOOK_CUSTOMERS` sets the size of the world (default
# 20,000).

# %%
# %matplotlib inline
import logging
import os
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import pandas as pd
from IPython.display import display
from mlflow.tracking import MlflowClient

from upseg.features.sets import CUSTOMER_V1
from upseg.models import plots
from upseg.models.baseline import RecencyBaseline
from upseg.models.evaluation import classification_metrics, reliability_table, shap_importance
from upseg.models.explain import top_drivers
from upseg.models.registry import champion_version
from upseg.models.tracking import local_tracking_uri, set_tracking, ui_command
from upseg.pipelines.train_job import TrainSettings, run_training
from upseg.synthetic import generate_world, write_world

WORK = Path(os.environ.get("UPSEG_NOTEBOOK_OUT", "notebook-output")).resolve() / "churn"
CUSTOMERS = int(os.environ.get("UPSEG_NOTEBOOK_CUSTOMERS", "20000"))
AS_OF = pd.Timestamp("2026-04-01", tz="UTC")
# The store is named explicitly, so a team server in MLFLOW_TRACKING_URI is never written to.
TRACKING_URI = local_tracking_uri(WORK)

logging.getLogger("mlflow").setLevel(logging.ERROR)  # database migrations are noise here
logging.getLogger("alembic").setLevel(logging.WARNING)
pd.set_option("display.width", 160)
print(f"work folder:    {WORK}\ntracking store: {TRACKING_URI}\ncustomers:      {CUSTOMERS:,}")

# %% [markdown]
# ## 1. Train and register
#
# A small world, then the training job with the options of `upseg train churn --as-of
# 2026-04-01 --trials 0`. `trials=0` uses fixed, sound LightGBM parameters instead of an
# Optuna search. The job builds three monthly training snapshots (2025-11-01 … 2026-01-01,
# whose 90-day label windows close before 2026-04-01) and holds out the customers as of
# 2026-04-01. It splits them by a hash of the customer id into `valid` (early stopping and
# calibration) and `test` (the reported metrics and the champion gate).

# %%
DATA = WORK / "data"
write_world(generate_world(CUSTOMERS, seed=0), DATA)
settings = TrainSettings(
    task="churn",
    data_dir=DATA,
    as_of=AS_OF,
    tracking_uri=TRACKING_URI,
    workdir=WORK,
    trials=0,
)
trained = run_training(settings, on_stage=print)
print(f"\nregistered churn version {trained.version}: {trained.decision.reason}")
trained.data.counts()

# %% [markdown]
# The table shows the rows and churners per role and cutoff. Every split needs at least 30 of
# each class, or the job refuses to train.
#
# ## 2. Load the model back from the registry
#
# The scorer never uses an object in memory. It asks the registry for `churn@champion` (or a
# version it is told to use) and checks the feature set tagged on the run. We do the same. The
# first version that beats the recency baseline becomes champion. If this one did not, we load
# the version just trained.

# %%
client = MlflowClient(tracking_uri=TRACKING_URI, registry_uri=TRACKING_URI)
set_tracking(TRACKING_URI)  # `models:/` URIs resolve through the registry named here
champion = champion_version(client, "churn")
version = champion if champion is not None else client.get_model_version("churn", trained.version)
model_uri = f"models:/churn/{version.version}"
model = mlflow.sklearn.load_model(model_uri)
run = client.get_run(version.run_id)
print(f"loaded {model_uri} ({'champion' if champion is not None else 'not champion'})")
tags = run.data.tags
assert tags["feature_set"] == CUSTOMER_V1.key, tags["feature_set"]  # what the scorer builds
print(
    f"run {run.info.run_id}: feature set {tags['feature_set']}, "
    f"{len(model.feature_names_in_)} inputs, data fingerprint {tags['data_fingerprint'][:12]}…"
)

pd.DataFrame(
    [
        {
            "version": v.version,
            # search results leave aliases out; the version itself has them
            "aliases": ", ".join(client.get_model_version("churn", v.version).aliases),
            "gate": v.tags.get("gate"),
            "reason": v.tags.get("gate_reason"),
        }
        for v in client.search_model_versions("name='churn'")
    ]
)

# %% [markdown]
# ## 3. Metrics against the recency baseline
#
# The run logged each metric on the `test` customers for the model (`test_*`) and for the
# baseline (`baseline_*`). The baseline is days since the last order, mapped to a probability.
# How to read them:
#
# - **ROC-AUC**: the chance that a random churner is scored above a random non-churner
#   (0.5 = random);
# - **PR-AUC**: precision averaged over recall. Compare it with the churn rate, which is what
#   random scores get;
# - **log loss, Brier**: the error of the probabilities themselves; lower is better;
# - **lift\@10%**: the churn rate among the 10% scored highest, divided by the overall rate.
#   **capture\@10%**: the share of all churners found in that 10%.

# %%
names = ["roc_auc", "pr_auc", "log_loss", "brier", "lift_10", "capture_10", "lift_20"]
logged = run.data.metrics
comparison = pd.DataFrame(
    {
        "model": [logged[f"test_{m}"] for m in names],
        "recency baseline": [logged[f"baseline_{m}"] for m in names],
    },
    index=names,
)
comparison["model better"] = [
    model_value < base if m in ("log_loss", "brier") else model_value > base
    for m, model_value, base in zip(
        names, comparison["model"], comparison["recency baseline"], strict=True
    )
]
print(f"test customers: {logged['test_n']:.0f}, churn rate {logged['test_positive_rate']:.1%}")
comparison.round(4)

# %% [markdown]
# The model from the registry must give the same numbers as the run logged. We re-score the
# held-out `test` customers with it. (`trained.data` holds the feature rows the job built;
# `models.dataset.training_data` rebuilds them from the data source.)

# %%
test = trained.data.part("test")
valid = trained.data.part("valid")
y_test = test["label"].to_numpy()
p_model = model.predict_proba(test)[:, 1]
rescored = classification_metrics(y_test, p_model)
assert abs(rescored["roc_auc"] - logged["test_roc_auc"]) < 1e-9, (rescored, logged)
print(f"ROC-AUC of the loaded model on the test customers: {rescored['roc_auc']:.4f} (as logged)")

# %% [markdown]
# ## 4. Calibration
#
# Later stages multiply churn probabilities by money, so a predicted 30% must mean that about
# 30% churn. The reliability diagram bins customers by predicted probability and plots the
# observed churn rate of each bin. A calibrated model lies on the diagonal. The histogram
# below it shows how spread out the predictions are. A model that scores everyone near the
# average rate is calibrated, but it is useless for ranking. The baseline is refitted on the
# `valid` customers exactly as the run fitted it.

# %%
baseline = RecencyBaseline(increasing=True).fit(valid, valid["label"])
p_baseline = baseline.predict_proba(test)[:, 1]
display(
    plots.calibration_figure(
        y_test, {"LightGBM (from MLflow)": p_model, "recency baseline": p_baseline}
    )
)
reliability_table(y_test, p_model, n_bins=5).round(3)

# %% [markdown]
# ## 5. What drives the score
#
# **Globally.** TreeSHAP splits each customer's score (in log-odds) into one contribution per
# feature. The mean absolute contribution ranks the features by how much they move scores
# overall. It does not say in which direction.

# %%
features = list(model.feature_names_in_)
contributions = model.contributions(test).drop(columns="bias")
importance = shap_importance(contributions.to_numpy(), features)
top = importance.head(15).iloc[::-1]
fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
ax.barh(top["feature"], top["mean_abs_shap"], color="tab:blue")
ax.set(xlabel="mean |SHAP| (log-odds)", title="Global importance, churn model (test customers)")
plt.show()

# %% [markdown]
# The beeswarm adds the direction. Each dot is a customer, and its colour is the feature's
# value (red = high). Dots right of zero push towards churn. On the default world,
# `days_since_last_visit` leads: a long absence from the site (red) pushes towards churn, and a
# recent visit (blue) pushes away from it. A high `rfm_score` (a recent, frequent, big spender)
# pushes away from churn.

# %%
sample = test.sample(min(len(test), 2000), random_state=0).index
display(
    plots.shap_summary_figure(
        contributions.loc[sample].to_numpy(), test.loc[sample, features], max_display=12
    )
)

# %% [markdown]
# **Per customer.** `top_drivers` turns one customer's contributions into the reasons the
# scorer writes beside each score. These are the three features that moved this customer's
# score most. ↑ pushed it towards churn and ↓ away from it. Below are the five customers most
# and least likely to churn.

# %%
reasons = pd.DataFrame(
    {
        "customer_id": test["customer_id"].to_numpy(),
        "churn_probability": p_model,
        "recency_days": test["recency_days"].to_numpy(),
        "frequency_365d": test["frequency_365d"].to_numpy(),
        "top_drivers": top_drivers(contributions.to_numpy(), features, k=3),
    }
).sort_values("churn_probability", ascending=False)
with pd.option_context("display.max_colwidth", 90):
    display(pd.concat([reasons.head(5), reasons.tail(5)]).round(3))

# %% [markdown]
# ## 6. Everything else is in MLflow
#
# The run also holds ROC, precision-recall, calibration, gains and SHAP plots, the tables
# behind them, the exact feature list and the data fingerprint. Open the UI with the command
# below. Runs are under the experiment `upseg-churn`, and versions under *Models → churn*.

# %%
print("artifacts:", ", ".join(a.path for a in client.list_artifacts(run.info.run_id)))
print(ui_command(TRACKING_URI))
