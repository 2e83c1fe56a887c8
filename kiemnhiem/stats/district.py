"""District evidence: what one pilot district's own data can add to its model's exact verdict.

DESIGN.md, "District evidence", and ``research/district-evidence.md`` (the method, its error
rates and its wording). With 12 districts no design-based test can be conclusive for one
district (placebo ranks bottom out at 1/8), so a district conclusion rests on the model's exact
verdict M plus the district's own data under a stated model. For district ``p`` of a model on
one indicator, with ``b`` = +1 when higher is better and -1 when lower is better:

- ``P_p``: the pilot's usable pre-window years; ``Q_p``: the post years its ``did`` averages;
- ``R_p`` (reference districts): the units never in the model or, for a model every district
  adopted, the units untreated through ``max Q_p``; each with a value in every year of
  ``P_p ∪ Q_p``; ``n = |R_p|``;
- every unit's change ``e_u = mean_{Q_p} Y_u - mean_{P_p} Y_u``; the own estimate
  ``d_p = e_p - mean_{R_p} e_c`` (the contract's ``did`` on a balanced set);
- own test (:func:`single_case`): the single-case t of Crawford & Howell (1998),
  ``se = SD_c(e_c) * sqrt(f_p + 1/n)``, ``df = n - 1``, where the noise floor
  ``f_p = max(1, r_p)`` (:func:`noise_floor`) keeps the district's variance from being taken
  below what its own gaps before the start show;
- pooled "if the pilots work alike" (:func:`pooled_effects`): a random-effects model
  ``d = theta + eps``, ``eps ~ N(0, kappa * Sigma)``, ``theta_p = mu + u_p``,
  ``u_p ~ N(0, tau^2)``, ``Sigma`` from the shared comparison districts
  (:func:`shared_covariance`), flat prior on ``mu``, ``tau`` half-normal, ``kappa ~ nu/chi2_nu``
  (the uncertainty of ``Sigma``), integrated on a grid;
- consistency (:func:`loo_consistency`): ``d_p`` against its predictive distribution from the
  model's other pilots under the same model (leave one out, covariance included);
- long difference (:func:`long_difference`) for pilots that had no untreated district left
  after their start: the district's change from the years before anyone started to the years
  after everyone had, against the other districts' changes;
- the verdict (:func:`district_verdict`) and the model row's minimum detectable effect
  (:func:`minimum_detectable_effect`).

Provinces as strata (issue 17): in a dataset spanning several provinces the evaluation pools
and checks consistency within each province (``evaluation._district``), with ``Sigma`` over
that province's pilots only. At the province comparison levels pilots of different provinces
share no comparison district, so the full covariance is block-diagonal by province anyway;
one national model would add only the claim that a rich and a poor province's pilots work
alike, and would cost a P x P eigendecomposition per left-out pilot (P in the hundreds).
Within a province P is at most about 30 (the largest has 30 districts), so the cost is linear
in the number of provinces. A province with fewer than 3 pilots with an own estimate gets no
consistency check; the long difference compares a district with its own province's others.

Everything here is pure numpy/scipy.special on arrays (no pandas, no I/O); the evaluation module
gathers the arrays (:mod:`kiemnhiem.evaluation`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

_SPECIAL = None


def _special():
    """``scipy.special``, imported when first needed: a report that reads its run's
    evaluation never calls it, and its kernel saves the import (0.3 CPU-s). Kept once
    imported: the import statement's look-up costs a few microseconds, and a national
    dataset asks tens of thousands of times."""
    global _SPECIAL
    if _SPECIAL is None:
        import scipy.special

        _SPECIAL = scipy.special
    return _SPECIAL


DistrictVerdict = Literal[
    "improved", "worsened", "in_line", "differs", "no_clear_change", "pretrend", "no_data",
    "in_line_before_after", "no_clear_change_before_after", "before_after_only",
]
DISTRICT_VERDICTS: tuple[str, ...] = get_args(DistrictVerdict)
Consistency = Literal["consistent", "weaker", "stronger", "opposite", ""]

#: Consistency with the other pilots, and the long difference, are flagged at this p (two-sided),
#: whatever the verdicts' level (DESIGN.md, "District evidence").
FLAG_LEVEL = 0.10
#: Scale of the half-normal prior on tau, in units of the typical standard error: 2 for the
#: displayed pooled interval (covers an atypical district better), 1 for the leave-one-out flag
#: (more sensitive); research note, section 5.4.
POOLED_SCALE = 2.0
LOO_SCALE = 1.0
TAU_POINTS = 61
KAPPA_POINTS = 16
#: The long difference drops years in which fewer districts than this have a value.
LONG_MIN_UNITS = 4
#: The power the minimum detectable effect is defined at.
MDE_POWER = 0.80

_CONCLUSIVE = ("improved", "worsened", "changed")


# =========================================================================== own estimate
@dataclass(frozen=True)
class OwnEstimate:
    """A single-case comparison of one district's change with its reference districts'.

    Attributes
    ----------
    estimate : float
        The district's change minus the reference districts' mean change.
    low, high : float
        Equal-tailed ``1 - level`` interval ``estimate ± t_{1-level/2, n-1} se``.
    p_better, p_worse : float
        One-sided p-values of the single-case t in the better and the worse direction.
    se : float
        ``SD(reference) * sqrt(noise_floor + 1/n)``.
    df : int
        ``n - 1``.
    noise_floor : float
        The variance multiplier ``f >= 1`` used.
    n_reference : int
        ``n``, the reference districts.
    """

    estimate: float = math.nan
    low: float = math.nan
    high: float = math.nan
    p_better: float = math.nan
    p_worse: float = math.nan
    se: float = math.nan
    df: int = 0
    noise_floor: float = math.nan
    n_reference: int = 0


NO_ESTIMATE = OwnEstimate()


def changes(Y: np.ndarray, pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    """Every unit's change ``mean over post - mean over pre`` (NaN if it lacks a year).

    Parameters
    ----------
    Y : ndarray, shape (n, m)
        Units x years values, NaN where missing.
    pre, post : ndarray of bool, shape (m,)
        The years to average.
    """
    # (np.mean's arithmetic, sum / count, without its per-call overhead)
    return Y[:, post].sum(axis=1) / post.sum() - Y[:, pre].sum(axis=1) / pre.sum()


def single_case(own: float, reference: np.ndarray, floor: float = 1.0, level: float = 0.10,
                sign: int = 1) -> OwnEstimate:
    """The single-case t (Crawford & Howell 1998) of ``own`` against ``reference``.

    ``estimate = own - mean(reference)``, ``se = SD(reference) * sqrt(floor + 1/n)`` (ddof 1),
    ``t = sign * estimate / se`` with ``n - 1`` degrees of freedom. ``floor = 1`` is the
    textbook test (the district's variance equal to the reference districts'); a larger floor
    widens it for a district noisier than they are.

    Parameters
    ----------
    own : float
        The district's change.
    reference : array of float
        The reference districts' changes (at least 2, else nothing is returned).
    floor : float
        The noise floor (:func:`noise_floor`), at least 1.
    level : float
        The interval has coverage ``1 - level``.
    sign : {1, -1}
        -1 when lower is better: ``p_better`` is then the p-value of a fall.

    Returns
    -------
    OwnEstimate
        :data:`NO_ESTIMATE` with fewer than 2 reference values or a missing ``own``. When every
        reference value is equal the standard error is 0: any non-zero estimate is then
        certain (p 0 that way, 1 the other), a zero one shows nothing (p 1 both ways).
    """
    ref = np.asarray(reference, dtype=float)
    ref = ref[~np.isnan(ref)]
    n = len(ref)
    if n < 2 or not math.isfinite(own):
        return NO_ESTIMATE
    # (np.mean's arithmetic)
    return _single_case(own, n, ref.sum() / n, math.sqrt(float(_var1(ref))), floor, level, sign)


def _single_case(own: float, n: int, mean, spread: float, floor: float, level: float,
                 sign: int) -> OwnEstimate:
    """:func:`single_case` from the reference districts' count, mean and SD (ddof 1), which
    :class:`References` computes once for every pilot compared with the same districts."""
    floor = max(1.0, float(floor))
    est = float(own - mean)
    # An infinite floor (the district's gaps vary, its references' never do): no evidence.
    se = spread * math.sqrt(floor + 1.0 / n) if math.isfinite(floor) else math.inf
    df = n - 1
    if se > 0:
        q = _t_quantile(df, level)
        low, high = est - q * se, est + q * se
        t = sign * est / se
        p_better, p_worse = float(_special().stdtr(df, -t)), float(_special().stdtr(df, t))
    else:
        low = high = est
        signed = sign * est
        p_better = 0.0 if signed > 0 else 1.0
        p_worse = 0.0 if signed < 0 else 1.0
    return OwnEstimate(est, low, high, p_better, p_worse, se, df, floor, n)


@functools.lru_cache(maxsize=1024)
def _t_quantile(df: int, level: float) -> float:
    """``t_{1 - level/2, df}``, once per (df, level): every pilot and window asks."""
    return float(_special().stdtrit(df, 1.0 - level / 2.0))


def _var1(a: np.ndarray):
    """``a.var(axis=-1, ddof=1)`` by numpy's own steps (mean by sum / count, squared
    deviations summed, divided by count - 1), without ``np.var``'s per-call overhead: it runs
    for every pilot and window of a national dataset."""
    k = a.shape[-1]
    dev = a - a.sum(axis=-1, keepdims=True) / k
    return (dev * dev).sum(axis=-1) / (k - 1)


def noise_floor(own: np.ndarray, reference: np.ndarray) -> float:
    """``f = max(1, r)``: how much noisier the district's gaps are than its references'.

    Over the years given (the years before the start in which the district and every reference
    district have a value), ``g_p = Y_p - mean_R Y`` and, for each reference district ``c``,
    ``g_c = Y_c - mean_{R without c} Y``; ``r = var(g_p) / mean_c var(g_c)`` (ddof 1).

    Parameters
    ----------
    own : array, shape (t,)
        The district's values in those years.
    reference : array, shape (n, t)
        The reference districts' values in the same years.

    Returns
    -------
    float
        1 with fewer than 3 years or fewer than 2 reference districts (nothing to measure),
        and when the reference gaps do not vary at all but the district's do not either;
        ``inf`` when only the district's vary.
    """
    own = np.asarray(own, dtype=float)
    ref = np.asarray(reference, dtype=float)
    if ref.ndim != 2 or ref.shape[1] < 3 or ref.shape[0] < 2:
        return 1.0
    return _floor(own, *_reference_gaps(ref))


def _reference_gaps(ref: np.ndarray) -> tuple[np.ndarray, float]:
    """The reference side of :func:`noise_floor`: their mean in each year, and
    ``mean_c var(g_c)``."""
    n = ref.shape[0]
    total = ref.sum(axis=0)
    g_c = ref - (total - ref) / (n - 1)
    v = _var1(g_c)
    return total / n, float(v.sum() / len(v))  # (np.mean's arithmetic)


def _floor(own: np.ndarray, centre: np.ndarray, den: float) -> float:
    num = float(_var1(own - centre))
    if den <= 0:
        return 1.0 if num <= 1e-12 else math.inf
    return max(1.0, num / den)


class References:
    """One set of reference districts and their changes on one pair of windows, with what
    every pilot compared with them shares: the changes' mean and SD, the ``E`` row of
    :func:`shared_covariance`, and the reference side of the noise floor for each set of
    years asked. A national dataset compares most pilots of a province with the same
    districts, and their own estimates then cost only their own row's arithmetic.

    Parameters
    ----------
    idx : array of int
        The reference districts' unit rows.
    changes : array, shape (n,)
        Their changes (:func:`changes`), none missing.
    values : array, shape (n, m)
        Their values in every year (for the noise floor).
    n_units : int
        The units of the dataset (the length of ``E``).
    """

    def __init__(self, idx: np.ndarray, changes: np.ndarray, values: np.ndarray,
                 n_units: int):
        self.idx, self.changes, self.values = idx, changes, values
        self.n = n = len(changes)
        self.observed = ~np.isnan(values).any(axis=0) if n else np.ones(values.shape[1], bool)
        if n >= 2:
            self.mean = changes.sum() / n  # (single_case's arithmetic)
            self.spread = math.sqrt(float(_var1(changes)))
        E = np.full(n_units, np.nan)
        E[idx] = changes
        E.flags.writeable = False  # shared by the pilots' rows
        self.E = E
        self._gaps: dict[bytes, tuple[np.ndarray, float]] = {}

    def noise_floor(self, own: np.ndarray, years: np.ndarray) -> float:
        """:func:`noise_floor` of ``own`` (the district's values in the years of the boolean
        mask ``years``) against these districts' values in the same years."""
        if self.n < 2 or own.shape[0] < 3:
            return 1.0
        key = years.tobytes()
        gaps = self._gaps.get(key)
        if gaps is None:
            gaps = self._gaps[key] = _reference_gaps(self.values[:, years])
        return _floor(own, *gaps)

    def single_case(self, own: float, floor: float, level: float, sign: int) -> OwnEstimate:
        """:func:`single_case` of ``own`` against these districts' changes."""
        if self.n < 2 or not math.isfinite(own):
            return NO_ESTIMATE
        return _single_case(own, self.n, self.mean, self.spread, floor, level, sign)


