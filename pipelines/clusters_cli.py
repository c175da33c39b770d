"""``upseg train clusters``: behavioural segments found in the data, named and kept stable.

Registered on ``upseg train`` by :mod:`upseg.pipelines.train_cli`. Heavy modules
load only when the command runs.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from upseg.pipelines._console import (
    DEFAULT_WORKDIR,
    console,
    err_console,
    fail,
    instant_option,
    quiet_mlflow,
)
from upseg.pipelines._reports import _print_registration

if TYPE_CHECKING:
    from upseg.pipelines.clusters_job import ClustersRun

__all__ = ["Algorithm", "clusters", "parse_k", "parse_pca", "report_clusters_run"]


class Algorithm(StrEnum):
    """``models.clusters.model.ALGORITHMS``."""

    auto = "auto"
    kmeans = "kmeans"
    minibatch = "minibatch"


def parse_k(value: str) -> int | str:
    """``auto`` or an integer of at least 2, from ``--k``."""
    if value.strip().lower() == "auto":
        return "auto"
    try:
        k = int(value)
    except ValueError:
        raise fail(
            f"--k must be 'auto' or an integer of at least 2; got {value!r}", code=2
        ) from None
    if k < 2:
        raise fail(f"--k must be 'auto' or an integer of at least 2; got {value!r}", code=2)
    return k


def parse_pca(value: str | None) -> int | float | None:
    """None, a number of components (``5``) or a share of variance (``0.9``), from ``--pca``."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if number >= 1 and number == int(number):
        return int(number)
    if 0 < number < 1:
        return number
    raise fail(
        "--pca must be a number of components (an integer of at least 1) or a share of "
        f"variance between 0 and 1; got {value!r}",
        code=2,
    )


def clusters(
    data: Annotated[Path, typer.Option(help="Data source directory (docs/data-contract.md).")],
    as_of: Annotated[
        str,
        typer.Option(metavar="DATE", help="Behaviour strictly before this instant is clustered."),
    ],
    k: Annotated[
        str,
        typer.Option(
            "--k",
            metavar="auto|N",
            help="Number of clusters, or auto: the best silhouette among the stable ks of "
            "--k-min..--k-max.",
        ),
    ] = "auto",
    k_min: Annotated[int, typer.Option(min=2, help="Smallest k --k auto tries.")] = 3,
    k_max: Annotated[int, typer.Option(min=2, help="Largest k --k auto tries.")] = 10,
    features: Annotated[
        str,
        typer.Option(
            "--features", metavar="SET", help="Behavioural feature set (docs/clusters.md)."
        ),
    ] = "behaviour_v1",
    exclude: Annotated[
        str | None,
        typer.Option(
            metavar="COL[,COL]",
            help="Columns of the feature set to leave out, e.g. those a source cannot inform "
            "(CDNOW has no discounts, returns or categories).",
        ),
    ] = None,
    algorithm: Annotated[
        Algorithm,
        typer.Option(help="kmeans, minibatch (MiniBatchKMeans), or auto: minibatch above 5M."),
    ] = Algorithm.auto,
    pca: Annotated[
        str | None,
        typer.Option(
            metavar="N|SHARE",
            help="Reduce the scaled features with PCA: N components, or the share of variance "
            "to keep (0.9). Off by default.",
        ),
    ] = None,
    names: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="YAML of cluster label: name (each run logs one to edit); the names stay "
            "with their labels in later versions.",
        ),
    ] = None,
    sample: Annotated[
        int, typer.Option(min=100, help="Customers sampled to choose k and measure stability.")
    ] = 20_000,
    eval_sample: Annotated[
        int, typer.Option(min=50, help="Customers the silhouette is computed on (O(n^2)).")
    ] = 5_000,
    resamples: Annotated[
        int, typer.Option(min=1, help="Bootstrap refits per k for the stability (ARI).")
    ] = 5,
    tolerance: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="The gate: promote if silhouette and stability are each at least the "
            "champion's minus this.",
        ),
    ] = 0.02,
    seed: Annotated[int, typer.Option(help="Seed of the samples and k-means.")] = 0,
    experiment: Annotated[
        str | None, typer.Option(help="MLflow experiment (default upseg-clusters).")
    ] = None,
    promote: Annotated[
        bool, typer.Option("--promote", help="Make this version @champion regardless.")
    ] = False,
    workdir: Annotated[
        Path,
        typer.Option(envvar="UPSEG_WORKDIR", help="Where the local MLflow store lives."),
    ] = DEFAULT_WORKDIR,
    quarantine: Annotated[
        Path | None, typer.Option(help="Set bad rows aside here instead of refusing.")
    ] = None,
) -> None:
    """Find behavioural clusters of customers, name them, and keep their labels stable.

    k-means over a versioned behavioural feature set (counts, amounts and days
    log-transformed, robust scaling, optional PCA); with --k auto, k is the
    best silhouette among the ks whose bootstrap stability (adjusted Rand
    index) is at least 0.75. Each cluster gets a profile (z-scores against all
    customers) and a name from its most distinctive features. A retrained
    model takes the champion's labels and names for the clusters it matches
    and reports where customers moved. Registered as a version of 'clusters',
    @champion only if at least as separated and as stable as the champion.
    """
    from upseg.features.sets import CLUSTER_FEATURE_SETS
    from upseg.models.tracking import tracking_uri
    from upseg.pipelines.clusters_job import ClustersSettings, run_clusters

    if features not in CLUSTER_FEATURE_SETS:
        known = ", ".join(sorted(CLUSTER_FEATURE_SETS))
        raise fail(f"--features must be one of {known}; got {features!r}", code=2)
    excluded = tuple(c.strip() for c in exclude.split(",") if c.strip()) if exclude else ()
    unknown = [c for c in excluded if c not in CLUSTER_FEATURE_SETS[features].columns()]
    if unknown:
        columns = ", ".join(CLUSTER_FEATURE_SETS[features].columns())
        raise fail(
            f"--exclude names column(s) {unknown} that {features} does not have; its columns "
            f"are {columns}",
            code=2,
        )
    if k_min > k_max:
        raise fail(f"--k-min ({k_min}) must not be above --k-max ({k_max})", code=2)
    if eval_sample > sample:
        raise fail(f"--eval-sample ({eval_sample}) must not be above --sample ({sample})", code=2)
    uri = tracking_uri(workdir)
    settings = ClustersSettings(
        data_dir=data,
        as_of=instant_option(as_of, "--as-of"),
        tracking_uri=uri,
        workdir=workdir,
        k=parse_k(k),
        k_min=k_min,
        k_max=k_max,
        feature_set=features,
        exclude=excluded,
        algorithm=algorithm.value,
        pca=parse_pca(pca),
        names_file=names,
        seed=seed,
        sample=sample,
        eval_sample=eval_sample,
        resamples=resamples,
        tolerance=tolerance,
        promote=promote,
        experiment=experiment,
        quarantine_dir=quarantine,
    )
    quiet_mlflow()
    with console.status("Training clusters…") as status:
        run = run_clusters(settings, on_stage=lambda m: status.update(f"{m}…"))
    report_clusters_run(run, uri)


