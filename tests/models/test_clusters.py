"""Behavioural clusters (``models.clusters``): recovery, stable labels, names, bad input.

The recovery checks plant groups of customers with known behaviour and ask
whether k-means finds them: k chosen by ``--k auto`` must be the planted k and
the partition must match the planted one (adjusted Rand index >= 0.9). The
worlds differ in the number of groups, their sizes and how far apart they are,
so that no single configuration passes by luck.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score

from upseg.features.sets import BEHAVIOUR_V1, CUSTOMER_V1
from upseg.models.clusters import (
    BehaviourTransformer,
    ClusteringError,
    ClusterModel,
    choose_k,
    cluster_names,
    fit_clusters,
    match_clusters,
    migration_matrix,
    profile_table,
    read_names,
)
from upseg.models.clusters.preprocessing import column_kind, filled

COLUMNS = (
    "frequency_365d",
    "monetary_365d",
    "open_rate_365d",
    "sessions_365d",
    "discount_order_share",
    "days_since_last_visit",
    "tenure_days",
)


def planted(
    n: int, k: int, *, seed: int, spread: float = 1.0, shares: np.ndarray | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers of ``k`` groups, each with its own typical behaviour; and the group of each.

    Each group has a centre in a six-dimensional latent space, drawn at random
    but at least :data:`SEPARATION` from every other (groups that are planted
    apart, not two halves of one); a customer is their group's centre plus
    Gaussian noise of standard deviation ``0.3 * spread``, mapped to counts,
    amounts, shares and days the way real ones are skewed. ``tenure_days`` is
    noise the groups do not differ in.
    """
    rng = np.random.default_rng(seed)
    centres: list[np.ndarray] = []
    while len(centres) < k:
        c = rng.uniform(-2, 2, 6)
        if all(np.linalg.norm(c - other) >= SEPARATION for other in centres):
            centres.append(c)
    group = rng.choice(k, size=n, p=shares if shares is not None else np.full(k, 1 / k))
    x = np.asarray(centres)[group] + rng.normal(0, 0.3 * spread, (n, 6))
    frequency = np.exp(1.0 + 0.8 * x[:, 0])
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in range(n)],
            "frequency_365d": np.round(frequency, 1),
            "monetary_365d": np.round(frequency * np.exp(4.0 + 0.5 * x[:, 1]), 2),
            "open_rate_365d": 1 / (1 + np.exp(-x[:, 2])),
            "sessions_365d": np.round(np.exp(1.5 + 0.8 * x[:, 3]), 1),
            "discount_order_share": 1 / (1 + np.exp(-x[:, 4])),
            "days_since_last_visit": np.exp(3.5 + 0.8 * x[:, 5]),
            "tenure_days": rng.uniform(400, 1500, n),
        }
    )
    return frame, group


#: Smallest distance between two planted centres, in the latent space (noise sd 0.3).
SEPARATION = 2.5


# ------------------------------------------------------------------ recovery


@pytest.mark.parametrize(
    ("k", "seed", "shares"),
    [
        (3, 0, None),
        (4, 1, None),
        (5, 2, np.array([0.4, 0.25, 0.15, 0.12, 0.08])),
        (6, 3, None),
    ],
)
def test_auto_k_finds_the_planted_groups(k, seed, shares):
    frame, group = planted(6_000, k, seed=seed, shares=shares)
    fit = fit_clusters(frame, COLUMNS, resamples=3, seed=seed)  # the default range, 3..10
    assert fit.model.n_clusters == k, fit.diagnostics
    labels = fit.model.predict(frame)
    assert adjusted_rand_score(group, labels) >= 0.9
    assert f"k={k} has the highest silhouette" in fit.reason


def test_diagnostics_agree_with_scikit_learn_and_the_choice_follows_the_rule():
    frame, _ = planted(3_000, 4, seed=5)
    fit = fit_clusters(frame, COLUMNS, k_range=(2, 6), resamples=2, eval_rows=3_000, fit_rows=3_000)
    table = fit.diagnostics
    assert list(table["k"]) == [2, 3, 4, 5, 6]
    assert table["silhouette"].between(-1, 1).all()
    assert table["stability_ari"].between(-1, 1).all()
    # The chosen k's silhouette, recomputed with scikit-learn on the same space.
    ordered = frame.sort_values("customer_id").reset_index(drop=True)
    model = ClusterModel(COLUMNS, 4).fit(ordered)
    space = model.space(ordered)
    expected = silhouette_score(space, model.predict_internal(ordered))
    assert table.loc[table["k"] == 4, "silhouette"].item() == pytest.approx(expected, abs=1e-9)
    # choose_k: best silhouette among the stable ks, else the most stable.
    rows = pd.DataFrame(
        {
            "k": [3, 4, 5],
            "silhouette": [0.5, 0.6, 0.7],
            "stability_ari": [0.9, 0.8, 0.5],
        }
    )
    assert choose_k(rows)[0] == 4
    assert choose_k(rows.assign(stability_ari=[0.3, 0.6, 0.5]))[0] == 4
    assert "no k reached" in choose_k(rows.assign(stability_ari=[0.3, 0.6, 0.5]))[1]


