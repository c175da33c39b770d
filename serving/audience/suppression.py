"""Who may be e-mailed (suppression) and who is held out as the control group.

Pure, vectorised functions: the holdout draw is a hash of the campaign and the
customer id, identical across runs, machines and the other customers.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pandas.api.types import infer_dtype, is_integer_dtype

__all__ = ["SUPPRESSION_REASONS", "holdout_draw", "holdout_mask", "suppression_reason"]

#: Every reason, in precedence order: a customer gets the first that applies.
SUPPRESSION_REASONS = (
    "no_opt_in",
    "unsubscribed",
    "hard_bounce",
    "soft_bounce",
    "complaint",
    "frequency_cap",
    "min_gap",
)
#: The columns :func:`upseg.features.deliverability.deliverability_inputs` builds for the
#: bounce and frequency rules (``complaints_lifetime`` is also a model feature).
_DELIVERABILITY = (
    "hard_bounces_lifetime",
    "untyped_bounces_since_delivery",
    "soft_bounces_since_delivery",
    "emails_in_cap_window",
    "hours_since_last_email",
)

# Separates the campaign from the customer id in the hashed key; campaigns may not contain it,
# so the first one in a key ends the campaign and no two (campaign, id) pairs share a key.
_KEY_SEPARATOR = "\x1f"
# pandas' fixed SipHash key (the default of pd.util.hash_array), spelled out so a change of
# pandas' default cannot silently move every holdout.
_HASH_KEY = "0123456789123456"


# --- suppression -------------------------------------------------------------------------------


def _flag(frame: pd.DataFrame, column: str, *, missing: bool) -> np.ndarray:
    """``frame[column]`` as a numpy bool array, with missing values read as ``missing``."""
    try:
        values = frame[column].astype("boolean")
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Column {column!r} must hold booleans (true/false, missing allowed); "
            f"got dtype {frame[column].dtype}: {error}"
        ) from None
    return values.fillna(missing).to_numpy(dtype=bool)


def _count(frame: pd.DataFrame, column: str) -> np.ndarray:
    """``frame[column]`` as floats, a missing column or value counting as 0."""
    if column not in frame.columns:
        return np.zeros(len(frame))
    try:
        values = pd.to_numeric(frame[column], errors="raise")
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Column {column!r} must hold counts; got dtype {frame[column].dtype}: {error}"
        ) from None
    return values.astype("Float64").fillna(0.0).to_numpy(dtype=float)


def _hours(frame: pd.DataFrame, column: str) -> np.ndarray:
    """``frame[column]`` as floats, a missing value as infinitely long ago."""
    try:
        values = pd.to_numeric(frame[column], errors="raise")
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Column {column!r} must hold hours; got dtype {frame[column].dtype}: {error}"
        ) from None
    return values.astype("Float64").fillna(np.inf).to_numpy(dtype=float)


def _is_count(value: object) -> bool:
    """An integer of 1 or more (not a bool)."""
    return isinstance(value, Integral) and not isinstance(value, bool) and int(value) >= 1


def _check_settings(soft_bounce_streak: object, max_emails: object, min_gap_hours: object) -> None:
    """Raise naming every setting out of its range (the policy's loader checks them too)."""
    problems = []
    if not _is_count(soft_bounce_streak):
        problems.append(
            f"soft_bounce_streak must be an integer of 1 or more; got {soft_bounce_streak!r}"
        )
    if max_emails is not None and not _is_count(max_emails):
        problems.append(f"max_emails must be an integer of 1 or more, or None; got {max_emails!r}")
    if min_gap_hours is not None and not (
        isinstance(min_gap_hours, Real)
        and not isinstance(min_gap_hours, bool)
        and float(min_gap_hours) >= 0
    ):
        problems.append(f"min_gap_hours must be a number >= 0, or None; got {min_gap_hours!r}")
    if problems:
        raise ValueError("; ".join(problems) + ".")


def suppression_reason(
    frame: pd.DataFrame,
    *,
    soft_bounce_streak: int,
    max_emails: int | None,
    min_gap_hours: float | None,
) -> pd.Series:
    """Why each customer may not be e-mailed: the first reason that applies, or ``""``.

    Reasons, in precedence order (:data:`SUPPRESSION_REASONS`):

    * ``no_opt_in`` — ``email_opt_in`` false or missing;
    * ``unsubscribed`` — ``is_unsubscribed`` true (unsubscribed strictly before
      as-of, see :func:`features.build.customer_attributes`); a missing value
      also suppresses, since consent must never be assumed;
    * ``hard_bounce`` — a bounce typed ``hard`` ever (``hard_bounces_lifetime``
      > 0: final, as ESPs treat it), or a bounce without a type and no
      delivery since (``untyped_bounces_since_delivery`` > 0): the last
      delivery attempt bounced. A sender stops mailing a dead address after
      its first bounce, so a second one never comes to count;
    * ``soft_bounce`` — ``soft_bounce_streak`` soft bounces in a row, with no
      delivery in between or since (``soft_bounces_since_delivery``);
    * ``complaint`` — ``complaints_lifetime`` > 0;
    * ``frequency_cap`` — ``max_emails`` e-mails already sent in the cap's
      window (``emails_in_cap_window``), so this one would exceed the cap;
    * ``min_gap`` — the last e-mail was sent less than ``min_gap_hours`` hours
      ago (``hours_since_last_email``).

    Parameters
    ----------
    frame : pandas.DataFrame of shape (n_customers, n_columns)
        ``email_opt_in`` and ``is_unsubscribed``; when the source has e-mail
        events, the columns of
        :func:`upseg.features.deliverability.deliverability_inputs` built with
        the cap's window (``complaints_lifetime`` may come from the model
        features instead). A frame without any of them (a source without
        e-mail events) suppresses on consent alone; a missing count counts as
        0 and a missing ``hours_since_last_email`` as never e-mailed.
    soft_bounce_streak : int
        Soft bounces in a row that suppress an address, 1 or more.
    max_emails : int or None
        E-mails in the cap's window from which a customer is capped, 1 or
        more; None: no cap on the count.
    min_gap_hours : float or None
        Shortest time between two e-mails, in hours, 0 or more; None or 0: no
        minimum.

    Returns
    -------
    pandas.Series of str, shape (n_customers,)
        Indexed like ``frame``, named ``suppression_reason``.

    Raises
    ------
    ValueError
        Naming every required column ``frame`` lacks (consent, or some but not
        all of the deliverability columns), or every bad setting.
    """
    _check_settings(soft_bounce_streak, max_emails, min_gap_hours)
    missing = [c for c in ("email_opt_in", "is_unsubscribed") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"Cannot decide suppression: the frame lacks {missing}; consent is never assumed. "
            f"Columns present: {list(frame.columns)}."
        )
    present = [c for c in _DELIVERABILITY if c in frame.columns]
    if present and len(present) < len(_DELIVERABILITY):
        raise ValueError(
            "Cannot decide suppression: the frame has the deliverability columns "
            f"{present} but lacks {[c for c in _DELIVERABILITY if c not in present]}; "
            "build them together with upseg.features.deliverability.deliverability_inputs."
        )
    n = len(frame)
    hours = _hours(frame, "hours_since_last_email") if present else np.full(n, np.inf)
    conditions = [
        ~_flag(frame, "email_opt_in", missing=False),
        _flag(frame, "is_unsubscribed", missing=True),
        (_count(frame, "hard_bounces_lifetime") > 0)
        | (_count(frame, "untyped_bounces_since_delivery") > 0),
        _count(frame, "soft_bounces_since_delivery") >= soft_bounce_streak,
        _count(frame, "complaints_lifetime") > 0,
        _count(frame, "emails_in_cap_window") >= (np.inf if max_emails is None else max_emails),
        hours < (min_gap_hours or 0.0),
    ]
    reasons = np.select(conditions, list(SUPPRESSION_REASONS), default="")
    return pd.Series(reasons, index=frame.index, name="suppression_reason", dtype=str)


# --- holdout -----------------------------------------------------------------------------------


def _id_text(customer_ids: pd.Series) -> pd.Series:
    """Customer ids as strings: integer ids as their decimal digits, like data validation does."""
    ids = pd.Series(customer_ids, copy=False)
    if ids.isna().any():
        raise ValueError(
            f"customer ids must not be missing; {int(ids.isna().sum())} of {len(ids)} are."
        )
    if is_integer_dtype(ids.dtype) or isinstance(ids.dtype, pd.StringDtype):
        return ids.astype(str)
    kind = infer_dtype(ids, skipna=False) if len(ids) else "empty"
    if ids.dtype == object and kind in ("string", "integer", "empty"):
        return ids.astype(str)
    raise ValueError(
        f"customer ids must be strings or integers; got dtype {ids.dtype} ({kind} values)."
    )


def holdout_draw(customer_ids: pd.Series, campaign: str) -> np.ndarray:
    """A uniform draw in [0, 1) per customer, fixed by the campaign and the customer id alone.

    The draw is SipHash-2-4 (key ``"0123456789123456"``, pandas' fixed key) of
    the UTF-8 bytes of ``campaign + "\\x1f" + customer_id``, mixed by pandas'
    splitmix64 finaliser (:func:`pandas.util.hash_array`), whose top 53 bits
    become the float. The algorithm is fixed and involves no process seed, so
    the draw is identical across runs, machines and Python versions, does not
    depend on the row order or on the other customers of the frame, and is
    independent between campaigns. ``tests/serving/test_audience.py`` checks it
    against a pure-Python implementation of the same algorithm, so a change
    in pandas would fail the tests rather than move every holdout.

    Parameters
    ----------
    customer_ids : pandas.Series of shape (n_customers,)
        Strings or integers (an integer id draws like its decimal string, as
        data validation turns integer ids into strings); none missing.
    campaign : str
        The campaign name; non-empty, without the character ``"\\x1f"``.

    Returns
    -------
    numpy.ndarray of float64, shape (n_customers,)
    """
    if not isinstance(campaign, str) or not campaign or _KEY_SEPARATOR in campaign:
        raise ValueError(
            f"campaign must be a non-empty string without the character '\\x1f'; got {campaign!r}."
        )
    keys = (campaign + _KEY_SEPARATOR) + _id_text(customer_ids)
    hashes = pd.util.hash_array(
        keys.to_numpy(dtype=object), encoding="utf8", hash_key=_HASH_KEY, categorize=False
    )
    return (hashes >> np.uint64(11)).astype(np.float64) * 2.0**-53


def holdout_mask(draw: ArrayLike, share: float | ArrayLike) -> np.ndarray:
    """Whether each customer is in the control group: ``draw < share``.

    Parameters
    ----------
    draw : array-like of shape (n_customers,)
        From :func:`holdout_draw`.
    share : float or array-like of shape (n_customers,)
        The control share in [0, 1]; an array gives each customer their
        segment's share (``segments.map(shares)``).

    Returns
    -------
    numpy.ndarray of bool, shape (n_customers,)
    """
    draw = np.asarray(draw, dtype=float)
    shares = np.asarray(share, dtype=float)
    if shares.ndim not in (0, 1) or (shares.ndim == 1 and shares.shape != draw.shape):
        raise ValueError(
            f"share must be a number or an array of shape {draw.shape}; got shape {shares.shape}."
        )
    bad = ~((shares >= 0.0) & (shares <= 1.0))  # also catches NaN
    if np.any(bad):
        raise ValueError(
            f"holdout share must be between 0 and 1; got {np.unique(shares[bad])[:5].tolist()}."
        )
    return draw < shares
