"""did_2x2: the plain two-by-two difference in differences, cell means worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kiemnhiem.exceptions import ParameterError
from kiemnhiem.stats.did import did_2x2


def test_did_2x2_cell_means():
    frame = pd.DataFrame({
        "y": [10, 12, 13, 15, 20, 22, 20, np.nan],
        "treated": [0, 0, 0, 0, 1, 1, 1, 1],
        "post": [False, False, True, True, False, False, True, True],
    })
    res = did_2x2(frame, "y", "treated", "post")
    # Control 11 -> 14 (+3); treated 21 -> 20 (-1, the NaN row left out): -1 - 3 = -4.
    assert res.estimate == pytest.approx(-4.0)
    assert res.means.loc[False, False] == 11 and res.means.loc[True, True] == 20
    assert res.counts.loc[True, True] == 1 and res.counts.loc[False, True] == 2
    tidy = res.to_frame()
    assert list(tidy.columns) == ["treated", "post", "mean", "count"] and len(tidy) == 4
    assert list(frame["y"].iloc[:2]) == [10, 12]  # input untouched


def test_did_2x2_empty_cell_and_bad_columns():
    frame = pd.DataFrame({"y": [1.0, 2.0], "t": [True, True], "p": [False, True]})
    assert math.isnan(did_2x2(frame, "y", "t", "p").estimate)
    with pytest.raises(ParameterError):
        did_2x2(frame, "y", "t", "khong_co")
    with pytest.raises(ParameterError):
        did_2x2(frame.assign(t=["a", "b"]), "y", "t", "p")
