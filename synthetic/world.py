"""Deterministic synthetic customer world for e-mail marketing segmentation.

Each customer has latent traits (purchase rate, order value, category taste,
e-mail engagement, web activity, discount affinity, dropout time) from which
orders, e-mail and web events are simulated, plus one randomized campaign
(``CAMPAIGN_ID``) whose heterogeneous true effect is applied to the orders
table exactly and recorded in ``World.truth``. No modelling stage may read
``truth``: it is there to check what the models recover.

Times are simulated as fractional days since ``start`` and floored to
microseconds, which keeps every order relation. Closed sets of strings
(event types, categories, campaign ids, ...) are ``category`` columns;
customer, order and session ids are ``str``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from upseg.synthetic._campaign import (
    apply_treatment_effects,
    assignments_table,
    randomize_campaign,
    truth_table,
)
from upseg.synthetic._customers import (
    customers_table,
    irrelevant_columns,
    latent_traits,
    replace_traits,
)
from upseg.synthetic._email import (
    email_events_table,
    newsletter_schedule,
    send_mail,
    send_newsletters,
)
from upseg.synthetic._orders import base_orders, orders_table
from upseg.synthetic._tables import categorical, string_ids
from upseg.synthetic._web import web_events_table
from upseg.synthetic.effects import DEFAULT_EFFECTS, EffectSpec, EffectSpecError
from upseg.synthetic.params import (
    CAMPAIGN_ASSIGNED_AT,
    DEFAULT_END,
    DEFAULT_START,
    FORMATS,
    OUTCOME_WINDOW_DAYS,
    TRUTH_FILE,
)
from upseg.synthetic.personas import (
    Persona,
    draw_personas,
    persona_traits,
    validate_personas,
)

__all__ = ["World", "generate_world", "write_world"]


@dataclass(frozen=True, eq=False)
class World:
    """A simulated customer world.

    Attributes
    ----------
    tables : dict of str to DataFrame
        ``customers``, ``orders``, ``email_events``, ``web_events`` and
        ``campaign_assignments``, as the data contract describes them.
    truth : DataFrame
        One row per customer: latent traits and true campaign effects, and
        the customer's ``persona`` when the world was built with personas.
    """

    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame


def _utc(value: object) -> pd.Timestamp:
    """Timestamp in UTC; naive values are taken to be UTC."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _clock(n_customers: object, start: object, end: object) -> tuple[pd.Timestamp, float, float]:
    """Validated (start, horizon in days, campaign day in days since start)."""
    errors = []
    if (
        isinstance(n_customers, bool)
        or not isinstance(n_customers, int | np.integer)
        or n_customers < 1
    ):
        errors.append(f"'n_customers' must be a positive int; got {n_customers!r}")
    campaign = _utc(CAMPAIGN_ASSIGNED_AT)
    try:
        t_start, t_end = _utc(start), _utc(end)
    except (TypeError, ValueError) as exc:
        errors.append(f"'start' and 'end' must be timestamps; got {start!r}, {end!r} ({exc})")
    else:
        if not t_start < campaign < campaign + pd.Timedelta(days=OUTCOME_WINDOW_DAYS + 1) <= t_end:
            errors.append(
                f"[start, end) must contain the campaign day {CAMPAIGN_ASSIGNED_AT} and "
                f"the {OUTCOME_WINDOW_DAYS} days after it; got start={start!r}, "
                f"end={end!r}"
            )
    if errors:
        raise ValueError(
            f"{len(errors)} error(s) in generate_world arguments: " + "; ".join(errors)
        )
    day = pd.Timedelta(days=1)
    return t_start, (t_end - t_start) / day, (campaign - t_start) / day


