"""Reading what Excel on Vietnamese Windows writes: encodings, numbers, dates, periods."""

import importlib.util
import sys
from datetime import date
from pathlib import Path

import pytest

from kiemnhiem.data.readers import ReadError, decode_bytes, parse_date, parse_number, parse_period

TEXT = "Huyện Phù Yên;Quỳnh Nhai"


def _corpus_module():
    """The corpus generator, for its encoders (one copy of each, not two)."""
    if "make_corpus" in sys.modules:
        return sys.modules["make_corpus"]
    path = Path(__file__).parent / "corpus" / "make_corpus.py"
    spec = importlib.util.spec_from_file_location("make_corpus", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


to_cp1258 = _corpus_module().to_cp1258


@pytest.mark.parametrize(
    "raw",
    [
        TEXT.encode("utf-8"),
        b"\xef\xbb\xbf" + TEXT.encode("utf-8"),
        TEXT.encode("utf-16"),  # with BOM, as Excel's "Unicode text"
        to_cp1258(TEXT),  # tone marks become combining characters here
    ],
)
def test_decodings_give_the_same_nfc_text(raw):
    assert decode_bytes(raw) == TEXT


def test_cp1258_combining_marks_are_composed():
    # "ỳ" in Windows-1258 is "y" (0x79) followed by the combining grave accent (0xCC)
    assert decode_bytes(b"Quy\xccnh Nhai") == "Quỳnh Nhai"


def test_undecodable_bytes_are_refused():
    with pytest.raises(ReadError):
        decode_bytes(b"abc \x81\x8d")  # undefined in Windows-1258 and invalid UTF-8
    with pytest.raises(ReadError):
        decode_bytes("ab".encode("utf-16-le"))  # UTF-16 with no BOM: ambiguous


@pytest.mark.parametrize(
    "text, decimal_comma, value",
    [
        ("12", False, 12.0),
        ("12,5", False, 12.5),  # a comma before 1 or 2 digits can only be decimal
        ("12.5", True, 12.5),
        ("1.234,5", False, 1234.5),
        ("1,234.5", True, 1234.5),
        ("1.234.567", False, 1234567.0),
        ("1.234", True, 1234.0),  # semicolon file: the dot groups thousands
        ("1,234", True, 1.234),  # ... and the comma is decimal
        ("1.234", False, 1.234),
        ("1 234", False, 1234.0),
        ("45%", False, 0.45),
        ("45,5 %", True, 0.455),
        ("-3", False, -3.0),
        ("", False, None),
    ],
)
def test_numbers(text, decimal_comma, value):
    if value is None:
        assert parse_number(text, decimal_comma) is None
    else:
        assert parse_number(text, decimal_comma) == pytest.approx(value)


@pytest.mark.parametrize("text", ["abc", "1,2,3", "12.34.5", "1.23,4", "--1", ",5", "5,"])
def test_numbers_refused(text):
    with pytest.raises(ReadError):
        parse_number(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2018-08-15", (date(2018, 8, 15), "day")),
        ("15/08/2018", (date(2018, 8, 15), "day")),
        ("08/2018", (date(2018, 8, 1), "month")),
        ("2018-08", (date(2018, 8, 1), "month")),
        ("2018", (date(2018, 1, 1), "year")),
        ("43327", (date(2018, 8, 15), "day")),  # Excel serial of 15/08/2018
    ],
)
def test_dates(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["08/15/2018", "2018-13", "31/02/2019", "Aug 2018", ""])
def test_dates_refused(text):
    with pytest.raises(ReadError):
        parse_date(text)


def test_periods():
    assert parse_period("2019") == ("year", 2019, 0)
    assert parse_period("2019-03") == ("month", 2019, 3)
    assert parse_period("2019-Q2") == ("quarter", 2019, 2)
    for bad in ("2018-13", "2018-Q5", "18", "2018/03"):
        with pytest.raises(ReadError):
            parse_period(bad)


def test_read_table_drops_the_apostrophe_marking_a_formula_character_as_text(tmp_path):
    from kiemnhiem.data.readers import read_table

    path = tmp_path / "comments.csv"
    path.write_text(
        "comment,author\n'=1+1 không phải công thức,'@Nguyễn\n'-5,'ghi chú\n",
        encoding="utf-8",
    )
    table = read_table(path, ("comment", "author"))
    # Before =, +, -, @ the apostrophe only marks text; before anything else it is text.
    assert table.column("comment") == ["=1+1 không phải công thức", "-5"]
    assert table.column("author") == ["@Nguyễn", "'ghi chú"]
