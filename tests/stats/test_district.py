"""District evidence: single-case t, noise floor, pooled and leave-one-out models, long
difference, verdict rule, minimum detectable effect; and the demo's planted effects.

Expected values are worked out by hand in the comments (t quantiles from a printed table), or,
for the pooled model, by an independent brute-force integration written here with plain numpy.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kiemnhiem.data.dataset import load_dataset
from kiemnhiem.data.demo import PRETREND_INDICATOR, PRETREND_MODEL, PRETREND_UNIT
from kiemnhiem.stats import district as dist
from kiemnhiem.stats.evaluation import RESULT_COLUMNS, evaluate_all, evaluate_pilot

from .test_evaluation import _row, make_dataset

# Student's t quantiles, df 3 (any printed table): 0.95 -> 2.353, 0.975 -> 3.182, 0.995 -> 5.841.
T95_3, T975_3, T995_3 = 2.353, 3.182, 5.841


# =========================================================================== single-case t
def test_single_case_t_by_hand():
    # Reference changes 1, 2, 3, 6: mean 3, deviations -2, -1, 0, 3, sum of squares 14,
    # variance 14/3. The district's change 10: estimate 10 - 3 = 7.
    # se = sqrt(14/3 * (1 + 1/4)) = sqrt(70/12) = 2.41523; t = 7 / 2.41523 = 2.898, df 3.
    own = dist.single_case(10.0, [1, 2, 3, 6], floor=1.0, level=0.10, sign=1)
    assert own.estimate == pytest.approx(7.0)
    assert own.se == pytest.approx(math.sqrt(70 / 12))
    assert own.df == 3 and own.n_reference == 4 and own.noise_floor == 1.0
    # 90 % interval: 7 ± 2.353 x 2.41523 = 7 ± 5.683.
    assert own.low == pytest.approx(7 - T95_3 * math.sqrt(70 / 12), abs=2e-3)
    assert own.high == pytest.approx(7 + T95_3 * math.sqrt(70 / 12), abs=2e-3)
    # 2.353 < 2.898 < 3.182: one-sided p between 0.025 and 0.05 for a rise.
    assert 0.025 < own.p_better < 0.05
    assert own.p_better + own.p_worse == pytest.approx(1.0)
    # Lower is better: the same rise is the worse direction.
    lower = dist.single_case(10.0, [1, 2, 3, 6], sign=-1)
    assert lower.p_worse == pytest.approx(own.p_better) and lower.p_better > 0.95
    # A noise floor of 3 widens se to sqrt(14/3 x 3.25) = 3.8944: t = 1.797 < 2.353.
    floored = dist.single_case(10.0, [1, 2, 3, 6], floor=3.0)
    assert floored.se == pytest.approx(math.sqrt(14 / 3 * 3.25))
    assert floored.p_better > 0.05


def test_single_case_degenerate():
    # Fewer than 2 references, or no own value: nothing.
    assert math.isnan(dist.single_case(1.0, [2.0]).estimate)
    assert math.isnan(dist.single_case(math.nan, [1.0, 2.0]).estimate)
    # Equal references: se 0; a rise is certain, no change shows nothing.
    flat = dist.single_case(2.0, [0.0, 0.0, 0.0])
    assert (flat.p_better, flat.p_worse, flat.low, flat.high) == (0.0, 1.0, 2.0, 2.0)
    zero = dist.single_case(0.0, [0.0, 0.0])
    assert (zero.p_better, zero.p_worse) == (1.0, 1.0)


def test_noise_floor_by_hand():
    refs = np.array([[0, 1, 0], [0, 0, 0], [1, 1, 1]], dtype=float)
    # Reference mean each year: 1/3, 2/3, 1/3. District 1, 3, 2: gaps 2/3, 7/3, 5/3, mean
    # 14/9, deviations -8/9, 7/9, 1/9: variance (64 + 49 + 1) / 81 / 2 = 57/81.
    # Each reference against the other two: [0,1,0] - [.5,.5,.5] -> variance 1/3;
    # [0,0,0] - [.5,1,.5] -> 1/12; [1,1,1] - [0,.5,0] -> 1/12; mean (1/3 + 1/6) / 3 = 1/6.
    # r = (57/81) / (1/6) = 342/81.
    assert dist.noise_floor([1, 3, 2], refs) == pytest.approx(342 / 81)
    # District 0, 0, 0: gaps -1/3, -2/3, -1/3, variance 1/12: r = 1/2 -> floor 1.
    assert dist.noise_floor([0, 0, 0], refs) == 1.0
    # Two years, or one reference: nothing to measure.
    assert dist.noise_floor([1, 3], refs[:, :2]) == 1.0
    assert dist.noise_floor([1, 3, 2], refs[:1]) == 1.0


# =========================================================================== pooled model
def _brute_force(d, Sigma, nu, scale, level=0.10):
    """Posterior mean and quantiles of each theta_p by a dense grid over mu, tau and kappa.

    Joint posterior: flat on mu, tau half-normal (scale A), kappa = nu / X with X ~ chi2_nu
    (density of kappa by change of variables), likelihood N(d; mu 1, kappa Sigma + tau^2 I).
    Given (mu, tau, kappa), theta ~ N(mu 1 + tau^2 V^-1 (d - mu 1), tau^2 I - tau^4 V^-1).
    """
    from scipy.stats import chi2, norm

    P = len(d)
    A = scale * math.sqrt(np.mean(np.diag(Sigma)))
    tau = np.linspace(0, 6 * A, 81)[1:]
    # kappa on a log grid wide enough for nu / chi2_nu.
    kappa = np.exp(np.linspace(np.log(nu / chi2.ppf(0.99999, nu)),
                               np.log(nu / chi2.ppf(1e-5, nu)), 80))
    dk = np.gradient(kappa)
    # density of kappa = nu / X: f_X(nu / kappa) nu / kappa^2
    pk = chi2.pdf(nu / kappa, nu) * nu / kappa**2 * dk
    pt = np.exp(-0.5 * (tau / A) ** 2) * (tau[1] - tau[0])
    half = 8 * np.sqrt(Sigma.max()) + 6 * A
    mu = np.linspace(d.mean() - half, d.mean() + half, 121)
    T, K = np.meshgrid(tau, kappa, indexing="ij")
    V = K[..., None, None] * Sigma + (T**2)[..., None, None] * np.eye(P)
    Vi = np.linalg.inv(V)
    _, logdet = np.linalg.slogdet(V)
    r = d[None, None, None, :] - mu[:, None, None, None]  # (mu, tau, kappa, P)
    quad = np.einsum("mtkp,tkpq,mtkq->mtk", r, Vi, r)
    logw = -0.5 * logdet[None] - 0.5 * quad + np.log(pt)[None, :, None] + np.log(pk)[None, None]
    w = np.exp(logw - logw.max())
    w /= w.sum()
    t2 = (T**2)[None, ..., None]
    m = mu[:, None, None, None] + t2 * np.einsum("tkpq,mtkq->mtkp", Vi, r)
    var = (T**2)[..., None] - (T**4)[..., None] * np.diagonal(Vi, axis1=2, axis2=3)
    sd = np.broadcast_to(np.sqrt(np.maximum(var, 1e-300))[None], m.shape)
    mean = np.einsum("mtk,mtkp->p", w, m)
    keep = w > 1e-12 * w.max()
    wk, mk, sk = w[keep], m[keep], sd[keep]
    out = []
    for prob in (level / 2, 1 - level / 2):
        lo, hi = mean - 30.0, mean + 30.0
        for _ in range(50):  # bisection on the mixture CDF
            mid = (lo + hi) / 2
            F = np.array([np.sum(wk * norm.cdf((mid[p] - mk[:, p]) / sk[:, p]))
                          for p in range(P)])
            lo, hi = np.where(F < prob, mid, lo), np.where(F < prob, hi, mid)
        out.append((lo + hi) / 2)
    return mean, out[0], out[1]


def test_pooled_reduces_to_gls_when_tau_and_kappa_are_fixed():
    # tau -> 0 (a tiny prior scale) and kappa -> 1 (nu huge): every theta_p is the GLS mean.
    # Sigma = diag(1, 1, 4), d = (0, 2, 5): weights 1, 1, 1/4, so
    # mu = (0 + 2 + 5/4) / 2.25 = 13/9 and its variance 1 / 2.25 = 4/9 (SD 2/3);
    # 90 %: 13/9 ± 1.6449 x 2/3 = 0.3478 to 2.5410.
    d = np.array([0.0, 2.0, 5.0])
    Sigma = np.diag([1.0, 1.0, 4.0])
    mean, low, high = dist.pooled_effects(d, Sigma, nu=10**7, scale=1e-9)
    np.testing.assert_allclose(mean, 13 / 9, rtol=1e-3)
    np.testing.assert_allclose(low, 13 / 9 - 1.6449 * 2 / 3, rtol=1e-3)
    np.testing.assert_allclose(high, 13 / 9 + 1.6449 * 2 / 3, rtol=1e-3)


def test_pooled_matches_brute_force_integration():
    # Three pilots sharing comparison districts (positive covariances), one apart.
    d = np.array([-8.0, -10.0, -3.0])
    Sigma = np.array([[4.0, 0.6, 0.5], [0.6, 5.0, 0.7], [0.5, 0.7, 3.0]])
    nu = 4
    mean, low, high = dist.pooled_effects(d, Sigma, nu, level=0.10, scale=2.0)
    b_mean, b_low, b_high = _brute_force(d, Sigma, nu, 2.0)
    # The module's grid (61 tau x 16 kappa quantiles) against 80 x 80 x 121 points (both
    # discretized, differently): agreement to 2.5 % (means) and 5 % (ends) of the standard
    # errors, which are about 2.
    np.testing.assert_allclose(mean, b_mean, atol=0.05)
    np.testing.assert_allclose(low, b_low, atol=0.1)
    np.testing.assert_allclose(high, b_high, atol=0.1)
    # Shrinkage: each pilot moves toward the others.
    assert mean[2] < d[2] and mean[1] > d[1]


def test_mixture_of_identical_components_has_their_quantiles():
    """Five equal-weight components all N(0.1, (1e-150)^2) are one normal: its 5 % and 95 %
    quantiles are 0.1 -/+ 1.645e-150, i.e. 0.1 in floating point. In floating point
    w @ m^2 - (w @ m)^2 comes out -1.7e-18 here (0.1 has no exact binary form), which gave
    NaN quantiles (and a RuntimeWarning from sqrt) before the variance was clipped at 0."""
    w = np.full(5, 0.2)
    m = np.full((5, 1), 0.1)
    sd = np.full((5, 1), 1e-150)
    assert (w @ (sd**2 + m**2) - (w @ m) ** 2)[0] < 0  # the rounding this test is about
    with np.errstate(invalid="raise"):
        q = dist._mixture_quantiles(w, m, sd, (0.05, 0.95))
    assert q.ravel().tolist() == [0.1, 0.1]


def test_mixture_quantiles_stop_per_column_on_the_root():
    """Columns that converge at different speeds (one a single normal, found in a step or two;
    others bimodal or skewed) each end on their quantile: the mixture CDF, summed here with
    math.erfc term by term, equals the probability to 1e-12, and the single normal's
    quantiles are mu +/- z sd with z = 1.6448536269514722 (the 95 % point of N(0, 1), any
    table to 4 decimals: 1.6449)."""
    rng = np.random.default_rng(3)
    G = 40
    w = rng.random(G)
    w /= w.sum()
    m = np.column_stack([np.full(G, 2.0),                        # one normal N(2, 0.5^2)
                         np.where(np.arange(G) < 20, -5.0, 5.0),  # two far-apart modes
                         rng.normal(0, 3, G),                     # spread means
                         rng.exponential(1.0, G)])                # skewed
    sd = np.column_stack([np.full(G, 0.5), np.full(G, 0.3), rng.uniform(0.1, 2.0, G),
                          rng.uniform(0.05, 0.2, G)])
    probs = (0.05, 0.95)
    q = dist._mixture_quantiles(w, m, sd, probs)

    def cdf(x, j):
        return sum(wg * 0.5 * math.erfc(-(x - mg) / (sg * math.sqrt(2)))
                   for wg, mg, sg in zip(w, m[:, j], sd[:, j], strict=True))

    for i, prob in enumerate(probs):
        for j in range(m.shape[1]):
            assert abs(cdf(q[i, j], j) - prob) <= 1e-12, (i, j)
    np.testing.assert_allclose(q[:, 0], [2 - 1.6448536269514722 * 0.5,
                                         2 + 1.6448536269514722 * 0.5], rtol=1e-12)


def test_shared_covariance_by_hand():
    # Pilot 0 compares with units 0, 1, 2; pilot 1 with units 1, 2, 3 (NaN elsewhere).
    E = np.array([[1.0, 2.0, 3.0, np.nan], [np.nan, 1.0, 5.0, 0.0]])
    S = dist.shared_covariance(E, np.array([1.0, 2.0]))
    # Sigma_00 = var(1, 2, 3) (1 + 1/3) = 4/3; Sigma_11 = var(1, 5, 0) (2 + 1/3)
    # = (7 / ... ) : mean 2, deviations -1, 3, -2, variance 14/2 = 7 -> 7 x 7/3 = 49/3.
    # Common units 1, 2: covariance of (2, 3) and (1, 5) = (-0.5 x -2 + 0.5 x 2) / 1 = 2;
    # Sigma_01 = 2 / (3 x 3) x 2 = 4/9.
    np.testing.assert_allclose(S, [[4 / 3, 4 / 9], [4 / 9, 49 / 3]])


def test_shared_covariance_three_pilots_by_hand():
    """All pairs at once: a pair with one common unit gets 0, a unit nobody compares with is
    ignored. Units 0-5; pilot 0 compares with 0, 1, 2; pilot 1 with 2, 3, 4; pilot 2 with
    0, 2, 3; unit 5 with none."""
    nan = np.nan
    E = np.array([[1.0, 2.0, 3.0, nan, nan, nan],
                  [nan, nan, 3.0, 4.0, 6.0, nan],
                  [2.0, nan, 4.0, 8.0, nan, nan]])
    S = dist.shared_covariance(E, np.array([1.0, 1.0, 1.5]))
    # Diagonal: var(1, 2, 3) = 1, x (1 + 1/3) = 4/3; var(3, 4, 6): mean 13/3, squares
    # 16/9 + 1/9 + 25/9 = 42/9, / 2 = 7/3, x 4/3 = 28/9; var(2, 4, 8): mean 14/3, squares
    # 64/9 + 4/9 + 100/9 = 168/9, / 2 = 28/3, x (1.5 + 1/3) = 28/3 x 11/6 = 154/9.
    # Pilots 0 and 1 share unit 2 only: 0. Pilots 0 and 2 share units 0, 2: cov((1, 3),
    # (2, 4)) = ((-1)(-1) + (1)(1)) / 1 = 2, x 2 / (3 x 3) = 4/9. Pilots 1 and 2 share
    # units 2, 3: cov((3, 4), (4, 8)) = ((-0.5)(-2) + (0.5)(2)) / 1 = 2 -> 4/9.
    np.testing.assert_allclose(S, [[4 / 3, 0.0, 4 / 9],
                                   [0.0, 28 / 9, 4 / 9],
                                   [4 / 9, 4 / 9, 154 / 9]], rtol=1e-12, atol=1e-15)


# =========================================================================== consistency
def test_leave_one_out_flags_the_deviant_pilot():
    # Five independent pilots with standard error 1: four near -10, one at 0.
    d = np.array([-10.0, -9.5, -10.5, -10.0, 0.0])
    p, expected = dist.loo_consistency(d, np.eye(5), nu=10)
    assert p[4] <= dist.FLAG_LEVEL
    assert (p[:4] > dist.FLAG_LEVEL).all()
    # Lower is better and the model improved (direction -1): 0 is above the -10 the others
    # lead one to expect, so weaker; +5 would be opposite.
    assert expected[4] == pytest.approx(-10, abs=0.5)
    assert dist.relation(0.0, expected[4], -1, True) == "weaker"
    assert dist.relation(5.0, expected[4], -1, True) == "opposite"
    assert dist.relation(-20.0, expected[4], -1, True) == "stronger"
    assert dist.relation(-10.0, expected[4], -1, False) == "consistent"
    # Fewer than 2 others: nothing.
    p2, e2 = dist.loo_consistency(d[:2], np.eye(2), nu=10)
    assert np.isnan(p2).all() and np.isnan(e2).all()


def _loo_one_at_a_time(d, Sigma, nu, scale=dist.LOO_SCALE):
    """loo_consistency's definition (its docstring), one left-out pilot and one grid cell at a
    time, with explicit inverses instead of the module's shared eigenvectors and batching.

    On each cell (tau, kappa) of the grid the module documents (``dist._grid``):
    ``V = kappa Sigma_oo + tau^2 I``, ``mu_hat = 1'V^-1 d_o / 1'V^-1 1``, the marginal weight
    ``prior |V|^-1/2 (1'V^-1 1)^-1/2 exp(-r'V^-1 r / 2)``, ``c = V^-1 kappa Sigma_op``, the
    predictive mean ``mu_hat + c'(d_o - mu_hat 1)`` and variance
    ``kappa Sigma_pp + tau^2 - c' kappa Sigma_op + (1 - c'1)^2 / 1'V^-1 1``; the cells that
    carry all but 1e-7 of the weight are kept.
    """
    from scipy.stats import norm

    P = len(d)
    p_out, m_out = np.full(P, np.nan), np.full(P, np.nan)
    for p in range(P):
        o = [i for i in range(P) if i != p]
        So, do = Sigma[np.ix_(o, o)], d[o]
        A = scale * math.sqrt(np.mean(np.diag(So)))
        tau, kappa, log_prior = dist._grid(A, do.max() - do.min(), nu)
        one = np.ones(len(o))
        logw, means, sds = [], [], []
        for t, k, lp in zip(tau, kappa, log_prior, strict=True):
            V = k * So + t**2 * np.eye(len(o))
            Vi = np.linalg.inv(V)
            s1 = one @ Vi @ one
            mu = one @ Vi @ do / s1
            r = do - mu
            logw.append(lp - 0.5 * np.linalg.slogdet(V)[1] - 0.5 * math.log(s1)
                        - 0.5 * r @ Vi @ r)
            Vop = k * Sigma[o, p]
            c = Vi @ Vop
            means.append(mu + c @ r)
            sds.append(math.sqrt(k * Sigma[p, p] + t**2 - c @ Vop + (1 - c @ one) ** 2 / s1))
        w = np.exp(np.array(logw) - max(logw))
        w /= w.sum()
        order = np.argsort(w)
        keep = np.ones(len(w), dtype=bool)
        keep[order[np.cumsum(w[order]) <= 1e-7]] = False
        w = w[keep] / w[keep].sum()
        F = w @ norm.cdf((d[p] - np.array(means)[keep]) / np.array(sds)[keep])
        p_out[p] = min(1.0, 2 * min(F, 1 - F))
        m_out[p] = w @ np.array(means)[keep]
    return p_out, m_out


@pytest.mark.parametrize("P", [4, 10])
def test_batched_leave_one_out_equals_one_at_a_time(P):
    """The batched fits (one eigh call on a stack, sums over eigenvalues in another order)
    give what fitting each left-out pilot alone from the formula gives, to rounding. Ten
    pilots: sums over 9 eigenvalues, past the 8 where numpy's summation order changes."""
    rng = np.random.default_rng(P)
    # Pilots sharing comparison districts: Sigma = B B' / 3 + diag, positive covariances.
    B = rng.uniform(0.2, 1.0, (P, 3))
    Sigma = B @ B.T / 3 + np.diag(rng.uniform(0.5, 2.0, P))
    d = rng.normal(-3.0, 1.5, P)
    d[-1] = 4.0  # one pilot well off the others
    p, expected = dist.loo_consistency(d, Sigma, nu=6)
    p_ref, m_ref = _loo_one_at_a_time(d, Sigma, 6)
    np.testing.assert_allclose(p, p_ref, rtol=1e-10)
    np.testing.assert_allclose(expected, m_ref, rtol=1e-10)
    assert p[-1] <= dist.FLAG_LEVEL  # (the test would notice a check that flags nothing)


