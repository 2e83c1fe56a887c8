"""Monte-Carlo check of the district evidence verdicts of ``evaluate_all`` (issue 11).

Not part of the test suite (it takes minutes); it prints its figures and, on a full run,
writes them into the "District evidence" section of ``validation/RESULTS.md``. Run from the
repository root::

    .venv/bin/python validation/district.py                 # 300 datasets per design
    .venv/bin/python validation/district.py --quick         # 30, a smoke run (writes nothing)
    .venv/bin/python validation/district.py --datasets 1000 --workers 2
    .venv/bin/python validation/district.py --scenarios d_null_iid,d_4sd_iid --no-write

What it checks: the per-district verdict rule of DESIGN.md "District evidence" (method and
the prototype's rates in ``research/district-evidence.md``, sections 3 and 5.1). Every pilot
row of ``evaluate_all(dataset, models=[model], sensitivity=False)`` carries ``verdict``
(no_data, pretrend, differs, improved, worsened, in_line, no_clear_change,
in_line_before_after, no_clear_change_before_after, before_after_only), the district's own
single-case estimate and 90 % interval (``own_estimate``, ``own_low``, ``own_high``,
``own_p_better``, ``own_p_worse``), the pooled "if the pilots work alike" interval
(``pooled_low``, ``pooled_high``), the leave-one-out check (``consistency``,
``consistency_p``) and, for pilots with no comparison after their start, the long difference
(``long_diff``, ``long_diff_p``). The model row keeps the exact test's verdict.

Generator
---------
The one of ``validation/simulate.py`` (imported, not copied): the 12 Sơn La units, 2014-2024,
one outcome ``so_cuoc_hop`` (meetings a year, lower is better), unit fixed effects (Sơn La
city 1.7 times a district), unit trends ``-0.4 + 0.12 N(0, 1)``, noise SD 2.5 meetings,
values rounded, and a constant effect ``theta_p`` added from the pilot's start year T on
(the transition year counts as treated, as the contract says). Two noise settings:

- ``iid``: independent years, every unit the same noise SD;
- ``AR+city``: AR(1) years with rho 0.5, Sơn La city's SD 3 times the others'.

Every dataset is one indicator, built in memory (no files), and goes through the package's
real ``evaluate_all``; the true ``theta_p`` of each pilot is what its own and pooled 90 %
intervals should cover (with no missing cells and the effect constant from T, the contract's
``did`` of a pilot with a comparison estimates ``theta_p`` itself).

Designs (note 5.1)
------------------
- danvan-like: the five ``danvan_mttq`` pilots with the demo's starts (116 2019-01-01,
  118 2018, 121 2018-10, 122 2019-06, 124 2019-04), seven never-treated units.
  Scenarios: no effect (iid; AR+city); every pilot -1, -2, -4 SD (iid); -4 SD (AR+city);
  Yên Châu (124) with no effect among four at -4 SD and at -2 SD (iid); Sơn La city (116)
  with no effect among four at -4 SD (AR+city).
- tuyengiao-like: the twelve ``tuyengiao_ttct`` pilots with the demo's starts; every unit
  adopts. The five that start by 1 January 2019 (116, 118, 121, 122, 123; first full year
  2019) are compared with the units still untreated in 2019 (not-yet comparison); the seven
  later starters have no comparison (long difference only). Scenarios (iid): no effect; every
  pilot -4 SD; Phù Yên (122, an early starter) with no effect among eleven at -4 SD; Sông Mã
  (126, a later starter) likewise.

Rows are tallied per design and group (all pilot rows; Sơn La city alone under AR+city; the
no-effect district and the others; tuyengiao early and later starters): the share of each
verdict (with exact binomial 95 % intervals for improved, worsened and differs), the model
row's conclusive rate (improved or worsened, per dataset), the components behind the verdict
(own one-sided p <= level/2 per direction, the leave-one-out flag, the long-difference flag,
the pre-trend flag), the coverage of the true ``theta_p`` by the own and the pooled 90 %
intervals, and the mean bias of ``own_estimate``. The binomial intervals treat rows as
independent; the rows of one dataset share their comparison districts, so they are somewhat
too narrow for the all-rows groups.

The required rates (DESIGN.md "District evidence") are printed as PASS/FAIL lines, judged on
the measured rate; a line says so when its 95 % interval straddles the bound:

- no effect: improved and worsened each at most 2.5 % of rows (iid; danvan rows, and the
  tuyengiao rows that have a comparison, the only ones that can be called improved), at most
  4 % with AR+city (danvan);
- -4 SD in every pilot: improved in at least 90 % of rows (iid, danvan) and 75 % (AR+city);
- Yên Châu with no effect among four at -4 SD: improved at most 3 %, differs at least 80 %;
- own 90 % intervals cover the true effect in 85-95 % of the rows that have one, in every
  design; Sơn La city alone at least 80 % under AR+city.

The other designs (tuyengiao -4 SD, the city or a tuyengiao district with no effect) have no
required rate; they are printed beside the note's prototype figures.

Seeds: ``--seed`` (default 20261207) spawns one seed sequence per design in the fixed order
of ``SCENARIOS`` (so choosing designs with ``--scenarios`` does not change their datasets),
and one per dataset from it; the pooled test's placements come from the package's own fixed
seed. The figures are identical for any number of workers.
"""

