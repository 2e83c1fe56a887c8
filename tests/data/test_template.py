"""The data-entry template: its sheets and units, drop-downs and checks, protection, the guide.

The Sơn La template (the ``template`` fixture, ``conftest.py``) lists its 12 units by code, so
Thành phố Sơn La (116) is row 6 and Phù Yên (122) row 11; the years 2014-2025 are columns C-N.
"""

import openpyxl
import pytest

from kiemnhiem.data.catalog import builtin_indicators, builtin_models
from kiemnhiem.data.template import parse_years, write_template
from kiemnhiem.exceptions import ParameterError
from kiemnhiem.labels import label

INDICATORS = list(builtin_indicators()["code"])


@pytest.fixture(scope="module")
def book(template):
    """The template as openpyxl reads it back (read only by the tests that take it)."""
    return openpyxl.load_workbook(template)


def test_template_sheets_layout_and_units(book):
    assert book.sheetnames == [
        "huong_dan",
        "thong_tin",
        "thi_diem",
        *INDICATORS,
        "nhan_xet",
        "_danh_muc",
    ]
    assert book["_danh_muc"].sheet_state == "hidden"
    ws = book["so_cuoc_hop"]
    assert [ws.cell(5, c).value for c in (1, 2, 3, 14)] == ["unit", "code", 2014, 2025]
    assert ws["A11"].value == "Huyện Phù Yên" and ws["B11"].value == "122"
    assert ws["A6"].value == "Thành phố Sơn La" and ws["A17"].value == "Huyện Vân Hồ"
    assert ws["A18"].value is None  # 12 units, nothing more
    assert "Số cuộc họp" in ws["A1"].value and "Meetings held" in ws["A1"].value
    assert "cuộc" in ws["A2"].value  # unit of measure
    assert label("wb_better_lower", "vi") in ws["A3"].value  # fewer meetings is better
    assert ws["B11"].data_type == "s"  # codes are text
    meta = book["thong_tin"]
    assert [meta[f"A{r}"].value for r in range(3, 9)] == [
        "name",
        "province",
        "synthetic",
        "description",
        "source",
        "data_end",
    ]
    assert meta["B4"].value == "Tỉnh Sơn La"
    assert [c.value for c in book["thi_diem"][2]] == [
        "unit",
        "model",
        "start",
        "start_precision",
        "start_status",
        "end",
        "source",
    ]


def test_template_code_keeps_its_leading_zero(tmp_path):
    # Without a province, units are chosen by code; 094 is outside Sơn La.
    book = openpyxl.load_workbook(write_template(tmp_path / "n.xlsx", units=["094"]))
    ws = book["so_cuoc_hop"]
    assert ws["B6"].value == "094" and ws["B7"].value is None
    assert book["thong_tin"]["B4"].value is None  # no province
    # no unit drop-down without a province: units are typed freely
    formulas = {dv.formula1 for dv in book["thi_diem"].data_validations.dataValidation}
    assert not any("$A$" in f for f in formulas)


