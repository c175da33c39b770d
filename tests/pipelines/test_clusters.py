"""``upseg train clusters``: real runs on a synthetic world with latent types, into a local store.

Three runs share one store, in order: the first (the champion), one a month
later (labels matched to the champion), and one with a names file. They are
module fixtures that the tests of their outcome reuse, on small samples.
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.pipelines._invoke import invoke
from upseg.models.registry import verified_model
from upseg.models.tracking import local_tracking_uri, set_tracking
from upseg.synthetic import DEFAULT_PERSONAS, generate_world, write_world

SMALL = ("--sample", "3000", "--eval-sample", "1000", "--resamples", "2", "--k-max", "6")


def train_clusters(world: object, workdir: object, as_of: str, *extra: object):
    return invoke(
        "train", "clusters", "--data", world, "--as-of", as_of, "--workdir", workdir,
        *SMALL, *extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("persona-world")
    write_world(generate_world(4_000, seed=5, personas=DEFAULT_PERSONAS), out)
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("clusters-work")


@pytest.fixture(scope="module")
def client(workdir):
    return MlflowClient(local_tracking_uri(workdir))


@pytest.fixture(scope="module")
def first(world, workdir):
    return train_clusters(world, workdir, "2026-05-01")


@pytest.fixture(scope="module")
def second(first, world, workdir):
    assert first.exit_code == 0, first.output
    return train_clusters(world, workdir, "2026-06-01")


def _model(client, workdir, version):
    set_tracking(local_tracking_uri(workdir))
    return verified_model(client.get_model_version("clusters", version))


def test_a_first_run_chooses_k_names_the_clusters_and_becomes_champion(first, client, workdir):
    assert first.exit_code == 0, first.output
    out = first.text
    version = client.get_model_version("clusters", "1")
    run = client.get_run(version.run_id)
    k = int(run.data.params["k"])
    assert 3 <= k <= 6
    assert run.data.params["feature_set"] == "behaviour_v1"
    assert run.data.tags["feature_set"] == "customer_v1"  # what the scorer builds
    metrics = run.data.metrics
    # Every k of the range has its diagnostics, and the printed table is them.
    for kk in range(3, 7):
        for m in ("silhouette", "calinski_harabasz", "davies_bouldin", "stability_ari"):
            assert f"k{kk}_{m}" in metrics, (kk, m)
        mark = " ←" if kk == k else ""
        assert (
            f"{kk}{mark} {metrics[f'k{kk}_silhouette']:.3f} "
            f"{metrics[f'k{kk}_calinski_harabasz']:,.0f} {metrics[f'k{kk}_davies_bouldin']:.3f} "
            f"{metrics[f'k{kk}_stability_ari']:.3f}"
        ) in out
    assert f"Choice: k={k} has the highest silhouette" in out or "no k reached" in out
    assert "Registered clusters version 1 as @champion: no champion yet" in out
    assert str(client.get_model_version_by_alias("clusters", "champion").version) == "1"
    # The latent types of the world are the answer key; the ARI is logged and printed.
    assert 0 < metrics["truth_persona_ari"] <= 1
    assert f"ARI {metrics['truth_persona_ari']:.3f}" in out
    logged = {a.path for a in client.list_artifacts(version.run_id)}
    assert {"cluster_names.yaml", "data_fingerprint.json", "plots", "tables"} <= logged
    tables = {a.path for a in client.list_artifacts(version.run_id, "tables")}
    assert {"tables/k_diagnostics.csv", "tables/profile.csv"} <= tables
    plots = {a.path for a in client.list_artifacts(version.run_id, "plots")}
    assert {"plots/profile_heatmap.png", "plots/k_choice.png"} <= plots
    # Every cluster is printed with its name and size, and they add up to the customers.
    model = _model(client, workdir, "1")
    profile = pd.read_csv(client.download_artifacts(version.run_id, "tables/profile.csv"))
    sizes = profile.drop_duplicates("cluster").set_index("cluster")["customers"]
    assert sizes.sum() == metrics["customers"]
    for label, name in model.names_.items():
        assert f"{label} {name} {sizes[label]:,}" in out


def test_a_month_later_the_labels_follow_the_champion(second, client, workdir):
    assert second.exit_code == 0, second.output
    version = client.get_model_version("clusters", "2")
    run = client.get_run(version.run_id)
    matching = pd.read_csv(client.download_artifacts(version.run_id, "tables/matching.csv"))
    kept = matching[matching["status"] == "kept"]
    assert len(kept) >= 2 and (kept["label"] == kept["champion_label"]).all()
    assert run.data.metrics["clusters_kept"] == len(kept)
    first_model, second_model = _model(client, workdir, "1"), _model(client, workdir, "2")
    for label in kept["label"]:
        assert second_model.names_[label] == first_model.names_[label]
    migration = pd.read_csv(
        client.download_artifacts(version.run_id, "tables/migration.csv"), index_col=0
    )
    assert migration.loc["total", "total"] == run.data.metrics["customers"]
    assert "since the champion" in second.text
    # The gate compared with the champion on this month's customers and said why.
    reason = version.tags["gate_reason"]
    assert "champion's (version 1)" in reason and "tolerance 0.02" in reason
    assert "Registered clusters version 2 as @" in second.text


def test_a_names_file_renames_and_the_name_stays_with_its_label(
    second, world, client, workdir, tmp_path
):
    assert second.exit_code == 0, second.output
    champion = client.get_model_version_by_alias("clusters", "champion")
    names_file = client.download_artifacts(champion.run_id, "cluster_names.yaml")
    with open(names_file) as fh:
        names = yaml.safe_load(fh)
    label = sorted(names)[0]
    names[label] = "weekend browsers"
    edited = tmp_path / "names.yaml"
    edited.write_text(yaml.safe_dump(names))
    renamed = train_clusters(world, workdir, "2026-06-01", "--names", edited, "--promote")
    assert renamed.exit_code == 0, renamed.output
    assert "weekend browsers" in renamed.text
    assert _model(client, workdir, "3").names_[label] == "weekend browsers"
    # The next version, without the file, keeps the name for the same label.
    again = train_clusters(world, workdir, "2026-06-01", "--seed", "1")
    assert again.exit_code == 0, again.output
    newest = max(int(v.version) for v in client.search_model_versions("name = 'clusters'"))
    model = _model(client, workdir, str(newest))
    assert model.names_.get(label) == "weekend browsers"


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (("--k", "1"), 2, "--k must be 'auto' or an integer of at least 2; got '1'"),
        (("--k", "many"), 2, "--k must be 'auto' or an integer of at least 2; got 'many'"),
        (("--k-min", "6", "--k-max", "4"), 2, "--k-min (6) must not be above --k-max (4)"),
        (("--features", "rfm_v9"), 2, "--features must be one of behaviour_v1; got 'rfm_v9'"),
        (("--pca", "1.5"), 2, "--pca must be a number of components"),
        (("--exclude", "tenure_days,nope"), 2, "--exclude names column(s) ['nope'] that"),
        (("--k", "5000"), 1, "--k 5000 is more clusters than the"),
    ],
)
def test_bad_options_are_refused_naming_them(world, tmp_path, extra, code, message):
    result = train_clusters(world, tmp_path, "2026-05-01", *extra)
    assert result.exit_code == code, result.output
    assert message in result.text


def test_a_names_file_that_does_not_match_is_refused_before_anything_is_registered(
    first, world, workdir, client, tmp_path
):
    assert first.exit_code == 0, first.output
    before = len(client.search_model_versions("name = 'clusters'"))
    bad = tmp_path / "names.yaml"
    bad.write_text("99: nobody\n")
    result = train_clusters(world, workdir, "2026-05-01", "--k", "4", "--names", bad)
    assert result.exit_code == 1
    assert "label(s) [99] are not clusters of this model; its labels are" in result.text
    assert len(client.search_model_versions("name = 'clusters'")) == before


def test_the_gate_holds_a_challenger_less_separated_or_less_stable_than_the_champion():
    from upseg.pipelines.clusters_job import clusters_gate

    champion = {"silhouette": 0.30, "stability_ari": 0.90}

    def gate(sil, ari, **kw):
        options = {"tolerance": 0.02, "force": False, **kw}
        return clusters_gate({"silhouette": sil, "stability_ari": ari}, champion, **options)

    assert gate(0.285, 0.885).promote  # within the tolerance on both
    assert "less separated by more" in gate(0.25, 0.95).reason and not gate(0.25, 0.95).promote
    assert "less stable by more" in gate(0.35, 0.70).reason and not gate(0.35, 0.70).promote
    assert "less separated and less stable" in gate(0.2, 0.5).reason
    assert not gate(float("nan"), 0.95).promote
    assert gate(0.2, 0.5, force=True).promote
    held = gate(0.5, 0.99, not_comparable="it reads other columns")
    assert not held.promote and held.reason.startswith("not compared: it reads other columns")
    first = clusters_gate({"silhouette": 0.1, "stability_ari": 0.2}, None, tolerance=0, force=False)
    assert first.promote and first.reason.startswith("no champion yet")
