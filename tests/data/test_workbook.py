"""Workbooks as datasets: reading a filled template, import, bad workbooks, the command line.

The filled workbook is typed here cell by cell into the Sơn La template (the ``template``
fixture, ``conftest.py``); every expected value below is worked out from what was typed (the
template lists its 12 units by code, so Thành phố Sơn La (116) is row 6, Quỳnh Nhai (118) row 7,
Phù Yên (122) row 11; the years 2014-2025 are columns C-N).
"""

import csv
import json
import re
import zipfile
from datetime import date, datetime

import openpyxl
import pytest

from kiemnhiem.cli import main
from kiemnhiem.data.dataset import load_dataset
from kiemnhiem.data.workbook import import_workbook
from kiemnhiem.exceptions import DatasetError, ParameterError

TODAY = date(2026, 11, 26)
SON_LA = ["116", "118", "119", "120", "121", "122", "123", "124", "125", "126", "127", "128"]
ROW = {code: 6 + i for i, code in enumerate(SON_LA)}  # first unit row is 6 (header row 5)
COL = {year: "CDEFGHIJKLMN"[year - 2014] for year in range(2014, 2026)}


def at(year: int, unit: str) -> str:
    return f"{COL[year]}{ROW[unit]}"


def fill(book: openpyxl.Workbook) -> None:
    """Type a small dataset into the template, the way an analyst would."""
    meta = book["thong_tin"]
    meta["B3"] = "Số liệu thử"  # name
    meta["B5"] = True  # synthetic, as an Excel TRUE cell
    pilots = book["thi_diem"]  # rows 3 and 4; columns A-G: unit ... source
    for col, value in zip(
        "ABCDEFG",
        ["Huyện Phù Yên", "tuyengiao_ttct", "08/2018", "month", "documented", None, "Báo Sơn La"],
    ):
        pilots[f"{col}3"] = value
    for col, value in zip(
        "ABCDEFG",
        [
            "Huyện Quỳnh Nhai",
            "danvan_mttq",
            datetime(2018, 11, 15),
            "year",
            "approximate",
            None,
            "@gần 3 năm",
        ],
    ):
        pilots[f"{col}4"] = value
    pilots["C4"].number_format = "dd/mm/yyyy"  # a real Excel date cell
    hop = book["so_cuoc_hop"]
    hop[at(2016, "122")], hop[at(2017, "122")], hop[at(2018, "122")] = 14, 12, 10
    hop[at(2017, "118")] = 9
    hop[at(2018, "118")] = "=F7+1"  # saved value 10 is patched into the XML by save()
    hoc_vien = book["so_hoc_vien"]
    hoc_vien["H5"] = "2019"  # a year header typed as text
    hoc_vien[at(2019, "122")] = "1.234"  # text with a thousands dot: 1234
    kinh_phi = book["kinh_phi_hoat_dong"]
    kinh_phi[at(2019, "122")] = "12,5"  # text with a decimal comma: 12.5
    kinh_phi[at(2020, "122")] = 1.234  # a number cell: exactly 1.234
    rating = book["xep_loai"]
    rating[at(2019, "118")] = "Hoàn thành tốt nhiệm vụ"  # 3
    rating[at(2020, "118")] = 4
    share = book["dat_chuan_co_so"]
    share[at(2019, "122")] = 0.45
    share[at(2020, "122")] = "60%"
    book["so_uy_vien_bch"][at(2015, "116")] = 35
    comments = book["nhan_xet"]
    for col, value in zip(
        "ABCD", ["Phù Yên", "tuyengiao_ttct", "=1+1 không phải công thức", "Nguyễn Văn A"]
    ):
        comments[f"{col}3"] = value
    comments["C3"].data_type = "s"  # typed as text (with a leading apostrophe in Excel)


def save(book: openpyxl.Workbook, path, saved: dict[str, str] | None = None):
    """Save; ``saved`` maps a formula to the value Excel would have saved with it.

    openpyxl cannot compute formulas: it writes ``<f>F7+1</f><v />`` (``<v></v>`` when lxml is
    installed). Excel writes the result in ``<v>``, which is what the reader uses, so the test
    puts it there in the sheet XML.
    """
    book.save(path)
    if not saved:
        return path
    with zipfile.ZipFile(path) as zin:
        parts = {name: zin.read(name) for name in zin.namelist()}
    for name, data in parts.items():
        if name.startswith("xl/worksheets/"):
            text = data.decode("utf-8")
            for formula, value in saved.items():
                empty = re.compile(
                    f"<f>{re.escape(formula)}</f><v\\s*/>|<f>{re.escape(formula)}</f><v></v>"
                )
                text, n = empty.subn(f"<f>{formula}</f><v>{value}</v>", text)
                assert n or formula not in text, f"formula {formula} not patched"
            parts[name] = text.encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in parts.items():
            zout.writestr(name, data)
    return path


@pytest.fixture(scope="module")
def filled(template, tmp_path_factory):
    book = openpyxl.load_workbook(template)
    fill(book)
    return save(book, tmp_path_factory.mktemp("filled") / "so_lieu.xlsx", {"F7+1": "10"})


