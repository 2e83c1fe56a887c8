"""Presentation of result frames: tables, banners and short texts for reports.

Pure functions: they take the tidy frames of :mod:`kiemnhiem.evaluation` (and the catalogs for
names) and return DataFrames, pandas Stylers or strings. Display text comes only from
:func:`~kiemnhiem.labels.label` and the catalogs; numbers and dates are formatted by the Babel
helpers of :mod:`kiemnhiem.labels`, in the conventions of the report's language.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from .labels import check_lang, format_day, format_number, format_percent, format_signed, label

#: Verdict codes of :mod:`kiemnhiem.evaluation`, in the order reports list them.
VERDICTS = ("improved", "worsened", "changed", "no_clear_change", "not_assessed")

# Spellings of the verdict codes that the evaluation module might use, folded to ours.
_VERDICT_ALIASES = {
    "improved": "improved",
    "better": "improved",
    "worsened": "worsened",
    "worse": "worsened",
    "changed": "changed",
    "no_clear_change": "no_clear_change",
    "no_change": "no_clear_change",
    "unclear": "no_clear_change",
    "not_assessed": "not_assessed",
    "cannot_assess": "not_assessed",
    "cannot_be_assessed": "not_assessed",
}

_COMPARISON_KEYS = {
    "never": "report_comparison_never",
    "notyet": "report_comparison_notyet",
    "not_yet": "report_comparison_notyet",
    "none": "report_comparison_none",
}


@dataclass(frozen=True)
class IndicatorInfo:
    """What a reader needs to know about an indicator: name, unit, kind, direction."""

    code: str
    label: str
    unit: str
    kind: str
    better: str
    description: str = ""


def indicator_info(indicators: pd.DataFrame | None, code: str, lang: str = "vi") -> IndicatorInfo:
    """Name, unit, kind and direction of ``code`` from the indicator catalog.

    Without a catalog, or for a code it lacks, the code itself is the name and the indicator
    is treated as a plain count.
    """
    lang = check_lang(lang)
    if indicators is not None and len(indicators) and code in set(indicators["code"]):
        row = indicators.loc[indicators["code"] == code].iloc[0]
        return IndicatorInfo(
            code=code,
            label=str(row.get(f"label_{lang}", code) or code),
            unit=str(row.get(f"unit_{lang}", "") or ""),
            kind=str(row.get("kind", "count") or "count"),
            better=str(row.get("better", "none") or "none"),
            description=str(row.get(f"description_{lang}", "") or ""),
        )
    return IndicatorInfo(code=code, label=code, unit="", kind="count", better="none")


def model_label(models: pd.DataFrame | None, code: str, lang: str = "vi") -> str:
    """The model's name in ``lang`` from the model catalog (the code when unknown)."""
    lang = check_lang(lang)
    if models is not None and len(models) and code in set(models["code"]):
        text = models.loc[models["code"] == code, f"label_{lang}"].iloc[0]
        return str(text) if isinstance(text, str) and text else code
    return code


def verdict_code(value: object) -> str:
    """The canonical verdict code (one of :data:`VERDICTS`) for a result's ``verdict``."""
    if not isinstance(value, str) or not value.strip():
        return "not_assessed"
    key = value.strip().lower().replace(" ", "_").replace("-", "_")
    return _VERDICT_ALIASES.get(key, key)


def verdict_text(value: object, lang: str = "vi") -> str:
    """The verdict as the reader sees it (the evaluation's own wording)."""
    code = verdict_code(value)
    if code in VERDICTS:
        return label(f"eval_verdict_{code}", lang)
    return str(value)


