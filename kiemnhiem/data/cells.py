"""What one cell says, as offices type it: clean text, rating words, refusals that say the fix,
the order of a file's dates, and values in the wrong unit of measure.

Every refusal is a label key and its fields (``data/catalog/labels.csv``): the message names
what was typed and what to type instead.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .legacy import convert_legacy

# -- invisible characters ----------------------------------------------------------------------
#: Characters that show as nothing (or as a space) and make "Phù Yên" differ from "Phù Yên".
#: Named by code point in messages: the code reads the same in both languages.
INVISIBLE = {
    "\u200b": "U+200B",  # zero-width space
    "\u200c": "U+200C",  # zero-width non-joiner
    "\u200d": "U+200D",  # zero-width joiner
    "\u2060": "U+2060",  # word joiner
    "\ufeff": "U+FEFF",  # a byte-order mark inside the text
    "\u00ad": "U+00AD",  # soft hyphen
}
#: Spaces that look like a space and are read as one.
ODD_SPACES = {
    "\u00a0": "U+00A0",  # no-break space
    "\u202f": "U+202F",  # narrow no-break space
    "\u2007": "U+2007",  # figure space
}
_INVISIBLE = re.compile("[" + "".join(INVISIBLE) + "]")
_ODD_SPACE = re.compile("[" + "".join(ODD_SPACES) + "]")


@dataclass(frozen=True)
class CleanText:
    """A cell's text made readable, and what was done to it.

    ``encoding`` is "tcvn3" or "vni" when the text was converted from a legacy encoding;
    ``unsure`` when it looks legacy but could not be converted with certainty (refuse it);
    ``removed`` names the invisible characters taken out (no-break spaces become spaces).
    """

    text: str
    original: str
    encoding: str | None = None
    unsure: bool = False
    removed: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.text != self.original


def clean_text(text: str) -> CleanText:
    """NFC, a legacy encoding converted (:func:`~kiemnhiem.data.legacy.convert_legacy`), then
    invisible characters removed and odd spaces made spaces.

    The legacy reading comes first: TCVN3 writes ư as the soft hyphen's byte.
    """
    original = text
    text = unicodedata.normalize("NFC", text)
    if text.isascii():
        return CleanText(text, original)
    legacy = convert_legacy(text)
    if legacy.unsure:
        return CleanText(text, original, unsure=True)
    text = legacy.text
    removed = tuple(dict.fromkeys(INVISIBLE[c] for c in _INVISIBLE.findall(text)))
    removed += tuple(dict.fromkeys(ODD_SPACES[c] for c in _ODD_SPACE.findall(text)))
    text = _ODD_SPACE.sub(" ", _INVISIBLE.sub("", text))
    return CleanText(text, original, legacy.encoding, False, removed)


# -- rating words ------------------------------------------------------------------------------
#: The official rating words (folded: no case, no diacritics) and their abbreviations.
RATING_WORDS = {
    "khong hoan thanh nhiem vu": 1,
    "khong hoan thanh": 1,
    "khtnv": 1,
    "hoan thanh nhiem vu": 2,
    "hoan thanh": 2,
    "htnv": 2,
    "hoan thanh tot nhiem vu": 3,
    "hoan thanh tot": 3,
    "httnv": 3,
    "hoan thanh xuat sac nhiem vu": 4,
    "hoan thanh xuat sac": 4,
    "htxsnv": 4,
}


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", text).strip()


def parse_rating(text: str) -> int | None:
    """A rating word or abbreviation as 1-4 (``HTTNV``, ``Hoàn thành tốt nhiệm vụ``,
    ``hoan thanh tot``, ``H.T.T.N.V``); None when the text is not one."""
    folded = _fold(text).rstrip(".")
    if folded in RATING_WORDS:
        return RATING_WORDS[folded]
    squeezed = re.sub(r"[\s.]", "", folded)
    if squeezed in ("khtnv", "htnv", "httnv", "htxsnv"):
        return RATING_WORDS[squeezed]
    return None


# -- values that are not numbers ---------------------------------------------------------------
_EXCEL_ERRORS = ("#REF!", "#DIV/0!", "#VALUE!", "#N/A", "#NAME?", "#NUM!", "#NULL!", "#SPILL!")
_DASHES = re.compile(r"^[-–—‒―−]+$")
_DOTS = re.compile(r"^(?:\.{2,}|…+)$")
_NUMBER_AND_WORD = re.compile(r"^([-+−]?[\d.,\s\u00a0]*\d)\s*([^\W\d_][\w\s.]*)$")
_WORD_AND_NUMBER = re.compile(r"^([^\W\d_][\w\s.]*?)\s*([-+−]?\d[\d.,\s\u00a0]*)$")


def refuse_value(text: str, kind: str | None = None) -> tuple[str, dict]:
    """The refusal (label key, fields) for a value that is not a number; every message says
    what to type instead."""
    s = text.strip()
    if _DASHES.match(s):
        return "err_value_dash", {"value": s}
    if _DOTS.match(s):
        return "err_value_dots", {"value": s}
    if s.casefold() == "x":
        return "err_value_x", {"value": s}
    if s.upper() in _EXCEL_ERRORS:
        return "err_value_excel_error", {"value": s}
    if kind != "rating" and parse_rating(s) is not None:
        return "err_value_rating_word", {"value": s}
    if m := _NUMBER_AND_WORD.match(s):
        return "err_value_with_word", {"value": s, "number": m[1].strip(), "word": m[2].strip()}
    if m := _WORD_AND_NUMBER.match(s):
        return "err_value_with_word", {"value": s, "number": m[2].strip(), "word": m[1].strip()}
    return "err_value_text", {"value": s}


def share_hint(value: float) -> dict:
    """Fields of the share refusal: what to type for a share typed as a percentage (55)."""
    if 1 < value <= 100:
        as_share = _vi_number(value / 100)
        return {"share": as_share, "percent": f"{_vi_number(value)} %"}
    return {"share": "0,55", "percent": "55 %"}


def _vi_number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


# -- dates -------------------------------------------------------------------------------------
_DMY = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")
DateOrder = Literal["day_first", "month_first", "both", "unknown"]


def date_order(texts: Iterable[str]) -> DateOrder:
    """The order a file's ``a/b/yyyy`` dates show: day first when some first number exceeds 12
    (and no second does), month first when some second number does, ``both`` when they
    contradict each other, ``unknown`` when no date shows it."""
    day = month = False
    for text in texts:
        m = _DMY.match(str(text).strip())
        if not m:
            continue
        a, b = int(m[1]), int(m[2])
        day |= a > 12 >= b
        month |= b > 12 >= a
    if day and month:
        return "both"
    return "day_first" if day else "month_first" if month else "unknown"


# -- magnitude ---------------------------------------------------------------------------------
#: A value this many times away from the median of the other units' values is refused.
MAGNITUDE_LIMIT = 100.0
_CHECKED_KINDS = ("count", "stock", "amount", "duration")
_MANY_UNITS = 60  # above this, the median of all values stands in for the others' median


@dataclass(frozen=True)
class Outlier:
    """A value far from the other units' values of its indicator."""

    row: int  # position in the frame given
    ratio: float  # value / reference (> 1 too large, < 1 too small)
    reference: float  # median of the other units' values
    power: int  # k when the ratio is within a factor of 3 of 1000**k (0: none)


