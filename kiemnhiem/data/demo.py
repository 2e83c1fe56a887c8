"""The synthetic demonstration dataset: made-up figures with known, planted effects.

``make_demo`` builds it in memory (metadata, pilots, panel, README text and the planted truth);
``write_demo`` writes the dataset folder (``metadata.json``, ``pilots.csv``, ``panel.csv``,
``README.md``). Everything is drawn from one ``numpy.random.default_rng(seed)`` in a fixed order,
and written with fixed formatting, so the same seed gives the same bytes.

The default is Sơn La's 12 district-level units with the two models the provincial press
described (see ``context/DOMAIN.md``): only Phù Yên's and Quỳnh Nhai's starts come from the
article, every other start is assumed. ``units=N`` instead draws N real district-level units
from the national legacy list (whole provinces in a seeded order) for benchmarks.

How the values are made (per indicator, unit ``u`` and year ``t``)::

    Y[u, t] = (level[u] + slope[u] * (t - 2014)) * year_factor[t] + effect[u, t] + e[u, t]

with ``level`` scaled by the unit's size (Sơn La city is larger), ``slope`` a common trend plus
a small unit-specific one, ``e ~ N(0, sd**2)`` independent from year to year, then rounded by
the indicator's kind. Planted effects are multiples of that ``sd`` (see ``PLANTED_EFFECTS``).
The committee size ``so_uy_vien_bch`` is the exception: it only changes at the 2015 and 2020
congresses, by a rounded ``N(0, sd**2)`` draw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import ParameterError

FIRST_YEAR = 2014
LAST_YEAR = 2025
YEARS = np.arange(FIRST_YEAR, LAST_YEAR + 1)
DATA_END = date(2025, 6, 30)
# District Party congresses: the committee size changes only there. The 2020 congresses were
# over by August (the built-in event ``dai_hoi_2020``); a pilot started before that date had
# the merged post in place when the new committee was elected.
CONGRESS_YEARS = (2015, 2020)
CONGRESS_2020 = date(2020, 8, 1)
SON_LA = "14"
DEFAULT_SEED = 2018

DANVAN = "danvan_mttq"
TUYENGIAO = "tuyengiao_ttct"


@dataclass(frozen=True)
class IndicatorSpec:
    """How one indicator's synthetic values are drawn.

    Attributes
    ----------
    code, kind, aggregate : str
        As in ``data/catalog/indicators.csv``.
    base : float
        Level in 2014 for a unit of size 1.
    sd : float
        The year-to-year noise SD (for ``so_uy_vien_bch``: the SD of the change at a congress).
        Planted effects are stated in multiples of it.
    elasticity : float
        ``level = base * size ** elasticity * exp(N(0, level_sd**2))``.
    level_sd : float
        Spread of levels between units of the same size (log scale).
    trend, trend_sd : float
        Common yearly trend and SD of the unit-specific deviation from it (indicator units).
    year_factor : dict
        Common multiplicative shocks by year (COVID-19 in 2020-2021 for training).
    """

    code: str
    kind: str
    aggregate: str
    base: float
    sd: float
    elasticity: float = 1.0
    level_sd: float = 0.1
    trend: float = 0.0
    trend_sd: float = 0.0
    year_factor: dict = field(default_factory=dict)

    @property
    def digits(self) -> int:
        """Decimals written: whole counts, stocks and ratings; shares 2; amounts, days 1."""
        return {"share": 2, "amount": 1, "duration": 1}.get(self.kind, 0)


INDICATORS: tuple[IndicatorSpec, ...] = (
    IndicatorSpec("so_cuoc_hop", "count", "sum", 55, 2.5, 1.0, 0.10, -0.4, 0.12),
    IndicatorSpec("so_cuoc_kiem_tra_giam_sat", "count", "sum", 28, 1.5, 0.8, 0.12, 0.3, 0.08),
    IndicatorSpec("so_ngay_trien_khai", "duration", "mean", 14, 0.5, 0.3, 0.12, -0.15, 0.03),
    IndicatorSpec("so_uy_vien_bch", "stock", "last", 39, 0.5, 0.25, 0.05),
    IndicatorSpec("so_giang_vien_chuyen_trach", "stock", "last", 4, 0.5, 1.0, 0.15, 0.0, 0.02),
    IndicatorSpec(
        "so_lop_boi_duong", "count", "sum", 30, 2.5, 1.0, 0.15, 0.4, 0.4, {2020: 0.75, 2021: 0.85}
    ),
    # Trainees follow the courses: courses x class size (level ~ 55 a course) + N(0, 60**2).
    IndicatorSpec("so_hoc_vien", "count", "sum", 55, 60, 0.0, 0.10),
    IndicatorSpec("so_bien_che", "stock", "last", 24, 0.6, 0.7, 0.10, -0.35, 0.03),
    IndicatorSpec("so_lanh_dao", "stock", "last", 7, 0.4, 0.3, 0.08, -0.05, 0.01),
    IndicatorSpec("kinh_phi_hoat_dong", "amount", "sum", 2400, 60, 1.0, 0.12, 90, 3),
    IndicatorSpec("xep_loai", "rating", "last", 3.1, 0.45, 0.1, 0.05),
    IndicatorSpec("dat_chuan_co_so", "share", "last", 0.55, 0.03, 0.0, 0.15, 0.02, 0.008),
)
_SPEC = {s.code: s for s in INDICATORS}


@dataclass(frozen=True)
class PlantedEffect:
    """An effect added to every pilot of ``model`` on ``indicator``.

    ``effect_sd`` is in multiples of the indicator's noise SD. ``timing`` is ``"start"`` (from
    the calendar year T containing the start, the contract's treatment convention) or
    ``"congress_2020"`` (from 2020, only for pilots started before the 2020 congress).
    """

    model: str
    indicator: str
    effect_sd: float
    timing: str = "start"

    @property
    def sd(self) -> float:
        return _SPEC[self.indicator].sd

    @property
    def effect(self) -> float:
        """The effect in the indicator's own units (per year; half of it in 2025 for flows)."""
        return self.effect_sd * self.sd


