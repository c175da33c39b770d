"""Tests of models.clv; :func:`read_cdnow_sample` reads the data set both modules check against."""

from __future__ import annotations

from upseg.features.cdnow import read_cdnow_sample

__all__ = ["CALIBRATION_END", "read_cdnow_sample"]

#: Last day of the 39-week calibration period of Fader, Hardie & Lee (2005).
CALIBRATION_END = "1997-09-30"
