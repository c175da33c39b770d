"""One section per outcome: the lift figure and the table of every test of it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from upseg.experiments.report._figures import _image, _lift_figure
from upseg.experiments.report._html import (
    _Cell,
    _Column,
    _e,
    _Html,
    _section,
    _segment_attributes,
    _segment_cell,
    _segmentation_heading,
    _sign,
    _slug,
    _table,
)
from upseg.experiments.report.format import (
    DASH,
    format_ci,
    format_count,
    format_lift,
    format_p,
    format_share,
    format_value,
)
from upseg.experiments.report.payload import _METHODS, _after, _Setup, _significant, _sorted


def _comparison(row: Mapping) -> tuple[str, str, str, str]:
    return (row["metric"], str(row["segment_by"]), str(row["segment"]), str(row["arm"]))


def _with_ci(value: Any, low: Any, high: Any, kind: str) -> tuple[_Html, str]:
    """A lift and its interval in one cell, coloured by the sign of the lift."""
    ci = format_ci(low, high, kind)
    shown = "" if ci == DASH else f' <span class="ci">{_e(ci)}</span>'
    # the cell may break between the lift and its interval, never inside either
    return _Html(f'<span class="nowrap">{_e(format_lift(value, kind))}</span>{shown}'), (
        _sign(value) + " breakable"
    ).strip()


def _results_columns(
    kind: str, setup: _Setup, cuped: Mapping[tuple, Mapping], followers: set[int]
) -> list[_Column]:
    """The columns of a results table; ``followers`` are rows refining the row above them."""
    what = "rate" if kind == "binary" else "mean"

    def test(row: Mapping) -> _Html:
        method = str(row["method"])
        name = ("↳ " if id(row) in followers else "") + _METHODS.get(method, method)
        note = ""
        if method.startswith("cuped"):
            entry = cuped.get(_comparison(row)[:3], {})
            note = (
                f"variance −{format_share(entry.get('variance_reduction'))}, "
                f"{entry.get('covariate', 'covariate unknown')}"
            )
        elif method == "bootstrap":
            note = f"{format_count(setup.resamples)} resamples"
        note_html = f' <span class="note">{_e(note)}</span>' if note else ""
        return _Html(f'<span class="nowrap">{_e(name)}</span>{note_html}')

    def star(row: Mapping) -> _Html:
        if not _significant(row, setup.alpha):
            return _Html("")
        title = f"significant {_after(setup, alpha=True)}"
        return _Html(f'<span class="star" title="{_e(title)}">★</span>')

    def unless_follower(cell: Callable[[Mapping], _Cell]) -> Callable[[Mapping], _Cell]:
        return lambda row: "" if id(row) in followers else cell(row)

    return [
        _Column("Segment", False, unless_follower(_segment_cell)),
        _Column("Arm", False, unless_follower(lambda r: (str(r["arm"]), "nowrap"))),
        _Column("Test", False, test),
        _Column("Customers (arm)", True, lambda r: format_count(r["n_arm"])),
        _Column("Customers (control)", True, lambda r: format_count(r["n_control"])),
        _Column(f"Control {what}", True, lambda r: format_value(r["mean_control"], kind)),
        _Column(f"Arm {what}", True, lambda r: format_value(r["mean_arm"], kind)),
        _Column(
            f"Lift{' (pp)' if kind == 'binary' else ''} [95% CI]",
            True,
            lambda r: _with_ci(r["abs_lift"], r["abs_lift_ci_low"], r["abs_lift_ci_high"], kind),
        ),
        _Column(
            "Relative lift [95% CI]",
            True,
            lambda r: _with_ci(
                r["rel_lift"], r["rel_lift_ci_low"], r["rel_lift_ci_high"], "relative"
            ),
        ),
        _Column("p", True, lambda r: format_p(r["p_value"])),
        _Column("Adjusted p", True, lambda r: format_p(r["p_value_adjusted"])),
        _Column("Sig.", False, star),
    ]


def _results_table(
    rows: Sequence[Mapping], metric: str, setup: _Setup, cuped: Mapping, *, css: str
) -> str:
    kind = setup.kinds.get(metric, "continuous")
    controls = ", ".join(dict.fromkeys(str(r["control"]) for r in rows))
    followers = {
        id(row)
        for above, row in zip(rows, rows[1:], strict=False)
        if _comparison(above) == _comparison(row)
    }

    def attributes(row: Mapping) -> dict[str, Any]:
        classes = [
            "sig" if _significant(row, setup.alpha) else "",
            "variant" if id(row) in followers else "",
        ]
        return {
            **_segment_attributes(row),
            "data-control": row["control"],
            "class": " ".join(c for c in classes if c),
        }

    return _table(
        rows,
        _results_columns(kind, setup, cuped, followers),
        attributes={"class": css, "data-metric": metric, "id": f"{css}-{_slug(metric)}"},
        row_attributes=attributes,
        group=_segmentation_heading,
        caption=f"{metric}: each arm vs {controls}. ★ = significant {_after(setup, alpha=True)}; "
        "indented rows refine the test above them.",
    )


def _outcome_section(payload: Mapping, metric: str, setup: _Setup, cuped: Mapping) -> str:
    rows = _sorted([r for r in payload["results"] if r["metric"] == metric], setup)
    kind = setup.kinds[metric]
    described = "a rate (0/1 outcome)" if kind == "binary" else "an amount per customer"
    figure = _lift_figure(rows, metric, kind, setup)
    image = (
        _image(
            figure,
            f"Lift in {metric} by segment with 95% error bars",
            f"Lift in {metric} by segment and arm (unadjusted test), 95% confidence intervals. "
            "A bar that crosses the zero line is compatible with no effect.",
        )
        if figure
        else ""
    )
    table = (
        _results_table(rows, metric, setup, cuped, css="results")
        if rows
        else '<p class="empty">No comparison of this outcome was tested.</p>'
    )
    return _section(
        f"outcome-{_slug(metric)}",
        f"Outcome: {metric}",
        image + table,
        intro=f"{metric} is {described}. Rows by segment; CUPED and bootstrap rows follow the "
        "test they refine.",
    )
