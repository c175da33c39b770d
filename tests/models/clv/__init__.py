"""Tests of models.clv; :func:`read_cdnow_sample` reads the data set both modules check against."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: Last day of the 39-week calibration period of Fader, Hardie & Lee (2005).
CALIBRATION_END = "1997-09-30"


def read_cdnow_sample(path: Path) -> pd.DataFrame:
    """CDNOW_sample.txt: no header; master id, sample id, YYYYMMDD date, CDs, dollars."""
    frame = pd.read_csv(
        path,
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "dollars"],
        dtype={"date": str},
    )
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame
