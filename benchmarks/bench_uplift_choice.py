"""Does the DR-loss choice regress on Hillstrom? The product's choice of approach, before and after.

    python -m benchmarks.bench_uplift_choice [--seeds 0 1 2] [--targets visit conversion]
        [--cases womens mens three_arm] [--rows N]

``upseg train uplift`` chose its approach by the highest cross-validated Qini
before issue 13, by the doubly robust loss (simplest within one standard error
with a positive Qini) since, and since issue 19 by the same loss taking the
cheapest to score within one standard error. :mod:`benchmarks.bench_uplift` fits every
approach with fixed defaults, so it cannot see the change. Here, per target,
case and seed: Hillstrom's customers of the case are split 70/30 (stratified,
seed ``s``), :func:`select_approach` runs once with its default criterion on
the 70% (the Qini choice is read from the same call's first repeat, whose folds
are the Qini's; the simplest choice from the same loss table with
``prefer="simplest"``), each choice is refitted on the 70% and scored by its held-out
Qini AUC (mean over the case's variants); the default's model is then
calibrated on the 70% (:func:`fit_calibration`) and its summed sizes compared
with the held-out realised incremental outcomes (:func:`heldout_check`), for
everyone and for the top 20%. Prints one line per target and case and the
means, writes ``benchmarks/output/uplift_choice.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import machine, progress, shared_data_dir
from benchmarks.bench_uplift import (
    CASES,
    CONTROL,
    HILLSTROM_FILE,
    TEST_SIZE,
    _case_frame,
    hillstrom_data,
)
from upseg.models.uplift.calibrator import fit_calibration, heldout_check
from upseg.models.uplift.criteria import guarded_choice
from upseg.models.uplift.learners import approaches_for
from upseg.models.uplift.metrics import qini_auc
from upseg.models.uplift.model import UpliftModel
from upseg.models.uplift.selection import Selection, holdout_split, select_approach

REPO = Path(__file__).resolve().parents[1]
#: The choices compared: the Qini's (before issue 13), the DR loss's simplest within
#: one standard error (issue 13 to 19), its cheapest to score (the default since).
CHOICES = ("qini", "simplest", "default")


def run_case(data, case: str, seed: int, rows: int | None) -> dict[str, Any]:
    """One target, case and seed: both choices' held-out Qini and the default's sizes."""
    frame = _case_frame(data, case)
    if rows is not None and rows < len(frame):
        frame = frame.sample(rows, random_state=seed).reset_index(drop=True)
    train_pos, test_pos = holdout_split(frame, test_size=TEST_SIZE, random_state=seed)
    train, test = frame.iloc[train_pos], frame.iloc[test_pos]
    features = list(data.features)
    selection = select_approach(
        train,
        features=data.features,
        categorical=data.categorical,
        control=CONTROL,
        outcome=data.kind,
        approaches=approaches_for(data.kind),
        random_state=seed,
    )
    first = selection.scores[selection.scores["repeat"] == 0].drop(columns=["repeat", "loss"])
    assert selection.losses is not None
    picks = {
        "qini": Selection("", first).summary()["approach"].iloc[0],
        "simplest": guarded_choice(selection.losses, prefer="simplest")[0],
        "default": selection.best,
    }
    arm, y = test["arm"].to_numpy(dtype=object), test["outcome"].to_numpy(dtype=float)
    out: dict[str, Any] = {"case": case, "seed": seed}
    for name, approach in picks.items():
        model = UpliftModel(
            approach=approach,
            outcome=data.kind,
            control=CONTROL,
            categorical=data.categorical,
            random_state=seed,
        ).fit(train.loc[:, features], train["outcome"], train["arm"])
        qini = []
        for variant in CASES[case]:
            keep = (arm == CONTROL) | (arm == variant)
            uplift = model.variant_uplift(test.loc[keep, features], variant)
            qini.append(qini_auc(y[keep], uplift, (arm[keep] == variant).astype(int)))
        out[name] = {
            "approach": approach,
            "qini_auc": float(np.mean(qini)),
            "trees": float(np.mean(list(model.prediction_trees().values()))),
        }
        if name == "default":
            model.calibrate(
                fit_calibration(train, model, features=data.features, random_state=seed)
            )
            sizes = heldout_check(model, test)
            out[name]["ratio"] = float((sizes["predicted"] / sizes["realised"]).mean())
            out[name]["top_ratio"] = float((sizes["top_predicted"] / sizes["top_realised"]).mean())
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run every target x case x seed, print the comparison, write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--targets", nargs="+", default=["visit", "conversion"])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--rows", type=int, default=None, help="sample this many per case")
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "output" / "uplift_choice.json"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results: dict[str, list[dict[str, Any]]] = {}
    for target in args.targets:
        data = hillstrom_data(shared_data_dir() / HILLSTROM_FILE, target)
        for case in args.cases:
            runs = []
            for seed in args.seeds:
                progress(f"hillstrom {target} {case} seed {seed}")
                runs.append(run_case(data, case, seed, args.rows))
            results[f"{target} / {case}"] = runs
    lines = []
    for key, runs in results.items():
        cells = []
        for c in CHOICES:
            q = [r[c]["qini_auc"] for r in runs]
            trees = np.mean([r[c]["trees"] for r in runs])
            chosen = ", ".join(r[c]["approach"] for r in runs)
            cells.append(f"{np.mean(q):.4f} ± {np.std(q):.4f} ({chosen}; {trees:.0f} trees)")
        lines.append(
            f"| {key} | {' | '.join(cells)} | "
            f"{np.mean([r['default']['ratio'] for r in runs]):.2f} | "
            f"{np.mean([r['default']['top_ratio'] for r in runs]):.2f} |"
        )
    everyone = [r for runs in results.values() for r in runs]
    mean = {c: float(np.mean([r[c]["qini_auc"] for r in everyone])) for c in CHOICES}
    trees = {c: float(np.mean([r[c]["trees"] for r in everyone])) for c in CHOICES}
    seconds = time.perf_counter() - started
    m = machine()
    print(
        f"\nmachine: {m['arch']}, {m['cores']} cores; total {seconds:.0f} s; seeds {args.seeds}\n"
    )
    print(
        "| target / case | Qini choice: held-out Qini (approach per seed; trees per variant) | "
        "DR-loss, simplest within one SE | DR-loss, cheapest within one SE (the default) | "
        "calibrated pred ÷ realised | top 20% |\n| --- | --- | --- | --- | --- | --- |"
    )
    print("\n".join(lines))
    print(
        "\nmean held-out Qini (trees per variant): "
        + ", ".join(f"{c} {mean[c]:.4f} ({trees[c]:.0f})" for c in CHOICES)
    )
    payload = {"results": results, "mean": mean, "trees": trees, "seconds": seconds, "machine": m}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.out}")
    return payload


if __name__ == "__main__":
    main()
