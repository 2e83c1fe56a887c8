"""The array core of the evaluation: one units x years matrix per indicator.
from .timeline import Window, usable_years

:class:`_Prep` holds every unit's pre and post means under a set of windows, so that the
contract's ``did`` for any set of comparison units is one matrix product (:func:`_did_from`),
:func:`_pooled` evaluates the model statistic for thousands of placements at once, and
:func:`_cores` gives one pilot's estimate, pre-trend check (:func:`pretrend`) and placebo
statistics (:func:`_placebos`). Readings of the contract are documented in
:mod:`kiemnhiem.stats.evaluation`; this module knows nothing of datasets, catalogs or words.
The names keep their leading underscore: they are the evaluation's internals, shared by the
modules of this package only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import stdtr  # Student's t; scipy.stats would add 0.6 s of import

from .timeline import Window, usable_years

# Two-sided level of the pre-trend slope test: the 10 % level over ~100 rows (module docstring).
PRETREND_LEVEL = 0.001
# The pre-trend slope looks back at most this many pre windows: a line through a decade of
# history would test long-run curvature, not the years that matter to ``did``.
PRETREND_SPAN = 2


# =========================================================================== array core
@dataclass(frozen=True)
class _Prep:
    """Everything about one indicator and a few schedules that does not depend on assignments.

    Shapes: L layers (0 the outcome Y, 1 the treatment indicator D), S schedules, n units,
    m years, J post-window slots. ``u`` indexes a unit taking the schedule, ``c`` a
    comparison unit.
    """

    values: np.ndarray  # (L, n, m)
    years: np.ndarray  # (m,)
    obs: np.ndarray  # (n, m) usable value
    pre_mask: np.ndarray  # (S, u, m) u's usable pre years under s
    n_pre: np.ndarray  # (S, u)
    n_post: np.ndarray  # (S, u)
    assess: np.ndarray  # (S, u) at least 2 usable years on each side
    qyears: np.ndarray  # (S, J) post-window years (0 for padding)
    qin: np.ndarray  # (S, J) slot holds a window year inside the matrix
    qvalid: np.ndarray  # (S, u, J) u has a value in that post year
    pm: np.ndarray  # (L, S, u, c) c's mean over u's usable pre years (NaN if c lacks one)
    valid: np.ndarray  # (S, u, c, J) c usable as u's comparison in slot j
    G: np.ndarray  # (c, S, J, L + 1, u) valid deviations (L layers) and validity, for matmul
    pdev: np.ndarray  # (L, S, u, J) the unit's own deviation from its pre mean
    none_did: np.ndarray  # (L, S, u) before/after change

    @property
    def shape(self) -> tuple[int, int, int, int]:
        L, n, _ = self.values.shape
        return L, self.qyears.shape[0], n, self.qyears.shape[1]


def _prepare(values: np.ndarray, years: np.ndarray, windows: list[Window]) -> _Prep:
    L, n, m = values.shape
    S = len(windows)
    y0 = int(years[0]) if m else 0
    obs = ~np.isnan(values[0])
    npre = np.zeros((S, m), dtype=bool)
    J = max(1, max(len(w.post) for w in windows))
    qcols = np.zeros((S, J), dtype=int)
    qyears = np.zeros((S, J), dtype=int)
    qin = np.zeros((S, J), dtype=bool)
    for s, w in enumerate(windows):
        for y in w.pre:
            if 0 <= y - y0 < m:
                npre[s, y - y0] = True
        for j, y in enumerate(w.post):
            qyears[s, j] = y
            if 0 <= y - y0 < m:
                qcols[s, j], qin[s, j] = y - y0, True
    pre_mask = npre[:, None, :] & obs[None]
    n_pre = pre_mask.sum(-1)
    obs_q = (obs[:, qcols] & qin[None]).transpose(1, 0, 2)  # (S, n, J)
    qvalid = obs_q
    n_post = qvalid.sum(-1)
    assess = (n_pre >= 2) & (n_post >= 2)
    pmf = pre_mask.astype(float)
    missing = np.einsum("sum,cm->suc", pmf, (~obs).astype(float)) > 0
    valid_pre = ~missing & (n_pre[:, :, None] > 0)
    filled = np.nan_to_num(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        pm = np.einsum("sum,lcm->lsuc", pmf, filled) / n_pre[None, :, :, None]
    pm = np.where(valid_pre[None], pm, np.nan)
    ypost = np.where(qin[None, None], values[:, :, qcols], np.nan).transpose(0, 2, 1, 3)
    dev = ypost[:, :, None, :, :] - pm[..., None]  # (L, S, u, c, J)
    valid = qvalid[:, :, None, :] & valid_pre[..., None] & obs_q[:, None, :, :]
    idx = np.arange(n)
    valid[:, idx, idx, :] = False  # a unit is never its own comparison
    X = np.where(valid[None], dev, 0.0)
    G = np.concatenate([X, valid[None].astype(float)], axis=0)  # (L+1, S, u, c, J)
    G = np.ascontiguousarray(G.transpose(3, 1, 4, 0, 2))
    pdev = np.where(qvalid[None], dev[:, :, idx, idx, :], np.nan)  # (L, S, u, J)
    k = qvalid.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        none_did = np.where(qvalid[None], pdev, 0.0).sum(-1) / k[None]
    none_did = np.where(k[None] > 0, none_did, np.nan)
    return _Prep(values, years, obs, pre_mask, n_pre, n_post, assess, qyears, qin, qvalid,
                 pm, valid, G, pdev, none_did)


def _compare_static(prep: _Prep, W: np.ndarray) -> np.ndarray:
    """Sums over comparison units with weights ``W`` (B, n), the same in every year.

    Returns (B, S, J, L + 1, u): per layer the summed deviations, then the count.
    """
    L, S, n, J = prep.shape
    B = W.shape[0]
    return (W @ prep.G.reshape(n, -1)).reshape(B, S, J, L + 1, n)


def _compare_by_year(prep: _Prep, T: np.ndarray) -> np.ndarray:
    """Like :func:`_compare_static` with the units untreated through each year (T > year)."""
    L, S, n, J = prep.shape
    B = T.shape[0]
    R = np.zeros((B, S, J, L + 1, n))
    for y in np.unique(prep.qyears[prep.qin]):
        s_idx, j_idx = np.nonzero(prep.qin & (prep.qyears == y))
        W = (T > y).astype(float)
        Gy = prep.G[:, s_idx, j_idx]  # (c, k, L+1, u)
        R[:, s_idx, j_idx] = (W @ Gy.reshape(n, -1)).reshape(B, len(s_idx), L + 1, n)
    return R


def _did_from(prep: _Prep, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``did`` (B, S, L, u) and the number of post years it averages (B, S, u)."""
    L = prep.values.shape[0]
    num = R[:, :, :, :L, :]
    den = R[:, :, :, L, :]
    inc = (den > 0) & prep.qvalid.transpose(0, 2, 1)[None]  # (B, S, J, u)
    comp = num / np.where(den > 0, den, 1.0)[:, :, :, None, :]
    own = prep.pdev.transpose(1, 3, 0, 2)[None]  # (1, S, J, L, u)
    term = np.where(inc[:, :, :, None, :], own - comp, 0.0)
    k = inc.sum(2)
    did = term.sum(2) / np.where(k > 0, k, 1)[:, :, None, :]
    return np.where(k[:, :, None, :] > 0, did, np.nan), k


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` without waking BLAS threads for the small products of this module.

    OpenBLAS runs products above about 2.6e5 multiply-adds on several threads, and waking them
    costs more than the product itself at these sizes; einsum's plain loop does not.
    """
    if a.shape[0] * a.shape[1] * b.shape[1] <= 5e7:
        return np.einsum("ij,jk->ik", a, b)
    return a @ b


def _distinct_rows(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a boolean matrix, and each row's index among them."""
    B, n = mask.shape
    if n <= 16:
        # One integer key per row and a lookup table: no sort at all.
        keys = np.packbits(mask, axis=1, bitorder="little")
        keys = keys[:, 0].astype(np.int64) + (keys[:, 1].astype(np.int64) << 8 if n > 8 else 0)
        present = np.zeros(1 << n, dtype=bool)
        present[keys] = True
        uniq_keys = np.flatnonzero(present)
        lut = np.zeros(1 << n, dtype=np.intp)
        lut[uniq_keys] = np.arange(len(uniq_keys))
        uniq = ((uniq_keys[:, None] >> np.arange(n)) & 1).astype(bool)
        return uniq, np.take(lut, keys)
    uniq, inverse = np.unique(mask, axis=0, return_inverse=True)
    return uniq, inverse.ravel()


def _pooled(prep: _Prep, labels: np.ndarray, T_of_label: np.ndarray) -> np.ndarray:
    """The pooled statistic (mean ``did`` over the assessable pilots) of each assignment.

    ``labels`` (B, n): schedule of each unit (0 = never, s + 1 = ``prep``'s schedule s), the
    same multiset in every row. Each pilot's comparison level is chosen as for an observed
    pilot: the never units of that assignment, else its not-yet units, else before/after.

    A pilot's ``did`` depends on the assignment only through its comparison sets, and among
    thousands of assignments there are at most a few hundred distinct sets. So the terms are
    tabulated once per distinct set (one matrix product), then looked up for every pilot of
    every assignment with flat indices (``np.take``, much faster than fancy indexing).
    Returns (B, L); NaN where no pilot can be assessed.
    """
    L, S, n, J = prep.shape
    labels = np.asarray(labels)
    B = labels.shape[0]
    P = int((labels[0] > 0).sum())
    if P == 0:
        return np.full((B, L), np.nan)
    pu = np.nonzero(labels > 0)[1].reshape(B, P)
    ps = np.take(labels.ravel(), pu + (np.arange(B) * n)[:, None]).astype(np.intp) - 1
    slot = ps * n + pu
    assess = np.take(prep.assess.reshape(-1), slot)  # (B, P)
    # The statistic is a sum over pilots of three masked parts (never, not yet, before/after
    # comparisons), each tabulated with zeros where it does not apply: no NaN, no masking
    # pass over (B, P, L) arrays.
    total = np.zeros((B, L))
    done = np.zeros((B, P), dtype=bool)
    never = labels == 0
    if never.any():
        uniq, inv = _distinct_rows(never)
        R = _dot(uniq.astype(float), prep.G.reshape(n, -1)).reshape(len(uniq), S, J, L + 1, n)
        d_tab, k_tab = _did_from(prep, R)  # (K, S, L, n), (K, S, n)
        ok = (k_tab > 0) & prep.assess[None]
        d_tab = np.where(ok[:, :, None, :], d_tab, 0.0)
        idx = inv[:, None] * (S * n) + slot
        done = np.take(ok.reshape(-1), idx)
        total += np.take(d_tab.transpose(0, 1, 3, 2).reshape(-1, L), idx, axis=0).sum(1)
    # Units untreated through y exist only if some label has T > y.
    present_T = T_of_label[np.unique(labels[0])]
    rest = assess & ~done
    if rest.any() and (present_T > prep.qyears[prep.qin].min()).any():
        T = T_of_label[labels]
        tot = np.zeros((B, P, L))
        cnt = np.zeros((B, P))
        for y in np.unique(prep.qyears[prep.qin]):
            if not (present_T > y).any():
                continue
            s_q, j_q = np.nonzero(prep.qin & (prep.qyears == y))
            k = len(s_q)
            uniq, inv = _distinct_rows(T > y)
            Gy = prep.G[:, s_q, j_q].reshape(n, -1)
            R = _dot(uniq.astype(float), Gy).reshape(len(uniq), k, L + 1, n)
            den = R[:, :, L, :]
            inc = (den > 0) & prep.qvalid[s_q, :, j_q][None]  # (K, k, n)
            own = prep.pdev[:, s_q, :, j_q]  # (k, L, n)
            comp = R[:, :, :L, :] / np.where(den > 0, den, 1.0)[:, :, None, :]
            term = np.where(inc[:, :, None, :], own[None] - comp, 0.0)
            # Per distinct set a block of k * n entries and a trailing zero, where pilots whose
            # schedule has no post year y point.
            K, width = len(uniq), k * n + 1
            term_tab = np.zeros((K, width, L))
            term_tab[:, :-1] = term.transpose(0, 1, 3, 2).reshape(K, k * n, L)
            inc_tab = np.zeros((K, width))
            inc_tab[:, :-1] = inc.reshape(K, k * n)
            qpos = np.full(S, -1)
            qpos[s_q] = np.arange(k)  # a schedule meets a calendar year in one slot at most
            off = np.where(qpos[:, None] >= 0, qpos[:, None] * n + np.arange(n), k * n)
            idx = np.take(off.reshape(-1), slot) + inv[:, None] * width
            tot += np.take(term_tab.reshape(-1, L), idx, axis=0)
            cnt += np.take(inc_tab.reshape(-1), idx)
        has = (cnt > 0) & rest
        rest &= ~has
        np.maximum(cnt, 1.0, out=cnt)
        total += np.einsum("bp,bpl->bl", has / cnt, tot)
    if rest.any():
        # Before/after, the last resort.
        none_tab = prep.none_did.transpose(1, 2, 0).reshape(-1, L)
        none_tab = np.where(np.isnan(none_tab), 0.0, none_tab)
        total += np.einsum("bp,bpl->bl", rest.astype(float),
                           np.take(none_tab, slot, axis=0))
    n_assessed = assess.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / n_assessed[:, None]


# =========================================================================== one pilot
@dataclass(frozen=True)
class _Core:
    """One pilot on one indicator under one window: estimate and placebo statistics."""

    window: Window
    pre_used: tuple[int, ...]
    post_used: tuple[int, ...]
    did_years: tuple[int, ...]
    pre_mean: float
    post_mean: float
    did: np.ndarray  # (L,)
    comparison: str
    comp_units: np.ndarray  # bool (n,)
    comp_by_year: np.ndarray  # bool (n, J) units in C_t for each post slot
    pretrend: PreTrend
    reason: str  # "" when assessable, else no_data / few_pre / few_post
    placebo: np.ndarray | None  # (A, L): observed first, then each usable placebo
    prep: _Prep
    s: int  # this window's index in prep


def _cores(values: np.ndarray, years: np.ndarray, p: int, windows: list[Window],
           never: np.ndarray, T_units: np.ndarray, inference: bool = True) -> list[_Core]:
    """Estimates for pilot row ``p`` under each of ``windows`` (the main one first, then the
    shifted starts of the sensitivity check), sharing one :class:`_Prep`.

    ``did`` is computed only where the pilot can be assessed; the pre-trend only for the main
    window.
    """
    prep = _prepare(values, years, windows)
    L, _, n, J = prep.shape
    obs_p = prep.obs[p]
    Y = values[0]
    lazy: dict[str, tuple] = {}

    def never_did():
        if "never" not in lazy:
            lazy["never"] = _did_from(prep, _compare_static(prep, never[None].astype(float)))
        return lazy["never"]

    def notyet_did():
        if "notyet" not in lazy:
            lazy["notyet"] = _did_from(prep, _compare_by_year(prep, T_units[None]))
        return lazy["notyet"]

    out = []
    for s, window in enumerate(windows):
        pre_used, post_used = usable_years(window, years[obs_p])
        if not obs_p.any():
            reason = "no_data"
        elif len(pre_used) < 2:
            reason = "few_pre"
        elif len(post_used) < 2:
            reason = "few_post"
        else:
            reason = ""
        pre_mean = float(np.mean(Y[p, prep.pre_mask[s, p]])) if len(pre_used) else math.nan
        post_mean = math.nan
        if len(post_used):
            post_mean = float(np.mean(Y[p, [int(y - years[0]) for y in post_used]]))
        comp_by_year = np.zeros((n, J), dtype=bool)
        did, comparison, did_years = np.full(L, np.nan), "none", ()
        if not reason:
            d_n, k_n = never_did()
            if k_n[0, s, p] > 0:
                comparison, did = "never", d_n[0, s, :, p]
                weights = np.broadcast_to(never[:, None], (n, J))
            else:
                d_y, k_y = notyet_did()
                if k_y[0, s, p] > 0:
                    comparison, did = "notyet", d_y[0, s, :, p]
                    weights = T_units[:, None] > prep.qyears[s][None, :]
                else:
                    did, weights = prep.none_did[:, s, p], np.zeros((n, J), dtype=bool)
            comp_by_year = prep.valid[s, p] & weights
            slots = prep.qvalid[s, p] & (comp_by_year.any(0) if comparison != "none" else True)
            did_years = tuple(int(y) for y in prep.qyears[s][slots])
        comp_units = comp_by_year.any(1)
        trend = NO_PRETREND
        if s == 0 and not reason:
            trend = pretrend(Y, years, p, window, prep.pre_mask[s, p], comp_units, did[0],
                             did_years)
        placebo = None
        if inference and not reason and comparison != "none":
            placebo = _placebos(prep, s, p, did, comparison, never, T_units, did_years)
        out.append(_Core(window, pre_used, post_used, did_years, pre_mean, post_mean, did,
                         comparison, comp_units, comp_by_year, trend, reason, placebo,
                         prep, s))
    return out


def _core(values, years, p, window, never, T_units, inference: bool = True) -> _Core:
    """The estimate for pilot row ``p`` under one window (see :func:`_cores`)."""
    return _cores(values, years, p, [window], never, T_units, inference)[0]


@dataclass(frozen=True)
class PreTrend:
    """The pre-trend check of one pilot on one indicator (module docstring).

    Attributes
    ----------
    slope : float
        Least-squares slope a year of the pilot's gap to its comparison mean before the start.
    effect : float
        ``slope`` times the distance from the mean of ``did``'s pre years to the middle of its
        post years: the ``did`` that the trend alone would produce.
    p : float
        Two-sided p-value of the slope's t-test (NaN when it cannot be computed).
    years : tuple of int
        The years the slope is fitted over.
    flag : bool or pd.NA
        Size rule and ``p < PRETREND_LEVEL``; NA with fewer than 3 years, without ``did``
        or without a comparison group (before/after only: slope, effect and p still there).
    """

    slope: float = math.nan
    effect: float = math.nan
    p: float = math.nan
    years: tuple[int, ...] = ()
    flag: object = pd.NA


NO_PRETREND = PreTrend()


def _line(t: np.ndarray, gaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares slopes and residual sums of squares of each row of ``gaps`` on ``t``."""
    dt = t - t.mean()
    centred = gaps - gaps.mean(axis=-1, keepdims=True)
    slopes = centred @ dt / (dt @ dt)
    resid = centred - slopes[..., None] * dt
    return slopes, (resid**2).sum(axis=-1)


def size_rule(effect: float, did: float) -> bool:
    """The contract's rule: ``effect`` at least half of ``did`` in size, with its sign."""
    return bool(did != 0 and np.sign(effect) == np.sign(did) and abs(effect) >= 0.5 * abs(did))


def pretrend(Y: np.ndarray, years: np.ndarray, p: int, window: Window, pre_mask: np.ndarray,
             comp_units: np.ndarray, did: float, did_years) -> PreTrend:
    """The pre-trend check of pilot row ``p`` (module docstring).

    Parameters
    ----------
    Y : ndarray
        Units x years values (NaN where missing).
    years : ndarray
        The calendar years of ``Y``'s columns.
    p : int
        The pilot's row.
    window : Window
        The pilot's calendar: the slope uses the years from ``T - 2 * pre_years`` to ``T - 1``.
    pre_mask : ndarray of bool
        The pre-window years ``did`` uses.
    comp_units : ndarray of bool
        The units ``did`` compares with (none: before/after only).
    did : float
        The pilot's ``did``.
    did_years : sequence of int
        The post years ``did`` averages.
    """
    if int(pre_mask.sum()) < 3 or not np.isfinite(did) or not len(did_years):
        return NO_PRETREND
    T = window.T
    before = (years < T) & (years >= T - PRETREND_SPAN * window.pre_years) & ~np.isnan(Y[p])
    if comp_units.any():
        before &= ~np.isnan(Y[comp_units]).any(axis=0)
    if int(before.sum()) < 3:
        return NO_PRETREND
    t = years[before].astype(float)
    sub = Y[:, before]
    comp = np.flatnonzero(comp_units)
    k = len(comp)
    gaps = [sub[p] - sub[comp].mean(axis=0) if k else sub[p]]
    if k >= 2:  # each comparison unit against the others, as in the placebos
        total = sub[comp].sum(axis=0)
        gaps += list(sub[comp] - (total - sub[comp]) / (k - 1))
    slopes, rss = _line(t, np.array(gaps))
    slope = float(slopes[0])
    n = len(t)
    own = rss[0] / (n - 2)
    df = len(gaps) * (n - 2)
    variance = max(float(rss.sum()) / df, float(own))
    sxx = float(((t - t.mean()) ** 2).sum())
    if variance > 0:
        p_value = float(2 * stdtr(df, -abs(slope) / math.sqrt(variance / sxx)))
    else:  # every gap on an exact line: any slope is certain
        p_value = 0.0 if slope != 0 else 1.0
    effect = slope * (float(np.mean(did_years)) - float(years[pre_mask].mean()))
    # Before/after only: the contract's gap has no comparison mean, so the flag is missing; the
    # own trend is still measured, for the model row (the pooled mean takes the change as is).
    flag = size_rule(effect, did) and p_value < PRETREND_LEVEL if k else pd.NA
    return PreTrend(slope, effect, p_value, tuple(int(y) for y in t), flag)


def _placebos(prep: _Prep, s: int, p: int, did: np.ndarray, comparison: str,
              never: np.ndarray, T_units: np.ndarray, did_years) -> np.ndarray:
    """Observed and placebo statistics (A, L) for the per-pilot rank test.

    Eligible: the never units (the model's other pilots never), or under not-yet comparison the
    units untreated through the last year the pilot's ``did`` averages (``did_years``; not the
    last year of its window: the tuyengiao pilots that start in 2018 compare the single year
    2019 with the units that start in 2020, which can take the pilot's windows in turn). Each
    takes the pilot's windows with the other eligible units as its controls and averages the
    same years as the pilot's ``did`` (those it has data in); a placebo unit is kept when it has
    at least 2 usable years on each side and a control with data.
    """
    n = prep.shape[2]
    if comparison == "never":
        eligible = never.copy()
    else:
        eligible = T_units > max(did_years)
    eligible[p] = False
    eligible &= prep.obs.any(1)
    idx = np.flatnonzero(eligible)
    rows = [did]
    if len(idx):
        W = np.broadcast_to(eligible.astype(float), (len(idx), n)).copy()
        W[np.arange(len(idx)), idx] = 0.0
        R = _compare_static(prep, W)
        # Only the years the pilot's did averages: a count of 0 leaves a slot out.
        outside = ~np.isin(prep.qyears[s], np.asarray(did_years, dtype=int)) | ~prep.qin[s]
        R[:, s, outside, -1, :] = 0.0
        d, k = _did_from(prep, R)
        for i, c in enumerate(idx):
            if prep.assess[s, c] and k[i, s, c] > 0:
                rows.append(d[i, s, :, c])
    return np.array(rows)
