"""``upseg predict uplift``: score a one-row-per-customer table with a registered uplift model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from upseg.errors import UpsegError
from upseg.pipelines._console import DEFAULT_WORKDIR, console, fail, quiet_mlflow

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TableMismatchError", "app", "uplift_scores"]

app = typer.Typer()
predict_app = typer.Typer(help="Score customers with a registered model.", no_args_is_help=True)
app.add_typer(predict_app, name="predict")


class TableMismatchError(UpsegError, ValueError):
    """The table's columns do not match the model's features."""


def uplift_scores(model: Any, table: pd.DataFrame) -> pd.DataFrame:
    """The id (or row number), ``uplift``, ``best_variant`` and ``uplift_<variant>`` per row.

    Treatment and outcome columns the model was trained beside are ignored;
    any other column the model does not know, or a feature it needs and does
    not find, is refused.

    Raises
    ------
    TableMismatchError
        A ``ValueError`` naming the missing or unknown columns.
    """
    import pandas as pd

    known = dict(getattr(model, "columns_", {}))
    features = list(model.feature_names_in_)
    ignorable = {known.get("id"), known.get("arm"), *known.get("outcomes", [])} - {None}
    missing = [c for c in features if c not in table.columns]
    unknown = [c for c in table.columns if c not in features and c not in ignorable]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"lacks the model's feature column(s) {missing}")
        if unknown:
            parts.append(f"has column(s) the model was not trained on {unknown}")
        raise TableMismatchError(
            "The table does not match the model: it " + " and ".join(parts) + f". The model "
            f"reads {features}" + (f" and ignores {sorted(ignorable)}" if ignorable else "") + "."
        )
    scores = model.predict_frame(table)
    id_column = known.get("id")
    ids = (
        table[id_column].rename(id_column)
        if id_column and id_column in table
        else pd.Series(range(len(table)), name="row", index=table.index)
    )
    variant_columns = [c for c in scores.columns if c.startswith("uplift_")]
    # a calibrated model's raw prediction and the evidence of its sign
    measured = [c for c in ("raw_uplift", "evidence_of_uplift") if c in scores.columns]
    return pd.concat([ids, scores[["uplift", "best_variant", *variant_columns, *measured]]], axis=1)


@predict_app.command("uplift")
def predict_uplift(
    table: Annotated[Path, typer.Option(help="One row per customer: CSV or Parquet.")],
    out: Annotated[Path, typer.Option(help="Where to write the scores (.parquet or .csv).")],
    model: Annotated[
        str, typer.Option(help="Model URI, e.g. models:/uplift/3 or models:/uplift@challenger.")
    ] = "models:/uplift@champion",
    workdir: Annotated[
        Path,
        typer.Option(envvar="UPSEG_WORKDIR", help="Where the local MLflow store lives."),
    ] = DEFAULT_WORKDIR,
) -> None:
    """Score customers with an uplift model: uplift of the best variant, which one, and each one.

    Writes the table's id column (or the row number), `uplift`, `best_variant`
    and `uplift_<variant>` for every variant, atomically. Treatment and outcome
    columns in the table are ignored; a table whose other columns do not match
    the model's is refused.
    """
    import mlflow

    from upseg.experiments.data import read_table
    from upseg.models.tracking import tracking_uri
    from upseg.pipelines.jobs import write_atomically

    if out.suffix not in (".parquet", ".csv"):
        raise fail(f"--out must end in .parquet or .csv; got {out.name!r}.")
    frame = read_table(table)  # a missing or unreadable file is an ExperimentInputError
    quiet_mlflow()
    uri = tracking_uri(workdir)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        loaded = mlflow.sklearn.load_model(model)
    except Exception as exc:  # noqa: BLE001 - MLflow raises many kinds; the user needs the URI
        raise fail(f"cannot load --model {model} from {uri}: {exc}") from None
    if not hasattr(loaded, "predict_frame"):
        raise fail(f"--model {model} is not an uplift model.")
    scores = uplift_scores(loaded, frame)
    write = (
        (lambda tmp: scores.to_parquet(tmp, index=False))
        if out.suffix == ".parquet"
        else (lambda tmp: scores.to_csv(tmp, index=False))
    )
    write_atomically(out, write)
    shares = scores["best_variant"].where(scores["uplift"] > 0, "none").value_counts()
    console.print(
        f"{len(scores):,} customers scored with {model} → {out}; best variant with a positive "
        "uplift: " + ", ".join(f"{k} {v:,}" for k, v in shares.items())
    )
