"""What a policy holds: its constants, its frozen dataclasses, its error, its allowed ranges.

A policy is data, evaluated by one small engine (:mod:`.engine`) after it is
read and validated (:mod:`.loading`). Every scored customer gets an uplift
quadrant, a churn risk and a value tier; together they name a built-in segment
such as ``persuadable · high churn · VIP``. Custom rules come before that grid,
in order, and the first that matches names the segment instead, and sends,
skips, or leaves the choice to the customer's uplift quadrant. A sleeping dog
(an e-mail lowers their chance to buy) is never sent, whatever the segment.
Suppression, holdout and budget are applied by the scorer, but their settings
live in the same file, so one file and one digest describe how a campaign picks
its audience. The schema is documented in ``docs/policy.md``.

The policy owns the holdout share and the budget: :data:`HOLDOUT_SHARE`,
:data:`MAX_SENDS_MIN` and :data:`COST_PER_SEND` are the one place their allowed
values are defined, and :func:`campaign_limits` applies the overrides a scoring
run may give (``--holdout``, ``scoring.holdout``, ...) after checking them
against the same ranges.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

from upseg.serving.policy._checks import NumberRange, ProblemsError, _Problems, _show, _suggest

__all__ = [
    "ACTIONS",
    "CHURN_RISKS",
    "COST_PER_SEND",
    "DERIVED_COLUMNS",
    "HOLDOUT_SHARE",
    "MAX_SENDS_MIN",
    "OPERATORS",
    "OUTPUT_COLUMNS",
    "QUADRANTS",
    "RULE_ACTIONS",
    "SCORE_COLUMNS",
    "VALUE_TIERS",
    "Actions",
    "Budget",
    "CampaignLimits",
    "ChurnRiskThresholds",
    "Condition",
    "FrequencyCap",
    "Holdout",
    "NumberRange",
    "Policy",
    "PolicyError",
    "Rule",
    "Suppression",
    "UpliftThresholds",
    "ValueTier",
    "builtin_segment_name",
    "campaign_limits",
    "override_problems",
]

QUADRANTS = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")
CHURN_RISKS = ("high", "medium", "low", "unknown")
VALUE_TIERS = ("VIP", "high", "medium", "low")
#: The tiers a policy cuts (``low`` is everyone below the ``medium`` cut), highest first.
_CUT_TIERS = VALUE_TIERS[:-1]
#: What the engine decides for a customer.
ACTIONS = ("send", "skip")
#: What a rule may say: ``uplift`` is the action of the customer's uplift quadrant.
RULE_ACTIONS = (*ACTIONS, "uplift")
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

#: Allowed holdout share wherever it is set: the policy's ``holdout.share``, and the
#: overrides ``upseg score --holdout`` and the configuration's ``scoring.holdout``.
HOLDOUT_SHARE = NumberRange(0.0, 1.0, hi_open=True)
#: The smallest send budget wherever it is set: the policy's ``budget.max_sends``, and the
#: overrides ``--budget`` and ``scoring.budget``; null (None) means no cap.
MAX_SENDS_MIN = 1
#: Allowed cost of one e-mail wherever it is set: ``budget.cost_per_send``,
#: ``--cost-per-send`` and ``scoring.cost_per_send``; null (None) means no profit test.
COST_PER_SEND = NumberRange(0.0, math.inf, hi_open=True)

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
    """Value tiers VIP, high, medium, low of scored customers by ``column``.

    Exactly one of ``shares`` and ``amounts`` is set, each holding the VIP,
    high and medium cut in that order: ``shares`` are cumulative top shares of
    the scored customers, strictly increasing in (0, 1); ``amounts`` are values
    a customer must exceed, strictly decreasing and above 0. Everyone else,
    including a missing value or one at most 0, is ``low``.
    """

    column: str
    shares: tuple[float, float, float] | None = None
    amounts: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        if (self.shares is None) == (self.amounts is None):
            raise ValueError("ValueTier needs exactly one of shares and amounts")

    def to_dict(self) -> dict[str, Any]:
        """As the policy file says it: ``{column, shares: {VIP, high, medium}}`` or amounts."""
        key = "shares" if self.shares is not None else "amounts"
        cuts = self.shares if self.shares is not None else self.amounts
        assert cuts is not None
        return {"column": self.column, key: dict(zip(_CUT_TIERS, cuts, strict=True))}


@dataclass(frozen=True)
class FrequencyCap:
    """At most ``max_emails`` e-mails in ``window_days`` days, ``min_gap_hours`` apart (0: any)."""

    max_emails: int
    window_days: int
    min_gap_hours: float


@dataclass(frozen=True)
class Suppression:
    """Settings of the suppression step (applied by the scorer, before everything).

    ``frequency_cap`` is None when the policy turns the cap off (``frequency_cap: false``).
    """

    soft_bounce_streak: int
    frequency_cap: FrequencyCap | None

    def to_dict(self) -> dict[str, Any]:
        """As the policy file says it: an off cap is ``False``."""
        cap = self.frequency_cap
        return {
            "soft_bounce_streak": self.soft_bounce_streak,
            "frequency_cap": False if cap is None else vars(cap).copy(),
        }


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
    action: str  # one of RULE_ACTIONS
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
            "value_tier": self.value_tier.to_dict(),
            "suppression": self.suppression.to_dict(),
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


class PolicyError(ProblemsError):
    """A policy that cannot be used; ``problems`` holds one line per problem found.

    Each line reads ``<file>: <key path>: <what is wrong>; expected <allowed>; got <given>``.
    """

    what = "policy"


def _column_problems(policy: Policy, columns: list[str]) -> list[str]:
    """One line per column the policy reads that ``columns`` lacks."""
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
    if policy.value_tier.column not in available:
        missing("value_tier.column", policy.value_tier.column)
    return p.lines


# --------------------------------------------------------------------------- overrides

#: How an override is named when the caller does not say where it came from.
_OVERRIDE_NAMES = {k: f"{k} (override)" for k in ("holdout", "max_sends", "cost_per_send")}


@dataclass(frozen=True)
class CampaignLimits:
    """The holdout share and budget a scoring run applies, and where each value came from.

    ``sources`` maps ``holdout``, ``max_sends`` and ``cost_per_send`` to
    ``"policy <file>"`` or to the name of the override that set it.
    """

    holdout: float
    max_sends: int | None
    cost_per_send: float | None
    sources: dict[str, str]


def campaign_limits(
    policy: Policy,
    *,
    holdout: float | None = None,
    max_sends: int | None = None,
    cost_per_send: float | None = None,
    given_by: Mapping[str, str] | None = None,
) -> CampaignLimits:
    """The policy's holdout share and budget, with the overrides given in their place.

    Parameters
    ----------
    policy : Policy
    holdout, max_sends, cost_per_send : optional
        Overrides; ``None`` keeps the policy's value. Each must be in the same
        range as in the policy file (:data:`HOLDOUT_SHARE`,
        :data:`MAX_SENDS_MIN`, :data:`COST_PER_SEND`); an override cannot lift
        a limit the policy sets (``None`` is "not given", not "no limit").
    given_by : mapping of str to str, optional
        Where each override came from, e.g. ``{"holdout": "--holdout"}``, for
        the error and for :attr:`CampaignLimits.sources`; ``"<key> (override)"``
        when not said.

    Raises
    ------
    PolicyError
        Listing every override out of its range, each naming where it came
        from, what is allowed and what was given; its ``exit_code`` is 2.
    """
    names = {**_OVERRIDE_NAMES, **(given_by or {})}
    problems = override_problems(
        holdout=holdout, max_sends=max_sends, cost_per_send=cost_per_send, given_by=names
    )
    if problems:
        error = PolicyError(problems, "overrides")
        error.exit_code = 2  # a bad option or configuration, not a bad policy file
        raise error
    from_policy = f"policy {policy.source}"
    sources = {
        key: from_policy if value is None else names[key]
        for key, value in (
            ("holdout", holdout),
            ("max_sends", max_sends),
            ("cost_per_send", cost_per_send),
        )
    }
    return CampaignLimits(
        holdout=policy.holdout.share if holdout is None else float(holdout),
        max_sends=policy.budget.max_sends if max_sends is None else int(max_sends),
        cost_per_send=policy.budget.cost_per_send
        if cost_per_send is None
        else float(cost_per_send),
        sources=sources,
    )


def override_problems(
    *,
    holdout: float | None = None,
    max_sends: int | None = None,
    cost_per_send: float | None = None,
    given_by: Mapping[str, str] | None = None,
) -> list[str]:
    """One line ``<where>: <what>; expected <allowed>; got <given>`` per bad override."""
    names = {**_OVERRIDE_NAMES, **(given_by or {})}
    problems: list[str] = []

    def check(key: str, value: Any, allowed: NumberRange | None) -> None:
        if value is None:
            return
        if allowed is None:  # an integer >= MAX_SENDS_MIN
            expected = f"an integer >= {MAX_SENDS_MIN}, or nothing for the policy's"
            ok_type = isinstance(value, Integral) and not isinstance(value, bool)
            ok = ok_type and value >= MAX_SENDS_MIN
        else:
            expected = f"{allowed}, or nothing for the policy's"
            ok_type = isinstance(value, Real) and not isinstance(value, bool)
            ok = ok_type and not math.isnan(value) and value in allowed
        if not ok:
            what = "out of range" if ok_type else "wrong type"
            problems.append(f"{names[key]}: {what}; expected {expected}; got {_show(value)}")

    check("holdout", holdout, HOLDOUT_SHARE)
    check("max_sends", max_sends, None)
    check("cost_per_send", cost_per_send, COST_PER_SEND)
    return problems
