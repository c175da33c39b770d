"""The campaign's true effect structure, and the named family of worlds that spans it.

An :class:`EffectSpec` says how the randomized campaign of
:func:`upseg.synthetic.generate_world` changes each customer's chance to buy:
how large the effect is on average, which share of customers it hurts
(sleeping dogs), which behaviours drive it and how smoothly, how the two
variants differ, and how many customer columns carry no signal at all.

:data:`DEFAULT_EFFECTS` is the original world: hand-written segment rules
(persuadables, sure things, lost causes, sleeping dogs) with large effects.
:data:`WORLD_FAMILY` holds five worlds from 0.3 to 5 points, for benchmarks
that must not be tuned to one world; :func:`world_effects` finds any of them
(and ``"default"``) by name. See ``docs/worlds.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Literal

from upseg.errors import UpsegError
from upseg.synthetic.params import CAMPAIGN_VARIANTS

__all__ = [
    "DEFAULT_EFFECTS",
    "DRIVERS",
    "SHAPES",
    "WORLD_FAMILY",
    "EffectSpec",
    "EffectSpecError",
    "world_effects",
    "world_names",
]

#: Traits and behaviours the effect can depend on: name -> what it measures at assignment.
DRIVERS: Mapping[str, str] = MappingProxyType(
    {
        "engagement": "latent e-mail open probability (seen through opens)",
        "discount_affinity": "latent taste for discounts (seen through discounted orders)",
        "purchase_rate": "latent orders per year (seen through order frequency)",
        "category_breadth": "latent spread of category taste (seen through categories bought)",
        "tenure": "days since signup (observed)",
        "recency": "days since the last completed order, or signup without one (observed)",
        "mail_fatigue": "e-mails delivered before the campaign (observed)",
    }
)
#: How the effect follows its drivers: the original segment rules, median steps, or smoothly.
SHAPES = ("segments", "step", "smooth")
_TREATMENTS = CAMPAIGN_VARIANTS[1:]

# name: (low, high, unit) of each bounded number
_RANGES: dict[str, tuple[float, float, str]] = {
    "mean_effect": (0.3, 5.0, "percentage points"),
    "sleeping_dogs": (0.0, 0.3, "share of assigned customers"),
    "heterogeneity": (0.0, 3.0, "standard deviation / mean of the positive effects"),
    "variant_ratio": (0.25, 4.0, "mean effect of new_arrivals / discount_10"),
    "dog_effect": (0.25, 4.0, "mean size of a sleeping dog's loss / mean_effect"),
    "idiosyncratic": (0.0, 0.9, "share of the effect index no trait explains"),
    "irrelevant_columns": (0, 100, "extra customer columns"),
}
_WEIGHT_LIMIT = 10.0
# fields that only the driver-based shapes read; "segments" takes them from its rules
_INDEX_ONLY = (
    "sleeping_dogs",
    "drivers",
    "variant_drivers",
    "heterogeneity",
    "variant_ratio",
    "dog_effect",
    "idiosyncratic",
)


class EffectSpecError(UpsegError, ValueError):
    """An effect specification or world name that cannot be built; exit status 2."""

    exit_code = 2


@dataclass(frozen=True)
class EffectSpec:
    """The true effect structure of the synthetic world's campaign.

    Parameters
    ----------
    name : str, default "custom"
        Lower-case name (letters, digits, ``-``), as ``upseg generate --world`` takes it.
    shape : {"segments", "step", "smooth"}, default "segments"
        ``"segments"``: the original rules (engaged active and lapsing customers
        are persuadable, frequent buyers sure things, long-lapsed ones lost
        causes, unengaged much-mailed ones sleeping dogs); only ``mean_effect``
        and ``irrelevant_columns`` apply. ``"step"``: the effect index sums the
        driver weights of the drivers above their median, a rule-like step
        function. ``"smooth"``: it sums the weights times normal scores of the drivers.
    mean_effect : float or None, default None
        Mean true effect on P(conversion) over the assigned customers and both
        variants, in percentage points, in [0.3, 5]. None (``"segments"`` only)
        keeps the rules' own size (about 3 points).
    sleeping_dogs : float or None, default None
        Share of assigned customers whom both variants hurt, in [0, 0.3]: those
        with the lowest smooth index among customers who would buy without the
        e-mail. None: the rules' share (``"segments"``), none otherwise.
    drivers : mapping of str to float, default {}
        Weight of each driver of :data:`DRIVERS` in the effect index shared by both
        variants (negative: the effect falls as the driver rises).
    variant_drivers : mapping of str to mapping of str to float, default {}
        Further weights for one variant's index (``discount_10``, ``new_arrivals``).
    heterogeneity : float, default 1.0
        Standard deviation of the positive effects relative to their mean before
        negative values are cut to zero, in [0, 3]; 0 gives every non-dog the same effect.
    variant_ratio : float, default 1.0
        Mean effect of ``new_arrivals`` over that of ``discount_10``, in [0.25, 4].
    dog_effect : float, default 1.0
        Mean loss of a sleeping dog relative to ``mean_effect``, in [0.25, 4]; each
        dog's loss is proportional to its chance to buy and at most 90% of it.
    idiosyncratic : float, default 0.0
        Share of the effect index's variance that is customer-level noise no trait
        explains, in [0, 0.9].
    irrelevant_columns : int, default 0
        Extra ``customers`` columns ``attr_01``, ... (numbers, counts, categories)
        drawn independently of everything else, in [0, 100].
    description : str, default ""
        What the world is for (not compared).

    Raises
    ------
    EffectSpecError
        Listing every field that is out of range, unknown, or does not apply to the shape.
    """

    name: str = "custom"
    shape: Literal["segments", "step", "smooth"] = "segments"
    mean_effect: float | None = None
    sleeping_dogs: float | None = None
    drivers: Mapping[str, float] = field(default_factory=dict)
    variant_drivers: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    heterogeneity: float = 1.0
    variant_ratio: float = 1.0
    dog_effect: float = 1.0
    idiosyncratic: float = 0.0
    irrelevant_columns: int = 0
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise EffectSpecError(
                f"EffectSpec {self.name!r}: {len(problems)} problem(s): " + "; ".join(problems)
            )
        # read-only copies, so that a frozen spec cannot change behind its back
        frozen = MappingProxyType({k: float(v) for k, v in self.drivers.items()})
        by_variant = {v: MappingProxyType(dict(w)) for v, w in self.variant_drivers.items()}
        object.__setattr__(self, "drivers", frozen)
        object.__setattr__(self, "variant_drivers", MappingProxyType(by_variant))

    def __hash__(self) -> int:
        """Hash of the compared fields, the driver weights as sorted pairs."""
        weights = tuple(sorted(self.drivers.items()))
        by_variant = tuple(
            sorted((v, tuple(sorted(w.items()))) for v, w in self.variant_drivers.items())
        )
        plain = tuple(
            getattr(self, f.name)
            for f in fields(self)
            if f.compare and f.name not in ("drivers", "variant_drivers")
        )
        return hash((plain, weights, by_variant))

    @property
    def calibrated(self) -> bool:
        """Whether the world is scaled to ``mean_effect`` (every shape but raw segment rules)."""
        return self.mean_effect is not None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _range_problem(name: str, value: object) -> str | None:
    low, high, unit = _RANGES[name]
    integral = name == "irrelevant_columns"
    ok = (isinstance(value, int) and not isinstance(value, bool)) if integral else _is_number(value)
    if ok and low <= value <= high:  # type: ignore[operator]
        return None
    kind = "an int" if integral else "a number"
    return f"'{name}' must be {kind} in [{low:g}, {high:g}] ({unit}); got {value!r}"


def _weight_problems(where: str, weights: object) -> list[str]:
    if not isinstance(weights, Mapping):
        return [f"'{where}' must be a mapping of driver name to weight; got {weights!r}"]
    problems = []
    for driver, weight in weights.items():
        if driver not in DRIVERS:
            problems.append(f"'{where}' names unknown driver {driver!r}; known: {list(DRIVERS)}")
        if not (_is_number(weight) and 0 < abs(weight) <= _WEIGHT_LIMIT):
            problems.append(
                f"'{where}' weight of {driver!r} must be a nonzero number in "
                f"[-{_WEIGHT_LIMIT:g}, {_WEIGHT_LIMIT:g}]; got {weight!r}"
            )
    return problems


def _problems(spec: EffectSpec) -> list[str]:
    """Every problem of ``spec``, in field order."""
    problems = []
    if not (isinstance(spec.name, str) and re.fullmatch(r"[a-z0-9][a-z0-9-]*", spec.name)):
        problems.append(f"'name' must be lower-case letters, digits and '-'; got {spec.name!r}")
    if spec.shape not in SHAPES:
        return [*problems, f"'shape' must be one of {SHAPES}; got {spec.shape!r}"]
    for name in ("mean_effect", "sleeping_dogs"):
        value = getattr(spec, name)
        if value is None:
            if name == "mean_effect" and spec.shape != "segments":
                problems.append(
                    f"'mean_effect' must be set for shape {spec.shape!r}: a number in [0.3, 5] "
                    "(percentage points); got None"
                )
            continue
        problems.append(_range_problem(name, value) or "")
    for name in ("heterogeneity", "variant_ratio", "dog_effect", "idiosyncratic"):
        problems.append(_range_problem(name, getattr(spec, name)) or "")
    problems.append(_range_problem("irrelevant_columns", spec.irrelevant_columns) or "")
    problems += _weight_problems("drivers", spec.drivers)
    if not isinstance(spec.variant_drivers, Mapping):
        problems.append(
            "'variant_drivers' must map a treatment variant to driver weights; "
            f"got {spec.variant_drivers!r}"
        )
    else:
        for variant, weights in spec.variant_drivers.items():
            if variant not in _TREATMENTS:
                problems.append(
                    f"'variant_drivers' names unknown variant {variant!r}; "
                    f"known: {list(_TREATMENTS)}"
                )
            problems += _weight_problems(f"variant_drivers[{variant!r}]", weights)
    if spec.shape == "segments":
        defaults = {f.name: f.default for f in fields(EffectSpec)}
        for name in _INDEX_ONLY:
            value = getattr(spec, name)
            unset = value == {} if name.endswith("drivers") else value == defaults[name]
            if not unset:
                problems.append(
                    f"'{name}' applies to shapes 'step' and 'smooth'; shape 'segments' takes "
                    f"it from its rules, so it must stay unset; got {value!r}"
                )
    elif isinstance(spec.drivers, Mapping) and not spec.drivers:
        problems.append(
            f"'drivers' must weight at least one of {list(DRIVERS)} for shape "
            f"{spec.shape!r}; got {{}}"
        )
    return [p for p in problems if p]


#: The original world: hand-written segment rules, about 3 points on average.
DEFAULT_EFFECTS = EffectSpec(
    name="default",
    description="The original world: segment rules, large effects (about 3 points), "
    "6-8% sleeping dogs. What `upseg generate` builds without --world.",
)

#: Five worlds from 0.3 to 5 points: benchmark every change on all of them.
WORLD_FAMILY: tuple[EffectSpec, ...] = (
    EffectSpec(
        name="tiny-smooth",
        shape="smooth",
        mean_effect=0.3,
        sleeping_dogs=0.0,
        drivers={"engagement": 1.0, "tenure": 0.5},
        heterogeneity=1.0,
        description="0.3 points that rise smoothly with engagement and tenure, no sleeping "
        "dogs: is a tiny effect sized honestly, and shrunk to the mean when unseen?",
    ),
    EffectSpec(
        name="small-step",
        shape="step",
        mean_effect=1.0,
        sleeping_dogs=0.05,
        drivers={"recency": -1.0, "discount_affinity": 1.0},
        heterogeneity=1.0,
        variant_ratio=0.8,
        description="1 point in steps: recent buyers and discount lovers respond, 5% sleeping "
        "dogs: do rule-like effects and a few dogs come out?",
    ),
    EffectSpec(
        name="realistic",
        shape="smooth",
        mean_effect=1.0,
        sleeping_dogs=0.055,
        drivers={"engagement": 1.0, "recency": -0.7},
        variant_drivers={
            "discount_10": {"discount_affinity": 0.7},
            "new_arrivals": {"category_breadth": 0.7},
        },
        heterogeneity=1.5,
        idiosyncratic=0.3,
        irrelevant_columns=10,
        description="1 point, as real e-mail campaigns show, driven by engagement and "
        "recency, each variant by its own taste, 5.5% sleeping dogs, noise no trait "
        "explains and 10 irrelevant columns.",
    ),
    EffectSpec(
        name="medium-dogs",
        shape="smooth",
        mean_effect=2.0,
        sleeping_dogs=0.15,
        drivers={"purchase_rate": 1.0, "mail_fatigue": -0.5},
        heterogeneity=1.0,
        dog_effect=1.5,
        irrelevant_columns=5,
        description="2 points with 15% sleeping dogs among the much-mailed, slower buyers: "
        "are many dogs found, and only on evidence?",
    ),
    EffectSpec(
        name="large-segments",
        mean_effect=5.0,
        description="The original segment rules scaled to 5 points: large, step-like "
        "effects and the rules' 6-8% sleeping dogs.",
    ),
)


def world_names() -> tuple[str, ...]:
    """Names ``upseg generate --world`` takes: ``default`` and the family's."""
    return (DEFAULT_EFFECTS.name, *(spec.name for spec in WORLD_FAMILY))


def world_effects(name: str) -> EffectSpec:
    """The effect spec of world ``name`` (``default`` or a member of :data:`WORLD_FAMILY`).

    Raises
    ------
    EffectSpecError
        If no world has that name; the message lists the names there are.
    """
    for spec in (DEFAULT_EFFECTS, *WORLD_FAMILY):
        if spec.name == name:
            return spec
    raise EffectSpecError(
        f"No synthetic world is named {name!r}; choose one of {list(world_names())}."
    )
