"""What a leader reads first: per indicator the model's answer, the district's own figures and
the verdict in words; a generated «Đánh giá chung»; the analysts' «Đề xuất, kiến nghị».

Pure functions over the result frames of :func:`kiemnhiem.stats.evaluation.evaluate_all` (and
the dataset's catalogs, pilots and comments): no I/O, nothing printed. The HTML reports
(:mod:`.html`) and the Word and PDF documents (:mod:`.documents`) both build their first page
from :func:`district_overview` and :func:`model_overview`, so they carry the same conclusions.

Plain words only: no p-values, ranks, method names or parameters (those stay in each report's
technical appendix). The estimate that leads is the one that matches the test: for the model
its Hodges-Lehmann estimate with its exact interval, for a district its own estimate with its
90 % range; a pilot with no comparison after its start shows its before/after change labelled
as including province-wide change, never as an effect. A "no clear change" always says how
large a change could have gone unseen (``mde``), so that it never reads as "no effect" when the
cause is too few districts (``research/district-evidence.md``, section 6).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from ..labels import check_lang, format_day, format_number, format_percent, format_signed, label
from .frames import builtin_claims
from .indicators import IndicatorInfo, indicator_info, model_label
from .text import (
    _missing,
    _true,
    _unit_text,
    format_level,
    verdict_code,
    verdict_label,
    year_ranges,
)

#: District verdicts in the order the «Đánh giá chung» groups them.
_CLEAR = ("improved", "worsened")
_IN_LINE = ("in_line", "in_line_before_after")
_LOOK_AGAIN = ("differs", "pretrend")
_UNCLEAR = ("no_clear_change", "no_clear_change_before_after")
_NO_DATA = ("no_data", "before_after_only")

#: Model verdicts that are conclusive.
_CONCLUSIVE = ("improved", "worsened", "changed")

#: Ratings at or above this grade are "hoàn thành tốt nhiệm vụ trở lên" (DOMAIN.md).
GOOD_RATING = 3

#: Columns of :attr:`ModelOverview.claims`.
CLAIM_COLUMNS = (
    "model",
    "claim",
    "quote",
    "indicator",
    "indicator_label",
    "kind",
    "verdict",
    "answer",
    "caveats",
)


@dataclass(frozen=True)
class IndicatorAnswer:
    """One indicator's plain block on a district report's first page."""

    indicator: str
    label: str
    verdict: str
    verdict_text: str
    model_line: str
    own_line: str
    caveats: tuple[str, ...] = ()


@dataclass(frozen=True)
class DistrictOverview:
    """A district report's first page: one answer per indicator, «Đánh giá chung» (3-5
    sentences) and «Đề xuất, kiến nghị» (the analysts' comments on this pilot)."""

    unit_code: str
    unit_name: str
    model: str
    answers: tuple[IndicatorAnswer, ...]
    assessment: tuple[str, ...]
    recommendations: tuple[str, ...]


@dataclass(frozen=True)
class ModelOverview:
    """The summary's opening for one model: «Đánh giá chung», the article's claims with their
    caveats (:data:`CLAIM_COLUMNS`), and the analysts' comments on its pilots."""

    model: str
    assessment: tuple[str, ...]
    claims: pd.DataFrame
    recommendations: tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# District
# ---------------------------------------------------------------------------------------------


def district_rows(results: pd.DataFrame, unit_code: str, model: str) -> pd.DataFrame:
    """The pilot rows of one district and model, in the frame's order."""
    frame = results[
        (results["scope"] != "model")
        & (results["unit_code"].astype(str) == str(unit_code))
        & (results["model"].astype(str) == str(model))
    ]
    return frame.reset_index(drop=True)


def district_overview(
    dataset, results: pd.DataFrame, unit_code: str, model: str, lang: str = "vi"
) -> DistrictOverview:
    """The first page of one district's report.

    Parameters
    ----------
    dataset : Dataset
        For the catalogs, the pilots (start dates) and the analysts' comments.
    results : DataFrame
        :func:`~kiemnhiem.stats.evaluation.evaluate_all` rows holding at least this pilot's
        rows; the model's rows (``scope`` "model") add the model's estimate and interval
        (without them the model's answer is its verdict alone).
    unit_code, model : str
    lang : {"vi", "en"}
    """
    lang = check_lang(lang)
    rows = district_rows(results, unit_code, model)
    if rows.empty:
        raise ValueError(f"no result rows for {unit_code} / {model}")
    model_rows = _model_rows(results, model)
    counts = _start_counts(dataset.pilots, model)
    unit_name = str(rows["unit_name"].iloc[0])
    answers = tuple(
        _answer(row, model_rows.get(str(row["indicator"])), dataset, counts, lang)
        for _, row in rows.iterrows()
    )
    assessment = _district_assessment(rows, answers, dataset, lang)
    recommendations = _comments(dataset.comments, model, unit_code)
    return DistrictOverview(
        unit_code=str(unit_code),
        unit_name=unit_name,
        model=str(model),
        answers=answers,
        assessment=tuple(assessment),
        recommendations=tuple(recommendations),
    )


def _answer(row, model_row, dataset, counts, lang) -> IndicatorAnswer:
    info = indicator_info(dataset.indicators, str(row["indicator"]), lang)
    code = verdict_code(row.get("verdict"))
    return IndicatorAnswer(
        indicator=info.code,
        label=info.label,
        verdict=code,
        verdict_text=district_verdict_text(row, lang, models=dataset.models),
        model_line=model_line(row, model_row, info, lang, models=dataset.models, counts=counts),
        own_line=own_line(row, info, lang),
        caveats=tuple(_district_caveats(row, model_row, info, dataset, lang)),
    )


def district_verdict_text(row: Mapping | pd.Series, lang: str = "vi", *, models=None) -> str:
    """A district verdict in words (``research/district-evidence.md``, 3.3), without numbers."""
    lang = check_lang(lang)
    code = verdict_code(row.get("verdict"))
    m = verdict_code(row.get("model_verdict"))
    fields: dict[str, object] = {
        "model_dir": label(f"dist_dir_{m}", lang)
        if m in _CONCLUSIVE
        else label("dist_dir_changed", lang)
    }
    rel = str(row.get("consistency", "") or "")
    fields["relation"] = label(f"dist_rel_{rel}", lang) if rel else label("dist_rel_opposite", lang)
    g = row.get("g")
    fields["year"] = "–" if _missing(g) else int(g)
    key = f"conc_verdict_{code}"
    if code == "differs" and str(row.get("comparison", "")) == "none":
        key = "conc_verdict_differs_before_after"
    if code == "no_clear_change" and _mde_infinite(row):
        key = "conc_verdict_no_clear_change_too_few"
    try:
        return label(key, lang, **fields)
    except KeyError:
        return label(f"eval_verdict_{code}", lang) if code else "–"


def model_line(
    row: Mapping | pd.Series,
    model_row: Mapping | pd.Series | None,
    info: IndicatorInfo,
    lang: str = "vi",
    *,
    models=None,
    counts: Mapping[str, int] | None = None,
) -> str:
    """The model's answer on one indicator, with its caveats (joint test, start sensitivity,
    assumed starts), in plain words.

    ``model_row``: the model's row of :func:`~kiemnhiem.stats.evaluation.evaluate_all` (its
    estimate and interval); without it, the pilot row's ``model_verdict`` alone.
    """
    lang = check_lang(lang)
    source = model_row if model_row is not None else row
    m = verdict_code(
        model_row.get("verdict") if model_row is not None else row.get("model_verdict")
    )
    n = source.get("n_pilots") if model_row is not None else None
    head = (
        label("conc_model_head_n", lang, n=int(n))
        if not _missing(n) and int(n) > 0
        else label("conc_model_head", lang)
    )
    if m == "not_assessed" or not m:
        why = str(source.get("reason_code", "") or "")
        key = {
            "one_assignment": "conc_model_untestable_one",
            "no_pilots": "conc_model_untestable_data",
        }.get(why, "conc_model_untestable")
        text = f"{head}: {label(key, lang)}"
    else:
        text = f"{head}: {label(f'conc_model_{m}', lang)}"
        if model_row is not None and not _missing(model_row.get("hl_estimate")):
            text += " – " + _estimate_with_range(
                model_row.get("hl_estimate"),
                model_row.get("ci_low"),
                model_row.get("ci_high"),
                info,
                lang,
                level=_level(model_row),
            )
        text += "."
    caveats = []
    joint = [c for c in str(row.get("joint_with", "") or "").split(";") if c]
    if joint and m in _CONCLUSIVE:
        names = ", ".join(model_label(models, c, lang) for c in joint)
        caveats.append(label("conc_model_joint", lang, other=names))
    if model_row is not None and _true(model_row.get("start_sensitive")):
        caveats.append(label("conc_model_start_sensitive", lang))
    if counts and m in _CONCLUSIVE:
        guessed = counts.get("assumed", 0) + counts.get("approximate", 0)
        if guessed:
            caveats.append(
                label("conc_model_starts_guessed", lang, k=guessed, n=counts.get("total", 0))
            )
    if m == "no_clear_change":
        caveats.append(mde_text(source, info, lang))
    return " ".join([text, *caveats]).strip()


def own_line(row: Mapping | pd.Series, info: IndicatorInfo, lang: str = "vi") -> str:
    """What the district's own figures show: its own estimate with its 90 % range against the
    districts without the pilot; or, with no district left to compare with, its before/after
    change labelled as including province-wide change, and its gap to the other districts."""
    lang = check_lang(lang)
    unit = unit_in_sentence(str(row.get("unit_name", "") or ""), lang)
    code = verdict_code(row.get("verdict"))
    if code == "no_data":
        n_pre, n_post = row.get("n_pre"), row.get("n_post")
        return label(
            "conc_own_no_data",
            lang,
            unit=unit,
            n_pre=0 if _missing(n_pre) else int(n_pre),
            n_post=0 if _missing(n_post) else int(n_post),
        )
    if str(row.get("comparison", "")) == "none":
        change = amount(row.get("change"), info, lang)
        ld = row.get("long_diff")
        if _missing(ld):
            return label("conc_own_before_after_only", lang, unit=unit, change=change)
        return label(
            "conc_own_before_after", lang, unit=unit, change=change, ld=amount(ld, info, lang)
        )
    own = row.get("own_estimate")
    if _missing(own):
        return label("conc_own_missing", lang, unit=unit)
    n = row.get("n_reference")
    years = str(row.get("did_years_used", "") or "")
    whom = (
        label("conc_own_whom_never", lang, n=0 if _missing(n) else int(n))
        if str(row.get("comparison", "")) == "never"
        else label(
            "conc_own_whom_notyet", lang, n=0 if _missing(n) else int(n), years=_years(years)
        )
    )
    text = label(
        "conc_own",
        lang,
        unit=unit,
        estimate=_estimate_with_range(
            own, row.get("own_low"), row.get("own_high"), info, lang, level=_level(row)
        ),
        whom=whom,
    )
    pooled = row.get("pooled_estimate")
    if not _missing(pooled):
        text += " " + label(
            "conc_own_pooled",
            lang,
            estimate=amount(pooled, info, lang),
            low=amount(row.get("pooled_low"), info, lang),
            high=amount(row.get("pooled_high"), info, lang),
        )
    return text


def pretrend_share_text(row: Mapping | pd.Series, info: IndicatorInfo, lang: str = "vi") -> str:
    """The share of the change that the trend before the start alone gives, whenever it is at
    least half (flagged or not); "" otherwise.

    The base is the change the verdict rests on: ``did`` (for a pilot with no comparison after
    its start, its before/after change, to which ``trend_effect`` of its own series applies).
    """
    lang = check_lang(lang)
    trend, base = row.get("trend_effect"), row.get("did")
    if _missing(base) and not _missing(row.get("change")):
        base = row.get("change")
    if _missing(trend) or _missing(base):
        return ""
    trend, base = float(trend), float(base)
    if not (math.isfinite(trend) and math.isfinite(base)) or base == 0 or trend * base <= 0:
        return ""
    if abs(trend) < 0.5 * abs(base):
        return ""
    share = abs(trend) / abs(base)
    key = "conc_pretrend_flagged" if _true(row.get("pretrend_flag")) else "conc_pretrend_share"
    if share > 1:
        key += "_more"
    return label(
        key,
        lang,
        trend=amount(trend, info, lang),
        change=amount(base, info, lang),
        share=format_percent(share, lang, 0),
    )


def mde_text(row: Mapping | pd.Series, info: IndicatorInfo, lang: str = "vi") -> str:
    """How large a change could go unseen: «thay đổi nhỏ hơn khoảng X mỗi năm không phân biệt
    được với biến động thường năm ở đây»; with ``mde`` infinite, that no test can conclude with
    these districts; "" without it."""
    lang = check_lang(lang)
    value = row.get("mde")
    if _missing(value):
        return ""
    value = float(value)
    if math.isinf(value):
        return label("conc_mde_inf", lang)
    key = "conc_mde_flow" if _is_flow(info) else "conc_mde"
    return label(key, lang, mde=amount(abs(value), info, lang, signed=False))


def _district_caveats(row, model_row, info, dataset, lang) -> list[str]:
    out = []
    share = pretrend_share_text(row, info, lang)
    if share:
        out.append(share)
    if _true(row.get("start_sensitive")):
        status = str(row.get("start_status", "") or "")
        out.append(
            label(
                "conc_start_sensitive",
                lang,
                status=label(f"report_status_{status}", lang)
                if status in ("approximate", "assumed")
                else label("report_status_assumed", lang),
            )
        )
    code = verdict_code(row.get("verdict"))
    m = verdict_code(row.get("model_verdict"))
    if code in _UNCLEAR and m != "no_clear_change":
        # The model line carries the model's own mde sentence when it found no clear change.
        text = mde_text(row, info, lang)
        if text:
            out.append(text)
    return out


def _district_assessment(rows: pd.DataFrame, answers, dataset, lang) -> list[str]:
    """3-5 sentences: what improved (model and district), what the model shows and the district
    cannot confirm, what to look at again, what shows no clear change and why that is not "no
    effect", how sure the start date is."""
    by = {}
    for a in answers:
        by.setdefault(a.verdict, []).append(a.label)
    n = len(answers)
    unit = unit_in_sentence(str(rows["unit_name"].iloc[0]), lang)
    sentences: list[str] = []

    clear = by.get("improved", [])
    if clear:
        sentences.append(
            label("conc_dist_improved", lang, k=len(clear), n=n, names=_names(clear, lang))
        )
    else:
        sentences.append(label("conc_dist_improved_none", lang, n=n, unit=unit))
    worse = by.get("worsened", [])
    if worse:
        sentences.append(label("conc_dist_worsened", lang, names=_names(worse, lang)))
    in_line = by.get("in_line", [])
    if in_line:
        sentences.append(label("conc_dist_in_line", lang, names=_names(in_line, lang)))
    ba = by.get("in_line_before_after", [])
    no_comparison = rows[rows["comparison"].astype(str) == "none"]
    if ba or len(no_comparison):
        g = no_comparison["g"].dropna()
        year = int(g.iloc[0]) if len(g) else "–"
        sentences.append(
            label("conc_dist_before_after", lang, year=year, names=_names(ba, lang))
            if ba
            else label("conc_dist_before_after_none", lang, year=year)
        )
    look = by.get("differs", []) + by.get("pretrend", [])
    if look:
        sentences.append(label("conc_dist_look_again", lang, names=_names(look, lang)))
    unclear = by.get("no_clear_change", []) + by.get("no_clear_change_before_after", [])
    if unclear:
        sentences.append(
            label("conc_dist_unclear", lang, k=len(unclear), names=_names(unclear, lang))
        )
    missing = by.get("no_data", []) + by.get("before_after_only", [])
    if missing:
        sentences.append(label("conc_dist_no_data", lang, names=_names(missing, lang)))
    first = rows.iloc[0]
    status = str(first.get("start_status", "") or "")
    start = first.get("start")
    when = "–"
    if not _missing(start):
        precision = str(first.get("start_precision", "day") or "day")
        when = format_day(pd.Timestamp(start).date(), lang, precision)
    start_sentence = ""
    if status in ("approximate", "assumed"):
        sensitive = [
            a.label
            for a, (_, r) in zip(answers, rows.iterrows(), strict=True)
            if _true(r.get("start_sensitive"))
        ]
        st = label(f"report_status_{status}", lang)
        start_sentence = (
            label(
                "conc_dist_start_sensitive",
                lang,
                date=when,
                status=st,
                names=_names(sensitive, lang),
            )
            if sensitive
            else label("conc_dist_start_robust", lang, date=when, status=st)
        )
    elif status == "documented":
        start_sentence = label("conc_dist_start_documented", lang, date=when)
    # Keep the first sentence, then the most telling ones, the start last: 3 to 5 in all.
    body = sentences[1:]
    keep = sentences[:1] + body[: 3 if start_sentence else 4]
    if start_sentence:
        keep.append(start_sentence)
    if len(keep) < 3:
        keep.append(label("conc_dist_basis", lang))
    if len(keep) < 3:
        keep.append(label("conc_dist_chosen", lang))
    return keep[:5]


# ---------------------------------------------------------------------------------------------
# Model (the summary)
# ---------------------------------------------------------------------------------------------


def model_overview(dataset, results: pd.DataFrame, model: str, lang: str = "vi") -> ModelOverview:
    """The summary's opening for one model: «Đánh giá chung» (what improved clearly, what
    cannot be judged and why, how many starts are assumed, what data to collect next), the
    article's claims with their caveats, and the analysts' comments on its pilots."""
    lang = check_lang(lang)
    model = str(model)
    rows = results[results["model"].astype(str) == model]
    model_rows = _model_rows(results, model)
    pilots = rows[rows["scope"] != "model"]
    counts = _start_counts(dataset.pilots, model)

    def name(code):
        return indicator_info(dataset.indicators, code, lang).label

    improved, worsened, changed, unclear, untestable = [], [], [], [], []
    for code, r in model_rows.items():
        v = verdict_code(r.get("verdict"))
        info = indicator_info(dataset.indicators, code, lang)
        marks = _claim_caveats(r, pilots, code, dataset, lang, counts, short=True)
        text = info.label + (f" ({'; '.join(marks)})" if marks else "")
        if v == "improved":
            improved.append(text)
        elif v == "worsened":
            worsened.append(text)
        elif v == "changed":
            changed.append(text)
        elif v == "no_clear_change":
            unclear.append(
                f"{info.label} ({_mde_short(r, info, lang)})"
                if not _missing(r.get("mde"))
                else info.label
            )
        else:
            untestable.append(info.label)
    n = len(model_rows)
    out: list[str] = []
    if improved:
        out.append(
            label(
                "conc_model_sum_improved", lang, k=len(improved), n=n, names=_names(improved, lang)
            )
        )
    else:
        out.append(label("conc_model_sum_improved_none", lang, n=n))
    if worsened or changed:
        out.append(label("conc_model_sum_worsened", lang, names=_names(worsened + changed, lang)))
    if unclear:
        out.append(
            label("conc_model_sum_unclear", lang, k=len(unclear), names=_names(unclear, lang))
        )
    # Pilots with no district left to compare with after their start.
    ba = pilots[pilots["comparison"].astype(str) == "none"]
    ba_units = list(dict.fromkeys(ba["unit_name"].astype(str)))
    if ba_units:
        g = pd.to_numeric(ba["g"], errors="coerce").dropna()
        out.append(
            label(
                "conc_model_sum_before_after",
                lang,
                k=len(ba_units),
                n=counts.get("total", 0),
                year=int(g.min()) if len(g) else "–",
            )
        )
    if untestable:
        out.append(label("conc_model_sum_untestable", lang, names=_names(untestable, lang)))
    guessed = counts.get("assumed", 0) + counts.get("approximate", 0)
    parts = [
        label(f"conc_starts_{status}", lang, k=counts[status])
        for status in ("assumed", "approximate", "documented")
        if counts.get(status)
    ]
    if parts:
        out.append(
            label(
                "conc_model_sum_starts", lang, n=counts.get("total", 0), parts=_names(parts, lang)
            )
        )
    # What to collect next.
    needs = []
    if guessed:
        needs.append(label("conc_need_starts", lang, k=guessed))
    missing = sorted(
        {
            name(str(r["indicator"]))
            for _, r in pilots.iterrows()
            if verdict_code(r.get("verdict")) in _NO_DATA
        }
    )
    if missing:
        needs.append(label("conc_need_years", lang, names=_names(missing, lang)))
    claims = claims_frame(builtin_claims(), dataset, results, model, lang)
    untested = claims[claims["kind"] == "untestable"]["claim"].tolist()
    if untested:
        needs.append(
            label("conc_need_claims", lang, names=_names([_lower_first(c) for c in untested], lang))
        )
    if needs:
        out.append(label("conc_model_sum_needs", lang, needs="; ".join(needs)))
    recommendations = _comments(dataset.comments, model, None, dataset=dataset)
    return ModelOverview(
        model=model, assessment=tuple(out), claims=claims, recommendations=tuple(recommendations)
    )


def claims_frame(
    claims: pd.DataFrame, dataset, results: pd.DataFrame, model: str, lang: str = "vi"
) -> pd.DataFrame:
    """The article's claims about ``model`` with the answer the data give and its caveats.

    A claim about a change is answered by the model's verdict on its indicator (joint test,
    start sensitivity and assumed starts said beside it); a claim about a level (a rating
    indicator: «xếp loại hoàn thành tốt nhiệm vụ trở lên hằng năm») by the level: the
    pilot-years rated 3-4 out of all pilot-years; a claim no indicator measures is
    "untestable". Columns :data:`CLAIM_COLUMNS` (``kind``: change, level, untestable).
    """
    lang = check_lang(lang)
    model = str(model)
    model_rows = _model_rows(results, model)
    pilots = results[(results["model"].astype(str) == model) & (results["scope"] != "model")]
    counts = _start_counts(dataset.pilots, model)
    out = []
    for claim in claims.to_dict("records"):
        if str(claim.get("model", "")) != model:
            continue
        code = str(claim.get("indicator", "") or "")
        info = indicator_info(dataset.indicators, code, lang) if code else None
        rec = {
            "model": model,
            "claim": claim.get(f"claim_{lang}", ""),
            "quote": claim.get("quote_vi", ""),
            "indicator": code,
            "indicator_label": info.label if info else "",
        }
        if info is not None and info.kind == "rating":
            answer = rating_level_text(dataset, model, code, lang)
            rec.update(
                kind="level",
                verdict="",
                answer=answer or label("conc_claim_no_result", lang),
                caveats="",
            )
        elif info is not None and code in model_rows:
            r = model_rows[code]
            v = verdict_code(r.get("verdict"))
            text = label(
                f"conc_claim_{v}"
                if v in (*_CONCLUSIVE, "no_clear_change")
                else "conc_claim_not_assessed",
                lang,
            )
            if not _missing(r.get("hl_estimate")):
                text += ": " + _estimate_with_range(
                    r.get("hl_estimate"),
                    r.get("ci_low"),
                    r.get("ci_high"),
                    info,
                    lang,
                    level=_level(r),
                )
            caveats = _claim_caveats(r, pilots, code, dataset, lang, counts, short=False)
            if v == "no_clear_change":
                caveats.append(mde_text(r, info, lang))
            rec.update(
                kind="change", verdict=v, answer=text, caveats=" ".join(c for c in caveats if c)
            )
        else:
            rec.update(
                kind="untestable",
                verdict="",
                answer=label("conc_claim_untestable" if not code else "conc_claim_no_result", lang),
                caveats="",
            )
        out.append(rec)
    return pd.DataFrame(out, columns=list(CLAIM_COLUMNS))


def rating_level_text(dataset, model: str, indicator: str, lang: str = "vi") -> str:
    """«k trong n năm-huyện thí điểm được xếp loại hoàn thành tốt nhiệm vụ trở lên (x %)»: the
    pilot-years (from each pilot's start year to the year before its end) rated 3-4, out of
    all pilot-years with a rating; "" when there are none."""
    from ..stats.timeline import annual_panel

    lang = check_lang(lang)
    pilots = dataset.pilots[dataset.pilots["model"].astype(str) == str(model)]
    annual = annual_panel(dataset)
    annual = annual[annual["indicator"] == indicator]
    total = good = 0
    units_short = set()
    for p in pilots.to_dict("records"):
        start = p.get("start")
        if _missing(start):
            continue
        first = pd.Timestamp(start).year
        end = p.get("end")
        last = pd.Timestamp(end).year - 1 if not _missing(end) else 10**6
        mine = annual[
            (annual["unit_code"].astype(str) == str(p["unit_code"]))
            & (annual["year"] >= first)
            & (annual["year"] <= last)
        ]
        values = pd.to_numeric(mine["value"], errors="coerce").dropna()
        total += len(values)
        good += int((values >= GOOD_RATING).sum())
        if (values < GOOD_RATING).any():
            units_short.add(unit_in_sentence(str(p.get("unit_name", p["unit_code"])), lang))
    if total == 0:
        return ""
    text = label(
        "conc_level_rating", lang, k=good, n=total, share=format_percent(good / total, lang, 0)
    )
    if good == total:
        return text + " " + label("conc_level_rating_all", lang)
    return (
        text
        + " "
        + label(
            "conc_level_rating_short", lang, k=total - good, names=_names(sorted(units_short), lang)
        )
    )


def _claim_caveats(r, pilots, code, dataset, lang, counts, *, short: bool) -> list[str]:
    """Joint test (with which model), start sensitivity, assumed starts, trend before."""
    out = []
    mine = pilots[pilots["indicator"].astype(str) == code]
    joint = sorted(
        {
            m
            for j in mine.get("joint_with", pd.Series(dtype=str)).astype(str)
            for m in j.split(";")
            if m
        }
    )
    v = verdict_code(r.get("verdict"))
    if _true(r.get("joint_test")) and joint:
        names = ", ".join(model_label(dataset.models, m, lang) for m in joint)
        out.append(label("conc_short_joint" if short else "conc_model_joint", lang, other=names))
    if _true(r.get("start_sensitive")):
        out.append(
            label("conc_short_start_sensitive" if short else "conc_model_start_sensitive", lang)
        )
    guessed = counts.get("assumed", 0) + counts.get("approximate", 0)
    if guessed and v in _CONCLUSIVE and not short:
        out.append(label("conc_model_starts_guessed", lang, k=guessed, n=counts.get("total", 0)))
    if _true(r.get("pretrend_flag")):
        out.append(label("conc_short_pretrend" if short else "conc_model_pretrend", lang))
    return out


def plain_detail_table(
    result: Mapping | pd.Series,
    model_row: Mapping | pd.Series | None = None,
    indicators: pd.DataFrame | None = None,
    lang: str = "vi",
) -> pd.DataFrame:
    """One indicator's figures in plain words, for the leader's part of a report: before,
    after, the before/after change (province-wide change included), the district's own
    estimate with its 90 % range (or, with no district left to compare with, its gap to the
    other districts), the model's estimate with its interval, the trend before the start, the
    smallest change that can be told apart, the verdict. No test statistics: those are in
    :func:`indicator_detail_table`, in the technical appendix.

    Returns
    -------
    DataFrame
        Two text columns (item, value).
    """
    lang = check_lang(lang)
    info = indicator_info(indicators, str(result["indicator"]), lang)

    def years(key: str) -> str:
        value = result.get(key)
        return year_ranges(value) if isinstance(value, str) and value else "–"

    items = [
        (label("report_col_unit", lang), _unit_text(info, lang) or "–"),
        (
            label("plain_before", lang, years=years("pre_years_used")),
            format_level(result.get("pre_mean"), info, lang),
        ),
        (
            label("plain_after", lang, years=years("post_years_used")),
            format_level(result.get("post_mean"), info, lang),
        ),
        (label("plain_change", lang), amount(result.get("change"), info, lang)),
    ]
    if str(result.get("comparison", "")) == "none":
        items.append((label("plain_long_diff", lang), amount(result.get("long_diff"), info, lang)))
    else:
        own = result.get("own_estimate")
        items.append(
            (
                label("plain_own", lang),
                "–"
                if _missing(own)
                else _estimate_with_range(
                    own,
                    result.get("own_low"),
                    result.get("own_high"),
                    info,
                    lang,
                    level=_level(result),
                ),
            )
        )
    if model_row is not None and not _missing(model_row.get("hl_estimate")):
        items.append(
            (
                label("plain_model", lang),
                _estimate_with_range(
                    model_row.get("hl_estimate"),
                    model_row.get("ci_low"),
                    model_row.get("ci_high"),
                    info,
                    lang,
                    level=_level(model_row),
                ),
            )
        )
    trend = pretrend_share_text(result, info, lang)
    if not trend and not _missing(result.get("trend_effect")):
        trend = label("plain_trend_small", lang)
    items.append((label("plain_trend", lang), trend or "–"))
    items.append((label("plain_mde", lang), mde_text(result, info, lang) or "–"))
    items.append((label("report_col_verdict", lang), verdict_label(result.get("verdict"), lang)))
    frame = pd.DataFrame(
        items, columns=[label("plain_col_item", lang), label("plain_col_value", lang)]
    )
    frame.attrs[PRINT_HIDE] = _repeated_rows(frame, _unit_text(info, lang))
    return frame


#: ``DataFrame.attrs`` key: the positions of the rows that print leaves out because they only
#: repeat what is printed beside them (:func:`kiemnhiem.report.frames.style_table` marks their
#: cells ``kn-print-hide``). The page limit of issue 12 needs the room for legible answers.
PRINT_HIDE = "kn_print_hide"


def _repeated_rows(frame: pd.DataFrame, unit: str) -> list[int]:
    """The rows of a :func:`plain_detail_table` that repeat what is next to them in print.

    - The verdict (last row): the badge beside the indicator's name, just above the table,
      says the same words with the same shape (both are ``verdict_text``).
    - The unit (first row), only where another figure of the table states it after a number
      ("−9,7 cuộc", "51,3 %"): the levels before and after are plain numbers, so the unit
      must stay readable somewhere in the table.
    """
    hide = [len(frame) - 1]
    unit = unit.strip()
    values = frame.iloc[1:-1, 1].astype(str)
    after_number = re.compile(r"\d\s*" + re.escape(unit) + r"(?!\w)")
    if unit and unit != "–" and values.map(lambda v: bool(after_number.search(v))).any():
        hide.insert(0, 0)
    return hide


# ---------------------------------------------------------------------------------------------
# Numbers in words
# ---------------------------------------------------------------------------------------------


def amount(value: object, info: IndicatorInfo, lang: str = "vi", *, signed: bool = True) -> str:
    """A difference with its unit: "−8,8 cuộc", "+2,4 người", "+3,0 điểm %"; "–" if missing."""
    if _missing(value):
        return "–"
    x = float(value)
    if math.isinf(x):
        return "–"
    fmt = format_signed if signed else format_number
    if info.kind == "share":
        return f"{fmt(x * 100, lang, 1)} {label('report_pp', lang)}"
    digits = 2 if info.kind == "rating" or (0 < abs(x) < 1) else (1 if abs(x) < 1000 else 0)
    unit = info.unit.strip()
    return f"{fmt(x, lang, digits)} {unit}".strip()


def _estimate_with_range(estimate, low, high, info, lang, *, level: float) -> str:
    ci = format_percent(1 - level, lang, 0)
    text = amount(estimate, info, lang)
    if _missing(low) or _missing(high) or math.isinf(float(low)) or math.isinf(float(high)):
        return label("conc_range_unbounded", lang, estimate=text, ci=ci)
    return label(
        "conc_range",
        lang,
        estimate=text,
        ci=ci,
        low=amount(low, info, lang),
        high=amount(high, info, lang),
    )


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def model_rows(results: pd.DataFrame, model: str) -> dict[str, pd.Series]:
    """The model's rows (``scope`` "model") of a result frame, by indicator code."""
    return _model_rows(results, model)


def evaluate_report(
    dataset, unit, model: str, pre_years: int = 3, post_years: int = 3, level: float = 0.10
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(pilot rows, the model's rows of evaluate_all)`` for one district's report: the
    model's estimates lead its first page, so its whole evaluation is needed (at the cost of
    :func:`~kiemnhiem.stats.evaluation.evaluate_pilot`, which computes every model block too).

    Raises the :class:`~kiemnhiem.exceptions.ParameterError` of ``evaluate_pilot`` for a unit
    that is not a pilot of ``model``.
    """
    from ..stats.evaluation import evaluate_all, evaluate_pilot

    frame = evaluate_all(
        dataset, pre_years=pre_years, post_years=post_years, level=level, models=[model]
    )
    rows = district_rows(frame, unit, model)
    if rows.empty:  # a name, or not a pilot: evaluate_pilot resolves or says why
        rows = evaluate_pilot(
            dataset, unit, model, pre_years=pre_years, post_years=post_years, level=level
        )
    return rows, frame


def _model_rows(results: pd.DataFrame, model: str) -> dict[str, pd.Series]:
    part = results[(results["scope"] == "model") & (results["model"].astype(str) == str(model))]
    return {str(r["indicator"]): r for _, r in part.iterrows()}


def _start_counts(pilots: pd.DataFrame | None, model: str) -> dict[str, int]:
    if pilots is None or pilots.empty:
        return {"total": 0}
    mine = pilots[pilots["model"].astype(str) == str(model)]
    counts = mine["start_status"].astype(str).value_counts().to_dict()
    counts = {k: int(v) for k, v in counts.items()}
    counts["total"] = len(mine)
    return counts


def _comments(comments: pd.DataFrame | None, model: str, unit_code, *, dataset=None) -> list[str]:
    """The analysts' comments on one pilot (or on every pilot of ``model`` when ``unit_code`` is
    None, each prefixed with its district), with author and date when given."""
    if comments is None or comments.empty:
        return []
    rows = comments[comments["model"].astype(str) == str(model)]
    if unit_code is not None:
        rows = rows[rows["unit_code"].astype(str) == str(unit_code)]
    names = {}
    if dataset is not None and dataset.units is not None:
        names = dict(
            zip(
                dataset.units["unit_code"].astype(str),
                dataset.units["unit_name"].astype(str),
                strict=False,
            )
        )
    out = []
    for rec in rows.to_dict("records"):
        text = str(rec.get("comment", "") or "").strip()
        if not text:
            continue
        who = [str(rec.get(k, "") or "").strip() for k in ("author", "date")]
        who = [w for w in who if w and w.lower() not in ("nan", "nat", "none")]
        if unit_code is None:
            text = f"{names.get(str(rec['unit_code']), rec['unit_code'])}: {text}"
        if who:
            text += f" ({', '.join(who)})"
        out.append(text)
    return out


def _names(items, lang: str) -> str:
    items = [str(i) for i in items if str(i)]
    if not items:
        return "–"
    if len(items) == 1:
        return items[0]
    return f"{'; '.join(items[:-1])} {label('conc_and', lang)} {items[-1]}"


def _years(text: str) -> str:
    return year_ranges(text) if text.strip() else "–"


def _mde_short(row, info: IndicatorInfo, lang: str) -> str:
    """The minimum detectable effect as a short parenthesis for the model's «Đánh giá chung»."""
    value = float(row.get("mde"))
    if math.isinf(value):
        return label("conc_mde_short_inf", lang)
    text = amount(abs(value), info, lang, signed=False)
    return label("conc_mde_short_flow" if _is_flow(info) else "conc_mde_short", lang, mde=text)


def unit_in_sentence(name: str, lang: str = "vi") -> str:
    """A unit's name inside a sentence: «huyện Quỳnh Nhai», «thành phố Sơn La» in Vietnamese
    (the administrative word is not capitalised mid-sentence)."""
    if lang == "vi":
        for prefix in ("Huyện ", "Thành phố ", "Thị xã ", "Quận "):
            if name.startswith(prefix):
                return prefix.lower() + name[len(prefix) :]
    return name


def _is_flow(info: IndicatorInfo) -> bool:
    return info.kind in ("count", "amount", "duration")


def _mde_infinite(row) -> bool:
    value = row.get("mde")
    return not _missing(value) and math.isinf(float(value))


def _level(row) -> float:
    level = row.get("level")
    if not _missing(level):
        return float(level)
    ci = row.get("ci_level")
    return 1 - float(ci) if not _missing(ci) else 0.10


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text
