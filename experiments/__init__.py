"""A/B analysis of campaigns and their segments.

- :mod:`upseg.experiments.data` — a campaign or a table as an experiment (arms, outcomes,
  covariates);
- :mod:`upseg.experiments.stats` — the statistics as pure functions (lifts, intervals,
  SRM, CUPED, power, corrections), each checked against statsmodels or scipy;
- :mod:`upseg.experiments.analysis` — one tidy table of lifts per metric, segment and arm;
- :mod:`upseg.experiments.targeting` — whether the uplift model's targeting beat random;
- :mod:`upseg.experiments.calibration` — whether its predicted uplift is the size of the
  lift the campaign realised;
- :mod:`upseg.experiments.report` — the self-contained HTML report of those results.

Import the module you need; this package imports nothing on its own.
"""

__all__: list[str] = []