def test_no_structure_is_reported_as_unstable():
    rng = np.random.default_rng(0)
    n = 1_500
    frame = pd.DataFrame(
        {"customer_id": [f"C{i}" for i in range(n)], **{c: rng.normal(50, 5, n) for c in COLUMNS}}
    )
    fit = fit_clusters(frame, COLUMNS, k_range=(3, 4), resamples=2)
    # One Gaussian blob: refits on resamples cut it differently, so no k is clearly stable,
    # and its silhouette stays far below that of planted groups.
    assert fit.diagnostics["silhouette"].max() < 0.2


def test_the_synthetic_personas_line_up_with_the_clusters():
    from upseg.synthetic import DEFAULT_PERSONAS, generate_world

    world = generate_world(4_000, seed=2, personas=DEFAULT_PERSONAS)
    from upseg.features.build import build_features
    from upseg.features.pit import customer_spine
    from upseg.features.sources import connect

    con = connect()
    tables = {name: con.create_table(name, frame) for name, frame in world.tables.items()}
    as_of = pd.Timestamp("2026-05-01", tz="UTC")
    columns = list(BEHAVIOUR_V1.columns())
    frame = (
        build_features(tables, customer_spine(tables["customers"], as_of))
        .select("customer_id", *columns)
        .execute()
    )
    fit = fit_clusters(frame, columns, k=len(DEFAULT_PERSONAS), resamples=2)
    truth = world.truth.set_index("customer_id")
    ordered = frame.sort_values("customer_id").reset_index(drop=True)
    alive = (truth["active_until"].reindex(ordered["customer_id"]) > as_of).to_numpy()
    personas = truth["persona"].reindex(ordered["customer_id"]).to_numpy()
    labels = np.asarray(fit.model.labels_)
    ari_all = adjusted_rand_score(personas, labels)
    ari_alive = adjusted_rand_score(personas[alive], labels[alive])
    # Dropped-out customers of every type look alike (no orders, few opens), so the
    # clusters also separate the living from the lapsed: the agreement is partial,
    # better among customers still active, and far from chance.
    assert ari_all > 0.05
    assert ari_alive > ari_all


# ------------------------------------------------------------------ stable labels


def test_reshuffled_customers_get_the_same_labels_and_names():
    frame, _ = planted(4_000, 4, seed=11)
    first = fit_clusters(frame, COLUMNS, k=4, resamples=2)
    again = fit_clusters(frame.sample(frac=1.0, random_state=3), COLUMNS, k=4, resamples=2)
    assert (first.model.predict(frame) == again.model.predict(frame)).all()
    assert first.model.names_ == again.model.names_
    # Labels run from 1 by size.
    sizes = pd.Series(first.model.predict(frame)).value_counts()
    assert list(sizes.index) == sorted(sizes.index)


def test_a_retrain_keeps_labels_of_unchanged_groups_and_reports_new_and_vanished():
    frame, group = planted(6_000, 4, seed=12)
    champion = fit_clusters(frame, COLUMNS, k=4, resamples=2).model
    champion.rename({2: "marketing's name"})
    # Next month: the same customers and one new kind of customer; one old group is gone.
    next_month, next_group = planted(6_000, 4, seed=12)
    gone = next_group == 3
    rng = np.random.default_rng(99)
    newcomers = next_month[gone].assign(
        sessions_365d=rng.poisson(150, gone.sum()),
        open_rate_365d=0.99,
        frequency_365d=rng.poisson(40, gone.sum()),
        discount_order_share=1.0,
    )
    next_month = pd.concat([next_month[~gone], newcomers]).reset_index(drop=True)
    fit = fit_clusters(next_month, COLUMNS, k=4, champion=champion, resamples=2)
    pairs = fit.matching.pairs
    assert fit.matching.kept == 3
    assert (pairs["status"] == "new").sum() == 1
    new_label = int(pairs.loc[pairs["status"] == "new", "label"].item())
    assert new_label == 5  # never a label used before
    assert len(fit.matching.vanished) == 1
    # The unchanged customers keep their label, the renamed cluster its name.
    stayed = next_month.iloc[: int((~gone).sum())]
    assert (fit.model.predict(stayed) == champion.predict(stayed)).mean() > 0.99
    assert "marketing's name" in fit.model.names_.values()
    # Migration: champion clusters in rows, new ones in columns, every customer counted.
    migration = fit.migration
    assert migration.loc["total", "total"] == len(next_month)
    assert migration.shape == (4 + 1, 4 + 1)