def test_template_validations(book):
    def validations(sheet):
        return {str(dv.sqref): dv for dv in book[sheet].data_validations.dataValidation}

    count = validations("so_cuoc_hop")["C6:N17"]
    assert (count.type, count.operator, count.formula1) == ("whole", "greaterThanOrEqual", "0")
    stock = validations("so_bien_che")["C6:N17"]
    assert stock.type == "whole"
    amount = validations("kinh_phi_hoat_dong")["C6:N17"]
    assert (amount.type, amount.operator, amount.formula1) == ("decimal", "greaterThanOrEqual", "0")
    share = validations("dat_chuan_co_so")["C6:N17"]
    assert (share.type, share.operator, share.formula1, share.formula2) == (
        "decimal",
        "between",
        "0",
        "1",
    )
    rating = validations("xep_loai")["C6:N17"]
    choices = rating.formula1.strip('"').split(",")
    assert rating.type == "list" and choices[:4] == ["1", "2", "3", "4"]
    assert "Hoàn thành tốt nhiệm vụ" in choices

    pilots = validations("thi_diem")
    lists = book["_danh_muc"]
    unit_dv = pilots["A3:A1002"]
    assert unit_dv.type == "list" and unit_dv.formula1 == "'_danh_muc'!$A$2:$A$13"
    assert [lists[f"A{r}"].value for r in range(2, 14)][5] == "Huyện Phù Yên"
    assert len({lists[f"A{r}"].value for r in range(2, 14)}) == 12
    model_dv = pilots["B3:B1002"]
    n = len(builtin_models())
    assert model_dv.formula1 == f"'_danh_muc'!$B$2:$B${n + 1}"
    # Vietnamese in every drop-down: model names, the precision and status words
    assert [lists[f"B{r}"].value for r in range(2, n + 2)] == list(builtin_models()["label_vi"])
    assert lists["B2"].value.startswith("Trưởng Ban Dân vận")
    assert pilots["D3:D1002"].formula1 == '"ngày,tháng,năm"'
    assert pilots["E3:E1002"].formula1 == '"có văn bản,ước tính,giả định"'
    meta_dv = validations("thong_tin")["B5"]
    assert meta_dv.formula1 == '"có,không"'
    for sheet in book.sheetnames:
        for dv in book[sheet].data_validations.dataValidation:
            assert len(dv.prompt or "") <= 255 and len(dv.error or "") <= 255  # Excel's limits
            assert len(dv.errorTitle or "") <= 32


def test_template_frozen_headers_and_protection(book):
    ws = book["so_cuoc_hop"]
    assert ws.freeze_panes == "C6"
    assert book["thi_diem"].freeze_panes == "A3" and book["thong_tin"].freeze_panes == "A3"
    # it opens on thong_tin, the only selected tab (two selected tabs are grouped in Excel)
    assert book.active.title == "thong_tin"
    assert [ws.title for ws in book.worksheets if ws.sheet_view.tabSelected] == ["thong_tin"]
    for sheet in book.sheetnames:
        assert book[sheet].protection.sheet, sheet
        assert not book[sheet].protection.password, sheet  # no password
    assert ws["C6"].protection.locked is False and ws["N17"].protection.locked is False
    assert ws["A6"].protection.locked and ws["B6"].protection.locked  # unit names and codes
    assert ws["C5"].protection.locked and ws["A1"].protection.locked  # header and labels
    meta = book["thong_tin"]
    assert meta["B3"].protection.locked is False and meta["A3"].protection.locked
    # thi_diem: whole columns are editable (rows typed later too), its header rows are not;
    # date columns are text so that Excel keeps "08/2018" as typed.
    pilots = book["thi_diem"]
    for letter in "ABCDEFG":
        assert pilots.column_dimensions[letter].protection.locked is False
        assert pilots[f"{letter}1"].protection.locked and pilots[f"{letter}2"].protection.locked
    assert pilots.column_dimensions["C"].number_format == "@"


def test_template_guide_vietnamese_then_english(book):
    ws = book["huong_dan"]
    lines = [c.value for (c,) in ws.iter_rows(max_col=1) if c.value]
    vi, en = lines.index("Hướng dẫn nhập số liệu"), lines.index("How to fill in this workbook")
    assert vi < en
    vi_text, en_text = "\n".join(lines[vi:en]), "\n".join(lines[en:])
    for text in (vi_text, en_text):
        assert "so_cuoc_hop" in text and "tuyengiao_ttct" in text
        assert "documented" in text and "month" in text
        assert "Hoàn thành xuất sắc nhiệm vụ" in text
    assert "phần trăm" in vi_text and "percentage" in en_text
    assert "122: Huyện Phù Yên" in vi_text


def test_template_refuses_to_overwrite_and_checks_arguments(template, tmp_path):
    with pytest.raises(ParameterError):
        write_template(template, province="Sơn La")
    with pytest.raises(ParameterError):
        write_template(tmp_path / "x.xlsx", years=(2025, 2014))
    with pytest.raises(ParameterError) as err:
        write_template(tmp_path / "x.xlsx", province="Sơn Lá Xanh")
    assert "Province" in err.value.message_en
    assert not (tmp_path / "x.xlsx").exists()
    assert parse_years("2014-2025") == (2014, 2025) and parse_years("2020") == (2020, 2020)
    with pytest.raises(ParameterError):
        parse_years("2014..2025")
