"""The label catalog: complete in both languages, and the Vietnamese is really Vietnamese."""

import re
import string
from datetime import date

import pandas as pd
import pytest

from kiemnhiem.data.catalog import builtin_indicators, builtin_models
from kiemnhiem.exceptions import ParameterError
from kiemnhiem.labels import (
    format_day,
    format_number,
    format_percent,
    format_signed,
    label,
    labels_table,
)

ASCII_LETTERS = set(string.ascii_letters)
# letters that occur in Vietnamese and not in English
VIETNAMESE = set("ăâđêôơưàáạảãằắặẳẵầấậẩẫèéẹẻẽềếệểễìíịỉĩòóọỏõồốộổỗờớợởỡùúụủũừứựửữỳýỵỷỹ")


def _looks_vietnamese(text: str) -> bool:
    return any(ch in VIETNAMESE for ch in text.lower())


def test_every_key_has_both_languages():
    for key, texts in labels_table().items():
        assert texts["vi"].strip() and texts["en"].strip(), key


def test_placeholders_match():
    for key, texts in labels_table().items():
        vi = set(re.findall(r"{(\w+)}", texts["vi"]))
        en = set(re.findall(r"{(\w+)}", texts["en"]))
        assert vi == en, key


def test_vietnamese_is_not_a_copy_of_the_english():
    for key, texts in labels_table().items():
        words = re.sub(r"{\w+}|[^\w\s]", " ", texts["vi"])
        if len([w for w in words.split() if any(c.isalpha() for c in w)]) < 2:
            continue  # a code, a unit symbol or a single technical word
        assert texts["vi"] != texts["en"], key
        assert _looks_vietnamese(texts["vi"]), key


@pytest.mark.parametrize("frame", [builtin_models(), builtin_indicators()])
def test_catalog_text_is_bilingual(frame: pd.DataFrame):
    for col in [c for c in frame.columns if c.endswith("_vi")]:
        en = col[:-3] + "_en"
        for vi_text, en_text in zip(frame[col], frame[en]):
            assert vi_text != en_text
            if len(vi_text.split()) > 1:
                assert _looks_vietnamese(vi_text), vi_text


def test_label_fills_fields_and_checks_language():
    assert "Mai Sơnn" in label("err_unknown_unit", "vi", value="Mai Sơnn", province="x",
                               candidates="y")
    with pytest.raises(ParameterError):
        label("err_empty_file", "fr")
    with pytest.raises(KeyError):
        label("no_such_key", "vi")


def test_vietnamese_number_and_date_conventions():
    assert format_number(1234.5, "vi") == "1.234,5"
    assert format_number(1234.5, "en") == "1,234.5"
    assert format_number(12, "vi", 0) == "12"
    assert format_signed(-2.0, "vi") == "−2,0"
    # A negative plain number takes the same minus sign (axis ticks beside signed values).
    assert format_number(-2.5, "vi") == "−2,5"
    assert format_number(-1234, "en", 0) == "−1,234"
    assert format_signed(1.25, "en", 2) == "+1.25"
    assert format_percent(0.125, "vi") == "12,5 %"
    assert format_percent(0.125, "en") == "12.5%"
    assert format_number(float("nan")) == "–"
    assert format_day(date(2018, 8, 15), "vi") == "15/08/2018"
    assert format_day(date(2018, 8, 1), "vi", "month") == "08/2018"
    assert format_day(date(2018, 1, 1), "en", "year") == "2018"


def test_number_formatting_is_babels_exactly():
    """format_number's fast path gives Babel's own string (its pattern, locale and rounding)
    for every kind of number the package formats: halves that binary floats hold inexactly
    (2.675 is 2.67499… in binary, yet Babel rounds the decimal text "2.675" half to even:
    2.68), exact halves (0.125 -> 0.12, even), negative zeros and tiny negatives ("-0.00" in
    Babel, so "−0,00"), thousands, integers, numpy scalars, and magnitudes from 1e-12 to
    just under 1e15; beyond that and for infinities Babel itself is called."""
    import numpy as np
    from babel.numbers import format_decimal

    rng = np.random.default_rng(17)
    values = [0, 1, -1, 0.0, -0.0, 2.675, -2.675, 0.125, 0.135, 1.005, 1234.5, -1234.5,
              999.995, 999999.995, 0.5, 1.5, 2.5, -0.5, -0.001, 0.001, -1e-12, 1e-12,
              123456789012345.6, 999999999999999, 10**15, 1e20, float("inf"), -float("inf"),
              np.float64(2.675), np.float32(0.1), np.int64(-1234567), 7, -12345678]
    for exp in range(-12, 15):
        values += list(rng.standard_normal(40) * 10.0**exp)
        values += list(np.round(rng.uniform(-1, 1, 20) * 10.0**exp, 3) + 0.0005)
    values += [k / 8 for k in range(-80, 80)] + [k / 1000 + 0.0005 for k in range(-2000, 2000)]
    for value in values:
        for lang, locale in (("vi", "vi_VN"), ("en", "en_GB")):
            for digits in (0, 1, 2, 3, 4):
                pattern = "#,##0." + "0" * digits if digits else "#,##0"
                babel = format_decimal(value, format=pattern, locale=locale)
                expected = "−" + babel[1:] if babel.startswith("-") else babel
                assert format_number(value, lang, digits) == expected, (value, lang, digits)