# =========================================================================== long difference
def test_long_difference_by_hand():
    years = np.arange(2014, 2020)
    pre = years <= 2016
    post = years >= 2018
    nan = np.nan
    Y = np.array([
        # 2014 2015 2016 2017 2018 2019
        [10, 12, nan, 15, 20, 22],  # the district: pre mean 11, post 21 -> L 10
        [5, 5, 4, 6, 7, 7],         # L 2
        [1, 3, 9, 3, 4, 4],         # L 2
        [0, 0, nan, 1, 3, 3],       # L 3
        [8, 8, nan, 8, 9, 9],       # L 1
    ])
    # 2016 has only 2 values (< 4 units): dropped; pre = 2014-2015, post = 2018-2019.
    ld = dist.long_difference(Y, years, pre, post, 0)
    assert ld.pre_years == (2014, 2015) and ld.post_years == (2018, 2019)
    # Others' L: 2, 2, 3, 1, mean 2 -> 10 - 2 = 8. SD sqrt(2/3); 2 pre years: floor 1;
    # se = sqrt(2/3 x 5/4) = 0.91287; t = 8.76 > 5.841 (df 3): two-sided p < 0.01.
    assert ld.estimate == pytest.approx(8.0)
    assert ld.n_reference == 4
    assert ld.p_two < 0.01
    # The district lacking a kept year: no long difference.
    Y2 = Y.copy()
    Y2[0, 5] = nan
    assert math.isnan(dist.long_difference(Y2, years, pre, post, 0).estimate)


