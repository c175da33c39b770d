"""One self-contained HTML page from the results of an A/B analysis, for marketing analysts.

:func:`render_report` turns the payload the analysis writes to ``results.json``
into HTML and :func:`write_report` writes it atomically. The page needs nothing
but a browser: the CSS is embedded, there is no JavaScript, every figure is a
matplotlib PNG inlined as a ``data:`` URI, and a Content-Security-Policy forbids
loading anything else, so it opens the same offline, attached to an e-mail or
archived for years. Every string of the payload is HTML-escaped: segment values
come from customer data.

The ``format_*`` helpers are the only place numbers become text, so a test can
look for every number of the results exactly as the page shows it:

- missing numbers (NaN, or None after a JSON round trip) show as :data:`DASH`;
- means of 0/1 outcomes are rates in percent (``0.57%``) and their lifts are in
  percentage points (``+0.68``); amounts and their lifts have two decimals;
- relative lifts, MDEs and shares are fractions shown in percent (``+119.3%``);
  ``roi_pct`` is already in percent;
- p-values below 0.001 show as ``<0.001``, others with three significant digits.
"""

from typing import TYPE_CHECKING

from upseg._lazy import lazy_exports

if TYPE_CHECKING:
    from upseg.experiments.report.format import (
        DASH,
        format_ci,
        format_count,
        format_float,
        format_lift,
        format_p,
        format_roi,
        format_share,
        format_value,
        is_missing,
    )
    from upseg.experiments.report.page import render_report, write_report
    from upseg.experiments.report.payload import RESULT_KEYS, ReportPayloadError

# Each name imports its submodule on first access (PEP 562), so importing one
# submodule of this package does not import the others.
_EXPORTS = {
    "DASH": "format",
    "format_ci": "format",
    "format_count": "format",
    "format_float": "format",
    "format_lift": "format",
    "format_p": "format",
    "format_roi": "format",
    "format_share": "format",
    "format_value": "format",
    "is_missing": "format",
    "render_report": "page",
    "write_report": "page",
    "RESULT_KEYS": "payload",
    "ReportPayloadError": "payload",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "DASH",
    "RESULT_KEYS",
    "ReportPayloadError",
    "format_ci",
    "format_count",
    "format_float",
    "format_lift",
    "format_p",
    "format_roi",
    "format_share",
    "format_value",
    "is_missing",
    "render_report",
    "write_report",
]