from __future__ import annotations

import os

# One BLAS thread per worker process (set before numpy is imported).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import multiprocessing as mp  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy  # noqa: E402
from scipy.stats import binomtest  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import simulate as sim  # noqa: E402  (the generator of the pooled-test study)

import kiemnhiem  # noqa: E402
from kiemnhiem.data.demo import DANVAN, SON_LA_PILOTS, TUYENGIAO  # noqa: E402
from kiemnhiem.stats.evaluation import evaluate_all  # noqa: E402

LEVEL = 0.10  # the suite's level: one-sided level/2 per direction, 90 % intervals
SD = sim.SD  # 2.5 meetings: one noise SD
CITY, YEN_CHAU, PHU_YEN, SONG_MA = "116", "124", "122", "126"
NAMES = {c: n.removeprefix("Huyện ").removeprefix("Thị xã ") for c, n in sim.NAMES.items()}
NAMES[CITY] = "Sơn La city"
DEFAULT_SEED = 20261207
DEFAULT_DATASETS, QUICK_DATASETS = 300, 30
RESULTS = HERE / "RESULTS.md"
BEGIN = "<!-- validation/district.py: generated, begin -->"
END = "<!-- validation/district.py: generated, end -->"
SECTION = "## District evidence: `validation/district.py`"

# rho, Sơn La city's noise multiple
NOISE = {"iid": (0.0, 1.0), "ar_city": (sim.RHO, 3.0)}
NOISE_TEXT = {"iid": "iid", "ar_city": "AR+city"}
PILOTS = {
    model: tuple((u, s, p, st) for u, m, s, p, st, _ in SON_LA_PILOTS if m == model)
    for model in (DANVAN, TUYENGIAO)
}
SHORT = {DANVAN: "danvan", TUYENGIAO: "tuyengiao"}

# The contract's district columns (DESIGN.md "Evaluation contract").
DISTRICT_COLUMNS = (
    "own_estimate", "own_low", "own_high", "own_p_better", "own_p_worse", "noise_floor",
    "pooled_estimate", "pooled_low", "pooled_high", "consistency_p", "consistency",
    "long_diff", "long_diff_p",
)
KEEP = ("unit_code", "comparison", "verdict", "pretrend_flag", "did") + DISTRICT_COLUMNS
VERDICTS = (
    "improved", "worsened", "in_line", "differs", "no_clear_change", "pretrend", "no_data",
    "in_line_before_after", "no_clear_change_before_after", "before_after_only",
)
SHORT_VERDICT = {
    "improved": "improved", "worsened": "worsened", "in_line": "in line",
    "differs": "differs", "no_clear_change": "no clear", "pretrend": "pretrend",
    "no_data": "no data", "in_line_before_after": "in line b/a",
    "no_clear_change_before_after": "no clear b/a", "before_after_only": "b/a only",
}
FLAG_LEVEL = 0.10  # the leave-one-out and long-difference flags (DESIGN.md)


