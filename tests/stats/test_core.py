"""The pooled statistic's array core (:func:`kiemnhiem.stats.core._pooled`), worked by hand.

Every series is flat within each window, so a district's ``did`` is its change less its
comparison units' mean change. The pooled test tabulates each level's distinct comparison sets
once over all the assignments (or in parts of whole chunks when the tables would be large):
each case runs with the default chunk size (one part) and with a tiny one (one assignment per
chunk and per part), which must give the same, hand-worked, statistics.
"""

from __future__ import annotations

import numpy as np
import pytest

from kiemnhiem.stats.core import _distinct_codes, _pooled, _prepare, _set_codes
from kiemnhiem.stats.timeline import pilot_window

YEARS = np.arange(2016, 2020)
# Starts on 1 January: T = g; pre window 2016-2017, post 2018-2019 (data end in 2019).
W2018 = pilot_window("2018-01-01", "day", pre_years=2, post_years=2)
# Pre 2018-2019, post 2020-2021: no post year in the data, so never assessable, only a
# not-yet comparison unit for the 2018 pilots.
W2020 = pilot_window("2020-01-01", "day", pre_years=2, post_years=2)
CHUNKS = (4_000_000, 1)  # the default chunk size, and one assignment per chunk


def _values(changes) -> np.ndarray:
    """(1, n, 4): 10 in 2016-2017, 10 + change in 2018-2019."""
    changes = np.asarray(changes, dtype=float)
    return np.where(YEARS[None, :] >= 2018, 10 + changes[:, None], 10.0)[None]


@pytest.mark.parametrize("chunk_cells", CHUNKS)
def test_two_provinces_never_sets_by_hand(chunk_cells):
    # Provinces 14 (rows 0-2, changes -6, 0, 2) and 15 (rows 3-5, changes -4, 10, 12), one
    # 2018 pilot in each, compared with its own province's two never units:
    #   14: row 0 -> -6 - (0 + 2)/2 = -7; row 1 -> 0 - (-6 + 2)/2 = 2; row 2 -> 2 + 3 = 5;
    #   15: row 3 -> -4 - 11 = -15; row 4 -> 10 - 4 = 6; row 5 -> 12 - 3 = 9.
    # The statistic of a placement is the mean of its two pilots' did.
    prep = _prepare(_values([-6, 0, 2, -4, 10, 12]), YEARS, [W2018])
    strata = np.array(["14"] * 3 + ["15"] * 3)
    labels, expected = [], []
    for i, d14 in enumerate((-7, 2, 5)):
        for j, d15 in enumerate((-15, 6, 9)):
            row = np.zeros(6, dtype=np.int16)
            row[i] = row[3 + j] = 1
            labels.append(row)
            expected.append((d14 + d15) / 2)
    stats = _pooled(prep, np.array(labels), np.array([np.inf, 2018.0]), strata, chunk_cells)
    assert stats[:, 0] == pytest.approx(expected)


@pytest.mark.parametrize("chunk_cells", CHUNKS)
def test_whole_dataset_not_yet_by_hand(chunk_cells):
    # Province 14 (rows 0-2, changes -6, 0, 2): one 2018 pilot and two 2020 pilots (not yet
    # treated in 2018-2019); province 15 (rows 3-5, changes -4, 10, 12): three 2018 pilots, so
    # no never and no not-yet unit of their own: they compare with the whole dataset's not-yet
    # units, province 14's two 2020 pilots. The 2020 pilots are never assessed (no post year).
    #   2018 pilot on row 0: -6 - (0 + 2)/2 = -7; 15's: -4 - 1 = -5, 10 - 1 = 9, 12 - 1 = 11:
    #     mean (-7 - 5 + 9 + 11)/4 = 2.
    #   on row 1: 0 - (-6 + 2)/2 = 2; 15's against mean -2: -2, 12, 14: (2 - 2 + 12 + 14)/4
    #     = 6.5.
    #   on row 2: 2 - (-6 + 0)/2 = 5; 15's against mean -3: -1, 13, 15: (5 - 1 + 13 + 15)/4
    #     = 8.
    prep = _prepare(_values([-6, 0, 2, -4, 10, 12]), YEARS, [W2018, W2020])
    strata = np.array(["14"] * 3 + ["15"] * 3)
    labels = np.array([[1, 2, 2, 1, 1, 1], [2, 1, 2, 1, 1, 1], [2, 2, 1, 1, 1, 1]],
                      dtype=np.int16)
    stats = _pooled(prep, labels, np.array([np.inf, 2018.0, 2020.0]), strata, chunk_cells)
    assert stats[:, 0] == pytest.approx([2.0, 6.5, 8.0])


@pytest.mark.parametrize("chunk_cells", CHUNKS)
def test_sets_wider_than_a_code_by_hand(chunk_cells):
    # 64 units in one stratum: a never set does not fit in one 62-bit code, so sets are
    # compared as rows. Unit i changes by i; one 2018 pilot, the 63 others never:
    # did_i = i - (0 + 1 + ... + 63 - i)/63 = i - (2016 - i)/63.
    n = 64
    prep = _prepare(_values(np.arange(n)), YEARS, [W2018])
    labels = np.eye(n, dtype=np.int16)[[0, 5, 63, 5]]
    stats = _pooled(prep, labels, np.array([np.inf, 2018.0]), None, chunk_cells)
    assert stats[:, 0] == pytest.approx([i - (2016 - i) / 63 for i in (0, 5, 63, 5)])


def test_distinct_wide_sets_by_hand():
    # One stratum of 70 members (codes of 70 bits: compared as rows): rows 0 and 2 hold
    # members 0 and 69, row 1 none: two distinct sets.
    Wp = np.zeros((3, 1, 70), dtype=bool)
    Wp[[0, 2], 0, 0] = Wp[[0, 2], 0, 69] = True
    U, r, inv = _distinct_codes(_set_codes(Wp), 70)
    assert len(U) == 2 and (r == 0).all()
    assert inv[0, 0] == inv[2, 0] != inv[1, 0]
    assert np.flatnonzero(U[inv[0, 0]]).tolist() == [0, 69]
    assert not U[inv[1, 0]].any()