# =========================================================================== verdict rule
@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (dict(assessable=False, comparison=True, pretrend=False, model_verdict="improved"),
         "no_data"),
        (dict(assessable=True, comparison=True, pretrend=True, model_verdict="improved",
              p_better=0.001), "pretrend"),
        # Flagged and the model not conclusive: differs, whatever the direction.
        (dict(assessable=True, comparison=True, pretrend=False, model_verdict="no_clear_change",
              flagged=True, relation="stronger"), "differs"),
        # Flagged weaker with the model conclusive: differs.
        (dict(assessable=True, comparison=True, pretrend=False, model_verdict="improved",
              p_better=0.01, flagged=True, relation="weaker"), "differs"),
        # Flagged stronger with the model conclusive: the district's own evidence decides.
        (dict(assessable=True, comparison=True, pretrend=False, model_verdict="improved",
              p_better=0.01, flagged=True, relation="stronger"), "improved"),
        (dict(assessable=True, comparison=True, pretrend=False, model_verdict="improved",
              p_better=0.05), "improved"),
        (dict(assessable=True, comparison=True, pretrend=False, model_verdict="improved",
              p_better=0.051), "in_line"),
        (dict(assessable=True, comparison=True, pretrend=False, model_verdict="worsened",
              p_worse=0.01, p_better=0.99), "worsened"),
        # Own evidence the other way does not count: in line with the model.
        (dict(assessable=True, comparison=True, pretrend=False, model_verdict="improved",
              p_worse=0.01, p_better=0.99), "in_line"),
        # No better direction: a changed model gives in_line, never improved.
        (dict(assessable=True, comparison=True, pretrend=False, model_verdict="changed",
              p_better=0.001, better="none"), "in_line"),
        (dict(assessable=True, comparison=True, pretrend=False, model_verdict="no_clear_change",
              p_better=0.001), "no_clear_change"),
        (dict(assessable=True, comparison=True, pretrend=False, model_verdict="not_assessed"),
         "no_clear_change"),
        # Without comparison after the start.
        (dict(assessable=True, comparison=False, pretrend=False, model_verdict="improved"),
         "before_after_only"),
        (dict(assessable=True, comparison=False, pretrend=False, model_verdict="improved",
              long_difference=True, flagged=True, relation="weaker"), "differs"),
        (dict(assessable=True, comparison=False, pretrend=False, model_verdict="improved",
              long_difference=True, flagged=True, relation="stronger"),
         "in_line_before_after"),
        (dict(assessable=True, comparison=False, pretrend=False, model_verdict="improved",
              long_difference=True), "in_line_before_after"),
        (dict(assessable=True, comparison=False, pretrend=False,
              model_verdict="no_clear_change", long_difference=True),
         "no_clear_change_before_after"),
    ],
)
def test_district_verdict_rule(kwargs, expected):
    assert dist.district_verdict(level=0.10, **kwargs) == expected


