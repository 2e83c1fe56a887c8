"""The sentences of the evaluation's reasons (``reason_vi``, ``reason_en``): numbers, ranks and
p-values in words, through the label catalog. Only :mod:`kiemnhiem.stats.evaluation` uses it."""

from __future__ import annotations

import functools
import math

from ..labels import format_number, format_signed, label
from .inference import RankTest


# =========================================================================== presentation
@functools.lru_cache(maxsize=4096)
def _number(value: float, lang: str, digits: int, signed: bool = False) -> str:
    # Babel is exact but slow; p-values and levels repeat across hundreds of rows.
    return (format_signed if signed else format_number)(value, lang, digits)


def _ordinal(k: int, lang: str) -> str:
    """``k`` as an ordinal: "3" in Vietnamese (the label says "thứ"), "3rd" in English."""
    if lang == "vi":
        return str(k)
    if 10 <= k % 100 <= 20:
        return f"{k}th"
    return f"{k}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def _p_text(p: float, lang: str) -> str:
    # Sampled p-values go down to 1/10000: keep a significant digit.
    return _number(p, lang, 3 if p >= 0.001 else 4)


def _digits(x: float) -> int:
    a = abs(x)
    return 2 if a < 1 else (1 if a < 1000 else 0)


def _fmt_effect(x: float, ind: dict, lang: str) -> str:
    if ind["kind"] == "share":
        return f"{_number(x * 100, lang, 1, True)} {label('eval_pp', lang)}"
    unit = ind["unit_vi"] if lang == "vi" else ind["unit_en"]
    return f"{_number(x, lang, _digits(x), True)} {unit}".strip()


def _reason(code: str, ind: dict, level: float, *, scope: str, did=math.nan,
            change=math.nan, test: RankTest | None = None, n_pilots: int = 0,
            years: tuple = (), n_years: int = 0) -> tuple[str, str]:
    out = []
    for lang in ("vi", "en"):
        f: dict[str, object] = {}
        if not math.isnan(did):
            effect = _fmt_effect(did, ind, lang)
            if scope == "pilot":
                f["stat"] = label("eval_stat_pilot", lang, did=effect)
            else:
                f["stat"] = label("eval_stat_model", lang, did=effect, k=n_pilots)
        if not math.isnan(change):
            f["change"] = _fmt_effect(change, ind, lang)
        if test is not None:
            noun_key = "eval_noun_units" if scope == "pilot" else (
                "eval_noun_placements" if test.exact else "eval_noun_draws"
            )
            noun = label(noun_key, lang)
            which = "1" if test.rank == 1 else "k"
            f["rank"] = label(f"eval_rank_{test.direction}_{which}", lang, k=test.rank,
                              ordinal=_ordinal(test.rank, lang), n=test.n_assignments,
                              noun=noun)
            f["n"] = test.n_assignments
            f["noun"] = noun
            one_sided = {"improved": test.p_better, "worsened": test.p_worse}
            f["p"] = _p_text(one_sided.get(code, test.p_two), lang)
            f["cut"] = _number(level if code == "changed" else level / 2, lang, 3)
            f["level"] = _number(level, lang, 2)
        f["years"] = ", ".join(str(y) for y in years) or "–"
        f["first_year"] = min(years) if years else "–"
        f["n_years"] = n_years
        out.append(label(f"eval_reason_{code}", lang, **f))
    return out[0], out[1]


def _explain_test(verdict: str, test: RankTest, level: float) -> str:
    if verdict in ("improved", "worsened", "changed"):
        return verdict
    return "no_clear_change" if test.p_min <= level / 2 else "inconclusive"