def find_outliers(frame: pd.DataFrame, kinds: dict[str, str]) -> list[Outlier]:
    """Values at least :data:`MAGNITUDE_LIMIT` times away from the median of the other units'
    values of the same indicator (counts, stocks, amounts and durations; positive values).

    ``frame`` has columns ``unit``, ``indicator``, ``value``; ``kinds`` maps indicator codes to
    kinds. A ratio near 1,000 or 1,000,000 names its likely cause: a value typed in đồng or
    nghìn đồng where the indicator is in triệu đồng, or a thousands separator read as decimal.
    """
    out: list[Outlier] = []
    values = frame["value"].to_numpy(dtype=float)
    for indicator, idx in frame.groupby("indicator", sort=False).indices.items():
        if kinds.get(indicator) not in _CHECKED_KINDS:
            continue
        v = values[idx]
        units = frame["unit"].to_numpy()[idx]
        positive = np.isfinite(v) & (v > 0)
        distinct = pd.unique(units[positive])
        if len(distinct) < 3:
            continue  # two units cannot say which of them is off
        if len(distinct) > _MANY_UNITS:
            medians = {u: float(np.median(v[positive])) for u in distinct}
        else:
            medians = {u: float(np.median(v[positive & (units != u)])) for u in distinct}
        for k in np.flatnonzero(positive):
            ref = medians[units[k]]
            ratio = v[k] / ref
            if ratio >= MAGNITUDE_LIMIT or ratio <= 1 / MAGNITUDE_LIMIT:
                power = round(math.log10(ratio) / 3)
                near = abs(math.log10(ratio) - 3 * power) <= math.log10(3)
                out.append(Outlier(int(idx[k]), float(ratio), ref, power if near else 0))
    return sorted(out, key=lambda o: o.row)


def outlier_messages(outlier: Outlier, value: str, unit_vi: str, unit_en: str) -> tuple[str, str]:
    """The refusal of an :class:`Outlier` in Vietnamese and English, with its likely cause.

    Numbers read the same in both languages: the factor as plain digits (1000), the reference
    rounded to a whole number when it is 10 or more.
    """
    from ..labels import label

    ref = outlier.reference
    fields = {"value": value, "reference": f"{ref:.0f}" if ref >= 10 else f"{ref:.2g}"}
    if outlier.power:
        key = "err_magnitude_large" if outlier.power > 0 else "err_magnitude_small"
        fields["factor"] = str(1000 ** abs(outlier.power))
    else:
        key = "err_magnitude_far"
        fields["factor"] = f"{max(outlier.ratio, 1 / outlier.ratio):.0f}"
    return label(key, "vi", **fields, unit=unit_vi), label(key, "en", **fields, unit=unit_en)


#: What a ``confirmed`` cell may say to keep a value the magnitude check refuses.
CONFIRM_WORDS = frozenset({"x", "co", "yes", "true", "1", "dung", "da kiem tra", "xac nhan"})


def is_confirmed(text: str) -> bool:
    return _fold(str(text)) in CONFIRM_WORDS
