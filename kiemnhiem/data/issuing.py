"""Who issues the Word and PDF documents: the issuer's kind (a Party body or a State body), its
names, the document's number and symbol, place and date, who signs, and who receives it.

The settings come from a dataset's metadata (``metadata.json`` or the workbook's ``thong_tin``
sheet, under the keys of :data:`DOCUMENT_KEYS`) and from the command line
(``kiemnhiem run --issuer party --doc-number 15-BC/BTCTU ...``), the command line winning field
by field. :func:`read_document_settings` checks the metadata's values and reports every problem
at once, bilingual, located like any other problem of the dataset; :func:`check_document_settings`
does the same for values given in Python or on the command line (raising
:class:`~kiemnhiem.exceptions.ParameterError`).

Pure data: nothing here draws a document (:mod:`kiemnhiem.report.docx_layout` does).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any, Literal

from ..exceptions import ParameterError
from ..labels import both

IssuerKind = Literal["party", "state"]
ISSUER_KINDS: tuple[str, ...] = ("party", "state")

#: Metadata keys (``metadata.json`` and the ``thong_tin`` sheet) -> :class:`DocumentSettings`
#: fields. ASCII Vietnamese, as the analysts read them in the workbook.
DOCUMENT_KEYS: dict[str, str] = {
    "the_thuc": "kind",
    "co_quan_cap_tren": "superior_body",
    "co_quan_ban_hanh": "issuing_body",
    "so_ky_hieu": "number",
    "dia_danh": "place",
    "ngay_ban_hanh": "issued",
    "quyen_han_ky": "signer_authority",
    "chuc_vu_nguoi_ky": "signer_title",
    "nguoi_ky": "signer_name",
    "noi_nhan": "recipients",
}

#: What a reader may type for the issuer's kind (folded: no diacritics, lower case).
_KIND_WORDS = {
    "party": "party",
    "dang": "party",
    "van ban dang": "party",
    "cua dang": "party",
    "36-hd/vptw": "party",
    "state": "state",
    "nha nuoc": "state",
    "chinh quyen": "state",
    "hanh chinh": "state",
    "nd 30": "state",
    "30/2020/nd-cp": "state",
}
#: Display words of each kind (Vietnamese first, as the template offers them).
KIND_WORDS = {"party": ("Đảng", "party"), "state": ("Nhà nước", "state")}

# Number and symbol as each set of rules writes it, without the leading "Số":
# Party (HD 36-HD/VPTW, Phụ lục 3 item 3: "Số 127-QĐ/TW", "Số 24-BS/UBKTTU"): the number, a
# hyphen, the type's abbreviation, a slash, the body's abbreviation.
# State (Decree 30/2020/NĐ-CP, Phụ lục I, Mục II.3: "Số: 15/BC-UBND"): the number, a slash, the
# type's abbreviation, a hyphen, the body's abbreviation.
_NUMBER = {
    "party": re.compile(r"^(\d*)-([A-ZĐ][A-ZĐ0-9]*)/([A-ZĐ0-9][A-ZĐ0-9-]*)$"),
    "state": re.compile(r"^(\d*)/([A-ZĐ0-9][A-ZĐ0-9]*)-([A-ZĐ0-9][A-ZĐ0-9-]*)$"),
}
_EXAMPLE = {"party": "15-BC/BTCTU", "state": "15/BC-UBND"}


@dataclass(frozen=True)
class DocumentSettings:
    """The issuer, number, signature and recipients of a run's documents (None: unset).

    ``kind`` is "party" (Hướng dẫn 36-HD/VPTW of the Party Central Office) or "state"
    (Decree 30/2020/NĐ-CP); unset means "party", the organization commission of a provincial
    Party Committee being who issues these reports. ``number`` holds the number and symbol
    without "Số" (``15-BC/BTCTU``); ``recipients`` one line per recipient, as printed under
    "Nơi nhận".
    """

    kind: str | None = None
    superior_body: str | None = None
    issuing_body: str | None = None
    number: str | None = None
    place: str | None = None
    issued: date | None = None
    signer_authority: str | None = None
    signer_title: str | None = None
    signer_name: str | None = None
    recipients: tuple[str, ...] | None = None

    @property
    def issuer_kind(self) -> str:
        return self.kind or "party"

    def over(self, base: DocumentSettings | None) -> DocumentSettings:
        """These settings with ``base`` filling what they leave unset."""
        if base is None:
            return self
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(base, **{k: v for k, v in values.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        """JSON-able, unset fields left out (what fingerprints and manifests record)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> DocumentSettings:
        """From :meth:`as_dict`'s output or keyword values (checked)."""
        return check_document_settings(**dict(values or {}))

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any] | None) -> DocumentSettings:
        """The settings a loaded dataset's metadata holds (already checked when loaded)."""
        values = {}
        for key, name in DOCUMENT_KEYS.items():
            value = (metadata or {}).get(key)
            if value in (None, "", []):
                continue
            values[name] = value
        return check_document_settings(**values)


