"""Presentation of result frames: tables, banners and short texts for reports.

Pure functions: they take the tidy frames of :mod:`kiemnhiem.evaluation` (and the catalogs for
names) and return DataFrames, pandas Stylers or strings. Display text comes only from
:func:`~kiemnhiem.labels.label` and the catalogs; numbers and dates are formatted by the Babel
helpers of :mod:`kiemnhiem.labels`, in the conventions of the report's language.
"""

from __future__ import annotations

import csv
import html
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import pandas as pd

from .labels import check_lang, format_day, format_number, format_percent, format_signed, label

#: Verdict codes of :mod:`kiemnhiem.evaluation`, in the order reports list them: the model rows'
#: (improved, worsened, changed, no_clear_change, not_assessed) and the pilot rows' district
#: vocabulary (:data:`kiemnhiem.district.DISTRICT_VERDICTS`).
VERDICTS = (
    "improved",
    "worsened",
    "changed",
    "in_line",
    "in_line_before_after",
    "differs",
    "pretrend",
    "no_clear_change",
    "no_clear_change_before_after",
    "before_after_only",
    "no_data",
    "not_assessed",
)

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


def chance_text(
    n_assessed: int, level: float, lang: str = "vi", expected: float | None = None
) -> str:
    """How many verdicts chance alone would produce at ``level`` among ``n_assessed``
    (``expected``: the number, when not ``level * n_assessed``, e.g. from
    :func:`~kiemnhiem.evaluation.chance_verdicts` with district rows)."""
    return label(
        "eval_note_chance",
        lang,
        level=format_percent(level, lang, 0),
        expected=format_number(level * n_assessed if expected is None else expected, lang, 1),
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
        model_row = result.get("scope") == "model"
        notes.append(label("eval_note_pretrend_model" if model_row else "eval_note_pretrend", lang))
    if _true(result.get("start_sensitive")):
        notes.append(label("eval_note_start_sensitive", lang))
    outside = _outside_interval(result)
    if outside is not None:
        kind = result.get("kind")
        info = IndicatorInfo(
            code=str(result.get("indicator", "")),
            label="",
            unit="",
            kind=str(kind) if isinstance(kind, str) and kind else "count",
            better="none",
        )
        notes.append(
            label(
                "eval_note_outside_interval",
                lang,
                did=format_difference(result.get("did"), info, lang),
                hl=format_difference(outside, info, lang),
            )
        )
    return notes


def _outside_interval(result: Mapping | pd.Series) -> float | None:
    """The Hodges-Lehmann estimate when ``did`` lies outside its own bounded interval (a mean
    can; the estimate cannot: :func:`kiemnhiem.inference.hodges_lehmann`), else None."""
    values = [result.get(k) for k in ("did", "ci_low", "ci_high", "hl_estimate")]
    if any(_missing(v) for v in values):
        return None
    did, low, high, hl = (float(v) for v in values)
    if not all(math.isfinite(v) for v in (did, low, high, hl)) or low <= did <= high:
        return None
    return hl


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
    if _missing(result.get("ci_level")):
        return ""
    return _interval_words(result, info, lang, "report_interval", "report_interval_unbounded")


def _interval_words(
    result: Mapping | pd.Series, info: IndicatorInfo, lang: str, key: str, unbounded_key: str
) -> str:
    """``key`` filled with the interval's level and ends, or ``unbounded_key`` when an end is
    missing or infinite (too few districts for a bounded interval)."""
    ci = format_percent(float(result.get("ci_level")), lang, 0)
    low, high = result.get("ci_low"), result.get("ci_high")
    if _missing(low) or _missing(high) or math.isinf(float(low)) or math.isinf(float(high)):
        return label(unbounded_key, lang, ci=ci)
    return label(
        key,
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
# Verdicts at a glance: symbols and colours that survive colour blindness and black-and-white
# ---------------------------------------------------------------------------------------------

#: One shape per verdict, so that a verdict reads without colour (printed in black and white).
VERDICT_SYMBOLS = {
    "improved": "▲",
    "worsened": "▼",
    "changed": "◆",
    "in_line": "△",
    "in_line_before_after": "△",
    "differs": "◇",
    "pretrend": "◐",
    "no_clear_change": "●",
    "no_clear_change_before_after": "●",
    "before_after_only": "○",
    "no_data": "○",
    "not_assessed": "○",
}

# (accent, background tint, text colour): Okabe-Ito blue, vermillion and reddish purple, greys.
_VERDICT_STYLES = {
    "improved": ("#0072B2", "#d4e8f5", "#003b5c"),
    "worsened": ("#D55E00", "#f8dcc8", "#6b2f00"),
    "changed": ("#CC79A7", "#f4dfeb", "#5c2a47"),
    "no_clear_change": ("#6b6b6b", "#ececec", "#262626"),
    "not_assessed": ("#9a9a9a", "#ffffff", "#404040"),
    # District verdicts: in line with the model in a lighter blue, differs in reddish purple,
    # a trend already under way in Okabe-Ito orange; the rest as their nearest model verdict.
    "in_line": ("#56B4E9", "#e6f3fb", "#1d4f6b"),
    "in_line_before_after": ("#56B4E9", "#e6f3fb", "#1d4f6b"),
    "differs": ("#CC79A7", "#f4dfeb", "#5c2a47"),
    "pretrend": ("#E69F00", "#fbecc9", "#5c4000"),
    "no_clear_change_before_after": ("#6b6b6b", "#ececec", "#262626"),
    "before_after_only": ("#9a9a9a", "#ffffff", "#404040"),
    "no_data": ("#9a9a9a", "#ffffff", "#404040"),
}


def verdict_symbol(value: object) -> str:
    """The verdict's shape (▲ improved, ▼ worsened, ◆ changed, ● no clear change, ○ not
    assessed)."""
    return VERDICT_SYMBOLS.get(verdict_code(value), "○")


def verdict_label(value: object, lang: str = "vi") -> str:
    """Symbol and words: ``"▲ Cải thiện"``; what a cell of a plain-text table shows."""
    return f"{verdict_symbol(value)} {verdict_text(value, lang)}"


def verdict_badge_html(value: object, lang: str = "vi") -> str:
    """The verdict as an inline badge: shape, word and colour (never colour alone)."""
    code = verdict_code(value)
    accent, tint, ink = _VERDICT_STYLES.get(code, _VERDICT_STYLES["not_assessed"])
    return (
        f'<span class="kn-badge kn-v-{_e(code)}" style="display:inline-block;'
        f"border:1px solid {accent};background:{tint};color:{ink};border-radius:3px;"
        f'padding:0 0.35em;white-space:nowrap;">'
        f'<span aria-hidden="true">{verdict_symbol(code)}</span> '
        f"{_e(verdict_text(code, lang))}</span>"
    )


def verdict_legend_html(lang: str = "vi") -> str:
    """What each verdict's shape means, one line each."""
    lang = check_lang(lang)
    items = "".join(
        f'<li style="margin:0.15em 0;">{verdict_badge_html(code, lang)} '
        f"{_e(label(f'report_legend_{code}', lang))}</li>"
        for code in VERDICTS
    )
    return (
        f'<div class="kn-legend"><p style="margin:0.3em 0;"><strong>'
        f"{_e(label('report_legend_heading', lang))}</strong></p>"
        f'<ul style="list-style:none;padding-left:0;margin:0;">{items}</ul></div>'
    )


def verdict_boxes_html(
    results: pd.DataFrame, indicators: pd.DataFrame | None = None, lang: str = "vi"
) -> str:
    """One box per indicator: shape, verdict, indicator, and the reason in a sentence.

    The boxes are what a reader sees first. Colour repeats what the shape and the word say:
    the page reads the same to a colour-blind reader and on a black-and-white printout. All
    text from the data is escaped.
    """
    lang = check_lang(lang)
    boxes = []
    for _, row in results.iterrows():
        code = verdict_code(row.get("verdict"))
        accent, tint, ink = _VERDICT_STYLES.get(code, _VERDICT_STYLES["not_assessed"])
        info = indicator_info(indicators, str(row["indicator"]), lang)
        notes = indicator_notes(row, lang)
        reason = (
            notes.pop(0) if notes and notes[0] == str(row.get(f"reason_{lang}", "")).strip() else ""
        )
        extra = "".join(f"<li>{_e(n)}</li>" for n in notes)
        boxes.append(
            f'<div class="kn-verdict kn-v-{_e(code)}" style="border:1px solid {accent};'
            f"border-left:6px solid {accent};background:{tint};color:{ink};"
            f'padding:0.5em 0.8em;margin:0 0 0.6em 0;border-radius:3px;break-inside:avoid;">'
            f'<div style="font-size:1.05em;"><span aria-hidden="true" style="font-size:1.2em;">'
            f"{verdict_symbol(code)}</span> <strong>{_e(verdict_text(code, lang))}</strong>"
            f" – {_e(info.label)}</div>"
            + (f'<div style="margin-top:0.25em;">{_e(reason)}</div>' if reason else "")
            + (f'<ul style="margin:0.3em 0 0 1.2em;padding:0;">{extra}</ul>' if extra else "")
            + "</div>"
        )
    return f'<div class="kn-verdicts">{"".join(boxes)}</div>'


# ---------------------------------------------------------------------------------------------
# The pilot report's first screen and per-indicator tables
# ---------------------------------------------------------------------------------------------


def heading_html(text: str, level: int = 1) -> str:
    """A heading whose text may come from the data (a dataset's name): escaped."""
    level = min(max(int(level), 1), 6)
    return f"<h{level}>{_e(text)}</h{level}>"


def title_html(
    unit_name: str, model: str, lang: str = "vi", *, models: pd.DataFrame | None = None
) -> str:
    """The report's heading: the pilot unit and, below it, the model's name."""
    lang = check_lang(lang)
    return (
        f"<h1>{_e(label('report_title', lang, unit=unit_name))}</h1>"
        f'<p style="font-size:1.1em;margin-top:0;">{_e(model_label(models, model, lang))}</p>'
    )


def model_plain_text(models: pd.DataFrame | None, code: str, lang: str = "vi") -> str:
    """The model in plain words: one person holds both posts (from the model catalog)."""
    lang = check_lang(lang)
    if models is not None and len(models) and code in set(models["code"]):
        row = models.loc[models["code"] == code].iloc[0]
        post_a = str(row.get(f"post_a_{lang}", "") or "").strip()
        post_b = str(row.get(f"post_b_{lang}", "") or "").strip()
        if post_a and post_b:
            return label("report_model_plain", lang, post_a=post_a, post_b=post_b)
    return model_label(models, code, lang)


def start_description(start: object, precision: object, status: object, lang: str = "vi") -> str:
    """The start as the data know it: date at its precision, how precise, how sure."""
    lang = check_lang(lang)
    if _missing(start):
        return "–"
    precision = str(precision) if precision in ("day", "month", "year") else "day"
    text = format_day(pd.Timestamp(start).date(), lang, precision)
    parts = [label(f"report_precision_{precision}", lang)]
    if isinstance(status, str) and status in ("documented", "approximate", "assumed"):
        parts.append(label(f"report_status_{status}", lang))
    return f"{text} ({'; '.join(parts)})"


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
        Rows of :func:`~kiemnhiem.evaluation.evaluate_pilot` for one pilot.
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
            label("report_detail_did", lang, years=years("did_years_used")),
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


def pretrend_text(result: Mapping | pd.Series, info: IndicatorInfo, lang: str = "vi") -> str:
    """The pre-trend check in words: slope a year and its p (pilots), what the trend alone
    would put into the DiD, and whether it is flagged (see :mod:`kiemnhiem.evaluation`)."""
    lang = check_lang(lang)
    effect = result.get("trend_effect")
    if _missing(effect):
        return "–"
    flag = result.get("pretrend_flag")
    flag_key = "na" if _missing(flag) else ("yes" if _true(flag) else "no")
    fields = {
        "effect": format_difference(effect, info, lang),
        "flag": label(f"report_pretrend_flag_{flag_key}", lang),
    }
    slope, p = result.get("pretrend_slope"), result.get("pretrend_p")
    if _missing(slope) or _missing(p):
        return label("report_pretrend_model_value", lang, **fields)
    if info.kind == "share":
        fields["slope"] = format_difference(slope, info, lang)
    else:
        fields["slope"] = format_signed(float(slope), lang, _digits(info) + 1)
    p = float(p)
    fields["p"] = (
        f"< {format_number(0.0001, lang, 4)}" if p < 0.0001 else f"= {format_number(p, lang, 4)}"
    )
    return label("report_pretrend_value", lang, **fields)


def indicator_section_html(
    result: Mapping | pd.Series, indicators: pd.DataFrame | None = None, lang: str = "vi"
) -> str:
    """One indicator's section head: name, verdict badge and reason, caveats, definition."""
    lang = check_lang(lang)
    info = indicator_info(indicators, str(result["indicator"]), lang)
    notes = indicator_notes(result, lang)
    reason = ""
    if notes and notes[0] == str(result.get(f"reason_{lang}", "")).strip():
        reason = notes.pop(0)
    parts = [
        f"<h3>{_e(info.label)}</h3>",
        f"<p>{verdict_badge_html(result.get('verdict'), lang)}"
        + (f" {_e(reason)}" if reason else "")
        + "</p>",
    ]
    if notes:
        parts.append(notes_html(notes))
    if info.description:
        parts.append(
            f"<p><em>{_e(label('report_description_label', lang))}:</em> {_e(info.description)}</p>"
        )
    return "\n".join(parts)


def event_study_caption_html(study: pd.DataFrame, lang: str = "vi") -> str:
    """The sentence under an event-study chart: whose profile it is and how to read it.

    ``study`` is :func:`kiemnhiem.eventstudy.event_study`'s frame; its ``attrs`` give the
    cohort (``group``) and the reference year (``base_event_time``).
    """
    lang = check_lang(lang)
    attrs = getattr(study, "attrs", {}) or {}
    n_units = pd.to_numeric(study.get("n_units"), errors="coerce").max() if len(study) else None
    base = attrs.get("base_event_time")
    if base is None and "base" in study.columns:
        rows = study[study["base"].fillna(False).astype(bool)]
        base = int(rows["event_time"].iloc[0]) if len(rows) else None
    group = attrs.get("group")
    fields = {
        "n": "–" if _missing(n_units) else int(n_units),
        "base": "–" if base is None else ("−" if int(base) < 0 else "") + str(abs(int(base))),
        "g": "–" if group is None or _missing(group) else int(group),
    }
    key = "report_es_caption_unit" if attrs.get("unit") else "report_es_caption_model"
    return f'<p class="kn-caption" style="color:#444;">{_e(label(key, lang, **fields))}</p>'


def event_study_unavailable_html(error: Exception, lang: str = "vi") -> str:
    """Why there is no event-study chart (the error's own message, escaped)."""
    lang = check_lang(lang)
    reason = getattr(error, f"message_{lang}", None) or str(error)
    return notes_html([label("report_es_unavailable", lang, reason=reason)])


def method_note_markdown(
    lang: str = "vi", *, level: float = 0.10, pre_years: int = 3, post_years: int = 3
) -> str:
    """The method in plain words (Markdown): whom the pilot is compared with, why p-values are
    ranks among placebo assignments, that the pilots were chosen, what the data cannot show;
    then the technical details (windows, partial years, the test).

    Only catalog text and the parameters: nothing from the data reaches it.
    """
    lang = check_lang(lang)
    half = format_percent(level / 2, lang, 0 if (level * 200).is_integer() else 1)
    fields = {"level": format_percent(level, lang, 0), "half": half}
    sections = [f"## {label('report_method_heading', lang)}"]
    for key in ("comparison", "ranks", "chosen", "limits"):
        heading = label(f"report_note_{key}_heading", lang)
        text = label(f"report_note_{key}", lang, **(fields if key == "ranks" else {}))
        sections.append(f"**{heading}** {text}")
    technical = label(
        "report_method_text", lang, pre_years=pre_years, post_years=post_years, **fields
    )
    sections.append(f"**{label('report_note_technical_heading', lang)}** {technical}")
    # What the simulation study (validation/RESULTS.md) showed about this test on this design.
    sections.append(
        f"**{label('report_note_simulation_heading', lang)}** "
        f"{label('report_note_simulation', lang)}"
    )
    return "\n\n".join(sections)


def data_quality_notes(
    dataset, results: pd.DataFrame, lang: str = "vi", *, pre_years: int = 3, post_years: int = 3
) -> list[str]:
    """Caveats about the data behind one pilot's results, each a sentence.

    Missing and partial years inside the windows (per indicator), a start known only to the
    month or year, an approximate or assumed start (and whether moving it changes a verdict),
    indicators without data. When there is nothing to say, one sentence saying so.
    """
    from .timeline import annual_panel, pilot_window

    lang = check_lang(lang)
    _check_one_pilot(results)
    first = results.iloc[0]
    unit_code, model = str(first["unit_code"]), str(first["model"])
    pilot = _pilot_row(dataset.pilots, unit_code, model)
    start = pilot.get("start", first.get("start"))
    precision = str(pilot.get("start_precision", first.get("start_precision", "day")) or "day")
    status = str(pilot.get("start_status", first.get("start_status", "")) or "")
    end = pilot.get("end", first.get("end"))
    notes: list[str] = []
    if _missing(start):
        return [label("report_dq_none", lang)]
    when = format_day(pd.Timestamp(start).date(), lang, precision)
    if precision in ("month", "year"):
        notes.append(
            label(
                f"report_dq_precision_{precision}",
                lang,
                date=when,
                year=pd.Timestamp(start).year,
            )
        )
    if status in ("approximate", "assumed"):
        sensitive = [
            indicator_info(dataset.indicators, str(r["indicator"]), lang).label
            for _, r in results.iterrows()
            if _true(r.get("start_sensitive"))
        ]
        status_text = label(f"report_status_{status}", lang)
        if sensitive:
            notes.append(
                label(
                    "report_dq_start_sensitive",
                    lang,
                    date=when,
                    status=status_text,
                    names="; ".join(sensitive),
                )
            )
        else:
            notes.append(label("report_dq_start_robust", lang, date=when, status=status_text))

    window = pilot_window(start, precision, None if _missing(end) else end, pre_years, post_years)
    annual = annual_panel(dataset)
    annual = annual[annual["unit_code"] == unit_code]
    no_data = []
    for _, row in results.iterrows():
        code = str(row["indicator"])
        name = indicator_info(dataset.indicators, code, lang).label
        if str(row.get("reason_code", "")) == "no_data":
            no_data.append(name)
            continue
        used = set()
        for key in ("pre_years_used", "post_years_used"):
            value = row.get(key)
            if isinstance(value, str):
                used |= {int(y) for y in value.split(";") if y.strip()}
        rows = annual[annual["indicator"] == code]
        partial_years = {int(y) for y in rows.loc[rows["partial"].astype(bool), "year"]}
        missing, partial = [], []
        for year in (*window.pre, *window.post):
            if year in used:
                continue
            (partial if year in partial_years else missing).append(year)
        if missing:
            notes.append(
                label("report_dq_missing", lang, indicator=name, years=year_ranges(missing))
            )
        if partial:
            notes.append(
                label("report_dq_partial", lang, indicator=name, years=year_ranges(partial))
            )
    if no_data:
        notes.append(label("report_dq_no_data", lang, names="; ".join(no_data)))
    return notes or [label("report_dq_none", lang)]


def notes_html(notes: Iterable[str]) -> str:
    """Sentences as an HTML list, escaped."""
    items = "".join(f"<li>{_e(n)}</li>" for n in notes)
    return f'<ul class="kn-notes">{items}</ul>'


def comments_html(
    comments: pd.DataFrame | None, unit_code: str, model: str, lang: str = "vi"
) -> str:
    """The analysts' comments ("Nhận xét, kiến nghị") on one pilot, escaped; a sentence when
    there are none."""
    lang = check_lang(lang)
    rows = pd.DataFrame()
    if comments is not None and len(comments):
        rows = comments[
            (comments["unit_code"].astype(str) == str(unit_code))
            & (comments["model"].astype(str) == str(model))
        ]
    if rows.empty:
        return f"<p>{_e(label('report_comments_none', lang))}</p>"
    items = []
    for rec in rows.to_dict("records"):
        text = _e(str(rec.get("comment", "") or "")).replace("\n", "<br>")
        who = [str(rec.get(k, "") or "").strip() for k in ("author", "date")]
        who = [w for w in who if w and w.lower() != "nan"]
        byline = f' <span style="color:#555;">({_e(", ".join(who))})</span>' if who else ""
        items.append(f"<li>{text}{byline}</li>")
    return f'<ul class="kn-comments">{"".join(items)}</ul>'


def print_banner_html(
    synthetic: bool, lang: str = "vi", *, classification: str | None = None
) -> str:
    """A short banner for printing, repeated at the top of every printed page.

    Hidden on screen (inline ``display:none``); the offline template's print style shows it as
    a fixed element, which Chromium repeats on every page. Empty when there is nothing to say.
    """
    lang = check_lang(lang)
    parts = []
    if classification:
        parts.append(_e(str(classification)))
    if synthetic:
        parts.append(_e(label("report_print_synthetic", lang)))
    if not parts:
        return ""
    return (
        '<div class="kn-print-banner" aria-hidden="true" style="display:none;">'
        + " · ".join(parts)
        + "</div>"
    )


def provenance_html(
    *,
    version: str,
    dataset_name: str,
    content_hash: str,
    parameters: Mapping,
    lang: str = "vi",
) -> str:
    """The closing line (as :func:`provenance_markdown`), escaped for HTML."""
    shown = "; ".join(f"{k} = {v}" for k, v in parameters.items())
    text = label(
        "report_provenance",
        lang,
        version=version,
        name=dataset_name,
        hash=(content_hash or "–")[:12],
        parameters=shown,
    )
    return f'<p class="kn-provenance" style="color:#555;"><em>{_e(text)}</em></p>'


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


def verdict_matrix_html(
    results: pd.DataFrame,
    lang: str = "vi",
    *,
    indicators: pd.DataFrame | None = None,
    models: pd.DataFrame | None = None,
) -> str:
    """Every pilot by every indicator in one table: a shape per verdict, coloured, with the
    reason as a tooltip; one block of rows per model ending with its pooled effect.

    The table scrolls sideways on a narrow screen; the legend is
    :func:`verdict_legend_html`.
    """
    lang = check_lang(lang)
    matrix = verdict_matrix(results)
    codes = [c for c in matrix.columns if c != "unit_name"]
    reasons = {
        (str(r["model"]), str(r["unit_code"]), str(r["indicator"])): str(
            r.get(f"reason_{lang}", "") or ""
        )
        for _, r in results.iterrows()
    }
    head = "".join(
        f'<th scope="col" style="{_TH};max-width:8em;">'
        f"{_e(indicator_info(indicators, c, lang).label)}</th>"
        for c in codes
    )
    body = []
    for model in dict.fromkeys(m for m, _ in matrix.index):
        body.append(
            f'<tr><th scope="rowgroup" colspan="{len(codes) + 1}" style="{_TH};'
            f'background:#f3f3f3;text-align:left;">{_e(model_label(models, model, lang))}</th></tr>'
        )
        for (m, unit_code), row in matrix.loc[[model]].iterrows():
            name = (
                f"<em>{_e(label('summary_pooled_row', lang))}</em>"
                if unit_code == "*"
                else _e(str(row["unit_name"]))
            )
            cells = []
            for c in codes:
                verdict = row[c]
                if not verdict:
                    cells.append(
                        f'<td style="{_TD};color:#999;text-align:center;" '
                        f'title="{_e(label("summary_not_concerned", lang))}">·</td>'
                    )
                    continue
                accent, tint, ink = _VERDICT_STYLES.get(verdict, _VERDICT_STYLES["not_assessed"])
                tip = verdict_text(verdict, lang)
                reason = reasons.get((m, unit_code, c), "")
                if reason:
                    tip += f": {reason}"
                cells.append(
                    f'<td class="kn-v-{_e(verdict)}" style="{_TD};background:{tint};color:{ink};'
                    f'text-align:center;font-size:1.15em;" title="{_e(tip)}">'
                    f'<span aria-hidden="true">{verdict_symbol(verdict)}</span>'
                    f'<span class="kn-sr" style="position:absolute;left:-9999px;">'
                    f"{_e(verdict_text(verdict, lang))}</span></td>"
                )
            body.append(
                f'<tr><th scope="row" style="{_TH};text-align:left;">{name}</th>'
                + "".join(cells)
                + "</tr>"
            )
    return (
        '<div class="kn-scroll" style="overflow-x:auto;max-width:100%;">'
        '<table class="kn-matrix" style="border-collapse:collapse;">'
        f'<thead><tr><th scope="col" style="{_TH}">{_e(label("summary_col_unit", lang))}</th>'
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


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
        :func:`~kiemnhiem.evaluation.evaluate_all`).
    """
    lang = check_lang(lang)
    rows = []
    for _, r in results[results["scope"] == "model"].iterrows():
        info = indicator_info(indicators, str(r["indicator"]), lang)
        n_pilots = r.get("n_pilots")
        rows.append(
            {
                label("summary_col_model", lang): model_label(models, str(r["model"]), lang),
                label("report_col_indicator", lang): info.label,
                label("summary_col_pilots", lang): "–"
                if _missing(n_pilots)
                else str(int(n_pilots)),
                label("summary_col_effect", lang): format_difference(r.get("did"), info, lang),
                label("report_detail_interval", lang): _interval_cell(r, info, lang),
                label("report_detail_p_better", lang): _p_cell(r.get("p_better"), lang),
                label("report_detail_p_worse", lang): _p_cell(r.get("p_worse"), lang),
                label("report_detail_p_min", lang): _p_min_cell(r, lang),
                label("report_col_verdict", lang): verdict_label(r.get("verdict"), lang),
                label("summary_col_notes", lang): " ".join(_caveats(r, lang)),
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
    from .resources import catalog_dir

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


def chance_note(n_assessed: int, level: float, lang: str = "vi") -> str:
    """:func:`chance_text`, or a sentence saying no indicator could be tested."""
    if n_assessed <= 0:
        return label("report_chance_no_tests", lang)
    return chance_text(n_assessed, level, lang)


def summary_chance_text(results: pd.DataFrame, level: float = 0.10, lang: str = "vi") -> str:
    """How many of the summary's verdicts chance alone would produce (pilot and pooled rows),
    beside how many it shows."""
    assessed = results[results["status"] == "assessed"]
    if assessed.empty:
        return chance_note(0, level, lang)
    shown = int(
        assessed["verdict"].map(verdict_code).isin(["improved", "worsened", "changed"]).sum()
    )
    return (
        chance_text(len(assessed), level, lang)
        + " "
        + label("summary_chance_observed", lang, k=shown, n=len(assessed))
    )


# ---------------------------------------------------------------------------------------------
# helpers (HTML and cells)
# ---------------------------------------------------------------------------------------------

_TH = "border:1px solid #ccc;padding:4px 6px;vertical-align:bottom;font-weight:600"
_TD = "border:1px solid #ccc;padding:4px 6px"


def _e(text: object) -> str:
    """Escape for HTML text and attribute values."""
    return html.escape(str(text), quote=True)


def _caveats(result: Mapping | pd.Series, lang: str) -> list[str]:
    """:func:`indicator_notes` without the reason sentence."""
    notes = indicator_notes(result, lang)
    reason = str(result.get(f"reason_{lang}", "") or "").strip()
    return notes[1:] if notes and reason and notes[0] == reason else notes


def _p_cell(value: object, lang: str) -> str:
    return "–" if _missing(value) else format_number(float(value), lang, 4)


def _p_min_cell(result: Mapping | pd.Series, lang: str) -> str:
    p_min = result.get("p_min")
    if _missing(p_min):
        return "–"
    n = result.get("n_assignments")
    inference = str(result.get("inference", "") or "")
    text = format_number(float(p_min), lang, 4)
    if _missing(n):
        return text
    n = int(n)
    if inference == "sampled":
        mc = result.get("mc_error")
        detail = label(
            "report_p_min_sampled",
            lang,
            n=format_number(n - 1, lang, 0),
            error=format_number(float(mc), lang, 4) if not _missing(mc) else "–",
        )
    else:
        detail = label("report_p_min_exact", lang, n=format_number(n, lang, 0))
    return f"{text} ({detail})"


def _interval_cell(result: Mapping | pd.Series, info: IndicatorInfo, lang: str) -> str:
    low, high = result.get("ci_low"), result.get("ci_high")
    if _missing(result.get("ci_level")) or (_missing(low) and _missing(high)):
        return "–"
    return _interval_words(
        result, info, lang, "report_detail_interval_value", "report_detail_interval_unbounded"
    )


def _support_text(result: Mapping | pd.Series, info: IndicatorInfo, lang: str) -> str:
    code = verdict_code(result.get("verdict"))
    if info.better == "none":
        return verdict_text(code, lang)
    key = {
        "improved": "summary_support_yes",
        "worsened": "summary_support_opposite",
        "no_clear_change": "summary_support_unclear",
        "changed": "summary_support_unclear",
    }.get(code, "summary_support_not_assessed")
    return label(key, lang)


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