# =========================================================================== pooled model
def shared_covariance(E: np.ndarray, floors: np.ndarray) -> np.ndarray:
    """The covariance ``Sigma`` of the pilots' own estimates, which share comparison districts.

    ``Sigma_pp = gamma_pp (f_p + 1/n_p)``; ``Sigma_pq = |R_p ∩ R_q| / (n_p n_q) gamma_pq``,
    ``gamma_pq`` the sample covariance (ddof 1) over the common reference districts of their
    changes on p's and on q's windows (0 with fewer than 2 in common).

    Parameters
    ----------
    E : ndarray, shape (P, N)
        Row p: every unit's change on pilot p's windows, NaN outside ``R_p``.
    floors : array, shape (P,)
        The pilots' noise floors.

    Returns
    -------
    ndarray, shape (P, P)
        Symmetric and positive semi-definite (negative eigenvalues, which estimated
        covariances can give, are set to 0).
    """
    E = np.asarray(E, dtype=float)
    P = E.shape[0]
    # Only the units some pilot compares with (a province's, of a national dataset's 696).
    E = E[:, ~np.isnan(E).all(axis=0)]
    inR = ~np.isnan(E)
    n = inR.sum(axis=1).astype(float)
    # Every pair at once, (P, P, units): each pilot's changes on the units common to the
    # pair, 0 elsewhere, centred on their mean over those units. (Exact to rounding against
    # a loop over pairs on the common units alone: the sums add zeros in between.)
    common = inR[:, None, :] & inR[None, :, :]
    k = common.sum(axis=2)
    E0 = np.where(inR, E, 0.0)
    x = np.where(common, E0[:, None, :], 0.0)  # [p, q]: p's changes on the units of p and q
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(common, x - (x.sum(axis=2) / k)[:, :, None], 0.0)
        gamma = (x * x.transpose(1, 0, 2)).sum(axis=2) / (k - 1)
        S = np.where(k >= 2, k / (n[:, None] * n[None, :]) * gamma, 0.0)
    S[np.diag_indices(P)] = np.where(
        np.diag(k) >= 2,
        np.diag(gamma) * (np.maximum(1.0, np.asarray(floors, dtype=float)) + 1.0 / n), 0.0)
    w, v = np.linalg.eigh(S)
    if (w < 0).any():
        S = (v * np.clip(w, 0.0, None)) @ v.T
        S = (S + S.T) / 2.0
    return S