def test_migration_matrix_counts_every_pair_of_clusters():
    before = np.array([1, 1, 2, 2, 3])
    after = np.array([1, 2, 2, 2, 4])
    table = migration_matrix(before, after, {1: "a", 2: "b", 3: "c"}, {1: "a", 2: "b", 4: "d"})
    assert table.loc["1 · a", "1 · a"] == 1
    assert table.loc["1 · a", "2 · b"] == 1
    assert table.loc["2 · b", "2 · b"] == 2
    assert table.loc["3 · c", "4 · d"] == 1
    assert table.loc["total", "total"] == 5


def test_matching_refuses_nothing_when_the_champion_is_the_same_model():
    frame, _ = planted(3_000, 5, seed=4)
    model = fit_clusters(frame, COLUMNS, k=5, resamples=2).model
    matching = match_clusters(model, model, frame, {i: f"n{i}" for i in range(5)})
    assert matching.kept == 5 and matching.vanished == ()
    assert (matching.pairs["distance"] < 1e-9).all()


# ------------------------------------------------------------------ profiles and names


def test_profile_z_scores_and_names_describe_the_groups():
    frame, group = planted(5_000, 3, seed=21)
    fit = fit_clusters(frame, COLUMNS, k=3, resamples=2)
    profile = fit.profile
    assert set(profile.columns) >= {"cluster", "cluster_name", "customers", "share", "z"}
    assert profile.drop_duplicates("cluster")["customers"].sum() == len(frame)
    # The cluster with the most frequent buyers is named by it.
    freq = profile[profile["feature"] == "frequency_365d"].set_index("cluster")
    top = freq["mean"].idxmax()
    assert freq.loc[top, "z"] > 0
    assert freq.loc[top, "mean"] == pytest.approx(
        frame.loc[fit.model.predict(frame) == top, "frequency_365d"].mean()
    )
    names = fit.model.names_
    assert len(set(names.values())) == 3
    assert all(name and name != "typical customers" for name in names.values())


def test_names_are_made_distinct():
    profile = pd.DataFrame(
        {
            "cluster": [1, 1, 2, 2],
            "feature": ["frequency_365d", "open_rate_365d"] * 2,
            "z": [1.0, 0.6, 1.2, -0.7],
        }
    )
    names = cluster_names(profile, parts=1)
    assert names[1] != names[2]
    assert names[1].startswith("frequent buyers")
    # The same phrases in another order are the same name: the one with more to say says more.
    reordered = pd.DataFrame(
        {
            "cluster": [1, 1, 2, 2, 2],
            "feature": ["frequency_365d", "open_rate_365d"] * 2 + ["sessions_365d"],
            "z": [1.0, 0.9, 0.9, 1.0, 0.6],
        }
    )
    names = cluster_names(reordered, parts=2)
    assert names == {
        1: "frequent buyers · frequent openers",
        2: "frequent openers · frequent buyers · frequent visitors",
    }
    flat = pd.DataFrame({"cluster": [1, 2], "feature": ["x", "x"], "z": [0.1, -0.1]})
    assert cluster_names(flat) == {1: "typical customers", 2: "typical customers (2)"}


def test_a_names_file_renames_and_is_checked(tmp_path):
    frame, _ = planted(2_000, 3, seed=8)
    model = fit_clusters(frame, COLUMNS, k=3, resamples=1).model
    path = tmp_path / "names.yaml"
    path.write_text("1: weekend browsers\n3: loyal openers\n")
    model.rename(read_names(path))
    assert model.names_[1] == "weekend browsers" and model.names_[3] == "loyal openers"
    assert set(model.predict_frame(frame)["cluster_name"]) == set(model.names_.values())
    path.write_text("9: nobody\n")
    with pytest.raises(ClusteringError, match=r"label\(s\) \[9\] are not clusters.*\[1, 2, 3\]"):
        model.rename(read_names(path))
    path.write_text("1: same\n2: same\n")
    with pytest.raises(ClusteringError, match="must be distinct.*'same' for clusters \\[1, 2\\]"):
        model.rename(read_names(path))
    path.write_text("one: x\n2: ''\n")
    with pytest.raises(ClusteringError, match="key 'one' is not a cluster label.*cluster 2"):
        read_names(path)
    path.write_text("- a list\n")
    with pytest.raises(ClusteringError, match="expected a mapping"):
        read_names(path)


# ------------------------------------------------------------------ preprocessing and bad input


