"""True campaign effects from an :class:`~upseg.synthetic.effects.EffectSpec`.

The driver-based shapes (``"step"``, ``"smooth"``) build an effect index per
variant from normal scores of the drivers, pick the sleeping dogs, and scale
the positive effects so that the mean effect over the assigned customers and
both variants is exactly ``mean_effect``. Nothing here draws from the world's
main random stream, so a seed gives the same customers and history in every world.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from upseg.synthetic.effects import EffectSpec, EffectSpecError
from upseg.synthetic.params import CAMPAIGN_VARIANTS, SURE_THING_RATE

__all__ = ["calibrate_gain", "driver_values", "index_effects", "normal_scores"]

_DOG_MAX_LOSS = 0.9  # a sleeping dog loses at most this share of its chance to buy
_Context = dict[str, np.ndarray]


def engagement(ctx: _Context) -> np.ndarray:
    """Latent e-mail open probability."""
    return ctx["open_p"]


def discount_affinity(ctx: _Context) -> np.ndarray:
    """Latent taste for discounts."""
    return ctx["disc_aff"]


def purchase_rate(ctx: _Context) -> np.ndarray:
    """Latent orders per year."""
    return ctx["lam"]


def category_breadth(ctx: _Context) -> np.ndarray:
    """Latent spread of category taste (0 one category, 1 all alike)."""
    return ctx["breadth"]


def tenure(ctx: _Context) -> np.ndarray:
    """Days since signup at assignment."""
    return ctx["assigned"] - ctx["signup"]


def recency(ctx: _Context) -> np.ndarray:
    """Days since the last completed order before assignment, or since signup without one."""
    return ctx["assigned"] - np.maximum(ctx["last_order"], ctx["signup"])


def mail_fatigue(ctx: _Context) -> np.ndarray:
    """E-mails delivered before the campaign."""
    return ctx["n_delivered"].astype(float)


_DRIVER_FUNCTIONS: dict[str, Callable[[_Context], np.ndarray]] = {
    f.__name__: f
    for f in (
        engagement,
        discount_affinity,
        purchase_rate,
        category_breadth,
        tenure,
        recency,
        mail_fatigue,
    )
}


def last_completed_order(
    orders: Mapping[str, np.ndarray], idx: np.ndarray, before: np.ndarray
) -> np.ndarray:
    """Time of each customer's last completed order before ``before`` (-inf without one)."""
    pos = np.full(int(max(orders["cust"].max(initial=-1), idx.max(initial=-1))) + 1, -1)
    pos[idx] = np.arange(idx.size)
    row = pos[orders["cust"]]
    keep = (orders["status"] == 0) & (row >= 0)
    keep[keep] = orders["t"][keep] < before[row[keep]]
    last = np.full(idx.size, -np.inf)
    np.maximum.at(last, row[keep], orders["t"][keep])
    return last


def driver_values(names: list[str], ctx: _Context) -> dict[str, np.ndarray]:
    """Each named driver's raw value per assigned customer."""
    return {name: _DRIVER_FUNCTIONS[name](ctx) for name in names}


def normal_scores(x: np.ndarray) -> np.ndarray:
    """Normal scores of ``x``: the standard normal quantile of its average rank (ties share one)."""
    from scipy.special import ndtri  # only driver-based worlds need scipy

    ordered = np.sort(x)
    # (left + right) / 2 is the 0-based average rank plus one half: never 0 nor n
    mid = (np.searchsorted(ordered, x, "left") + np.searchsorted(ordered, x, "right")) / 2
    return ndtri(mid / x.size)