def _grid(scale: float, spread: float, nu: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tau, kappa, log prior weight) of the grid cells, flattened to (G,).

    tau: midpoints of ``TAU_POINTS`` steps, all on ``[0, 5 scale]`` when the data's spread is
    within it, else two thirds there and the rest up to the spread (the prior is negligible
    beyond 5 scales, but a very deviant pilot can make the likelihood ask for more, never for
    more than the spread); weight ``pi(tau) dtau`` of the half-normal. kappa: the
    ``KAPPA_POINTS`` quantiles of ``nu / chi2_nu`` at the midpoints of equal-probability bins,
    equal weights.
    """
    tau, kappa, log_prior = _grids(np.array([scale], dtype=float),
                                   np.array([spread], dtype=float), nu)
    return tau[0], kappa, log_prior[0]


def _grids(scale: np.ndarray, spread: np.ndarray,
           nu: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_grid` for several fits at once: tau and log prior (B, G), kappa (G,) (shared).

    The same arithmetic as one at a time (``np.linspace`` with an array of ends computes each
    row as it would alone), without B rounds of small numpy calls (the leave-one-out fits).
    """
    inner = 5.0 * scale
    edges = np.linspace(0.0, inner, TAU_POINTS + 1, axis=1)
    wide = np.flatnonzero(spread > inner)
    if len(wide):
        n_in = (2 * TAU_POINTS) // 3
        # (Only the wide rows: a zero-length row would send linspace down another path, with
        # other rounding, for every row.)
        edges[wide] = np.concatenate(
            [np.linspace(0.0, inner[wide], n_in + 1, axis=1),
             np.linspace(inner[wide], spread[wide], TAU_POINTS - n_in + 1, axis=1)[:, 1:]],
            axis=1)
    tau = (edges[:, :-1] + edges[:, 1:]) / 2.0
    log_tau = -0.5 * (tau / scale[:, None]) ** 2 + np.log(np.diff(edges, axis=1))
    kappa = _kappa(nu)
    # The "ij" meshgrid, flattened: cell i * KAPPA_POINTS + j is (tau_i, kappa_j).
    return (np.repeat(tau, len(kappa), axis=1), np.tile(kappa, TAU_POINTS),
            np.repeat(log_tau, len(kappa), axis=1))