@dataclass(frozen=True)
class Scenario:
    """One design: a model's schedules, a noise setting, the planted effects."""

    key: str
    model: str
    noise: str  # "iid" or "ar_city"
    effect_sd: float  # every pilot's effect, noise SDs (negative: fewer meetings, better)
    zero: str | None = None  # a pilot with no effect
    note: str = ""  # the prototype's figures (research note 5.1), for comparison

    def theta(self, unit: str) -> float:
        return 0.0 if unit == self.zero else self.effect_sd * SD

    @property
    def title(self) -> str:
        n = len(PILOTS[self.model])
        if self.effect_sd == 0:
            what = "no effect"
        elif self.zero is None:
            what = f"all {n} {self.effect_sd:+g} SD"
        else:
            what = f"{NAMES[self.zero]} 0 among {n - 1} at {self.effect_sd:+g} SD"
        return f"{SHORT[self.model]}, {what} ({NOISE_TEXT[self.noise]})"


SCENARIOS = (
    Scenario("d_null_iid", DANVAN, "iid", 0.0,
             note="improved 0.2 %, worsened 1.2 %, own cover 92.6 %"),
    Scenario("d_null_ar", DANVAN, "ar_city", 0.0,
             note="improved 0.4 %, worsened 0.7 %, own cover 91.5 % (city 86.3 %)"),
    Scenario("d_1sd_iid", DANVAN, "iid", -1.0, note="improved 19.5 %"),
    Scenario("d_2sd_iid", DANVAN, "iid", -2.0, note="improved 56.1 %"),
    Scenario("d_4sd_iid", DANVAN, "iid", -4.0, note="improved 94.9 %, own cover 93.9 %"),
    Scenario("d_4sd_ar", DANVAN, "ar_city", -4.0,
             note="improved 79.9 % (city 45.7 %), own cover 89.9 % (city 82.7 %)"),
    Scenario("d_yc0_4sd", DANVAN, "iid", -4.0, YEN_CHAU,
             note="Yên Châu improved 1.0 %, differs 91.0 %"),
    Scenario("d_yc0_2sd", DANVAN, "iid", -2.0, YEN_CHAU,
             note="Yên Châu improved 3.3 %, differs 44.0 %"),
    Scenario("d_city0_4sd_ar", DANVAN, "ar_city", -4.0, CITY,
             note="city improved 6.7 %, differs 46.3 %, own cover 84.7 %"),
    Scenario("t_null_iid", TUYENGIAO, "iid", 0.0,
             note="early starters improved 0.5 %, worsened 0.7 %; model 7.3 %"),
    Scenario("t_4sd_iid", TUYENGIAO, "iid", -4.0,
             note="early starters improved 71.5 %; later in line b/a 96.1 %"),
    Scenario("t_py0_4sd", TUYENGIAO, "iid", -4.0, PHU_YEN,
             note="Phù Yên improved 1.3 %, differs 67.3 %"),
    Scenario("t_sm0_4sd", TUYENGIAO, "iid", -4.0, SONG_MA, note="Sông Mã differs 98.7 %"),
)
BY_KEY = {s.key: s for s in SCENARIOS}


# ---------------------------------------------------------------------------- simulation
def draw_dataset(scenario: Scenario, rng: np.random.Generator):
    """One dataset of the design (in memory) and the pilots' true effects by unit."""
    rho, k = NOISE[scenario.noise]
    y0 = sim.draw_outcome(rng, sim.noise_multipliers("ii", k), rho=rho)
    pilots = PILOTS[scenario.model]
    theta = {p[0]: scenario.theta(p[0]) for p in pilots}
    ds = sim.build_dataset(y0, pilots, [theta[p[0]] for p in pilots], model=scenario.model)
    return ds, theta


def one_dataset(task) -> tuple[pd.DataFrame, str]:
    """The pilot rows (the columns in ``KEEP`` and ``theta``) and the model row's verdict."""
    key, seed = task
    scenario = BY_KEY[key]
    ds, theta = draw_dataset(scenario, np.random.default_rng(seed))
    res = evaluate_all(ds, models=[scenario.model], sensitivity=False, level=LEVEL)
    rows = res[res["scope"] == "pilot"]
    out = pd.DataFrame(
        {c: (rows[c].to_numpy() if c in rows.columns else np.nan) for c in KEEP}
    )
    out["theta"] = out["unit_code"].map(theta)
    model_verdict = res.loc[res["scope"] == "model", "verdict"].iloc[0]
    return out, str(model_verdict)