PLANTED_EFFECTS: tuple[PlantedEffect, ...] = (
    PlantedEffect(DANVAN, "so_cuoc_hop", -4.0),
    PlantedEffect(DANVAN, "so_cuoc_kiem_tra_giam_sat", -4.0),
    PlantedEffect(TUYENGIAO, "so_giang_vien_chuyen_trach", 4.0),
    PlantedEffect(TUYENGIAO, "so_uy_vien_bch", -4.0, "congress_2020"),
)

# Pairs with no planted effect whose comparison units are clean (never in the model, no effect
# of their own), so the per-pilot difference in differences should find about zero.
NULL_PAIRS: tuple[tuple[str, str], ...] = (
    (DANVAN, "so_ngay_trien_khai"),
    (DANVAN, "kinh_phi_hoat_dong"),
    (DANVAN, "so_bien_che"),
)

# One pilot whose indicator drifts steadily, pre-period included: no effect, but a naive
# before/after or difference in differences would call it an improvement.
PRETREND_MODEL = DANVAN
PRETREND_INDICATOR = "so_ngay_trien_khai"
PRETREND_UNIT = "124"  # Yên Châu (default dataset; with ``units=N`` the first danvan pilot)
PRETREND_SLOPE_SD = -3.0  # per year, in noise SDs: -1.5 days a year
PRETREND_YEARS = (2014, 2023)  # the drift runs over the whole pre-period to 2023, zero mid-2018

# Tolerances for recovering the planted effects with the contract's per-pilot `did`, in noise
# SDs: per pilot |did - true| <= 3 SD (about 3 standard errors with 3 pre and 3 post years);
# the unweighted mean over a model's pilots within 1.5 SD.
TOLERANCE_PILOT_SD = 3.0
TOLERANCE_MODEL_SD = 1.5

ARTICLE = (
    "Bài báo “Kết quả bước đầu thực hiện mô hình kiêm nhiệm chức danh” (Việt Anh, báo địa "
    "phương tỉnh Sơn La, 2021)"
)
ASSUMED_SOURCE = "Giả định (dữ liệu minh họa tổng hợp, không có nguồn)"

# The default dataset's pilots: (unit, model, start, precision, status, source).
SON_LA_PILOTS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("116", DANVAN, "2019-01-01", "day", "assumed", ASSUMED_SOURCE),
    (
        "118",
        DANVAN,
        "2018",
        "year",
        "approximate",
        f"{ARTICLE}: “Sau gần 3 năm thực hiện mô hình” (tính đến giữa năm 2021)",
    ),
    ("121", DANVAN, "2018-10", "month", "assumed", ASSUMED_SOURCE),
    ("122", DANVAN, "2019-06", "month", "assumed", ASSUMED_SOURCE),
    ("124", DANVAN, "2019-04", "month", "assumed", ASSUMED_SOURCE),
    ("116", TUYENGIAO, "2018-11", "month", "assumed", ASSUMED_SOURCE),
    ("118", TUYENGIAO, "2019-01-01", "day", "assumed", ASSUMED_SOURCE),
    ("119", TUYENGIAO, "2020-01-01", "day", "assumed", ASSUMED_SOURCE),
    ("120", TUYENGIAO, "2020-03", "month", "assumed", ASSUMED_SOURCE),
    ("121", TUYENGIAO, "2018-10", "month", "assumed", ASSUMED_SOURCE),
    (
        "122",
        TUYENGIAO,
        "2018-08",
        "month",
        "documented",
        f"{ARTICLE}: “Việc kiêm nhiệm được thực hiện tại huyện Phù Yên từ tháng 8/2018”",
    ),
    ("123", TUYENGIAO, "2019-01-01", "day", "assumed", ASSUMED_SOURCE),
    ("124", TUYENGIAO, "2019-04", "month", "assumed", ASSUMED_SOURCE),
    ("125", TUYENGIAO, "2019-09", "month", "assumed", ASSUMED_SOURCE),
    ("126", TUYENGIAO, "2020-06", "month", "assumed", ASSUMED_SOURCE),
    ("127", TUYENGIAO, "2020-10", "month", "assumed", ASSUMED_SOURCE),
    ("128", TUYENGIAO, "2020-10", "month", "assumed", ASSUMED_SOURCE),
)

# Cells left empty (no row) in the default dataset: at most one year per unit and indicator,
# so every window keeps at least 2 usable years.
SON_LA_MISSING: tuple[tuple[str, str, int], ...] = (
    ("119", "so_cuoc_kiem_tra_giam_sat", 2017),
    ("120", "kinh_phi_hoat_dong", 2015),
    ("121", "so_cuoc_hop", 2021),
    ("126", "xep_loai", 2019),
    ("127", "so_giang_vien_chuyen_trach", 2018),
    ("127", "so_hoc_vien", 2016),
    ("128", "dat_chuan_co_so", 2014),
)
MISSING_SHARE = 0.05  # with ``units=N``: this share of unit x indicator pairs lose one year

