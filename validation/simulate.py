"""Monte-Carlo check of the pooled test of ``evaluate_all``: size, power, coverage, bias.

Not part of the test suite (it takes minutes); it prints its figures, and
``validation/RESULTS.md`` keeps the output of a full run. Run from the repository root::

    .venv/bin/python validation/simulate.py              # 500 datasets per design and effect
    .venv/bin/python validation/simulate.py --quick      # 50, a smoke run

Every dataset is the 12 Sơn La district-level units, 2014-2024 (whole years: the partial 2025 is
left out by the time conventions anyway), one outcome, ``so_cuoc_hop`` (meetings a year), drawn
by a lean generator in the spirit of :mod:`kiemnhiem.data.demo`::

    Y[u, t] = round(level[u] + slope[u] * (t - 2014) + e[u, t] + effect * D[u, t])

with ``level`` the unit's fixed effect (55 meetings times its size; Sơn La city 1.7 times a
district), ``slope = -0.4 + 0.12 N(0, 1)`` a unit trend, ``e`` stationary AR(1) noise (rho 0.5)
with SD ``2.5 * mult[u]``, and ``D`` 1 from a pilot's start year T on. Every draw is new for
each dataset; the noise multipliers ``mult`` belong to the units.

The five ``danvan_mttq`` pilots keep the demo's starts (``kiemnhiem.data.demo.SON_LA_PILOTS``), and
the model row of ``evaluate_all(dataset, models=["danvan_mttq"], sensitivity=False)`` gives the
pooled effect ``did`` (mean of the pilots' ``did``), its two-sided rank p-value ``p_two`` and
its interval. The pooled test samples 9,999 of the 23,760 placements from the package's fixed
seed, the same draws for every dataset.

Designs
-------
(i) random assignment: the five schedules are placed on five units drawn at random for each
    dataset, as the test assumes; noise differs across units (Sơn La city ``k`` times the
    base SD, the other eleven from 0.5 to 2 times). The test is exact here, so under no effect
    its rejection rate at 0.10 must be near 10 % (6-14 % is required of 500 datasets).
(ii) the demo's real assignment, fixed; Sơn La city's noise ``k`` times the others'. The
    assignment is not random here, so nothing guarantees the size: this shows how far a
    noisier pilot unit pushes it.

For each design, no effect and a planted constant effect (``--effect``, default -2.5 meetings a
year, 1 noise SD): rejection rate (size, or power) with its exact binomial 95 % interval,
coverage of the 90 % interval (``ci_low <= effect <= ci_high``), and the bias of the pooled
``did`` against the planted effect (its mean over pilot x post years, which is the constant
effect itself since every post year is treated), with its Monte-Carlo SE. For design (i)
without effect it also computes the test's exact size on the first 200 datasets' outcomes
(every placement's statistic, each placement taken in turn as the observed one), which has no
Monte-Carlo error over placements.
"""

from __future__ import annotations

import os

# Two worker processes on two cores: one BLAS thread each (set before numpy is imported).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import multiprocessing as mp  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import binomtest  # noqa: E402

# Run from a checkout: the package beside this folder, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiemnhiem.data.catalog import builtin_indicators, builtin_models  # noqa: E402
from kiemnhiem.data.dataset import Dataset  # noqa: E402
from kiemnhiem.data.demo import DANVAN, SON_LA, SON_LA_PILOTS  # noqa: E402
from kiemnhiem.data.units import unit_table  # noqa: E402
from kiemnhiem.stats.evaluation import evaluate_all  # noqa: E402

INDICATOR = "so_cuoc_hop"
YEARS = np.arange(2014, 2025)
SD = 2.5  # the demo's year-to-year noise SD of so_cuoc_hop
BASE, LEVEL_SD, SIZE_SD, CITY_SIZE = 55.0, 0.10, 0.12, 1.7
TREND, TREND_SD = -0.4, 0.12
RHO = 0.5
LEVEL = 0.10
CITY = "116"
DEFAULT_K = 3.0
DEFAULT_EFFECT = -2.5
DEFAULT_SEED = 20250701
EXACT_DATASETS = 200