def run(keys, datasets: int, seed: int, workers: int):
    """Every dataset of the chosen designs: one frame of pilot rows, one of model rows."""
    spawned = np.random.SeedSequence(seed).spawn(len(SCENARIOS))
    streams = dict(zip((s.key for s in SCENARIOS), spawned, strict=True))
    tasks = [(key, s) for key in keys for s in streams[key].spawn(datasets)]
    if workers > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            results = pool.map(one_dataset, tasks, chunksize=5)
    else:
        results = [one_dataset(t) for t in tasks]
    pilots, models = [], []
    for i, ((key, _), (rows, verdict)) in enumerate(zip(tasks, results, strict=True)):
        pilots.append(rows.assign(scenario=key, dataset=i))
        models.append((key, i, verdict))
    return (
        pd.concat(pilots, ignore_index=True),
        pd.DataFrame(models, columns=["scenario", "dataset", "verdict"]),
    )


# ---------------------------------------------------------------------------- tallies
def groups(scenario: Scenario) -> list[tuple[str, Callable[[pd.DataFrame], pd.Series]]]:
    """(label, row predicate) of the groups a design is reported by; the first is all rows."""
    n = len(PILOTS[scenario.model])
    out = [(f"all {n} pilots", lambda r: pd.Series(True, index=r.index))]
    zero = scenario.zero
    def not_zero(r):
        return r["unit_code"] != zero if zero else pd.Series(True, index=r.index)

    if scenario.model == TUYENGIAO:
        early = lambda r: r["comparison"].fillna("none") != "none"  # noqa: E731
        sans = f" (without {NAMES[zero]})" if zero else ""
        out.append((f"early starters{sans}", lambda r: early(r) & not_zero(r)))
        out.append((f"later starters{sans}", lambda r: ~early(r) & not_zero(r)))
    if scenario.noise == "ar_city" and zero != CITY:
        out.append(("Sơn La city", lambda r: r["unit_code"] == CITY))
    if zero:
        out.append((f"{NAMES[zero]} (θ = 0)", lambda r: r["unit_code"] == zero))
        if scenario.model == DANVAN:
            out.append(("the four others", not_zero))
    return out


def _share(k: int, n: int) -> tuple[float, float, float]:
    if n == 0:
        return (np.nan, np.nan, np.nan)
    ci = binomtest(int(k), int(n)).proportion_ci(0.95, method="exact")
    return (k / n, ci.low, ci.high)


def tally(rows: pd.DataFrame) -> dict:
    """Counts and rates of one group of pilot rows."""
    n = len(rows)
    verdict = rows["verdict"].astype("string").fillna("<missing>")
    counts = verdict.value_counts()
    out = {"n": n, "counts": {v: int(counts.get(v, 0)) for v in VERDICTS}}
    out["other"] = {v: int(c) for v, c in counts.items() if v not in VERDICTS}
    for v in ("improved", "worsened", "differs"):
        out[v] = _share(out["counts"][v], n)
    theta = rows["theta"].astype(float)
    for name in ("own", "pooled"):
        lo, hi = rows[f"{name}_low"].astype(float), rows[f"{name}_high"].astype(float)
        has = lo.notna() & hi.notna()
        covered = int(((lo <= theta) & (theta <= hi))[has].sum())
        out[f"{name}_cover"] = _share(covered, int(has.sum()))
        out[f"{name}_n"] = int(has.sum())
        out[f"{name}_width"] = float((hi - lo)[has].mean()) if has.any() else np.nan
    est = rows["own_estimate"].astype(float)
    out["own_bias"] = float((est - theta)[est.notna()].mean()) if est.notna().any() else np.nan
    half = LEVEL / 2
    for d in ("better", "worse"):
        p = rows[f"own_p_{d}"].astype(float)
        out[f"own_{d}"] = _share(int((p <= half).sum()), int(p.notna().sum()))
    # The leave-one-out flag (consistency_p; rows with an own estimate) and the long-difference
    # flag (rows without a comparison) are told apart by their p-value columns, as the
    # ``consistency`` label serves both.
    cp = rows["consistency_p"].astype(float)
    out["loo_flag"] = _share(int((cp <= FLAG_LEVEL).sum()), int(cp.notna().sum()))
    ld = rows["long_diff_p"].astype(float)
    out["ld_flag"] = _share(int((ld <= FLAG_LEVEL).sum()), int(ld.notna().sum()))
    pf = rows["pretrend_flag"]
    flagged = int(pf[pf.notna()].astype(bool).sum())
    out["pretrend_flag"] = _share(flagged, int(pf.notna().sum()))
    return out


