"""Document settings in a dataset (``metadata.json``, the ``thong_tin`` sheet) and given in
Python or on the command line (:mod:`kiemnhiem.data.issuing`).

Expected values are what was typed, read by hand: "06/02/2026" is 6 February (a Vietnamese
office writes the day first); a Party number is number-TYPE/BODY ("15-BC/BTCTU", Hướng dẫn
36-HD/VPTW, Phụ lục 3 item 3), a State one number/TYPE-BODY ("15/BC-UBND", Decree
30/2020/NĐ-CP, Phụ lục I, Mục II.3).
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime

import openpyxl
import pytest

from kiemnhiem.data.dataset import load_dataset
from kiemnhiem.data.issuing import DOCUMENT_KEYS, DocumentSettings, check_document_settings
from kiemnhiem.exceptions import DatasetError, ParameterError
from kiemnhiem.resources import demo_dir

TODAY = date(2026, 3, 1)


def _meta_rows(ws) -> dict[str, int]:
    return {ws.cell(row=r, column=1).value: r for r in range(3, ws.max_row + 1)}


def _workbook(template, path, values: dict):
    """The workbook tests' small dataset (``tests/data/test_workbook.py``) with ``values``
    typed into the ``thong_tin`` rows of the document keys."""
    from tests.data.test_workbook import fill, save

    book = openpyxl.load_workbook(template)
    fill(book)
    ws = book["thong_tin"]
    rows = _meta_rows(ws)
    for key, value in values.items():
        ws.cell(row=rows[key], column=2, value=value)
    return save(book, path, {"F7+1": "10"}), rows


def test_template_offers_every_document_key_with_a_drop_down_for_the_kind(template):
    ws = openpyxl.load_workbook(template)["thong_tin"]
    rows = _meta_rows(ws)
    assert set(DOCUMENT_KEYS) <= set(rows)
    kind_cell = f"B{rows['the_thuc']}"
    lists = [dv for dv in ws.data_validations.dataValidation if kind_cell in str(dv.sqref)]
    assert lists and lists[0].formula1 == '"Đảng,Nhà nước"'


def test_workbook_settings_are_read(template, tmp_path):
    path, _ = _workbook(
        template,
        tmp_path / "so_lieu.xlsx",
        {
            "the_thuc": "Đảng",
            "co_quan_cap_tren": "Tỉnh ủy Sơn La",
            "co_quan_ban_hanh": "Ban Tổ chức",
            "so_ky_hieu": "Số 15-BC/BTCTU",
            "dia_danh": "Sơn La",
            "ngay_ban_hanh": datetime(2026, 2, 6),  # an Excel date cell
            "quyen_han_ky": "K/T Trưởng ban",
            "chuc_vu_nguoi_ky": "Phó Trưởng ban",
            "nguoi_ky": "Nguyễn Văn An",
            "noi_nhan": "- Ban Thường vụ Tỉnh ủy (b/c),\n- Lưu Văn phòng.",  # Alt+Enter lines
        },
    )
    settings = DocumentSettings.from_metadata(load_dataset(path, today=TODAY).metadata)
    assert settings == DocumentSettings(
        kind="party",
        superior_body="Tỉnh ủy Sơn La",
        issuing_body="Ban Tổ chức",
        number="15-BC/BTCTU",
        place="Sơn La",
        issued=date(2026, 2, 6),
        signer_authority="K/T Trưởng ban",
        signer_title="Phó Trưởng ban",
        signer_name="Nguyễn Văn An",
        recipients=("Ban Thường vụ Tỉnh ủy (b/c)", "Lưu Văn phòng"),
    )


def test_workbook_settings_problems_name_their_cells(template, tmp_path):
    path, rows = _workbook(
        template,
        tmp_path / "loi.xlsx",
        {"the_thuc": "Quốc hội", "so_ky_hieu": "15/BC-UBND", "ngay_ban_hanh": "31/02/2026"},
    )
    with pytest.raises(DatasetError) as err:
        load_dataset(path, today=TODAY)
    cells = {p.cell: p for p in err.value.problems}
    assert set(cells) == {f"thong_tin!B{rows[k]}" for k in ("the_thuc", "ngay_ban_hanh")}
    # The kind is unreadable, so the number is checked against both forms: 15/BC-UBND passes.
    assert "Quốc hội" in cells[f"thong_tin!B{rows['the_thuc']}"].message_vi
    assert "31/02/2026" in cells[f"thong_tin!B{rows['ngay_ban_hanh']}"].message_en


def test_folder_metadata_problems_are_bilingual_and_located(tmp_path):
    folder = shutil.copytree(demo_dir(), tmp_path / "data")
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    meta.update(the_thuc="state", so_ky_hieu="15-BC/BTCTU", noi_nhan=["Sở Nội vụ", 3])
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DatasetError) as err:
        load_dataset(folder)
    found = {p.column: p for p in err.value.problems}
    assert set(found) == {"so_ky_hieu", "noi_nhan"}
    assert all(p.file == "metadata.json" for p in found.values())
    number = found["so_ky_hieu"]
    assert "15/BC-UBND" in number.message_vi and "15/BC-UBND" in number.message_en
    assert number.message_vi != number.message_en


def test_given_settings_checked_at_once():
    with pytest.raises(ParameterError) as err:
        check_document_settings(kind="nhà nước", number="15-BC/BTCTU", issued="2026-02")
    assert "15-BC/BTCTU" in err.value.message_en and "2026-02" in err.value.message_en
    with pytest.raises(ParameterError):
        check_document_settings(signer="x")
    # Without a kind alongside, either form of number is accepted.
    assert check_document_settings(number="15/bc-ubnd").number == "15/BC-UBND"
    assert check_document_settings(number="Số: 15-BC/BTCTU").number == "15-BC/BTCTU"


def test_settings_layer_field_by_field():
    base = DocumentSettings(kind="state", number="15/BC-UBND", place="Sơn La")
    top = DocumentSettings(number="16/BC-UBND", recipients=("Lưu: VT",))
    merged = top.over(base)
    assert merged == DocumentSettings(
        kind="state", number="16/BC-UBND", place="Sơn La", recipients=("Lưu: VT",)
    )
    assert DocumentSettings().issuer_kind == "party"
    assert DocumentSettings.from_dict(merged.as_dict()) == merged
