"""HTML building blocks: escaping, tables with grouped rows, sections."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from upseg.experiments.report.format import is_missing
from upseg.experiments.report.payload import _OVERALL


class _Html(str):
    """Markup that is already safe; every other string is escaped."""


def _e(value: Any) -> str:
    """``value`` as escaped text, or as is if it is already markup."""
    return value if isinstance(value, _Html) else html.escape(str(value), quote=True)


def _attrs(attributes: Mapping[str, Any]) -> str:
    return "".join(f' {name}="{_e(value)}"' for name, value in attributes.items() if value != "")


def _slug(text: str) -> str:
    """An id-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-") or "x"


def _sign(value: Any) -> str:
    """``pos`` or ``neg`` by the sign of ``value``, for the colour of a lift."""
    if is_missing(value) or float(value) == 0:
        return ""
    return "pos" if float(value) > 0 else "neg"


_Cell = str | tuple[str, str]
"""A table cell: its text, or its text and a CSS class."""


@dataclass(frozen=True)
class _Column:
    """A table column: its header, whether it holds numbers, and its cell for a row."""

    header: str
    numeric: bool
    cell: Callable[[Mapping], _Cell]


def _table(
    rows: Sequence[Mapping],
    columns: Sequence[_Column],
    *,
    attributes: Mapping[str, Any],
    row_attributes: Callable[[Mapping], Mapping[str, Any]] = lambda row: {},
    group: Callable[[Mapping], str] | None = None,
    caption: str = "",
) -> str:
    """A scrollable table with a sticky header; a cell may be text or ``(text, class)``."""
    head = "".join(
        f'<th scope="col"{_attrs({"class": "num" if c.numeric else ""})}>{_e(c.header)}</th>'
        for c in columns
    )
    body, last = [], None
    for row in rows:
        label = group(row) if group else None
        if label is not None and label != last:
            body.append(
                f'<tr class="group"><th scope="rowgroup" colspan="{len(columns)}">'
                f"{_e(label)}</th></tr>"
            )
            last = label
        cells = []
        for column in columns:
            value = column.cell(row)
            text, extra = value if isinstance(value, tuple) else (value, "")
            classes = " ".join(c for c in ("num" if column.numeric else "", extra) if c)
            cells.append(f"<td{_attrs({'class': classes})}>{_e(text)}</td>")
        body.append(f"<tr{_attrs(row_attributes(row))}>{''.join(cells)}</tr>")
    caption_html = f"<caption>{_e(caption)}</caption>" if caption else ""
    return (
        f'<div class="table-wrap"><table{_attrs(attributes)}>{caption_html}'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _section(section_id: str, heading: str, content: str, *, intro: str = "") -> str:
    intro_html = f'<p class="intro">{_e(intro)}</p>' if intro else ""
    return f'<section id="{_e(section_id)}"><h2>{_e(heading)}</h2>{intro_html}{content}</section>'


def _segmentation_heading(row: Mapping) -> str:
    """Group heading of a row: ``All customers`` or ``By rfm_segment``."""
    segmentation = str(row.get("segment_by"))
    return "All customers" if segmentation == _OVERALL else f"By {segmentation}"


def _metric_heading(row: Mapping) -> str:
    """Group heading of a row of a table that mixes metrics: ``revenue · By rfm_segment``."""
    return f"{row.get('metric')} · {_segmentation_heading(row)}"


def _segment_cell(row: Mapping) -> str:
    return "all customers" if str(row.get("segment_by")) == _OVERALL else str(row.get("segment"))


def _segment_attributes(row: Mapping) -> dict[str, Any]:
    attributes = {"data-segment-by": row.get("segment_by"), "data-segment": row.get("segment")}
    for key in ("metric", "arm", "method"):
        if key in row:
            attributes[f"data-{key}"] = row[key]
    return attributes
