"""Exact randomization inference: placebo ranks, assignment sets, interval inversion, verdicts.

The province chose its pilot districts, so there is no sampling model to lean on. What can be
said is how unusual the observed statistic is among the statistics the same data give when the
pilots are placed elsewhere (DESIGN.md, "Inference"). This module holds the machinery that does
not depend on the statistic: the set of assignments (enumerated or sampled), the rank p-values,
the analytic inversion of the test into an interval, and the verdict rule. The statistic itself
(the per-pilot difference-in-differences) is computed in :mod:`kiemnhiem.stats.evaluation`.

Conventions
-----------
- ``A`` is the set of assignments the test ranks over, the observed one included. When the set
  is sampled, the observed assignment is added to the ``B`` draws: p = (1 + b) / (1 + B).
- Statistics are signed (``sign`` = -1 when lower is better) so that larger is better;
  ``tol = 1e-9 * max(1, |T_obs|)`` absorbs rounding, so exact ties count against the pilot.
- Each statistic is linear in the outcome for fixed comparison sets; on ``Y - tau * D`` it is
  ``S(Y) - tau * S(D)``, which makes the inversion exact with no grid.
- A sampled test read only for its verdict (the start-date sensitivity) may stop before its
  ``B`` draws once that verdict is settled (:func:`sequential_verdict`): exactly when the
  counts already decide it, else with a bounded chance of differing from the verdict of all
  ``B`` draws.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Literal, get_args

import numpy as np

Verdict = Literal["improved", "worsened", "changed", "no_clear_change", "not_assessed"]
VERDICTS: tuple[str, ...] = get_args(Verdict)

MAX_ENUMERATE = 20_000
DRAWS = 9_999
# Fixed so that a report regenerates identically (STYLE.md: deterministic, one generator).
SEED = 20171025
_E_ZERO = 1e-12
#: Sequential looks of a sampled test read only for its verdict (:func:`sequential_verdict`):
#: the first 250, 500, ... draws, each about twice the last so that a look costs at most the
#: draws already evaluated; only the looks below the number of draws are made.
LOOKS = (250, 500, 1000, 2000, 4000, 8000)
#: The largest chance, whatever the true p-values, that a verdict stopped at a look differs
#: from the verdict of all the draws (shared equally over the looks made).
LOOK_RISK = 1e-3


# --------------------------------------------------------------------------- assignments
def count_assignments(counts) -> int:
    """Distinct placements of a multiset: ``n! / prod(m_k!)`` for counts ``m_k``."""
    counts = [int(c) for c in counts]
    total = math.factorial(sum(counts))
    for c in counts:
        total //= math.factorial(c)
    return total


@cache
def _enumerate(counts: tuple[int, ...]) -> np.ndarray:
    """Every placement of labels 0..K (label k ``counts[k]`` times) on ``sum(counts)`` slots.

    Groups are placed one after the other into the slots still holding 0, each time over all
    combinations of the free slots; what stays 0 is label 0. Rows are in lexicographic order of
    the chosen slots, so the result is deterministic.
    """
    n = sum(counts)
    rows = np.zeros((1, n), dtype=np.int16)
    free = n
    for label, m in enumerate(counts[1:], start=1):
        if m == 0:
            # Nothing to place (a province without this schedule): numpy cannot shape the one
            # empty combination as (-1, 0).
            continue
        combos = np.array(list(itertools.combinations(range(free), m)), dtype=np.intp)
        combos = combos.reshape(-1, m)
        n_rows, n_comb = len(rows), len(combos)
        free_pos = np.nonzero(rows == 0)[1].reshape(n_rows, free)
        new = np.repeat(rows, n_comb, axis=0)
        pos = np.repeat(free_pos, n_comb, axis=0)
        chosen = np.take_along_axis(pos, np.tile(combos, (n_rows, 1)), axis=1)
        np.put_along_axis(new, chosen, np.int16(label), axis=1)
        rows = new
        free -= m
    rows.flags.writeable = False
    return rows


@dataclass(frozen=True)
class Assignments:
    """The assignments a test ranks over.

    Attributes
    ----------
    labels : ndarray of int, shape (B, n)
        One row per assignment: the schedule label of each unit (0 = never). Sampled, it is
        made from ``observed`` and ``perm`` when first read (:meth:`rows` makes only a range).
    exact : bool
        True when ``labels`` lists every possible assignment (the observed one among them);
        False when they are ``B`` uniform draws with replacement (the observed one not added).
    total : int
        How many distinct assignments are possible.
    observed, perm : ndarray, optional
        Sampled: the observed labels (n,) and each draw's permutation of the units (B, n),
        so that ``labels`` is ``observed[perm]``.
    """

    enumerated: np.ndarray | None = field(repr=False)
    exact: bool
    total: int
    observed: np.ndarray | None = field(default=None, repr=False)
    perm: np.ndarray | None = field(default=None, repr=False)

    @cached_property
    def labels(self) -> np.ndarray:
        if self.perm is None:
            return self.enumerated
        return np.take(self.observed, self.perm)

    def __len__(self) -> int:
        return len(self.enumerated if self.perm is None else self.perm)

    def rows(self, start: int, stop: int) -> np.ndarray:
        """``labels[start:stop]``, without making the other rows: a sequential test that stops
        after a few hundred draws (:func:`sequential_verdict`) need not place 9,999."""
        if self.perm is None or "labels" in self.__dict__:
            return self.labels[start:stop]
        return np.take(self.observed, self.perm[start:stop])


def draw_assignments(
    observed,
    max_enumerate: int = MAX_ENUMERATE,
    draws: int = DRAWS,
    seed: int = SEED,
    strata=None,
) -> Assignments:
    """All placements of the observed multiset of labels, or a uniform sample of them.

    Parameters
    ----------
    observed : array of int, shape (n,)
        The observed labels (0 = never, 1..K = the schedules).
    max_enumerate : int
        Enumerate when there are at most this many assignments.
    draws : int
        Otherwise draw this many uniformly, with replacement, from ``seed``.
    strata : array, shape (n,), optional
        Each unit's stratum (province). When given with more than one value the placements
        are stratified: each stratum's observed multiset of labels goes on its own units only,
        so there are ``prod_s n_s! / prod_k m_{s,k}!`` of them (a product of
        :func:`count_assignments` per stratum). Enumerated, they are the product of each
        stratum's placements (the first stratum varying slowest); sampled, each stratum's
        units are permuted independently by one generator from ``seed``.
    """
    observed = np.asarray(observed, dtype=np.int16)
    k = int(observed.max()) + 1 if observed.size else 1
    groups = _groups(strata, len(observed))
    if len(groups) > 1:
        return _stratified(observed, k, groups, max_enumerate, draws, seed)
    counts = tuple(int(c) for c in np.bincount(observed, minlength=k))
    total = count_assignments(counts)
    if total <= max_enumerate:
        return Assignments(_enumerate(counts), True, total)
    # Every distinct placement arises from the same number of permutations, so permuting the
    # observed labels draws placements uniformly.
    perm = _permutations(len(observed), int(draws), int(seed))
    return Assignments(None, False, total, observed.copy(), perm)


@cache
def _permutations(n: int, draws: int, seed: int) -> np.ndarray:
    """``draws`` uniform permutations of ``range(n)``, one per row, from ``seed``.

    Shared by every indicator with the same number of units: the same random placements
    (common random numbers), drawn once.
    """
    rng = np.random.default_rng(seed)
    perm = rng.permuted(np.tile(np.arange(n, dtype=np.intp), (draws, 1)), axis=1)
    perm.flags.writeable = False
    return perm


def _groups(strata, n: int) -> list[np.ndarray]:
    """The unit positions of each stratum, strata in sorted order (one group without)."""
    if strata is None:
        return [np.arange(n)]
    strata = np.asarray(strata)
    return [np.flatnonzero(strata == v) for v in np.unique(strata)]


def _stratified(observed: np.ndarray, k: int, groups: list[np.ndarray], max_enumerate: int,
                draws: int, seed: int) -> Assignments:
    counts = [tuple(int(c) for c in np.bincount(observed[g], minlength=k)) for g in groups]
    total = math.prod(count_assignments(c) for c in counts)
    n = len(observed)
    if total <= max_enumerate:
        rows = np.zeros((1, n), dtype=np.int16)
        for g, c in zip(groups, counts, strict=True):
            local = _enumerate(c)
            new = np.repeat(rows, len(local), axis=0)
            new[:, g] = np.tile(local, (len(rows), 1))
            rows = new
        rows.flags.writeable = False
        return Assignments(rows, True, total)
    sizes = tuple(len(g) for g in groups)
    positions = tuple(int(i) for g in groups for i in g)
    perm = _stratified_permutations(sizes, positions, int(draws), int(seed))
    return Assignments(None, False, total, observed.copy(), perm)


@cache
def _stratified_permutations(sizes: tuple[int, ...], positions: tuple[int, ...], draws: int,
                             seed: int) -> np.ndarray:
    """``draws`` rows, each a permutation of ``range(n)`` within every stratum, from ``seed``.

    ``sizes``: the strata's sizes; ``positions``: their units' positions, stratum after
    stratum (hashable, for the cache: indicators with the same usable units share the draws,
    as :func:`_permutations` does).
    """
    n = len(positions)
    rng = np.random.default_rng(seed)
    perm = np.tile(np.arange(n, dtype=np.int32), (draws, 1))
    start = 0
    for size in sizes:
        g = np.asarray(positions[start:start + size], dtype=np.int32)
        start += size
        if size > 1:
            local = rng.permuted(np.tile(np.arange(size, dtype=np.int32), (draws, 1)), axis=1)
            perm[:, g] = g[local]
    perm.flags.writeable = False
    return perm


# --------------------------------------------------------------------------- rank test
@dataclass(frozen=True)
class RankTest:
    """A rank test of one statistic and its inverted interval.

    Attributes
    ----------
    p_better, p_worse, p_two, p_min : float
        One-sided p-values in the better and the worse direction, two-sided, and the smallest
        p-value the set of assignments allows (1/|A|).
    n_assignments : int
        |A|, the observed assignment included (1 + B when sampled).
    exact : bool
        Whether ``A`` is every possible assignment (else a sample).
    mc_error : float
        Monte-Carlo standard error of the smaller one-sided p-value (0 when exact).
    ci_low, ci_high : float
        Equal-tailed interval for a constant additive effect (may be infinite).
    estimate : float
        The Hodges-Lehmann estimate of a constant additive effect (:func:`hodges_lehmann`),
        NaN without the statistics on D.
    rank : int
        Of the |A| statistics, how many show a rise (``direction`` "rise") or a fall ("fall")
        at least as large as the observed one (1 = the largest).
    direction : str
        "rise" or "fall": the sign of the observed raw statistic.
    """

    p_better: float
    p_worse: float
    p_two: float
    p_min: float
    n_assignments: int
    exact: bool
    mc_error: float
    ci_low: float
    ci_high: float
    rank: int
    direction: str
    estimate: float = math.nan


def rank_test(
    stats,
    observed: float,
    sign: int = 1,
    level: float = 0.10,
    *,
    exact: bool = True,
    d_stats=None,
    d_observed: float | None = None,
) -> RankTest:
    """Rank the observed statistic among the assignments' statistics.

    Parameters
    ----------
    stats : array of float, shape (B,)
        Raw statistics of the assignments (NaN entries are left out). When ``exact`` they are
        every assignment in ``A``, the observed one included; else ``B`` sampled draws.
    observed : float
        The observed raw statistic.
    sign : {1, -1}
        -1 when lower is better, so that ``sign * stat`` is larger when better.
    level : float
        The test level; the interval has coverage ``1 - level``.
    d_stats, d_observed : optional
        The same statistics computed on the treatment indicator D instead of the outcome.
        Since each statistic is linear in the outcome, the statistic on ``Y - tau * D`` is
        ``stats - tau * d_stats``; with them the interval is inverted exactly. Without them the
        interval is NaN.
    """
    y = np.asarray(stats, dtype=float)
    keep = ~np.isnan(y)
    if d_stats is not None:
        dl = np.asarray(d_stats, dtype=float)
        keep &= ~np.isnan(dl)
        dl = dl[keep]
    y = y[keep]
    n_draws = len(y)
    extra = 0 if exact else 1
    n_a = n_draws + extra
    b_better, b_worse = tail_counts(y, observed, sign)
    b_better += extra
    b_worse += extra
    p_better = b_better / n_a
    p_worse = b_worse / n_a
    p_two = min(1.0, 2.0 * min(p_better, p_worse))
    p_min = 1.0 / n_a
    if exact:
        mc_error = 0.0
    else:
        p = min(p_better, p_worse)
        mc_error = math.sqrt(p * (1.0 - p) / n_draws) if n_draws else math.nan
    raw_tol = 1e-9 * max(1.0, abs(observed))
    if observed >= 0:
        direction, rank = "rise", int(np.sum(y >= observed - raw_tol)) + extra
    else:
        direction, rank = "fall", int(np.sum(y <= observed + raw_tol)) + extra
    ci_low = ci_high = estimate = math.nan
    if d_stats is not None and d_observed is not None and not math.isnan(d_observed):
        # Both read the same pieces of the tau line: cut once (half of this test's time).
        d, e = observed - y, d_observed - dl
        pieces = _pieces(d, e, extra, raw_tol)
        ci_low, ci_high = _interval(pieces, d, level, extra, raw_tol)
        estimate = _middle(pieces)
    return RankTest(
        p_better, p_worse, p_two, p_min, n_a, exact, mc_error, ci_low, ci_high, rank, direction,
        estimate,
    )


def tail_counts(stats, observed: float, sign: int = 1) -> tuple[int, int]:
    """How many of ``stats`` are at least as good as the observed statistic and how many at
    least as bad, with :func:`rank_test`'s tolerance (NaN entries count in neither).

    One definition for :func:`rank_test` and for the sequential looks
    (:func:`sequential_verdict`), so that a look counts exactly what the full test counts.
    """
    t_obs = sign * observed
    tol = 1e-9 * max(1.0, abs(t_obs))
    t = sign * np.asarray(stats, dtype=float)
    return int(np.sum(t >= t_obs - tol)), int(np.sum(t <= t_obs + tol))


def _pieces(d, e, n_extra: int, tol: float):
    """The counts of an inverted rank test on every piece of the ``tau`` line.

    For a hypothesised constant effect ``tau`` the observed statistic minus assignment ``a``'s
    is ``d_a - tau * e_a``. The counts of assignments at least as large as the observed
    statistic (``ge``) and at most as large (``le``) are step functions of ``tau`` that change
    only where ``d_a - tau * e_a`` crosses ``±tol``, so one probe per piece (the ray below,
    each switch point, each open gap after it) is exact: no grid.

    Returns
    -------
    (lefts, rights, ge, le, n_a) or None
        Each piece's ends (reported at the exact ratios ``d / e``, so that the tolerance does
        not show in them) and counts, and |A|; None when no count ever changes.
    """
    d = np.asarray(d, dtype=float)
    e = np.asarray(e, dtype=float)
    n_a = len(d) + n_extra
    zero = np.abs(e) <= _E_ZERO
    pos, neg = (e > _E_ZERO), (e < -_E_ZERO)
    # ge: S_a(tau) >= S_obs(tau) - tol  <=>  d - tau e <= tol
    # le: S_a(tau) <= S_obs(tau) + tol  <=>  d - tau e >= -tol
    ge0 = int(np.sum(zero & (d <= tol))) + n_extra
    le0 = int(np.sum(zero & (d >= -tol))) + n_extra
    ge_pos = np.sort((d[pos] - tol) / e[pos])  # counted when tau >= r
    ge_neg = np.sort((d[neg] - tol) / e[neg])  # counted when tau <= r
    le_pos = np.sort((d[pos] + tol) / e[pos])  # counted when tau <= r
    le_neg = np.sort((d[neg] + tol) / e[neg])  # counted when tau >= r

    shifted = np.concatenate([(d[pos] - tol) / e[pos], (d[neg] - tol) / e[neg],
                              (d[pos] + tol) / e[pos], (d[neg] + tol) / e[neg]])
    exact = np.concatenate([d[pos] / e[pos], d[neg] / e[neg], d[pos] / e[pos],
                            d[neg] / e[neg]])
    points, first = np.unique(shifted, return_index=True)
    if len(points) == 0:
        return None
    ends = exact[first]
    gaps = np.concatenate([(points[:-1] + points[1:]) / 2.0, [points[-1] + 1.0]])
    probes = np.concatenate([[points[0] - 1.0], np.column_stack([points, gaps]).ravel()])
    lefts = np.concatenate([[-math.inf], np.column_stack([ends, ends]).ravel()])
    rights = np.concatenate(
        [[ends[0]], np.column_stack([ends, np.append(ends[1:], math.inf)]).ravel()]
    )
    ge = (
        ge0
        + np.searchsorted(ge_pos, probes, side="right")
        + (len(ge_neg) - np.searchsorted(ge_neg, probes, side="left"))
    )
    le = (
        le0
        + (len(le_pos) - np.searchsorted(le_pos, probes, side="left"))
        + np.searchsorted(le_neg, probes, side="right")
    )
    return lefts, rights, ge, le, n_a


def invert_interval(
    d, e, level: float, n_extra: int = 0, tol: float = 1e-9
) -> tuple[float, float]:
    """Equal-tailed interval by exact inversion of a rank test whose statistics are linear.

    ``tau`` is kept unless the observed statistic is among the largest (share of assignments
    at least as large ``<= level / 2``) or the smallest (see :func:`_pieces`). The set of kept
    values need not be an interval when the ``e_a`` differ in sign; its hull is returned.

    Parameters
    ----------
    d, e : array of float
        ``S_obs(Y) - S_a(Y)`` and ``S_obs(D) - S_a(D)`` over the assignments.
    level : float
        One minus the coverage.
    n_extra : int
        Assignments counted on both sides at every ``tau`` (1 for the observed one when the
        assignments are a sample that does not contain it).
    tol : float
        The tie tolerance of the test.

    Returns
    -------
    (float, float)
        The hull of the kept values of ``tau``; ``-inf``/``inf`` when unbounded, NaN when
        nothing is kept.
    """
    return _interval(_pieces(d, e, n_extra, tol), d, level, n_extra, tol)


def _interval(pieces, d, level: float, n_extra: int, tol: float) -> tuple[float, float]:
    """:func:`invert_interval` from the pieces :func:`_pieces` cut."""
    cut = level / 2.0
    if pieces is None:
        n_a = len(np.asarray(d)) + n_extra
        ge = int(np.sum(np.asarray(d, dtype=float) <= tol)) + n_extra
        le = int(np.sum(np.asarray(d, dtype=float) >= -tol)) + n_extra
        ok = ge / n_a > cut and le / n_a > cut
        return (-math.inf, math.inf) if ok else (math.nan, math.nan)
    lefts, rights, ge, le, n_a = pieces
    kept = (ge / n_a > cut) & (le / n_a > cut)
    if not kept.any():
        return math.nan, math.nan
    idx = np.flatnonzero(kept)
    return float(lefts[idx[0]]), float(rights[idx[-1]])


def hodges_lehmann(d, e, n_extra: int = 0, tol: float = 1e-9) -> float:
    """The constant effect at which the observed statistic sits in the middle of the
    assignments' statistics: the Hodges-Lehmann estimate of the inverted rank test
    (Rosenbaum, *Observational Studies*, 2nd ed., 2002, section 2.7.3).

    Of the pieces of the ``tau`` line (:func:`_pieces`), those where the smaller of the two
    counts (assignments at least as large as the observed statistic, at most as large) is
    largest; the midpoint of their hull. It lies inside every interval :func:`invert_interval`
    returns for the same assignments, which a mean of pilots' estimates need not (a trend
    every placement shares moves the mean, not the ranks). For shift statistics (every
    ``e_a`` = 1) it is the median of the ``d_a``.

    Returns
    -------
    float
        NaN when no count depends on ``tau`` or the middle set is unbounded on both sides; its
        finite end when it is unbounded on one.
    """
    return _middle(_pieces(d, e, n_extra, tol))


def _middle(pieces) -> float:
    """:func:`hodges_lehmann` from the pieces :func:`_pieces` cut."""
    if pieces is None:
        return math.nan
    lefts, rights, ge, le, _ = pieces
    middle = np.minimum(ge, le)
    idx = np.flatnonzero(middle == middle.max())
    low, high = float(lefts[idx[0]]), float(rights[idx[-1]])
    if math.isinf(low) and math.isinf(high):
        return math.nan
    if math.isinf(low) or math.isinf(high):
        return high if math.isinf(low) else low
    return (low + high) / 2.0


# --------------------------------------------------------------------------- verdict
def decide(better: str, test: RankTest | None, level: float) -> Verdict:
    """The verdict rule of DESIGN.md at ``level``.

    Improved iff ``p_better <= level / 2``, worsened iff ``p_worse <= level / 2``; for an
    indicator with no better direction, changed iff ``p_two <= level``; otherwise no clear
    change. Without a test: not assessed.
    """
    if test is None:
        return "not_assessed"
    if better == "none":
        return "changed" if test.p_two <= level else "no_clear_change"
    if test.p_better <= level / 2:
        return "improved"
    if test.p_worse <= level / 2:
        return "worsened"
    return "no_clear_change"


def conclusive_possible(test: RankTest, level: float) -> bool:
    """Whether any outcome could reach a verdict: ``p_min <= level / 2``."""
    return test.p_min <= level / 2


# --------------------------------------------------------------------------- sequential verdict
def _special():
    """``scipy.special``, imported when first needed: only a sampled sequential test uses it,
    and a report that reads its run's evaluation saves the import."""
    import scipy.special

    return scipy.special