def _side_stream(seed: int, key: int) -> np.random.Generator:
    """A random stream of ``seed`` apart from the world's own, which it leaves untouched."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key,)))


def generate_world(
    n_customers: int = 10_000,
    *,
    seed: int = 0,
    start: object = DEFAULT_START,
    end: object = DEFAULT_END,
    effects: EffectSpec = DEFAULT_EFFECTS,
    personas: Sequence[Persona] | None = None,
) -> World:
    """Simulate customers, their orders, e-mail and web events, and one randomized campaign.

    Parameters
    ----------
    n_customers : int, default 10_000
        Number of customers.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``; equal seeds give identical worlds.
    start, end : str or Timestamp, default DEFAULT_START, DEFAULT_END
        The world covers ``[start, end)`` in UTC (naive values are UTC). It must
        hold ``CAMPAIGN_ASSIGNED_AT`` and the ``OUTCOME_WINDOW_DAYS`` after it.
    effects : EffectSpec, default DEFAULT_EFFECTS
        The campaign's true effect structure (:mod:`upseg.synthetic.effects`);
        the default is the original world. Worlds of one seed share their
        customers and history up to the campaign: only the effects and what
        follows from them differ, plus the spec's irrelevant customer columns,
        which come from a random stream of their own.
    personas : sequence of Persona or None, default None
        Latent customer types (:mod:`upseg.synthetic.personas`, e.g.
        ``DEFAULT_PERSONAS``). None draws every customer from one population,
        the world as it has always been. Otherwise each customer gets a type,
        drawn by its share, and its order rate, order value, open, click and
        discount propensities and web activity are drawn around the type's
        means before anything is simulated; dropout and loyalty tier follow the
        new rate and value. Types and their traits come from a random stream of
        their own, so that signup, category taste, demographics and opt-in are
        those of the world without personas of the same seed.

    Returns
    -------
    World
        The contract tables, each sorted by a stable key, and the truth. In it,
        ``tau_conversion_<v>`` is the exact effect of variant ``v`` on
        P(>= 1 completed order in [assigned_at, assigned_at + 14 days)), and
        ``tau_revenue_<v>`` its effect on the expected completed revenue in that
        window, averaged over order amounts (rounding to cents is ignored):
        ``tau * AOV`` (``0.9 * AOV`` for ``discount_10``) where orders are added,
        ``tau * E[window revenue | converted]`` where they are removed.
        With ``personas``, the truth's ``persona`` column (after
        ``customer_id``) names each customer's type, a categorical of the names.

    Raises
    ------
    ValueError
        If ``n_customers`` is not a positive int or ``[start, end)`` does not
        hold the campaign and its outcome window, or if ``personas`` is not a
        sequence of Persona with unique names and shares summing to 1; every
        problem is listed.
    EffectSpecError
        If ``effects`` is not an EffectSpec, or this world's campaign cannot
        hold its sleeping dogs or reach its mean effect (too few customers).
    """
    if not isinstance(effects, EffectSpec):
        raise EffectSpecError(
            f"The 'effects' parameter of generate_world must be an EffectSpec; got {effects!r}."
        )
    types = None if personas is None else validate_personas(personas)
    t_start, horizon, t0 = _clock(n_customers, start, end)
    n, rng = int(n_customers), np.random.default_rng(seed)
    lat = latent_traits(n, horizon, rng)
    if types is not None:
        # a stream of its own: the main one is drawn exactly as without personas
        side = _side_stream(seed, 3)
        persona = draw_personas(types, n, side)
        lat = replace_traits(lat, persona_traits(types, persona, side))
    orders = base_orders(lat, horizon, rng)
    times, mailings = newsletter_schedule(t_start, horizon)
    state = {
        "unsub_at": np.full(n, np.inf),
        "unsub_code": np.zeros(n, np.int16),
        "suppressed_at": np.full(n, np.inf),
        "n_delivered": np.zeros(n, np.int32),
    }
    # per mailing and event kind: (customers, times, event kind code, mailing code)
    log: list[tuple[np.ndarray, np.ndarray, int, int]] = []
    codes, before = np.arange(times.size), times < t0 + 10 / 24
    send_newsletters(times[before], codes[before], lat, state, rng, log)
    camp = randomize_campaign(
        lat, state, t0, rng, effects=effects, orders=orders, noise=_side_stream(seed, 1)
    )
    treated = camp["variant"] > 0
    send_mail(camp["idx"][treated], camp["assigned"][treated], len(mailings), lat, state, rng, log)
    orders = apply_treatment_effects(orders, camp, lat, state, len(mailings), rng)
    send_newsletters(times[~before], codes[~before], lat, state, rng, log)
    cid = string_ids("C", n, 7)
    unsub_at = np.where(state["unsub_at"] < horizon, state["unsub_at"], np.nan)
    customers = customers_table(lat, unsub_at, cid, t_start)
    if effects.irrelevant_columns:
        extra = irrelevant_columns(n, effects.irrelevant_columns, _side_stream(seed, 2))
        customers = customers.assign(**extra)
    tables = {
        "customers": customers,
        "orders": orders_table(orders, cid, t_start),
        "email_events": email_events_table(log, state, cid, t_start, horizon, mailings),
        "web_events": web_events_table(lat, orders, cid, t_start, horizon, rng),
        "campaign_assignments": assignments_table(camp, cid, t_start),
    }
    truth = truth_table(lat, camp, tables["customers"]["customer_id"], t_start, horizon)
    if types is not None:
        truth.insert(1, "persona", categorical(persona, [p.name for p in types]))
    return World(tables, truth)


def write_world(world: World, out_dir: Path, *, fmt: str = "parquet") -> dict[str, Path]:
    """Write each table to ``<out_dir>/<table>.<fmt>`` and the truth to ``truth.parquet``.

    Parameters
    ----------
    world : World
        The world to write.
    out_dir : Path
        Directory, created if missing.
    fmt : {"parquet", "csv"}, default "parquet"
        File format of the contract tables; the truth is always Parquet.

    Returns
    -------
    dict of str to Path
        Path of each file written, keyed by table name and ``"truth"``.

    Raises
    ------
    ValueError
        If ``fmt`` is not one of the formats above.
    """
    if fmt not in FORMATS:
        raise ValueError(
            f"The 'fmt' parameter of write_world must be one of {FORMATS}; got {fmt!r} instead."
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in world.tables.items():
        paths[name] = out_dir / f"{name}.{fmt}"
        if fmt == "parquet":
            frame.to_parquet(paths[name], engine="pyarrow", index=False)
        else:
            frame.to_csv(paths[name], index=False)
    paths["truth"] = out_dir / TRUTH_FILE
    world.truth.to_parquet(paths["truth"], engine="pyarrow", index=False)
    return paths