def test_every_verdict_code_is_reached_by_the_rule_table():
    reached = {"no_data", "pretrend", "differs", "improved", "in_line", "worsened",
               "no_clear_change", "before_after_only", "in_line_before_after",
               "no_clear_change_before_after"}
    assert reached == set(dist.DISTRICT_VERDICTS)


# =========================================================================== power
def test_minimum_detectable_effect_by_hand():
    # 40 null statistics 0..39 (centred: -19.5..19.5). Level 0.10: k = floor(0.05 x 40) = 2,
    # the observed one must beat the 2nd most extreme: c = 18.5 either way.
    # SD (ddof 1) of 0..39 = sqrt(40 x 41 / 12) = 11.6905; z_0.8 = 0.8416.
    # MDE = 18.5 + 0.8416 x 11.6905 = 28.339.
    z = np.arange(40.0)
    assert dist.minimum_detectable_effect(z, 0.10) == pytest.approx(
        18.5 + 0.841621 * math.sqrt(40 * 41 / 12), rel=1e-5)
    # Half the leverage: twice the effect.
    assert dist.minimum_detectable_effect(z, 0.10, leverage=0.5) == pytest.approx(
        2 * (18.5 + 0.841621 * math.sqrt(40 * 41 / 12)), rel=1e-5)
    # 8 assignments: k = floor(0.4) = 0, no test can conclude.
    assert dist.minimum_detectable_effect(z[:8], 0.10) == math.inf


