"""HTML fragments for what pandas cannot draw: banners, verdict boxes and badges, the legend,
the summary's verdict matrix, section heads, captions, notes and comments.

Tables of text are DataFrames (:mod:`.frames`) shown with pandas' own styling; this module
only writes the pieces that need their own markup. Every piece of text from the data (names,
reasons, comments, classification lines) is escaped, never rendered as HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping

import pandas as pd

from ..labels import check_lang, label
from .frames import verdict_matrix
from .indicators import indicator_info, model_label
from .text import (
    VERDICTS,
    _missing,
    indicator_notes,
    verdict_code,
    verdict_symbol,
    verdict_text,
)

# ---------------------------------------------------------------------------------------------
# Banners and headings
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Verdicts at a glance: symbols and colours that survive colour blindness and black-and-white
# ---------------------------------------------------------------------------------------------


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


def verdict_legend_html(lang: str = "vi", *, used: Iterable[object] | None = None) -> str:
    """What each verdict's shape means, one line each.

    ``used``: the verdicts the page shows (e.g. a district report's ``results["verdict"]``).
    On screen every verdict is explained; the lines for the others carry ``kn-print-hide`` and
    are left out of print, where a district report has a page limit and a shape that appears
    nowhere on the paper needs no explanation.
    """
    lang = check_lang(lang)
    shown = None if used is None else {verdict_code(v) for v in used}

    def item(code: str) -> str:
        hide = ' class="kn-print-hide"' if shown is not None and code not in shown else ""
        return (
            f'<li{hide} style="margin:0.15em 0;">'
            f"{verdict_badge_html(code, lang)} {_e(label(f'report_legend_{code}', lang))}</li>"
        )

    items = "".join(item(code) for code in VERDICTS)
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
# Sections, captions, notes
# ---------------------------------------------------------------------------------------------


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

    ``study`` is :func:`kiemnhiem.stats.eventstudy.event_study`'s frame; its ``attrs`` give the
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
        # A model row's reason carries its test figures: the badge's words are enough here.
        if r.get("scope") != "model"
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


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


_TH = "border:1px solid #ccc;padding:4px 6px;vertical-align:bottom;font-weight:600"


_TD = "border:1px solid #ccc;padding:4px 6px"


def _e(text: object) -> str:
    """Escape for HTML text and attribute values."""
    return html.escape(str(text), quote=True)


# ---------------------------------------------------------------------------------------------
# A leader's first page (from kiemnhiem.report.conclusions), navigation, technical appendix
# ---------------------------------------------------------------------------------------------


def nav_html(lang: str = "vi", *, kind: str = "pilot") -> str:
    """Links back to the summary and the index, relative to the published site's layout
    (``OUT/<model>/<code>-<slug>.html``, ``OUT/summary.html``, ``OUT/index.html``)."""
    lang = check_lang(lang)
    suffix = ".en" if lang == "en" else ""
    if kind == "summary":
        links = [("index.html", label("nav_index", lang))]
    else:
        links = [
            (f"../summary{suffix}.html", label("nav_summary", lang)),
            ("../index.html", label("nav_index", lang)),
        ]
    items = " · ".join(f'<a href="{_e(href)}">{_e(text)}</a>' for href, text in links)
    return f'<nav class="kn-nav" style="margin:0 0 0.8em 0;font-size:0.95em;">{items}</nav>'


def answers_html(overview, lang: str = "vi") -> str:
    """One plain block per indicator (:class:`~kiemnhiem.report.conclusions.DistrictOverview`):
    the model's answer with its caveats, the district's own figures, the verdict in words,
    then the other caveats. Shape, word and colour together, as :func:`verdict_boxes_html`."""
    lang = check_lang(lang)
    blocks = []
    for a in overview.answers:
        accent, tint, ink = _VERDICT_STYLES.get(a.verdict, _VERDICT_STYLES["not_assessed"])
        caveats = "".join(f"<li>{_e(c)}</li>" for c in a.caveats)
        blocks.append(
            f'<div class="kn-answer kn-v-{_e(a.verdict)}" style="border:1px solid {accent};'
            f"border-left:6px solid {accent};background:{tint};color:{ink};"
            f'padding:0.5em 0.8em;margin:0 0 0.7em 0;border-radius:3px;break-inside:avoid;">'
            f'<div style="font-size:1.08em;"><span aria-hidden="true" style="font-size:1.2em;">'
            f"{verdict_symbol(a.verdict)}</span> <strong>{_e(a.label)}</strong> – "
            f"{_e(verdict_text(a.verdict, lang))}</div>"
            f'<ol style="margin:0.3em 0 0 1.4em;padding:0;">'
            f"<li>{_e(a.model_line)}</li><li>{_e(a.own_line)}</li></ol>"
            f'<p style="margin:0.3em 0 0 0;"><strong>{_e(label("conc_verdict_heading", lang))}:'
            f"</strong> {_e(a.verdict_text)}</p>"
            + (f'<ul style="margin:0.3em 0 0 1.2em;padding:0;">{caveats}</ul>' if caveats else "")
            + "</div>"
        )
    note = label("dist_note_assumption", lang)
    return (
        f'<div class="kn-answers">{"".join(blocks)}</div>'
        f'<p class="kn-footnote" style="color:#444;font-size:0.92em;">* {_e(note)}</p>'
    )


def assessment_html(sentences: Iterable[str], lang: str = "vi") -> str:
    """«Đánh giá chung»: the generated sentences as one paragraph under their heading."""
    lang = check_lang(lang)
    text = " ".join(_e(s) for s in sentences)
    return (
        f'<section class="kn-assessment"><h2>{_e(label("conc_assessment_heading", lang))}</h2>'
        f"<p>{text}</p></section>"
    )


def recommendations_html(items: Iterable[str], lang: str = "vi") -> str:
    """«Đề xuất, kiến nghị»: the analysts' comments, escaped; a sentence when there are none."""
    lang = check_lang(lang)
    items = [i for i in items if i]
    body = (
        "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"
        if items
        else f"<p>{_e(label('conc_recommendations_none', lang))}</p>"
    )
    return (
        f'<section class="kn-recommendations">'
        f"<h2>{_e(label('conc_recommendations_heading', lang))}</h2>{body}</section>"
    )


def model_overview_html(overview, lang: str = "vi", *, models: pd.DataFrame | None = None) -> str:
    """The summary's opening for one model: its name, «Đánh giá chung» as a list, the article's
    claims with the answer the data give and their caveats, and the analysts' comments."""
    lang = check_lang(lang)
    parts = [
        f'<section class="kn-model-overview"><h2>{_e(model_label(models, overview.model, lang))}'
        "</h2>",
        f"<h3>{_e(label('conc_assessment_heading', lang))}</h3>",
        "<ul>" + "".join(f"<li>{_e(s)}</li>" for s in overview.assessment) + "</ul>",
    ]
    claims = overview.claims
    if len(claims):
        head = "".join(
            f'<th scope="col" style="{_TH};text-align:left;">{_e(label(k, lang))}</th>'
            for k in (
                "summary_col_claim",
                "conc_col_answer",
                "conc_col_caveats",
            )
        )
        rows = []
        for rec in claims.to_dict("records"):
            quote = f'<div style="color:#555;font-size:0.9em;">“{_e(rec["quote"])}”</div>'
            answer = _e(rec["answer"])
            if rec["verdict"]:
                answer = f"{verdict_badge_html(rec['verdict'], lang)} {answer}"
            rows.append(
                f'<tr><td style="{_TD}">{_e(rec["claim"])}{quote}</td>'
                f'<td style="{_TD}">{answer}</td>'
                f'<td style="{_TD}">{_e(rec["caveats"]) or "–"}</td></tr>'
            )
        parts.append(f"<h3>{_e(label('summary_claims_heading', lang))}</h3>")
        parts.append(
            '<div class="kn-scroll" style="overflow-x:auto;max-width:100%;">'
            '<table class="kn-claims" style="border-collapse:collapse;">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )
    if overview.recommendations:
        parts.append(f"<h3>{_e(label('conc_recommendations_heading', lang))}</h3>")
        parts.append(
            "<ul>" + "".join(f"<li>{_e(r)}</li>" for r in overview.recommendations) + "</ul>"
        )
    parts.append("</section>")
    return "".join(parts)


def markdown_html(text: str) -> str:
    """The few Markdown forms the package's own texts use (``## heading``, ``**bold**``,
    ``*em*``, paragraphs, ``- items``) as HTML, everything escaped first."""
    out = []
    for block in str(text).strip().split("\n\n"):
        block = block.strip()
        if not block:
            continue
        m = re.match(r"^(#{1,6})\s+(.*)$", block, flags=re.S)
        if m:
            level = min(len(m.group(1)) + 1, 6)  # one level down inside the appendix
            out.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
        elif all(line.lstrip().startswith("- ") for line in block.splitlines()):
            items = "".join(f"<li>{_inline(line.lstrip()[2:])}</li>" for line in block.splitlines())
            out.append(f"<ul>{items}</ul>")
        else:
            out.append(f"<p>{_inline(block)}</p>")
    return "\n".join(out)


def _inline(text: str) -> str:
    text = _e(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text, flags=re.S)
    return re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", text, flags=re.S)


def appendix_html(parts: Iterable[str], lang: str = "vi") -> str:
    """The technical appendix: every technical figure (tests, ranks, sampling, parameters,
    method names) in one collapsible ``<details>`` for analysts, closed on screen.

    ``parts`` are HTML fragments already escaped (tables from :func:`style_table`'s
    ``to_html()``, :func:`markdown_html`, ...). Printed, a closed appendix is left out (a
    rule scoped to its own class); opened, it prints from a new page.
    """
    lang = check_lang(lang)
    style = (
        "<style>@media print { details.kn-appendix:not([open]) { display: none; } "
        "details.kn-appendix[open] { break-before: page; } }</style>"
    )
    return (
        f'{style}<details class="kn-appendix" style="margin-top:2em;border-top:2px solid #999;'
        f'padding-top:0.5em;"><summary style="cursor:pointer;font-weight:600;font-size:1.1em;">'
        f"{_e(label('appendix_heading', lang))}</summary>"
        f'<p style="color:#444;">{_e(label("appendix_intro", lang))}</p>'
        + "\n".join(parts)
        + "</details>"
    )


def indicator_heading_html(
    result: Mapping | pd.Series, indicators: pd.DataFrame | None = None, lang: str = "vi"
) -> str:
    """One indicator's plain section head: name, verdict badge and the indicator's definition
    (the reasons with their test figures are in the technical appendix)."""
    lang = check_lang(lang)
    info = indicator_info(indicators, str(result["indicator"]), lang)
    parts = [
        f"<h3>{_e(info.label)}</h3>",
        f"<p>{verdict_badge_html(result.get('verdict'), lang)}</p>",
    ]
    if info.description:
        parts.append(
            f"<p><em>{_e(label('report_description_label', lang))}:</em> {_e(info.description)}</p>"
        )
    return "\n".join(parts)


def pilot_appendix_html(
    results: pd.DataFrame,
    all_results: pd.DataFrame | None = None,
    indicators: pd.DataFrame | None = None,
    lang: str = "vi",
    *,
    models: pd.DataFrame | None = None,
    level: float = 0.10,
    pre_years: int = 3,
    post_years: int = 3,
    provenance: str = "",
) -> str:
    """A district report's technical appendix (:func:`appendix_html`): the indicators' table
    with the difference in differences, each indicator's test figures and reasons (the
    district's and the descriptive rank's), the model's pooled effects with their p-values,
    how many verdicts chance alone would give, the method, and the provenance line."""
    from ..stats.evaluation import chance_verdicts
    from .frames import indicator_detail_table, indicator_table, pooled_table, style_table
    from .text import chance_text, method_note_markdown

    lang = check_lang(lang)
    parts = [
        f"<h3>{_e(label('report_indicators_heading', lang))}</h3>",
        style_table(indicator_table(results, indicators, lang), "indicators").to_html(),
        markdown_html(label("report_table_note", lang)),
    ]
    for _, row in results.iterrows():
        info = indicator_info(indicators, str(row["indicator"]), lang)
        parts.append(f"<h4>{_e(info.label)}</h4>")
        parts.append(
            style_table(
                indicator_detail_table(row, indicators, lang), f"detail-{info.code}"
            ).to_html()
        )
        notes = indicator_notes(row, lang)
        placebo = str(row.get(f"placebo_reason_{lang}", "") or "").strip()
        if placebo:
            notes.append(placebo)
        if notes:
            parts.append(notes_html(notes))
    if all_results is not None and len(all_results):
        model = str(results["model"].iloc[0])
        mine = all_results[all_results["model"].astype(str) == model]
        pooled = pooled_table(mine, lang, indicators=indicators, models=models)
        if len(pooled):
            parts.append(f"<h3>{_e(label('summary_pooled_heading', lang))}</h3>")
            parts.append(style_table(pooled, "pooled").to_html())
    n_tests, expected = chance_verdicts(results, level)
    parts.append(
        "<p>"
        + _e(
            chance_text(n_tests, level, lang, expected=expected)
            if n_tests > 0
            else label("report_chance_no_tests", lang)
        )
        + "</p>"
    )
    parts.append(
        markdown_html(
            method_note_markdown(lang, level=level, pre_years=pre_years, post_years=post_years)
        )
    )
    if provenance:
        parts.append(provenance)
    return appendix_html(parts, lang)