def model_rate(models: pd.DataFrame) -> tuple[float, float, float]:
    conclusive = models["verdict"].isin(["improved", "worsened"])
    return _share(int(conclusive.sum()), len(models))


# ---------------------------------------------------------------------------- checks
@dataclass(frozen=True)
class Check:
    key: str
    group: str  # "all", "early", "city", "zero"
    metric: str  # "improved", "worsened", "differs", "own_cover"
    low: float | None = None
    high: float | None = None
    what: str = ""


def _checks() -> list[Check]:
    req = [
        Check("d_null_iid", "all", "improved", high=0.025, what="no effect (iid)"),
        Check("d_null_iid", "all", "worsened", high=0.025, what="no effect (iid)"),
        Check("t_null_iid", "early", "improved", high=0.025, what="no effect (iid)"),
        Check("t_null_iid", "early", "worsened", high=0.025, what="no effect (iid)"),
        Check("d_null_ar", "all", "improved", high=0.04, what="no effect (AR+city)"),
        Check("d_null_ar", "all", "worsened", high=0.04, what="no effect (AR+city)"),
        Check("d_4sd_iid", "all", "improved", low=0.90, what="-4 SD in every pilot (iid)"),
        Check("d_4sd_ar", "all", "improved", low=0.75, what="-4 SD in every pilot (AR+city)"),
        Check("d_yc0_4sd", "zero", "improved", high=0.03, what="no-effect district among four"),
        Check("d_yc0_4sd", "zero", "differs", low=0.80, what="no-effect district among four"),
    ]
    for s in SCENARIOS:
        req.append(Check(s.key, "all", "own_cover", low=0.85, high=0.95, what="own 90 % interval"))
        if s.noise == "ar_city":
            req.append(Check(s.key, "city", "own_cover", low=0.80, what="own 90 % interval"))
    return req


CHECKS = _checks()


def _select(rows: pd.DataFrame, scenario: Scenario, group: str) -> pd.DataFrame:
    if group == "all":
        return rows
    if group == "early":
        return rows[rows["comparison"].fillna("none") != "none"]
    if group == "city":
        return rows[rows["unit_code"] == CITY]
    if group == "zero":
        return rows[rows["unit_code"] == scenario.zero]
    raise ValueError(group)


GROUP_TEXT = {"all": "all rows", "early": "rows with a comparison", "city": "Sơn La city",
              "zero": "the no-effect district"}


def check_lines(pilots: pd.DataFrame) -> tuple[list[str], int]:
    lines, failed = [], 0
    for c in CHECKS:
        rows = pilots[pilots["scenario"] == c.key]
        if rows.empty:
            continue
        s = BY_KEY[c.key]
        sub = _select(rows, s, c.group)
        rate, lo, hi = tally(sub)[c.metric]
        label = c.metric.replace("own_cover", "own interval covers θ")
        bound = (
            f"in {_span(c.low, c.high)}" if c.low is not None and c.high is not None
            else f">= {pct(c.low)}" if c.low is not None else f"<= {pct(c.high)}"
        )
        if np.isnan(rate):
            status, tail = "FAIL", " (not computed: the column is missing or empty)"
        else:
            ok = (c.low is None or rate >= c.low) and (c.high is None or rate <= c.high)
            status = "PASS" if ok else "FAIL"
            straddle = (c.low is not None and lo < c.low <= hi) or (
                c.high is not None and lo <= c.high < hi
            )
            tail = "; the 95 % CI straddles the bound" if straddle else ""
        failed += status == "FAIL"
        n = len(sub) if c.metric != "own_cover" else int(
            sub["own_low"].notna().sum()
        )
        group = GROUP_TEXT[c.group]
        if c.metric == "own_cover" and c.group == "all":
            group = "rows with an own interval"
        if c.group == "zero":
            group = f"{NAMES[s.zero]} (θ = 0)"
        lines.append(
            f"{status}  {s.title} | {group}, {n} rows: {label} {pct(rate)} "
            f"(95 % CI {_span(lo, hi)}), required {bound}{tail}"
        )
    return lines, failed