def test_model_row_mde_on_a_tiny_case():
    from .test_inference import _five_units

    res = evaluate_all(_five_units(), pre_years=2, post_years=2, sensitivity=False)
    model = _row(res, "*", "so_cuoc_hop", scope="model")
    # 10 placements: k = floor(0.05 x 10) = 0, no test can conclude: infinite.
    assert model.mde == math.inf
    pilots = res[(res.scope == "pilot") & (res.indicator == "so_cuoc_hop")]
    assert len(pilots) == 3 and (pilots.mde == math.inf).all()


# =========================================================================== tiny datasets
def _danvan_tiny(effect_last: float):
    # danvan_mttq pilots 116, 118, 119, 120 from 1 January 2019 (day): T = g = 2019.
    # pre_years = post_years = 2: pre 2017-2018 (every unit 20), post 2019-2020 (20 + change).
    # Changes: never units 121-124: 0, 1, -1, 0; pilots -10, -10.5, -9.5 and ``effect_last``.
    # 2015 and 2016 (before the pre window, inside the noise floor's look-back to 2015) wiggle
    # by +w and -w.
    wiggle = {"116": 0.2, "118": -0.2, "119": 0.1, "120": -0.1, "121": 0.3, "122": -0.3,
              "123": 0.0, "124": 0.1}
    change = {"121": 0, "122": 1, "123": -1, "124": 0,
              "116": -10, "118": -10.5, "119": -9.5, "120": effect_last}
    series = {(u, "so_cuoc_kiem_tra_giam_sat"): {
        2015: 20 + wiggle[u], 2016: 20 - wiggle[u], 2017: 20, 2018: 20, 2019: 20 + c,
        2020: 20 + c} for u, c in change.items()}
    plist = [(u, "danvan_mttq", "2019-01-01", "day") for u in ("116", "118", "119", "120")]
    return make_dataset(series, plist)