def test_missing_values_are_filled_by_what_they_mean():
    frame = pd.DataFrame(
        {
            "tenure_days": [100.0, 400.0],
            "days_since_last_visit": [np.nan, 10.0],
            "avg_order_value": [np.nan, 50.0],
            "discount_order_share": [np.nan, 0.5],
        }
    )
    out = filled(frame, list(frame.columns))
    assert out["days_since_last_visit"].tolist() == [100.0, 10.0]  # never visited: since signup
    assert out["avg_order_value"].tolist() == [0.0, 50.0]
    assert out["discount_order_share"].tolist() == [0.0, 0.5]
    assert column_kind("cart_abandonments_365d") == "count"
    assert column_kind("click_rate_365d") == "share"
    assert column_kind("monetary_365d") == "amount"


def test_every_behavioural_column_is_built_by_the_customer_set():
    assert BEHAVIOUR_V1.built_from == CUSTOMER_V1.key
    assert set(BEHAVIOUR_V1.columns()) <= set(CUSTOMER_V1.columns())


def test_scaled_columns_have_a_robust_unit_spread():
    frame, _ = planted(4_000, 3, seed=1)
    out = BehaviourTransformer(COLUMNS).fit(frame).transform(frame)
    assert np.allclose(np.median(out, axis=0), 0.0, atol=1e-9)
    q1, q3 = np.quantile(out, [0.25, 0.75], axis=0)
    assert np.allclose(q3 - q1, 1.349, atol=0.01)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(sessions_365d=7), r"\['sessions_365d'\] take a single value"),
        (lambda f: f.assign(open_rate_365d=np.nan), r"\['open_rate_365d'\] are missing for every"),
        (lambda f: f.drop(columns="tenure_days"), r"lack column\(s\) \['tenure_days'\]"),
        (lambda f: f.assign(tenure_days="long"), r"must be numeric; got tenure_days"),
        (lambda f: f.head(3), r"3 customers cannot make 4 clusters"),
    ],
)
def test_bad_features_get_clear_errors(change, message):
    frame, _ = planted(500, 3, seed=2)
    with pytest.raises(ClusteringError, match=message):
        ClusterModel(COLUMNS, 4).fit(change(frame))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"k": 1}, r"--k must be 'auto' or an integer of at least 2; got 1"),
        ({"k": 501}, r"--k 501 is more clusters than the 500 customers"),
        ({"k_range": (5, 3)}, r"k range must be two integers 2 <= min <= max; got 5..3"),
        ({"k_range": (1, 3)}, r"k range must be two integers 2 <= min <= max; got 1..3"),
        ({"k": 3, "pca": 1.5}, r"pca must be a number of components from 1 to 7"),
        ({"k": 3, "algorithm": "dbscan"}, r"algorithm must be one of auto, kmeans, minibatch"),
    ],
)
def test_bad_settings_get_clear_errors(options, message):
    frame, _ = planted(500, 3, seed=2)
    with pytest.raises(ClusteringError, match=message):
        fit_clusters(frame, COLUMNS, resamples=1, **options)


def test_too_few_customers_to_choose_k():
    frame, _ = planted(3, 2, seed=0)
    with pytest.raises(ClusteringError, match=r"3 customers are too few to choose k in 3..10"):
        fit_clusters(frame, COLUMNS)


def test_minibatch_and_pca_fit_and_agree_with_kmeans_on_clear_groups():
    frame, group = planted(5_000, 4, seed=31)
    lloyd = ClusterModel(COLUMNS, 4, algorithm="kmeans").fit(frame)
    mini = ClusterModel(COLUMNS, 4, algorithm="minibatch").fit(frame)
    reduced = ClusterModel(COLUMNS, 4, pca=0.95).fit(frame)
    assert type(mini.kmeans_).__name__ == "MiniBatchKMeans"
    assert reduced.pca_ is not None and reduced.pca_.n_components_ <= len(COLUMNS)
    for model in (mini, reduced):
        assert adjusted_rand_score(lloyd.predict(frame), model.predict(frame)) > 0.95
    # Lloyd's centres are scikit-learn's on the same space.
    space = lloyd.space(frame)
    reference = KMeans(4, n_init=4, random_state=0).fit(space)
    assert adjusted_rand_score(reference.labels_, lloyd.predict_internal(frame)) == 1.0


def test_profile_table_covers_every_cluster_and_feature():
    frame, _ = planted(2_000, 3, seed=9)
    model = ClusterModel(COLUMNS, 3).fit(frame)
    table = profile_table(model, frame)
    assert len(table) == 3 * len(COLUMNS)
    assert table.groupby("cluster")["share"].first().sum() == pytest.approx(1.0)