# ---------------------------------------------------------------------------- report
def pct(x: float, digits: int = 1) -> str:
    return "–" if x is None or np.isnan(x) else f"{100 * x:.{digits}f} %"


def _span(lo: float, hi: float) -> str:
    if np.isnan(lo) or np.isnan(hi):
        return "–"
    return f"{100 * lo:.1f}-{100 * hi:.1f} %"


def _rate(t: tuple[float, float, float]) -> str:
    r, lo, hi = t
    if np.isnan(r):
        return "–"
    return f"{100 * r:.1f} ({100 * lo:.1f}-{100 * hi:.1f})"


def _plain(k: int, n: int) -> str:
    return "0" if k == 0 else f"{100 * k / n:.1f}"


def tables(pilots: pd.DataFrame, models: pd.DataFrame, keys) -> list[str]:
    shown = [v for v in VERDICTS[2:] if v != "differs"]
    head1 = (
        "| design | rows | n | model concl. | improved | worsened | differs | "
        + " | ".join(SHORT_VERDICT[v] for v in shown) + " | other |"
    )
    t1 = [head1, "|" + "---|" * (8 + len(shown))]
    head2 = (
        "| design | rows | own p_better ≤ 0.05 | own p_worse ≤ 0.05 | LOO flagged | "
        "long diff flagged | pretrend flag | own covers θ | own width | own bias | "
        "pooled covers θ | pooled width |"
    )
    t2 = [head2, "|" + "---|" * 12]
    others = set()
    for key in keys:
        s = BY_KEY[key]
        rows = pilots[pilots["scenario"] == key]
        mrate = _rate(model_rate(models[models["scenario"] == key]))
        for i, (label, pred) in enumerate(groups(s)):
            sub = rows[pred(rows)]
            t = tally(sub)
            n = t["n"]
            name = s.title if i == 0 else ""
            other = sum(t["other"].values())
            others.update(t["other"])
            t1.append(
                f"| {name} | {label} | {n} | {mrate if i == 0 else ''} | {_rate(t['improved'])} | "
                f"{_rate(t['worsened'])} | {_rate(t['differs'])} | "
                + " | ".join(_plain(t["counts"][v], n) for v in shown)
                + f" | {_plain(other, n)} |"
            )
            t2.append(
                f"| {name} | {label} | {_rate(t['own_better'])} | {_rate(t['own_worse'])} | "
                f"{_rate(t['loo_flag'])} | {_rate(t['ld_flag'])} | {_rate(t['pretrend_flag'])} | "
                f"{_rate(t['own_cover'])} | {_num(t['own_width'])} | {_num(t['own_bias'], True)} | "
                f"{_rate(t['pooled_cover'])} | {_num(t['pooled_width'])} |"
            )
    out = [
        "Verdicts, % of pilot rows (improved, worsened, differs with exact binomial 95 % CI); "
        "model concl. = the model row improved or worsened, % of datasets:",
        "",
        *t1,
    ]
    if others:
        out += ["", "other verdicts (not in the contract): " + ", ".join(sorted(others))]
    out += [
        "",
        "Components and intervals, % of the rows where computed (95 % CI). Own p: the "
        "single-case test alone, whatever the model row says; LOO flagged: consistency_p <= "
        "0.10 (rows with an own estimate); long diff flagged: long_diff_p <= 0.10 (rows without "
        "a comparison); own bias: mean of own_estimate - θ, meetings; pooled: only rows not "
        "flagged, as the package leaves the pooled interval empty on a flagged row:",
        "",
        *t2,
    ]
    both = pilots[["own_estimate", "did"]].astype(float).dropna()
    if len(both):
        gap = float((both["own_estimate"] - both["did"]).abs().max())
        out += [
            "",
            f"own_estimate against the contract's did: largest |difference| {gap:.3g} over "
            f"{len(both)} rows (no missing cells here, so the two should agree).",
        ]
    return out


def _num(x: float, signed: bool = False) -> str:
    if x is None or np.isnan(x):
        return "–"
    return f"{x:+.2f}" if signed else f"{x:.2f}"


