"""Loading and validating dataset folders: what is accepted, and every problem reported."""

import json
from datetime import date

import pytest

from kiemnhiem.data.dataset import load_dataset
from kiemnhiem.exceptions import DatasetError

TODAY = date(2026, 11, 26)

PILOTS = """unit,model,start,start_precision,start_status,end,source
Phù Yên,tuyengiao_ttct,08/2018,month,documented,,bài báo
Quỳnh Nhai,danvan_mttq,2018,year,approximate,,
Thành phố,danvan_mttq,01/01/2019,day,assumed,,
"""

PANEL = """unit,period,indicator,value,note
Phù Yên,2017,so_cuoc_hop,12,
Phù Yên,2018,so_cuoc_hop,10,
Quỳnh Nhai,2018,xep_loai,Hoàn thành tốt nhiệm vụ,
118,2019,dat_chuan_co_so,45%,
Mai Sơn,2019-01,so_cuoc_hop,3,
Mai Sơn,2019-02,so_cuoc_hop,2,
116,2025,so_cuoc_hop,"1,5",
"""


def write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        (folder / name).write_bytes(data)
    return folder


def good_files():
    meta = {"name": "Thử nghiệm", "province": "Sơn La", "synthetic": True, "data_end": "2025-06-30"}
    return {
        "metadata.json": json.dumps(meta, ensure_ascii=False),
        "pilots.csv": PILOTS,
        "panel.csv": PANEL.replace('"1,5"', "7"),
    }


def test_good_folder_loads(tmp_path):
    ds = load_dataset(write(tmp_path / "ds", good_files()), today=TODAY)
    assert ds.synthetic is True and ds.province_code == "14"
    assert ds.data_end == date(2025, 6, 30)
    assert ds.units["unit_code"].tolist() == ["116", "118", "122", "125"]
    pilots = ds.pilots.set_index(["unit_code", "model"])
    assert pilots.loc[("122", "tuyengiao_ttct"), "start_precision"] == "month"
    assert str(pilots.loc[("122", "tuyengiao_ttct"), "start"].date()) == "2018-08-01"
    assert pilots.loc[("118", "danvan_mttq"), "start_status"] == "approximate"
    assert pilots.loc[("116", "danvan_mttq"), "unit_name"] == "Thành phố Sơn La"
    panel = ds.panel.set_index(["unit_code", "period", "indicator"])["value"]
    assert panel[("118", "2018", "xep_loai")] == 3.0  # "hoàn thành tốt" is 3
    assert panel[("118", "2019", "dat_chuan_co_so")] == pytest.approx(0.45)
    assert panel[("125", "2019-02", "so_cuoc_hop")] == 2.0
    assert ds.panel.loc[ds.panel["period"] == "2019-02", "freq"].item() == "month"
    assert len(ds.content_hash) == 64


def test_semicolon_cp1258_file_reads_the_same(tmp_path):
    files = good_files()
    ref = load_dataset(write(tmp_path / "a", files), today=TODAY)
    from tests.data.test_readers import to_cp1258

    files["panel.csv"] = to_cp1258(files["panel.csv"].replace(",", ";"))
    files["pilots.csv"] = ("\ufeff" + files["pilots.csv"].replace(",", ";")).encode("utf-8")
    other = load_dataset(write(tmp_path / "b", files), today=TODAY)
    assert other.panel.equals(ref.panel)
    assert other.pilots.equals(ref.pilots)