# One unit reports meetings by month from this year on (all 12 months; January-June in 2025).
MONTHLY_UNIT = "125"  # Mai Sơn (default; with ``units=N`` the first unit without danvan)
MONTHLY_INDICATOR = "so_cuoc_hop"
MONTHLY_FROM = 2020
# Fewer meetings around Tết (January-February), more at year end (reviews).
_MONTH_WEIGHTS = np.array([1.0, 0.6, 1.0, 1.0, 1.0, 1.0, 1.0, 0.9, 1.0, 1.0, 1.0, 1.4])

DANVAN_SHARE = 5 / 12  # of units, with ``units=N``; tuyengiao_ttct runs everywhere
_TYPE_SIZE = {"Thành phố": 1.7, "Quận": 1.5, "Thị xã": 1.2}
_SIZE_SD = 0.12

_PILOT_COLUMNS = ["unit", "model", "start", "start_precision", "start_status", "end", "source"]
_PANEL_COLUMNS = ["unit", "period", "indicator", "value", "note"]
_NOTE_HALF_YEAR = "6 tháng đầu năm 2025"
_NOTE_MID_YEAR = "Số liệu tại 30/6/2025"
_NOTE_CONGRESS = {
    2015: "Đại hội Đảng bộ huyện nhiệm kỳ 2015-2020",
    2020: "Đại hội Đảng bộ huyện nhiệm kỳ 2020-2025",
}


# ---------------------------------------------------------------------------------------------
# Units and pilots
# ---------------------------------------------------------------------------------------------


def _units(rng: np.random.Generator, units: int | None) -> pd.DataFrame:
    from .units import unit_table

    table = unit_table()
    if units is None:
        return table[table["province_code"] == SON_LA].sort_values("code").reset_index(drop=True)
    total = len(table)
    if not 2 <= units <= total:
        raise ParameterError(
            f"Số đơn vị phải từ 2 đến {total} (số đơn vị cấp huyện trong danh sách cả nước); "
            f"đã nhận {units}.",
            f"The number of units must be between 2 and {total} (the district-level units in "
            f"the national list); got {units}.",
        )
    provinces = np.array(sorted(table["province_code"].unique()))
    order = provinces[rng.permutation(len(provinces))]
    by_province = {code: group for code, group in table.groupby("province_code", sort=True)}
    taken, left = [], units
    for code in order:
        group = by_province[code].sort_values("code")
        taken.append(group.iloc[:left])
        left -= len(taken[-1])
        if left == 0:
            break
    return pd.concat(taken).sort_values("code").reset_index(drop=True)


def _start_string(year: int, month: int, precision: str) -> str:
    if precision == "day":
        return f"{year}-{month:02d}-01"
    if precision == "month":
        return f"{year}-{month:02d}"
    return f"{year}"


def _draw_pilots(rng: np.random.Generator, codes: np.ndarray) -> pd.DataFrame:
    """Pilots for ``units=N``: danvan in about 5/12 of units, tuyengiao in all, 2018-2020."""
    n = len(codes)
    n_danvan = max(1, int(round(n * DANVAN_SHARE)))
    danvan = np.sort(rng.choice(n, size=n_danvan, replace=False))
    rows = []
    for model, index in ((DANVAN, danvan), (TUYENGIAO, np.arange(n))):
        m = len(index)
        month_index = rng.integers(0, 36, m)  # 2018-01 .. 2020-12
        kind = rng.random(m)
        years = 2018 + month_index // 12
        months = month_index % 12 + 1
        # 15 % start on 1 January (day precision, g = T); 10 % are known by year only
        # (approximate; only before 2020, so the 2020-congress rule stays decidable).
        precision = np.where(
            kind < 0.15, "day", np.where((kind < 0.25) & (years < 2020), "year", "month")
        )
        months = np.where(precision == "day", 1, months)
        for code, y, mo, p in zip(codes[index], years, months, precision):
            rows.append(
                (
                    code,
                    model,
                    _start_string(int(y), int(mo), str(p)),
                    str(p),
                    "approximate" if p == "year" else "assumed",
                    "",
                    ASSUMED_SOURCE,
                )
            )
    return pd.DataFrame(rows, columns=_PILOT_COLUMNS)


def _start_year_month(start: str) -> tuple[int, int]:
    parts = start.split("-")
    return int(parts[0]), (int(parts[1]) if len(parts) > 1 else 1)


def _treatment(pilots: pd.DataFrame, codes: np.ndarray, model: str) -> tuple[np.ndarray, ...]:
    """Per unit: T (start year, 0 if not a pilot) and whether it started before the congress."""
    index = {code: i for i, code in enumerate(codes)}
    first = np.zeros(len(codes), dtype=int)
    before_congress = np.zeros(len(codes), dtype=bool)
    for unit, start in pilots.loc[pilots["model"] == model, ["unit", "start"]].itertuples(
        index=False
    ):
        year, month = _start_year_month(start)
        first[index[unit]] = year
        before_congress[index[unit]] = date(year, month, 1) < CONGRESS_2020
    return first, before_congress


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


