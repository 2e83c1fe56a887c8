"""The synthetic demonstration dataset: reproducible bytes, the article's facts, value rules by
kind, the partial year 2025, ``units=N``, and the planted effects recovered by a per-pilot
difference in differences computed here with plain pandas.

Expected values come from the planted parameters as ``data/demo/README.md`` states them (written
out below by hand), never from the generator's output.
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from kiemnhiem.data.demo import make_demo, write_demo
from kiemnhiem.exceptions import ParameterError
from kiemnhiem.resources import catalog_dir

FILES = ("README.md", "metadata.json", "panel.csv", "pilots.csv")
SON_LA_CODES = ["116", "118", "119", "120", "121", "122", "123", "124", "125", "126", "127", "128"]
DANVAN_UNITS = {"121", "124", "118", "122", "116"}  # Bắc Yên, Yên Châu, Quỳnh Nhai, Phù Yên, TP
FLOW_AGGREGATES = ("sum", "mean")

# The planted effects as the README states them: (model, indicator) -> (effect in the
# indicator's units, noise SD, timing). The null pairs have clean comparison units.
PLANTED = {
    ("danvan_mttq", "so_cuoc_hop"): (-10.0, 2.5, "start"),
    ("danvan_mttq", "so_cuoc_kiem_tra_giam_sat"): (-6.0, 1.5, "start"),
    ("tuyengiao_ttct", "so_giang_vien_chuyen_trach"): (2.0, 0.5, "start"),
    ("tuyengiao_ttct", "so_uy_vien_bch"): (-2.0, 0.5, "congress_2020"),
    ("danvan_mttq", "so_ngay_trien_khai"): (0.0, 0.5, "none"),
    ("danvan_mttq", "kinh_phi_hoat_dong"): (0.0, 60.0, "none"),
    ("danvan_mttq", "so_bien_che"): (0.0, 0.6, "none"),
}
TOL_PILOT_SD = 3.0
TOL_MODEL_SD = 1.5
PRETREND = ("124", "danvan_mttq", "so_ngay_trien_khai")  # Yên Châu, -1.5 days a year
CONGRESS_2020 = date(2020, 8, 1)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    return write_demo(tmp_path_factory.mktemp("demo") / "a")


@pytest.fixture(scope="module")
def pilots(demo_dir):
    return pd.read_csv(demo_dir / "pilots.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def panel(demo_dir):
    frame = pd.read_csv(demo_dir / "panel.csv", dtype=str, keep_default_na=False)
    frame["year"] = frame["period"].str[:4].astype(int)
    frame["x"] = frame["value"].astype(float)
    return frame


@pytest.fixture(scope="module")
def catalog():
    return pd.read_csv(catalog_dir() / "indicators.csv", dtype=str, keep_default_na=False)


# ---------------------------------------------------------------------------------------------
# Bytes and files
# ---------------------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes(tmp_path, demo_dir):
    other = write_demo(tmp_path / "b", seed=2018)
    assert sorted(p.name for p in other.iterdir()) == sorted(FILES)
    for name in FILES:
        data = (other / name).read_bytes()
        assert data == (demo_dir / name).read_bytes(), name
        assert b"\r" not in data
        data.decode("utf-8")


def test_different_seed_differs(tmp_path, demo_dir):
    other = write_demo(tmp_path / "c", seed=2019)
    assert (other / "panel.csv").read_bytes() != (demo_dir / "panel.csv").read_bytes()


def test_bundled_demo_is_the_default_output(demo_dir):
    """data/demo/ is exactly what `kiemnhiem demo data/demo --seed 2018` writes."""
    from kiemnhiem.resources import demo_dir as bundled

    for name in FILES:
        assert (bundled() / name).read_bytes() == (demo_dir / name).read_bytes(), name


def test_metadata(demo_dir):
    text = (demo_dir / "metadata.json").read_text(encoding="utf-8")
    meta = json.loads(text)
    assert text == json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    assert set(meta) == {"name", "province", "synthetic", "description", "source", "data_end"}
    assert meta["province"] == "Sơn La"
    assert meta["synthetic"] is True
    assert meta["data_end"] == "2025-06-30"
    assert "giả lập" in meta["description"]


def test_written_dataset_loads(demo_dir):
    from kiemnhiem.data.dataset import load_dataset

    ds = load_dataset(demo_dir, today=date(2026, 1, 1))
    assert ds.synthetic and ds.province_code == "14"
    assert ds.units["unit_code"].tolist() == SON_LA_CODES
    assert len(ds.pilots) == 17


# ---------------------------------------------------------------------------------------------
# Pilots
# ---------------------------------------------------------------------------------------------


def test_pilot_columns_and_counts(pilots):
    assert list(pilots.columns) == [
        "unit",
        "model",
        "start",
        "start_precision",
        "start_status",
        "end",
        "source",
    ]
    assert len(pilots) == 17
    assert set(pilots.loc[pilots["model"] == "danvan_mttq", "unit"]) == DANVAN_UNITS
    assert sorted(pilots.loc[pilots["model"] == "tuyengiao_ttct", "unit"]) == SON_LA_CODES
    assert (pilots["end"] == "").all()
    assert set(pilots["start_precision"]) == {"day", "month", "year"}


def test_article_facts(pilots):
    by = pilots.set_index(["unit", "model"])
    phu_yen = by.loc[("122", "tuyengiao_ttct")]
    assert (phu_yen["start"], phu_yen["start_precision"], phu_yen["start_status"]) == (
        "2018-08",
        "month",
        "documented",
    )
    assert "từ tháng 8/2018" in phu_yen["source"]
    quynh_nhai = by.loc[("118", "danvan_mttq")]
    assert (quynh_nhai["start"], quynh_nhai["start_precision"]) == ("2018", "year")
    assert quynh_nhai["start_status"] == "approximate"
    assert "gần 3 năm" in quynh_nhai["source"]
    others = pilots.drop(index=pilots.index[pilots["start_status"] != "assumed"])
    assert len(others) == 15


def test_starts_are_staggered(pilots):
    years = pilots["start"].str[:4].astype(int)
    assert years.between(2018, 2020).all()
    tuyengiao = pilots[pilots["model"] == "tuyengiao_ttct"]
    assert set(tuyengiao["start"].str[:4]) == {"2018", "2019", "2020"}
    jan_first = pilots[
        (pilots["start_precision"] == "day") & pilots["start"].str.endswith("-01-01")
    ]
    assert len(jan_first) >= 1  # g = T for these
    assert {"2018", "2019", "2020"} <= set(
        pilots.loc[pilots["start_precision"] == "month", "start"].str[:4]
    )


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


def test_every_indicator_for_every_unit(panel, catalog):
    assert set(panel["indicator"]) == set(catalog["code"])
    assert sorted(panel["unit"].unique()) == SON_LA_CODES
    counts = panel[panel["period"].str.len() == 4].groupby(["unit", "indicator"]).size()
    assert len(counts) == 12 * len(catalog)
    assert counts.min() >= 5


def test_values_by_kind(panel, catalog):
    kind = panel["indicator"].map(dict(zip(catalog["code"], catalog["kind"])))
    x, text = panel["x"], panel["value"]
    assert (x >= 0).all()
    whole = kind.isin(["count", "stock", "rating"])
    assert (x[whole] == x[whole].round()).all()
    assert not text[whole].str.contains(r"\.").any()
    assert x[kind == "rating"].isin([1, 2, 3, 4]).all()
    assert x[kind == "share"].between(0, 1).all()
    assert text[kind == "share"].str.fullmatch(r"[01]\.\d\d").all()
    assert text[kind.isin(["amount", "duration"])].str.fullmatch(r"\d+\.\d").all()


def test_committee_changes_only_at_congresses(panel):
    bch = panel[panel["indicator"] == "so_uy_vien_bch"]
    for lo, hi in ((2015, 2019), (2020, 2025)):
        term = bch[bch["year"].between(lo, hi)]
        assert (term.groupby("unit")["x"].nunique() == 1).all(), (lo, hi)


def test_city_is_largest(panel):
    early = panel[panel["year"].between(2014, 2017) & (panel["period"].str.len() == 4)]
    means = early.groupby(["indicator", "unit"])["x"].mean()
    for indicator in ("so_bien_che", "so_cuoc_hop", "so_hoc_vien", "so_giang_vien_chuyen_trach"):
        assert means[indicator].idxmax() == "116", indicator


def test_2025_is_partial(panel, catalog):
    assert panel["year"].max() == 2025
    months = panel.loc[panel["period"].str.len() == 7, "period"]
    assert months.max() == "2025-06"
    aggregate = dict(zip(catalog["code"], catalog["aggregate"]))
    yearly = panel[panel["period"].str.len() == 4]
    by_year = yearly.pivot_table(index=["indicator", "unit"], columns="year", values="x")
    for indicator, agg in aggregate.items():
        ratio = (by_year.loc[indicator, 2025] / by_year.loc[indicator, 2024]).dropna()
        if agg == "sum":  # a half-year total
            assert ratio.between(0.25, 0.75).all(), indicator
        elif indicator != "xep_loai":  # mid-year stocks and half-year means: a full level
            assert ratio.median() > 0.8, indicator
    assert 2025 not in set(yearly.loc[yearly["indicator"] == "xep_loai", "year"])


def test_monthly_periods(panel):
    monthly = panel[panel["period"].str.len() == 7]
    assert set(zip(monthly["unit"], monthly["indicator"])) == {("125", "so_cuoc_hop")}
    per_year = monthly.groupby("year")["period"].apply(lambda s: sorted(s.str[5:]))
    for year, months in per_year.items():
        expected = 6 if year == 2025 else 12
        assert months == [f"{m:02d}" for m in range(1, expected + 1)], year
    yearly = panel[(panel["unit"] == "125") & (panel["indicator"] == "so_cuoc_hop")]
    yearly = yearly[yearly["period"].str.len() == 4]
    assert not set(yearly["year"]) & set(per_year.index)  # never both for one year


def test_missing_cells_are_few_and_harmless(panel, pilots):
    yearly = panel[panel["period"].str.len() == 4]
    present = yearly.groupby(["unit", "indicator"])["year"].apply(set)
    missing = {
        (u, i, y)
        for (u, i), years in present.items()
        for y in range(2014, 2026)
        if y not in years
        and not (i == "xep_loai" and y == 2025)
        and not (u == "125" and i == "so_cuoc_hop" and y >= 2020)
    }
    assert 3 <= len(missing) <= 12
    assert len({(u, i) for u, i, _ in missing}) == len(missing)  # one year per pair at most
    wide = annual(panel)
    for rec in pilots.itertuples(index=False):
        start = _start(rec)
        for indicator in ("so_cuoc_hop", "so_giang_vien_chuyen_trach", "kinh_phi_hoat_dong"):
            row = wide.loc[(indicator, rec.unit)]
            pre = [t for t in range(start["T"] - 3, start["T"]) if pd.notna(row.get(t))]
            post = [t for t in range(start["g"], start["g"] + 3) if pd.notna(row.get(t))]
            assert len(pre) >= 2 and len(post) >= 2, (rec.unit, rec.model, indicator)


# ---------------------------------------------------------------------------------------------
# units=N
# ---------------------------------------------------------------------------------------------


def test_units_draws_whole_provinces():
    from kiemnhiem.data.units import unit_table

    demo = make_demo(seed=7, units=40)
    codes = demo["panel"]["unit"].unique()
    assert len(codes) == 40 and all(len(c) == 3 for c in codes)
    table = unit_table().set_index("code")
    provinces = table.loc[list(codes), "province_code"]
    assert provinces.nunique() >= 2
    full = table["province_code"].value_counts()
    trimmed = [p for p, n in provinces.value_counts().items() if n != full[p]]
    assert len(trimmed) <= 1
    assert "province" not in demo["metadata"] or demo["metadata"]["province"] is None
    pilots = demo["pilots"]
    assert sorted(pilots.loc[pilots["model"] == "tuyengiao_ttct", "unit"]) == sorted(codes)
    n_danvan = (pilots["model"] == "danvan_mttq").sum()
    assert 12 <= n_danvan <= 22  # about 5 in 12
    assert pilots["start"].str[:4].astype(int).between(2018, 2020).all()


def test_units_out_of_range():
    with pytest.raises(ParameterError):
        make_demo(units=100_000)
    with pytest.raises(ParameterError):
        make_demo(units=1)


# ---------------------------------------------------------------------------------------------
# Planted effects, recovered by the contract's per-pilot difference in differences
# ---------------------------------------------------------------------------------------------


def annual(panel: pd.DataFrame) -> pd.DataFrame:
    """Yearly values (indicator, unit) x year: months summed when all 12 are present; 2025 flows
    left out (partial: data_end 2025-06-30), 2025 stocks kept."""
    flows = set(_catalog_codes("aggregate", FLOW_AGGREGATES))
    is_month = panel["period"].str.len() == 7
    months = panel[is_month].groupby(["indicator", "unit", "year"])["x"].agg(["sum", "size"])
    months = months[months["size"] == 12].rename(columns={"sum": "x"}).reset_index()
    years = pd.concat([panel.loc[~is_month, ["indicator", "unit", "year", "x"]], months])
    years = years[~((years["year"] == 2025) & years["indicator"].isin(flows))]
    return years.pivot_table(index=["indicator", "unit"], columns="year", values="x")


def _catalog_codes(column: str, values: tuple[str, ...]) -> list[str]:
    cat = pd.read_csv(catalog_dir() / "indicators.csv", dtype=str, keep_default_na=False)
    return cat.loc[cat[column].isin(values), "code"].tolist()


def _start(rec) -> dict:
    """T = the start's calendar year; g = T only for a day-precision 1 January start."""
    year = int(rec.start[:4])
    month = int(rec.start[5:7]) if rec.start_precision in ("day", "month") else 1
    jan_first = rec.start_precision == "day" and rec.start[5:] == "01-01"
    return {"T": year, "g": year if jan_first else year + 1, "date": date(year, month, 1)}


