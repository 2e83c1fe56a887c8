"""Hand-made result rows and catalogs shared by the report layer's tests.

Small enough to read: four indicators of one pilot (a count, an amount, a share, a rating), the
summary's pilots and pooled rows with hand-picked verdicts, and a dataset with known gaps.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

INDICATORS = pd.DataFrame(
    {
        "code": ["so_cuoc_hop", "kinh_phi", "ty_le", "xep_loai"],
        "label_vi": ["Số cuộc họp", "Kinh phí", "Tỷ lệ đạt chuẩn", "Xếp loại"],
        "label_en": ["Meetings", "Running costs", "Share up to standard", "Rating"],
        "unit_vi": ["cuộc", "triệu đồng", "tỷ lệ", "bậc"],
        "unit_en": ["meetings", "million VND", "share", "grade"],
        "kind": ["count", "amount", "share", "rating"],
        "better": ["lower", "lower", "higher", "higher"],
        "description_vi": ["Số cuộc họp trong năm.", "", "", ""],
        "description_en": ["Meetings in the year.", "", "", ""],
    }
)


MODELS = pd.DataFrame(
    {
        "code": ["tuyengiao_ttct"],
        "label_vi": ["Tuyên giáo kiêm Trung tâm chính trị"],
        "label_en": ["Propaganda head also training centre director"],
    }
)


PILOTS = pd.DataFrame(
    {
        "unit_code": ["122"],
        "model": ["tuyengiao_ttct"],
        "start_precision": ["month"],
        "start_status": ["documented"],
    }
)


FULL_MODELS = pd.DataFrame(
    {
        "code": ["tuyengiao_ttct", "danvan_mttq"],
        "label_vi": ["Tuyên giáo kiêm Trung tâm chính trị", "Dân vận kiêm Mặt trận"],
        "label_en": [
            "Propaganda head also training centre director",
            "Mobilization head also Front chair",
        ],
        "post_a_vi": ["Trưởng Ban Tuyên giáo huyện ủy", "Trưởng Ban Dân vận huyện ủy"],
        "post_b_vi": ["Giám đốc Trung tâm chính trị", "Chủ tịch Ủy ban MTTQ huyện"],
        "post_a_en": ["Head of Propaganda", "Head of Mass Mobilization"],
        "post_b_en": ["Director of the Training Centre", "Chair of the Front"],
    }
)


HOSTILE = "<script>alert(1)</script>"


def pilot_results() -> pd.DataFrame:
    base = {
        "unit_code": "122",
        "unit_name": "Huyện Phù Yên",
        "model": "tuyengiao_ttct",
        "start": pd.Timestamp("2018-08-01"),
        "g": 2019,
        "comparison": "never",
        "n_comparison": 7,
        "ci_level": 0.9,
        "pre_years_used": "2015;2016;2017",
        "post_years_used": "2019;2020;2021",
        "n_pre": 3,
        "n_post": 3,
        "mixed_models": False,
        "pretrend_flag": pd.NA,
        "start_sensitive": False,
        "reason_vi": "",
        "reason_en": "",
    }
    rows = [
        {
            "indicator": "so_cuoc_hop",
            "pre_mean": 12.34,
            "post_mean": 9.87,
            "change": -2.47,
            "pct_change": -0.2,
            "did": -1.96,
            "verdict": "improved",
            "status": "assessed",
        },
        {
            "indicator": "kinh_phi",
            "pre_mean": 2090.07,
            "post_mean": 2438.57,
            "change": 348.5,
            "pct_change": 0.1667,
            "did": 9.36,
            "verdict": "no_clear_change",
            "status": "assessed",
        },
        {
            "indicator": "ty_le",
            "pre_mean": 0.5,
            "post_mean": 0.625,
            "change": 0.125,
            "pct_change": np.nan,
            "did": 0.031,
            "verdict": "not_assessed",
            "status": "estimate_only",
            "pre_years_used": "2015;2017",
        },
        {
            "indicator": "xep_loai",
            "pre_mean": 2.5,
            "post_mean": 3.25,
            "change": 0.75,
            "pct_change": np.nan,
            "did": 0.5,
            "verdict": "not_assessed",
            "status": "not_assessed",
            "post_years_used": "",
        },
    ]
    return pd.DataFrame([{**base, **r} for r in rows])


def detail_row(**changes) -> pd.Series:
    row = pilot_results().iloc[0].copy()
    row["did_years_used"] = "2019;2020;2021"
    row["ci_level"], row["ci_low"], row["ci_high"] = 0.9, -math.inf, math.inf
    row["p_better"], row["p_worse"], row["p_min"] = 0.125, 1.0, 0.125
    row["n_assignments"], row["inference"], row["mc_error"] = 8, "exact", np.nan
    for key, value in changes.items():
        row[key] = value
    return row


def quality_dataset():
    """Unit 122, start 08/2018 (documented): pre window 2015-2017, post 2019-2021. Meetings
    lack 2016 and 2021 has six months only (partial, so left out); the rating has no data."""
    from kiemnhiem.data.dataset import Dataset

    months = [(f"2021-{m:02d}", "month", 2021, m) for m in range(1, 7)]
    rows = [(str(y), "year", y, 0) for y in (2015, 2017, 2019, 2020)] + months
    panel = pd.DataFrame(
        {
            "unit_code": "122",
            "period": [r[0] for r in rows],
            "freq": [r[1] for r in rows],
            "year": [r[2] for r in rows],
            "sub": [r[3] for r in rows],
            "indicator": "so_cuoc_hop",
            "value": 10.0,
            "note": "",
        }
    )
    indicators = INDICATORS.assign(aggregate=["sum", "sum", "last", "last"])
    pilots = PILOTS.assign(start=pd.Timestamp("2018-08-01"), end=pd.NaT)
    empty = pd.DataFrame()
    return Dataset(
        name="t",
        province_code="14",
        province_name="Sơn La",
        synthetic=True,
        description="",
        source="",
        data_end=None,
        panel=panel,
        pilots=pilots,
        units=empty,
        models=MODELS,
        indicators=indicators,
        events=empty,
        comments=empty,
    )


def all_results() -> pd.DataFrame:
    """Two pilots of danvan_mttq on two indicators, one of tuyengiao_ttct on one, and the pooled
    rows; the verdicts as hand-picked codes."""
    rows = [
        ("pilot", "118", "Huyện Quỳnh Nhai", "danvan_mttq", "so_cuoc_hop", "no_clear_change"),
        ("pilot", "118", "Huyện Quỳnh Nhai", "danvan_mttq", "xep_loai", "not_assessed"),
        ("pilot", "122", f"Huyện {HOSTILE}", "danvan_mttq", "so_cuoc_hop", "improved"),
        ("pilot", "122", f"Huyện {HOSTILE}", "danvan_mttq", "xep_loai", "worsened"),
        ("model", "*", "", "danvan_mttq", "so_cuoc_hop", "improved"),
        ("model", "*", "", "danvan_mttq", "xep_loai", "no_clear_change"),
        ("pilot", "122", f"Huyện {HOSTILE}", "tuyengiao_ttct", "ty_le", "changed"),
        ("model", "*", "", "tuyengiao_ttct", "ty_le", "not_assessed"),
    ]
    frame = pd.DataFrame(
        rows, columns=["scope", "unit_code", "unit_name", "model", "indicator", "verdict"]
    )
    frame["status"] = np.where(frame["verdict"] == "not_assessed", "not_assessed", "assessed")
    frame["reason_vi"] = "Lý do."
    frame["reason_en"] = "Reason."
    return frame