def note_lines(keys) -> list[str]:
    out = ["The prototype's figures (research note 5.1, 300 datasets per design):", ""]
    out += [f"- {BY_KEY[k].title}: {BY_KEY[k].note}" for k in keys if BY_KEY[k].note]
    return out


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def write_results(path: Path, block: str) -> None:
    """Replace the generated part of the "District evidence" section (or append it)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    generated = f"{BEGIN}\n{block.rstrip()}\n{END}"
    if BEGIN in text and END in text:
        pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
        text = pattern.sub(lambda _: generated, text, count=1)
    else:
        text = text.rstrip() + f"\n\n{SECTION}\n\n{generated}\n"
    path.write_text(text, encoding="utf-8")


def missing_columns() -> list[str]:
    """The contract's district columns that ``evaluate_all`` does not return."""
    s = SCENARIOS[0]
    ds, _ = draw_dataset(s, np.random.default_rng(0))
    res = evaluate_all(ds, models=[s.model], sensitivity=False, level=LEVEL)
    return [c for c in DISTRICT_COLUMNS if c not in res.columns]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=DEFAULT_DATASETS,
                        help=f"datasets per design (default {DEFAULT_DATASETS})")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_DATASETS} datasets per design, a smoke run")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scenarios", default="",
                        help="comma-separated design keys (default all): "
                        + ", ".join(s.key for s in SCENARIOS))
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="the file whose District evidence section is written")
    parser.add_argument("--write", action=argparse.BooleanOptionalAction, default=None,
                        help="write the section (default: on a full run, not with --quick)")
    parser.add_argument("--dump", type=Path, default=None,
                        help="also write every pilot row (with the model row's verdict) to "
                        "this CSV file, for diagnosis")
    args = parser.parse_args(argv)
    datasets = QUICK_DATASETS if args.quick else args.datasets
    keys = [k for k in args.scenarios.split(",") if k] or [s.key for s in SCENARIOS]
    unknown = [k for k in keys if k not in BY_KEY]
    if unknown:
        parser.error(f"unknown design(s) {unknown}; choose from {list(BY_KEY)}")
    write = (not args.quick) if args.write is None else args.write

    started = time.perf_counter()
    command = " ".join(["validation/district.py", *(sys.argv[1:] if argv is None else argv)])
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--", "kiemnhiem", "validation/simulate.py")
    head = [
        f"Command: `{command.strip()}`",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"Versions: kiemnhiem {kiemnhiem.__version__} at commit {commit or '?'}"
        + (" (with uncommitted changes)" if dirty else "")
        + f"; Python {platform.python_version()}, numpy {np.__version__}, pandas "
        f"{pd.__version__}, scipy {scipy.__version__}",
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"{args.workers} worker(s); load average at start "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        f"Datasets: {datasets} per design, {len(keys)} designs, seed {args.seed}; level "
        f"{LEVEL:g} (own test one-sided {LEVEL / 2:g}, 90 % intervals); noise SD {SD:g} "
        f"meetings, AR+city = AR(1) rho {sim.RHO:g} and Sơn La city's SD x3",
    ]
    for line in head:
        print(f"- {line}")
    missing = missing_columns()
    if missing:
        warn = (
            "WARNING: evaluate_all does not return the contract's columns "
            + ", ".join(missing) + " (the district integration is not in this checkout); "
            "their rates are shown as – and their checks fail."
        )
        print(f"- {warn}")
        head.append(warn)
    print(flush=True)

    t0 = time.perf_counter()
    pilots, models = run(keys, datasets, args.seed, args.workers)
    compute = time.perf_counter() - t0
    if args.dump is not None:
        pilots.merge(models.rename(columns={"verdict": "model_row_verdict"}),
                     on=["scenario", "dataset"]).to_csv(args.dump, index=False)
    body = tables(pilots, models, keys)
    checks, failed = check_lines(pilots)
    wall = time.perf_counter() - started
    timing = (
        f"Elapsed: {len(models)} datasets in {compute:.1f} s "
        f"({1000 * compute / len(models):.0f} ms each on {args.workers} worker(s)); "
        f"wall time {wall:.1f} s"
    )
    block = [
        *[f"- {line}" for line in head],
        f"- {timing}",
        "",
        *body,
        "",
        f"Required rates (DESIGN.md \"District evidence\"): {len(checks) - failed} PASS, "
        f"{failed} FAIL",
        "",
        "```text",
        *checks,
        "```",
        "",
        *note_lines(keys),
    ]
    text = "\n".join(block)
    print("\n".join(block[len(head):]))
    if write:
        write_results(args.results, text)
        print(f"\nwritten to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
