"""Trigger rules: what they are, and reading them from validated YAML.

A rule is a *start* (an event, or a firing of another rule that was sent), a
*wait* during which a *cancel* event stops it, *conditions* on what the
customer had done by the start, a *priority* and a *cooldown*. The shipped
rules are ``serving/default_triggers.yaml``; ``docs/triggers.md`` explains
each field. :func:`load_rules` reports every problem of a file at once, each as
``<file>: <key path>: <what is wrong>; expected <allowed>; got <given>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from upseg.features.contract import EMAIL_EVENT_TYPES, WEB_EVENT_TYPES
from upseg.serving.policy._checks import (
    _MISSING,
    ProblemsError,
    _choice,
    _integer,
    _mapping,
    _one_of,
    _Problems,
    _string,
)
from upseg.serving.policy.loading import read_yaml

__all__ = [
    "DEFAULT_RULES_PATH",
    "EVENT_TYPES",
    "MEASURES",
    "Condition",
    "EventMatch",
    "GapWait",
    "TriggerRule",
    "TriggerRules",
    "TriggerRulesError",
    "load_rules",
    "parse_duration",
    "parse_rules",
]

#: The rules shipped with upseg, used when none are given.
DEFAULT_RULES_PATH = Path(__file__).resolve().parent.parent / "default_triggers.yaml"
_SUPPORTED_VERSIONS = (1,)

#: The tables a rule can start from or be cancelled by, and their event types (orders:
#: completed orders; customers: the sign-up).
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "web_events": WEB_EVENT_TYPES,
    "email_events": EMAIL_EVENT_TYPES,
    "orders": (),
    "customers": (),
}
#: What a condition can test, each measured at the start event (that event included).
MEASURES = {
    "orders": "completed orders to date",
    "category_orders": "completed orders to date in the start's category",
    "engagements_365d": "opens and clicks in the 365 days up to the start",
    "usual_gap_days": "mean days between the customer's orders (in the category with same)",
    "days_since_signup": "days from sign-up to the start",
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d|w)\s*$")
_UNITS = {"m": "min", "h": "h", "d": "D", "w": "W"}
_DURATION_EXPECTED = "a duration such as 30m, 48h, 14d or 2w"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class TriggerRulesError(ProblemsError):
    """Trigger rules that cannot be used; ``problems`` holds one line per problem found.

    A rules file is configuration: the command line exits 2.
    """

    what = "trigger rules"
    exit_code = 2


@dataclass(frozen=True)
class EventMatch:
    """Rows of one table: ``event_types`` (empty: every row), optionally several in a window.

    ``at_least``/``within``: the event counts only when it is at least the
    ``at_least``-th of its kind within ``within`` (up to and including it).
    ``same_category``: for a start, those events share its category; for a
    cancel, only an event in the start's category cancels.
    """

    table: str
    event_types: tuple[str, ...] = ()
    at_least: int = 1
    within: pd.Timedelta | None = None
    same_category: bool = False

    def describe(self) -> str:
        """``web_events.add_to_cart``, ``orders``, ``customers.signup``."""
        if self.table == "customers":
            return "customers.signup"
        return self.table + ("." + "|".join(self.event_types) if self.event_types else "")


@dataclass(frozen=True)
class GapWait:
    """A wait of ``multiplier`` × the customer's usual gap between orders, less ``minus``."""

    multiplier: float
    minus: pd.Timedelta = pd.Timedelta(0)


@dataclass(frozen=True)
class Condition:
    """``measure`` (one of :data:`MEASURES`) within ``[minimum, maximum]``; None: no bound."""

    measure: str
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class TriggerRule:
    """One trigger; exactly one of ``start`` and ``after`` is set."""

    name: str
    priority: int
    wait: pd.Timedelta | GapWait
    cooldown: pd.Timedelta | None  # None: never fires twice for a customer
    start: EventMatch | None = None
    after: str | None = None
    cancel: tuple[EventMatch, ...] = ()
    when: tuple[Condition, ...] = ()

    @property
    def start_event(self) -> str:
        """What starts it, as the output's ``start_event`` names it."""
        return f"trigger.{self.after}" if self.after else self.start.describe()  # type: ignore[union-attr]


