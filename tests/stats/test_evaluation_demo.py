"""The evaluation engine recovers the demo's planted effects within the README's tolerances.

The truth comes from the generator's planted parameters (``make_demo()["truth"]``), not from
the engine: for each pilot, the true effect is averaged over exactly the years its ``did`` uses.
"""

import numpy as np
import pandas as pd
import pytest

from kiemnhiem.data.dataset import load_dataset
from kiemnhiem.data.demo import (
    PLANTED_EFFECTS,
    PRETREND_INDICATOR,
    PRETREND_MODEL,
    PRETREND_UNIT,
    TOLERANCE_MODEL_SD,
    TOLERANCE_PILOT_SD,
    make_demo,
)
from kiemnhiem.stats.evaluation import evaluate_all


@pytest.fixture(scope="module")
def results():
    return evaluate_all(load_dataset(None))


@pytest.fixture(scope="module")
def truth():
    t = make_demo()["truth"]
    return t[t["component"] == "effect"]


def _true_effect(truth, unit, model, indicator, years) -> float:
    sel = truth[(truth["unit"] == unit) & (truth["model"] == model)
                & (truth["indicator"] == indicator)].set_index("year")["value"]
    return float(np.mean([sel.get(y, 0.0) for y in years]))


@pytest.mark.parametrize("planted", PLANTED_EFFECTS, ids=lambda p: f"{p.model}-{p.indicator}")
def test_planted_effects_recovered(results, truth, planted):
    rows = results[(results["scope"] == "pilot") & (results["model"] == planted.model)
                   & (results["indicator"] == planted.indicator) & results["did"].notna()]
    assert len(rows) >= 3, "too few assessable pilots to check the planted effect"
    errors, trues = [], []
    for _, row in rows.iterrows():
        years = [int(y) for y in str(row["did_years_used"]).split(";") if y]
        true = _true_effect(truth, row["unit_code"], planted.model, planted.indicator, years)
        errors.append(row["did"] - true)
        trues.append(true)
        assert abs(row["did"] - true) <= TOLERANCE_PILOT_SD * planted.sd, (row["unit_code"], true)
    assert abs(np.mean(errors)) <= TOLERANCE_MODEL_SD * planted.sd
    model_row = results[(results["scope"] == "model") & (results["model"] == planted.model)
                        & (results["indicator"] == planted.indicator)].iloc[0]
    # the pooled effect is the unweighted mean of the pilots' did (contract)
    assert model_row["did"] == pytest.approx(rows["did"].mean())


def test_start_effects_are_detected_at_model_level(results):
    pooled = results[results["scope"] == "model"].set_index(["model", "indicator"])
    for planted in PLANTED_EFFECTS:
        if planted.timing != "start":
            continue
        expected = "improved"  # every planted start effect goes the better way
        assert pooled.loc[(planted.model, planted.indicator), "verdict"] == expected


def test_planted_pretrend_is_flagged(results):
    row = results[(results["scope"] == "pilot") & (results["unit_code"] == PRETREND_UNIT)
                  & (results["model"] == PRETREND_MODEL)
                  & (results["indicator"] == PRETREND_INDICATOR)].iloc[0]
    assert bool(row["pretrend_flag"]) is True


def test_no_pilot_without_a_planted_pretrend_is_flagged(results):
    pilots = results[results["scope"] == "pilot"]
    flagged = pilots[pilots["pretrend_flag"].fillna(False).astype(bool)]
    assert [tuple(r) for r in flagged[["unit_code", "model", "indicator"]].to_numpy()] == [
        (PRETREND_UNIT, PRETREND_MODEL, PRETREND_INDICATOR)
    ]
    # Computed wherever there is a comparison group and 3 years before the start; missing
    # for before/after-only pilots (no comparison mean).
    with_comparison = pilots[pilots["comparison"].isin(["never", "notyet"])]
    assert with_comparison["pretrend_flag"].notna().all()
    assert pilots.loc[pilots["comparison"] == "none", "pretrend_flag"].isna().all()
    # The planted pilot's model row carries the flag too.
    model = results[(results["scope"] == "model") & (results["model"] == PRETREND_MODEL)
                    & (results["indicator"] == PRETREND_INDICATOR)].iloc[0]
    assert bool(model["pretrend_flag"]) is True


def test_hodges_lehmann_estimates_lie_in_their_intervals(results):
    bounded = results[np.isfinite(results["ci_low"]) & np.isfinite(results["ci_high"])]
    assert len(bounded) >= 18  # every model row at least
    inside = (bounded["ci_low"] <= bounded["hl_estimate"]) & (
        bounded["hl_estimate"] <= bounded["ci_high"]
    )
    assert inside.all()
    # The contract's pooled mean of tuyengiao_ttct running costs carries the common upward
    # trend of its before/after pilots (+90 a year in the demo) and lies above its interval;
    # the ranks, and so the estimate, cancel it.
    row = results[(results["scope"] == "model") & (results["model"] == "tuyengiao_ttct")
                  & (results["indicator"] == "kinh_phi_hoat_dong")].iloc[0]
    assert row["did"] > row["ci_high"] >= row["hl_estimate"]


def test_result_columns_of_the_contract(results):
    contract = (
        "unit_code unit_name model indicator start g n_pre n_post pre_mean post_mean change "
        "pct_change did ci_low ci_high ci_level p_better p_worse p_two p_min n_assignments "
        "mc_error n_comparison comparison pretrend_flag start_sensitive mixed_models verdict "
        "reason_vi reason_en"
    ).split()
    assert set(contract) <= set(results.columns)
    # 5 danvan_mttq x 8 indicators + 12 tuyengiao_ttct x 10 indicators, by the catalog
    pilots = results[results["scope"] == "pilot"]
    assert len(pilots) == 5 * 8 + 12 * 10
    assert pd.Series(pilots["reason_vi"] != pilots["reason_en"]).all()
