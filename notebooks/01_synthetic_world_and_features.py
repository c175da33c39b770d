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
# # 1. A synthetic customer world and its point-in-time features
#
# This notebook walks through the first two stages of upseg on the built-in synthetic world:
#
# 1. **generate** customers, orders, e-mail and web events, and one randomized 3-arm campaign
#    whose true effect on every customer is known;
# 2. **validate** the files against the data contract;
# 3. **build features** for every customer *as of* a date, from events strictly before it;
# 4. look at a few features by **lifecycle stage** and **RFM segment**;
# 5. put the **ground truth** (who the campaign persuades, and by how much) beside what we can
#    observe.
#
# Everything is written to a work folder: `UPSEG_NOTEBOOK_OUT` (default `notebook-output/`
# under the current directory). `UPSEG_NOTEBOOK_CUSTOMERS` sets the size of the world
# (default 20,000; the test suite runs it on a few thousand).

# %%
# %matplotlib inline
import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from upseg.features.build import build_features
from upseg.features.pit import customer_spine
from upseg.features.sets import CUSTOMER_V1
from upseg.features.sources import connect
from upseg.pipelines.jobs import check_source, load_source
from upseg.synthetic import (
    CAMPAIGN_ASSIGNED_AT,
    CAMPAIGN_ID,
    DEFAULT_END,
    generate_world,
    write_world,
)

WORK = Path(os.environ.get("UPSEG_NOTEBOOK_OUT", "notebook-output")).resolve() / "world"
CUSTOMERS = int(os.environ.get("UPSEG_NOTEBOOK_CUSTOMERS", "20000"))
SEED = 0
DATA = WORK / "data"

pd.set_option("display.max_columns", 40)
pd.set_option("display.max_rows", 100)
pd.set_option("display.width", 160)
print(f"work folder: {WORK}\ncustomers:   {CUSTOMERS:,}")

# %% [markdown]
# ## 1. Generate the world
#
# `generate_world` simulates each customer from hidden traits (how often they buy, how much,
# how engaged they are with e-mail, when they drop out). The same seed always gives the same
# world. `write_world` writes one Parquet file per table of the data contract, plus
# `truth.parquet`, which holds the hidden traits and the campaign's true effects. **No model
# reads `truth.parquet`**: it is there to check what the models recover.

# %%
world = generate_world(CUSTOMERS, seed=SEED)
paths = write_world(world, DATA)
pd.DataFrame(
    {
        "rows": {name: len(frame) for name, frame in world.tables.items()}
        | {"truth": len(world.truth)},
        "file": {name: path.name for name, path in paths.items()},
    }
)

# %% [markdown]
# Each table is plain data, one row per event. The e-mail and web tables are the largest:
# dozens of events per customer.

# %%
for name in ("customers", "orders", "email_events"):
    print(name)
    display(world.tables[name].head(3))

# %% [markdown]
# ## 2. Validate against the data contract
#
# `load_source` reads every file, checks types, allowed values, minimums, unique keys,
# timestamps in the future and orders of unknown customers, and **refuses** a source with bad
# rows (or quarantines them when given a folder). Every table reconciles:
# rows read = accepted + quarantined. The world ends on 2026-07-01, so we tell the validator
# that nothing may be dated after that.

# %%
con = connect()
end_of_world = pd.Timestamp(DEFAULT_END, tz="UTC")
source = load_source(DATA, con=con, not_after=end_of_world, not_after_label="the end of the world")
pd.DataFrame(
    [
        {
            "table": s.table,
            "rows read": s.rows_read,
            "accepted": s.rows_accepted,
            "quarantined": s.rows_quarantined,
            "reconciles": s.reconciles,
        }
        for s in source.result.summaries.values()
    ]
)

# %% [markdown]
# What a problem looks like: a source of customers and orders, with one order of an unknown
# customer and one negative amount. `check_source` validates without refusing, so we can
# list the problems. Each names the table, the column, the rule and how many rows break it.

# %%
broken = WORK / "broken"
broken.mkdir(exist_ok=True)
world.tables["customers"].to_parquet(broken / "customers.parquet", index=False)
orders = world.tables["orders"].copy()
orders.loc[0, "amount"] = -5.0
orders.loc[1, "customer_id"] = "C-UNKNOWN"
orders.to_parquet(broken / "orders.parquet", index=False)
for problem in check_source(broken, con=connect(), not_after=end_of_world).problems:
    print(problem)

