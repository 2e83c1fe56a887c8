"""One catalog for every piece of display text, in Vietnamese and English.

``label(key, lang)`` is the only way text reaches a reader; ``data/catalog/labels.csv`` holds it
(key, vi, en). Messages may carry ``{placeholders}`` filled with ``str.format``. Numbers and
dates are formatted through Babel's locales, never by hand: :func:`format_number` takes its
separators from Babel and rounds as Babel does (``decimal`` on ``str(value)``, half to even),
which ``tests/test_labels.py`` checks against Babel itself over many values.
"""

from __future__ import annotations

import csv
import decimal
import math
from datetime import date
from functools import cache
from typing import Literal, get_args

from babel.dates import format_date as _babel_date
from babel.numbers import format_decimal as _babel_decimal
from babel.numbers import get_decimal_symbol, get_group_symbol

from .exceptions import ParameterError
from .resources import catalog_dir

Lang = Literal["vi", "en"]
LANGS: tuple[str, ...] = get_args(Lang)
_LOCALES = {"vi": "vi_VN", "en": "en_GB"}


def check_lang(lang: str) -> Lang:
    if lang not in LANGS:
        raise ParameterError(
            f"Ngôn ngữ không hợp lệ: {lang!r}; chọn một trong {', '.join(LANGS)}.",
            f"Invalid language: {lang!r}; choose one of {', '.join(LANGS)}.",
        )
    return lang  # type: ignore[return-value]


@cache
def labels_table() -> dict[str, dict[str, str]]:
    """All labels as ``{key: {"vi": ..., "en": ...}}``."""
    path = catalog_dir() / "labels.csv"
    out: dict[str, dict[str, str]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for line, rec in enumerate(csv.DictReader(fh), start=2):
            if None in rec or None in rec.values():
                raise ValueError(f"labels.csv line {line}: expected 3 fields (quote commas)")
            key = rec["key"].strip()
            if key in out:
                raise ValueError(f"labels.csv: duplicate key {key!r}")
            out[key] = {"vi": rec["vi"], "en": rec["en"]}
    return out


def label(key: str, lang: str = "vi", /, **fields: object) -> str:
    """The text for ``key`` in ``lang``, with ``fields`` filled in."""
    lang = check_lang(lang)
    try:
        text = labels_table()[key][lang]
    except KeyError:
        raise KeyError(f"no label {key!r}") from None
    return text.format(**fields) if fields else text


def both(key: str, /, **fields: object) -> tuple[str, str]:
    """``(vi, en)`` for ``key``: for bilingual messages such as validation problems."""
    return label(key, "vi", **fields), label(key, "en", **fields)


def format_number(value: float | int | None, lang: str = "vi", digits: int = 1) -> str:
    """A number in the language's conventions (Vietnamese: ``1.234,5``); missing is a dash;
    negatives carry the minus sign (``−2,5``), as :func:`format_signed` writes them."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = _decimal_text(value, check_lang(lang), digits)
    return "−" + text[1:] if text.startswith("-") else text


@cache
def _symbols(lang: str) -> tuple[str, str]:
    """(decimal, group) symbols of the language's Babel locale."""
    return get_decimal_symbol(_LOCALES[lang]), get_group_symbol(_LOCALES[lang])


_QUANTA = tuple(decimal.Decimal(1).scaleb(-k) for k in range(11))


def _decimal_text(value, lang: str, digits: int) -> str:
    """Babel's ``format_decimal(value, "#,##0.0…")`` in the language's locale, in a few
    microseconds instead of Babel's ~100 (the evaluation formats tens of thousands of numbers
    on a national dataset). The same steps as Babel's ``NumberPattern.apply``: ``Decimal`` of
    ``str(value)``, the sign taken from it (so -0.001 at 2 digits is "-0.00", as in Babel),
    quantized half to even in the default context, thousands grouped by 3. Anything outside
    the plain case (infinite, huge, many digits, not a number) goes to Babel itself."""
    try:
        dec = decimal.Decimal(str(value))
    except (decimal.InvalidOperation, ValueError, TypeError):
        dec = None
    if dec is None or not dec.is_finite() or not 0 <= digits < len(_QUANTA) \
            or abs(dec) >= 10**15 or not _default_rounding():
        pattern = "#,##0." + "0" * digits if digits else "#,##0"
        return _babel_decimal(value, format=pattern, locale=_LOCALES[lang])
    point, group = _symbols(lang)
    whole, _, frac = f"{abs(dec).quantize(_QUANTA[digits]):f}".partition(".")
    text = f"{int(whole):,}".replace(",", group)
    if digits:
        text += point + frac
    return "-" + text if dec.is_signed() else text


def _default_rounding() -> bool:
    # Babel rounds in the thread's current decimal context; the fast path assumes the default.
    ctx = decimal.getcontext()
    return ctx.rounding == decimal.ROUND_HALF_EVEN and ctx.prec >= 28


def format_signed(value: float | None, lang: str = "vi", digits: int = 1) -> str:
    """Like :func:`format_number` with an explicit sign (``+1,5``, ``−2,0``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = format_number(abs(value), lang, digits)
    if round(value, digits) == 0:
        return text
    return ("+" if value > 0 else "−") + text


def format_percent(
    share: float | None, lang: str = "vi", digits: int = 1, signed: bool = False
) -> str:
    """A share 0-1 as percent (``12,5 %`` in Vietnamese)."""
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return "–"
    fmt = format_signed if signed else format_number
    number = fmt(share * 100, lang, digits)
    return f"{number} %" if lang == "vi" else f"{number}%"


def format_day(value: date | None, lang: str = "vi", precision: str = "day") -> str:
    """A date at its precision: ``15/08/2018``, ``08/2018`` or ``2018`` in Vietnamese."""
    if value is None:
        return "–"
    lang = check_lang(lang)
    if precision == "year":
        return str(value.year)
    if precision == "month":
        pattern = "MM/yyyy" if lang == "vi" else "MMM yyyy"
    else:
        pattern = "dd/MM/yyyy" if lang == "vi" else "d MMM yyyy"
    return _babel_date(value, format=pattern, locale=_LOCALES[lang])


#: Vietnam's time zone: dates and times on reports are as a Vietnamese reader writes them.
VIETNAM_TZ = "Asia/Ho_Chi_Minh"


def now_vietnam():
    """The current moment in Vietnam's time zone (an aware datetime)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(VIETNAM_TZ))


def today_vietnam() -> date:
    """Today's date in Vietnam (what a report made now is dated)."""
    return now_vietnam().date()


def format_day_long(value: date | None, lang: str = "vi") -> str:
    """«ngày 07 tháng 12 năm 2026» in Vietnamese (07/12/2026 in English)."""
    if value is None:
        return "–"
    return label(
        "report_date_long",
        lang,
        day=f"{value.day:02d}",
        month=f"{value.month:02d}",
        year=value.year,
    )


def format_moment(value, lang: str = "vi") -> str:
    """A moment (an ISO 8601 string or a datetime; naive means UTC) in Vietnam's time, 24-hour:
    «ngày 07 tháng 12 năm 2026, lúc 14:05 (giờ Việt Nam)»; "–" when missing or unreadable."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(ZoneInfo(VIETNAM_TZ))
    return label(
        "report_generated_at",
        lang,
        day=f"{local.day:02d}",
        month=f"{local.month:02d}",
        year=local.year,
        time=f"{local.hour:02d}:{local.minute:02d}",
    )