@dataclass(frozen=True)
class TriggerRules:
    """A validated rules file: the rules, and how late a firing may still be emitted."""

    rules: tuple[TriggerRule, ...]
    late_window: pd.Timedelta
    source: str = "<rules>"
    by_name: dict[str, TriggerRule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {r.name: r for r in self.rules})

    def stages(self) -> list[list[TriggerRule]]:
        """The rules in the order they are decided: those after another rule come after it."""
        stage_of: dict[str, int] = {}

        def depth(rule: TriggerRule) -> int:
            if rule.name not in stage_of:
                stage_of[rule.name] = (
                    0 if rule.after is None else depth(self.by_name[rule.after]) + 1
                )
            return stage_of[rule.name]

        out: list[list[TriggerRule]] = []
        for rule in self.rules:
            d = depth(rule)
            while len(out) <= d:
                out.append([])
            out[d].append(rule)
        return out

    def without_tables(self, absent: set[str]) -> tuple[TriggerRules, list[str]]:
        """These rules but those that read an ``absent`` table (or follow one that does)."""
        dropped: list[str] = []
        for stage in self.stages():
            for rule in stage:
                if rule.after in dropped or _tables_of(rule) & absent:
                    dropped.append(rule.name)
        kept = tuple(r for r in self.rules if r.name not in dropped)
        return TriggerRules(kept, self.late_window, self.source), dropped

    def tables(self) -> set[str]:
        """Every table a rule reads, for loading only those."""
        used = {"customers"}
        for rule in self.rules:
            used |= _tables_of(rule)
        return used


def _tables_of(rule: TriggerRule) -> set[str]:
    """The tables one rule reads (its start, cancels and conditions)."""
    matches = ([rule.start] if rule.start else []) + list(rule.cancel)
    used = {m.table for m in matches}
    if isinstance(rule.wait, GapWait) or any(
        c.measure in ("orders", "category_orders", "usual_gap_days") for c in rule.when
    ):
        used.add("orders")
    if any(c.measure == "engagements_365d" for c in rule.when):
        used.add("email_events")
    return used


def parse_duration(value: Any) -> pd.Timedelta | None:
    """``48h`` → 48 hours; None for anything that is not a positive duration."""
    if isinstance(value, bool) or not isinstance(value, str):
        return None
    m = _DURATION.match(value)
    if not m or float(m.group(1)) <= 0:
        return None
    return pd.Timedelta(float(m.group(1)), unit=_UNITS[m.group(2)])


def load_rules(path: Path | str | None = None) -> TriggerRules:
    """Read and validate a rules file; ``None`` reads the shipped default rules.

    Raises
    ------
    TriggerRulesError
        For invalid YAML (with its line) and for every schema problem, together.
    FileNotFoundError
        When the file does not exist.
    """
    path = DEFAULT_RULES_PATH if path is None else Path(path)
    return parse_rules(read_yaml(path, TriggerRulesError), str(path))


_TOP_KEYS = ("version", "late_window", "triggers")
_RULE_KEYS = ("name", "priority", "start", "after", "wait", "cancel", "when", "cooldown")
_MATCH_KEYS = ("table", "event_type", "at_least", "within", "same")
_GAP_KEYS = ("usual_gap", "minus")
_BOUND_KEYS = ("min", "max")


