"""What each cluster is: its size, how its customers differ from everyone, and a name.

A cluster's **profile** compares, feature by feature, its customers with the
whole population: the mean in the feature's own units (orders, money, days,
shares; missing values filled as the model fills them) and the **z-score**,
the difference of means in the model's scaled space (log of counts, amounts
and days; see :mod:`~upseg.models.clusters.preprocessing`) divided by the
population's spread there. A z-score of +1 means the cluster sits one typical
customer-to-customer difference above the population.

A cluster's default **name** joins the phrases of its most distinctive features
(largest ``|z|`` of at least :data:`NAME_MIN_Z`, at most :data:`NAME_PARTS`):
"frequent buyers · high discount share · rare openers". Marketing renames
clusters in a names file (:func:`read_names`), which the model keeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from upseg.models.clusters.preprocessing import ClusteringError, filled

__all__ = [
    "NAME_MIN_Z",
    "NAME_PARTS",
    "PHRASES",
    "cluster_names",
    "names_file_text",
    "profile_table",
    "read_names",
    "z_matrix",
]

#: A feature names a cluster only when its z-score is at least this far from 0.
NAME_MIN_Z = 0.5
#: At most this many features make a name.
NAME_PARTS = 3
#: (phrase when high, phrase when low) of each behavioural feature.
PHRASES: dict[str, tuple[str, str]] = {
    "tenure_days": ("long-standing", "new sign-ups"),
    "frequency_365d": ("frequent buyers", "rare buyers"),
    "monetary_365d": ("big spenders", "low spenders"),
    "avg_order_value": ("large baskets", "small baskets"),
    "recency_days": ("long since last order", "bought lately"),
    "discount_order_share": ("high discount share", "full-price buyers"),
    "return_rate": ("frequent returners", "rare returners"),
    "category_count": ("broad shoppers", "single-category"),
    "open_rate_365d": ("frequent openers", "rare openers"),
    "click_rate_365d": ("frequent clickers", "rare clickers"),
    "days_since_last_open": ("long since last open", "opened lately"),
    "sessions_365d": ("frequent visitors", "rare visitors"),
    "product_views_365d": ("heavy browsers", "light browsers"),
    "cart_abandonments_365d": ("cart abandoners", "rare cart abandoners"),
    "days_since_last_visit": ("long since last visit", "visited lately"),
}


def _phrase(feature: str, z: float) -> str:
    high, low = PHRASES.get(feature, (f"high {feature}", f"low {feature}"))
    return high if z > 0 else low


def profile_table(model: object, frame: pd.DataFrame) -> pd.DataFrame:
    """One row per cluster and feature: size, mean, the population's mean and the z-score.

    Parameters
    ----------
    model : ClusterModel
        Fitted.
    frame : pandas.DataFrame
        The customers to profile (usually those the model was fitted on).

    Returns
    -------
    pandas.DataFrame
        ``cluster``, ``cluster_name``, ``customers``, ``share``, ``feature``,
        ``mean``, ``population_mean``, ``z``; clusters by label, features in
        the model's order. A cluster no customer of ``frame`` falls in has 0
        customers and missing means.
    """
    columns = list(model.feature_names_in_)  # type: ignore[attr-defined]
    raw = filled(frame, columns)
    scaled = pd.DataFrame(model.transformer_.transform(frame), columns=columns)  # type: ignore[attr-defined]
    labels = model.predict(frame)  # type: ignore[attr-defined]
    spread = scaled.std(ddof=0).replace(0.0, np.nan)
    rows = []
    for label in model.labels:  # type: ignore[attr-defined]
        inside = labels == label
        z = (scaled[inside].mean() - scaled.mean()) / spread
        for feature in columns:
            rows.append(
                {
                    "cluster": label,
                    "cluster_name": model.names_[label],  # type: ignore[attr-defined]
                    "customers": int(inside.sum()),
                    "share": float(inside.mean()) if len(frame) else np.nan,
                    "feature": feature,
                    "mean": float(raw.loc[inside, feature].mean()) if inside.any() else np.nan,
                    "population_mean": float(raw[feature].mean()),
                    "z": float(z[feature]) if inside.any() else np.nan,
                }
            )
    return pd.DataFrame(rows)


def z_matrix(profile: pd.DataFrame) -> pd.DataFrame:
    """The z-scores as a cluster × feature table (rows labelled ``"<label> · <name>"``)."""
    wide = profile.pivot(index=["cluster", "cluster_name"], columns="feature", values="z")
    wide = wide.loc[:, list(dict.fromkeys(profile["feature"]))]
    wide.index = [f"{label} · {name}" for label, name in wide.index]
    return wide


def cluster_names(
    profile: pd.DataFrame, *, parts: int = NAME_PARTS, min_z: float = NAME_MIN_Z
) -> dict[int, str]:
    """A readable name per cluster from its most distinctive features.

    The features with the largest ``|z|`` (at least ``min_z``), at most
    ``parts`` of them, each as its phrase (:data:`PHRASES`); a cluster with none
    is "typical customers". Clusters whose names coincide get more features
    until they differ, then a number.
    """
    names: dict[int, str] = {}
    ranked: dict[int, list[str]] = {}
    for label, rows in profile.groupby("cluster", sort=True):
        z = rows.set_index("feature")["z"].dropna()
        order = z.abs().sort_values(ascending=False, kind="stable")
        ranked[int(label)] = [_phrase(f, z[f]) for f in order.index if abs(z[f]) >= min_z]
    used = {label: min(parts, len(phrases)) for label, phrases in ranked.items()}

    def same_words(label: int) -> bool:
        """Another cluster's name has the same phrases, in whatever order."""
        words = frozenset(ranked[label][: used[label]])
        return any(
            frozenset(ranked[other][: used[other]]) == words for other in ranked if other != label
        )

    for _ in range(3):
        clashes = [label for label in ranked if same_words(label)]
        if not clashes:
            break
        for label in clashes:
            used[label] = min(used[label] + 1, len(ranked[label]))
    for label, phrases in ranked.items():
        names[label] = " · ".join(phrases[: used[label]]) or "typical customers"
    seen: dict[str, int] = {}
    for label in sorted(names):
        seen[names[label]] = seen.get(names[label], 0) + 1
        if seen[names[label]] > 1:
            names[label] = f"{names[label]} ({seen[names[label]]})"
    return names


