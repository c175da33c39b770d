"""Models: who will churn, who will buy, and whom the e-mail changes.

- :mod:`upseg.models.dataset` — out-of-time training snapshots of features and labels;
- :mod:`upseg.models.classifier` — the calibrated LightGBM classifier (churn, propensity);
  :mod:`upseg.models.baseline` — the recency baseline it must beat;
- :mod:`upseg.models.tuning` — Optuna search, resumable;
- :mod:`upseg.models.evaluation`, :mod:`upseg.models.plots`, :mod:`upseg.models.explain` —
  held-out metrics, figures and TreeSHAP reasons;
- :mod:`upseg.models.drift` — PSI, the training reference and the drift checks;
- :mod:`upseg.models.registry`, :mod:`upseg.models.lineage`, :mod:`upseg.models.tracking` —
  the champion gate, training keys and the MLflow connection;
- :mod:`upseg.models.bgnbd` — the BG/NBD reference model of repeat purchases;
- :mod:`upseg.models.uplift` — uplift learners, their selection, metrics and figures.

Import the module you need; this package imports nothing on its own.
"""

__all__: list[str] = []
