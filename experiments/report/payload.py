"""The payload the analysis writes to ``results.json``: its checks, and the rows in page order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from upseg.errors import UpsegError
from upseg.experiments.analysis import RESULT_COLUMNS
from upseg.experiments.report.format import number_or_none

__all__ = ["RESULT_KEYS", "ReportPayloadError"]

RESULT_KEYS = RESULT_COLUMNS
"""The columns of every row of ``results`` (and of ``targeting["send_vs_holdout"]``)."""
_REQUIRED_PARAMETERS = ("arms", "outcomes", "alpha", "correction")
_CORRECTIONS = {"bh": "Benjamini–Hochberg", "holm": "Holm", "none": "no correction"}
# Display order within a segment and arm: each test, then its CUPED row, the bootstrap last.
_METHODS = {
    "z_test": "z-test",
    "cuped_z_test": "CUPED z-test",
    "welch": "Welch t-test",
    "cuped_welch": "CUPED Welch t-test",
    "bootstrap": "bootstrap",
}
_BINARY_METHODS = ("z_test", "cuped_z_test")
_OVERALL = "overall"


class ReportPayloadError(UpsegError, ValueError):
    """The payload is not the results of an analysis."""


@dataclass(frozen=True)
class _Setup:
    """What every section needs to know about the analysis."""

    arms: tuple[str, ...]
    outcomes: tuple[str, ...]
    kinds: dict[str, str]
    by: tuple[str, ...]
    alpha: float
    correction: str
    resamples: Any


def _payload_problems(payload: Any) -> list[str]:
    """Everything that keeps ``payload`` from being rendered (empty if nothing)."""
    if not isinstance(payload, Mapping):
        return [f"the payload must be a dict; got {type(payload).__name__}"]
    problems = [
        f"'{key}' is missing" for key in ("parameters", "counts", "results") if key not in payload
    ]
    parameters = payload.get("parameters", {})
    if not isinstance(parameters, Mapping):
        problems.append(f"'parameters' must be a dict; got {type(parameters).__name__}")
    else:
        missing = [key for key in _REQUIRED_PARAMETERS if key not in parameters]
        if missing:
            problems.append(f"'parameters' lacks {', '.join(map(repr, missing))}")
    results = payload.get("results", [])
    if not isinstance(results, list):
        return [*problems, f"'results' must be a list of rows; got {type(results).__name__}"]
    bad = []
    for i, row in enumerate(results):
        missing = [key for key in RESULT_KEYS if not isinstance(row, Mapping) or key not in row]
        if missing:
            bad.append(f"results[{i}] lacks {', '.join(map(repr, missing))}")
    more = [f"and {len(bad) - 3} more rows like these"] if len(bad) > 3 else []
    return [*problems, *bad[:3], *more, *_calibration_problems(payload.get("targeting"))]


_JUDGED_KEYS = ("n_arm", "n_control", "deciles", "calibration", "conversions", "value")
_DECILE_KEYS = (
    "decile",
    "n_arm",
    "n_control",
    "predicted",
    "realised",
    "realised_ci_low",
    "realised_ci_high",
    "covers",
)


def _calibration_problems(targeting: Any) -> list[str]:
    """Why ``targeting["predicted_vs_realised"]`` cannot be shown (empty if fine or absent)."""
    if not isinstance(targeting, Mapping) or targeting.get("predicted_vs_realised") is None:
        return []  # results.json written before the block existed, or without an audience
    block, where = targeting["predicted_vs_realised"], "targeting.predicted_vs_realised"
    if not isinstance(block, Mapping) or not isinstance(block.get("arms"), list):
        return [f"'{where}' must be a dict with a list of 'arms'"]
    problems = []
    for i, entry in enumerate(block["arms"]):
        if not isinstance(entry, Mapping) or "arm" not in entry:
            problems.append(f"'{where}' arms[{i}] lacks 'arm'")
            continue
        if "reason" in entry:  # not judged, and says why
            continue
        missing = [key for key in _JUDGED_KEYS if key not in entry]
        deciles = entry.get("deciles")
        if not missing and not isinstance(deciles, list):
            problems.append(f"'{where}' arms[{i}] 'deciles' must be a list of rows")
            continue
        for row in deciles if isinstance(deciles, list) and not missing else []:
            missing += [
                key for key in _DECILE_KEYS if not isinstance(row, Mapping) or key not in row
            ]
        if missing:
            problems.append(
                f"'{where}' arms[{i}] lacks {', '.join(map(repr, dict.fromkeys(missing)))}"
            )
    return problems


def _setup(payload: Mapping) -> _Setup:
    parameters = payload["parameters"]
    results = payload["results"]
    kinds = dict(parameters.get("outcome_kinds") or {})
    metrics = [*parameters["outcomes"], *(row["metric"] for row in results)]
    for metric in metrics:
        if metric not in kinds:
            binary = any(r["metric"] == metric and r["method"] in _BINARY_METHODS for r in results)
            kinds[metric] = "binary" if binary else "continuous"
    return _Setup(
        arms=tuple(str(arm) for arm in parameters["arms"]),
        outcomes=tuple(dict.fromkeys(metrics)),
        kinds=kinds,
        by=tuple(str(column) for column in parameters.get("by") or ()),
        alpha=float(parameters["alpha"]),
        correction=_CORRECTIONS.get(parameters["correction"], str(parameters["correction"])),
        resamples=parameters.get("bootstrap_resamples"),
    )


def _significant(row: Mapping, alpha: float) -> bool | None:
    """Significant after adjustment at ``alpha``; None without an adjusted p-value."""
    value = number_or_none(row.get("p_value_adjusted"))
    return None if value is None else value < alpha


def _after(setup: _Setup, *, alpha: bool = False) -> str:
    """``after Benjamini–Hochberg`` (``at α = 0.05 after …``), or ``at α = 0.05`` if uncorrected."""
    if setup.correction == "no correction":
        return f"at α = {setup.alpha:g}"
    return (f"at α = {setup.alpha:g} " if alpha else "") + f"after {setup.correction}"


def _sorted(rows: Sequence[Mapping], setup: _Setup) -> list[Mapping]:
    """Rows by metric, segmentation (overall first, then ``by``), segment, arm and method."""
    segmentations = [_OVERALL, *setup.by]
    first_seen: dict[tuple[str, str], int] = {}
    for i, row in enumerate(rows):
        segmentation = str(row.get("segment_by", _OVERALL))
        if segmentation not in segmentations:
            segmentations.append(segmentation)
        first_seen.setdefault((segmentation, str(row.get("segment"))), i)

    def key(item: tuple[int, Mapping]) -> tuple:
        i, row = item
        segmentation = str(row.get("segment_by", _OVERALL))
        return (
            _rank(setup.outcomes, row.get("metric")),
            segmentations.index(segmentation),
            first_seen[(segmentation, str(row.get("segment")))],
            _rank(setup.arms, row.get("arm")),
            _rank(_METHODS, row.get("method")),
            i,
        )

    return [row for _, row in sorted(enumerate(rows), key=key)]


def _primary(rows: Sequence[Mapping]) -> list[Mapping]:
    """The first row (in method order) of each metric, segment and arm: the unadjusted test."""
    chosen: dict[tuple, Mapping] = {}
    for row in rows:
        key = (row["metric"], str(row["segment_by"]), str(row["segment"]), str(row["arm"]))
        best = chosen.get(key)
        if best is None or _rank(_METHODS, row["method"]) < _rank(_METHODS, best["method"]):
            chosen[key] = row
    kept = {id(row) for row in chosen.values()}
    return [row for row in rows if id(row) in kept]


def _rank(options: Iterable[str], value: Any) -> int:
    """Position of ``str(value)`` in ``options``; unknown values last."""
    options = list(options)
    return options.index(str(value)) if str(value) in options else len(options)


def _segment_name(row: Mapping) -> str:
    """``rfm_segment = Champions``, or ``all customers`` for the overall population."""
    if str(row.get("segment_by")) == _OVERALL:
        return "all customers"
    return f"{row.get('segment_by')} = {row.get('segment')}"