def significant_cut(draws: int, level: float) -> int:
    """The largest count ``c`` of sampled draws at least as extreme as the observed statistic
    that :func:`decide` still calls significant with all ``draws`` valid:
    ``(c + 1) / (draws + 1) <= level / 2`` in floating point, as :func:`rank_test` divides
    (-1 when no count is)."""
    half = level / 2
    c = math.floor(half * (draws + 1)) - 1
    while c + 1 <= draws and (c + 2) / (draws + 1) <= half:
        c += 1
    while c >= 0 and (c + 1) / (draws + 1) > half:
        c -= 1
    return c


def sequential_verdict(better: str, b_better: int, b_worse: int, n_nan: int, k: int,
                       draws: int, level: float, risk: float) -> Verdict | None:
    """The verdict :func:`decide` would give on all ``draws`` sampled assignments, known from
    the first ``k`` of them; None while it is open.

    ``b_better``, ``b_worse``: how many of the first ``k`` draws are at least as good / as bad
    as the observed statistic (:func:`tail_counts`), ``n_nan`` how many are NaN. Each
    direction is significant on all draws iff its count (observed added) over the valid
    draws (observed added) is at most ``level / 2``; with ``c`` = :func:`significant_cut`:

    - *settled exactly*: not significant once more than ``c`` draws are extreme (counts only
      grow and the valid draws are at most ``draws``: the curtailment behind Besag and
      Clifford's sequential p-values, Biometrika 78:301, 1991); significant once there would
      be at most ``c`` even if every draw left were extreme (NaN draws counted as extreme,
      since they shrink the valid draws);
    - *settled with risk* (Gandy 2009, JASA 104:1504, "uniformly bounded resampling risk";
      here bounded against the verdict of all ``draws`` rather than of infinitely many):
      significant when, at the upper Clopper-Pearson bound ``p_u`` (one-sided, ``delta``) of
      the rate of extreme (or NaN) draws, more than ``c`` by the end has chance at most
      ``delta``; not significant when, at the lower bound ``p_l`` of the rate of extreme
      draws, at most ``c`` by the end has chance at most ``delta``. The draws left are
      independent of those seen, so a claim is wrong with chance at most
      P(p outside its bound) + ``delta`` <= ``2 delta`` whatever the true rate p.

    Two directions times two claims of ``2 delta`` each: the verdict differs from the one of
    all draws with chance at most ``8 delta`` = ``risk`` at this look (callers share
    :data:`LOOK_RISK` over their looks). Without a valid draw yet, nothing is settled (all
    NaN would be "not assessed").
    """
    if n_nan >= k:
        return None
    cut = significant_cut(draws, level)
    delta = risk / 8.0
    good, bad = (_settled(b, n_nan, k, draws, cut, delta) for b in (b_better, b_worse))
    if better == "none":
        if good is True or bad is True:
            return "changed"
        return "no_clear_change" if good is False and bad is False else None
    if good is True:
        return "improved"
    if good is False and bad is not None:
        return "worsened" if bad else "no_clear_change"
    return None


def _settled(h: int, n_nan: int, k: int, draws: int, cut: int, delta: float) -> bool | None:
    """One direction of :func:`sequential_verdict`: significant on all draws (True), not
    (False), or open (None), from ``h`` extreme and ``n_nan`` NaN draws among the first
    ``k``."""
    rest = draws - k
    if h > cut:
        return False
    s = h + n_nan
    if s + rest <= cut:
        return True
    sp = _special()
    if s <= cut:
        upper = 1.0 if s >= k else float(sp.betaincinv(s + 1, k - s, 1.0 - delta))
        if float(sp.bdtrc(cut - s, rest, upper)) <= delta:
            return True
    if h > 0:
        lower = float(sp.betaincinv(h, k - h + 1, delta))
        if float(sp.bdtr(cut - h, rest, lower)) <= delta:
            return False
    return None