# %% [markdown]
# ## 3. Point-in-time features
#
# A *spine* says who is described as of when. `customer_spine(customers, as_of)` holds every
# customer who signed up before the cutoff. `build_features` computes the feature set
# `customer_v1` on that spine from events **strictly before** the cutoff. The result is a lazy
# Ibis expression that DuckDB runs when we ask for the rows.
#
# We take the cutoff at midnight before the campaign's send (the assignments are on
# 2026-06-01 between 10:00 and 12:00 UTC). So these are exactly the features a model could
# have used to choose whom to e-mail.

# %%
AS_OF = pd.Timestamp(CAMPAIGN_ASSIGNED_AT, tz="UTC")
tables = source.result.tables
spine = customer_spine(tables["customers"], AS_OF)
expression = build_features(tables, spine, feature_set=CUSTOMER_V1)
features = expression.to_pandas().sort_values("customer_id", ignore_index=True)
FEATURES_PATH = WORK / f"features_{AS_OF:%Y-%m-%d}.parquet"
features.to_parquet(FEATURES_PATH, index=False)
print(
    f"feature set {CUSTOMER_V1.key}: {len(CUSTOMER_V1.columns(set(tables)))} features; "
    f"{len(features):,} customers as of {AS_OF:%Y-%m-%d}; written to {FEATURES_PATH}"
)
features.head(3).transpose()

# %% [markdown]
# How to read the columns (full definitions in `docs/features.md`):
#
# - counts and sums (`frequency_90d`, `emails_opened_30d`, …) are 0 for a customer with no
#   events;
# - recencies, averages and rates (`recency_days`, `open_rate_90d`, …) are **missing** when
#   there is nothing to measure: a customer who was never e-mailed has no open rate, not a 0%
#   one;
# - `rfm_r`, `rfm_f`, `rfm_m` are quintile scores (5 = best) among customers who have bought;
#   `rfm_segment` names the cell of the usual RFM grid (`Prospects` = never bought);
# - `lifecycle_stage` is rule-based: churned, retention (2+ orders), conversion (1 order),
#   consideration (interest but no order), discovery.

# %%
summary = (
    features[["recency_days", "frequency_365d", "monetary_365d", "open_rate_90d", "sessions_90d"]]
    .describe(percentiles=[0.25, 0.5, 0.75])
    .T
)
summary.assign(missing=features[summary.index].isna().sum()).round(2)

# %% [markdown]
# ## 4. Features by lifecycle stage and RFM segment
#
# First, how many customers are in each group.

# %%
STAGES = ["discovery", "consideration", "conversion", "retention", "churned"]
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
features["lifecycle_stage"].value_counts().reindex(STAGES).plot.bar(ax=left, color="tab:blue")
left.set(title="Customers by lifecycle stage", xlabel="", ylabel="customers")
features["rfm_segment"].value_counts().sort_values().plot.barh(ax=right, color="tab:green")
right.set(title="Customers by RFM segment", xlabel="customers", ylabel="")
plt.show()

# %% [markdown]
# The stages should differ in the way their rules say. Churned customers have long recencies
# and no recent visits. Retention customers buy more often and visit the site more. Discovery
# and consideration customers have no orders, so they have no recency at all. Each box spans
# the middle half of customers in the stage, and the line inside it is the median. Customers
# with a missing value (for example, no order yet, hence no recency) are left out of that
# panel.

# %%
panels = {
    "recency_days": "days since the last order",
    "frequency_365d": "orders in the last 365 days",
    "open_rate_90d": "open rate, last 90 days",
    "sessions_90d": "web sessions, last 90 days",
}
fig, axes = plt.subplots(1, len(panels), figsize=(16, 4), layout="constrained")
for ax, (column, label) in zip(axes, panels.items(), strict=True):
    groups = [features.loc[features["lifecycle_stage"] == s, column].dropna() for s in STAGES]
    ax.boxplot(groups, showfliers=False)
    ax.set_xticks(range(1, len(STAGES) + 1), STAGES, rotation=30)
    ax.set_title(label)
plt.show()

# %% [markdown]
# The RFM grid from the other side: mean recency, frequency and spend per segment. Champions
# bought recently, often and a lot. "Can't Lose Them" bought often and a lot, but long ago.

# %%
by_segment = (
    features.groupby("rfm_segment", observed=True)
    .agg(
        customers=("customer_id", "size"),
        recency_days=("recency_days", "mean"),
        frequency_lifetime=("frequency_lifetime", "mean"),
        monetary_lifetime=("monetary_lifetime", "mean"),
        open_rate_365d=("open_rate_365d", "mean"),
    )
    .sort_values("monetary_lifetime", ascending=False)
)
by_segment.round(2)

