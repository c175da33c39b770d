"""Reading a policy: YAML that refuses duplicate keys, then every section validated.

:func:`load_policy` and :func:`parse_policy` report every problem of a file at
once, each as ``<file>: <key path>: <what is wrong>; expected <allowed>; got
<given>`` (see :class:`~upseg.serving.policy.schema.PolicyError`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from upseg.serving.policy._checks import (
    _MISSING,
    NumberRange,
    ProblemsError,
    _choice,
    _integer,
    _mapping,
    _num,
    _number,
    _one_of,
    _Problems,
    _string,
)
from upseg.serving.policy.rules import _rules
from upseg.serving.policy.schema import (
    _CUT_TIERS,
    _SUPPORTED_VERSIONS,
    ACTIONS,
    COST_PER_SEND,
    HOLDOUT_SHARE,
    MAX_SENDS_MIN,
    QUADRANTS,
    Actions,
    Budget,
    ChurnRiskThresholds,
    FrequencyCap,
    Holdout,
    Policy,
    PolicyError,
    Suppression,
    UpliftThresholds,
    ValueTier,
)

__all__ = ["DEFAULT_POLICY_PATH", "load_policy", "parse_policy", "read_yaml"]

#: The policy shipped with upseg, used when none is given.
DEFAULT_POLICY_PATH = Path(__file__).resolve().parent.parent / "default_policy.yaml"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice, which PyYAML would silently overwrite."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep=False):
    """A mapping, refusing a key given twice."""
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
    return parse_policy(read_yaml(path, PolicyError), str(path))


def read_yaml(path: Path, error: type[ProblemsError]) -> Any:
    """The YAML of ``path``, refusing a key given twice; unreadable YAML raises ``error``.

    Raises
    ------
    ProblemsError
        ``error``, with the line and column where PyYAML stopped.
    FileNotFoundError
        When the file does not exist.
    """
    source = str(path)
    text = path.read_text(encoding="utf-8")
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise error([_yaml_problem(source, text, exc)], source) from None


def _yaml_problem(source: str, text: str, exc: yaml.YAMLError) -> str:
    """One problem line for unreadable YAML, with its line and column when PyYAML knows them."""
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return f"{source}: (file): invalid YAML: {exc}; expected valid YAML; got unreadable text"
    lines = text.splitlines()
    line = lines[mark.line].strip() if mark.line < len(lines) else ""
    what = getattr(exc, "problem", None) or "invalid YAML"
    context = getattr(exc, "context", None)
    if context:
        what = f"{what} ({context})"
    return (
        f"{source}: line {mark.line + 1}, column {mark.column + 1}: invalid YAML: {what}; "
        f"expected valid YAML; got {line!r}"
    )


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
_VALUE_KEYS = ("column", "shares", "amounts")
#: The value column when a policy does not name one: the CLV model's expected revenue.
_DEFAULT_VALUE_COLUMN = "clv"
#: The value-tier keys of earlier policies (VIP or standard by spend), refused with what
#: replaced them rather than read as something they did not mean.
_RETIRED_VALUE_KEYS = {
    "vip_share": "replaced by value_tier.shares.VIP (tiers VIP, high, medium, low; "
    "see docs/policy.md#value-tiers); remove it and set value_tier.shares or value_tier.amounts",
    "spend_column": "replaced by value_tier.column, the numeric column the tiers rank by "
    "(default clv; see docs/policy.md#value-tiers)",
}
_SUPPRESSION_KEYS = ("soft_bounce_streak", "frequency_cap")
_FREQUENCY_CAP_KEYS = ("max_emails", "window_days", "min_gap_hours")
_HOURS = NumberRange(0.0, math.inf, hi_open=True)
_CAP_EXPECTED = f"a mapping with keys {', '.join(_FREQUENCY_CAP_KEYS)}, or false for no cap"
#: The suppression key of earlier policies, refused with what replaced it: its rule
#: (lifetime bounces >= N) left every address that bounced once, and was never mailed
#: again, in the audience.
_RETIRED_HARD_BOUNCE = (
    "no longer a setting: an address whose last delivery attempt bounced is suppressed "
    "(hard_bounce) from its first bounce, a bounce typed hard is final, and soft bounces "
    "count in a row (see docs/policy.md#suppression); remove it and set "
    "suppression.soft_bounce_streak and suppression.frequency_cap"
)
_HOLDOUT_KEYS = ("share",)
_BUDGET_KEYS = ("max_sends", "cost_per_send")
_PROBABILITY = NumberRange(0.0, 1.0)
_SHARE = NumberRange(0.0, 1.0, lo_open=True, hi_open=True)
_AMOUNT = NumberRange(0.0, math.inf, lo_open=True)
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
    # Each section reader records a problem whenever it returns None, so none is None here.
    assert (
        uplift is not None
        and churn is not None
        and value is not None
        and suppression is not None
        and holdout is not None
        and budget is not None
        and actions is not None
        and rules is not None
    )
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
    """The ``uplift`` section: quadrant thresholds, persuadable above sleeping dog."""
    s = _mapping(node, "uplift", _UPLIFT_KEYS, p, "the uplift quadrants")
    if s is None:
        return None
    persuadable = _number(s, "persuadable_min", "uplift.persuadable_min", NumberRange(0.0, 1.0), p)
    sleeping = _number(s, "sleeping_dog_max", "uplift.sleeping_dog_max", NumberRange(-1.0, 0.0), p)
    sure = _number(s, "sure_thing_min_purchase", "uplift.sure_thing_min_purchase", _PROBABILITY, p)
    if persuadable is not None and sleeping is not None and persuadable <= sleeping:
        p.add(
            "uplift.persuadable_min",
            "must be above uplift.sleeping_dog_max, or a customer would be both",
            f"a number > {_num(sleeping)}",
            persuadable,
        )
    if persuadable is None or sleeping is None or sure is None:
        return None
    return UpliftThresholds(persuadable, sleeping, sure)


def _churn(node: Any, p: _Problems) -> ChurnRiskThresholds | None:
    """The ``churn_risk`` section: band bounds, high above medium."""
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
    """The ``value_tier`` section: the column, and the cuts as shares or as amounts."""
    if isinstance(node, dict):
        retired = [key for key in _RETIRED_VALUE_KEYS if key in node]
        for key in retired:
            expected = f"the keys {', '.join(_VALUE_KEYS)}"
            p.add(f"value_tier.{key}", _RETIRED_VALUE_KEYS[key], expected, key)
        node = {k: v for k, v in node.items() if k not in retired}
    s = _mapping(node, "value_tier", _VALUE_KEYS, p, "the value tiers")
    if s is None:
        return None
    column: str | None = _DEFAULT_VALUE_COLUMN
    if "column" in s:
        column = _string(s, "column", "value_tier.column", p, _COLUMN)
    given = [key for key in ("shares", "amounts") if key in s]
    if len(given) != 1:
        what = "both shares and amounts given" if given else "missing shares or amounts"
        expected = (
            "exactly one of shares (cumulative top shares of customers) "
            "or amounts (values above which a customer is in the tier)"
        )
        p.add("value_tier", what, expected, given or _MISSING)
    shares = _cuts(s["shares"], "shares", p) if "shares" in s else None
    amounts = _cuts(s["amounts"], "amounts", p) if "amounts" in s else None
    if column is None or len(given) != 1 or (shares is None and amounts is None):
        return None
    return ValueTier(column, shares=shares, amounts=amounts)


def _cuts(node: Any, key: str, p: _Problems) -> tuple[float, float, float] | None:
    """``value_tier.shares`` (increasing, in (0, 1)) or ``.amounts`` (decreasing, above 0)."""
    path = f"value_tier.{key}"
    if isinstance(node, dict) and "low" in node:
        what = "low takes no cut: it is everyone below the medium cut"
        p.add(f"{path}.low", what, _one_of(_CUT_TIERS), "low")
        node = {k: v for k, v in node.items() if k != "low"}
    s = _mapping(node, path, _CUT_TIERS, p, f"the tier {key}")
    if s is None:
        return None
    shares = key == "shares"
    rng = _SHARE if shares else _AMOUNT
    vip, high, medium = (_number(s, tier, f"{path}.{tier}", rng, p) for tier in _CUT_TIERS)
    ordered = True
    for above, upper, tier, lower in (("VIP", vip, "high", high), ("high", high, "medium", medium)):
        if upper is None or lower is None or (lower > upper if shares else lower < upper):
            continue
        if shares:
            what = f"must be above {path}.{above}: shares are cumulative"
            allowed = NumberRange(upper, 1.0, lo_open=True, hi_open=True)
        else:
            what = f"must be below {path}.{above}: a higher tier starts higher"
            allowed = NumberRange(0.0, upper, lo_open=True, hi_open=True)
        p.add(f"{path}.{tier}", what, str(allowed), lower)
        ordered = False
    if vip is None or high is None or medium is None or not ordered:
        return None
    return (vip, high, medium)


def _suppression(node: Any, p: _Problems) -> Suppression | None:
    """The ``suppression`` section: the soft-bounce streak and the frequency cap."""
    if isinstance(node, dict) and "hard_bounce_min" in node:
        expected = f"the keys {', '.join(_SUPPRESSION_KEYS)}"
        p.add("suppression.hard_bounce_min", _RETIRED_HARD_BOUNCE, expected, "hard_bounce_min")
        node = {k: v for k, v in node.items() if k != "hard_bounce_min"}
    s = _mapping(node, "suppression", _SUPPRESSION_KEYS, p, "the suppression settings")
    if s is None:
        return None
    streak = _integer(s, "soft_bounce_streak", "suppression.soft_bounce_streak", 1, p)
    ok, cap = _frequency_cap(s.get("frequency_cap", _MISSING), p)
    return None if streak is None or not ok else Suppression(streak, cap)


def _frequency_cap(node: Any, p: _Problems) -> tuple[bool, FrequencyCap | None]:
    """``suppression.frequency_cap``: whether it is valid, and the cap (None: ``false``, off)."""
    path = "suppression.frequency_cap"
    if node is False:  # the one way to turn it off; YAML also reads off and no as false
        return True, None
    if not isinstance(node, dict):
        if node is _MISSING:
            what = "missing"
        elif node is None:  # an empty key may be a slip: off must be said
            what = "null is not a setting here"
        else:
            what = "wrong type for the frequency cap"
        p.add(path, what, _CAP_EXPECTED, node)
        return False, None
    s = _mapping(node, path, _FREQUENCY_CAP_KEYS, p, "the frequency cap")
    assert s is not None  # a mapping
    most = _integer(s, "max_emails", f"{path}.max_emails", 1, p)
    days = _integer(s, "window_days", f"{path}.window_days", 1, p)
    gap = _number(s, "min_gap_hours", f"{path}.min_gap_hours", _HOURS, p)
    if most is None or days is None or gap is None:
        return False, None
    return True, FrequencyCap(most, days, gap)


def _holdout(node: Any, p: _Problems) -> Holdout | None:
    """The ``holdout`` section: the share, in :data:`HOLDOUT_SHARE`."""
    s = _mapping(node, "holdout", _HOLDOUT_KEYS, p, "the holdout settings")
    if s is None:
        return None
    share = _number(s, "share", "holdout.share", HOLDOUT_SHARE, p)
    return None if share is None else Holdout(share)


def _budget(node: Any, p: _Problems) -> Budget | None:
    """The ``budget`` section: max sends and cost per send, each or null."""
    s = _mapping(node, "budget", _BUDGET_KEYS, p, "the budget")
    if s is None:
        return None
    # Here null is a setting (no limit), so a missing key is still a problem.
    max_sends = cost = None
    ok = True
    if s.get("max_sends", _MISSING) is not None:
        max_sends = _integer(s, "max_sends", "budget.max_sends", MAX_SENDS_MIN, p, or_null=True)
        ok = max_sends is not None
    if s.get("cost_per_send", _MISSING) is not None:
        cost = _number(s, "cost_per_send", "budget.cost_per_send", COST_PER_SEND, p, or_null=True)
        ok = ok and cost is not None
    return Budget(max_sends, cost) if ok else None


def _actions(node: Any, p: _Problems) -> Actions | None:
    """The ``actions`` section: send or skip per quadrant, never send for sleeping dogs."""
    s = _mapping(node, "actions", QUADRANTS, p, "the quadrant actions")
    if s is None:
        return None
    chosen = {
        q: _choice(s, q, f"actions.{q}", ACTIONS, p, what="unknown action") for q in QUADRANTS
    }
    if chosen["sleeping_dog"] == "send":
        p.add(
            "actions.sleeping_dog",
            "sleeping dogs are never sent (the e-mail lowers their chance to buy)",
            "skip",
            "send",
        )
        return None
    given = {q: action for q, action in chosen.items() if action is not None}
    return Actions(**given) if len(given) == len(chosen) else None
