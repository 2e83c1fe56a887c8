"""How often the pre-trend flag fires on the demo, planted pre-trend and by chance.

Not part of the test suite; it prints its figures, and ``validation/RESULTS.md`` keeps the
output of a full run. Run from the repository root::

    .venv/bin/python validation/pretrend.py             # the default seed and 39 others
    .venv/bin/python validation/pretrend.py --seeds 5   # a smoke run
    .venv/bin/python validation/pretrend.py --slope -1   # power for a milder planted trend

Each seed redraws every value of the synthetic demo (``kiemnhiem.data.demo.write_demo``): the 12
Sơn La units, the 17 pilots, the planted effects, the unit-specific trends and the one planted
pre-trend (unit 124, ``danvan_mttq`` x ``so_ngay_trien_khai``, -3 noise SD a year). For every
pilot x indicator row of ``evaluate_all`` it counts

- whether the planted pre-trend is flagged (it must be);
- the other pilot rows flagged: chance, or a real movement before the start such as the
  other model's effect in a unit running both (the row is printed so it can be read);
- how often the contract's size rule alone (``trend_effect`` at least half of ``did``, same
  sign) holds, which is what the flag was before the slope test was added.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import kiemnhiem.data.demo as demo  # noqa: E402
from kiemnhiem.data.dataset import load_dataset  # noqa: E402
from kiemnhiem.data.demo import (  # noqa: E402
    DEFAULT_SEED,
    PRETREND_INDICATOR,
    PRETREND_MODEL,
    PRETREND_UNIT,
    write_demo,
)
from kiemnhiem.stats.evaluation import PRETREND_LEVEL, evaluate_all, size_rule  # noqa: E402


def _interval(k: int, n: int) -> str:
    ci = stats.binomtest(k, n).proportion_ci(0.95)
    return f"95 % CI {100 * ci.low:.2f} % to {100 * ci.high:.2f} %"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40, help="number of demo seeds")
    parser.add_argument(
        "--slope",
        type=float,
        default=demo.PRETREND_SLOPE_SD,
        help="the planted pre-trend, in noise SDs a year (the demo's is -3)",
    )
    args = parser.parse_args(argv)
    demo.PRETREND_SLOPE_SD = args.slope  # read when the values are drawn
    seeds = [DEFAULT_SEED] + list(range(1, args.seeds))[: args.seeds - 1]
    print(f"validation/pretrend.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}")
    print(f"seeds: {DEFAULT_SEED} (the bundled demo) and 1-{args.seeds - 1}; "
          f"flag level {PRETREND_LEVEL:g} two-sided; planted slope {args.slope:g} SD a year")
    started = time.perf_counter()
    hits, rows, size_only, others = 0, 0, 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            folder = write_demo(Path(tmp) / str(seed), seed=seed)
            out = evaluate_all(load_dataset(folder), sensitivity=False)
            pilots = out[(out["scope"] == "pilot") & out["pretrend_flag"].notna()]
            planted = (
                (pilots["unit_code"] == PRETREND_UNIT)
                & (pilots["model"] == PRETREND_MODEL)
                & (pilots["indicator"] == PRETREND_INDICATOR)
            )
            flagged = pilots["pretrend_flag"].astype(bool)
            hits += bool(flagged[planted].any())
            rest = pilots[~planted]
            rows += len(rest)
            size_only += sum(
                size_rule(e, d) for e, d in zip(rest["trend_effect"], rest["did"], strict=True)
            )
            others.append(rest[flagged[~planted]].assign(seed=seed))
    wall = time.perf_counter() - started
    other = pd.concat(others)
    n = len(seeds)
    print(f"\nplanted pre-trend flagged in {hits} of {n} demos ({_interval(hits, n)})")
    print(f"other pilot rows with a computable flag: {rows}")
    print(f"  the contract's size rule alone holds in {size_only} ({100 * size_only / rows:.1f} %, "
          f"{_interval(size_only, rows)})")
    share = 100 * len(other) / rows
    print(f"  flagged: {len(other)} ({share:.3f} %, {_interval(len(other), rows)})")
    if len(other):
        cols = ["seed", "unit_code", "model", "indicator", "comparison", "did", "trend_effect",
                "pretrend_p"]
        print(other[cols].to_string(index=False))
    print(f"\n{n} demos in {wall:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
