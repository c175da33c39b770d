"""The BG/NBD model of repeat buying and the RFM summary it is fitted on.

:class:`~models.bgnbd.model.BetaGeoModel` (the model, its likelihood and its
predictions, with the references) is fitted on the frequency, recency and age
that :func:`~models.bgnbd.summary.rfm_summary` computes from a transaction log.
"""

from upseg.models.bgnbd.model import BetaGeoModel
from upseg.models.bgnbd.summary import rfm_summary

__all__ = ["BetaGeoModel", "rfm_summary"]
