"""The plain two-by-two difference in differences (DESIGN.md, "Evaluation contract"): any frame,
repeated cross-sections too. No I/O, nothing printed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import ParameterError
from ..labels import both


# =========================================================================== did_2x2
@dataclass(frozen=True)
class DiD2x2:
    """A two-by-two difference-in-differences.

    Attributes
    ----------
    estimate : float
        ``(treated after - treated before) - (control after - control before)`` of the cell
        means; NaN when a cell is empty.
    means, counts : DataFrame
        2 x 2, index ``treated`` (False, True), columns ``post`` (False, True).
    """

    estimate: float
    means: pd.DataFrame
    counts: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """Tidy: one row per cell (treated, post, mean, count)."""
        rows = [
            {
                "treated": t,
                "post": p,
                "mean": float(self.means.loc[t, p]),
                "count": int(self.counts.loc[t, p]),
            }
            for t in (False, True)
            for p in (False, True)
        ]
        return pd.DataFrame(rows)


def _as_bool(series: pd.Series, column: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.astype(float) != 0
    vi, en = both("eval_err_boolean", column=column)
    raise ParameterError(vi, en)


def did_2x2(frame: pd.DataFrame, outcome: str, treated: str, post: str) -> DiD2x2:
    """Difference-in-differences of cell means on any frame (repeated cross-sections too).

    Parameters
    ----------
    frame : DataFrame
        One row per observation; not changed.
    outcome : str
        Numeric column; rows where it is missing are left out.
    treated, post : str
        Boolean (or 0/1) columns: treated group, after period.
    """
    for column in (outcome, treated, post):
        if column not in frame.columns:
            vi, en = both("eval_err_column", column=column)
            raise ParameterError(vi, en)
    f = frame.loc[:, [outcome, treated, post]].copy()
    f = f[f[outcome].notna() & f[treated].notna() & f[post].notna()]
    y = f[outcome].astype(float)
    t = _as_bool(f[treated], treated)
    p = _as_bool(f[post], post)
    cells = (False, True)
    means = pd.DataFrame(np.nan, index=pd.Index(cells, name="treated"),
                         columns=pd.Index(cells, name="post"))
    counts = pd.DataFrame(0, index=means.index, columns=means.columns)
    for ti in cells:
        for pi in cells:
            sel = y[(t == ti) & (p == pi)]
            counts.loc[ti, pi] = len(sel)
            means.loc[ti, pi] = float(sel.mean()) if len(sel) else np.nan
    est = (means.loc[True, True] - means.loc[True, False]) - (
        means.loc[False, True] - means.loc[False, False]
    )
    return DiD2x2(float(est), means, counts)