_UNITS = unit_table()
_UNITS = _UNITS[_UNITS["province_code"] == SON_LA].sort_values("code").reset_index(drop=True)
CODES = tuple(_UNITS["code"])
NAMES = dict(zip(_UNITS["code"], _UNITS["name"]))
SCHEDULES = tuple((s, p, st) for u, m, s, p, st, _ in SON_LA_PILOTS if m == DANVAN)
DEMO_UNITS = tuple(u for u, m, *_ in SON_LA_PILOTS if m == DANVAN)
_INDICATORS = builtin_indicators()
_INDICATORS = _INDICATORS[_INDICATORS["code"] == INDICATOR].reset_index(drop=True)
_MODELS = builtin_models()
_UNITS_FRAME = pd.DataFrame(
    {
        "unit_code": list(CODES),
        "unit_name": [NAMES[c] for c in CODES],
        "unit_short": [NAMES[c] for c in CODES],
        "province_code": SON_LA,
        "province_name": "Sơn La",
    }
)
_EMPTY_EVENTS = pd.DataFrame(columns=["date", "code", "label_vi", "label_en"])
_EMPTY_COMMENTS = pd.DataFrame(columns=["unit_code", "model", "comment", "author"])


def noise_multipliers(design: str, k: float) -> np.ndarray:
    """Per unit (in ``CODES`` order): Sơn La city ``k``; the others 1, or (design i) spread."""
    mult = np.ones(len(CODES))
    if design == "i":
        # Eleven districts from 0.5 to 2 times the base SD, in a fixed scrambled order.
        spread = np.geomspace(0.5, 2.0, len(CODES) - 1)
        mult[1:] = spread[np.random.default_rng(7).permutation(len(spread))]
    mult[CODES.index(CITY)] = k
    return mult


def draw_pilots(rng: np.random.Generator, design: str) -> list[tuple[str, str, str, str]]:
    """The five danvan_mttq pilots as (unit, start, precision, status).

    Design (i): the demo's five schedules on five units drawn at random, in a random order,
    i.e. a uniform draw among the placements the pooled test ranks over. Design (ii): the
    demo's own assignment.
    """
    if design == "i":
        n = len(CODES)
        units = tuple(CODES[i] for i in np.sort(rng.choice(n, size=len(SCHEDULES), replace=False)))
        order = rng.permutation(len(SCHEDULES))
        return [(units[j], *SCHEDULES[i]) for j, i in enumerate(order)]
    return [(u, *s) for u, s in zip(DEMO_UNITS, SCHEDULES)]


def draw_outcome(rng: np.random.Generator, mult: np.ndarray, rho: float = RHO) -> np.ndarray:
    """Untreated outcomes (units x years, not rounded): fixed effect, trend, AR(1) noise.

    ``rho`` 0 gives independent years (``validation/district.py`` uses both).
    """
    n, m = len(CODES), len(YEARS)
    size = np.where(np.array(CODES) == CITY, CITY_SIZE, 1.0) * np.exp(rng.normal(0, SIZE_SD, n))
    level = BASE * size * np.exp(rng.normal(0, LEVEL_SD, n))
    slope = TREND + TREND_SD * rng.standard_normal(n)
    sd = SD * mult
    eta = rng.standard_normal((n, m))
    e = np.empty((n, m))
    e[:, 0] = sd * eta[:, 0]
    scale = math.sqrt(1 - rho**2)
    for t in range(1, m):
        e[:, t] = rho * e[:, t - 1] + scale * sd * eta[:, t]
    return level[:, None] + slope[:, None] * (YEARS - YEARS[0])[None, :] + e


def draw_dataset(rng: np.random.Generator, design: str, effect: float, mult: np.ndarray):
    """One dataset (a :class:`Dataset` built in memory) and its pilot units."""
    pilots = draw_pilots(rng, design)
    return build_dataset(draw_outcome(rng, mult), pilots, effect), tuple(p[0] for p in pilots)


def build_dataset(y0: np.ndarray, pilots, effect, model: str = DANVAN) -> Dataset:
    """The dataset of outcomes ``y0`` plus ``effect`` from each pilot's start year, rounded.

    ``effect`` is one number for every pilot or a sequence, one per pilot in ``pilots``'
    order; ``model`` is the pilots' model (``validation/district.py`` also builds
    ``tuyengiao_ttct`` datasets).
    """
    n, m = y0.shape
    y = y0.copy()
    effects = np.broadcast_to(np.asarray(effect, dtype=float), (len(pilots),))
    for (unit, start, _, _), theta in zip(pilots, effects, strict=True):
        y[CODES.index(unit), YEARS >= int(start[:4])] += theta
    y = np.round(y) + 0.0
    panel = pd.DataFrame(
        {
            "unit_code": np.repeat(CODES, m),
            "period": np.tile(YEARS.astype(str), n),
            "freq": "year",
            "year": np.tile(YEARS, n),
            "sub": 0,
            "indicator": INDICATOR,
            "value": y.reshape(-1),
            "note": "",
        }
    )
    pilot_frame = pd.DataFrame(
        {
            "unit_code": [p[0] for p in pilots],
            "unit_name": [NAMES[p[0]] for p in pilots],
            "model": model,
            "start": pd.to_datetime([p[1] for p in pilots], format="mixed"),
            "start_precision": [p[2] for p in pilots],
            "start_status": [p[3] for p in pilots],
            "end": pd.NaT,
            "source": "simulation",
        }
    )
    return Dataset(
        name="simulation",
        province_code=SON_LA,
        province_name="Sơn La",
        synthetic=True,
        description="",
        source="validation/simulate.py",
        data_end=None,
        panel=panel,
        pilots=pilot_frame,
        units=_UNITS_FRAME,
        models=_MODELS,
        indicators=_INDICATORS,
        events=_EMPTY_EVENTS,
        comments=_EMPTY_COMMENTS,
    )