def test_tiny_dataset_own_estimate_and_differs():
    res = evaluate_all(_danvan_tiny(-3.0), models=["danvan_mttq"], pre_years=2, post_years=2,
                       sensitivity=False)
    res = res[res.indicator == "so_cuoc_kiem_tra_giam_sat"]
    row = _row(res, "116", "so_cuoc_kiem_tra_giam_sat")
    # 116: change -10 against the never units' 0, 1, -1, 0 (mean 0, variance 2/3).
    # Noise floor over 2015-2018: reference means 20.025, 19.975, 20, 20; 116's gaps
    # 0.175, -0.175, 0, 0 (variance 0.020417); the references' gaps to the other three have
    # variances 0.08963, 0.12519, 0.00074, 0.00667 (mean 0.05556): r = 0.37 -> floor 1.
    # se = sqrt(2/3 x (1 + 1/4)) = 0.91287; t = 10.95 > 5.841 (df 3): one-sided p < 0.005.
    assert row.own_estimate == pytest.approx(-10)
    assert row.noise_floor == 1.0 and row.n_reference == 4
    assert row.own_p_better < 0.005
    assert row.own_low == pytest.approx(-10 - T95_3 * math.sqrt(5 / 6), abs=2e-3)
    # Model: 8!/(4! 4!) = 70 placements, statistic (2 sum_S - total) / 4. Observed sum -33;
    # swapping the -3 pilot for any never unit (at least -1) gives a larger sum, and any set
    # with fewer than three of the -10s is far larger: the observed is the lowest alone,
    # p_better = 1/70 <= 0.05 -> improved.
    model = _row(res, "*", "so_cuoc_kiem_tra_giam_sat", scope="model")
    assert model.p_better == pytest.approx(1 / 70) and model.verdict == "improved"
    # 116, 118, 119: model improved and own p tiny -> improved.
    for unit in ("116", "118", "119"):
        assert _row(res, unit, "so_cuoc_kiem_tra_giam_sat").verdict == "improved"
    # 120: its own -3 is clear on its own (t = 3 / 0.91287 = 3.29 > 2.353), but against the
    # three others' -10 it is flagged weaker: differs, and its pooled line is dropped.
    deviant = _row(res, "120", "so_cuoc_kiem_tra_giam_sat")
    assert deviant.own_p_better < 0.05
    assert deviant.consistency == "weaker" and deviant.consistency_p <= 0.10
    assert deviant.verdict == "differs" and deviant.reason_code == "district_differs"
    assert math.isnan(deviant.pooled_estimate)
    assert "yếu hơn" in deviant.reason_vi and "weaker" in deviant.reason_en
    assert np.isfinite(row.pooled_estimate) and row.pooled_low < row.pooled_high