def indicator_table(
    results: pd.DataFrame, indicators: pd.DataFrame | None = None, lang: str = "vi"
) -> pd.DataFrame:
    """One pilot's indicators, formatted for reading.

    Parameters
    ----------
    results : DataFrame
        Rows of :func:`~kiemnhiem.evaluation.evaluate_pilot` for one pilot (``unit_code`` and
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
        Rows of :func:`~kiemnhiem.evaluation.evaluate_pilot` for one pilot.
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


def style_table(frame: pd.DataFrame, table_id: str = "kn"):
    """A pandas Styler for a text table: no index, numbers right-aligned, stable HTML ids."""
    numeric = [c for c in frame.columns[1:] if frame[c].map(_looks_numeric).all()]
    styler = frame.style.hide(axis="index").set_uuid(table_id)
    styler = styler.set_table_styles(
        [
            {"selector": "th", "props": "text-align: left; padding: 4px 8px;"},
            {"selector": "td", "props": "padding: 4px 8px; vertical-align: top;"},
        ]
    )
    if numeric:
        styler = styler.set_properties(subset=numeric, **{"text-align": "right"})
    return styler


def comparison_text(result: Mapping | pd.Series, lang: str = "vi") -> str:
    """Which units the pilot is compared with, in words."""
    comparison = str(result.get("comparison", "") or "").strip().lower()
    n = result.get("n_comparison")
    n = 0 if _missing(n) else int(n)
    key = _COMPARISON_KEYS.get(comparison)
    if key is None:
        key = "report_comparison_none" if n == 0 else "report_comparison_never"
    return label(key, lang, n=n)


def chance_text(n_assessed: int, level: float, lang: str = "vi") -> str:
    """How many verdicts chance alone would produce at ``level`` among ``n_assessed``."""
    return label(
        "eval_note_chance",
        lang,
        level=format_percent(level, lang, 0),
        expected=format_number(level * n_assessed, lang, 1),
        n=n_assessed,
    )


def indicator_notes(result: Mapping | pd.Series, lang: str = "vi") -> list[str]:
    """The reasons and caveats for one pilot x indicator row, each a sentence."""
    lang = check_lang(lang)
    notes = []
    reason = result.get(f"reason_{lang}")
    if isinstance(reason, str) and reason.strip():
        notes.append(reason.strip())
    if _true(result.get("mixed_models")):
        notes.append(label("eval_note_mixed", lang))
    if _true(result.get("joint_test")):
        notes.append(label("eval_note_joint", lang))
    if _true(result.get("pretrend_flag")):
        notes.append(label("eval_note_pretrend", lang))
    if _true(result.get("start_sensitive")):
        notes.append(label("eval_note_start_sensitive", lang))
    return notes


def banner_html(
    synthetic: bool, lang: str = "vi", *, name: str = "", classification: str | None = None
) -> str:
    """The banner atop every page: synthetic-data warning and classification line.

    Returns an empty string when the data are real and no classification is given.
    """
    lang = check_lang(lang)
    parts = []
    if classification:
        parts.append(
            '<div class="kn-classification" style="text-align:center;font-weight:700;'
            'letter-spacing:0.05em;text-transform:uppercase;margin:0 0 0.5em 0;">'
            f"{html.escape(str(classification))}</div>"
        )
    if synthetic:
        parts.append(
            '<div class="kn-synthetic" role="note" style="border:2px solid #b3261e;'
            "background:#fdecea;color:#410e0b;padding:0.6em 1em;margin:0 0 1em 0;"
            'border-radius:4px;">'
            f"<strong>{html.escape(label('report_synthetic_title', lang))}</strong> "
            f"{html.escape(label('report_synthetic_text', lang, name=name))}</div>"
        )
    return "\n".join(parts)


def title_markdown(
    unit_name: str, model: str, lang: str = "vi", *, models: pd.DataFrame | None = None
) -> str:
    """The report's heading (Markdown)."""
    return (
        f"# {label('report_title', lang, unit=unit_name)}\n\n"
        f"**{label('report_summary_model', lang)}:** {model_label(models, model, lang)}"
    )


def indicator_markdown(
    result: Mapping | pd.Series, indicators: pd.DataFrame | None = None, lang: str = "vi"
) -> str:
    """One indicator's section text (Markdown): heading, verdict and reason, interval,
    one-sided p-values, caveats and the indicator's definition."""
    lang = check_lang(lang)
    info = indicator_info(indicators, str(result["indicator"]), lang)
    lines = [f"### {info.label}", ""]
    verdict_line = verdict_text(result.get("verdict"), lang)
    verdict = f"**{label('report_verdict_label', lang)}:** {verdict_line}."
    notes = indicator_notes(result, lang)
    if notes and notes[0] == str(result.get(f"reason_{lang}", "")).strip():
        verdict += f" {notes.pop(0)}"
    lines += [verdict, ""]
    if verdict_code(result.get("verdict")) != "not_assessed":
        interval = interval_text(result, info, lang)
        if interval:
            lines += [interval, ""]
        p_better, p_worse = result.get("p_better"), result.get("p_worse")
        if not _missing(p_better) and not _missing(p_worse):
            lines += [
                label(
                    "report_p_values",
                    lang,
                    p_better=format_number(float(p_better), lang, 3),
                    p_worse=format_number(float(p_worse), lang, 3),
                ),
                "",
            ]
    for note in notes:
        lines += [f"- {note}"]
    if notes:
        lines.append("")
    if info.description:
        lines += [f"*{label('report_description_label', lang)}:* {info.description}"]
    return "\n".join(lines).strip() + "\n"


def interval_text(result: Mapping | pd.Series, info: IndicatorInfo, lang: str = "vi") -> str:
    """The confidence interval of ``did`` in words; unbounded ends are said so."""
    ci_level = result.get("ci_level")
    if _missing(ci_level):
        return ""
    ci = format_percent(float(ci_level), lang, 0)
    low, high = result.get("ci_low"), result.get("ci_high")
    if _missing(low) or _missing(high) or math.isinf(float(low)) or math.isinf(float(high)):
        return label("report_interval_unbounded", lang, ci=ci)
    return label(
        "report_interval",
        lang,
        ci=ci,
        low=format_difference(float(low), info, lang),
        high=format_difference(float(high), info, lang),
    )


def method_markdown(
    lang: str = "vi", *, pre_years: int = 3, post_years: int = 3, level: float = 0.10
) -> str:
    """The "how to read this report" section (Markdown)."""
    return (
        f"## {label('report_method_heading', lang)}\n\n"
        + label(
            "report_method_text",
            lang,
            pre_years=pre_years,
            post_years=post_years,
            level=format_percent(level, lang, 0),
            half=format_percent(level / 2, lang, 0 if (level * 200).is_integer() else 1),
        )
        + "\n\n"
        + label("eval_note_selection", lang)
    )