def read_csv(path):
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


# -- reading and importing a filled workbook ---------------------------------------------------


def test_filled_workbook_loads_with_typed_values(filled):
    ds = load_dataset(filled, today=TODAY)
    assert ds.name == "Số liệu thử" and ds.synthetic is True and ds.province_code == "14"
    assert ds.data_end == date(2025, 6, 30)  # pre-filled by the template
    pilots = ds.pilots.set_index(["unit_code", "model"])
    phu_yen = pilots.loc[("122", "tuyengiao_ttct")]
    assert str(phu_yen["start"].date()) == "2018-08-01"
    assert (phu_yen["start_precision"], phu_yen["start_status"]) == ("month", "documented")
    quynh_nhai = pilots.loc[("118", "danvan_mttq")]
    # An Excel date with precision "year" is the year 2018, never 15 November.
    assert str(quynh_nhai["start"].date()) == "2018-01-01"
    assert quynh_nhai["start_precision"] == "year"
    values = ds.panel.set_index(["unit_code", "period", "indicator"])["value"]
    assert values[("118", "2018", "so_cuoc_hop")] == 10  # the formula's saved value
    assert values[("122", "2019", "so_hoc_vien")] == 1234
    assert values[("122", "2019", "kinh_phi_hoat_dong")] == 12.5
    assert values[("122", "2020", "kinh_phi_hoat_dong")] == 1.234
    assert values[("118", "2019", "xep_loai")] == 3
    assert values[("122", "2020", "dat_chuan_co_so")] == pytest.approx(0.6)
    assert len(ds.panel) == 13
    assert ds.content_hash and len(ds.content_hash) == 64


