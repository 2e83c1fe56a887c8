"""Tidy DataFrames for display, built from result frames.

Each function takes the frames of :mod:`kiemnhiem.stats.evaluation` (and the catalogs for
names) and returns a DataFrame of text cells, one row per thing a reader looks up: the pilot's
indicators, its first screen, one indicator's numbers, the summary's verdict matrix, pooled
effects, comparison groups and the article's claims. The words in the cells come from
:mod:`.text`; :func:`style_table` gives any of them pandas' own styling for a notebook.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from datetime import date

import pandas as pd

from ..labels import check_lang, format_day, label
from .indicators import indicator_info, model_label
from .text import (
    VERDICTS,
    _caveats,
    _check_one_pilot,
    _interval_cell,
    _missing,
    _p_cell,
    _p_min_cell,
    _pilot_row,
    _start_text,
    _support_text,
    _unit_text,
    _years_text,
    chance_text,
    comparison_text,
    format_difference,
    format_level,
    format_relative,
    model_plain_text,
    pretrend_text,
    start_description,
    verdict_code,
    verdict_label,
    verdict_text,
    year_ranges,
    years_phrase,
)

# ---------------------------------------------------------------------------------------------
# The pilot report
# ---------------------------------------------------------------------------------------------


def pilot_overview_table(
    results: pd.DataFrame,
    lang: str = "vi",
    *,
    models: pd.DataFrame | None = None,
    pilots: pd.DataFrame | None = None,
    report_date: date | None = None,
) -> pd.DataFrame:
    """The first screen's facts: pilot, the model in plain words, start, windows, comparison,
    report date.

    Parameters
    ----------
    results : DataFrame
        Rows of :func:`~kiemnhiem.stats.evaluation.evaluate_pilot` for one pilot.
    lang : {"vi", "en"}
    models : DataFrame, optional
        Model catalog (name and the two posts).
    pilots : DataFrame, optional
        ``dataset.pilots``: precision and status of the start (else the result rows' own).
    report_date : date, optional
        The day the report is made (shown; omitted when None).

    Returns
    -------
    DataFrame
        Two text columns (item, value).
    """
    lang = check_lang(lang)
    _check_one_pilot(results)
    first = results.iloc[0]
    unit_code, model = str(first["unit_code"]), str(first["model"])
    pilot = _pilot_row(pilots, unit_code, model)
    precision = pilot.get("start_precision", first.get("start_precision", "day"))
    status = pilot.get("start_status", first.get("start_status"))
    items = [
        (label("report_summary_unit", lang), f"{first['unit_name']} ({unit_code})"),
        (label("report_summary_model", lang), model_label(models, model, lang)),
        (label("report_overview_plain", lang), model_plain_text(models, model, lang)),
        (
            label("report_summary_start", lang),
            start_description(first.get("start"), precision, status, lang),
        ),
    ]
    end = pilot.get("end", first.get("end"))
    if not _missing(end):
        items.append(
            (label("report_overview_end", lang), format_day(pd.Timestamp(end).date(), lang))
        )
    g, t = first.get("g"), first.get("T")
    if not _missing(g):
        text = str(int(g))
        if not _missing(t) and int(t) != int(g):
            text = label("report_overview_transition", lang, g=int(g), t=int(t))
        items.append((label("report_summary_first_year", lang), text))
    items.append((label("report_summary_comparison", lang), comparison_text(first, lang)))
    if report_date is not None:
        items.append((label("report_overview_date", lang), format_day(report_date, lang)))
    return pd.DataFrame(
        items, columns=[label("report_col_item", lang), label("report_col_value", lang)]
    )


def summary_table(
    results: pd.DataFrame,
    lang: str = "vi",
    *,
    models: pd.DataFrame | None = None,
    indicators: pd.DataFrame | None = None,
    pilots: pd.DataFrame | None = None,
    level: float | None = None,
) -> pd.DataFrame:
    """The report's first screen: who, what, since when, compared with whom, and verdicts.

    Parameters
    ----------
    results : DataFrame
        Rows of :func:`~kiemnhiem.stats.evaluation.evaluate_pilot` for one pilot.
    lang : {"vi", "en"}
    models, indicators : DataFrame, optional
        Catalogs, for the model's and indicators' names.
    pilots : DataFrame, optional
        ``dataset.pilots``, for the start's precision and status.
    level : float, optional
        Significance level of the verdicts; default ``1 - ci_level`` of the results.

    Returns
    -------
    DataFrame
        Two text columns (item, value), one row per item.
    """
    lang = check_lang(lang)
    _check_one_pilot(results)
    first = results.iloc[0]
    unit_code = str(first["unit_code"])
    model = str(first["model"])
    pilot = _pilot_row(pilots, unit_code, model)
    precision = str(pilot.get("start_precision", first.get("start_precision", "day")) or "day")
    status = pilot.get("start_status", first.get("start_status"))
    level = _level(results, level)

    items: list[tuple[str, str]] = [
        (label("report_summary_unit", lang), f"{first['unit_name']} ({unit_code})"),
        (label("report_summary_model", lang), model_label(models, model, lang)),
        (
            label("report_summary_start", lang),
            _start_text(first.get("start"), precision, status, lang),
        ),
    ]
    g = first.get("g")
    if not _missing(g):
        items.append((label("report_summary_first_year", lang), str(int(g))))
    items.append((label("report_summary_comparison", lang), comparison_text(first, lang)))

    codes = [verdict_code(v) for v in results["verdict"]]
    if "status" in results.columns:
        assessed = int((results["status"] == "assessed").sum())
    else:
        assessed = sum(code != "not_assessed" for code in codes)
    items.append(
        (
            label("report_summary_indicators", lang),
            label("report_summary_assessed", lang, assessed=assessed, total=len(codes)),
        )
    )
    for code in VERDICTS:
        names = [
            indicator_info(indicators, str(ind), lang).label
            for ind, c in zip(results["indicator"], codes, strict=True)
            if c == code
        ]
        if names:
            items.append(
                (
                    verdict_text(code, lang),
                    label(
                        "report_summary_verdict_count", lang, n=len(names), names="; ".join(names)
                    ),
                )
            )
    items.append((label("report_summary_chance", lang), chance_text(assessed, level, lang)))
    return pd.DataFrame(
        items, columns=[label("report_col_item", lang), label("report_col_value", lang)]
    )


def indicator_table(
    results: pd.DataFrame, indicators: pd.DataFrame | None = None, lang: str = "vi"
) -> pd.DataFrame:
    """One pilot's indicators, formatted for reading.

    Parameters
    ----------
    results : DataFrame
        Rows of :func:`~kiemnhiem.stats.evaluation.evaluate_pilot` for one pilot (``unit_code`` and
        ``model`` each take one value): ``indicator``, ``pre_mean``, ``post_mean``, ``change``,
        ``pct_change`` (a fraction: 0.25 is 25 %), ``did``, ``verdict``, and the years used:
        ``pre_years_used`` and ``post_years_used`` ("2015;2016;2017"), or else ``n_pre`` and
        ``n_post``.
    indicators : DataFrame, optional
        Indicator catalog for names, units and kinds.
    lang : {"vi", "en"}

    Returns
    -------
    DataFrame
        One row per indicator, in the order of ``results``, text cells only; columns
        (headers in ``lang``): indicator, unit, before, after, change, relative change
        (percent, or percentage points for shares, none for ratings), difference in
        differences, years used (before / after), verdict.
    """
    lang = check_lang(lang)
    _check_one_pilot(results)
    rows = []
    for _, result in results.iterrows():
        info = indicator_info(indicators, str(result["indicator"]), lang)
        rows.append(
            {
                label("report_col_indicator", lang): info.label,
                label("report_col_unit", lang): _unit_text(info, lang),
                label("report_col_before", lang): format_level(result.get("pre_mean"), info, lang),
                label("report_col_after", lang): format_level(result.get("post_mean"), info, lang),
                label("report_col_change", lang): format_difference(
                    result.get("change"), info, lang
                ),
                label("report_col_relative", lang): format_relative(result, info, lang),
                label("report_col_did", lang): format_difference(result.get("did"), info, lang),
                label("report_col_years_used", lang): _years_text(result, lang),
                label("report_col_verdict", lang): verdict_text(result.get("verdict"), lang),
            }
        )
    columns = [
        label(key, lang)
        for key in (
            "report_col_indicator",
            "report_col_unit",
            "report_col_before",
            "report_col_after",
            "report_col_change",
            "report_col_relative",
            "report_col_did",
            "report_col_years_used",
            "report_col_verdict",
        )
    ]
    return pd.DataFrame(rows, columns=columns)


def indicator_detail_table(
    result: Mapping | pd.Series, indicators: pd.DataFrame | None = None, lang: str = "vi"
) -> pd.DataFrame:
    """One indicator's numbers, one per row: before, after, change, DiD, interval, p, p_min,
    years used, comparison, verdict.

    ``p`` is one-sided in the better and in the worse direction; ``p_min`` is the smallest p
    the placebo assignments allow (with 7 comparison districts, 1/8): when it exceeds half the
    level no verdict can be conclusive, whatever the data.

    Returns
    -------
    DataFrame
        Two text columns (item, value).
    """
    lang = check_lang(lang)
    info = indicator_info(indicators, str(result["indicator"]), lang)
    unit = _unit_text(info, lang)

    def years(key: str) -> str:
        value = result.get(key)
        return year_ranges(value) if isinstance(value, str) else "–"

    def _phrase(key: str) -> str:
        value = result.get(key)
        return years_phrase(value, lang) if isinstance(value, str) else "–"

    before = format_level(result.get("pre_mean"), info, lang)
    after = format_level(result.get("post_mean"), info, lang)
    change = format_difference(result.get("change"), info, lang)
    relative = format_relative(result, info, lang)
    if relative != "–" and relative != change:
        change = f"{change} ({relative})"
    items = [
        (label("report_col_unit", lang), unit or "–"),
        (label("report_detail_before", lang, years=years("pre_years_used")), before),
        (label("report_detail_after", lang, years=years("post_years_used")), after),
        (label("report_col_change", lang), change),
        (
            label("report_detail_did", lang, years=_phrase("did_years_used")),
            format_difference(result.get("did"), info, lang),
        ),
        (label("report_detail_interval", lang), _interval_cell(result, info, lang)),
        (label("report_detail_p_better", lang), _p_cell(result.get("p_better"), lang)),
        (label("report_detail_p_worse", lang), _p_cell(result.get("p_worse"), lang)),
        (label("report_detail_p_min", lang), _p_min_cell(result, lang)),
        (label("report_summary_comparison", lang), comparison_text(result, lang)),
        (
            label("report_detail_pretrend", lang, years=years("pretrend_years_used")),
            pretrend_text(result, info, lang),
        ),
        (label("report_col_verdict", lang), verdict_label(result.get("verdict"), lang)),
    ]
    return pd.DataFrame(
        items, columns=[label("report_col_item", lang), label("report_col_value", lang)]
    )


# ---------------------------------------------------------------------------------------------
# The province summary
# ---------------------------------------------------------------------------------------------


def verdict_matrix(results: pd.DataFrame) -> pd.DataFrame:
    """Verdict codes, one row per pilot (and per model's pooled effect), one column per
    indicator.

    Returns
    -------
    DataFrame
        Index ``(model, unit_code)`` (``unit_code`` "*" for the pooled row, last in each
        model), a ``unit_name`` column, then one column per indicator in order of appearance;
        cells are verdict codes, empty where the indicator does not concern the model.
    """
    frame = results.copy()
    frame["verdict"] = frame["verdict"].map(verdict_code)
    indicators = list(dict.fromkeys(str(i) for i in frame["indicator"]))
    rows = []
    for model in dict.fromkeys(str(m) for m in frame["model"]):
        part = frame[frame["model"] == model]
        pilots = part[part["scope"] != "model"]
        pooled = part[part["scope"] == "model"]
        for code in dict.fromkeys(str(c) for c in pilots["unit_code"]):
            sub = pilots[pilots["unit_code"] == code]
            rec = {"model": model, "unit_code": code, "unit_name": str(sub["unit_name"].iloc[0])}
            rec.update(dict(zip(sub["indicator"].astype(str), sub["verdict"], strict=True)))
            rows.append(rec)
        if len(pooled):
            rec = {"model": model, "unit_code": "*", "unit_name": ""}
            rec.update(dict(zip(pooled["indicator"].astype(str), pooled["verdict"], strict=True)))
            rows.append(rec)
    out = pd.DataFrame(rows, columns=["model", "unit_code", "unit_name", *indicators])
    out[indicators] = out[indicators].fillna("")
    return out.set_index(["model", "unit_code"])


def pooled_table(
    results: pd.DataFrame,
    lang: str = "vi",
    *,
    indicators: pd.DataFrame | None = None,
    models: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each model's pooled effect per indicator, with its exact (or sampled) p-values and p_min.

    Returns
    -------
    DataFrame
        Text cells; one row per model x indicator (``scope`` "model" rows of
        :func:`~kiemnhiem.stats.evaluation.evaluate_all`).
    """
    lang = check_lang(lang)
    rows = []
    for _, r in results[results["scope"] == "model"].iterrows():
        info = indicator_info(indicators, str(r["indicator"]), lang)
        n_pilots = r.get("n_pilots")
        # The estimate that matches the test (always inside its interval) leads; the mean of
        # the pilots' differences, which need not, goes to the notes.
        hl = r.get("hl_estimate")
        lead = r.get("did") if _missing(hl) else hl
        notes = _caveats(r, lang)
        if not _missing(hl) and not _missing(r.get("did")):
            notes = [
                label("summary_note_mean", lang, did=format_difference(r.get("did"), info, lang)),
                *[n for n in notes if n],
            ]
        rows.append(
            {
                label("summary_col_model", lang): model_label(models, str(r["model"]), lang),
                label("report_col_indicator", lang): info.label,
                label("summary_col_pilots", lang): "–"
                if _missing(n_pilots)
                else str(int(n_pilots)),
                label("summary_col_effect", lang): format_difference(lead, info, lang),
                label("report_detail_interval", lang): _interval_cell(r, info, lang),
                label("report_detail_p_better", lang): _p_cell(r.get("p_better"), lang),
                label("report_detail_p_worse", lang): _p_cell(r.get("p_worse"), lang),
                label("report_detail_p_min", lang): _p_min_cell(r, lang),
                label("report_col_verdict", lang): verdict_label(r.get("verdict"), lang),
                label("summary_col_notes", lang): " ".join(notes),
            }
        )
    return pd.DataFrame(rows)


def never_units_table(
    units: pd.DataFrame, pilots: pd.DataFrame, models: pd.DataFrame | None = None, lang: str = "vi"
) -> pd.DataFrame:
    """Per model with pilots, the units that never ran it (the comparison group)."""
    lang = check_lang(lang)
    rows = []
    for model in dict.fromkeys(str(m) for m in pilots["model"]):
        inside = set(pilots.loc[pilots["model"] == model, "unit_code"].astype(str))
        never = units[~units["unit_code"].astype(str).isin(inside)].sort_values("unit_code")
        names = "; ".join(never["unit_name"].astype(str))
        rows.append(
            {
                label("summary_col_model", lang): model_label(models, model, lang),
                label("summary_col_n_pilots", lang): str(len(inside)),
                label("summary_col_n_never", lang): str(len(never)),
                label("summary_col_never_units", lang): names or label("summary_never_none", lang),
            }
        )
    return pd.DataFrame(rows)


CLAIM_COLUMNS = ("model", "claim_vi", "claim_en", "indicator", "quote_vi")


def builtin_claims() -> pd.DataFrame:
    """The source article's claims (``data/catalog/claims.csv``): model, claim_vi, claim_en,
    indicator (empty when no indicator tests it), quote_vi."""
    from ..resources import catalog_dir

    with (catalog_dir() / "claims.csv").open(encoding="utf-8", newline="") as fh:
        records = list(csv.DictReader(fh))
    frame = pd.DataFrame(records, columns=list(CLAIM_COLUMNS)).fillna("")
    return frame.apply(lambda col: col.str.strip())


def claims_table(
    claims: pd.DataFrame,
    results: pd.DataFrame,
    lang: str = "vi",
    *,
    indicators: pd.DataFrame | None = None,
    models: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each claim of the article that an indicator can test, with what the data say.

    A claim is tested by its model's pooled verdict on the indicator (the claims all point in
    the indicator's better direction: "improved" supports the claim); the pilots' own verdicts
    are counted beside it. Claims of models not in ``results`` are left out; claims without an
    indicator, or whose indicator has no pooled result, are :func:`untestable_claims`.
    """
    lang = check_lang(lang)
    pooled = results[results["scope"] == "model"]
    pilots = results[results["scope"] != "model"]
    rows = []
    for claim in claims.to_dict("records"):
        model, code = claim["model"], claim["indicator"]
        hit = pooled[(pooled["model"] == model) & (pooled["indicator"] == code)]
        if not code or hit.empty:
            continue
        r = hit.iloc[0]
        info = indicator_info(indicators, code, lang)
        mine = pilots[(pilots["model"] == model) & (pilots["indicator"] == code)]
        assessed = mine[mine["status"] == "assessed"] if "status" in mine else mine
        improved = int((assessed["verdict"].map(verdict_code) == "improved").sum())
        rows.append(
            {
                label("summary_col_model", lang): model_label(models, model, lang),
                label("summary_col_claim", lang): claim[f"claim_{lang}"],
                label("summary_col_quote", lang): f"“{claim['quote_vi']}”",
                label("summary_col_tested_by", lang): info.label,
                label("summary_col_pooled_verdict", lang): verdict_label(r.get("verdict"), lang),
                label("summary_col_support", lang): _support_text(r, info, lang),
                label("summary_col_pilots_improved", lang): (
                    label("summary_pilots_improved", lang, k=improved, n=len(assessed))
                    if len(assessed)
                    else "–"
                ),
            }
        )
    return pd.DataFrame(rows)


def untestable_claims(
    claims: pd.DataFrame,
    results: pd.DataFrame,
    lang: str = "vi",
    *,
    models: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The article's claims the data cannot test: no indicator measures them, or the dataset
    has no result for their indicator."""
    lang = check_lang(lang)
    pooled = results[results["scope"] == "model"]
    present = set(results["model"].astype(str))
    rows = []
    for claim in claims.to_dict("records"):
        model, code = claim["model"], claim["indicator"]
        if model not in present:
            continue
        if code and len(pooled[(pooled["model"] == model) & (pooled["indicator"] == code)]):
            continue
        why = (
            label("summary_untestable_no_result", lang, indicator=code)
            if code
            else label("summary_untestable_no_indicator", lang)
        )
        rows.append(
            {
                label("summary_col_model", lang): model_label(models, model, lang),
                label("summary_col_claim", lang): claim[f"claim_{lang}"],
                label("summary_col_quote", lang): f"“{claim['quote_vi']}”",
                label("summary_col_why", lang): why,
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# pandas styling
# ---------------------------------------------------------------------------------------------


def style_table(frame: pd.DataFrame, table_id: str = "kn"):
    """A pandas Styler for a text table: no index, numbers right-aligned, stable HTML ids."""
    # Plain loops over the cells, not Series.map and a .iloc assignment below: a report styles
    # 23 small tables, and those two pandas calls were half of building each Styler.
    numeric = [
        c
        for j, c in enumerate(frame.columns)
        if j > 0 and all(_looks_numeric(v) for v in frame.iloc[:, j].tolist())
    ]
    # Cells may hold text from the data (names, comments): escape it, never render it as HTML.
    styler = frame.style.hide(axis="index").set_uuid(table_id).format(escape="html")
    styler = styler.set_table_styles(
        [
            {"selector": "th", "props": "text-align: left; padding: 4px 8px;"},
            {"selector": "td", "props": "text-align: left; padding: 4px 8px; vertical-align: top;"},
        ]
    )
    if numeric:
        styler = styler.set_properties(subset=numeric, **{"text-align": "right"})
    # Rows the frame says print leaves out (``attrs["kn_print_hide"]``, set by
    # kiemnhiem.report.conclusions.plain_detail_table): their cells get the class the print
    # stylesheet hides; the screen shows them as before.
    hidden = {i for i in frame.attrs.get("kn_print_hide", ()) if 0 <= i < len(frame)}
    if hidden:
        width = len(frame.columns)
        classes = pd.DataFrame(
            [["kn-print-hide" if i in hidden else ""] * width for i in range(len(frame))],
            index=frame.index,
            columns=frame.columns,
        )
        styler = styler.set_td_classes(classes)
    return styler


def _looks_numeric(text: object) -> bool:
    if not isinstance(text, str):
        return False
    stripped = text.strip()
    return stripped == "–" or (bool(stripped) and (stripped[0].isdigit() or stripped[0] in "+−-"))


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _level(results: pd.DataFrame, level: float | None) -> float:
    if level is not None:
        return float(level)
    if "ci_level" in results.columns:
        ci = pd.to_numeric(results["ci_level"], errors="coerce").dropna()
        if len(ci):
            return round(1.0 - float(ci.iloc[0]), 10)
    return 0.10
