"""Reading a policy's custom rules: segment names, conditions and their operands."""

from __future__ import annotations

import math
from typing import Any

from upseg.serving.policy._checks import (
    _MISSING,
    _choice,
    _is_number,
    _mapping,
    _one_of,
    _Problems,
    _string,
    _suggest,
)
from upseg.serving.policy.schema import (
    _ORDERING,
    _SEPARATOR,
    OPERATORS,
    RULE_ACTIONS,
    Condition,
    Rule,
)

__all__: list[str] = []

_RULE_KEYS = ("segment", "when", "action", "description")


def _rules(node: Any, p: _Problems) -> tuple[Rule, ...] | None:
    """The ``rules`` list: each rule's segment, conditions, action and description."""
    if node is _MISSING or node is None:
        return ()
    if not isinstance(node, list):
        p.add("rules", "wrong type", "a list of rules, each {segment, when, action}", node)
        return None
    rules: list[Rule] = []
    first_use: dict[str, int] = {}
    ok = True
    for i, item in enumerate(node):
        path = f"rules[{i}]"
        rule = _mapping(item, path, _RULE_KEYS, p, "a rule")
        if rule is None:
            ok = False
            continue
        expected_name = f"a non-empty name without {_SEPARATOR.strip()!r}"
        segment = _string(rule, "segment", f"{path}.segment", p, expected_name)
        if segment is not None and _SEPARATOR.strip() in segment:
            p.add(
                f"{path}.segment",
                f"{_SEPARATOR.strip()!r} is reserved for built-in segment names",
                expected_name,
                segment,
            )
            segment = None
        elif segment is not None and segment in first_use:
            p.add(
                f"{path}.segment",
                f"duplicate segment name (also rules[{first_use[segment]}])",
                "a name no other rule uses",
                segment,
            )
            segment = None
        elif segment is not None:
            first_use[segment] = i
        conditions = _conditions(rule.get("when", _MISSING), f"{path}.when", p)
        action = _choice(rule, "action", f"{path}.action", RULE_ACTIONS, p, what="unknown action")
        description = rule.get("description", "")
        if not isinstance(description, str):
            p.add(f"{path}.description", "wrong type", "a string", description)
            description = None
        if segment is None or conditions is None or action is None or description is None:
            ok = False
        else:
            rules.append(Rule(segment, conditions, action, description))
    return tuple(rules) if ok else None


def _conditions(node: Any, path: str, p: _Problems) -> tuple[Condition, ...] | None:
    """A rule's ``when``: one :class:`Condition` per column and operator."""
    example = "a mapping of column to tests, e.g. {open_rate_90d: {gte: 0.3}}"
    if node is _MISSING:
        p.add(path, "missing", example, node)
        return None
    if not isinstance(node, dict):
        p.add(path, "wrong type", example, node)
        return None
    if not node:
        p.add(path, "empty: a rule without conditions would match everyone", example, node)
        return None
    out: list[Condition] = []
    ok = True
    for column, tests in node.items():
        cpath = f"{path}.{column}"
        if not isinstance(column, str):
            p.add(path, "a column name must be a string", "a column name", column)
            ok = False
            continue
        if not isinstance(tests, dict) or not tests:
            p.add(cpath, "wrong type", "a mapping of operator to value, e.g. {gte: 0.3}", tests)
            ok = False
            continue
        for op, value in tests.items():
            if op not in OPERATORS:
                p.add(
                    cpath,
                    f"unknown operator {str(op)!r}{_suggest(op, OPERATORS)}",
                    _one_of(OPERATORS),
                    op,
                )
                ok = False
                continue
            checked = _operand(op, value, f"{cpath}.{op}", p)
            if checked is _MISSING:
                ok = False
            else:
                out.append(Condition(column, op, checked))
    return tuple(out) if ok else None


def _scalar_kind(value: Any) -> str | None:
    """``number`` (booleans included), ``string``, or None for anything else or NaN."""
    if isinstance(value, bool) or _is_number(value):
        return None if isinstance(value, float) and math.isnan(value) else "number"
    return "string" if isinstance(value, str) else None


def _normal(value: Any) -> Any:
    """0.0 and 0 compare alike, so they hash alike."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _operand(op: str, value: Any, path: str, p: _Problems) -> Any:
    """The validated value of one test, or _MISSING after reporting a problem."""
    if op in ("is_null", "not_null"):
        if value is True:
            return True
        p.add(path, "wrong value", "true", value)
    elif op in _ORDERING:
        if _is_number(value) and not math.isnan(value):
            return _normal(value)
        p.add(path, "wrong type", "a number", value)
    elif op in ("eq", "ne"):
        if value is None:
            p.add(
                path,
                "null never equals anything",
                "a number, string or boolean (or is_null)",
                value,
            )
        elif _scalar_kind(value) is None:
            p.add(path, "wrong type", "a number, string or boolean", value)
        else:
            return _normal(value)
    else:  # in, not_in
        expected = "a non-empty list of numbers or of strings"
        if not isinstance(value, list) or not value:
            p.add(
                path, "wrong type" if not isinstance(value, list) else "empty list", expected, value
            )
        elif None in {_scalar_kind(v) for v in value} or len({_scalar_kind(v) for v in value}) > 1:
            p.add(path, "mixed or unsupported values", expected, value)
        else:
            return tuple(_normal(v) for v in value)
    return _MISSING