# ---------------------------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------------------------


def check_document_settings(**values: Any) -> DocumentSettings:
    """:class:`DocumentSettings` from keyword values, every problem in one
    :class:`~kiemnhiem.exceptions.ParameterError`.

    Accepts the words analysts type: ``kind`` "Đảng"/"party" or "Nhà nước"/"state", ``issued``
    as a date or text (``2026-02-06``, ``06/02/2026``), ``recipients`` as a list or as text with
    one recipient per line or separated by ";".
    """
    unknown = sorted(set(values) - {f.name for f in fields(DocumentSettings)})
    if unknown:
        raise ParameterError(
            *both("doc_err_setting_unknown", names=", ".join(unknown), known=_known())
        )
    problems: list[tuple[str, str]] = []
    settings = _parse(values, lambda name, key, **kw: problems.append(both(key, **kw)))
    if problems:
        vi = " ".join(p[0] for p in problems)
        en = " ".join(p[1] for p in problems)
        raise ParameterError(vi, en)
    return settings


def read_document_settings(
    meta: Mapping[str, Any], report: Callable[[str, str], None]
) -> DocumentSettings:
    """The settings in a dataset's metadata; each problem goes to ``report(metadata key,
    label key, **fields)``, located by the caller (file or sheet, row, column or cell)."""
    by_field = {name: key for key, name in DOCUMENT_KEYS.items()}
    values = {
        name: meta[key] for key, name in DOCUMENT_KEYS.items() if meta.get(key) not in (None, "")
    }
    return _parse(values, lambda name, key, **kw: report(by_field[name], key, **kw))


def _parse(values: Mapping[str, Any], problem: Callable[..., None]) -> DocumentSettings:
    out: dict[str, Any] = {}
    for name, raw in values.items():
        if raw is None:
            continue
        if name == "kind":
            kind = _kind(raw)
            if kind is None:
                allowed = ", ".join(f"{vi} ({en})" for vi, en in KIND_WORDS.values())
                problem(name, "err_bad_choice", value=raw, allowed=allowed)
            else:
                out[name] = kind
        elif name == "issued":
            day = _date(raw)
            if day is None:
                problem(name, "doc_err_setting_date", value=raw)
            else:
                out[name] = day
        elif name == "recipients":
            lines = _lines(raw)
            if lines is None:
                problem(name, "doc_err_setting_text", value=raw)
            elif lines:
                out[name] = lines
        else:
            if not isinstance(raw, str):
                problem(name, "doc_err_setting_text", value=raw)
                continue
            text = " ".join(unicodedata.normalize("NFC", raw).split())
            if text:
                out[name] = text
    if "number" in out:
        number = re.sub(r"^s[ốo]\s*:?\s*", "", out["number"], flags=re.IGNORECASE).strip()
        number = unicodedata.normalize("NFC", number.replace(" ", "")).upper()
        # Checked against the kind given with it; alone (the kind may come from elsewhere:
        # the dataset, the command line), either form is accepted.
        kinds = [out["kind"]] if "kind" in out else list(ISSUER_KINDS)
        kind = kinds[0]
        if not any(_NUMBER[k].match(number) for k in kinds):
            problem(
                "number",
                f"doc_err_number_{kind}",
                value=out["number"],
                example=_EXAMPLE[kind],
            )
            del out["number"]
        else:
            out["number"] = number
    return DocumentSettings(**out)


def _known() -> str:
    return ", ".join(f.name for f in fields(DocumentSettings))


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", str(text).replace("đ", "d").replace("Đ", "D"))
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return " ".join(bare.lower().split())


def _kind(raw: Any) -> str | None:
    return _KIND_WORDS.get(_fold(raw)) if isinstance(raw, str) else None


def _date(raw: Any) -> date | None:
    from datetime import datetime

    from .readers import ReadError, parse_date

    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if not isinstance(raw, (str, int)) or isinstance(raw, bool):
        return None
    try:
        # A Vietnamese office writes the day first (06/02/2026 is 6 February).
        day, precision = parse_date(str(raw), day_first=True)
    except ReadError:
        return None
    return day if precision == "day" else None


def _lines(raw: Any) -> tuple[str, ...] | None:
    if isinstance(raw, str):
        parts: Iterable[Any] = re.split(r"[;\n]", raw)
    elif isinstance(raw, (list, tuple)):
        parts = raw
    else:
        return None
    out = []
    for part in parts:
        if not isinstance(part, str):
            return None
        # "- Ban Thường vụ Tỉnh ủy (b/c)," as typed: the dash and the final mark are the
        # layout's to add.
        text = " ".join(unicodedata.normalize("NFC", part).split()).lstrip("-–•+ ").strip()
        text = text.rstrip(",;.").strip()
        if text:
            out.append(text)
    return tuple(out)