def pilot_did(wide, pilots, unit, model, indicator):
    """The contract's `did` for one pilot, and its usable pre and post years."""
    y = wide.loc[indicator]
    starts = {r.unit: _start(r) for r in pilots[pilots["model"] == model].itertuples()}
    first_year = {u: s["T"] for u, s in starts.items()}
    never = [u for u in y.index if u not in starts]
    T, g = starts[unit]["T"], starts[unit]["g"]
    pre = [t for t in range(T - 3, T) if pd.notna(y.loc[unit, t])]
    post = [t for t in range(g, g + 3) if pd.notna(y.loc[unit, t])]
    pilot_pre = y.loc[unit, pre].mean()
    terms = []
    for t in post:
        # Never in the model; else units untreated through t; else before/after only.
        comparison = never or [c for c in first_year if c != unit and first_year[c] > t]
        # A comparison unit needs year t and every one of the pilot's usable pre years.
        comparison = [c for c in comparison if y.loc[c, [t, *pre]].notna().all()]
        changes = [y.loc[c, t] - y.loc[c, pre].mean() for c in comparison]
        terms.append((y.loc[unit, t] - pilot_pre) - (np.mean(changes) if changes else 0.0))
    return float(np.mean(terms)), pre, post


def true_effect(effect, timing, start, post):
    """The planted effect averaged over the pilot's usable post years (comparison units carry
    none: they are never in the model, or not yet treated)."""
    if timing == "start":
        return effect
    if timing == "congress_2020":
        if start["date"] >= CONGRESS_2020:
            return 0.0
        return effect * np.mean([t >= 2020 for t in post])
    return 0.0


