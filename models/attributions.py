"""Per-feature attributions of a LightGBM booster's raw score: exact TreeSHAP or a fast hybrid.

Exact TreeSHAP (LightGBM's ``pred_contrib``) costs about a hundred predictions
per row: for each tree it weighs every subset of the features on each leaf's
path. *Path attributions* (Saabas) cost one prediction: each split on a row's
own path credits its feature with the change in the tree's expected value
(by training cover) from the node to the child the row goes to. Both sum to
the raw score, with the same bias (the trees' expected values), and they share
the feature and sign of the strongest driver for most rows; they part where
two features pull about equally hard, the case where sharing credit over the
other paths of the tree matters.

:func:`tree_contributions` with ``method="hybrid"`` takes the path
attributions and recomputes with exact TreeSHAP every row whose runner-up
driver is at least :data:`EXACT_WHEN_RUNNER_UP_AT` times its top driver, so
the rows where the cheap method is likely to name the wrong top driver get
the exact answer. ``tests/models/test_attributions.py`` and
``benchmarks/bench_score.py`` measure its agreement with exact TreeSHAP
(top driver, and the sign of the driver it names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import scipy.sparse as sp

__all__ = [
    "EXACT_WHEN_RUNNER_UP_AT",
    "METHODS",
    "PathAttributions",
    "runner_up_close",
    "tree_contributions",
]

#: How attributions are computed: LightGBM's exact TreeSHAP, or path attributions with
#: exact TreeSHAP for the rows whose two strongest drivers are close.
METHODS = ("exact", "hybrid")

#: A row whose second-strongest path attribution is at least this share of its
#: strongest gets exact TreeSHAP in the hybrid. Fixed by what the rule means (the
#: runner-up pulls at least half as hard), not fitted to one data set.
EXACT_WHEN_RUNNER_UP_AT = 0.5

#: Rows per block of the leaf-index lookup, to bound its sparse matrix.
_BLOCK_ROWS = 65_536


@dataclass(frozen=True)
class PathAttributions:
    """Path attributions of every leaf of a booster: contributions are a lookup per tree.

    Attributes
    ----------
    table : ndarray of shape (n_leaves_total, n_features)
        Row ``offsets[t] + leaf`` holds what tree ``t`` credits each feature with
        for a row that lands in ``leaf``.
    offsets : ndarray of shape (n_trees,)
        First row of each tree in ``table``.
    bias : float
        Sum of the trees' expected values by training cover, as TreeSHAP's bias.
    num_iteration : int
        Trees used (the booster's first ``num_iteration``).
    """

    table: np.ndarray
    offsets: np.ndarray
    bias: float
    num_iteration: int

    @classmethod
    def from_booster(cls, booster: lgb.Booster, num_iteration: int) -> PathAttributions:
        """The leaf table of ``booster``'s first ``num_iteration`` trees (binary or regression)."""
        n_features = booster.num_feature()
        trees = booster.dump_model(num_iteration=num_iteration)["tree_info"]
        tables, bias = [], 0.0
        for tree in trees:
            table, expected = _leaf_table(tree["tree_structure"], tree["num_leaves"], n_features)
            tables.append(table)
            bias += expected
        sizes = [len(t) for t in tables]
        return cls(
            table=np.vstack(tables) if tables else np.zeros((0, n_features)),
            offsets=np.cumsum([0, *sizes[:-1]]).astype(np.int64),
            bias=bias,
            num_iteration=num_iteration,
        )

    def contributions(self, leaves: np.ndarray) -> np.ndarray:
        """Per-feature attributions, shape (n_rows, n_features), from ``pred_leaf`` output."""
        leaves = np.asarray(leaves, dtype=np.int64).reshape(len(leaves), -1)
        n, trees = leaves.shape
        if trees != len(self.offsets):
            raise ValueError(
                f"leaves must have one column per tree ({len(self.offsets)}); got {trees}."
            )
        out = np.empty((n, self.table.shape[1]))
        ones = np.ones(min(n, _BLOCK_ROWS) * trees)
        for start in range(0, n, _BLOCK_ROWS):
            block = leaves[start : start + _BLOCK_ROWS] + self.offsets
            rows = len(block)
            onehot = sp.csr_matrix(
                (ones[: rows * trees], block.ravel(), np.arange(0, rows * trees + 1, trees)),
                shape=(rows, len(self.table)),
            )
            out[start : start + rows] = onehot @ self.table
        return out


def _leaf_table(root: dict[str, Any], n_leaves: int, n_features: int) -> tuple[np.ndarray, float]:
    """Each leaf's path attributions in one dumped tree, and the tree's expected value."""
    table = np.zeros((max(n_leaves, 1), n_features))
    if "leaf_index" not in root and "split_feature" not in root:  # a tree of one leaf
        return table, float(root.get("leaf_value", 0.0))
    expected = _expected_values(root)

    stack = [(root, np.zeros(n_features))]
    while stack:
        node, credit = stack.pop()
        if "leaf_index" in node:
            table[node["leaf_index"]] = credit
            continue
        for side in ("left_child", "right_child"):
            child = node[side]
            moved = credit.copy()
            moved[node["split_feature"]] += expected[id(child)] - expected[id(node)]
            stack.append((child, moved))
    return table, expected[id(root)]


def _expected_values(root: dict[str, Any]) -> dict[int, float]:
    """Mean leaf value under every node, weighted by training rows (TreeSHAP's cover)."""
    expected: dict[int, float] = {}
    cover: dict[int, float] = {}
    order, stack = [], [root]
    while stack:  # parents before children; reversed, children before parents
        node = stack.pop()
        order.append(node)
        if "leaf_index" not in node:
            stack += [node["left_child"], node["right_child"]]
    for node in reversed(order):
        if "leaf_index" in node:
            expected[id(node)] = float(node["leaf_value"])
            cover[id(node)] = float(node.get("leaf_count", 0))
            continue
        left, right = node["left_child"], node["right_child"]
        total = cover[id(left)] + cover[id(right)]
        cover[id(node)] = total
        expected[id(node)] = (
            (expected[id(left)] * cover[id(left)] + expected[id(right)] * cover[id(right)]) / total
            if total > 0
            else (expected[id(left)] + expected[id(right)]) / 2
        )
    return expected


def tree_contributions(
    booster: lgb.Booster,
    X: np.ndarray,
    *,
    num_iteration: int,
    method: str = "hybrid",
    paths: PathAttributions | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature contributions to the raw score plus the bias column, and which rows are exact.

    Parameters
    ----------
    booster : lightgbm.Booster
        A binary or regression booster (one output per row).
    X : ndarray of shape (n_rows, n_features)
        The float matrix the booster reads (categories as their codes).
    num_iteration : int
        Trees to use.
    method : {"exact", "hybrid"}, default "hybrid"
        See the module docstring.
    paths : PathAttributions, optional
        ``PathAttributions.from_booster(booster, num_iteration)``, built when omitted;
        pass it to reuse it across calls.

    Returns
    -------
    contributions : ndarray of shape (n_rows, n_features + 1)
        The last column is the bias; each row sums to the raw score.
    exact : ndarray of bool, shape (n_rows,)
        Rows computed with exact TreeSHAP (all of them with ``method="exact"``).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}; got {method!r}.")
    n = len(X)
    if method == "exact" or n == 0:
        exact = np.ones(n, dtype=bool)
        return _pred_contrib(booster, X, num_iteration), exact
    if paths is None or paths.num_iteration != num_iteration:
        paths = PathAttributions.from_booster(booster, num_iteration)
    leaves = np.asarray(booster.predict(X, num_iteration=num_iteration, pred_leaf=True))
    values = paths.contributions(leaves)
    out = np.column_stack([values, np.full(n, paths.bias)])
    exact = runner_up_close(values)
    if exact.any():
        out[exact] = _pred_contrib(booster, X[exact], num_iteration)
    return out, exact


def runner_up_close(values: np.ndarray, share: float = EXACT_WHEN_RUNNER_UP_AT) -> np.ndarray:
    """Rows whose second-largest absolute value is at least ``share`` times the largest."""
    magnitude = np.abs(values)
    if magnitude.shape[1] < 2:
        return np.zeros(len(values), dtype=bool)
    top_two = -np.partition(-magnitude, 1, axis=1)[:, :2]
    return top_two[:, 1] >= share * top_two[:, 0]


def _pred_contrib(booster: lgb.Booster, X: np.ndarray, num_iteration: int) -> np.ndarray:
    return np.asarray(booster.predict(X, num_iteration=num_iteration, pred_contrib=True))