def parse_rules(mapping: Any, source: str = "<rules>") -> TriggerRules:
    """Validate a parsed rules mapping (see ``docs/triggers.md``).

    Raises
    ------
    TriggerRulesError
        Listing every problem found.
    """
    p = _Problems(source)
    top = _mapping(mapping, "(file)", _TOP_KEYS, p, "the rules file")
    if top is None:
        raise TriggerRulesError(p.lines, source)
    version = top.get("version", _MISSING)
    if version not in _SUPPORTED_VERSIONS:
        p.add("version", "unsupported version", _one_of(map(str, _SUPPORTED_VERSIONS)), version)
    late = _duration(top.get("late_window", "2d"), "late_window", p)
    nodes = top.get("triggers", _MISSING)
    rules: list[TriggerRule] = []
    if not isinstance(nodes, list) or not nodes:
        p.add("triggers", "missing or empty", "a list of trigger rules", nodes)
    else:
        for i, node in enumerate(nodes):
            rule = _rule(node, f"triggers[{i}]", p)
            if rule is not None:
                rules.append(rule)
    _cross_checks(rules, p)
    if p.lines:
        raise TriggerRulesError(p.lines, source)
    assert late is not None
    return TriggerRules(tuple(rules), late, source)


def _duration(value: Any, path: str, p: _Problems) -> pd.Timedelta | None:
    parsed = parse_duration(value)
    if parsed is None:
        p.add(path, "not a duration", _DURATION_EXPECTED, value)
    return parsed


def _rule(node: Any, path: str, p: _Problems) -> TriggerRule | None:
    rule = _mapping(node, path, _RULE_KEYS, p, "a trigger rule")
    if rule is None:
        return None
    n = len(p.lines)
    name = _string(rule, "name", f"{path}.name", p, "a name in snake_case")
    if name is not None and not _NAME.match(name):
        p.add(f"{path}.name", "not snake_case", "lower-case letters, digits and _", name)
    where = f"triggers.{name}" if name else path
    priority = _integer(rule, "priority", f"{where}.priority", 1, p)
    has_start, has_after = "start" in rule, "after" in rule
    start = after = None
    if has_start == has_after:
        p.add(
            where,
            "needs exactly one of start and after",
            "start: {table: ...} or after: <rule>",
            node,
        )
    elif has_start:
        start = _match(rule["start"], f"{where}.start", p, is_start=True)
    else:
        after = _string(rule, "after", f"{where}.after", p, "the name of another trigger")
    wait = _wait(rule.get("wait", _MISSING), f"{where}.wait", p)
    if isinstance(wait, GapWait) and (start is None or start.table != "orders"):
        p.add(
            f"{where}.wait", "usual_gap needs orders", "a start on table orders", rule.get("wait")
        )
    cooldown_node = rule.get("cooldown", "never")
    cooldown = (
        None if cooldown_node == "never" else _duration(cooldown_node, f"{where}.cooldown", p)
    )
    cancels = rule.get("cancel", [])
    if not isinstance(cancels, list):
        p.add(f"{where}.cancel", "wrong type", "a list of events", cancels)
        cancels = []
    cancel = [_match(c, f"{where}.cancel[{j}]", p, is_start=False) for j, c in enumerate(cancels)]
    when = _conditions(rule.get("when", {}), f"{where}.when", p)
    if len(p.lines) > n:
        return None
    assert name is not None and priority is not None and wait is not None
    return TriggerRule(
        name, priority, wait, cooldown, start, after, tuple(c for c in cancel if c), when
    )


def _match(node: Any, path: str, p: _Problems, *, is_start: bool) -> EventMatch | None:
    m = _mapping(node, path, _MATCH_KEYS, p, "an event")
    if m is None:
        return None
    n = len(p.lines)
    table = _choice(m, "table", f"{path}.table", tuple(EVENT_TYPES), p, what="unknown table")
    types: tuple[str, ...] = ()
    raw = m.get("event_type", _MISSING)
    if table in ("web_events", "email_events"):
        values = [raw] if isinstance(raw, str) else raw
        allowed = EVENT_TYPES[table]
        if not isinstance(values, list) or not values or not all(v in allowed for v in values):
            p.add(
                f"{path}.event_type", "unknown event type", _one_of(allowed) + " (or a list)", raw
            )
        else:
            types = tuple(values)
    elif raw is not _MISSING:
        p.add(f"{path}.event_type", f"{table} has no event types", "no event_type", raw)
    at_least = _integer(m, "at_least", f"{path}.at_least", 1, p) if "at_least" in m else 1
    within = _duration(m["within"], f"{path}.within", p) if "within" in m else None
    if (at_least or 1) > 1 and within is None:
        p.add(f"{path}.within", "missing", "a duration when at_least > 1", _MISSING)
    if not is_start and ("at_least" in m or "within" in m):
        p.add(path, "a cancel is any one event", "no at_least or within", node)
    same = m.get("same", None)
    if same not in (None, "category"):
        p.add(f"{path}.same", "unknown value", "category", same)
    elif same == "category" and table not in ("web_events", "orders"):
        p.add(f"{path}.same", f"{table} has no category", "web_events or orders", same)
    if len(p.lines) > n or table is None:
        return None
    return EventMatch(table, types, at_least or 1, within, same == "category")


