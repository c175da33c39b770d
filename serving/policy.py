"""Campaign policies: priority segments from a declarative YAML file.

A policy is data, evaluated by one small engine. Every scored customer gets an
uplift quadrant, a churn risk and a value tier; together they name a built-in
segment such as ``persuadable · high churn · VIP``. Custom rules come before
that grid, in order, and the first that matches names the segment instead. A
sleeping dog (an e-mail lowers their chance to buy) is never sent, whatever
the segment. Suppression, holdout and budget are applied by the scorer, but
their settings live in the same file, so one file and one digest describe how
a campaign picks its audience. The schema is documented in ``docs/policy.md``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from numpy.typing import ArrayLike
from upseg.errors import UpsegError

__all__ = [
    "ACTIONS",
    "CHURN_RISKS",
    "DEFAULT_POLICY_PATH",
    "DERIVED_COLUMNS",
    "OPERATORS",
    "OUTPUT_COLUMNS",
    "QUADRANTS",
    "SCORE_COLUMNS",
    "VALUE_TIERS",
    "Actions",
    "Budget",
    "ChurnRiskThresholds",
    "Condition",
    "Holdout",
    "Policy",
    "PolicyError",
    "Rule",
    "Suppression",
    "UpliftThresholds",
    "ValueTier",
    "assign_segments",
    "builtin_segment_name",
    "load_policy",
    "parse_policy",
    "policy_digest",
    "vip_cut",
]

DEFAULT_POLICY_PATH = Path(__file__).with_name("default_policy.yaml")

QUADRANTS = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")
CHURN_RISKS = ("high", "medium", "low", "unknown")
VALUE_TIERS = ("VIP", "standard")
ACTIONS = ("send", "skip")
OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "is_null", "not_null")

#: Columns of the scored frame the engine itself reads.
SCORE_COLUMNS = ("uplift", "purchase_probability", "churn_probability")
#: Columns the engine computes before the rules run; rules may test them too.
DERIVED_COLUMNS = ("uplift_quadrant", "churn_risk", "value_tier")
#: Columns of :func:`assign_segments`'s result, in order.
OUTPUT_COLUMNS = (
    "priority_segment",
    "uplift_quadrant",
    "churn_risk",
    "value_tier",
    "policy_action",
    "policy_reason",
    "matched_rule",
)

_SEPARATOR = " · "
_SUPPORTED_VERSIONS = (1,)
_ORDERING = ("lt", "lte", "gt", "gte")
_PANDAS_OP = {"eq": "eq", "ne": "ne", "lt": "lt", "lte": "le", "gt": "gt", "gte": "ge"}
_MISSING = object()
# share × n is floored; without the nudge 0.29 × 100 floors to 28.
_SHARE_EPS = 1e-9


# --------------------------------------------------------------------------- the policy


@dataclass(frozen=True)
class UpliftThresholds:
    """Where the uplift quadrants start (uplift in probability points, -1 to 1)."""

    persuadable_min: float
    sleeping_dog_max: float
    sure_thing_min_purchase: float


@dataclass(frozen=True)
class ChurnRiskThresholds:
    """Lower bounds of the high and medium churn-risk bands on ``churn_probability``."""

    high_min: float
    medium_min: float


@dataclass(frozen=True)
class ValueTier:
    """VIP = the top ``vip_share`` of scored customers by ``spend_column``."""

    vip_share: float
    spend_column: str


@dataclass(frozen=True)
class Suppression:
    """Setting of the suppression step (applied by the scorer, before everything)."""

    hard_bounce_min: int


@dataclass(frozen=True)
class Holdout:
    """Share of would-be recipients kept as a no-e-mail control (0: no holdout)."""

    share: float


@dataclass(frozen=True)
class Budget:
    """At most ``max_sends`` e-mails, each worth more than ``cost_per_send`` (None: no limit)."""

    max_sends: int | None
    cost_per_send: float | None


@dataclass(frozen=True)
class Actions:
    """Base action of each uplift quadrant: ``"send"`` or ``"skip"``."""

    persuadable: str
    sure_thing: str
    lost_cause: str
    sleeping_dog: str


@dataclass(frozen=True)
class Condition:
    """One test of a rule: ``column <op> value`` (``value`` is a tuple for in/not_in)."""

    column: str
    op: str
    value: Any


@dataclass(frozen=True)
class Rule:
    """A custom segment: every condition must hold; the first matching rule wins."""

    segment: str
    conditions: tuple[Condition, ...]
    action: str
    description: str = ""


@dataclass(frozen=True)
class Policy:
    """A validated policy; build it with :func:`load_policy` or :func:`parse_policy`.

    ``source`` names the file in error messages and is not part of equality or
    of :func:`policy_digest`.
    """

    version: int
    uplift: UpliftThresholds
    churn_risk: ChurnRiskThresholds
    value_tier: ValueTier
    suppression: Suppression
    holdout: Holdout
    budget: Budget
    actions: Actions
    rules: tuple[Rule, ...] = ()
    source: str = field(default="<policy>", compare=False)

    @property
    def segment_names(self) -> tuple[str, ...]:
        """Every segment this policy can assign: rule segments in order, then the grid."""
        grid = (
            builtin_segment_name(q, c, t)
            for q in QUADRANTS
            for c in CHURN_RISKS
            for t in VALUE_TIERS
        )
        return (*(rule.segment for rule in self.rules), *grid)

    def check_columns(self, columns: Iterable[str]) -> None:
        """Raise :class:`PolicyError` naming every column the policy needs that is not given.

        Parameters
        ----------
        columns : iterable of str
            The columns of the scored frame. Rules may also test
            :data:`DERIVED_COLUMNS`, which the engine adds itself.
        """
        problems = _column_problems(self, list(columns))
        if problems:
            raise PolicyError(problems, self.source)

    def to_dict(self) -> dict[str, Any]:
        """The policy as plain data, normalised: what :func:`policy_digest` hashes."""
        return {
            "version": self.version,
            "uplift": vars(self.uplift).copy(),
            "churn_risk": vars(self.churn_risk).copy(),
            "value_tier": vars(self.value_tier).copy(),
            "suppression": vars(self.suppression).copy(),
            "holdout": vars(self.holdout).copy(),
            "budget": vars(self.budget).copy(),
            "actions": vars(self.actions).copy(),
            "rules": [
                {
                    "segment": rule.segment,
                    "when": _when_dict(rule.conditions),
                    "action": rule.action,
                    "description": rule.description,
                }
                for rule in self.rules
            ],
        }


def _when_dict(conditions: Iterable[Condition]) -> dict[str, dict[str, Any]]:
    """Conditions as ``{column: {op: value}}``, sorted: a conjunction's order means nothing."""
    when: dict[str, dict[str, Any]] = {}
    for c in sorted(conditions, key=lambda c: (c.column, c.op)):
        value = sorted(c.value) if isinstance(c.value, tuple) else c.value
        when.setdefault(c.column, {})[c.op] = value
    return when