@functools.lru_cache(maxsize=256)
def _kappa(nu: int) -> np.ndarray:
    """The ``KAPPA_POINTS`` quantiles of ``nu / chi2_nu`` (:func:`_grid`), once per ``nu``: the
    leave-one-out fits ask for them thousands of times on a national dataset."""
    u = (np.arange(KAPPA_POINTS) + 0.5) / KAPPA_POINTS
    kappa = nu / _special().chdtri(nu, u)  # chdtri: the upper-tail inverse, so kappa rises with u
    kappa.flags.writeable = False
    return kappa


class _Fit:
    """The marginal posterior of (tau, kappa) on the grid, given ``d`` with covariance
    ``V_g = kappa_g Sigma + tau_g^2 I``.

    Every ``V_g`` shares ``Sigma``'s eigenvectors ``Q``: ``V_g = Q diag(kappa_g lambda +
    tau_g^2) Q'``, so inverses, determinants and quadratic forms on all grid cells are
    elementwise operations on the (P, G) array ``D`` of eigenvalues, with no batched
    inversion. The flat prior on ``mu`` is integrated out: weights are proportional to
    ``|V|^-1/2 (1'V^-1 1)^-1/2 exp(-(d - mu_hat 1)'V^-1(d - mu_hat 1) / 2)`` times the prior.

    Several fits at once (the leave-one-out fits, :func:`loo_consistency`): ``d``, ``Sigma``,
    ``t2`` and ``log_prior`` may carry the same leading batch axes, which every attribute
    then has too (``kappa`` is shared).

    Attributes: ``w`` (G,) normalized weights, ``Q`` (P, P), ``iD`` = 1 / D (P, G),
    ``q1`` = Q'1 (P,), ``s1`` = 1'V^-1 1 (G,), ``mu`` (G,), ``qr`` = Q'(d - mu 1) (P, G),
    ``R`` = Q'V^-1 (d - mu 1) (P, G).
    """

    def __init__(self, d: np.ndarray, Sigma: np.ndarray, t2: np.ndarray, kappa: np.ndarray,
                 log_prior: np.ndarray):
        lam, Q = np.linalg.eigh(Sigma)
        lam = np.clip(lam, 0.0, None)
        # (P, G), not (G, P): the sums over the P eigenvalues then add G-long rows instead of
        # reducing G rows of a few numbers each (numpy's slow case; P is often 3 to 10).
        D = kappa[None, :] * lam[..., :, None] + t2[..., None, :]
        iD = 1.0 / D
        q1 = Q.sum(axis=-2)
        qd = (d[..., None, :] @ Q)[..., 0, :]
        # 1'V^-1 1 and 1'V^-1 d on every cell in one matrix product.
        sums = np.stack([q1**2, q1 * qd], axis=-2) @ iD
        s1 = sums[..., 0, :]
        mu = sums[..., 1, :] / s1
        qr = qd[..., :, None] - mu[..., None, :] * q1[..., :, None]
        R = qr * iD  # Q'V^-1 (d - mu 1)
        quad = (qr * R).sum(axis=-2)
        logw = log_prior - 0.5 * np.log(D).sum(axis=-2) - 0.5 * np.log(s1) - 0.5 * quad
        w = np.exp(logw - logw.max(axis=-1, keepdims=True))
        self.w = w / w.sum(axis=-1, keepdims=True)
        self.Q, self.iD, self.q1, self.s1, self.mu, self.qr, self.R = Q, iD, q1, s1, mu, qr, R

    def keep(self, tiny: float = 1e-7) -> np.ndarray:
        """The cells that carry all but ``tiny`` of the weight (of each fit)."""
        order = np.argsort(self.w, axis=-1)
        light = np.cumsum(np.take_along_axis(self.w, order, axis=-1), axis=-1) <= tiny
        out = np.ones(self.w.shape, dtype=bool)
        np.put_along_axis(out, order, ~light, axis=-1)
        return out


