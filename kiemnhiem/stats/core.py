"""The array core of the evaluation: one units x years matrix per indicator.

:class:`_Prep` holds per-unit pieces prepared once per indicator and set of schedules (every
unit's pre means over the few distinct sets of pre years, its post-year deviations and their
validity), so that the contract's sums over any set of comparison units are one product of a
weight vector with ``G``, linear in the units, never a units x units array.
:func:`_pooled` evaluates the model statistic for thousands of placements in chunks of bounded
memory, within provinces when the dataset spans several (strata), and :func:`_cores` gives one
pilot's estimate, pre-trend check (:func:`pretrend`) and placebo statistics
(:func:`_placebos`). Readings of the contract are documented in
:mod:`kiemnhiem.stats.evaluation`; this module knows nothing of datasets, catalogs or words.
The names keep their leading underscore: they are the evaluation's internals, shared by the
modules of this package only. The module stays above 1,000 lines (about 1,200): the pooled test
and the per-pilot cores index the same :class:`_Prep` arrays by the same conventions (keys,
slots, strata), and split apart each half would import the other's internals."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .timeline import Window

# Two-sided level of the pre-trend slope test: the 10 % level over ~100 rows (module docstring).
PRETREND_LEVEL = 0.001
# The pre-trend slope looks back at most this many pre windows: a line through a decade of
# history would test long-run curvature, not the years that matter to ``did``.
PRETREND_SPAN = 2


# =========================================================================== array core
#: The pooled test evaluates its assignments in chunks holding about this many numbers in its
#: largest array, so its memory is bounded whatever the number of units and assignments.
CHUNK_CELLS = 4_000_000


@dataclass(frozen=True)
class _Prep:
    """Per-unit pieces of one indicator under a few schedules, prepared once.

    Nothing here depends on which units compare with which: a comparison set only weights
    units, so the contract's sums over ``C_t`` are one product of a weight vector with ``G``,
    linear in the units.

    A unit ``u`` taking schedule ``s`` uses its usable pre years ``pre_mask[s, u]``, and every
    comparison unit's pre mean over exactly those years. Units share these years except where
    values are missing, so the distinct pre-year sets ("keys", K of them, a handful per
    schedule) carry the comparison units' pre means and deviations, and ``key[s, u]`` points
    at the one unit ``u`` uses under ``s``.

    Shapes: L layers (0 the outcome Y, 1 the treatment indicator D), S schedules, n units,
    m years, J post-window slots, K keys. ``u`` indexes a unit taking the schedule, ``c`` a
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
    key: np.ndarray  # (S, u) u's pre-year set under s, an index into the K keys
    key_s: np.ndarray  # (K,) the schedule of each key
    pm: np.ndarray  # (L, K, c) c's mean over the key's pre years (NaN if c lacks one)
    G: np.ndarray  # (c, K, J, L + 1) c's valid deviations (L layers) and validity
    pdev: np.ndarray  # (L, S, u, J) the unit's own deviation from its pre mean
    none_did: np.ndarray  # (L, S, u) before/after change
    windows: tuple[Window, ...] = ()  # the S schedules

    @property
    def shape(self) -> tuple[int, int, int, int]:
        L, n, _ = self.values.shape
        return L, self.qyears.shape[0], n, self.qyears.shape[1]

    def pre_means(self, s: int, u: int) -> np.ndarray:
        """(L, c): every unit's mean over the pre years ``u`` uses under schedule ``s``."""
        return self.pm[:, self.key[s, u]]


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
    # The distinct pre-year sets of each schedule: one integer code per unit (bit t: year t).
    key = np.zeros((S, n), dtype=np.intp)
    kmask, key_s = [], []
    bits = np.left_shift(np.int64(1), np.arange(m, dtype=np.int64)) if m else np.zeros(0, int)
    for s in range(S):
        codes = pre_mask[s].astype(np.int64) @ bits if m else np.zeros(n, np.int64)
        uniq, first, inv = np.unique(codes, return_index=True, return_inverse=True)
        key[s] = len(key_s) + inv.ravel()
        kmask += [pre_mask[s, i] for i in first]
        key_s += [s] * len(uniq)
    kmask = np.array(kmask, dtype=bool).reshape(-1, m)
    key_s = np.array(key_s, dtype=np.intp)
    n_k = kmask.sum(1)
    # c has every year of the key's set (and the set is not empty).
    ok = (n_k > 0)[:, None] & ~(kmask[:, None, :] & ~obs[None]).any(-1)  # (K, c)
    filled = np.nan_to_num(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        pm = np.einsum("km,lcm->lkc", kmask.astype(float), filled) / n_k[None, :, None]
    pm = np.where(ok[None], pm, np.nan)
    qc, qi = qcols[key_s], qin[key_s]  # (K, J)
    ypost = np.where(qi[None, None], values[:, :, qc], np.nan)  # (L, c, K, J)
    dev = ypost - pm.transpose(0, 2, 1)[..., None]
    valid = ok.T[:, :, None] & obs[:, qc] & qi[None]  # (c, K, J)
    G = np.concatenate([np.where(valid[None], dev, 0.0), valid[None].astype(float)], axis=0)
    G = np.ascontiguousarray(G.transpose(1, 2, 3, 0))  # (c, K, J, L + 1)
    idx = np.arange(n)
    pdev = dev[:, idx[None, :], key]  # (L, S, u, J): u's deviation under its own key
    pdev = np.where(qvalid[None], pdev, np.nan)
    k = qvalid.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        none_did = np.where(qvalid[None], pdev, 0.0).sum(-1) / k[None]
    none_did = np.where(k[None] > 0, none_did, np.nan)
    return _Prep(values, years, obs, pre_mask, n_pre, n_post, assess, qyears, qin, qvalid,
                 key, key_s, pm, G, pdev, none_did, tuple(windows))


def _did_units(prep: _Prep, s: np.ndarray, u: np.ndarray, R: np.ndarray,
               self_weight: np.ndarray | None = None,
               slots: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``did`` (N, L) and the number of post years it averages (N,) of units ``u`` (N,)
    taking schedules ``s`` (N,), from their comparison sums ``R`` (N, J, L + 1) at their keys.

    ``self_weight`` (N,): the weight the sums gave the unit itself, taken out (a unit is never
    its own comparison). ``slots`` (N, J): the post slots that may count (default all).
    """
    L = prep.values.shape[0]
    if self_weight is not None:
        R = R - self_weight[:, None, None] * prep.G[u, prep.key[s, u]]
    den = R[..., L]
    inc = (den > 0) & prep.qvalid[s, u]
    if slots is not None:
        inc &= slots
    comp = R[..., :L] / np.where(den > 0, den, 1.0)[..., None]
    own = prep.pdev[:, s, u, :].transpose(1, 2, 0)  # (N, J, L)
    term = np.where(inc[..., None], own - comp, 0.0)
    k = inc.sum(1)
    did = term.sum(1) / np.where(k > 0, k, 1)[:, None]
    return np.where(k[:, None] > 0, did, np.nan), k


#: OpenBLAS multiplies on one thread up to 65,536 x 4 multiply-adds (its
#: GEMM_MULTITHREAD_THRESHOLD), where it is 30-50 times faster than einsum's loop.
_ONE_THREAD = 262_144


def _blocked_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` in blocks of rows small enough for BLAS to stay on one thread.

    Measured on this machine: (270 x 11) @ (11 x 54) 0.012 ms with BLAS, 0.38 ms with einsum;
    (2000 x 12) @ (12 x 54) in one product wakes the threads and takes 5.7 ms (einsum 2.1 ms),
    in blocks of 400 rows about 0.1 ms.
    """
    rows = max(1, _ONE_THREAD // max(1, a.shape[1] * b.shape[1]))
    if a.shape[0] <= rows:
        return a @ b
    out = np.empty((a.shape[0], b.shape[1]))
    for lo in range(0, a.shape[0], rows):
        out[lo:lo + rows] = a[lo:lo + rows] @ b
    return out


def _strata(strata, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(stratum index 0..R-1 of each unit, (R, w) unit rows of each stratum padded with n)."""
    if strata is None:
        code = np.zeros(n, dtype=np.intp)
    else:
        code = np.unique(np.asarray(strata), return_inverse=True)[1].ravel().astype(np.intp)
    R = int(code.max()) + 1 if n else 1
    sizes = np.bincount(code, minlength=R)
    members = np.full((R, int(sizes.max()) if n else 0), n, dtype=np.intp)
    order = np.argsort(code, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    members[code[order], np.arange(n) - starts[code[order]]] = order
    return code, members


class _ByStratum:
    """``G`` by stratum: (R, w, F), each stratum's units padded to the largest with a zero
    row, so that a stratum's comparison sets multiply its own rows only."""

    def __init__(self, G: np.ndarray, members: np.ndarray):
        n = G.shape[0]
        self.members = members
        Gz = np.concatenate([G.reshape(n, -1), np.zeros((1, G[0].size))])
        self.G = Gz[members]  # (R, w, F)


def _pooled(prep: _Prep, labels: np.ndarray, T_of_label: np.ndarray, strata=None,
            chunk_cells: int = CHUNK_CELLS) -> np.ndarray:
    """The pooled statistic (mean ``did`` over the assessable pilots) of each assignment.

    ``labels`` (B, n): schedule of each unit (0 = never, s + 1 = ``prep``'s schedule s), the
    same multiset in every row (within each stratum when stratified). ``strata`` (n,): each
    unit's province, or None for one. Each pilot's comparison level is chosen as for an
    observed pilot (:func:`_cores_in`): the never units of its stratum in that assignment,
    else its stratum's not-yet units, else (with several strata) the never units of all
    strata, else all not-yet units, else before/after.

    Per-unit pieces (:class:`_Prep`) are prepared once. A pilot's ``did`` depends on the
    assignment only through its comparison set, which lies in its stratum, and among
    thousands of assignments a stratum has far fewer distinct sets (a province of 11 districts
    with 4 pilots has at most 330 never sets). So the distinct sets of each stratum among all
    the assignments (:class:`_Levels`) get their sums with ``G`` once (one product per
    stratum, at the keys its units use), tabulated as the comparison units' mean deviation
    per set and combination of key and post years (never) or per set and key of each year
    (not-yet), and in each chunk of assignments each pilot adds looked-up numbers (a pilot
    with a post year no comparison unit covers is recomputed in full). The look-ups run on
    (assignments x pilots) arrays, each row's pilots stratum after stratum, a pilot's label
    pointing at its row of per (schedule, unit) tables (:class:`_SU`). The whole dataset's
    sums, for the few pilots whose stratum offers no comparison, are one product of those
    assignments' comparison units with ``G``. The cost grows as assignments x units, never
    assignments x units x units or x years; memory is bounded by ``chunk_cells`` (the
    look-ups) and ``SET_CHUNKS`` times it (the sets' tables) whatever the number of
    assignments.
    Returns (B, L); NaN where no pilot can be assessed.
    """
    L, S, n, J = prep.shape
    labels = np.asarray(labels)
    B = labels.shape[0]
    P = int((labels[0] > 0).sum()) if B else 0
    if P == 0:
        return np.full((B, L), np.nan)
    code, members = _strata(strata, n)
    R, w = members.shape
    K = prep.G.shape[1]
    qbits = (prep.qvalid * (1 << np.arange(J))).sum(-1)  # (S, n) pattern of post years
    combos, combo_of = np.unique(prep.key * (1 << J) + qbits, return_inverse=True)
    combo_of = combo_of.reshape(S, n)
    C = len(combos)
    # The combinations each stratum's units use (sets of a stratum need only those).
    rc = np.unique(code[None, :] * C + combo_of)
    r_of = rc // C
    n_c = np.bincount(r_of, minlength=R)
    c_start = np.concatenate([[0], np.cumsum(n_c)[:-1]])
    local = np.zeros(R * C, dtype=np.intp)
    local[rc] = np.arange(len(rc)) - c_start[r_of]
    # The post years, and each post slot's year among them (-1: none).
    years = np.unique(prep.qyears[prep.qin])
    ys = np.where(prep.qin, np.searchsorted(years, prep.qyears), -1)  # (S, J)
    # Per (schedule, unit) row s * n + u, then a last block of n rows for units that are
    # not pilots (label 0); layers and post slots lead, so that each look-up is a ``take``.
    s_of = np.repeat(np.arange(S), n)
    local_su = local[code[None, :] * C + combo_of].ravel()
    Y = len(years)
    ys_su = np.where(prep.qin, np.searchsorted(years, prep.qyears), Y)[s_of].T  # (J, S n)
    # A key's row among the keys that meet a year (a not-yet set's rows, in key order).
    kj = np.where(ys >= 0, ys, Y)[prep.key_s]  # (K, J)
    meet = np.zeros((Y + 1, K), dtype=bool)
    meet[kj, np.arange(K)[:, None]] = True
    meet[Y] = False
    kpos = np.maximum(np.cumsum(meet, axis=1) - 1, 0)
    pdev = np.nan_to_num(prep.pdev).reshape(L, S * n, J).transpose(0, 2, 1)  # (L, J, S n)
    su = _SU(np.append(prep.assess.ravel(), np.zeros(n, dtype=bool)),
             np.hstack([np.nan_to_num(prep.none_did.reshape(L, -1)), np.zeros((L, n))]),
             np.append(local_su, np.zeros(n, dtype=np.intp)),
             np.append(prep.key.ravel(), np.zeros(n, dtype=np.intp)),
             np.hstack([ys_su, np.full((J, n), Y)]),
             np.hstack([prep.qvalid.reshape(S * n, J).T, np.zeros((J, n), dtype=bool)]),
             np.ascontiguousarray(np.concatenate([pdev, np.zeros((L, J, n))], axis=2)),
             np.append(s_of, np.full(n, S)),
             np.hstack([kpos[ys_su, prep.key.ravel()[None, :]], np.zeros((J, n), dtype=np.intp)]))
    fx = _PooledFixed(
        prep, code, members, _ByStratum(prep.G, members),
        combos // (1 << J), (combos[:, None] >> np.arange(J)) & 1 > 0, rc % C, n_c, c_start,
        K, years, kj, meet.sum(1), np.vstack([np.where(ys >= 0, ys, Y),
                                                                   np.full((1, J), Y)]),
        members < n, np.append(np.arange(S) * n, S * n)[np.r_[S, 0:S]], su, {},
        _pair_blocks(prep.G, members, combos // (1 << J), rc % C, n_c, c_start),
        *_bits(code, members))
    F = K * J * (L + 1)
    # A chunk's look-ups run on the pilots' columns only (P of the n units of each row).
    width = 2 * F + P * (5 * L + 12) + R * (w + len(years) + 2)
    step = max(1, int(chunk_cells // width))
    present = np.unique(labels[0])
    # The years some unit is still untreated in, and the schedules with a post slot in one.
    listed = (T_of_label[present][:, None] > years[None, :]).any(0)
    ordered = labels.take(fx.order, axis=1)  # the units stratum after stratum
    sets = _Levels(fx, ordered, T_of_label, listed, step, chunk_cells * SET_CHUNKS)
    out = np.empty((B, L))
    for a in range(0, B, step):
        out[a:a + step] = _pooled_chunk(fx, labels[a:a + step], ordered[a:a + step],
                                        T_of_label, present, listed, sets, a)
    return out


def _bits(code: np.ndarray, members: np.ndarray) -> tuple:
    """(the units stratum after stratum, where each stratum starts among them, each one's
    bit 2 ** (its place in its stratum), each padded member's column among them (padding:
    n)): the pieces of a set's code (:func:`_set_codes`)."""
    n = len(code)
    order = np.argsort(code, kind="stable")
    sizes = (members < n).sum(1)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
    place = np.arange(n) - np.repeat(starts, sizes)
    column = np.where(members < n, starts[:, None] + np.arange(members.shape[1]), n)
    return (order, starts, np.left_shift(np.int64(1), np.minimum(place, 62).astype(np.int64)),
            column)


def _pair_blocks(G: np.ndarray, members: np.ndarray, combo_key: np.ndarray,
                 rc_combo: np.ndarray, n_c: np.ndarray, c_start: np.ndarray) -> list:
    """Each stratum's rows of ``G`` (padding: zeros) at the keys of its combinations, in
    ``rc_combo``'s order: (w, combinations x J x (L + 1)), so that one product gives a set's
    sums for every combination its pilots can have."""
    n, w = G.shape[0], members.shape[1]
    out = []
    for k, row in enumerate(members):
        keys = combo_key[rc_combo[c_start[k]:c_start[k] + n_c[k]]]
        block = G[np.minimum(row, n - 1)][:, keys].reshape(w, -1) * (row < n)[:, None]
        out.append(np.ascontiguousarray(block))
    return out


@dataclass(frozen=True)
class _SU:
    """Per (schedule, unit) pieces, row ``s * n + u`` (then n rows for units that are not
    pilots), so that a chunk's (B, n) labels index them at once."""

    ok: np.ndarray  # (M,) assessable
    none: np.ndarray  # (L, M) before/after change (0 for none)
    local: np.ndarray  # (M,) its combination's position among its stratum's
    key: np.ndarray  # (M,)
    ys: np.ndarray  # (J, M) each post slot's year, an index into ``_PooledFixed.years``
    # (Y: none)
    qvalid: np.ndarray  # (J, M)
    pdev: np.ndarray  # (L, J, M) its deviations from its pre mean (0 where invalid)
    s: np.ndarray  # (M,) the schedule (S: not a pilot)
    kpos: np.ndarray  # (J, M) its key's row among a not-yet set's rows for the slot's year


@dataclass(frozen=True)
class _PooledFixed:
    """What :func:`_pooled` prepares once for all its chunks."""

    prep: _Prep
    code: np.ndarray  # (n,) stratum of each unit
    members: np.ndarray  # (R, w) unit rows of each stratum, padded with n
    by: _ByStratum
    combo_key: np.ndarray  # (C,) the key of each (key, post-year pattern) combination
    combo_q: np.ndarray  # (C, J) its post-year pattern
    rc_combo: np.ndarray  # each stratum's combinations, stratum after stratum
    n_c: np.ndarray  # (R,) how many each stratum has
    c_start: np.ndarray  # (R,) where they start in ``rc_combo``
    K: int  # the keys
    years: np.ndarray  # (Y,) the post years of every schedule, sorted
    kj_year: np.ndarray  # (K, J) each key's post slots' years, indices into ``years``
    # (Y: none)
    n_kpos: np.ndarray  # (Y + 1,) how many keys meet each year (0 for Y)
    ys: np.ndarray  # (S + 1, J) the same for each schedule, then for no schedule
    real: np.ndarray  # (R, w) a member, not padding
    row_of_label: np.ndarray  # (S + 1,) label -> first row of its block in ``su``
    su: _SU
    blocks: dict  # each stratum's ``G`` at the columns :func:`_set_sums` needs, by year
    pair_G: list  # each stratum's ``G`` at its combinations' keys (w, combinations x J x
    # (L + 1))
    order: np.ndarray  # (n,) the units stratum after stratum (``members`` without padding)
    starts: np.ndarray  # (R,) where each stratum starts in ``order``
    bit: np.ndarray  # (n,) int64: 2 ** (the unit's place in its stratum), in ``order``
    column: np.ndarray  # (R, w) each padded member's column in ``order`` (padding: n)


def _set_codes(Wp: np.ndarray) -> np.ndarray:
    """One code per row and stratum of ``Wp`` (B, R, w) bool, each row's units of each
    stratum over its padded members (padding False): (B, R) int64, the integer whose bit
    ``i`` is member ``i`` (``np.packbits``) with the stratum in the bits above; or, when
    that does not fit in 62 bits, (B, R, w + 1) int16 rows (stratum, then the members)."""
    B, R, w = Wp.shape
    rbits = max(1, int(R - 1).bit_length())
    if w + rbits > 62:
        stratum = np.broadcast_to(np.arange(R, dtype=np.int16)[None, :, None], (B, R, 1))
        return np.concatenate([stratum, Wp.astype(np.int16)], axis=2)
    packed = np.packbits(Wp, axis=-1, bitorder="little")  # (B, R, ceil(w / 8))
    wide = np.zeros((B, R, 8), dtype=np.uint8)
    wide[:, :, :packed.shape[2]] = packed
    return wide.view("<u8")[..., 0].astype(np.int64) | (np.arange(R, dtype=np.int64) << w)


def _distinct_codes(codes: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct sets among ``codes`` (:func:`_set_codes`, (B, R) or (B, R, w + 1)).

    Returns (U (D, w) bool: each set over its stratum's padded members, r (D,) its stratum,
    sorted, inv (B, R): each row's set in each stratum).

    When the codes' range is small against their number (the demo: 12 units, 4,096 codes
    for 10,000 rows) a table of seen codes replaces the sort of ``np.unique``.
    """
    B, R = codes.shape[:2]
    if codes.ndim == 3:
        uniq, inv = np.unique(codes.reshape(B * R, w + 1), axis=0, return_inverse=True)
        return uniq[:, 1:].astype(bool), uniq[:, 0].astype(np.intp), inv.reshape(B, R)
    space = R << w
    if space <= 4 * codes.size:
        seen = np.zeros(space, dtype=bool)
        seen[codes] = True
        uniq = np.flatnonzero(seen)
        lookup = np.cumsum(seen) - 1
        inv = lookup[codes]
    else:
        # A hash table (pandas), then a sort of the distinct codes only: twice as fast as
        # np.unique's sort of them all on the national assignments.
        first, seen = pd.factorize(codes.ravel())
        order = np.argsort(seen)
        rank = np.empty(len(order), dtype=np.intp)
        rank[order] = np.arange(len(order))
        uniq, inv = seen[order], rank[first]
    U = ((uniq[:, None] >> np.arange(w, dtype=np.int64)) & 1).astype(bool)
    return U, (uniq >> w).astype(np.intp), inv.reshape(B, R)


#: The tables of a comparison level's distinct sets (:class:`_Levels`) hold at most about
#: this many chunks' worth of numbers (``CHUNK_CELLS`` each) before the assignments are
#: tabulated in parts.
SET_CHUNKS = 4


@dataclass(frozen=True)
class _Never:
    """The never level's table over one part of the assignments: per distinct set and
    combination of its stratum (a "pair", set after set), the comparison units' mean
    deviation."""

    inv: np.ndarray  # (B', R) each assignment's set in each stratum
    off: np.ndarray  # (D,) the set's first pair
    beta: np.ndarray  # (L, pairs) the comparison units' mean deviation over the years
    some: np.ndarray  # (pairs,) some post year has a comparison unit
    full: np.ndarray  # (pairs,) every post year of the combination has one
    tab: np.ndarray  # (pairs, J, L + 1) the sums, for pilots that are not ``full``


class _Levels:
    """The distinct comparison sets of each level (never; not yet, year by year) among all
    the assignments and their tables, made once for every chunk (:func:`_pooled`), lazily:
    a level no pilot reaches is never tabulated.

    Among 10,000 national assignments a province has a few hundred distinct never sets, but
    a chunk of 200 assignments sees most of its sets only once: tabulated per chunk, the
    same sets were summed again chunk after chunk (349,000 set tables instead of 82,000).
    Where the tables of every assignment would exceed ``cells`` numbers, the assignments
    are tabulated in parts of whole chunks, each part's tables bounded by ``cells``
    whatever its sets.
    """

    def __init__(self, fx: _PooledFixed, ordered: np.ndarray, T_of_label: np.ndarray,
                 listed: np.ndarray, step: int, cells: int):
        self.fx, self.labels, self.T_of_label, self.step, self.cells = (
            fx, ordered, T_of_label, step, cells)
        self.use = [yi for yi in np.flatnonzero(listed) if fx.n_kpos[yi]]
        self.parts: dict = {}

    def _codes(self, member: np.ndarray) -> np.ndarray:
        """Set codes (:func:`_set_codes`) of the units whose label is a ``member`` (S + 1,)
        in each stratum, ``step`` assignments at a time."""
        fx, labels = self.fx, self.labels
        R, w = fx.members.shape
        narrow = w + max(1, int(R - 1).bit_length()) <= 62
        out = []
        for a in range(0, len(labels), self.step):
            lab = labels[a:a + self.step]
            if narrow:  # each member's bit, summed over the stratum's columns
                out.append(np.add.reduceat(member.take(lab) * fx.bit, fx.starts, axis=1)
                           | (np.arange(R, dtype=np.int64) << w))
                continue
            # Padded: the stratum's members in ``fx.members``' order, padding with no label.
            padded = np.concatenate([lab, np.zeros((len(lab), 1), dtype=lab.dtype)], axis=1)
            out.append(_set_codes(member.take(np.take(padded, fx.column, axis=1)) & fx.real))
        return np.concatenate(out)

    def _part(self, name: str, a: int, codes, per_set, build):
        """The tables of level ``name`` for the part holding chunk start ``a``, and where the
        part starts. ``codes()`` gives each year's codes, ``per_set(i, r)`` the numbers a
        set of stratum ``r`` of year ``i`` needs, ``build(sets, rows)`` the tables of a part
        of ``rows`` assignments."""
        got = self.parts.get(name)
        if got is None:  # first use: every assignment at once, if the tables fit
            all_codes = codes()
            w = self.fx.members.shape[1]
            sets = [_distinct_codes(c, w) for c in all_codes]
            size = sum(int(per_set(i, s[1]).sum()) for i, s in enumerate(sets))
            B = len(self.labels)
            rows = B
            if size > self.cells:
                R = self.fx.members.shape[0]
                worst = sum(int(per_set(i, np.arange(R)).sum()) for i in range(len(sets)))
                rows = max(1, self.cells // max(1, worst) // self.step) * self.step
                sets = None
            got = self.parts[name] = [all_codes, rows, -1, None]
            if sets is not None:
                got[2:] = [0, build(sets, B)]
        all_codes, rows, lo, tables = got
        start = a // rows * rows
        if start != lo:
            w = self.fx.members.shape[1]
            part = [_distinct_codes(c[start:start + rows], w) for c in all_codes]
            tables = build(part, min(rows, len(self.labels) - start))
            got[2:] = [start, tables]
        return tables, start

    def never(self, a: int) -> tuple[_Never, int]:
        fx = self.fx
        J, L1 = fx.combo_q.shape[1], fx.prep.G.shape[3]
        never = np.arange(len(self.T_of_label)) == 0
        return self._part("never", a, lambda: [self._codes(never)],
                          lambda i, r: fx.n_c[r] * J * L1,
                          lambda sets, rows: _never_table(fx, *sets[0]))

    def notyet(self, a: int) -> tuple[_NotYet, int]:
        fx, T = self.fx, self.T_of_label
        L1 = fx.prep.G.shape[3]
        return self._part(
            "notyet", a,
            lambda: [self._codes(T > fx.years[yi]) for yi in self.use],
            lambda i, r: np.full(len(r), fx.n_kpos[self.use[i]] * L1),
            lambda sets, rows: _notyet_tables(fx, self.use, sets, rows))


def _never_table(fx: _PooledFixed, U: np.ndarray, r_d: np.ndarray, inv: np.ndarray) -> _Never:
    """:class:`_Never` for the distinct sets ``U`` of strata ``r_d`` (sorted): the sums are
    made for the pairs only, one product per stratum with ``G`` at its combinations' keys."""
    L, _, _, J = fx.prep.shape
    R = fx.members.shape[0]
    counts = fx.n_c[r_d]
    off = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
    pair_d = np.repeat(np.arange(len(U)), counts)
    within = np.arange(len(pair_d)) - np.repeat(off, counts)
    pair_c = fx.rc_combo[np.repeat(fx.c_start[r_d], counts) + within]
    bounds = np.searchsorted(r_d, np.arange(R + 1))
    Uf = U.astype(float)
    size = fx.real.sum(1)  # a stratum's members come first, then its padding
    tab = np.concatenate([_blocked_dot(Uf[bounds[k]:bounds[k + 1], :size[k]],
                                       fx.pair_G[k][:size[k]]).ravel()
                          for k in np.flatnonzero(np.diff(bounds))])
    tab = tab.reshape(-1, J, L + 1)  # (pairs, J, L + 1): set after set, its combinations
    qm = fx.combo_q[pair_c]
    # Slot by slot and layer by layer: numpy is slow on arrays whose last axis is 2 or 3.
    beta = np.zeros((L, len(tab)))
    k = np.zeros(len(tab), dtype=np.intp)
    full = np.ones(len(tab), dtype=bool)
    for j in range(J):
        den = tab[:, j, L]
        inc = (den > 0) & qm[:, j]
        k += inc
        full &= inc == qm[:, j]
        den = np.where(inc, den, 1.0)
        for layer in range(L):
            beta[layer] += tab[:, j, layer] / den * inc
    beta /= np.maximum(k, 1)[None, :]
    return _Never(inv, off, beta, k > 0, full, tab)


def _set_sums(fx: _PooledFixed, U: np.ndarray, r: np.ndarray, year: int | None = None
              ) -> np.ndarray:
    """Sums (D, F) of ``G`` over each distinct set ``U`` of stratum ``r`` (sorted): one
    product per stratum (:func:`_blocked_dot`); with ``year`` (an index into ``fx.years``)
    only the columns of the post slot where each key meets that year (F: those columns)."""
    blocks = fx.blocks.get(year)
    if blocks is None:
        cols = np.ones((fx.K, fx.prep.G.shape[2]), dtype=bool) if year is None else (
            fx.kj_year == year)
        mask = np.repeat(cols[:, :, None], fx.prep.G.shape[3], axis=2).ravel()
        blocks = fx.blocks[year] = [np.ascontiguousarray(G[:, mask]) for G in fx.by.G]
    out = np.empty((len(U), blocks[0].shape[1]))
    bounds = np.searchsorted(r, np.arange(len(blocks) + 1))
    Uf = U.astype(float)
    size = fx.real.sum(1)  # a stratum's members come first, then its padding
    for k in np.flatnonzero(np.diff(bounds)):
        lo, hi = bounds[k], bounds[k + 1]
        out[lo:hi] = _blocked_dot(Uf[lo:hi, :size[k]], blocks[k][:size[k]])
    return out


def _whole_block(fx: _PooledFixed, yi: int) -> np.ndarray:
    """(n, keys meeting year ``yi`` x (L + 1)): every unit's ``G`` at the post slot where each
    key meets the year, in key order (the rows of a not-yet set, ``fx.su.kpos``)."""
    got = fx.blocks.get(("whole", yi))
    if got is None:
        G = fx.prep.G
        mask = np.repeat((fx.kj_year == yi)[:, :, None], G.shape[3], axis=2).ravel()
        got = fx.blocks[("whole", yi)] = np.ascontiguousarray(G.reshape(len(G), -1)[:, mask])
    return got


def _rowsum(a: np.ndarray) -> np.ndarray:
    # einsum's loop: ``a.sum(1)`` is ten times slower on rows of a dozen units.
    return np.einsum("ij->i", a)


def _pooled_chunk(fx: _PooledFixed, labels: np.ndarray, ordered: np.ndarray,
                  T_of_label: np.ndarray, present: np.ndarray, listed: np.ndarray,
                  sets: _Levels, a: int) -> np.ndarray:
    """:func:`_pooled` on one chunk of assignments ``labels`` (B, n) (``ordered``: their
    columns in ``fx.order``), rows ``a`` on of all the assignments (``sets``' tables).

    Works on (B, P) arrays of each row's P pilots, stratum after stratum (a stratum has as
    many pilots in every row, so a column keeps its stratum), a pilot's schedule pointing at
    its row of ``fx.su``: a row's total is a sum along its pilots. Each comparison level
    (:data:`LEVELS`) settles the assessable pilots it gives a comparison to and leaves the
    others to the next, then before/after. Look-ups are ``take`` on one-dimensional tables
    (a layer at a time) and masks multiply finite numbers: numpy's fancy indexing into
    (rows, 2) tables and ``np.where`` on random masks are an order of magnitude slower.
    """
    prep, su_ = fx.prep, fx.su
    L, S, n, J = prep.shape
    R = fx.members.shape[0]
    B = labels.shape[0]
    flat = np.flatnonzero(ordered > 0)
    P = len(flat) // B
    at_col = flat.reshape(B, P) - (np.arange(B) * n)[:, None]  # column in ``ordered``
    cols = fx.order.take(at_col)  # (B, P) the pilots' units
    ccode = fx.code.take(cols[0])  # (P,) each column's stratum
    if len(flat) != B * P or (fx.code.take(cols) != ccode).any():
        raise ValueError("each stratum needs the same number of pilots in every assignment")
    su = fx.row_of_label.take(ordered.ravel().take(flat).astype(np.intp)).reshape(B, P) + cols
    rest = su_.ok.take(su)  # assessable pilots not settled yet
    n_assessed = rest.sum(1)
    total = np.zeros((L, B))

    def add(has: np.ndarray, d: list) -> None:
        """Pilots ``has`` (B, P) settled with ``did`` ``d`` (L arrays (B, P), finite)."""
        for layer in range(L):
            total[layer] += _rowsum(d[layer] * has)
        np.logical_and(rest, ~has, out=rest)

    def add_at(b: np.ndarray, c: np.ndarray, d: np.ndarray, k: np.ndarray) -> None:
        """Pilots (``b``, column ``c``) settled with ``did`` ``d`` (N, L) where ``k`` > 0."""
        has = k > 0
        for layer in range(L):
            total[layer] += np.bincount(b[has], weights=d[has, layer], minlength=B)
        rest[b[has], c[has]] = False

    def settle_static(nv: _Never, lo: int) -> None:
        """Unsettled pilots compared with their stratum's never set: the comparison units'
        mean deviation per set and combination, looked up."""
        rows = np.take(nv.inv[a - lo:a - lo + B], ccode, axis=1)  # (B, P) the pilot's set
        i = nv.off.take(rows) + su_.local.take(su)
        has = rest & nv.some.take(i)
        d = [su_.none[layer].take(su) - nv.beta[layer].take(i) for layer in range(L)]
        partial = has & ~nv.full.take(i)
        if partial.any():  # a post year no comparison unit covers: that pilot in full
            b, c = np.nonzero(partial)
            s = su_.s[su[b, c]]
            again = _did_units(prep, s, cols[b, c], nv.tab[i[b, c]])[0]
            for layer in range(L):
                d[layer][b, c] = again[:, layer]
        add(has, d)

    def settle_by_year(nt: _NotYet, lo: int, sel: np.ndarray) -> None:
        """Unsettled pilots compared, post slot by post slot, with their stratum's not-yet
        set of the slot's year: each year is a different set, so a pilot's terms are summed
        over the years of its window. Only the pilots ``sel`` (flat indices into (B, P))
        whose schedule has a post slot in a year with a not-yet unit (as many in every
        row) are looked at."""
        Q = len(sel) // B
        if not Q:
            return
        su2 = su.ravel().take(sel).reshape(B, Q)
        rest2 = rest.ravel().take(sel).reshape(B, Q)
        code2 = ccode.take(sel[:Q])
        at = nt.at[a - lo:a - lo + B].reshape(-1)
        # Where each pilot's stratum's sets start in ``at``, for the row of each assignment.
        cell = (np.arange(B)[:, None] * R + code2[None, :]) * nt.at.shape[2]
        key = su_.kpos
        ysm = nt.ymap.take(su_.ys)  # (J, rows of fx.su)
        tot = [np.zeros((B, Q)) for _ in range(L)]
        cnt = np.zeros((B, Q), dtype=np.intp)
        # The schedules whose slot j falls in a year with a not-yet unit.
        slot_in = nt.ymap[fx.ys] != nt.at.shape[2] - 1  # (S + 1, J)
        s2 = su_.s.take(su2)
        for j in range(J):
            some = slot_in[:, j].take(s2)
            if some.all():
                su3, cell3, rest3, into = su2, cell, rest2, None
            elif some.any():  # only those pilots (as many in every row)
                into = np.flatnonzero(some)
                su3, cell3, rest3 = (x.ravel().take(into) for x in (su2, cell, rest2))
            else:
                continue
            idx = at.take(ysm[j].take(su3) + cell3) + key[j].take(su3)
            inc = nt.ok.take(idx) & su_.qvalid[j].take(su3) & rest3
            for layer in range(L):
                term = (su_.pdev[layer, j].take(su3) - nt.comp[layer].take(idx)) * inc
                if into is None:
                    tot[layer] += term
                else:
                    tot[layer].ravel()[into] += term
            if into is None:
                cnt += inc
            else:
                cnt.ravel()[into] += inc
        has = cnt > 0
        k = np.maximum(cnt, 1)
        for layer in range(L):
            total[layer] += _rowsum(tot[layer] / k * has)
        np.put(rest, sel, rest2 & ~has)

    def settle_whole(sel: np.ndarray) -> None:
        """The few pilots left whose stratum had no not-yet unit: the whole dataset's, year
        by year, each row's sums over every unit untreated in the year (one product of the
        rows that need it with ``G`` at the slot where each key meets the year). Only the
        pilots ``sel`` can meet one (:func:`settle_by_year`)."""
        left = sel[rest.ravel().take(sel)]
        if not len(left):
            return
        b, c = np.divmod(left, P)
        r_su = su[b, c]
        rows, row_of = np.unique(b, return_inverse=True)
        sums: dict = {}
        tot = np.zeros((len(b), L))
        cnt = np.zeros(len(b), dtype=np.intp)
        for j in range(J):
            yj = su_.ys[j, r_su]
            t = np.zeros((len(b), L + 1))
            for yi in np.unique(yj):
                if yi not in sets.use:
                    continue  # no unit untreated in that year, or no key meets it
                if yi not in sums:
                    untreated = (T_of_label > fx.years[yi]).take(labels[rows]).astype(float)
                    sums[yi] = _blocked_dot(untreated, _whole_block(fx, yi)).reshape(
                        len(rows), -1, L + 1)  # (rows, keys meeting the year, L + 1)
                m = yj == yi
                t[m] = sums[yi][row_of[m], su_.kpos[j, r_su[m]]]
            inc = (t[:, L] > 0) & su_.qvalid[j, r_su]
            comp = t[:, :L] / np.where(inc, t[:, L], 1.0)[:, None]
            tot += np.where(inc[:, None], su_.pdev[:, j, r_su].T - comp, 0.0)
            cnt += inc
        add_at(b, c, tot / np.maximum(cnt, 1)[:, None], cnt)

    never = None
    if (present == 0).any():
        settle_static(*sets.never(a))
        never = True
    # The schedules with a post slot in a year some unit is still untreated in.
    meets = np.append(listed, False)[fx.ys].any(1)  # (S + 1,): S, no pilot, meets none
    notyet = None
    if listed.any() and rest.any():
        notyet, lo = sets.notyet(a)
        # The pilots whose schedule has a post slot in such a year (as many in every row).
        sel = np.flatnonzero(meets.take(su_.s.take(su)))
        settle_by_year(notyet, lo, sel)
    if R > 1:
        # The pilot's stratum offers no comparison: the whole dataset's never, then not-yet
        # units (sums over every stratum's units, not tabulated: few pilots need them).
        if never is not None and rest.any():
            b, c = np.nonzero(rest)
            u = cols[b, c]
            s = su_.s[su[b, c]]
            t = np.empty((len(b), J, L + 1))
            for lo in range(0, len(b), 256):  # (N, J, L + 1): every never unit's G, summed
                sl = slice(lo, lo + 256)
                never_w = (labels[b[sl]] == 0).astype(float)
                t[sl] = np.einsum("Nc,cNjl->Njl", never_w, prep.G[:, prep.key[s[sl], u[sl]]])
            add_at(b, c, *_did_units(prep, s, u, t))
        if notyet is not None and rest.any():
            settle_whole(sel)
    if rest.any():
        # Before/after, the last resort.
        add(rest.copy(), [su_.none[layer].take(su) for layer in range(L)])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total / n_assessed[None, :]).T


@dataclass(frozen=True)
class _NotYet:
    """The not-yet comparison sums of one part of the assignments, every listed year's
    distinct sets stacked."""

    tab: np.ndarray  # (rows, L + 1): per year, set and key, the sums at the key's slot in
    # that year; the last K rows zero
    comp: np.ndarray  # (L, rows): the mean deviation (0 without a unit)
    ok: np.ndarray  # (rows,): some unit of the set has the year
    at: np.ndarray  # (B', R, Y' + 1) the row where each assignment's set of each stratum
    # starts in ``tab`` for each listed year (last: the zero rows)
    ymap: np.ndarray  # (Y + 1,) a year of ``fx.years``'s index in ``at`` (Y, no year, or
    # not listed: the zero rows)


def _notyet_tables(fx: _PooledFixed, use: list, sets: list, B: int) -> _NotYet:
    """For each year ``use[i]`` of ``fx.years`` (those with a unit untreated in it and a key
    that meets it): the distinct sets ``sets[i]`` (:func:`_distinct_codes`) of each
    stratum's units untreated in that year among ``B`` assignments, and their sums with
    ``G`` at the post slot where each key that meets the year meets it, stacked (a set's
    rows: those keys, ``fx.kpos``)."""
    L = fx.prep.values.shape[0]
    R = fx.members.shape[0]
    tabs, start = [], 0
    at = np.empty((B, R, len(use) + 1), dtype=np.intp)
    ymap = np.full(len(fx.years) + 1, len(use), dtype=np.intp)
    for i, (yi, (U, r, inv)) in enumerate(zip(use, sets, strict=True)):
        tabs.append(_set_sums(fx, U, r, yi).reshape(-1, L + 1))
        at[:, :, i] = start + inv * fx.n_kpos[yi]
        ymap[yi] = i
        start += len(tabs[-1])
    tabs.append(np.zeros((max(1, int(fx.n_kpos.max())), L + 1)))
    at[:, :, -1] = start
    tab = np.concatenate(tabs)
    ok = tab[:, L] > 0
    den = np.where(ok, tab[:, L], 1.0)
    comp = np.stack([tab[:, layer] / den for layer in range(L)])
    return _NotYet(tab, comp, ok, at, ymap)


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
    pool: np.ndarray  # bool (n,) the units the comparison level draws from (its scope)


#: The comparison levels, in the order they are tried (module docstring of evaluation):
#: (name, never units only, whole dataset). The "_all" levels exist only with several strata.
LEVELS = (("never", True, False), ("notyet", False, False),
          ("never_all", True, True), ("notyet_all", False, True))


def eligible_units(comparison: str, p: int, never: np.ndarray, T_units: np.ndarray,
                   strata: np.ndarray | None, last_year: int) -> np.ndarray:
    """The units a pilot's placebos and reference districts come from: its comparison level's
    pool (the never units, or those untreated through ``last_year``), in its own stratum
    unless the level is one of the whole dataset's; the pilot itself never."""
    base = comparison.removesuffix("_all")
    out = never.copy() if base == "never" else T_units > last_year
    if strata is not None and not comparison.endswith("_all"):
        out &= strata == strata[p]
    out[p] = False
    return out


def _cores(values: np.ndarray, years: np.ndarray, p: int, windows: list[Window],
           never: np.ndarray, T_units: np.ndarray, inference: bool = True,
           strata: np.ndarray | None = None) -> list[_Core]:
    """Estimates for pilot row ``p`` under each of ``windows`` (the main one first, then the
    shifted starts of the sensitivity check), sharing one :class:`_Prep`."""
    prep = _prepare(values, years, windows)
    return _cores_in(prep, p, list(range(len(windows))), never, T_units, inference, strata)


def _cores_in(prep: _Prep, p: int, schedules: list[int], never: np.ndarray,
              T_units: np.ndarray, inference: bool = True,
              strata: np.ndarray | None = None) -> list[_Core]:
    """:func:`_cores` on a prepared ``prep`` (shared by every pilot of a model), pilot row
    ``p`` under its ``schedules`` (indices into ``prep``'s windows, the main one first).

    ``did`` is computed only where the pilot can be assessed; the pre-trend only for the main
    window. Comparison levels (:data:`LEVELS`): the never units of the pilot's stratum, its
    not-yet units, then (several strata only) the whole dataset's never and not-yet units.
    """
    return _cores_all(prep, [(p, schedules)], never, T_units, inference, strata)[0]


def _cores_all(prep: _Prep, items: list, never: np.ndarray, T_units: np.ndarray,
               inference: bool = True, strata: np.ndarray | None = None) -> list[list[_Core]]:
    """:func:`_cores_in` for many pilots at once: ``items`` is a list of (pilot row, its
    schedules); returns their cores in the same order.

    This runs for every pilot, window and indicator (27,000 cores on a national dataset), so
    the work is batched: the levels of a pilot's own province are weighed on that province's
    rows only (a dozen of 696), the whole dataset's only when the province has neither;
    comparison sums shared by the pilots of a province on a schedule are computed once
    (only where the pilot itself carries no weight in them, so that every sum is the very
    same arithmetic as the pilot's own); and :func:`_did_units` runs once per pass over all
    the cores (its rows are independent), placebos included.
    """
    L, _, n, J = prep.shape
    years = prep.years
    Y = prep.values[0]
    windows = prep.windows
    y0 = int(years[0]) if len(years) else 0
    # (Not np.unique: this runs for every model and indicator of a national dataset.)
    several = strata is not None and n > 0 and bool((strata != strata[0]).any())
    everyone = np.arange(n)
    members: dict = {}
    has_value = prep.obs.any(1)
    cores = []  # per core: a dict of its fields, in the order of items and schedules
    for i, (p, schedules) in enumerate(items):
        if several:
            rows = members.get(strata[p])
            if rows is None:
                rows = members[strata[p]] = np.flatnonzero(strata == strata[p])
        else:
            rows = everyone
        has_data = bool(prep.obs[p].any())
        for s in schedules:
            pre_mask = prep.pre_mask[s, p]
            post_mask = prep.qvalid[s, p]
            # The window's years with a value (timeline.usable_years, from the prepared masks).
            pre_used = tuple(years[pre_mask].astype(int, copy=False).tolist())
            post_used = tuple(prep.qyears[s][post_mask].tolist())
            if not has_data:
                reason = "no_data"
            elif len(pre_used) < 2:
                reason = "few_pre"
            elif len(post_used) < 2:
                reason = "few_post"
            else:
                reason = ""
            # (sum / count is np.mean's own arithmetic, without its overhead.)
            pre_mean = float(Y[p, pre_mask].sum() / len(pre_used)) if pre_used else math.nan
            post_mean = math.nan
            if post_used:
                post_mean = float(Y[p, [y - y0 for y in post_used]].sum() / len(post_used))
            cores.append(dict(i=i, p=p, s=s, main=s == schedules[0], rows=rows,
                              pre_mask=pre_mask, post_mask=post_mask, pre_used=pre_used,
                              post_used=post_used, reason=reason, pre_mean=pre_mean,
                              post_mean=post_mean, found=None))

    # Comparison levels: the province's (never, not yet), then the whole dataset's.
    shared: dict = {}

    def weigh(c: dict, whole: bool) -> np.ndarray:
        """(2, J, L + 1): the never and not-yet sums of core ``c``; keeps W and Gp."""
        p, s = c["p"], c["s"]
        idx = everyone if whole else c["rows"]
        k_p = int(prep.key[s, p])
        key = (whole, id(idx), s, k_p)
        got = shared.get(key)
        if got is None:
            W = np.empty((2, len(idx), J), dtype=bool)  # (never, not yet) x c x J
            W[0] = never[idx][:, None]
            W[1] = T_units[idx][:, None] > prep.qyears[s][None, :]
            Gp = prep.G[idx, k_p]  # (c, J, L + 1)
            got = shared[key] = (W, Gp, None)
        W, Gp, R = got
        at = int(np.searchsorted(idx, p))
        if W[:, at].any():  # the pilot itself would weigh: its own sums, without it
            W = W.copy()
            W[:, at] = False
            R = np.einsum("acj,cjl->ajl", W.astype(float), Gp)
        elif R is None:
            R = np.einsum("acj,cjl->ajl", W.astype(float), Gp)
            shared[key] = (W, Gp, R)
        c["level"] = (idx, W, Gp, whole)
        return R

    pending = [c for c in cores if not c["reason"]]
    for whole in (False, True):
        if whole and not several:
            break
        if not pending:
            break
        R = np.concatenate([weigh(c, whole) for c in pending])
        ss = np.repeat([c["s"] for c in pending], 2)
        ps = np.repeat([c["p"] for c in pending], 2)
        d, k = _did_units(prep, ss, ps, R)
        left = []
        some = (k > 0).reshape(-1, 2).tolist()
        for j, c in enumerate(pending):
            if some[j][0] or some[j][1]:
                a = 0 if some[j][0] else 1
                idx, W, Gp, _ = c["level"]
                c["found"] = (LEVELS[2 * whole + a][0], d[2 * j + a], idx, W[a], Gp, whole)
            else:
                left.append(c)
        pending = left

    # Each core's comparison, years, pre-trend and placebo inputs.
    plac = []  # (core, s, idx, sums, slots) of the per-pilot rank tests
    tots: dict = {}
    for c in cores:
        p, s, reason = c["p"], c["s"], c["reason"]
        post_mask = c["post_mask"]
        comp_by_year = np.zeros((n, J), dtype=bool)
        did, comparison, did_years = np.full(L, np.nan), "none", ()
        pool = np.zeros(n, dtype=bool)
        slots = None
        if not reason:
            if c["found"] is None:
                did = prep.none_did[:, s, p]
            else:
                comparison, did, idx, w, Gp, whole = c["found"]
                pool[:] = True if whole else False
                pool[idx] = True
                comp_by_year[idx] = (Gp[:, :, L] > 0) & w & post_mask[None, :]
            slots = post_mask & (comp_by_year.any(0) if comparison != "none" else True)
            did_years = tuple(prep.qyears[s][slots].tolist())
        comp_units = comp_by_year.any(1)
        trend = NO_PRETREND
        if c["main"] and not reason:
            trend = pretrend(Y, years, p, windows[s], c["pre_mask"], comp_units, did[0],
                             did_years)
        c.update(did=did, comparison=comparison, did_years=did_years, pool=pool,
                 comp_by_year=comp_by_year, comp_units=comp_units, trend=trend,
                 placebo=None)
        if inference and not reason and comparison != "none":
            last = max(did_years)
            base = (never.copy() if comparison.removesuffix("_all") == "never"
                    else T_units > last)
            local = several and not comparison.endswith("_all")
            if local:
                base &= strata == strata[p]
            base &= has_value
            key = (comparison, strata[p] if local else None, last, s)
            if base[p]:  # the pilot itself is eligible: never its own placebo or control
                base[p] = False
                got = _placebo_sums(prep, s, base)
            else:
                got = tots.get(key)
                if got is None:
                    got = tots[key] = _placebo_sums(prep, s, base)
            plac.append((c, s, *got, slots))
    # Every placebo of every core in one pass (see _placebos).
    live = [x for x in plac if len(x[2])]
    if live:
        ss = np.concatenate([np.full(len(x[2]), x[1]) for x in live])
        us = np.concatenate([x[2] for x in live])
        R = np.concatenate([x[3] for x in live])
        sl = np.concatenate([np.broadcast_to(x[4], (len(x[2]), J)) for x in live])
        d, k = _did_units(prep, ss, us, R, self_weight=np.ones(len(us)), slots=sl)
        keep = prep.assess[ss, us] & (k > 0)
    at = 0
    for c, _s, idx, _, _ in plac:
        m = len(idx)
        rows = [c["did"]]
        if m:
            rows += list(d[at:at + m][keep[at:at + m]])
            at += m
        c["placebo"] = np.array(rows)

    out = [[] for _ in items]
    for c in cores:
        out[c["i"]].append(_Core(
            windows[c["s"]], c["pre_used"], c["post_used"], c["did_years"], c["pre_mean"],
            c["post_mean"], c["did"], c["comparison"], c["comp_units"], c["comp_by_year"],
            c["trend"], c["reason"], c["placebo"], prep, c["s"], c["pool"]))
    return out


def _placebo_sums(prep: _Prep, s: int, eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(eligible rows, each one's sums over all eligible units at its key (c, J, L + 1)):
    the controls' sums of :func:`_placebos` before each placebo's own term is taken out."""
    idx = np.flatnonzero(eligible)
    if not len(idx):
        return idx, np.zeros((0, prep.G.shape[2], prep.G.shape[3]))
    # A schedule's keys are consecutive: sum the eligible rows of all of them (a few).
    ks = prep.key[s, idx]
    k0 = int(ks.min())
    tot = prep.G[idx, k0:int(ks.max()) + 1].sum(axis=0)  # (k, J, L + 1)
    return idx, tot[ks - k0]


def _core(values, years, p, window, never, T_units, inference: bool = True,
          strata=None) -> _Core:
    """The estimate for pilot row ``p`` under one window (see :func:`_cores`)."""
    return _cores(values, years, p, [window], never, T_units, inference, strata)[0]


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
    # (Means as sum / count: np.mean's arithmetic without its overhead, per pilot.)
    dt = t - t.sum() / len(t)
    centred = gaps - gaps.sum(axis=-1, keepdims=True) / gaps.shape[-1]
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
    gaps = [sub[p] - sub[comp].sum(axis=0) / k if k else sub[p]]
    if k >= 2:  # each comparison unit against the others, as in the placebos
        total = sub[comp].sum(axis=0)
        gaps += list(sub[comp] - (total - sub[comp]) / (k - 1))
    slopes, rss = _line(t, np.array(gaps))
    slope = float(slopes[0])
    n = len(t)
    own = rss[0] / (n - 2)
    df = len(gaps) * (n - 2)
    variance = max(float(rss.sum()) / df, float(own))
    sxx = float(((t - t.sum() / len(t)) ** 2).sum())
    if variance > 0:
        # Student's t, imported here: scipy.stats would add 0.6 s of import, and a report
        # that reads its run's evaluation needs no scipy at all.
        from scipy.special import stdtr

        p_value = float(2 * stdtr(df, -abs(slope) / math.sqrt(variance / sxx)))
    else:  # every gap on an exact line: any slope is certain
        p_value = 0.0 if slope != 0 else 1.0
    used = years[pre_mask]
    effect = slope * (float(np.sum(did_years) / len(did_years)) - float(used.sum() / len(used)))
    # Before/after only: the contract's gap has no comparison mean, so the flag is missing; the
    # own trend is still measured, for the model row (the pooled mean takes the change as is).
    flag = size_rule(effect, did) and p_value < PRETREND_LEVEL if k else pd.NA
    return PreTrend(slope, effect, p_value, tuple(int(y) for y in t), flag)


def _placebos(prep: _Prep, s: int, p: int, did: np.ndarray, eligible: np.ndarray,
              did_years, slots: np.ndarray | None = None) -> np.ndarray:
    """Observed and placebo statistics (A, L) for the per-pilot rank test.

    Eligible (:func:`eligible_units`): the units of the pilot's comparison pool, i.e. the
    never units (the model's other pilots never), or under not-yet comparison the units
    untreated through the last year the pilot's ``did`` averages (``did_years``; not the last
    year of its window: the tuyengiao pilots that start in 2018 compare the single year 2019
    with the units that start in 2020, which can take the pilot's windows in turn), within the
    pilot's stratum unless its level is the whole dataset's. Each takes the pilot's windows
    with the other eligible units as its controls and averages the same years as the pilot's
    ``did`` (those it has data in); a placebo unit is kept when it has at least 2 usable years
    on each side and a control with data. The controls' sums are the sum over all eligible
    units less the placebo unit's own term: linear in the units.

    ``slots`` (J,): the post slots of ``did_years`` when the caller has them (the same mask).
    """
    eligible = eligible & prep.obs.any(1)
    eligible[p] = False
    idx, sums = _placebo_sums(prep, s, eligible)
    rows = [did]
    if len(idx):
        if slots is None:  # only the years the pilot's did averages
            slots = np.isin(prep.qyears[s], np.asarray(did_years, dtype=int)) & prep.qin[s]
        d, k = _did_units(prep, np.full(len(idx), s), idx, sums,
                          self_weight=np.ones(len(idx)), slots=slots[None, :])
        keep = prep.assess[s, idx] & (k > 0)
        rows += list(d[keep])
    return np.array(rows)