def builtin_segment_name(quadrant: str, churn_risk: str, value_tier: str) -> str:
    """``"<quadrant> · <churn risk> churn · <tier>"``, e.g. ``"persuadable · high churn · VIP"``."""
    return f"{quadrant}{_SEPARATOR}{churn_risk} churn{_SEPARATOR}{value_tier}"


class PolicyError(UpsegError, ValueError):
    """A policy that cannot be used; ``problems`` holds one line per problem found.

    Each line reads ``<file>: <key path>: <what is wrong>; expected <allowed>; got <given>``.
    """

    def __init__(self, problems: Sequence[str] | str, source: str | None = None):
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        self.source = source
        n = len(self.problems)
        head = "1 problem" if n == 1 else f"{n} problems"
        where = f" {source}" if source else ""
        super().__init__(
            f"{head} in policy{where}:\n" + "\n".join(f"  - {p}" for p in self.problems)
        )

    def __reduce__(self):
        return (type(self), (self.problems, self.source))


# --------------------------------------------------------------------------- loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice, which PyYAML would silently overwrite."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep=False):
    loader.flatten_mapping(node)
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # an unhashable key: construct_mapping reports it below
            break
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def load_policy(path: Path | str | None = None) -> Policy:
    """Read and validate a policy file; ``None`` reads the shipped default policy.

    Raises
    ------
    PolicyError
        For invalid YAML (with its line) and for every schema problem, together.
    FileNotFoundError
        When the file does not exist.
    """
    path = DEFAULT_POLICY_PATH if path is None else Path(path)
    source = str(path)
    text = path.read_text(encoding="utf-8")
    try:
        mapping = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise PolicyError([_yaml_problem(source, text, exc)], source) from None
    return parse_policy(mapping, source)