def _mixture_quantiles(w: np.ndarray, m: np.ndarray, sd: np.ndarray,
                       probs: tuple[float, ...]) -> np.ndarray:
    """Quantiles (len(probs), P) of mixtures of normals, weights ``w`` (G,), means and SDs
    (G, P): safeguarded Newton steps on the mixture CDF from the moment-matched normal's
    quantile, kept inside a bracket that shrinks each step (bisection when a step leaves it),
    to 1e-8 of the mixture's SD, then one more Newton step.

    Each column stops at its own convergence and leaves the arrays the next steps work on.
    Iterating every column until the last one converged cost twice the steps: a converged
    column's next Newton step is ~0, lands on the end of its bracket (not strictly inside),
    so it bisected away from the root and had to come back (about a third of the calls of a
    national dataset took 21-38 steps instead of 3-6). A column stops:

    - on a Newton step of 0 with its CDF at the probability (the root, to rounding);
    - one Newton step after its step came within the tolerance (that step kept only if
      strictly inside the bracket, never a bisection): quadratic convergence makes it exact
      to rounding in all but degenerate mixtures, its CDF at the probability to about 1e-15
      where stopping at the tolerance left up to 1e-9;
    - without that last step when the two last Newton steps already show it would move the
      column by less than 1e-14 of the SD (about 4.2 evaluations a column instead of 5.2 on
      the national demo).
    """
    P = m.shape[1]
    mean = w @ m
    # E[X^2] - E[X]^2 can come out a few ulps below 0 when the components (nearly) coincide
    # (every pilot the same estimate on a count): rounding, not a negative variance.
    total_sd = np.sqrt(np.maximum(w @ (sd**2 + m**2) - mean**2, 0.0))
    prob = np.repeat(np.asarray(probs, dtype=float), P)  # columns: probs x pilots
    M, S = np.tile(m, len(probs)), np.tile(sd, len(probs))
    x = np.tile(mean, len(probs)) + _special().ndtri(prob) * np.tile(total_sd, len(probs))
    a = (M - 12 * S).min(axis=0)
    b = (M + 12 * S).max(axis=0)
    tol = 1e-8 * np.maximum(np.tile(total_sd, len(probs)), 1e-300)
    S_root = S * math.sqrt(2 * math.pi)  # (hoisted out of the loop: the same numbers)
    out = x.copy()  # the columns' values once they stop (or after the last step)
    live = np.arange(len(x))  # the columns still iterating, by position in ``out``
    last = np.zeros(len(x), dtype=bool)  # within the tolerance: one last Newton step
    prev = np.full(len(x), np.nan)  # the previous step's size (NaN: not a Newton step)
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(60):
            z = (x[None, :] - M) / S
            F = w @ _special().ndtr(z)
            f = w @ (np.exp(-0.5 * z**2) / S_root)
            below = F < prob
            a = np.where(below, x, a)
            b = np.where(below, b, x)
            step = x - (F - prob) / f
            inside = np.isfinite(step) & (step > a) & (step < b)
            # A step of 0 with F at the probability (to rounding): on the root, but not
            # strictly inside the bracket that now ends there, and bisecting would leave it.
            # (A step of 0 alone is not enough: on a component of SD ~1e-150 the density is
            # ~1e150 whatever F is.)
            stop = last | (F == prob) | ((step == x) & (np.abs(F - prob) <= 1e-12))
            new = np.where(inside, step, np.where(stop, x, (a + b) / 2.0))
            size = np.abs(new - x)
            # Two Newton steps in a row: the error after this one is about K size^2 with
            # K ~ size / prev^2 (quadratic convergence). When that is below 1e-6 of the
            # tolerance (1e-14 of the SD) the last step is not needed either.
            stop |= inside & (size <= tol) & (size**3 <= 1e-6 * tol * prev**2)
            last = ~stop & (size <= tol)
            prev = np.where(inside, size, np.nan)
            x = new
            out[live] = x
            if stop.all():
                break
            if stop.any():
                go = ~stop
                live, x, a, b, prob, tol, last, prev = (
                    live[go], x[go], a[go], b[go], prob[go], tol[go], last[go], prev[go])
                M, S, S_root = M[:, go], S[:, go], S_root[:, go]
    return out.reshape(len(probs), P)


def _usable(d: np.ndarray, Sigma: np.ndarray) -> bool:
    return len(d) >= 2 and bool(np.all(np.isfinite(d))) and bool(np.all(np.diag(Sigma) > 0))


