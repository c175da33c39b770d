"""The only place numbers become text: one formatter per kind of number on the page.

Missing numbers (NaN, or None after a JSON round trip) show as :data:`DASH`.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "DASH",
    "format_ci",
    "format_count",
    "format_float",
    "format_lift",
    "format_p",
    "format_roi",
    "format_share",
    "format_value",
    "is_missing",
    "number_or_none",
]

DASH = "—"
"""How a missing number (NaN or None) is shown."""


def is_missing(value: Any) -> bool:
    """Whether ``value`` is a missing number: None or NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def number_or_none(value: Any) -> float | None:
    """``value`` as a float, or None if it is a missing number (see :func:`is_missing`)."""
    return None if is_missing(value) else float(value)


def _number(value: Any, spec: str, *, scale: float = 1.0, suffix: str = "") -> str:
    """``value * scale`` formatted with ``spec`` and ``suffix``; :data:`DASH` if missing."""
    if is_missing(value):
        return DASH
    value = float(value) * scale
    if math.isinf(value):
        return ("+" if "+" in spec and value > 0 else "-" if value < 0 else "") + "∞"
    return f"{value:{spec}}{suffix}"


def format_count(value: Any) -> str:
    """A number of customers with thousands separators; one decimal if not whole (``21,306.5``)."""
    if not is_missing(value) and float(value) != math.floor(float(value)):
        return _number(value, ",.1f")
    return _number(value, ",.0f")


def format_value(value: Any, kind: str) -> str:
    """A mean: a rate in percent for a ``binary`` outcome (``1.25%``), else an amount (``1.42``)."""
    if kind == "binary":
        return _number(value, ".2f", scale=100, suffix="%")
    return _number(value, ",.2f")


def format_lift(value: Any, kind: str) -> str:
    """A signed lift: percentage points (``binary``), an amount (``continuous``) or ``relative``.

    Parameters
    ----------
    value : float or None
        Difference of means (``binary``, ``continuous``) or a ratio minus one (``relative``).
    kind : {"binary", "continuous", "relative"}

    Returns
    -------
    str
        ``+0.68`` (points, without unit), ``-1,234.50`` or ``+119.3%``; :data:`DASH` if missing.
    """
    if kind == "binary":
        return _number(value, "+.2f", scale=100)
    if kind == "relative":
        return _number(value, "+,.1f", scale=100, suffix="%")
    return _number(value, "+,.2f")


def format_ci(low: Any, high: Any, kind: str) -> str:
    """A confidence interval ``[low, high]`` of lifts (see :func:`format_lift`)."""
    if is_missing(low) and is_missing(high):
        return DASH
    return f"[{format_lift(low, kind)}, {format_lift(high, kind)}]"


def format_p(value: Any) -> str:
    """A p-value: ``<0.001`` below 0.001, else three significant digits (``0.0123``, ``0.500``)."""
    if not is_missing(value) and float(value) < 0.001:
        return "<0.001"
    return _number(value, "#.3g")


def format_share(value: Any) -> str:
    """A fraction in percent with one decimal (``23.4%``), e.g. a variance reduction."""
    return _number(value, ".1f", scale=100, suffix="%")


def format_roi(value: Any) -> str:
    """A return on investment already in percent, signed (``+670.1%``)."""
    return _number(value, "+,.1f", suffix="%")


def format_float(value: Any) -> str:
    """Any other number: four significant digits, or a whole number with separators from 1,000."""
    if not is_missing(value) and abs(float(value)) >= 1000:
        return _number(value, ",.0f")
    return _number(value, ".4g")


def _p_phrase(value: Any) -> str:
    """``p < 0.001`` or ``p = 0.0123`` for a sentence."""
    text = format_p(value)
    return "p < 0.001" if text == "<0.001" else f"p = {text}"