def _standardized(h: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``h`` centred and scaled on ``rows``; zero when it does not vary there."""
    if not rows.any():
        return np.zeros_like(h)
    sd = h[rows].std()
    return (h - h[rows].mean()) / sd if sd > 0 else np.zeros_like(h)


def _index(
    weights: Mapping[str, float], scores: Mapping[str, np.ndarray], step: bool, n: int
) -> np.ndarray:
    """Weighted sum of the drivers' normal scores, or of their above-median indicators."""
    h = np.zeros(n)
    for name, weight in weights.items():
        h += weight * ((scores[name] > 0) if step else scores[name])
    return h


def calibrate_gain(
    positive: np.ndarray, fixed: np.ndarray, cap: np.ndarray, target: float
) -> float:
    """The gain ``c`` with ``mean(fixed + min(c * positive, cap)) == target``.

    ``positive`` and ``cap`` are >= 0 and zero where ``fixed`` holds the effect; the
    mean is increasing in ``c``, so bisection finds it to machine precision.

    Raises
    ------
    EffectSpecError
        When even unlimited gain cannot reach ``target`` (every effect at its cap).
    """

    def mean(c: float) -> float:
        return float(np.mean(fixed + np.minimum(c * positive, cap)))

    ceiling = float(np.mean(fixed + np.where(positive > 0, cap, 0.0)))
    if not ceiling > target:
        raise EffectSpecError(
            f"A mean effect of {100 * target:g} points cannot be reached in this world: with "
            f"every responsive customer at certain purchase it is {100 * ceiling:.2f} points. "
            "Generate more customers or ask for a smaller 'mean_effect'."
        )
    low, high = 0.0, 1.0
    while mean(high) < target:
        low, high = high, 2 * high
    for _ in range(200):
        mid = (low + high) / 2
        if mid in (low, high):
            break
        low, high = (mid, high) if mean(mid) < target else (low, mid)
    return high


def index_effects(
    spec: EffectSpec, ctx: _Context, p0: np.ndarray, alive: np.ndarray, noise: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """True effects, shape (n, 2), and segment codes of the assigned customers for ``spec``.

    Parameters
    ----------
    spec : EffectSpec
        A ``"step"`` or ``"smooth"`` spec.
    ctx : dict of str to numpy.ndarray
        Per assigned customer: latent traits, ``assigned``, ``signup``,
        ``last_order`` and ``n_delivered``.
    p0 : numpy.ndarray of shape (n,)
        Chance to buy in the window without the e-mail.
    alive : numpy.ndarray of shape (n,)
        Whether the customer is new or active (for the sure-thing label).
    noise : numpy.random.Generator
        A stream apart from the world's, for the idiosyncratic part.
    """
    n, m = p0.size, float(spec.mean_effect or 0.0) / 100
    treatments = CAMPAIGN_VARIANTS[1:]
    if n == 0:
        return np.zeros((0, 2)), np.zeros(0, np.int8)
    used = sorted({*spec.drivers, *(d for w in spec.variant_drivers.values() for d in w)})
    scores = {k: normal_scores(v) for k, v in driver_values(used, ctx).items()}
    rho = spec.idiosyncratic
    own = noise.standard_normal(n) if rho > 0 else np.zeros(n)
    everyone = np.ones(n, bool)
    # sleeping dogs: lowest smooth shared index among customers who would buy anyway
    dog_index = _standardized(_index(spec.drivers, scores, False, n), everyone)
    dog_index = np.sqrt(1 - rho) * dog_index + np.sqrt(rho) * own
    k = int(round((spec.sleeping_dogs or 0.0) * n))
    can_lose = np.flatnonzero(p0 > 0)
    if k > can_lose.size:
        raise EffectSpecError(
            f"'sleeping_dogs' of {spec.sleeping_dogs:g} needs {k} customers who would buy "
            f"without the e-mail; this world's campaign has {can_lose.size} of {n}."
        )
    dog = np.zeros(n, bool)
    dog[can_lose[np.argsort(dog_index[can_lose], kind="stable")[:k]]] = True
    ratio = spec.variant_ratio
    scale = np.array([2 / (1 + ratio), 2 * ratio / (1 + ratio)])
    step = spec.shape == "step"
    positive = np.zeros((n, 2))
    for j, variant in enumerate(treatments):
        h = _index(spec.drivers, scores, step, n)
        h += _index(spec.variant_drivers.get(variant, {}), scores, step, n)
        s = np.sqrt(1 - rho) * _standardized(h, ~dog) + np.sqrt(rho) * own
        positive[:, j] = np.where(dog, 0.0, scale[j] * np.maximum(0.0, 1 + spec.heterogeneity * s))
    fixed = np.zeros((n, 2))
    if k:
        loss = spec.dog_effect * m * p0 / p0[dog].mean()
        fixed[dog] = -np.minimum(loss[dog, None] * scale, _DOG_MAX_LOSS * p0[dog, None])
    cap = np.where(dog, 0.0, 1 - p0)[:, None] * (positive > 0)
    gain = calibrate_gain(positive, fixed, cap, m)
    tau = fixed + np.minimum(gain * positive, cap)
    sure = alive & (ctx["lam"] >= SURE_THING_RATE)
    segment = np.select([dog, (tau > 0).any(axis=1), sure], [3, 0, 1], 2).astype(np.int8)
    return tau, segment