def one_dataset(task) -> tuple[float, float, float, float, int]:
    """(did, p_two, ci_low, ci_high, n_pilots) of the model row for one dataset."""
    design, effect, k, seed = task
    rng = np.random.default_rng(seed)
    ds, _ = draw_dataset(rng, design, effect, noise_multipliers(design, k))
    res = evaluate_all(ds, models=[DANVAN], sensitivity=False, level=LEVEL)
    row = res[res["scope"] == "model"].iloc[0]
    return (
        float(row["did"]),
        float(row["p_two"]),
        float(row["ci_low"]),
        float(row["ci_high"]),
        int(row["n_pilots"]),
    )


def exact_size(task) -> float:
    """The pooled test's exact two-sided size at ``LEVEL`` on one dataset's outcomes.

    With the outcomes fixed, the statistic of every placement of the schedules is computed
    once (all 23,760 of them, enumerated); each placement, taken as the observed one, rejects
    when it is among the top or bottom ``LEVEL / 2`` (ties counted against it, as the package
    does). The share that rejects is the test's size on these outcomes under random
    assignment, free of Monte-Carlo error over placements: below ``LEVEL`` only by ties.
    Reads the evaluation core's private arrays (this is a check of them, not an API).
    """
    from kiemnhiem.stats import evaluation as ev
    from kiemnhiem.stats.inference import draw_assignments

    design, effect, k, seed = task
    ds, _ = draw_dataset(np.random.default_rng(seed), design, effect, noise_multipliers(design, k))
    ctx = ev._context(ds, DANVAN, 3, 3)
    values, _ = ev._layers(ctx, INDICATOR)
    by_key = {}
    for p in ctx.pilots:
        by_key.setdefault(ev._schedule_key(p.window), p.window)
    keys = sorted(by_key)
    labels = np.zeros(len(ctx.units), dtype=np.int16)
    for p in ctx.pilots:
        labels[p.row] = keys.index(ev._schedule_key(p.window)) + 1
    prep = ev._prepare(values, ctx.years, [by_key[key] for key in keys])
    every = draw_assignments(labels, max_enumerate=10**6)
    t_of_label = np.array([np.inf] + [by_key[key].T for key in keys])
    stats = ev._pooled(prep, every.labels, t_of_label)[:, 0]
    n = len(stats)
    tol = 1e-9 * np.maximum(1.0, np.abs(stats))
    ordered = np.sort(stats)
    at_least = n - np.searchsorted(ordered, stats - tol, side="left")
    at_most = np.searchsorted(ordered, stats + tol, side="right")
    half = LEVEL / 2
    return float(np.mean(at_least / n <= half) + np.mean(at_most / n <= half))