def _wait(node: Any, path: str, p: _Problems) -> pd.Timedelta | GapWait | None:
    if isinstance(node, dict):
        m = _mapping(node, path, _GAP_KEYS, p, "a wait")
        if m is None:
            return None
        value = m.get("usual_gap", _MISSING)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            p.add(f"{path}.usual_gap", "not a positive number", "a multiple such as 1.5", value)
            return None
        minus = _duration(m["minus"], f"{path}.minus", p) if "minus" in m else pd.Timedelta(0)
        return None if minus is None else GapWait(float(value), minus)
    if node is _MISSING:
        p.add(path, "missing", f"{_DURATION_EXPECTED}, or {{usual_gap: 1.5}}", _MISSING)
        return None
    return _duration(node, path, p)


def _conditions(node: Any, path: str, p: _Problems) -> tuple[Condition, ...]:
    m = _mapping(node, path, tuple(MEASURES), p, "conditions")
    if m is None:
        return ()
    out = []
    for measure, bounds in m.items():
        if measure not in MEASURES:
            continue
        b = _mapping(bounds, f"{path}.{measure}", _BOUND_KEYS, p, "bounds")
        if b is None:
            continue
        lo, hi = b.get("min"), b.get("max")
        for key, v in (("min", lo), ("max", hi)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                p.add(f"{path}.{measure}.{key}", "wrong type", "a number", v)
        if lo is None and hi is None:
            p.add(f"{path}.{measure}", "no bound", "min, max or both", bounds)
        out.append(Condition(measure, lo, hi))
    return tuple(out)


def _cross_checks(rules: list[TriggerRule], p: _Problems) -> None:
    names = [r.name for r in rules]
    for name in {n for n in names if names.count(n) > 1}:
        p.add(f"triggers.{name}", "name used twice", "distinct names", name)
    seen: dict[int, str] = {}
    for r in rules:
        if r.priority in seen:
            p.add(
                f"triggers.{r.name}.priority",
                f"same priority as {seen[r.priority]} (ties would be settled by name)",
                "distinct priorities; the higher wins",
                r.priority,
            )
        seen.setdefault(r.priority, r.name)
    by_name = {r.name: r for r in rules}
    for r in rules:
        if r.after is None:
            continue
        if r.after not in by_name:
            p.add(f"triggers.{r.name}.after", "unknown trigger", _one_of(names), r.after)
            continue
        chain, cur = {r.name}, by_name[r.after]
        while cur.after is not None and cur.name not in chain:
            chain.add(cur.name)
            cur = by_name.get(cur.after, cur)
        if cur.name in chain:
            p.add(
                f"triggers.{r.name}.after",
                "a cycle of after",
                "a rule that starts from an event",
                r.after,
            )
        if r.when:
            p.add(
                f"triggers.{r.name}.when",
                "a rule that follows another takes its conditions",
                f"no when (put conditions on {r.after})",
                [c.measure for c in r.when],
            )
    for r in rules:
        if r.start is not None and r.start.table != "orders":
            bad = [c.measure for c in r.when if c.measure in ("category_orders", "usual_gap_days")]
            if bad:
                p.add(
                    f"triggers.{r.name}.when",
                    "measured on the start order",
                    "a start on table orders",
                    bad,
                )
