"""Closed choices as analysts type them: Vietnamese words first, the English codes still read.

The template's drop-downs offer the Vietnamese words (``ngày``/``tháng``/``năm``, ``có văn
bản``/``ước tính``/``giả định``, ``có``/``không``, model names); the files keep the codes of
the dataset contract (``day``, ``documented``, ``true``, ``danvan_mttq``). Every reader of a
choice goes through here, so a folder's CSV files and a workbook accept the same words, with or
without diacritics, in any case.
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

#: Display words of each code, Vietnamese (what the drop-downs offer) and English.
PRECISION_WORDS = {"day": ("ngày", "day"), "month": ("tháng", "month"), "year": ("năm", "year")}
STATUS_WORDS = {
    "documented": ("có văn bản", "documented"),
    "approximate": ("ước tính", "approximate"),
    "assumed": ("giả định", "assumed"),
}
SYNTHETIC_WORDS = {True: ("có", "true"), False: ("không", "false")}

_PRECISION = {
    "day": "day",
    "ngay": "day",
    "month": "month",
    "thang": "month",
    "year": "year",
    "nam": "year",
}
_STATUS = {
    "documented": "documented",
    "co van ban": "documented",
    "van ban": "documented",
    "approximate": "approximate",
    "uoc tinh": "approximate",
    "uoc luong": "approximate",
    "assumed": "assumed",
    "gia dinh": "assumed",
}
_SYNTHETIC = {
    "true": True,
    "yes": True,
    "co": True,
    "x": True,
    "1": True,
    "dung": True,
    "gia lap": True,
    "false": False,
    "no": False,
    "khong": False,
    "0": False,
    "sai": False,
    "that": False,
}


def fold_choice(text: object) -> str:
    """Lower case, no diacritics (đ as d), single spaces: how choices are compared."""
    s = unicodedata.normalize("NFD", str(text).casefold().replace("đ", "d"))
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", s).strip()


def _squeeze(text: object) -> str:
    return re.sub(r"[^0-9a-z]", "", fold_choice(text))


def read_precision(text: object) -> str | None:
    """``day``, ``month`` or ``year`` from ``ngày``/``tháng``/``năm`` or the codes; None if
    not one of them (blank included)."""
    return _PRECISION.get(fold_choice(text))


def read_status(text: object) -> str | None:
    """``documented``, ``approximate`` or ``assumed`` from ``có văn bản``/``ước tính``/``giả
    định`` or the codes; None if not one of them."""
    return _STATUS.get(fold_choice(text))


def read_synthetic(value: object) -> bool | None:
    """True or False from a bool, ``có``/``không``, ``true``/``false`` (and yes/no, 1/0)."""
    if isinstance(value, bool):
        return value
    return _SYNTHETIC.get(fold_choice(value))


def allowed(words: dict) -> str:
    """The accepted words of a choice for messages: ``ngày (day), tháng (month), năm (year)``."""
    return ", ".join(f"{vi} ({en})" for vi, en in words.values())


def model_aliases(models: pd.DataFrame) -> dict[str, str | None]:
    """What a model may be typed as, squeezed (no case, diacritics, spaces or punctuation),
    mapped to its code: the code ("danvan_mttq", or "Dân vận - MTTQ": the code's words), the
    Vietnamese name (``label_vi``, what the template's drop-down offers) and the English one.
    An alias shared by two models maps to None (refused as unknown, never guessed)."""
    out: dict[str, str | None] = {}
    for rec in models.itertuples(index=False):
        for alias in (rec.code, rec.label_vi, rec.label_en):
            key = _squeeze(alias)
            if not key:
                continue
            if key in out and out[key] != rec.code:
                out[key] = None
            else:
                out[key] = rec.code
    return out


def read_model(text: object, aliases: dict[str, str | None]) -> str | None:
    """The model code typed as ``text`` (code, short form or name); None if unknown."""
    return aliases.get(_squeeze(text))
