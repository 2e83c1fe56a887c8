"""Sentences and wording of numbers and verdicts for reports.

Pure functions: they take rows of the tidy frames of :mod:`kiemnhiem.stats.evaluation` (and the
catalogs for names) and return strings (plain text or Markdown), never HTML. Display text comes
only from :func:`~kiemnhiem.labels.label` and the catalogs; numbers and dates are formatted by
the Babel helpers of :mod:`kiemnhiem.labels`, in the conventions of the report's language.

The ``_``-prefixed cell helpers at the end (a p-value, an interval, the years used as table
cells) are shared with :mod:`.frames` and :mod:`.html` inside this package only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pandas as pd

from ..labels import check_lang, format_day, format_number, format_percent, format_signed, label
from .indicators import IndicatorInfo, indicator_info, model_label

#: Verdict codes of :mod:`kiemnhiem.stats.evaluation`, in the order reports list them: the
#: model rows' (improved, worsened, changed, no_clear_change, not_assessed) and the pilot rows'
#: district vocabulary (:data:`kiemnhiem.stats.district.DISTRICT_VERDICTS`).
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
    # Multi-province datasets: the pilot's own province had no comparison unit left.
    "never_all": "report_comparison_never_all",
    "notyet_all": "report_comparison_notyet_all",
}


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


def verdict_symbol(value: object) -> str:
    """The verdict's shape (▲ improved, ▼ worsened, ◆ changed, ● no clear change, ○ not
    assessed)."""
    return VERDICT_SYMBOLS.get(verdict_code(value), "○")


def verdict_label(value: object, lang: str = "vi") -> str:
    """Symbol and words: ``"▲ Cải thiện"``; what a cell of a plain-text table shows."""
    return f"{verdict_symbol(value)} {verdict_text(value, lang)}"


# ---------------------------------------------------------------------------------------------
# Numbers in the indicator's terms
# ---------------------------------------------------------------------------------------------


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


def years_phrase(years: str | Iterable[int], lang: str = "vi") -> str:
    """«năm 2019» for one year, «các năm 2019–2021» for several, "–" for none."""
    text = year_ranges(years)
    if text == "–":
        return text
    many = "," in text or "–" in text
    return label("years_many" if many else "years_one", lang, years=text)


# ---------------------------------------------------------------------------------------------
# Sentences about one pilot and its indicators
# ---------------------------------------------------------------------------------------------


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
    :func:`~kiemnhiem.stats.evaluation.chance_verdicts` with district rows)."""
    return label(
        "eval_note_chance",
        lang,
        level=format_percent(level, lang, 0),
        expected=format_number(level * n_assessed if expected is None else expected, lang, 1),
        n=n_assessed,
    )


def chance_note(n_assessed: int, level: float, lang: str = "vi") -> str:
    """:func:`chance_text`, or a sentence saying no indicator could be tested."""
    if n_assessed <= 0:
        return label("report_chance_no_tests", lang)
    return chance_text(n_assessed, level, lang)


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
    can; the estimate cannot: :func:`kiemnhiem.stats.inference.hodges_lehmann`), else None."""
    values = [result.get(k) for k in ("did", "ci_low", "ci_high", "hl_estimate")]
    if any(_missing(v) for v in values):
        return None
    did, low, high, hl = (float(v) for v in values)
    if not all(math.isfinite(v) for v in (did, low, high, hl)) or low <= did <= high:
        return None
    return hl


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


def pretrend_text(result: Mapping | pd.Series, info: IndicatorInfo, lang: str = "vi") -> str:
    """The pre-trend check in words: slope a year and its p (pilots), what the trend alone
    would put into the DiD, and whether it is flagged (see :mod:`kiemnhiem.stats.evaluation`)."""
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


def data_quality_notes(
    dataset, results: pd.DataFrame, lang: str = "vi", *, pre_years: int = 3, post_years: int = 3
) -> list[str]:
    """Caveats about the data behind one pilot's results, each a sentence.

    Missing and partial years inside the windows (per indicator), a start known only to the
    month or year, an approximate or assumed start (and whether moving it changes a verdict),
    indicators without data. When there is nothing to say, one sentence saying so.
    """
    from ..stats.timeline import annual_panel, pilot_window

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


# ---------------------------------------------------------------------------------------------
# Markdown blocks (the notebooks' and the documents' running text)
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# The province summary
# ---------------------------------------------------------------------------------------------


def summary_chance_text(results: pd.DataFrame, level: float = 0.10, lang: str = "vi") -> str:
    """How many of the summary's verdicts chance alone would produce (pilot and pooled rows),
    beside how many it shows."""
    from ..stats.evaluation import chance_verdicts

    n, expected = chance_verdicts(results, level)
    if n <= 0:
        return chance_note(0, level, lang)
    shown = int(
        results["verdict"].map(verdict_code).isin(["improved", "worsened", "changed"]).sum()
    )
    return (
        chance_text(n, level, lang, expected=expected)
        + " "
        + label("summary_chance_observed", lang, k=shown, n=n)
    )


# ---------------------------------------------------------------------------------------------
# Table cells (shared with .frames and .html)
# ---------------------------------------------------------------------------------------------


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


def _start_text(start: object, precision: str, status: object, lang: str) -> str:
    if _missing(start):
        return "–"
    if precision not in ("day", "month", "year"):
        precision = "day"
    text = format_day(pd.Timestamp(start).date(), lang, precision)
    if isinstance(status, str) and status in ("documented", "approximate", "assumed"):
        text += f" ({label(f'report_status_{status}', lang)})"
    return text


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _check_one_pilot(results: pd.DataFrame) -> None:
    if results.empty:
        raise ValueError("no result rows")
    pairs = results[["unit_code", "model"]].drop_duplicates()
    if len(pairs) != 1:
        raise ValueError("results must hold exactly one pilot (one unit_code and model)")


def _pilot_row(pilots: pd.DataFrame | None, unit_code: str, model: str) -> dict:
    if pilots is None or pilots.empty:
        return {}
    hit = pilots[(pilots["unit_code"] == unit_code) & (pilots["model"] == model)]
    return hit.iloc[0].to_dict() if len(hit) else {}


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
