"""One cell as offices type it: rating words, refusals with their fix, date order, magnitudes."""

import pandas as pd
import pytest

from kiemnhiem.data.cells import (
    clean_text,
    date_order,
    find_outliers,
    parse_rating,
    refuse_value,
    share_hint,
)
from kiemnhiem.data.readers import ReadError, parse_date
from kiemnhiem.data.table_layout import classify_label, find_header, is_repeated_header
from tests.data.test_readers import _corpus_module

corpus = _corpus_module()


@pytest.mark.parametrize(
    "text, rating",
    [
        ("Hoàn thành xuất sắc nhiệm vụ", 4),
        ("HTXSNV", 4),
        ("hoan thanh tot nhiem vu", 3),
        ("HTTNV", 3),
        ("Hoàn thành nhiệm vụ", 2),
        ("htnv", 2),
        ("KHÔNG HOÀN THÀNH NHIỆM VỤ", 1),
        ("KHTNV", 1),
        ("H.T.T.N.V", 3),
        ("tốt", None),
    ],
)
def test_rating_words_and_abbreviations(text, rating):
    assert parse_rating(text) == rating


@pytest.mark.parametrize(
    "text, key",
    [
        ("-", "err_value_dash"),
        ("–", "err_value_dash"),
        ("...", "err_value_dots"),
        ("…", "err_value_dots"),
        ("x", "err_value_x"),
        ("X", "err_value_x"),
        ("#REF!", "err_value_excel_error"),
        ("#DIV/0!", "err_value_excel_error"),
        ("HTTNV", "err_value_rating_word"),
        ("15 cuộc", "err_value_with_word"),
        ("khoảng 1.500", "err_value_with_word"),
        ("hai nghìn", "err_value_text"),
    ],
)
def test_each_non_number_has_its_refusal(text, key):
    assert refuse_value(text)[0] == key


def test_number_with_word_names_both():
    assert refuse_value("15 cuộc") == (
        "err_value_with_word",
        {"value": "15 cuộc", "number": "15", "word": "cuộc"},
    )


def test_share_hint_for_a_percentage_typed_bare():
    assert share_hint(55.0) == {"share": "0,55", "percent": "55 %"}


@pytest.mark.parametrize(
    "texts, order",
    [
        (["01/08/2018", "01/01/2019"], "unknown"),
        (["01/08/2018", "15/08/2018"], "day_first"),
        (["8/1/2018", "12/31/2018"], "month_first"),
        (["15/08/2018", "12/31/2018"], "both"),
        (["2018-08-01"], "unknown"),
    ],
)
def test_date_order_of_a_file(texts, order):
    assert date_order(texts) == order


def test_ambiguous_dates_are_read_only_when_the_file_shows_the_order():
    with pytest.raises(ReadError) as err:
        parse_date("8/1/2018")
    assert err.value.key == "err_ambiguous_date"
    assert err.value.fields["day_first"] == "2018-01-08"
    assert err.value.fields["month_first"] == "2018-08-01"
    assert parse_date("8/1/2018", day_first=True)[0].isoformat() == "2018-01-08"
    assert parse_date("01/01/2019")[0].isoformat() == "2019-01-01"  # either way
    with pytest.raises(ReadError) as err:
        parse_date("12/31/2018", day_first=True)
    assert (err.value.key, err.value.fields["iso"]) == ("err_month_first_date", "2018-12-31")


def test_a_value_in_dong_among_million_dong():
    # Four units' running costs in million đồng; unit D's 2019 typed in đồng.
    frame = pd.DataFrame(
        {
            "unit": ["A", "A", "B", "B", "C", "C", "D", "D"],
            "indicator": ["kinh_phi_hoat_dong"] * 8,
            "value": [1000, 1100, 1200, 1300, 900, 950, 1000, 1_050_000_000],
        }
    )
    (outlier,) = find_outliers(frame, {"kinh_phi_hoat_dong": "amount"})
    # the others (A, B, C): median of 900, 950, 1000, 1100, 1200, 1300 is 1050
    assert outlier.row == 7 and outlier.reference == 1050
    assert outlier.ratio == pytest.approx(1_000_000) and outlier.power == 2
    assert find_outliers(frame, {"kinh_phi_hoat_dong": "share"}) == []


def test_invisible_characters_are_removed_and_named():
    cleaned = clean_text("Phù\u00a0Yên\u200b")
    assert cleaned.text == "Phù Yên"
    assert set(cleaned.removed) == {"U+200B", "U+00A0"}


@pytest.mark.parametrize(
    "text, kind",
    [
        ("Tổng cộng", "totals"),
        ("Cộng", "totals"),
        ("Toàn tỉnh", "totals"),
        ("Người lập biểu", "signature"),
        ("Thủ trưởng đơn vị", "signature"),
        ("(Ký, ghi rõ họ tên)", "signature"),
        ("Sơn La, ngày 05 tháng 01 năm 2021", "signature"),
        ("Mường La", None),
        ("Công an", None),
    ],
)
def test_row_labels(text, kind):
    assert classify_label(text) == kind


def test_header_below_a_title_and_repeated_headers():
    rows = [["BÁO CÁO", "", ""], [], ["unit", "period", "value"]]
    assert find_header(rows, ("unit", "value")) == 2
    assert is_repeated_header(["unit", "period", ""], ["unit", "period", "value"])
    assert not is_repeated_header(["Mai Sơn", "2019", "5"], ["unit", "period", "value"])


@pytest.mark.parametrize("encoding", ["tcvn3", "vni"])
def test_the_corpus_encoders_agree_with_the_package_tables(encoding):
    # Two tables written apart (the corpus generator's and the package's) must agree.
    from kiemnhiem.data.legacy import VIETNAMESE_LETTERS, encode_legacy

    encode = corpus.to_tcvn3 if encoding == "tcvn3" else corpus.to_vni
    letters = sorted(VIETNAMESE_LETTERS)
    if encoding == "tcvn3":  # capitals with tones have no TCVN3 byte: typed lower case
        letters = [ch for ch in letters if ch.islower() or ch in "ĂÂÊÔƠƯĐ"]
    assert [encode(ch) for ch in letters] == [encode_legacy(ch, encoding) for ch in letters]