def test_evaluate_pilot_gives_the_same_district_verdict():
    ds = _danvan_tiny(-3.0)
    res = evaluate_all(ds, pre_years=2, post_years=2)
    for unit in ("116", "120"):
        one = evaluate_pilot(ds, unit, "danvan_mttq", pre_years=2, post_years=2)
        a = _row(one, unit, "so_cuoc_kiem_tra_giam_sat")
        b = _row(res[res.model == "danvan_mttq"], unit, "so_cuoc_kiem_tra_giam_sat")
        assert (a.verdict, a.reason_en) == (b.verdict, b.reason_en)
        assert a.own_estimate == pytest.approx(b.own_estimate)


def test_one_indicator_dataset_is_fast_and_complete():
    import time

    ds = _danvan_tiny(-10.0)
    evaluate_all(ds, models=["danvan_mttq"], sensitivity=False)
    t0 = time.process_time()
    res = evaluate_all(ds, models=["danvan_mttq"], sensitivity=False)
    elapsed = time.process_time() - t0
    assert list(res.columns) == list(RESULT_COLUMNS)
    row = _row(res, "116", "so_cuoc_kiem_tra_giam_sat")
    for col in ("own_estimate", "own_low", "own_high", "own_p_better", "own_p_worse",
                "noise_floor", "pooled_estimate", "pooled_low", "pooled_high",
                "consistency_p", "mde"):
        assert np.isfinite(getattr(row, col)), col
    assert row.consistency == "consistent" and row.verdict == "improved"
    # A generous bound for a shared 2-core machine (about 0.1 s when idle).
    assert elapsed < 2.0


# =========================================================================== the demo
@pytest.fixture(scope="module")
def demo():
    return evaluate_all(load_dataset(None))


def _pilots(res, model, indicator):
    return res[(res.scope == "pilot") & (res.model == model) & (res.indicator == indicator)]


@pytest.mark.parametrize("indicator", ["so_cuoc_hop", "so_cuoc_kiem_tra_giam_sat"])
def test_demo_planted_danvan_rows_are_improved(demo, indicator):
    rows = _pilots(demo, "danvan_mttq", indicator)
    assert len(rows) == 5
    assert (rows.verdict == "improved").all()
    assert (rows.reason_code == "district_improved").all()
    assert rows.reason_vi.str.startswith("Cải thiện").all()


