"""Latent customer types ("personas") of the synthetic world, an option of ``generate_world``.

Without personas every customer's traits are drawn from one population. With
them (``generate_world(..., personas=DEFAULT_PERSONAS)``, ``upseg generate
--personas``) each customer first gets a type, drawn by its share, and then
its order rate, order value, e-mail open and click probabilities, web activity
and discount affinity are drawn around that type's means, before any order,
e-mail or web event is simulated. The spread within a type (gamma, lognormal
and beta draws) lets types overlap as real customers do, while their means
keep them apart. ``truth.parquet`` then names each customer's type in its
``persona`` column: the answer key of a behavioural clustering.

Everything else about a customer (signup, category taste, address, opt-in,
demographics) and the campaign's rules stay as they are.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from upseg.synthetic.params import AOV_MEAN, RATE_MEAN, WEB_SESSIONS_PER_YEAR

__all__ = ["DEFAULT_PERSONAS", "Persona", "draw_personas", "persona_traits", "validate_personas"]

# lognormal sigma of web activity around a persona's mean, as in the world without personas
_WEB_SIGMA = 0.4
_SHARE_TOLERANCE = 1e-6
# field: (low, high, open at low, open at high, what it is) of each bounded number
_BOUNDS: dict[str, tuple[float, float, bool, bool, str]] = {
    "share": (0.0, 1.0, True, False, "share of customers"),
    "order_rate": (0.0, math.inf, True, True, "mean orders per year"),
    "order_value": (0.0, math.inf, True, True, "mean order value before discount"),
    "open_p": (0.0, 1.0, True, True, "mean probability to open an e-mail"),
    "click_p": (0.0, 1.0, True, True, "mean probability to click an opened e-mail"),
    "web_factor": (0.0, math.inf, True, True, "browsing sessions per year / world mean"),
    "disc_aff": (0.0, 1.0, True, True, "mean discount affinity"),
    "rate_shape": (0.0, math.inf, True, True, "gamma shape of the order rate"),
    "value_sigma": (0.0, math.inf, False, True, "lognormal sigma of the order value"),
    "concentration": (0.0, math.inf, True, True, "beta concentration of the probabilities"),
}


@dataclass(frozen=True)
class Persona:
    """A latent customer type: its share and the means its customers' traits are drawn around.

    Parameters
    ----------
    name : str
        Lower-case name (letters, digits, ``_``), as the truth's ``persona`` column shows it.
    share : float
        Share of customers of this type, in (0, 1]; the shares of a world sum to 1.
    order_rate : float
        Mean orders per year while active (> 0); each customer's rate is
        Gamma(``rate_shape``) around it. The world's mean is ``RATE_MEAN`` (4).
        Dropout follows the rate: slower buyers drop out sooner.
    order_value : float
        Mean order value before discount (> 0); each customer's is lognormal
        (``value_sigma``) around it. The world's mean is ``AOV_MEAN`` (60).
    open_p : float
        Mean probability to open a delivered e-mail, in (0, 1); Beta around it.
    click_p : float
        Mean probability to click an opened e-mail, in (0, 1); Beta around it.
    web_factor : float
        Mean browsing sessions per year as a multiple of ``WEB_SESSIONS_PER_YEAR``
        (3.5), > 0; lognormal around it. Every order adds a checkout session.
    disc_aff : float
        Mean discount affinity, in (0, 1); Beta around it. An order uses a
        discount with probability ``DISCOUNT_USE`` (0.6) times the affinity.
    rate_shape : float, default 2.0
        Gamma shape of the order rate (> 0): larger is tighter around the mean
        (coefficient of variation ``1 / sqrt(rate_shape)``; the world's is 1.2).
    value_sigma : float, default 0.35
        Lognormal sigma of the order value (>= 0; the world's is 0.5).
    concentration : float, default 12.0
        Beta concentration ``a + b`` of the open, click and discount
        probabilities (> 0): larger is tighter around the means.
    description : str, default ""
        Who these customers are (not compared).

    Raises
    ------
    ValueError
        Naming the persona and every field that is out of range, with its value.
    """

    name: str
    share: float
    order_rate: float
    order_value: float
    open_p: float
    click_p: float
    web_factor: float
    disc_aff: float
    rate_shape: float = 2.0
    value_sigma: float = 0.35
    concentration: float = 12.0
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError(
                f"Persona {self.name!r}: {len(problems)} problem(s): " + "; ".join(problems)
            )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _bound_problem(name: str, value: object) -> str | None:
    low, high, open_low, open_high, what = _BOUNDS[name]
    if _is_number(value):
        above = value > low if open_low else value >= low  # type: ignore[operator]
        below = value < high if open_high else value <= high  # type: ignore[operator]
        if above and below:
            return None
    interval = f"{'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
    return f"'{name}' must be a number in {interval} ({what}); got {value!r}"


def _problems(persona: Persona) -> list[str]:
    """Every problem of ``persona``, in field order."""
    problems = []
    if not (isinstance(persona.name, str) and re.fullmatch(r"[a-z][a-z0-9_]*", persona.name)):
        problems.append(
            f"'name' must be lower-case letters, digits and '_', starting with a letter; "
            f"got {persona.name!r}"
        )
    for name in _BOUNDS:
        problems.append(_bound_problem(name, getattr(persona, name)) or "")
    return [p for p in problems if p]


def validate_personas(personas: object) -> tuple[Persona, ...]:
    """``personas`` as a tuple, checked as a set: Persona items, unique names, shares summing to 1.

    Raises
    ------
    ValueError
        Listing every problem: not a sequence of Persona, empty, duplicate
        names, or shares that do not sum to 1 (each persona's share is named).
    """
    where = "The 'personas' parameter of generate_world"
    if isinstance(personas, str | bytes) or not isinstance(personas, Sequence):
        raise ValueError(f"{where} must be a sequence of Persona; got {personas!r}.")
    if not personas:
        raise ValueError(f"{where} must hold at least one Persona; got an empty sequence.")
    problems = [
        f"personas[{i}] must be a Persona; got {p!r}"
        for i, p in enumerate(personas)
        if not isinstance(p, Persona)
    ]
    if not problems:
        counts = Counter(p.name for p in personas)
        problems += [
            f"persona names must be unique; {name!r} appears {k} times"
            for name, k in counts.items()
            if k > 1
        ]
        total = math.fsum(p.share for p in personas)
        if abs(total - 1) > _SHARE_TOLERANCE:
            shares = ", ".join(f"{p.name} {p.share:g}" for p in personas)
            problems.append(
                f"persona shares must sum to 1 (within {_SHARE_TOLERANCE:g}); "
                f"got {total:.6g} ({shares})"
            )
    if problems:
        raise ValueError(f"{where}: {len(problems)} problem(s): " + "; ".join(problems))
    return tuple(personas)


def draw_personas(personas: Sequence[Persona], n: int, rng: np.random.Generator) -> np.ndarray:
    """Persona codes (positions in ``personas``) of ``n`` customers, drawn by share.

    Returns
    -------
    ndarray of int8 of shape (n,)
    """
    shares = np.array([p.share for p in personas])
    return rng.choice(len(personas), size=n, p=shares / shares.sum()).astype(np.int8)


def persona_traits(
    personas: Sequence[Persona], code: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Each customer's traits drawn around the means of its persona.

    Parameters
    ----------
    personas : sequence of Persona
        The types, as :func:`validate_personas` accepts them.
    code : ndarray of int of shape (n_customers,)
        Each customer's persona, a position in ``personas``.
    rng : numpy.random.Generator
        The stream to draw from.

    Returns
    -------
    dict of str to ndarray of shape (n_customers,)
        ``lam`` (orders per year), ``aov`` (mean order value), ``open_p``,
        ``click_p``, ``web_rate`` (browsing sessions per year) and ``disc_aff``:
        Gamma, lognormal, Beta, Beta, lognormal and Beta draws around the persona's means.
    """

    def per_customer(name: str) -> np.ndarray:
        return np.array([float(getattr(p, name)) for p in personas])[code]

    def beta(mean: np.ndarray, concentration: np.ndarray) -> np.ndarray:
        return rng.beta(mean * concentration, (1 - mean) * concentration)

    shape, sigma, conc = (per_customer(k) for k in ("rate_shape", "value_sigma", "concentration"))
    return {
        "lam": rng.gamma(shape, per_customer("order_rate") / shape),
        "aov": per_customer("order_value") * rng.lognormal(-(sigma**2) / 2, sigma),
        "open_p": beta(per_customer("open_p"), conc),
        "click_p": beta(per_customer("click_p"), conc),
        "web_rate": WEB_SESSIONS_PER_YEAR
        * per_customer("web_factor")
        * rng.lognormal(-(_WEB_SIGMA**2) / 2, _WEB_SIGMA, code.size),
        "disc_aff": beta(per_customer("disc_aff"), conc),
    }


#: Five clearly different customer types; their shares sum to 1. Means are
#: against the world without personas: ``RATE_MEAN`` orders a year, ``AOV_MEAN``
#: order value, open 0.25, click 0.15, discount affinity 0.29.
DEFAULT_PERSONAS: tuple[Persona, ...] = (
    Persona(
        name="loyal_big_spenders",
        share=0.10,
        order_rate=2.5 * RATE_MEAN,
        order_value=2.5 * AOV_MEAN,
        open_p=0.5,
        click_p=0.20,
        web_factor=1.5,
        disc_aff=0.08,
        description="Frequent buyers of large baskets who open most newsletters and "
        "seldom use a discount; the gold tier.",
    ),
    Persona(
        name="bargain_hunters",
        share=0.20,
        order_rate=RATE_MEAN,
        order_value=0.6 * AOV_MEAN,
        open_p=0.35,
        click_p=0.35,
        web_factor=1.5,
        disc_aff=0.85,
        description="Buy as often as the average customer, in small baskets, mostly with "
        "a discount; click what they open.",
    ),
    Persona(
        name="loyal_openers",
        share=0.15,
        order_rate=0.3 * RATE_MEAN,
        order_value=AOV_MEAN,
        open_p=0.9,
        click_p=0.12,
        web_factor=0.6,
        disc_aff=0.25,
        description="Open nearly every newsletter but rarely buy.",
    ),
    Persona(
        name="browsers",
        share=0.15,
        order_rate=0.2 * RATE_MEAN,
        order_value=0.85 * AOV_MEAN,
        open_p=0.08,
        click_p=0.10,
        web_factor=12.0,
        disc_aff=0.30,
        description="Visit the web shop often but rarely buy and rarely open an e-mail.",
    ),
    Persona(
        name="occasional_buyers",
        share=0.40,
        order_rate=0.5 * RATE_MEAN,
        order_value=AOV_MEAN,
        open_p=0.22,
        click_p=0.12,
        web_factor=0.8,
        disc_aff=0.25,
        description="The rest: a couple of average orders a year, little e-mail or web activity.",
    ),
)
