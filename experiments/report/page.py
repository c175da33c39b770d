"""The whole page: every section in order, and its atomic write to disk."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from upseg.experiments.report._appendix import (
    _cuped_section,
    _data_section,
    _how_to_read,
    _parameters_section,
    _power_section,
    _roi_section,
    _skipped_section,
    _srm_section,
)
from upseg.experiments.report._html import _e, _slug
from upseg.experiments.report._outcomes import _outcome_section
from upseg.experiments.report._style import _CSP, _CSS
from upseg.experiments.report._summary import _header, _nav, _srm_banner, _summary
from upseg.experiments.report._targeting import _targeting_section
from upseg.experiments.report.payload import ReportPayloadError, _payload_problems, _setup

__all__ = ["render_report", "write_report"]


def render_report(payload: dict, *, title: str | None = None) -> str:
    """The HTML report of an experiment analysis, as one self-contained page.

    Parameters
    ----------
    payload : dict
        What the analysis writes to ``results.json``: ``parameters``, ``counts``,
        ``srm``, ``results`` (tidy rows with the keys of :data:`RESULT_KEYS`),
        ``skipped``, ``power``, ``cuped``, ``roi`` and ``targeting`` (None when no
        audience was attached). Sections other than the first three may be absent.
        Numbers may be NaN or None.
    title : str, optional
        Page title; ``Experiment report — <campaign or source>`` by default.

    Returns
    -------
    str
        The HTML text: embedded CSS and PNG figures, no script, no external resource.

    Raises
    ------
    ReportPayloadError
        The payload lacks a required section, parameter or result column; every
        problem is listed.
    """
    problems = _payload_problems(payload)
    if problems:
        raise ReportPayloadError(
            f"The report payload has {len(problems)} problem(s): {'; '.join(problems)}. "
            "Expected the dict the analysis writes to results.json."
        )
    setup = _setup(payload)
    parameters = payload["parameters"]
    name = parameters.get("campaign") or parameters.get("source") or "experiment"
    title = title if title is not None else f"Experiment report — {name}"
    cuped_index = {
        (c.get("metric"), str(c.get("segment_by")), str(c.get("segment"))): c
        for c in payload.get("cuped") or []
    }
    targeting = payload.get("targeting")
    outcome_sections = [_outcome_section(payload, m, setup, cuped_index) for m in setup.outcomes]
    sections = [
        ("summary", "Summary"),
        *((f"outcome-{_slug(m)}", m) for m in setup.outcomes),
        *([("targeting", "Targeting")] if targeting else []),
        ("roi", "ROI"),
        ("power", "Power"),
        ("cuped", "CUPED"),
        ("skipped", "Skipped"),
        ("data", "Data"),
        ("srm", "SRM"),
        ("parameters", "Parameters"),
        ("how-to-read", "How to read"),
    ]
    body = [
        _header(payload, title),
        _srm_banner(payload.get("srm") or []),
        _nav(sections),
        _summary(payload, setup),
        *outcome_sections,
        _targeting_section(targeting, setup) if targeting else "",
        _roi_section(payload.get("roi") or [], parameters, setup),
        _power_section(payload.get("power") or [], parameters, setup),
        _cuped_section(payload.get("cuped") or [], setup),
        _skipped_section(payload.get("skipped") or [], setup),
        _data_section(payload["counts"], parameters, payload.get("notes") or []),
        _srm_section(payload.get("srm") or [], setup),
        _parameters_section(parameters),
        _how_to_read(),
        f"<footer>upseg {_e(parameters.get('code_version', ''))} · "
        f"{_e(parameters.get('generated_at', ''))}</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f'<title>{_e(title)}</title><link rel="icon" href="data:,">'
        f"<style>{_CSS}</style></head>\n<body><main>{''.join(body)}</main></body></html>\n"
    )


def write_report(payload: dict, path: Path, *, title: str | None = None) -> Path:
    """Render the report and write it to ``path`` atomically.

    The page is written to a temporary file in the same folder and renamed over
    ``path``, so a reader sees the old report or the new one, never half of one.

    Parameters
    ----------
    payload : dict
        See :func:`render_report`.
    path : Path
        The HTML file to create or replace; its folder is created if needed.
    title : str, optional
        See :func:`render_report`.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    text = render_report(payload, title=title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