# %% [markdown]
# ## 5. Ground truth against observable features
#
# The world's campaign `C2026-06-SUMMER` randomized e-mailable customers to `control`,
# `discount_10` and `new_arrivals`. `truth.parquet` records, for each of them:
#
# - `uplift_segment`: **persuadable** (the e-mail raises their chance to buy), **sure thing**
#   (buys anyway), **lost cause** (won't buy either way), **sleeping dog** (the e-mail puts
#   them off);
# - `tau_conversion_<variant>`: the true change in the probability of buying within 14 days,
#   and `tau_revenue_<variant>` in expected revenue.
#
# An uplift model sees only the features. The question here is how visible these hidden
# segments are in what we can observe.

# %%
truth = pd.read_parquet(DATA / "truth.parquet")
campaign = features.merge(
    truth.dropna(subset=["baseline_conversion"]), on="customer_id", how="inner"
)
print(
    f"{len(campaign):,} of {len(features):,} customers were in {CAMPAIGN_ID} "
    "(the others had opted out, unsubscribed or signed up later)"
)
campaign["uplift_segment"].value_counts(normalize=True).round(3).to_frame("share")

# %% [markdown]
# Share of each lifecycle stage (rows) in each true uplift segment (columns). Each row adds up
# to 1. Churned customers are mostly lost causes. Retention customers hold most of the sure
# things and sleeping dogs. Persuadables are the majority in every other stage. So the stage
# shifts the odds, but it cannot pick out whom to e-mail.

# %%
stage_by_segment = pd.crosstab(
    campaign["lifecycle_stage"], campaign["uplift_segment"], normalize="index"
)
stage_by_segment.reindex(STAGES).round(2)

# %% [markdown]
# The true effect of each variant by RFM segment. This is the average of `tau_conversion`:
# percentage points of extra buyers per customer e-mailed. Segments differ several-fold, but
# an average hides the customers inside a segment whom the e-mail puts off (the sleeping dogs
# below). That is why targeting needs an uplift score per customer, not per segment.

# %%
tau = ["tau_conversion_discount_10", "tau_conversion_new_arrivals"]
(
    campaign.groupby("rfm_segment", observed=True)[tau]
    .mean()
    .mul(100)
    .sort_values(tau[0], ascending=False)
    .round(2)
    .rename(columns=lambda c: c.removeprefix("tau_conversion_") + " (pp)")
)

# %% [markdown]
# Hidden traits against their observable traces. On the left, the true purchase rate against
# orders in the last year. On the right, the true chance of opening an e-mail against the
# observed 365-day open rate. The traces follow the traits, with noise. On the far right,
# the true effect of `discount_10` within each true segment. Persuadables gain, sleeping dogs
# lose, and sure things and lost causes sit at zero.

# %%
fig, axes = plt.subplots(1, 3, figsize=(16, 4.5), layout="constrained")
sample = campaign.sample(min(len(campaign), 3000), random_state=0)
axes[0].scatter(sample["purchase_rate"], sample["frequency_365d"], s=4, alpha=0.4)
axes[0].set(xlabel="true purchase rate (orders/year)", ylabel="frequency_365d")
axes[1].scatter(sample["open_probability"], sample["open_rate_365d"], s=4, alpha=0.4)
axes[1].set(xlabel="true open probability", ylabel="open_rate_365d")
segments = ["persuadable", "sure_thing", "lost_cause", "sleeping_dog"]
axes[2].boxplot(
    [campaign.loc[campaign["uplift_segment"] == s, tau[0]].mul(100) for s in segments],
    showfliers=False,
)
axes[2].set_xticks(range(1, 5), segments, rotation=20)
axes[2].axhline(0, color="0.5", linewidth=0.8)
axes[2].set(ylabel="true effect of discount_10 (pp)")
plt.show()

# %% [markdown]
# **Takeaways.** The features describe behaviour *before* the cutoff, and the truth describes
# what the campaign *did*. The uplift segments leave traces in recency, frequency and
# engagement, but no single feature or rule-based segment separates them. An uplift model
# combines the features to rank customers by their effect. `upseg train uplift --data DIR
# --campaign C2026-06-SUMMER` trains one and scores it against this truth. The next notebook
# trains the churn model on the same kind of world.