def test_broken_dataset_lists_every_problem_and_writes_nothing(tmp_path):
    files = good_files()
    files["pilots.csv"] = (
        PILOTS
        + "Phú Yên,tuyengiao_ttct,2018,year,assumed,,\n"
        + (
            "Bắc Yên,kiem_nhiem_khac,2019,year,assumed,,\n"
            "Yên Châu,danvan_mttq,2030,year,guessed,,\n"
            "Phù Yên,tuyengiao_ttct,2019,day,assumed,2018,\n"
        )
    )
    files["panel.csv"] = PANEL + (
        "Phù Yên,2018,so_cuoc_hop,11,\n"  # duplicate of line 3
        "Phù Yên,2018-13,so_cuoc_hop,1,\n"
        "Phù Yên,1899,so_cuoc_hop,1,\n"
        "Mường Tè,2018,so_cuoc_hop,1,\n"
        "Phù Yên,2019,so_cuoc_hop,-2,\n"
        "Phù Yên,2019,so_bien_che,2.5,\n"
        "Phù Yên,2019,xep_loai,5,\n"
        "Phù Yên,2019,so_hoc_vien,nhiều,\n"
        "Phù Yên,2019,khong_co,1,\n"
    )
    folder = write(tmp_path / "bad", files)
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(DatasetError) as err:
        load_dataset(folder, today=TODAY)
    found = {(p.file, p.row, p.column) for p in err.value.problems}
    expected = {
        # header is row 1, PANEL's seven records rows 2-8
        ("panel.csv", 8, "value"),  # "1,5" in a comma file is a decimal: not a whole count
        ("panel.csv", 9, None),  # duplicate of row 3
        ("panel.csv", 10, "period"),  # 2018-13
        ("panel.csv", 11, "period"),  # 1899
        ("panel.csv", 12, "unit"),  # another province
        ("panel.csv", 13, "value"),  # negative
        ("panel.csv", 14, "value"),  # fractional staff
        ("panel.csv", 15, "value"),  # rating 5
        ("panel.csv", 16, "value"),  # text
        ("panel.csv", 17, "indicator"),
        ("pilots.csv", 5, "unit"),  # Phú Yên is not Phù Yên
        ("pilots.csv", 6, "model"),
        ("pilots.csv", 7, "start_status"),
        ("pilots.csv", 7, "start"),  # 2030 outside the data's years and in the future
        ("pilots.csv", 8, "start"),  # "2019" is less precise than "day"
        ("pilots.csv", 8, "end"),  # ends before it starts
        ("pilots.csv", 8, None),  # Phù Yên x tuyengiao_ttct twice
    }
    assert expected <= found, expected - found
    assert len(err.value.problems) >= len(expected)
    text = err.value.render()
    # one language a line, each with the district and year of the row
    assert "panel.csv, dòng 13, cột value (Phù Yên, 2019): " in text
    assert "panel.csv, row 13, column value (Phù Yên, 2019): " in text
    assert "negative" in text and "âm" in text
    assert sorted(p.name for p in folder.iterdir()) == before


def test_missing_files_and_bad_json(tmp_path):
    folder = write(tmp_path / "x", {"metadata.json": "{name: 1", "panel.csv": "unit,period\n"})
    with pytest.raises(DatasetError) as err:
        load_dataset(folder, today=TODAY)
    files = {p.file for p in err.value.problems}
    assert files == {"metadata.json", "pilots.csv", "panel.csv"}


def test_missing_and_extra_columns(tmp_path):
    files = good_files()
    files["panel.csv"] = "unit,period,indicator,valeur\nPhù Yên,2017,so_cuoc_hop,1\n"
    with pytest.raises(DatasetError) as err:
        load_dataset(write(tmp_path / "c", files), today=TODAY)
    columns = {(p.file, p.column) for p in err.value.problems}
    assert ("panel.csv", "valeur") in columns
    assert any("value" in p.message_en and p.file == "panel.csv" for p in err.value.problems)


def test_data_end_and_future_years(tmp_path):
    files = good_files()
    files["panel.csv"] += "Phù Yên,2025-09,so_lop_boi_duong,1,\nPhù Yên,2027,so_lop_boi_duong,1,\n"
    with pytest.raises(DatasetError) as err:
        load_dataset(write(tmp_path / "d", files), today=TODAY)
    rows = sorted(p.row for p in err.value.problems)
    assert rows == [9, 10]


def test_dataset_extends_catalogs(tmp_path):
    files = good_files()
    files["indicators.csv"] = (
        "code,label_vi,label_en,unit_vi,unit_en,kind,aggregate,better,models,"
        "description_vi,description_en\n"
        "so_van_ban,Số văn bản,Documents issued,văn bản,documents,count,sum,none,*,Mô tả,Text\n"
    )
    files["panel.csv"] += "Phù Yên,2019,so_van_ban,40,\n"
    ds = load_dataset(write(tmp_path / "e", files), today=TODAY)
    assert "so_van_ban" in set(ds.indicators["code"])
    assert "so_cuoc_hop" in set(ds.indicators["code"])
    assert ds.indicators.set_index("code").loc["so_van_ban", "models_list"] == ("*",)


def test_source_hash_is_the_loaded_datasets_without_loading_it(tmp_path):
    # What a run's kernel compares with the dataset its worker validated: for a folder and for
    # a workbook, the hash that loading gives, and None where there is no dataset.
    from pathlib import Path

    from kiemnhiem.data.dataset import source_hash

    folder = tmp_path / "ds"
    write(folder, good_files())
    assert source_hash(folder) == load_dataset(folder).content_hash
    book = Path(__file__).parent / "corpus" / "cases" / "wb_text_thousands_shown.xlsx"
    assert source_hash(book) == load_dataset(book).content_hash
    assert source_hash(tmp_path / "missing") is None
    before = source_hash(folder)
    panel = folder / "panel.csv"
    panel.write_bytes(panel.read_bytes() + b"\n")  # one byte more: other files
    assert source_hash(folder) != before