def pooled_effects(d, Sigma, nu: int, level: float = 0.10,
                   scale: float = POOLED_SCALE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pilot's effect under "the pilots work alike" (a random-effects model).

    ``d = theta + eps``, ``eps ~ N(0, kappa Sigma)``, ``theta_p = mu + u_p``,
    ``u_p ~ N(0, tau^2)``; flat prior on ``mu``, ``tau`` half-normal with scale
    ``scale * sqrt(mean diag Sigma)``, ``kappa ~ nu / chi2_nu``. On each grid cell (tau, kappa),
    with ``V = kappa Sigma + tau^2 I``, ``theta`` is normal with mean
    ``mu_hat 1 + tau^2 V^-1 (d - mu_hat 1)`` and covariance
    ``tau^2 I - tau^4 V^-1 + w w' / (1'V^-1 1)``, ``w = (I - tau^2 V^-1) 1``; the cells are
    weighted by their marginal posterior (:class:`_Fit`).

    Parameters
    ----------
    d : array, shape (P,)
        The pilots' own estimates.
    Sigma : array, shape (P, P)
        :func:`shared_covariance`.
    nu : int
        Degrees of freedom of ``kappa``'s prior: the smallest ``n_p - 1``.
    level : float
        The interval is the mixture's ``level/2`` and ``1 - level/2`` quantiles.
    scale : float
        The prior's scale in typical standard errors (:data:`POOLED_SCALE`).

    Returns
    -------
    (mean, low, high) : arrays, shape (P,)
        The posterior mean and interval of each ``theta_p``; NaN with fewer than 2 pilots or a
        zero variance.
    """
    d = np.asarray(d, dtype=float)
    Sigma = np.asarray(Sigma, dtype=float)
    P = len(d)
    nan = np.full(P, np.nan)
    if not _usable(d, Sigma) or nu < 1:
        return nan, nan.copy(), nan.copy()
    A = scale * math.sqrt(float(np.mean(np.diag(Sigma))))
    tau, kappa, log_prior = _grid(A, float(d.max() - d.min()), int(nu))
    fit = _Fit(d, Sigma, tau**2, kappa, log_prior)
    g = fit.keep()
    w, iD, t2 = fit.w[g], fit.iD[:, g].T, (tau**2)[g]
    w = w / w.sum()
    Q = fit.Q
    # V^-1 r and V^-1 1 through the eigenvalues; diag(V^-1) = (1/D) (Q^2)'.
    Vir = fit.R[:, g].T @ Q.T
    Vi1 = (fit.q1[None, :] * iD) @ Q.T
    diag = iD @ (Q**2).T
    m = fit.mu[g][:, None] + t2[:, None] * Vir
    ww = 1.0 - t2[:, None] * Vi1
    var = t2[:, None] - t2[:, None] ** 2 * diag + ww**2 / fit.s1[g][:, None]
    sd = np.sqrt(np.maximum(var, 1e-300))
    mean = w @ m
    low, high = _mixture_quantiles(w, m, sd, (level / 2.0, 1.0 - level / 2.0))
    return mean, low, high


def loo_consistency(d, Sigma, nu: int,
                    scale: float = LOO_SCALE) -> tuple[np.ndarray, np.ndarray]:
    """Each pilot's estimate against its predictive distribution from the other pilots.

    The model of :func:`pooled_effects` is fitted to ``d`` without pilot p (prior scale from
    the others' variances); on each grid cell the predictive distribution of ``d_p`` given the
    others, their covariance with it included, is normal with mean
    ``mu_hat + c'(d_o - mu_hat 1)`` and variance
    ``V_pp - c'V_op + (1 - c'1)^2 / (1'V_o^-1 1)``, ``c = V_o^-1 V_op``; ``F`` is the mixture's
    CDF at ``d_p`` and ``p = 2 min(F, 1 - F)``.

    Returns
    -------
    (p, predictive_mean) : arrays, shape (P,)
        NaN for every pilot when fewer than 2 others have an estimate (P < 3).
    """
    d = np.asarray(d, dtype=float)
    Sigma = np.asarray(Sigma, dtype=float)
    P = len(d)
    p_out, m_out = np.full(P, np.nan), np.full(P, np.nan)
    if P < 3 or not _usable(d, Sigma) or nu < 1:
        return p_out, m_out
    # The P fits are batched (one eigh call on a stack of (P-1) x (P-1) matrices, the grid
    # arithmetic on (fits, G, P-1) arrays): the same arithmetic as fitting them one at a time,
    # without P rounds of numpy call overhead, which dominated for the small provinces of a
    # national dataset. Exact to rounding: sums over the eigenvalues run in another order.
    # Chunks of fits keep those arrays near 2 million numbers (16 MB) when P is large (a
    # dataset without provinces).
    n = P - 1
    others = np.arange(n)[None, :] + (np.arange(n)[None, :] >= np.arange(P)[:, None])
    G = TAU_POINTS * KAPPA_POINTS
    chunk = max(1, (1 << 21) // (G * n))
    for lo in range(0, P, chunk):
        ps = np.arange(lo, min(P, lo + chunk))
        o = others[ps]
        So = Sigma[o[:, :, None], o[:, None, :]]
        do = d[o]
        A = scale * np.sqrt(np.diagonal(So, axis1=1, axis2=2).mean(axis=1))
        tau, kappa, log_prior = _grids(A, do.max(axis=1) - do.min(axis=1), int(nu))
        t2 = tau**2
        fit = _Fit(do, So, t2, kappa, log_prior)
        g = fit.keep()
        # V_op = kappa Sigma_op (the tau^2 I part is diagonal); c = V_o^-1 V_op, so with
        # s = Q'Sigma_op: Q'c = kappa s / D on each cell, c'(d_o - mu 1) = kappa s'R,
        # c'V_op = kappa^2 sum s^2 / D and c'1 = kappa sum s q1 / D: matrix products.
        qS = (Sigma[o, ps[:, None]][:, None, :] @ fit.Q)[:, 0, :]
        cr = (qS[:, None, :] @ fit.R)[:, 0, :]
        sums = np.stack([qS**2, qS * fit.q1], axis=1) @ fit.iD
        mean = fit.mu + kappa[None, :] * cr
        var = (kappa[None, :] * Sigma[ps, ps][:, None] + t2 - kappa[None, :] ** 2 * sums[:, 0]
               + (1.0 - kappa[None, :] * sums[:, 1]) ** 2 / fit.s1)
        sd = np.sqrt(np.maximum(var, 1e-300))
        cdf = _special().ndtr((d[ps][:, None] - mean) / sd)
        # The sums over each fit's kept cells, one fit at a time (the dot products of the
        # unbatched fits).
        for b, p in enumerate(ps):
            keep = g[b]
            w = fit.w[b][keep]
            w = w / w.sum()
            F = float(w @ cdf[b][keep])
            p_out[p] = min(1.0, 2.0 * min(F, 1.0 - F))
            m_out[p] = float(w @ mean[b][keep])
    return p_out, m_out


def relation(value: float, expected: float, direction: int, flagged: bool,
             opposite: bool = True) -> str:
    """How a flagged district moved compared with what the others lead one to expect.

    ``direction`` (+1 or -1) is the way the model's effect goes (the verdict's direction when
    the model is conclusive, else the others' sign). Not flagged: "consistent"; flagged:
    "opposite" when the district moved against ``direction`` at all (``opposite`` False: never),
    "weaker" when it moved that way less than expected, "stronger" when more. "" when
    ``value`` or ``expected`` is missing.
    """
    if not (math.isfinite(value) and math.isfinite(expected)):
        return ""
    if not flagged:
        return "consistent"
    if opposite and direction * value < 0:
        return "opposite"
    return "weaker" if direction * (value - expected) < 0 else "stronger"


# =========================================================================== long difference
@dataclass(frozen=True)
class LongDifference:
    """A district's long difference against the other districts.

    Attributes
    ----------
    estimate : float
        ``L_p - mean_{u != p} L_u``, ``L_u`` = mean over the post years - mean over the pre
        years.
    p_two : float
        Two-sided p of the single-case t against the others' ``L`` (same noise floor).
    n_reference : int
        The other districts with every kept year.
    pre_years, post_years : tuple of int
        The years kept.
    """

    estimate: float = math.nan
    p_two: float = math.nan
    n_reference: int = 0
    pre_years: tuple[int, ...] = ()
    post_years: tuple[int, ...] = ()


NO_LONG_DIFFERENCE = LongDifference()


def long_difference(Y: np.ndarray, years: np.ndarray, pre: np.ndarray, post: np.ndarray,
                    p: int, min_units: int = LONG_MIN_UNITS) -> LongDifference:
    """The long difference of unit row ``p`` (a model every district adopted).

    Years of ``pre`` (before anyone in the model started) and ``post`` (after everyone had) in
    which fewer than ``min_units`` units have a value are dropped; a unit takes part when it has
    a value in every kept year, and at least 2 years must be kept on each side. ``L_u`` is the
    unit's post mean minus its pre mean; ``ℓ_p = L_p - mean L_others``; the single-case t uses
    the others' ``L`` and the noise floor over the kept pre years. Common trends, and an effect
    every district shares, cancel: it estimates this district's effect minus the others'
    average.

    Returns
    -------
    LongDifference
        :data:`NO_LONG_DIFFERENCE` when ``p`` lacks a kept year, fewer than 2 others have them,
        or fewer than 2 years are kept on a side.
    """
    return LongDifferences(Y, years, pre, post, min_units).of(p)


class LongDifferences:
    """:func:`long_difference` for every unit row of one province and one pair of windows:
    the kept years, the units with all of them and every unit's ``L`` are computed once
    (a national dataset asks for hundreds of pilots of the same province)."""

    def __init__(self, Y: np.ndarray, years: np.ndarray, pre: np.ndarray, post: np.ndarray,
                 min_units: int = LONG_MIN_UNITS):
        Y = np.asarray(Y, dtype=float)
        obs = ~np.isnan(Y)
        enough = obs.sum(axis=0) >= min_units
        self.Y = Y
        self.pre = pre = np.asarray(pre, dtype=bool) & enough
        self.post = post = np.asarray(post, dtype=bool) & enough
        self.ok = pre.sum() >= 2 and post.sum() >= 2
        if self.ok:
            self.full = obs[:, pre | post].all(axis=1)
            self.n_full = int(self.full.sum())
            self.L = changes(Y, pre, post)
            self.years = (tuple(int(y) for y in years[pre]), tuple(int(y) for y in years[post]))

    def of(self, p: int) -> LongDifference:
        """The long difference of unit row ``p`` (:func:`long_difference`)."""
        if not self.ok or not self.full[p] or self.n_full - 1 < 2:
            return NO_LONG_DIFFERENCE
        others = self.full.copy()
        others[p] = False
        pre = self.pre
        floor = noise_floor(self.Y[p, pre], self.Y[others][:, pre])
        own = single_case(float(self.L[p]), self.L[others], floor, FLAG_LEVEL, 1)
        p_two = min(1.0, 2.0 * min(own.p_better, own.p_worse))
        return LongDifference(own.estimate, p_two, self.n_full - 1, *self.years)


# =========================================================================== verdict
def district_verdict(*, assessable: bool, comparison: bool, pretrend: bool,
                     model_verdict: str, p_better: float = math.nan,
                     p_worse: float = math.nan, flagged: bool = False,
                     relation: str = "", long_difference: bool = False,
                     level: float = 0.10, better: str = "lower") -> str:
    """The district verdict, the first rule that applies (DESIGN.md, "District evidence").

    With a comparison after the start: ``no_data`` (fewer than 2 usable years before or after);
    ``pretrend`` (the change was under way before the start); ``differs`` (flagged against
    the other pilots, and M not conclusive or the district weaker or opposite);
    ``improved``/``worsened`` (M conclusive that way and the own one-sided p at most
    ``level / 2`` that way); ``in_line`` (M conclusive); ``no_clear_change``.
    Without one: ``no_data``; ``before_after_only`` (not even the long difference);
    ``differs`` (long difference flagged, and M not conclusive or the district weaker);
    ``in_line_before_after`` (M conclusive); ``no_clear_change_before_after``.

    For an indicator with no better direction (``better`` = "none") M is "changed" or not: a
    district is then ``in_line`` when M changed, never improved or worsened.

    Parameters
    ----------
    assessable : bool
        At least 2 usable years before and after.
    comparison : bool
        The pilot's ``did`` has comparison units (else before/after only).
    pretrend : bool
        ``pretrend_flag`` is true.
    model_verdict : str
        M: the model row's verdict (improved, worsened, changed, no_clear_change,
        not_assessed).
    p_better, p_worse : float
        The own estimate's one-sided p-values (NaN when it could not be computed).
    flagged : bool
        Consistency (with a comparison) or long difference (without) flagged.
    relation : str
        weaker, stronger, opposite (with a flag).
    long_difference : bool
        The long difference could be computed (pilots without comparison).
    """
    if not assessable:
        return "no_data"
    conclusive = model_verdict in _CONCLUSIVE
    if not comparison:
        if not long_difference:
            return "before_after_only"
        if flagged and (not conclusive or relation in ("weaker", "opposite")):
            return "differs"
        return "in_line_before_after" if conclusive else "no_clear_change_before_after"
    if pretrend:
        return "pretrend"
    if flagged and (not conclusive or relation in ("weaker", "opposite")):
        return "differs"
    cut = level / 2.0
    if better != "none":
        if model_verdict == "improved" and p_better <= cut:
            return "improved"
        if model_verdict == "worsened" and p_worse <= cut:
            return "worsened"
    if conclusive:
        return "in_line"
    return "no_clear_change"


# =========================================================================== power
def minimum_detectable_effect(null_stats, level: float = 0.10, power: float = MDE_POWER,
                              leverage: float = 1.0, n_extra: int = 0) -> float:
    """The effect the model's rank test finds with probability ``power`` (in size, >= 0).

    ``null_stats`` are the statistics of every assignment (or of the sampled ones) on data
    with no effect (the evaluation passes them on ``Y - hl_estimate * D``: the observed data
    with the estimated effect taken out). The test concludes when no more than
    ``k = floor(level/2 * |A|)`` of the |A| statistics, the observed one included, are at
    least as extreme as the observed one, i.e. when the observed one exceeds the k-th most
    extreme null statistic: the critical distance ``c`` from their mean (the larger of the two
    tails, so the figure holds for either direction). Under an effect ``tau`` the observed
    statistic is its null value plus ``tau * leverage`` (``leverage`` = the observed
    statistic on D minus the assignments' mean, 1 for a balanced design), its null value
    varying with the SD of the null statistics, taken as normal. So the smallest size found
    with probability ``power`` is ``(c + z_power * SD) / leverage``.

    This is the normal-approximation route: the null spread comes from the data's own noise
    as the placements see it; it ignores that the other placements also move with ``tau``
    when they share pilots with the observed one (which ``leverage`` averages out).

    Returns
    -------
    float
        ``inf`` when no test at ``level`` can conclude (``k`` < 1); NaN without statistics.
    """
    z = np.asarray(null_stats, dtype=float)
    z = z[np.isfinite(z)]
    if len(z) < 2 or not math.isfinite(leverage) or leverage <= 0:
        return math.nan
    n_a = len(z) + n_extra
    # At most k of the |A| (the observed one included) may be as extreme as the observed one,
    # so it must beat all but k - 1 of the others: exceed the k-th most extreme.
    k = int(math.floor(level / 2.0 * n_a + 1e-9))
    if k < 1 or k > len(z):
        return math.inf
    centred = np.sort(z - z.mean())
    c = max(float(centred[-k]), float(-centred[k - 1]))
    sd = float(z.std(ddof=1))
    return (max(c, 0.0) + float(_special().ndtri(power)) * sd) / leverage