def test_import_writes_the_dataset_folder(filled, tmp_path):
    out = import_workbook(filled, tmp_path / "bo_du_lieu", today=TODAY)
    assert out == tmp_path / "bo_du_lieu"
    assert sorted(p.name for p in out.iterdir()) == [
        "comments.csv",
        "metadata.json",
        "panel.csv",
        "pilots.csv",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["bo_du_lieu"]  # no temporary left
    meta = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    assert meta == {
        "name": "Số liệu thử",
        "province": "Tỉnh Sơn La",
        "synthetic": True,
        "data_end": "2025-06-30",
    }
    pilots = read_csv(out / "pilots.csv")
    assert pilots == [
        ["unit", "model", "start", "start_precision", "start_status", "end", "source"],
        ["118", "danvan_mttq", "2018", "year", "approximate", "", "'@gần 3 năm"],
        ["122", "tuyengiao_ttct", "2018-08", "month", "documented", "", "Báo Sơn La"],
    ]
    panel = read_csv(out / "panel.csv")
    assert panel[0] == ["unit", "period", "indicator", "value", "note"]
    rows = {(u, p, i): v for u, p, i, v, _note in panel[1:]}
    assert rows == {
        ("116", "2015", "so_uy_vien_bch"): "35",
        ("118", "2017", "so_cuoc_hop"): "9",
        ("118", "2018", "so_cuoc_hop"): "10",
        ("118", "2019", "xep_loai"): "3",
        ("118", "2020", "xep_loai"): "4",
        ("122", "2016", "so_cuoc_hop"): "14",
        ("122", "2017", "so_cuoc_hop"): "12",
        ("122", "2018", "so_cuoc_hop"): "10",
        ("122", "2019", "so_hoc_vien"): "1234",
        ("122", "2019", "kinh_phi_hoat_dong"): "12.5",
        ("122", "2020", "kinh_phi_hoat_dong"): "1.234",
        ("122", "2019", "dat_chuan_co_so"): "0.45",
        ("122", "2020", "dat_chuan_co_so"): "0.6",
    }
    comments = read_csv(out / "comments.csv")
    assert comments[1][:4] == [
        "122",
        "tuyengiao_ttct",
        "'=1+1 không phải công thức",
        "Nguyễn Văn A",
    ]
    # The folder reads back as the same dataset: the apostrophes marking text are not part
    # of it (the workbook's source "@gần 3 năm", comment "=1+1 không phải công thức").
    again, first = load_dataset(out, today=TODAY), load_dataset(filled, today=TODAY)
    assert again.panel.equals(first.panel)
    assert again.pilots.equals(first.pilots)
    assert "@gần 3 năm" in set(again.pilots["source"])
    assert again.comments["comment"].tolist() == ["=1+1 không phải công thức"]


def test_import_refuses_a_non_empty_folder_but_takes_an_empty_one(filled, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    with pytest.raises(ParameterError) as err:
        import_workbook(filled, busy, today=TODAY)
    assert "không rỗng" in err.value.message_vi or "có nội dung" in err.value.message_vi
    assert "not empty" in err.value.message_en
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (import_workbook(filled, empty, today=TODAY) / "panel.csv").is_file()


# -- bad workbooks -----------------------------------------------------------------------------


def broken(template, path, edit, saved=None):
    book = openpyxl.load_workbook(template)
    fill(book)
    edit(book)
    return save(book, path, {"F7+1": "10"} if saved is None else saved)


def test_bad_cells_are_named_by_sheet_and_cell_and_nothing_is_imported(template, tmp_path):
    def edit(book):
        book["so_cuoc_hop"][at(2018, "122")] = -3  # G11: a negative count
        book["xep_loai"][at(2020, "118")] = 5  # I7: no rating 5
        book["so_cuoc_hop"]["A18"] = "Mường Tè"  # not in Sơn La
        book["so_cuoc_hop"]["C18"] = 2
        book["so_lop_boi_duong"].merge_cells("D11:E11")  # merged cells in the grid
        book["so_lop_boi_duong"]["D11"] = 4
        book["so_bien_che"]["F7"] = "=E7*2"  # a formula without a saved value
        book["so_lanh_dao"]["B11"] = "121"  # code of Bắc Yên beside the name Phù Yên
        book["so_lanh_dao"]["D11"] = 3
        book["so_hoc_vien"]["O11"] = 7  # a value under no year
        book["thi_diem"]["C3"] = "15/13/2018"  # no 13th month
        book["thi_diem"]["A5"], book["thi_diem"]["B5"] = "Phú Yên", "tuyengiao_ttct"
        book["thi_diem"]["C5"], book["thi_diem"]["D5"] = "2019", "year"
        book["thi_diem"]["E5"] = "assumed"

    path = broken(template, tmp_path / "loi.xlsx", edit)
    out = tmp_path / "out"
    with pytest.raises(DatasetError) as err:
        import_workbook(path, out, today=TODAY)
    cells = {p.cell for p in err.value.problems}
    expected = {
        "so_cuoc_hop!G11",
        "xep_loai!I7",
        "so_cuoc_hop!A18",
        "so_lop_boi_duong!D11",
        "so_bien_che!F7",
        "so_lanh_dao!A11",
        "so_hoc_vien!O11",
        "thi_diem!C3",
        "thi_diem!A5",  # Phú Yên is a province, not Phù Yên district
    }
    assert expected <= cells, expected - cells
    by_cell = {p.cell: p for p in err.value.problems}
    assert by_cell["so_cuoc_hop!G11"].sheet == "so_cuoc_hop"
    assert "negative" in by_cell["so_cuoc_hop!G11"].message_en
    assert "âm" in by_cell["so_cuoc_hop!G11"].message_vi
    assert "D11:E11" in by_cell["so_lop_boi_duong!D11"].message_en
    assert "formula" in by_cell["so_bien_che!F7"].message_en
    assert all(p.file == "loi.xlsx" for p in err.value.problems)
    assert "loi.xlsx, sheet so_cuoc_hop, so_cuoc_hop!G11" in err.value.render()
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loi.xlsx"]


def test_formula_without_saved_value(template, tmp_path):
    path = broken(template, tmp_path / "f.xlsx", lambda book: None, saved={})
    with pytest.raises(DatasetError) as err:
        load_dataset(path, today=TODAY)
    assert [p.cell for p in err.value.problems] == ["so_cuoc_hop!G7"]


def test_missing_and_renamed_sheets(template, tmp_path):
    def edit(book):
        del book["thi_diem"]
        book["so_cuoc_hop"].title = "so_cuoc_hopp"

    path = broken(template, tmp_path / "m.xlsx", edit, saved={})
    with pytest.raises(DatasetError) as err:
        load_dataset(path, today=TODAY)
    sheets = {(p.sheet, p.cell) for p in err.value.problems}
    assert sheets == {("thi_diem", None), ("so_cuoc_hopp", None)}
    text = err.value.render()
    assert "thi_diem" in text and "missing" in text and "Thiếu" in text


def test_not_a_workbook(tmp_path):
    path = tmp_path / "gia.xlsx"
    path.write_bytes(b"unit,period\nPhu Yen,2019\n")
    with pytest.raises(DatasetError) as err:
        import_workbook(path, tmp_path / "out", today=TODAY)
    (problem,) = err.value.problems
    assert problem.file == "gia.xlsx" and "Excel" in problem.message_en
    assert not (tmp_path / "out").exists()


# -- command line ------------------------------------------------------------------------------


def test_cli_template_and_import(filled, tmp_path, capsys):
    out = tmp_path / "mau.xlsx"
    assert main(["template", str(out), "--province", "Sơn La", "--years", "2016-2020"]) == 0
    ws = openpyxl.load_workbook(out)["so_cuoc_hop"]
    assert [ws.cell(5, c).value for c in range(3, 8)] == [2016, 2017, 2018, 2019, 2020]
    assert main(["template", str(out)]) == 2  # never overwrites
    assert main(["template", str(tmp_path / "y.xlsx"), "--years", "2020-2014"]) == 2
    assert main(["import", str(filled), str(tmp_path / "ds")]) == 0
    assert (tmp_path / "ds" / "pilots.csv").is_file()
    capsys.readouterr()
    assert main(["import", str(out), str(tmp_path / "ds2")]) == 2  # empty template: invalid
    err = capsys.readouterr().err
    assert "thong_tin!B3" in err and re.search(r"\d+ lỗi", err) and "problem(s)" in err
    assert not (tmp_path / "ds2").exists()