def provenance_markdown(
    *,
    version: str,
    dataset_name: str,
    content_hash: str,
    parameters: Mapping,
    lang: str = "vi",
) -> str:
    """The closing line: which kiemnhiem, which data, which parameters made the report."""
    shown = "; ".join(f"{k} = {v}" for k, v in parameters.items())
    return (
        "*"
        + label(
            "report_provenance",
            lang,
            version=version,
            name=dataset_name,
            hash=(content_hash or "–")[:12],
            parameters=shown,
        )
        + "*"
    )


def format_level(value: object, info: IndicatorInfo, lang: str = "vi") -> str:
    """A level (a mean over years) in the indicator's terms: percent for shares."""
    if _missing(value):
        return "–"
    if info.kind == "share":
        return format_percent(float(value), lang, 1)
    return format_number(float(value), lang, _digits(info))


def format_difference(value: object, info: IndicatorInfo, lang: str = "vi") -> str:
    """A signed difference: percentage points for shares, else the indicator's unit."""
    if _missing(value):
        return "–"
    if info.kind == "share":
        return f"{format_signed(float(value) * 100, lang, 1)} {label('report_pp', lang)}"
    return format_signed(float(value), lang, _digits(info))


def format_relative(result: Mapping | pd.Series, info: IndicatorInfo, lang: str = "vi") -> str:
    """Percent change; percentage points for shares; nothing for ratings or a zero base."""
    if info.kind == "rating":
        return "–"
    if info.kind == "share":
        return format_difference(result.get("change"), info, lang)
    value = result.get("pct_change")
    if _missing(value):
        return "–"
    return format_percent(float(value), lang, 1, signed=True)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _check_one_pilot(results: pd.DataFrame) -> None:
    if results.empty:
        raise ValueError("no result rows")
    pairs = results[["unit_code", "model"]].drop_duplicates()
    if len(pairs) != 1:
        raise ValueError("results must hold exactly one pilot (one unit_code and model)")


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(math.isnan(float(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _true(value: object) -> bool:
    return not _missing(value) and bool(value)


def _digits(info: IndicatorInfo) -> int:
    return 2 if info.kind == "rating" else 1


def _unit_text(info: IndicatorInfo, lang: str) -> str:
    return "%" if info.kind == "share" else info.unit


def _years_text(result: Mapping | pd.Series, lang: str) -> str:
    pre_used, post_used = result.get("pre_years_used"), result.get("post_years_used")
    if isinstance(pre_used, str) and isinstance(post_used, str):
        return f"{year_ranges(pre_used)} / {year_ranges(post_used)}"
    n_pre, n_post = result.get("n_pre"), result.get("n_post")
    if _missing(n_pre) and _missing(n_post):
        return "–"
    pre = "–" if _missing(n_pre) else str(int(n_pre))
    post = "–" if _missing(n_post) else str(int(n_post))
    return f"{pre} / {post}"


def year_ranges(years: str | Iterable[int]) -> str:
    """Years as ranges: ``"2015;2016;2017;2019"`` gives ``"2015–2017, 2019"``; none is a dash."""
    if isinstance(years, str):
        values = sorted({int(y) for y in years.replace(",", ";").split(";") if y.strip()})
    else:
        values = sorted({int(y) for y in years})
    if not values:
        return "–"
    runs: list[list[int]] = [[values[0], values[0]]]
    for year in values[1:]:
        if year == runs[-1][1] + 1:
            runs[-1][1] = year
        else:
            runs.append([year, year])
    return ", ".join(f"{a}–{b}" if b > a else f"{a}" for a, b in runs)


def _pilot_row(pilots: pd.DataFrame | None, unit_code: str, model: str) -> dict:
    if pilots is None or pilots.empty:
        return {}
    hit = pilots[(pilots["unit_code"] == unit_code) & (pilots["model"] == model)]
    return hit.iloc[0].to_dict() if len(hit) else {}


def _level(results: pd.DataFrame, level: float | None) -> float:
    if level is not None:
        return float(level)
    if "ci_level" in results.columns:
        ci = pd.to_numeric(results["ci_level"], errors="coerce").dropna()
        if len(ci):
            return round(1.0 - float(ci.iloc[0]), 10)
    return 0.10


def _start_text(start: object, precision: str, status: object, lang: str) -> str:
    if _missing(start):
        return "–"
    if precision not in ("day", "month", "year"):
        precision = "day"
    text = format_day(pd.Timestamp(start).date(), lang, precision)
    if isinstance(status, str) and status in ("documented", "approximate", "assumed"):
        text += f" ({label(f'report_status_{status}', lang)})"
    return text


def _looks_numeric(text: object) -> bool:
    if not isinstance(text, str):
        return False
    stripped = text.strip()
    return stripped == "–" or (bool(stripped) and (stripped[0].isdigit() or stripped[0] in "+−-"))