def read_names(path: Path) -> dict[int, str]:
    """A names file: YAML mapping cluster labels to names, e.g. ``3: weekend browsers``.

    Raises
    ------
    ClusteringError
        When the file is missing or not YAML, or an entry is not an integer
        label with a non-empty name; every bad entry is named.
    """
    try:
        content = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ClusteringError(f"cluster names file {path}: cannot be read ({exc})") from None
    except yaml.YAMLError as exc:
        raise ClusteringError(f"cluster names file {path}: not valid YAML ({exc})") from None
    if content is None:
        return {}
    if not isinstance(content, Mapping):
        raise ClusteringError(
            f"cluster names file {path}: expected a mapping of cluster labels to names "
            f"(e.g. '3: weekend browsers'); got a {type(content).__name__}"
        )
    names, problems = {}, []
    for key, value in content.items():
        if isinstance(key, bool) or not isinstance(key, int):
            problems.append(f"key {key!r} is not a cluster label (an integer)")
        elif not isinstance(value, str) or not value.strip():
            problems.append(f"cluster {key}: the name must be non-empty text; got {value!r}")
        else:
            names[key] = value.strip()
    if problems:
        raise ClusteringError(f"cluster names file {path}: " + "; ".join(problems))
    return names


def names_file_text(names: Mapping[int, str], *, model: str = "") -> str:
    """A names file holding ``names``, with a header saying how to edit it."""
    header = (
        "# Names of the behavioural clusters"
        + (f" of {model}" if model else "")
        + ".\n# Edit a name and pass this file to `upseg train clusters --names`: the next\n"
        "# version keeps it, and later versions carry it with the cluster's label.\n"
    )
    body = yaml.safe_dump({int(k): str(v) for k, v in sorted(names.items())}, allow_unicode=True)
    return header + body