def _yaml_problem(source: str, text: str, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return f"{source}: (file): invalid YAML: {exc}; expected valid YAML; got unreadable text"
    lines = text.splitlines()
    line = lines[mark.line].strip() if mark.line < len(lines) else ""
    what = exc.problem or "invalid YAML"
    if exc.context:
        what = f"{what} ({exc.context})"
    return (
        f"{source}: line {mark.line + 1}, column {mark.column + 1}: invalid YAML: {what}; "
        f"expected valid YAML; got {line!r}"
    )


# --------------------------------------------------------------------------- validation


class _Problems:
    """Collects problems as ``<source>: <path>: <what>; expected <allowed>; got <given>``."""

    def __init__(self, source: str):
        self.source = source
        self.lines: list[str] = []

    def add(self, path: str, what: str, expected: str, got: Any) -> None:
        self.lines.append(f"{self.source}: {path}: {what}; expected {expected}; got {_show(got)}")


def _show(value: Any) -> str:
    """A value as the user wrote it in YAML, shortened."""
    if value is _MISSING:
        return "nothing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return repr(value)
    kind = {dict: "mapping", list: "list"}.get(type(value), type(value).__name__)
    text = repr(value)
    return f"a {kind} {text[:57] + '...' if len(text) > 60 else text}"


def _one_of(options: Iterable[str]) -> str:
    return "one of " + ", ".join(options)


def _suggest(word: Any, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _mapping(node: Any, path: str, keys: Sequence[str], p: _Problems, what: str) -> dict | None:
    """``node`` if it is a mapping (unknown keys reported), else None after a problem."""
    if node is _MISSING:
        p.add(path, "missing", f"a mapping with keys {', '.join(keys)}", _MISSING)
        return None
    if not isinstance(node, dict):
        p.add(path, f"wrong type for {what}", f"a mapping with keys {', '.join(keys)}", node)
        return None
    for key in node:
        if key not in keys:
            p.add(
                path,
                f"unknown key {str(key)!r}{_suggest(key, keys)}",
                _one_of(keys),
                key,
            )
    return node


@dataclass(frozen=True)
class _Range:
    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False

    def __str__(self) -> str:
        if math.isinf(self.hi):
            return f"a number {'>' if self.lo_open else '>='} {_num(self.lo)}"
        left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
        return f"a number in {left}{_num(self.lo)}, {_num(self.hi)}{right}"

    def __contains__(self, x: float) -> bool:
        above = x > self.lo if self.lo_open else x >= self.lo
        below = x < self.hi if self.hi_open else x <= self.hi
        return above and below


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(
    section: dict, key: str, path: str, rng: _Range, p: _Problems, *, or_null: bool = False
) -> float | None:
    value = section.get(key, _MISSING)
    expected = f"{rng}, or null for no limit" if or_null else str(rng)
    if value is _MISSING:
        p.add(path, "missing", expected, value)
    elif not _is_number(value) or math.isnan(value):
        p.add(path, "wrong type", expected, value)
    elif value not in rng:
        p.add(path, "out of range", expected, value)
    else:
        return float(value)
    return None


def _integer(
    section: dict, key: str, path: str, minimum: int, p: _Problems, *, or_null: bool = False
) -> int | None:
    value = section.get(key, _MISSING)
    expected = f"an integer >= {minimum}" + (", or null for no limit" if or_null else "")
    if value is _MISSING:
        p.add(path, "missing", expected, value)
    elif not isinstance(value, int) or isinstance(value, bool):
        p.add(path, "wrong type", expected, value)
    elif value < minimum:
        p.add(path, "out of range", expected, value)
    else:
        return value
    return None


def _string(section: dict, key: str, path: str, p: _Problems, expected: str) -> str | None:
    value = section.get(key, _MISSING)
    if value is _MISSING:
        p.add(path, "missing", expected, value)
    elif not isinstance(value, str) or not value.strip():
        p.add(path, "wrong type" if not isinstance(value, str) else "empty", expected, value)
    else:
        return value
    return None


def _choice(section: dict, key: str, path: str, options: Sequence[str], p: _Problems):
    value = section.get(key, _MISSING)
    if value is _MISSING:
        p.add(path, "missing", _one_of(options), value)
    elif value not in options:
        what = "unknown action" if options == ACTIONS else "unknown value"
        p.add(path, f"{what}{_suggest(value, options)}", _one_of(options), value)
    else:
        return value
    return None


_TOP_KEYS = (
    "version",
    "uplift",
    "churn_risk",
    "value_tier",
    "suppression",
    "holdout",
    "budget",
    "actions",
    "rules",
)
_UPLIFT_KEYS = ("persuadable_min", "sleeping_dog_max", "sure_thing_min_purchase")
_CHURN_KEYS = ("high_min", "medium_min")
_VALUE_KEYS = ("vip_share", "spend_column")
_SUPPRESSION_KEYS = ("hard_bounce_min",)
_HOLDOUT_KEYS = ("share",)
_BUDGET_KEYS = ("max_sends", "cost_per_send")
_RULE_KEYS = ("segment", "when", "action", "description")
_PROBABILITY = _Range(0.0, 1.0)
_SHARE = _Range(0.0, 1.0, lo_open=True, hi_open=True)
_COST = _Range(0.0, math.inf, hi_open=True)
_COLUMN = "a column name of the scored frame"


def parse_policy(mapping: Any, source: str = "<policy>") -> Policy:
    """Validate a policy given as plain data (e.g. loaded YAML) and build it.

    Parameters
    ----------
    mapping : Any
        The parsed YAML document.
    source : str
        Names the policy in error messages, usually its file path.

    Raises
    ------
    PolicyError
        Listing every problem found, not only the first.
    """
    p = _Problems(source)
    if mapping is None:
        p.add("top level", "empty policy", f"a mapping with keys {', '.join(_TOP_KEYS)}", _MISSING)
        raise PolicyError(p.lines, p.source)
    top = _mapping(mapping, "top level", _TOP_KEYS, p, "a policy")
    if top is None:
        raise PolicyError(p.lines, p.source)

    version = top.get("version", _MISSING)
    if not (type(version) is int and version in _SUPPORTED_VERSIONS):
        what = "missing" if version is _MISSING else "unsupported version"
        p.add("version", what, _one_of(map(str, _SUPPORTED_VERSIONS)), version)

    uplift = _uplift(top.get("uplift", _MISSING), p)
    churn = _churn(top.get("churn_risk", _MISSING), p)
    value = _value_tier(top.get("value_tier", _MISSING), p)
    suppression = _suppression(top.get("suppression", _MISSING), p)
    holdout = _holdout(top.get("holdout", _MISSING), p)
    budget = _budget(top.get("budget", _MISSING), p)
    actions = _actions(top.get("actions", _MISSING), p)
    rules = _rules(top.get("rules", _MISSING), p)

    if p.lines:
        raise PolicyError(p.lines, p.source)
    return Policy(
        version=version,
        uplift=uplift,
        churn_risk=churn,
        value_tier=value,
        suppression=suppression,
        holdout=holdout,
        budget=budget,
        actions=actions,
        rules=rules,
        source=source,
    )


def _uplift(node: Any, p: _Problems) -> UpliftThresholds | None:
    s = _mapping(node, "uplift", _UPLIFT_KEYS, p, "the uplift quadrants")
    if s is None:
        return None
    persuadable = _number(s, "persuadable_min", "uplift.persuadable_min", _Range(0.0, 1.0), p)
    sleeping = _number(s, "sleeping_dog_max", "uplift.sleeping_dog_max", _Range(-1.0, 0.0), p)
    sure = _number(s, "sure_thing_min_purchase", "uplift.sure_thing_min_purchase", _PROBABILITY, p)
    if persuadable is not None and sleeping is not None and persuadable <= sleeping:
        p.add(
            "uplift.persuadable_min",
            "must be above uplift.sleeping_dog_max, or a customer would be both",
            f"a number > {_num(sleeping)}",
            persuadable,
        )
    if None in (persuadable, sleeping, sure):
        return None
    return UpliftThresholds(persuadable, sleeping, sure)


def _churn(node: Any, p: _Problems) -> ChurnRiskThresholds | None:
    s = _mapping(node, "churn_risk", _CHURN_KEYS, p, "the churn-risk bands")
    if s is None:
        return None
    high = _number(s, "high_min", "churn_risk.high_min", _PROBABILITY, p)
    medium = _number(s, "medium_min", "churn_risk.medium_min", _PROBABILITY, p)
    if high is not None and medium is not None and high <= medium:
        p.add(
            "churn_risk.high_min",
            "must be above churn_risk.medium_min",
            f"a number > {_num(medium)}",
            high,
        )
    if high is None or medium is None:
        return None
    return ChurnRiskThresholds(high, medium)


def _value_tier(node: Any, p: _Problems) -> ValueTier | None:
    s = _mapping(node, "value_tier", _VALUE_KEYS, p, "the value tier")
    if s is None:
        return None
    share = _number(s, "vip_share", "value_tier.vip_share", _SHARE, p)
    column = _string(s, "spend_column", "value_tier.spend_column", p, _COLUMN)
    return None if share is None or column is None else ValueTier(share, column)


def _suppression(node: Any, p: _Problems) -> Suppression | None:
    s = _mapping(node, "suppression", _SUPPRESSION_KEYS, p, "the suppression settings")
    if s is None:
        return None
    bounces = _integer(s, "hard_bounce_min", "suppression.hard_bounce_min", 1, p)
    return None if bounces is None else Suppression(bounces)


def _holdout(node: Any, p: _Problems) -> Holdout | None:
    s = _mapping(node, "holdout", _HOLDOUT_KEYS, p, "the holdout settings")
    if s is None:
        return None
    share = _number(s, "share", "holdout.share", _Range(0.0, 1.0, hi_open=True), p)
    return None if share is None else Holdout(share)


def _budget(node: Any, p: _Problems) -> Budget | None:
    s = _mapping(node, "budget", _BUDGET_KEYS, p, "the budget")
    if s is None:
        return None
    # Here null is a setting (no limit), so a missing key is still a problem.
    max_sends = cost = None
    ok = True
    if s.get("max_sends", _MISSING) is not None:
        max_sends = _integer(s, "max_sends", "budget.max_sends", 1, p, or_null=True)
        ok = max_sends is not None
    if s.get("cost_per_send", _MISSING) is not None:
        cost = _number(s, "cost_per_send", "budget.cost_per_send", _COST, p, or_null=True)
        ok = ok and cost is not None
    return Budget(max_sends, cost) if ok else None


def _actions(node: Any, p: _Problems) -> Actions | None:
    s = _mapping(node, "actions", QUADRANTS, p, "the quadrant actions")
    if s is None:
        return None
    chosen = {q: _choice(s, q, f"actions.{q}", ACTIONS, p) for q in QUADRANTS}
    if chosen["sleeping_dog"] == "send":
        p.add(
            "actions.sleeping_dog",
            "sleeping dogs are never sent (the e-mail lowers their chance to buy)",
            "skip",
            "send",
        )
        return None
    return None if None in chosen.values() else Actions(**chosen)


def _rules(node: Any, p: _Problems) -> tuple[Rule, ...] | None:
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
        action = _choice(rule, "action", f"{path}.action", ACTIONS, p)
        description = rule.get("description", "")
        if not isinstance(description, str):
            p.add(f"{path}.description", "wrong type", "a string", description)
            description = None
        if None in (segment, conditions, action, description):
            ok = False
        else:
            rules.append(Rule(segment, conditions, action, description))
    return tuple(rules) if ok else None


def _conditions(node: Any, path: str, p: _Problems) -> tuple[Condition, ...] | None:
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


def _column_problems(policy: Policy, columns: list[str]) -> list[str]:
    p = _Problems(policy.source)
    available = set(columns)
    listed = ", ".join(columns[:8]) + (", ..." if len(columns) > 8 else "")

    def missing(path: str, column: str, extra: Sequence[str] = ()) -> None:
        expected = f"one of the frame's {len(columns)} columns ({listed})"
        if extra:
            expected += f" or of the engine's ({', '.join(extra)})"
        hint = _suggest(column, [*columns, *extra])
        p.add(path, f"no column {column!r} in the scored frame{hint}", expected, column)

    for i, rule in enumerate(policy.rules):
        for column in dict.fromkeys(c.column for c in rule.conditions):
            if column not in available and column not in DERIVED_COLUMNS:
                missing(f"rules[{i}].when.{column}", column, DERIVED_COLUMNS)
    if policy.value_tier.spend_column not in available:
        missing("value_tier.spend_column", policy.value_tier.spend_column)
    return p.lines


# --------------------------------------------------------------------------- the engine


def assign_segments(
    frame: pd.DataFrame, policy: Policy, *, vip_threshold: float | None = None
) -> pd.DataFrame:
    """The priority segment and action of every scored customer.

    Vectorised over rows; the only Python loop is over the policy's rules.

    Parameters
    ----------
    frame : DataFrame of shape (n_customers, n_columns)
        The scorer's output: :data:`SCORE_COLUMNS`, ``value_tier.spend_column``
        and every column a rule tests.
    policy : Policy
    vip_threshold : float, optional
        VIP means spend above this. By default it is :func:`vip_cut` of this
        frame; a scorer that segments the customer base in chunks computes the
        cut over the whole base once and passes it to every chunk.

    Returns
    -------
    DataFrame of shape (n_customers, 7)
        :data:`OUTPUT_COLUMNS` on ``frame``'s index, all categorical:
        ``priority_segment`` (the matched rule's segment, else the built-in
        ``"<quadrant> · <risk> churn · <tier>"``), ``uplift_quadrant``,
        ``churn_risk``, ``value_tier``, ``policy_action`` (``send``/``skip``;
        a sleeping dog is always ``skip``), ``policy_reason`` (why ``skip``:
        ``sleeping_dog``, the quadrant, or ``rule:<segment>``; ``""`` for
        ``send``) and ``matched_rule`` (``""`` when no rule matched).

    Raises
    ------
    ValueError
        When a score column is missing, not numeric, or has missing values
        in ``uplift`` or ``purchase_probability``.
    PolicyError
        When a rule tests a column that is absent or of an incompatible type.
    """
    absent = [c for c in SCORE_COLUMNS if c not in frame.columns]
    if absent:
        raise ValueError(
            f"assign_segments needs the scorer's columns {', '.join(SCORE_COLUMNS)}; "
            f"missing {', '.join(absent)}"
        )
    problems = _column_problems(policy, list(map(str, frame.columns)))
    if problems:
        raise PolicyError(problems, policy.source)

    uplift = _scores(frame, "uplift", allow_missing=False)
    purchase = _scores(frame, "purchase_probability", allow_missing=False)
    churn = _scores(frame, "churn_probability", allow_missing=True)
    spend = _scores(frame, policy.value_tier.spend_column, allow_missing=True)

    t = policy.uplift
    sleeping = uplift <= t.sleeping_dog_max
    quadrant = np.select(
        [sleeping, uplift >= t.persuadable_min, purchase >= t.sure_thing_min_purchase],
        [3, 0, 1],
        default=2,
    ).astype(np.int8)
    c = policy.churn_risk
    risk = np.select(
        [churn >= c.high_min, churn >= c.medium_min, churn < c.medium_min], [0, 1, 2], default=3
    ).astype(np.int8)  # NaN fails every comparison: "unknown"
    if vip_threshold is None:
        vip_threshold = vip_cut(spend, policy.value_tier.vip_share)
    tier = np.where((spend > vip_threshold) & (spend > 0), 0, 1).astype(np.int8)

    def categorical(codes: np.ndarray, names: Sequence[str]) -> pd.Series:
        return pd.Series(pd.Categorical.from_codes(codes, categories=names), index=frame.index)

    derived = {
        "uplift_quadrant": categorical(quadrant, QUADRANTS),
        "churn_risk": categorical(risk, CHURN_RISKS),
        "value_tier": categorical(tier, VALUE_TIERS),
    }
    matched = _first_matching_rule(frame, derived, policy)
    ruled = matched >= 0

    skip = ACTIONS.index("skip")
    by_quadrant = np.array([ACTIONS.index(getattr(policy.actions, q)) for q in QUADRANTS])
    action = by_quadrant[quadrant].astype(np.int8)
    if policy.rules:
        by_rule = np.array([ACTIONS.index(r.action) for r in policy.rules], dtype=np.int8)
        action[ruled] = by_rule[matched[ruled]]
    action[sleeping] = skip  # whatever a rule says

    # Reasons: "" (send), then the quadrants, then "rule:<segment>" per rule.
    reason = np.where(ruled, 1 + len(QUADRANTS) + matched, 1 + quadrant)
    reason[sleeping] = 1 + QUADRANTS.index("sleeping_dog")
    reason[action != skip] = 0
    n_rules = len(policy.rules)
    segment = np.where(ruled, matched, n_rules + quadrant * 8 + risk * 2 + tier)
    return pd.DataFrame(
        {
            "priority_segment": categorical(segment, policy.segment_names),
            **derived,
            "policy_action": categorical(action, ACTIONS),
            "policy_reason": categorical(
                reason, ["", *QUADRANTS, *(f"rule:{r.segment}" for r in policy.rules)]
            ),
            "matched_rule": categorical(matched + 1, ["", *(r.segment for r in policy.rules)]),
        },
        index=frame.index,
    )


def _scores(frame: pd.DataFrame, column: str, *, allow_missing: bool) -> np.ndarray:
    series = frame[column]
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise ValueError(
            f"assign_segments: column {column!r} must be numeric; got dtype {series.dtype}"
        )
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if not allow_missing:
        n_missing = int(np.isnan(values).sum())
        if n_missing:
            raise ValueError(
                f"assign_segments: column {column!r} must be scored for every customer; "
                f"got {n_missing} missing of {len(values)}"
            )
    return values


def vip_cut(spend: ArrayLike, share: float) -> float:
    """The spend a VIP must exceed: the top ``share`` of customers, never more.

    With n customers (missing spend included), k = floor(share × n) may be VIP.
    The cut is the (k+1)-th largest positive spend, so a group tied at the cut
    is left out whole; 0 when at most k spend anything; +inf when k is 0.
    In SQL: ``SELECT spend FROM t WHERE spend > 0 ORDER BY spend DESC LIMIT 1
    OFFSET k``, or 0 when that returns no row.

    Parameters
    ----------
    spend : array-like of shape (n_customers,)
        Spend per customer, e.g. ``monetary_365d``; NaN for unknown.
    share : float
        ``value_tier.vip_share``, in (0, 1).
    """
    values = np.asarray(spend, dtype=np.float64)
    k = math.floor(share * len(values) + _SHARE_EPS)
    positive = values[values > 0]
    if k == 0:
        return math.inf
    if positive.size <= k:
        return 0.0
    m = positive.size - k - 1  # ascending position of the (k+1)-th largest
    return float(np.partition(positive, m)[m])


def _first_matching_rule(
    frame: pd.DataFrame, derived: Mapping[str, pd.Series], policy: Policy
) -> np.ndarray:
    """Index of the first rule each row matches, -1 for none."""

    def column(name: str) -> pd.Series:
        return derived[name] if name in derived else frame[name]

    problems = _Problems(policy.source)
    for i, rule in enumerate(policy.rules):
        for cond in rule.conditions:
            _check_operand_type(
                column(cond.column), cond, f"rules[{i}].when.{cond.column}", problems
            )
    if problems.lines:
        raise PolicyError(problems.lines, policy.source)

    matched = np.full(len(frame), -1, dtype=np.int32)
    unmatched = np.ones(len(frame), dtype=bool)
    for i, rule in enumerate(policy.rules):
        mask = unmatched.copy()
        for cond in rule.conditions:
            mask &= _condition_mask(column(cond.column), cond)
        matched[mask] = i
        unmatched &= ~mask
    return matched


def _column_kind(series: pd.Series) -> str:
    """'number', 'string', 'category', 'datetime' or 'other' (object: not checked)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    return "other"


def _check_operand_type(series: pd.Series, cond: Condition, path: str, p: _Problems) -> None:
    if cond.op in ("is_null", "not_null"):
        return
    kind = _column_kind(series)
    holds = f"column holds {kind} values (dtype {series.dtype})"
    if kind == "datetime":
        p.add(f"{path}.{cond.op}", f"the {holds}", "is_null or not_null", cond.op)
    elif cond.op in _ORDERING and kind != "number":
        p.add(
            f"{path}.{cond.op}",
            f"the operator compares numbers but the {holds}",
            "a numeric column, or one of eq, ne, in, not_in, is_null, not_null",
            cond.op,
        )
    elif kind == "category":
        categories = series.cat.categories
        inner = "number" if pd.api.types.is_numeric_dtype(categories.dtype) else "string"
        _check_values(cond, inner, f"{path}.{cond.op}", f"the column holds {inner} categories", p)
    elif kind in ("number", "string"):
        _check_values(cond, kind, f"{path}.{cond.op}", f"the {holds}", p)


def _check_values(cond: Condition, kind: str, path: str, what: str, p: _Problems) -> None:
    values = cond.value if isinstance(cond.value, tuple) else (cond.value,)
    if any(_scalar_kind(v) != kind for v in values):
        expected = "a number or boolean" if kind == "number" else "a string (quote it in YAML)"
        p.add(path, what, expected, list(values) if isinstance(cond.value, tuple) else cond.value)


def _condition_mask(series: pd.Series, cond: Condition) -> np.ndarray:
    """Rows where the condition holds; a missing value never matches except is_null."""
    if cond.op == "is_null":
        return series.isna().to_numpy()
    present = series.notna().to_numpy()
    if cond.op == "not_null":
        return present
    if cond.op == "in":
        hit = series.isin(list(cond.value))
    elif cond.op == "not_in":
        hit = ~series.isin(list(cond.value))
    else:
        hit = getattr(series, _PANDAS_OP[cond.op])(cond.value)
    return hit.to_numpy(dtype=bool, na_value=False) & present


def policy_digest(policy: Policy) -> str:
    """SHA-256 of the normalised policy: comments, key order and file name do not change it."""
    text = json.dumps(policy.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