def _latent(spec: IndicatorSpec, size: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(size)
    level = spec.base * size**spec.elasticity * np.exp(rng.normal(0.0, spec.level_sd, n))
    slope = spec.trend + rng.normal(0.0, 1.0, n) * spec.trend_sd
    noise = rng.normal(0.0, spec.sd, (n, len(YEARS)))
    factor = np.array([spec.year_factor.get(int(y), 1.0) for y in YEARS])
    return (level[:, None] + slope[:, None] * (YEARS - FIRST_YEAR)[None, :]) * factor + noise


def _committee(spec: IndicatorSpec, size: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Whole members, changing only at the 2015 and 2020 congresses."""
    n = len(size)
    level = np.round(spec.base * size**spec.elasticity * np.exp(rng.normal(0.0, spec.level_sd, n)))
    change = np.round(rng.normal(0.0, spec.sd, (n, len(CONGRESS_YEARS))))
    change[:, 0] -= 1  # province-wide streamlining at the 2015 congress
    out = np.repeat(level[:, None], len(YEARS), axis=1)
    for j, year in enumerate(CONGRESS_YEARS):
        out[:, YEARS >= year] += change[:, j : j + 1]
    return out


def _finish(spec: IndicatorSpec, values: np.ndarray) -> np.ndarray:
    """Halve 2025 flows (January-June totals), then clip and round by kind."""
    values = values.copy()
    if spec.aggregate == "sum":
        values[:, YEARS == LAST_YEAR] *= 0.5
    low, high = {"rating": (1, 4), "share": (0, 1), "duration": (0.5, None)}.get(
        spec.kind, (0, None)
    )
    values = np.clip(values, low, high)
    return np.round(values, spec.digits) + 0.0  # + 0.0 turns -0.0 into 0.0


def _values(
    size: np.ndarray,
    pilots: pd.DataFrame,
    codes: np.ndarray,
    pretrend_unit: str,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Every indicator as a (unit x year) array, and the planted truth as a tidy frame."""
    latent: dict[str, np.ndarray] = {}
    for spec in INDICATORS:
        if spec.code == "so_uy_vien_bch":
            latent[spec.code] = _committee(spec, size, rng)
        elif spec.code == "so_hoc_vien":
            continue  # drawn from the courses below
        else:
            latent[spec.code] = _latent(spec, size, rng)

    truth = []
    for planted in PLANTED_EFFECTS:
        first, before_congress = _treatment(pilots, codes, planted.model)
        active = (first[:, None] > 0) & (YEARS[None, :] >= first[:, None])
        if planted.timing == "congress_2020":
            active &= (YEARS[None, :] >= 2020) & before_congress[:, None]
        latent[planted.indicator] = latent[planted.indicator] + planted.effect * active
        rows, cols = np.nonzero(active)
        truth.append(
            pd.DataFrame(
                {
                    "unit": codes[rows],
                    "model": planted.model,
                    "indicator": planted.indicator,
                    "year": YEARS[cols],
                    "component": "effect",
                    "value": planted.effect,
                }
            )
        )
    spec = _SPEC[PRETREND_INDICATOR]
    lo, hi = PRETREND_YEARS
    drift = PRETREND_SLOPE_SD * spec.sd * (np.clip(YEARS, lo, hi) - (lo + hi) / 2)
    unit_row = int(np.flatnonzero(codes == pretrend_unit)[0])
    latent[PRETREND_INDICATOR][unit_row] += drift
    truth.append(
        pd.DataFrame(
            {
                "unit": pretrend_unit,
                "model": PRETREND_MODEL,
                "indicator": PRETREND_INDICATOR,
                "year": YEARS,
                "component": "pretrend",
                "value": drift,
            }
        )
    )

    values = {code: _finish(_SPEC[code], arr) for code, arr in latent.items()}
    # Trainees: the (already halved) courses times a unit's class size, plus noise.
    hoc = _SPEC["so_hoc_vien"]
    class_size = hoc.base * np.exp(rng.normal(0.0, hoc.level_sd, len(size)))
    trainees = values["so_lop_boi_duong"] * class_size[:, None]
    trainees = trainees + rng.normal(0.0, hoc.sd, trainees.shape) * np.where(
        YEARS == LAST_YEAR, 0.5, 1.0
    )
    values["so_hoc_vien"] = np.round(np.clip(trainees, 0, None)) + 0.0
    # Annual ratings are given at year end: none for 2025, when the district level ended.
    values["xep_loai"][:, YEARS == LAST_YEAR] = np.nan
    truth_frame = pd.concat(truth, ignore_index=True)
    truth_frame["unit"] = truth_frame["unit"].astype(str)
    return {s.code: values[s.code] for s in INDICATORS}, truth_frame


def _long(values: dict[str, np.ndarray], codes: np.ndarray) -> pd.DataFrame:
    n, k = len(codes), len(YEARS)
    frames = []
    for code, arr in values.items():
        frames.append(
            pd.DataFrame(
                {
                    "unit": np.repeat(codes, k),
                    "year": np.tile(YEARS, n),
                    "indicator": code,
                    "value": arr.reshape(-1),
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    return frame[frame["value"].notna()].reset_index(drop=True)


def _monthly(
    values: dict[str, np.ndarray], codes: np.ndarray, unit: str, rng: np.random.Generator
) -> pd.DataFrame:
    """Split one unit's yearly totals into months (multinomial, seasonal weights)."""
    row = int(np.flatnonzero(codes == unit)[0])
    years = YEARS[YEARS >= MONTHLY_FROM]
    totals = values[MONTHLY_INDICATOR][row, YEARS >= MONTHLY_FROM].astype(np.int64)
    full = _MONTH_WEIGHTS / _MONTH_WEIGHTS.sum()
    half = _MONTH_WEIGHTS[:6] / _MONTH_WEIGHTS[:6].sum()
    records = []
    for year, total in zip(years, totals):
        weights = half if year == LAST_YEAR else full
        counts = rng.multinomial(int(total), weights)
        records += [(unit, f"{year}-{m + 1:02d}", c) for m, c in enumerate(counts)]
    frame = pd.DataFrame(records, columns=["unit", "period", "value"])
    frame["indicator"] = MONTHLY_INDICATOR
    frame["value"] = frame["value"].astype(float)
    frame["note"] = ""
    return frame


def _notes(panel: pd.DataFrame) -> pd.Series:
    aggregate = panel["indicator"].map({s.code: s.aggregate for s in INDICATORS})
    note = pd.Series("", index=panel.index, dtype=object)
    last = panel["year"] == LAST_YEAR
    note[last & (aggregate != "last")] = _NOTE_HALF_YEAR
    note[last & (aggregate == "last")] = _NOTE_MID_YEAR
    for year, text in _NOTE_CONGRESS.items():
        note[(panel["indicator"] == "so_uy_vien_bch") & (panel["year"] == year)] = text
    return note


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def make_demo(seed: int = DEFAULT_SEED, units: int | None = None) -> dict:
    """Build the synthetic dataset in memory.

    Parameters
    ----------
    seed : int
        Seed of the one ``numpy.random.default_rng`` every draw comes from.
    units : int or None
        None: Sơn La's 12 units with the pilots the article describes. N: N real district-level
        units from the national list (whole provinces in a seeded order, the last one trimmed),
        pilots in about the same share of units with similar starts.

    Returns
    -------
    dict
        ``metadata`` (dict, as written to ``metadata.json``), ``pilots`` (DataFrame, the
        contract's columns, all str), ``panel`` (DataFrame: unit, period, indicator, value
        (float), note; sorted), ``truth`` (DataFrame: unit, model, indicator, year, component
        ("effect" or "pretrend"), value: what was added, in the indicator's units; the 2025
        half-year flows carry half of it), ``readme`` (str), ``units`` (DataFrame: the units
        with names and provinces).

    Raises
    ------
    ParameterError
        If ``units`` is not between 2 and the size of the national list.
    """
    rng = np.random.default_rng(seed)
    table = _units(rng, units)
    codes = table["code"].to_numpy(dtype=object)
    factor = table["type"].map(_TYPE_SIZE).fillna(1.0).to_numpy(dtype=float)
    size = factor * np.exp(rng.normal(0.0, _SIZE_SD, len(codes)))

    if units is None:
        pilots = pd.DataFrame(
            [(u, m, s, p, st, "", src) for u, m, s, p, st, src in SON_LA_PILOTS],
            columns=_PILOT_COLUMNS,
        )
        pretrend_unit, monthly_unit = PRETREND_UNIT, MONTHLY_UNIT
    else:
        pilots = _draw_pilots(rng, codes)
        danvan_units = set(pilots.loc[pilots["model"] == DANVAN, "unit"])
        pretrend_unit = min(danvan_units)
        monthly_unit = next(c for c in codes if c not in danvan_units)
    order = {DANVAN: 0, TUYENGIAO: 1}
    pilots = (
        pilots.assign(_m=pilots["model"].map(order))
        .sort_values(["_m", "unit"], kind="stable")
        .drop(columns="_m")
        .reset_index(drop=True)
    )

    values, truth = _values(size, pilots, codes, pretrend_unit, rng)
    panel = _long(values, codes)

    if units is None:
        missing = pd.DataFrame(SON_LA_MISSING, columns=["unit", "indicator", "year"])
    else:
        missing = _draw_missing(rng, codes, pretrend_unit, monthly_unit)
    key = ["unit", "indicator", "year"]
    drop = panel[key].merge(missing, on=key, how="left", indicator=True)["_merge"] == "both"
    panel = panel[~drop.to_numpy()]

    monthly = _monthly(values, codes, monthly_unit, rng)
    replaced = (
        (panel["unit"] == monthly_unit)
        & (panel["indicator"] == MONTHLY_INDICATOR)
        & (panel["year"] >= MONTHLY_FROM)
    )
    panel = panel[~replaced].copy()
    panel["note"] = _notes(panel)
    panel["period"] = panel["year"].astype(str)
    panel = pd.concat([panel[_PANEL_COLUMNS], monthly[_PANEL_COLUMNS]], ignore_index=True)
    panel = panel.sort_values(["unit", "indicator", "period"], kind="stable").reset_index(drop=True)

    metadata = _metadata(seed, units, table)
    units_frame = table[["code", "name", "short", "type", "province_code", "province_name"]]
    readme = _readme(seed, units, table, pilots, missing, pretrend_unit, monthly_unit)
    return {
        "metadata": metadata,
        "pilots": pilots,
        "panel": panel,
        "truth": truth.sort_values(["model", "indicator", "unit", "year"]).reset_index(drop=True),
        "readme": readme,
        "units": units_frame.reset_index(drop=True),
    }


def write_demo(outdir: str | Path, seed: int = DEFAULT_SEED, units: int | None = None) -> Path:
    """Write the synthetic dataset folder and return its path.

    Writes ``metadata.json``, ``pilots.csv``, ``panel.csv`` and ``README.md`` (UTF-8, ``\\n``
    line ends, fixed number formats, sorted rows): the same ``seed`` gives the same bytes.

    Parameters
    ----------
    outdir : str or Path
        The folder to write (created if needed; those four files are replaced).
    seed, units
        As in :func:`make_demo`.
    """
    demo = make_demo(seed=seed, units=units)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(demo["metadata"], ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    _write_text(out / "metadata.json", text)
    _write_text(out / "pilots.csv", _csv(demo["pilots"]))
    panel = demo["panel"].copy()
    panel["value"] = format_values(panel)
    _write_text(out / "panel.csv", _csv(panel))
    _write_text(out / "README.md", demo["readme"])
    return out


def format_values(panel: pd.DataFrame) -> pd.Series:
    """The panel's values as written: whole numbers, or the kind's fixed decimals."""
    out = pd.Series("", index=panel.index, dtype=object)
    digits = panel["indicator"].map({s.code: s.digits for s in INDICATORS})
    for d in sorted(digits.unique()):
        mask = (digits == d).to_numpy()
        vals = panel.loc[mask, "value"].to_numpy(dtype=float)
        if d == 0:
            out[mask] = vals.astype(np.int64).astype(str)
        else:
            out[mask] = np.char.mod(f"%.{d}f", vals)
    return out


def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


def _write_text(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8"))


def _draw_missing(
    rng: np.random.Generator, codes: np.ndarray, pretrend_unit: str, monthly_unit: str
) -> pd.DataFrame:
    """``units=N``: one missing year in about 5 % of unit x indicator pairs."""
    indicators = np.array([s.code for s in INDICATORS], dtype=object)
    n, k = len(codes), len(indicators)
    count = max(1, int(round(MISSING_SHARE * n * k)))
    pick = rng.choice(n * k, size=count, replace=False)
    years = rng.integers(FIRST_YEAR, LAST_YEAR, count)  # 2014-2024
    frame = pd.DataFrame(
        {"unit": codes[pick // k], "indicator": indicators[pick % k], "year": years}
    )
    protected = ((frame["unit"] == pretrend_unit) & (frame["indicator"] == PRETREND_INDICATOR)) | (
        (frame["unit"] == monthly_unit) & (frame["indicator"] == MONTHLY_INDICATOR)
    )
    return frame[~protected].sort_values(["unit", "indicator"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Metadata and README
# ---------------------------------------------------------------------------------------------


def _command(seed: int, units: int | None) -> str:
    if units is None:
        return f"kiemnhiem demo data/demo --seed {seed}"
    return f"kiemnhiem demo OUTDIR --seed {seed} --units {units}"


def _metadata(seed: int, units: int | None, table: pd.DataFrame) -> dict:
    source = (
        f"Sinh tự động bởi kiemnhiem.data.demo, seed {seed} (lệnh: {_command(seed, units)}). "
        "Synthetic data generated by kiemnhiem.data.demo."
    )
    if units is None:
        source += (
            f" Ngày bắt đầu của Phù Yên (Tuyên giáo – Trung tâm chính trị) và Quỳnh Nhai (Dân vận"
            f" – MTTQ) theo {ARTICLE}; các ngày khác là giả định."
        )
        return {
            "name": "Dữ liệu minh họa (giả lập) – tỉnh Sơn La",
            "province": "Sơn La",
            "synthetic": True,
            "description": (
                "Dữ liệu TỔNG HỢP (giả lập), KHÔNG phải số liệu thật: 12 huyện, thành phố của tỉnh"
                " Sơn La, 2014 – 6/2025, hai mô hình kiêm nhiệm (Trưởng Ban Dân vận đồng thời là "
                "Chủ tịch Ủy ban MTTQ; Trưởng Ban Tuyên giáo đồng thời là Giám đốc Trung tâm chính"
                " trị). Các con số được sinh ngẫu nhiên, có cài sẵn tác động đã biết để minh họa "
                "và kiểm thử bộ công cụ kiemnhiem; năm 2025 chỉ có 6 tháng đầu năm."
            ),
            "source": source,
            "data_end": DATA_END.isoformat(),
        }
    n_prov = table["province_code"].nunique()
    return {
        "name": f"Dữ liệu minh họa (giả lập) – {len(table)} đơn vị cấp huyện, {n_prov} tỉnh",
        "synthetic": True,
        "description": (
            f"Dữ liệu TỔNG HỢP (giả lập), KHÔNG phải số liệu thật: {len(table)} đơn vị cấp huyện "
            f"thật của {n_prov} tỉnh, thành phố, 2014 – 6/2025, dùng để đo hiệu năng. Các con "
            "số và ngày bắt đầu thí điểm đều được sinh ngẫu nhiên."
        ),
        "source": source,
        "data_end": DATA_END.isoformat(),
    }


def _fmt(x: float, lang: str = "en", signed: bool = True) -> str:
    """A short number for the README: sign, no trailing zeros, decimal comma in Vietnamese."""
    text = (f"{x:+.2f}" if signed else f"{x:.2f}").rstrip("0").rstrip(".")
    text = text.replace("-", "−")
    return text.replace(".", ",") if lang == "vi" else text


def _effect_rows(lang: str) -> list[str]:
    timing = {
        "start": {"vi": "từ năm T (năm chứa ngày bắt đầu)", "en": "from year T (the start year)"},
        "congress_2020": {
            "vi": "từ Đại hội 2020, chỉ với thí điểm bắt đầu trước 01/8/2020",
            "en": "from the 2020 congress, only for pilots started before 2020-08-01",
        },
    }
    rows = []
    for p in PLANTED_EFFECTS:
        unit_word = _UNIT_WORDS[p.indicator][lang]
        rows.append(
            f"| `{p.model}` | `{p.indicator}` | {_fmt(p.sd, lang, False)} {unit_word} | "
            f"{_fmt(p.effect_sd, lang)} SD | {_fmt(p.effect, lang)} {unit_word} | "
            f"{timing[p.timing][lang]} |"
        )
    return rows


_UNIT_WORDS = {
    "so_cuoc_hop": {"vi": "cuộc/năm", "en": "meetings/year"},
    "so_cuoc_kiem_tra_giam_sat": {"vi": "cuộc/năm", "en": "inspections/year"},
    "so_ngay_trien_khai": {"vi": "ngày", "en": "days"},
    "so_uy_vien_bch": {"vi": "ủy viên", "en": "members"},
    "so_giang_vien_chuyen_trach": {"vi": "giảng viên", "en": "lecturers"},
    "kinh_phi_hoat_dong": {"vi": "triệu đồng/năm", "en": "million VND/year"},
    "so_bien_che": {"vi": "biên chế", "en": "posts"},
}


def _readme(
    seed: int,
    units: int | None,
    table: pd.DataFrame,
    pilots: pd.DataFrame,
    missing: pd.DataFrame,
    pretrend_unit: str,
    monthly_unit: str,
) -> str:
    names = dict(zip(table["code"], table["name"]))
    cmd = _command(seed, units)
    pre = _SPEC[PRETREND_INDICATOR]
    slope_units = PRETREND_SLOPE_SD * pre.sd
    lo, hi = PRETREND_YEARS
    n_units, n_prov = len(table), table["province_code"].nunique()
    where_vi = (
        "12 huyện, thành phố của tỉnh Sơn La (mã 116, 118–128)"
        if units is None
        else f"{n_units} đơn vị cấp huyện thật của {n_prov} tỉnh, thành phố (theo mã)"
    )
    where_en = (
        "Sơn La's 12 district-level units (codes 116, 118-128)"
        if units is None
        else f"{n_units} real district-level units from {n_prov} provinces (by code)"
    )
    null_pairs = ", ".join(f"`{m}` × `{i}`" for m, i in NULL_PAIRS)

    lines = [
        "# Dữ liệu minh họa (giả lập) / Synthetic demonstration dataset",
        "",
        "**Đây là dữ liệu TỔNG HỢP, không phải số liệu thật. / This is SYNTHETIC data, not real "
        "figures.**",
        "",
        "## Tiếng Việt",
        "",
        f"- Sinh bằng lệnh `{cmd}` (hàm `kiemnhiem.data.demo.write_demo`, seed {seed}); cùng seed "
        "cho cùng từng byte.",
        f"- Đơn vị: {where_vi}. Năm 2014–2025; năm 2025 chỉ có 6 tháng đầu (cấp huyện kết thúc "
        "30/6/2025, `data_end` 2025-06-30): chỉ tiêu cộng dồn ghi tổng 6 tháng, chỉ tiêu thời "
        "điểm ghi số tại 30/6, không có xếp loại năm 2025.",
        f"- Đơn vị {monthly_unit} ({names[monthly_unit]}) ghi `{MONTHLY_INDICATOR}` theo tháng "
        f"từ {MONTHLY_FROM} (đủ 12 tháng; năm 2025 tháng 1–6).",
        "- `so_uy_vien_bch` chỉ thay đổi tại Đại hội 2015 và 2020.",
        "- Tác động cài sẵn (SD = độ lệch chuẩn nhiễu từ năm này sang năm khác của chỉ tiêu; "
        "với `so_uy_vien_bch` là độ lệch chuẩn của thay đổi tại mỗi đại hội):",
        "",
        "| mô hình | chỉ tiêu | SD | tác động (SD) | tác động | áp dụng |",
        "|---|---|---|---|---|---|",
        *_effect_rows("vi"),
        "",
        f"- Không có tác động ở mọi cặp thí điểm × chỉ tiêu khác; trong đó {null_pairs} có "
        "nhóm so sánh sạch nên ước lượng phải gần 0.",
        f"- Xu hướng trước can thiệp cài sẵn: đơn vị {pretrend_unit} ({names[pretrend_unit]}), "
        f"`{PRETREND_MODEL}` × `{PRETREND_INDICATOR}` giảm đều {_fmt(PRETREND_SLOPE_SD, 'vi')} "
        f"SD ({_fmt(slope_units, 'vi')} ngày) mỗi năm từ {lo} đến {hi}, không có tác động "
        "thật: kiểm tra xu hướng trước (`pretrend_flag`) phải gắn cờ, và không gắn cờ thí "
        "điểm nào khác có nhóm so sánh.",
        f"- Sai số cho phép: `did` của từng thí điểm (trung bình qua các năm hậu kỳ dùng được "
        "của thay đổi so với trung bình tiền kỳ, trừ thay đổi trung bình của nhóm so sánh) "
        f"nằm trong ±{_fmt(TOLERANCE_PILOT_SD, 'vi', False)} SD của tác động thật trung bình trên "
        "các năm hậu kỳ đó (khoảng 3 sai số chuẩn khi có 3 năm tiền kỳ, 3 năm hậu kỳ); trung "
        f"bình của mô hình trong ±{_fmt(TOLERANCE_MODEL_SD, 'vi', False)} SD. Tác động lên "
        "`so_uy_vien_bch` bắt đầu từ 2020: thí điểm có hậu kỳ bắt đầu năm 2019 chỉ mang 2/3 tác "
        "động, thí điểm bắt đầu sau đại hội không có. Với seed khác, vài trong khoảng 50 phép "
        "kiểm tra có thể vượt ngưỡng (mỗi ngưỡng là dải khoảng 3 sai số chuẩn).",
        "",
        "## English",
        "",
        f"- Generated by `{cmd}` (`kiemnhiem.data.demo.write_demo`, seed {seed}); "
        "the same seed gives "
        "the same bytes. One `numpy.random.default_rng(seed)`, nothing else random.",
        f"- Units: {where_en}. Years 2014-2025; 2025 is partial (the district level ended on "
        "2025-06-30, `data_end`): flows (sum) hold January-June totals, means the half-year "
        "mean, stocks the value at 30 June; no 2025 rating.",
        f"- Unit {monthly_unit} ({names[monthly_unit]}) reports `{MONTHLY_INDICATOR}` by month "
        f"from {MONTHLY_FROM} (all 12 months; January-June in 2025); they sum to the year.",
        "- `so_uy_vien_bch` changes only at the 2015 and 2020 congresses (a province-wide -1 in "
        "2015, plus each unit's rounded N(0, SD²) change at each congress).",
        "- Values: level by unit size (Sơn La city about 1.7 times a district) + common and "
        "unit-specific linear trends + N(0, SD²) noise each year, rounded by kind (whole counts "
        "and stocks, ratings 1-4, shares 0-1 with 2 decimals, amounts and days 1 decimal). "
        "Training courses and trainees dip in 2020-2021 (COVID-19).",
        "- Planted effects (SD = the indicator's year-to-year noise SD; for `so_uy_vien_bch` the "
        "SD of the change at each congress):",
        "",
        "| model | indicator | SD | effect (SD) | effect | applies |",
        "|---|---|---|---|---|---|",
        *_effect_rows("en"),
        "",
        f"- No effect on any other pilot × indicator pair; of these, {null_pairs} have clean "
        "comparison units, so their estimates should be near 0. Indicators both models concern "
        "(meetings, staff, posts, costs) mix the two models: the `tuyengiao_ttct` estimate on "
        "meetings carries the `danvan_mttq` effect of the units running both.",
        f"- Planted pre-trend: unit {pretrend_unit} ({names[pretrend_unit]}), "
        f"`{PRETREND_MODEL}` × `{PRETREND_INDICATOR}` falls steadily by "
        f"{_fmt(PRETREND_SLOPE_SD)} SD ({_fmt(slope_units)} days) a year from {lo} to {hi} "
        "(pre-period included) with no true effect: its `did` looks like an improvement, and "
        "the pre-trend check (`pretrend_flag`) must flag it, and no other pilot with a "
        "comparison group.",
        "- Tolerance: the contract's per-pilot `did` (mean over the usable post-window years of "
        "the pilot's change from its pre-window mean minus the comparison units' mean change) "
        f"is within ±{TOLERANCE_PILOT_SD:g} SD of the true effect averaged over those same "
        f"years (about 3 standard errors with 3 pre and 3 post years), and the unweighted mean "
        f"over a model's pilots within ±{TOLERANCE_MODEL_SD:g} SD of the mean true effect. "
        "The `so_uy_vien_bch` effect starts in 2020, so a pilot whose post window starts in "
        "2019 carries 2/3 of it; pilots started after the congress carry none. "
        "`tests/data/test_demo.py::test_planted_effects_recovered` checks this for seed 2018; "
        "with another seed a few of the ~50 checks may fall outside (each band is about 3 standard "
        "errors).",
        "",
    ]
    if units is None:
        status_vi = {"documented": "có tài liệu", "approximate": "ước lượng", "assumed": "giả định"}
        lines += [
            "## Thí điểm / Pilots",
            "",
            "| mã / code | đơn vị / unit | mô hình / model | bắt đầu / start | độ chính xác / "
            "precision | trạng thái / status |",
            "|---|---|---|---|---|---|",
        ]
        for rec in pilots.itertuples(index=False):
            lines.append(
                f"| {rec.unit} | {names[rec.unit]} | `{rec.model}` | {rec.start} | "
                f"{rec.start_precision} | {rec.start_status} ({status_vi[rec.start_status]}) |"
            )
        lines += [
            "",
            "Phù Yên `tuyengiao_ttct` 2018-08 (documented): “Việc kiêm nhiệm được thực hiện tại "
            "huyện Phù Yên từ tháng 8/2018”. Quỳnh Nhai `danvan_mttq` 2018 (approximate): “Sau "
            "gần 3 năm thực hiện mô hình” as of mid-2021. Every other start is assumed. "
            "A start on 1 January with day precision has g = T; otherwise g = T + 1.",
            "",
        ]
    else:
        counts = pilots.groupby(["model", "start_precision"]).size()
        lines += ["## Thí điểm / Pilots", ""]
        for (model, precision), count in counts.items():
            lines.append(f"- `{model}`, {precision}: {count}")
        lines += [
            "",
            f"`danvan_mttq` in about {DANVAN_SHARE:.0%} of units, `tuyengiao_ttct` in all; "
            "starts drawn uniformly over 2018-01 to 2020-12 (15 % on 1 January, day precision; "
            "10 % of those before 2020 by year only, approximate; the rest by month, assumed).",
            "",
        ]
    lines += [
        "## Ô thiếu / Missing cells",
        "",
        f"{len(missing)} ô không có số liệu (không có dòng) / cells with no data (no row):",
        "",
    ]
    if units is None:
        for rec in missing.itertuples(index=False):
            lines.append(f"- {rec.unit} ({names[rec.unit]}), `{rec.indicator}`, {rec.year}")
    else:
        lines.append(
            f"one year in about {MISSING_SHARE:.0%} of unit × indicator pairs, never two in one "
            "pair, so every window keeps at least 2 usable years."
        )
    lines.append("")
    return "\n".join(lines)