def report_clusters_run(run: ClustersRun, uri: str) -> None:
    """Print the choice of k, the clusters with their names, the matching and the gate."""
    fit, model = run.fit, run.fit.model
    console.print(
        f"clusters: {run.customers:,} customers as of {run.settings.as_of:%Y-%m-%d}, "
        f"{len(model.feature_names_in_)} behavioural features ({run.settings.feature_set}), "
        f"{type(model.kmeans_).__name__}",
        highlight=False,
    )
    for note in run.notes:
        err_console.print(f"[yellow]warning:[/] {note}", highlight=False)
    table = Table(title="Choice of k (samples)", title_justify="left")
    for column in ("k", "silhouette", "Calinski-Harabasz", "Davies-Bouldin", "stability (ARI)"):
        table.add_column(column, justify="right")
    for row in fit.diagnostics.itertuples():
        mark = " ←" if row.k == model.n_clusters else ""
        table.add_row(
            f"{row.k}{mark}",
            f"{row.silhouette:.3f}",
            f"{row.calinski_harabasz:,.0f}",
            f"{row.davies_bouldin:.3f}",
            f"{row.stability_ari:.3f}",
        )
    console.print(table)
    console.print(f"Choice: {fit.reason}.", highlight=False)
    sizes = fit.profile.drop_duplicates("cluster")
    status = (
        dict(zip(fit.matching.pairs["label"], fit.matching.pairs["status"], strict=True))
        if fit.matching is not None
        else {}
    )
    clusters_table = Table(title="Clusters", title_justify="left")
    for column, justify in (("label", "right"), ("name", "left"), ("customers", "right")):
        clusters_table.add_column(column, justify=justify)  # type: ignore[arg-type]
    clusters_table.add_column("share", justify="right")
    if status:
        clusters_table.add_column("since the champion")
    for row in sizes.itertuples():
        cells = [str(row.cluster), row.cluster_name, f"{row.customers:,}", f"{row.share:.1%}"]
        if status:
            cells.append(status.get(row.cluster, ""))
        clusters_table.add_row(*cells)
    console.print(clusters_table)
    if fit.matching is not None and fit.matching.vanished:
        console.print(
            f"Vanished since the champion: clusters {list(fit.matching.vanished)}.", highlight=False
        )
    if run.truth:
        console.print(
            f"Against the world's latent customer types: ARI {run.truth['truth_persona_ari']:.3f}.",
            highlight=False,
        )
    _print_registration("clusters", run, uri)