def summarize(out: np.ndarray, effect: float) -> dict:
    did, p_two, lo, hi = out[:, 0], out[:, 1], out[:, 2], out[:, 3]
    reps = len(did)
    rejected = int(np.sum(p_two <= LEVEL))
    covered = int(np.sum((lo <= effect) & (effect <= hi)))
    rej_ci = binomtest(rejected, reps).proportion_ci(0.95, method="exact")
    cov_ci = binomtest(covered, reps).proportion_ci(0.95, method="exact")
    bias = float(np.mean(did) - effect)
    mcse = float(np.std(did, ddof=1) / math.sqrt(reps))
    return {
        "reps": reps,
        "rate": rejected / reps,
        "rate_ci": (rej_ci.low, rej_ci.high),
        "coverage": covered / reps,
        "coverage_ci": (cov_ci.low, cov_ci.high),
        "bias": bias,
        "mcse": mcse,
        "ratio": bias / mcse if mcse > 0 else math.nan,
        "sd": float(np.std(did, ddof=1)),
        "mean_width": float(np.mean(hi - lo)),
        "n_pilots": float(np.mean(out[:, 4])),
    }


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def report(design: str, effect: float, s: dict) -> list[str]:
    lo, hi = s["rate_ci"]
    clo, chi = s["coverage_ci"]
    what = "size (no effect)" if effect == 0 else f"power (effect {effect:+g})"
    lines = [
        f"  {what}: p_two <= {LEVEL:g} in {pct(s['rate'])} of {s['reps']} "
        f"(95 % CI {pct(lo)} to {pct(hi)})",
        f"    coverage of the {100 * (1 - LEVEL):.0f} % interval: {pct(s['coverage'])} "
        f"(95 % CI {pct(clo)} to {pct(chi)}); mean width {s['mean_width']:.2f}",
        f"    pooled did: mean {s['bias'] + effect:+.3f}, planted {effect:+.3f}, "
        f"bias {s['bias']:+.3f}, MC SE {s['mcse']:.3f}, bias / MC SE {s['ratio']:+.2f} "
        f"({'PASS' if abs(s['ratio']) < 3 else 'FAIL'}: under 3); SD of did {s['sd']:.3f}",
    ]
    if design == "i" and effect == 0:
        ok = 0.06 <= s["rate"] <= 0.14
        lines.append(f"    size within 6-14 %: {'PASS' if ok else 'FAIL'}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=500, help="datasets per design and effect")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--quick", action="store_true", help="50 datasets each (smoke run)")
    parser.add_argument(
        "--k",
        type=float,
        default=DEFAULT_K,
        help="Sơn La city's noise SD as a multiple of the others' (default 3)",
    )
    parser.add_argument(
        "--effect",
        type=float,
        default=DEFAULT_EFFECT,
        help="planted effect, meetings a year (default -2.5, one noise SD)",
    )
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    reps = 50 if args.quick else args.reps

    started = time.perf_counter()
    print(f"validation/simulate.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, pandas "
        f"{pd.__version__}, {os.cpu_count()} cores, {args.workers} workers"
    )
    print(
        f"reps {reps} per design and effect, seed {args.seed}, k {args.k:g}, "
        f"planted effect {args.effect:+g} meetings/year ({args.effect / SD:+g} noise SD), "
        f"noise SD {SD:g}, AR(1) rho {RHO:g}, level {LEVEL:g}"
    )
    for design in ("i", "ii"):
        mult = noise_multipliers(design, args.k)
        text = ", ".join(f"{c} {v:.2f}" for c, v in zip(CODES, mult))
        print(f"design ({design}) noise multipliers: {text}")
    print("load average (1, 5, 15 min) at start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print()

    root = np.random.SeedSequence(args.seed)
    cells = [(d, e) for d in ("i", "ii") for e in (0.0, args.effect)]
    seeds = root.spawn(len(cells))
    tasks, index = [], []
    for c, (design, effect) in enumerate(cells):
        for s in seeds[c].spawn(reps):
            tasks.append((design, effect, args.k, s))
            index.append(c)
    # The exact size on the first datasets of design (i) without effect (the same outcomes).
    exact_tasks = [t for t, c in zip(tasks, index) if c == 0][: min(reps, EXACT_DATASETS)]
    t0 = time.perf_counter()
    if args.workers > 1:
        with mp.get_context("fork").Pool(args.workers) as pool:
            results = pool.map(one_dataset, tasks, chunksize=10)
            compute = time.perf_counter() - t0
            exact = pool.map(exact_size, exact_tasks, chunksize=10)
    else:
        results = [one_dataset(t) for t in tasks]
        compute = time.perf_counter() - t0
        exact = [exact_size(t) for t in exact_tasks]
    exact = np.array(exact)
    results = np.array(results, dtype=float)
    index = np.array(index)

    titles = {
        "i": f"Design (i): the 5 danvan_mttq schedules on 5 random units; unequal noise "
        f"(city x{args.k:g}, others x0.5-x2)",
        "ii": f"Design (ii): the demo's assignment fixed; Sơn La city's noise x{args.k:g}",
    }
    for design in ("i", "ii"):
        print(titles[design])
        for c, (d, effect) in enumerate(cells):
            if d == design:
                for line in report(design, effect, summarize(results[index == c], effect)):
                    print(line)
                if design == "i" and effect == 0:
                    print(
                        f"    exact size of the test on the first {len(exact)} of these "
                        f"datasets (all placements enumerated, no Monte-Carlo error over "
                        f"placements): mean {pct(exact.mean())}, range {pct(exact.min())} to "
                        f"{pct(exact.max())}"
                    )
        print()
    wall = time.perf_counter() - started
    print(
        f"{len(tasks)} datasets in {compute:.1f} s ({1000 * compute / len(tasks):.0f} ms "
        f"each, {args.workers} workers); wall time {wall:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