def test_demo_tuyengiao_early_starters_lecturers_improved(demo):
    rows = _pilots(demo, "tuyengiao_ttct", "so_giang_vien_chuyen_trach").set_index("unit_code")
    early = ["116", "118", "121", "122", "123"]
    assert (rows.loc[early, "verdict"] == "improved").all()
    # With the placebo fix they have a rank: p_min 1/6 or 1/5, never no_placebo.
    assert rows.loc[early, "p_min"].isin([1 / 6, 1 / 5]).all()
    assert (rows.loc[early, "placebo_reason_code"] == "inconclusive").all()
    # The later starters have no comparison: in line before/after (model improved).
    later = [u for u in rows.index if u not in early]
    assert (rows.loc[later, "verdict"] == "in_line_before_after").all()


def test_demo_no_placebo_is_gone(demo):
    assert not (demo.placebo_reason_code == "no_placebo").any()


def test_demo_planted_pretrend(demo):
    row = demo[(demo.scope == "pilot") & (demo.unit_code == PRETREND_UNIT)
               & (demo.model == PRETREND_MODEL) & (demo.indicator == PRETREND_INDICATOR)]
    assert row.verdict.iloc[0] == "pretrend"
    assert row.reason_code.iloc[0] == "district_pretrend"


def test_demo_chance_verdicts_on_indicators_with_nothing_planted(demo):
    # No effect planted, none leaking from the other model (data/demo/README.md): danvan
    # so_ngay_trien_khai (Yên Châu's planted pre-trend aside), running costs, staff posts,
    # leadership posts, rating: 4 + 4 x 5 = 24 rows; tuyengiao courses, trainees,
    # facilities, leadership posts, rating, running costs, staff: 7 x 12 = 84 rows.
    # A district is called improved or worsened by chance in at most about level/2 = 5 % of
    # rows (2.5 % per direction, DESIGN.md): 1.2 of 24 and 4.2 of 84 expected at most.
    pilots = demo[demo.scope == "pilot"]
    dv = pilots[(pilots.model == "danvan_mttq") & pilots.indicator.isin(
        ["so_ngay_trien_khai", "kinh_phi_hoat_dong", "so_bien_che", "so_lanh_dao", "xep_loai"])
        & ~((pilots.unit_code == PRETREND_UNIT) & (pilots.indicator == PRETREND_INDICATOR))]
    tg = pilots[(pilots.model == "tuyengiao_ttct") & pilots.indicator.isin(
        ["so_lop_boi_duong", "so_hoc_vien", "dat_chuan_co_so", "so_lanh_dao", "xep_loai",
         "kinh_phi_hoat_dong", "so_bien_che"])]
    assert (len(dv), len(tg)) == (24, 84)
    assert dv.verdict.isin(["improved", "worsened"]).sum() <= 2
    assert tg.verdict.isin(["improved", "worsened"]).sum() <= 5


def test_demo_columns_and_reasons(demo):
    pilots = demo[demo.scope == "pilot"]
    assert set(pilots.verdict) <= set(dist.DISTRICT_VERDICTS)
    models = demo[demo.scope == "model"]
    assert set(models.verdict) <= {"improved", "worsened", "changed", "no_clear_change",
                                   "not_assessed"}
    # The model's verdict and power are copied onto its pilot rows.
    for (model, indicator), rows in pilots.groupby(["model", "indicator"]):
        m = models[(models.model == model) & (models.indicator == indicator)].iloc[0]
        assert (rows.model_verdict == m.verdict).all()
        assert np.allclose(rows.mde, m.mde, equal_nan=True)
    # "Không đánh giá được" only for no_data and before_after_only.
    cannot = pilots.reason_vi.str.startswith("Không đánh giá được")
    assert set(pilots.loc[cannot, "verdict"]) <= {"no_data", "before_after_only"}
    # No statistics jargon in the district reasons.
    district = pilots[pilots.reason_code.str.startswith("district_")]
    for word in ("p =", "placebo", "DiD", "chênh lệch kép"):
        assert not district.reason_vi.str.contains(word, regex=False).any()
        assert not district.reason_en.str.contains(word, regex=False).any()
    # Meetings concern both models: the tuyengiao reason names the danvan model it is tested
    # jointly with.
    hop = _pilots(demo, "tuyengiao_ttct", "so_cuoc_hop")
    assert (hop.joint_with == "danvan_mttq").all()
    assert hop.reason_vi.str.contains("kiểm định cùng với mô hình Trưởng Ban Dân vận").all()
    assert hop.reason_en.str.contains("joint with the model Head of Mass Mobilization").all()
    # The MDE of the model rows: finite and positive where a test can conclude.
    assert (models.mde > 0).all() and np.isfinite(models.mde).all()
    assert pd.api.types.is_string_dtype(pilots.consistency) or pilots.consistency.dtype == object
