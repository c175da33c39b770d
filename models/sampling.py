"""Bounded, stratified samples of training rows, drawn on the engine that holds them.

LightGBM trains on one machine, so the rows a model trains on must fit there,
however large the customer base the engine (DuckDB or Spark) computed them
from. :func:`stratified_sample` keeps at most ``max_rows`` rows of an Ibis
table, in every stratum (the label's class) the same share as in the whole
table, so the positive rate, and so the calibration of a probability trained
on the sample, are those of the population.

Which rows are kept does not depend on the engine, the partitioning or the
order of the rows: within each stratum a row's rank is the MD5 digest of
``"<seed>:<customer id>"`` (ties broken by the id), and the lowest ranks are
kept. DuckDB and Spark compute the same digest, so they keep the same
customers, and a given seed keeps the same customers month after month. To
spare the engine a global sort, rows are first filtered by a digest threshold
a little above the stratum's share (a range of the same order, so the rows
kept are unchanged); when that filter keeps too few rows, which with the
margin used should not happen, the sample is drawn again without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import ibis
import pandas as pd

__all__ = ["SampleFacts", "stratified_sample", "stratum_quotas"]

#: Hex digits of the digest the pre-filter compares (16**8 levels).
_PREFIX_DIGITS = 8
#: Standard deviations of a binomial count the pre-filter's share keeps in hand.
_MARGIN_SIGMAS = 6.0
_RANK = "_upseg_sample_rank"
_DIGEST = "_upseg_sample_digest"


@dataclass(frozen=True)
class SampleFacts:
    """What a sample kept, per stratum, for the run's record.

    Attributes
    ----------
    max_rows : int
        The bound asked for.
    seed : int
    population : dict of str to int
        Rows per stratum before sampling.
    kept : dict of str to int
        Rows per stratum kept; equal to ``population`` when nothing was dropped.
    """

    max_rows: int
    seed: int
    population: dict[str, int]
    kept: dict[str, int]

    @property
    def sampled(self) -> bool:
        """Whether rows were dropped."""
        return self.kept != self.population

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready record: bound, seed, rows per stratum before and after."""
        return {
            "max_rows": self.max_rows,
            "seed": self.seed,
            "population": dict(self.population),
            "kept": dict(self.kept),
            "rows_before": sum(self.population.values()),
            "rows_after": sum(self.kept.values()),
        }


def stratum_quotas(population: dict[str, int], max_rows: int) -> dict[str, int]:
    """Rows to keep per stratum: ``max_rows`` shared in proportion, by largest remainder.

    Every stratum keeps ``floor(n * max_rows / total)`` rows and the rows left
    over go to the largest fractional parts (ties to the stratum named first
    in sort order), so the quotas add up to ``min(max_rows, total)`` exactly.
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1; got {max_rows}.")
    total = sum(population.values())
    if total <= max_rows:
        return dict(population)
    exact = {s: n * max_rows / total for s, n in population.items()}
    quotas = {s: math.floor(q) for s, q in exact.items()}
    left = max_rows - sum(quotas.values())
    by_remainder = sorted(exact, key=lambda s: (-(exact[s] - quotas[s]), s))
    for s in by_remainder[:left]:
        quotas[s] += 1
    return quotas


def _digest_below(share: float) -> str | None:
    """The hex threshold under which a uniform digest falls with probability ``share``."""
    if share >= 1.0:
        return None
    return format(math.ceil(share * 16**_PREFIX_DIGITS), f"0{_PREFIX_DIGITS}x")


def _prefilter_share(kept: int, population: int) -> float:
    """A share of the stratum whose digest filter leaves at least ``kept`` rows, all but surely."""
    p = kept / population
    return p + _MARGIN_SIGMAS * math.sqrt(p * (1 - p) / population) + 1 / population


def _stratum_name(value: Any) -> str:
    return "null" if pd.isna(value) else str(value).lower()


def _kept_rows(
    table: ibis.Table,
    stratum: str,
    key: str,
    seed: int,
    quotas: dict[str, int],
    thresholds: dict[str, str | None],
) -> ibis.Table:
    digest = ibis.literal(f"{seed}:").concat(table[key].cast("string")).hexdigest("md5")
    with_digest = table.mutate(**{_DIGEST: digest})
    names = with_digest[stratum].cast("string").lower().fill_null("null")
    # only the strata that keep rows; a stratum with a quota of 0 is dropped
    prefilter = ibis.cases(
        *[
            (names == s, ibis.literal(True) if t is None else with_digest[_DIGEST] < t)
            for s, t in thresholds.items()
        ],
        else_=False,
    )
    candidates = with_digest.filter(prefilter)
    rank = ibis.row_number().over(
        group_by=candidates[stratum], order_by=[candidates[_DIGEST], candidates[key]]
    )
    ranked = candidates.mutate(**{_RANK: rank})
    ranked_names = ranked[stratum].cast("string").lower().fill_null("null")
    quota = ibis.cases(*[(ranked_names == s, q) for s, q in quotas.items()], else_=0)
    return ranked.filter(ranked[_RANK] < quota).drop(_RANK, _DIGEST)


def _counts(table: ibis.Table, stratum: str) -> dict[str, int]:
    counts = table.group_by(stratum).aggregate(n=table.count()).execute()
    return {_stratum_name(v): int(n) for v, n in zip(counts[stratum], counts["n"], strict=True)}


def stratified_sample(
    table: ibis.Table,
    *,
    max_rows: int,
    seed: int,
    stratum: str,
    key: str = "customer_id",
) -> tuple[ibis.Table, SampleFacts]:
    """At most ``max_rows`` rows of ``table``, each stratum in its own proportion.

    The sample stays an expression on ``table``'s engine: join it to wider
    rows (features) and only the kept rows ever reach this process. Sampling
    a narrow table (the labels) and joining the wide one to it spares the
    engine computing the wide rows more than once.

    Parameters
    ----------
    table : ibis.Table
        The rows, on any engine; ``key`` identifies a row within a stratum.
    max_rows : int
        Bound on the rows kept; ``table`` itself is returned when it has no more.
    seed : int
        Chooses which rows; the same seed keeps the same keys on every engine.
    stratum : str
        The column whose values are kept in proportion: a boolean, an integer
        or a string (a label, a class, an arm).
    key : str, default "customer_id"

    Returns
    -------
    sample : ibis.Table
        The kept rows, with ``table``'s columns.
    facts : SampleFacts
        Rows per stratum before and after.
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1; got {max_rows}.")
    for column in (stratum, key):
        if column not in table.columns:
            raise ValueError(
                f"stratified_sample: the table has no column {column!r}; "
                f"its columns are {list(table.columns)}."
            )
    population = _counts(table, stratum)
    quotas = stratum_quotas(population, max_rows)
    facts = SampleFacts(max_rows, seed, population, quotas)
    if quotas == population:
        return table, facts
    kept = {s: q for s, q in quotas.items() if q > 0}
    thresholds = {s: _digest_below(_prefilter_share(q, population[s])) for s, q in kept.items()}
    sample = _kept_rows(table, stratum, key, seed, kept, thresholds)
    if _counts(sample, stratum) != kept:  # the pre-filter left a stratum short
        sample = _kept_rows(table, stratum, key, seed, kept, dict.fromkeys(kept, None))
    return sample, facts
