"""Customer lifetime value: what each customer's future purchases are worth.

:class:`~models.clv.gamma_gamma.GammaGammaModel` models the spend per
transaction; :class:`~models.clv.probabilistic.ProbabilisticCLV` combines it
with the BG/NBD (:mod:`models.bgnbd`) into discounted revenue over a horizon.
"""

from upseg.models.clv.gamma_gamma import (
    GammaGammaModel,
    SpendFrequencyCheck,
    SpendFrequencyWarning,
    independence_check,
    repeat_customers,
)
from upseg.models.clv.probabilistic import (
    ProbabilisticCLV,
    summary_from_features,
    summary_from_transactions,
)

__all__ = [
    "GammaGammaModel",
    "ProbabilisticCLV",
    "SpendFrequencyCheck",
    "SpendFrequencyWarning",
    "independence_check",
    "repeat_customers",
    "summary_from_features",
    "summary_from_transactions",
]