@pytest.mark.parametrize("pair", list(PLANTED), ids=lambda p: f"{p[0]}-{p[1]}")
def test_planted_effects_recovered(panel, pilots, pair):
    model, indicator = pair
    effect, sd, timing = PLANTED[pair]
    wide = annual(panel)
    estimates, truths = [], []
    for rec in pilots[pilots["model"] == model].itertuples():
        if (rec.unit, model, indicator) == PRETREND:
            continue  # checked below
        did, pre, post = pilot_did(wide, pilots, rec.unit, model, indicator)
        truth = true_effect(effect, timing, _start(rec), post)
        assert abs(did - truth) <= TOL_PILOT_SD * sd, (rec.unit, did, truth)
        estimates.append(did)
        truths.append(truth)
    assert abs(np.mean(estimates) - np.mean(truths)) <= TOL_MODEL_SD * sd


def test_planted_pretrend_flagged(panel, pilots):
    unit, model, indicator = PRETREND
    wide = annual(panel)
    did, pre, post = pilot_did(wide, pilots, unit, model, indicator)
    sd = PLANTED[(model, indicator)][1]
    # No true effect, yet the steady fall looks like a clear improvement...
    assert did < -TOL_PILOT_SD * sd
    # ...which the pre-window trend of (pilot - comparison mean), extrapolated to the middle of
    # the post window, explains: at least half of `did`, same sign.
    y = wide.loc[indicator]
    never = [u for u in y.index if u not in set(pilots.loc[pilots["model"] == model, "unit"])]
    gap = [y.loc[unit, t] - y.loc[never, t].mean() for t in pre]
    assert len(pre) >= 3
    slope = np.polyfit(pre, gap, 1)[0]
    extrapolated = slope * (np.mean(post) - np.mean(pre))
    assert np.sign(extrapolated) == np.sign(did) and abs(extrapolated) >= 0.5 * abs(did)
    assert slope == pytest.approx(-1.5, abs=0.75)  # the planted drift, in days a year


def test_readme_states_the_planted_parameters(demo_dir):
    text = (demo_dir / "README.md").read_text(encoding="utf-8")
    for phrase in (
        "−10 meetings/year",
        "−6 inspections/year",
        "+2 lecturers",
        "−2 members",
        "−1.5 days",
        "±3 SD",
        "±1.5 SD",
        "kiemnhiem demo data/demo --seed 2018",
        "SYNTHETIC",
    ):
        assert phrase in text, phrase


def test_specs_match_catalog(catalog):
    from kiemnhiem.data.demo import INDICATORS

    specs = {s.code: (s.kind, s.aggregate) for s in INDICATORS}
    assert specs == {r.code: (r.kind, r.aggregate) for r in catalog.itertuples(index=False)}
