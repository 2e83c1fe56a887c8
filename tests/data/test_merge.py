"""Yearly intake: districts' workbooks merged, imports updated, a district without a pilot,
the template printed and read back from LibreOffice's .ods.

Workbooks are typed into the Sơn La template (``template`` fixture): units by code in rows
6-17 (Thành phố Sơn La 116 is row 6, Quỳnh Nhai 118 row 7, Phù Yên 122 row 11), years
2014-2025 in columns C-N (2018 is G).
"""

import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from kiemnhiem.cli import main
from kiemnhiem.data.dataset import load_dataset
from kiemnhiem.data.merge import merge_datasets
from kiemnhiem.data.workbook import import_workbook
from kiemnhiem.exceptions import DatasetError, ParameterError, Problem

ROW = {"116": 6, "118": 7, "122": 11}


def district(template, path: Path, unit: str, meetings: dict[int, int], pilot=None) -> Path:
    """One district office's workbook: its meetings per year, and its pilot if it has one."""
    book = openpyxl.load_workbook(template)
    book["thong_tin"]["B3"] = "Số liệu Sơn La"
    book["thong_tin"]["B5"] = "không"  # synthetic, as the Vietnamese drop-down offers
    for year, value in meetings.items():
        book["so_cuoc_hop"][f"{'CDEFGHIJKLMN'[year - 2014]}{ROW[unit]}"] = value
    if pilot is not None:
        for col, value in zip("ABCDE", pilot):
            book["thi_diem"][f"{col}3"] = value
    book.save(path)
    return path


@pytest.fixture
def phu_yen(template, tmp_path):
    pilot = ("Phù Yên", "Tuyên giáo - TTCT", "08/2018", "", "có văn bản")
    return district(template, tmp_path / "phu_yen.xlsx", "122", {2017: 12, 2018: 10}, pilot)


@pytest.fixture
def quynh_nhai(template, tmp_path):
    # no pilot: valid on its own, to be merged with the others
    return district(template, tmp_path / "quynh_nhai.xlsx", "118", {2017: 9, 2018: 8})


def values(folder: Path) -> dict:
    panel = load_dataset(folder).panel
    return {(r.unit_code, r.period): r.value for r in panel.itertuples()}


def test_a_district_without_a_pilot_imports_alone(quynh_nhai, tmp_path):
    ds = load_dataset(quynh_nhai)
    assert ds.pilots.empty and len(ds.panel) == 2
    out = import_workbook(quynh_nhai, tmp_path / "qn")
    assert (out / "pilots.csv").read_text(encoding="utf-8").count("\n") == 1  # header only
    assert values(out) == {("118", "2017"): 9.0, ("118", "2018"): 8.0}


def test_run_says_there_is_nothing_to_evaluate(quynh_nhai, tmp_path, capsys):
    assert main(["run", str(quynh_nhai), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "không có gì để đánh giá" in err and "kiemnhiem merge" in err


def test_merge_combines_districts_and_keeps_a_repeated_figure_once(phu_yen, quynh_nhai, tmp_path):
    # Phù Yên's file sent twice (once as an imported folder): its figures are the same.
    again = import_workbook(phu_yen, tmp_path / "py_folder")
    result = merge_datasets([phu_yen, quynh_nhai, again], tmp_path / "son_la")
    assert (result.inputs, result.values, result.duplicates, result.pilots) == (3, 4, 2, 1)
    assert values(result.path) == {
        ("118", "2017"): 9.0,
        ("118", "2018"): 8.0,
        ("122", "2017"): 12.0,
        ("122", "2018"): 10.0,
    }
    pilot = load_dataset(result.path).pilots.iloc[0]
    assert (pilot.unit_code, pilot.model, pilot.start_precision) == (
        "122",
        "tuyengiao_ttct",
        "month",
    )


def test_merge_refuses_a_conflict_naming_both_files_then_prefers(template, phu_yen, tmp_path):
    fixed = district(template, tmp_path / "phu_yen_sua.xlsx", "122", {2017: 12, 2018: 11})
    with pytest.raises(DatasetError) as err:
        merge_datasets([phu_yen, fixed], tmp_path / "out")
    (problem,) = err.value.problems
    assert "122" in problem.message_vi and "2018" in problem.message_vi
    assert "10 trong phu_yen.xlsx" in problem.message_vi
    assert "11 in phu_yen_sua.xlsx" in problem.message_en and "--prefer" in problem.message_en
    assert not (tmp_path / "out").exists()
    result = merge_datasets([phu_yen, fixed], tmp_path / "out", prefer=fixed)
    assert result.resolved == 1
    assert values(result.path)[("122", "2018")] == 11.0
    with pytest.raises(ParameterError):
        merge_datasets([phu_yen, fixed], tmp_path / "x", prefer=tmp_path / "khac.xlsx")


def test_merge_command(phu_yen, quynh_nhai, tmp_path, capsys):
    out = tmp_path / "son_la"
    assert main(["merge", str(out), str(phu_yen), str(quynh_nhai)]) == 0
    text = capsys.readouterr().out
    assert "Đã gộp thành bộ dữ liệu" in text and "2 files; 4 figures" in text
    assert main(["merge", str(out), str(phu_yen)]) == 2  # a dataset folder needs --force
    assert "--force" in capsys.readouterr().err


def test_import_updates_a_dataset_folder_only_with_force(template, phu_yen, tmp_path):
    out = import_workbook(phu_yen, tmp_path / "ds")
    (out / "indicators.csv").write_text(
        (Path(__file__).parents[2] / "data" / "catalog" / "indicators.csv").read_text("utf-8"),
        encoding="utf-8",
    )
    newer = district(template, tmp_path / "moi.xlsx", "122", {2017: 12, 2018: 10, 2019: 9})
    with pytest.raises(ParameterError) as err:
        import_workbook(newer, out)
    assert "--force" in err.value.message_en
    import_workbook(newer, out, force=True)
    assert values(out)[("122", "2019")] == 9.0
    assert (out / "indicators.csv").exists()  # the folder's own files are kept
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # an invalid newer workbook changes nothing
    bad = district(template, tmp_path / "sai.xlsx", "122", {2019: -1})
    with pytest.raises(DatasetError):
        import_workbook(bad, out, force=True)
    assert values(out)[("122", "2019")] == 9.0


def test_import_never_replaces_a_folder_that_is_not_a_dataset(phu_yen, tmp_path):
    other = tmp_path / "tai_lieu"
    other.mkdir()
    (other / "bao_cao.docx").write_bytes(b"x")
    for force in (False, True):
        with pytest.raises(ParameterError):
            import_workbook(phu_yen, other, force=force)
    assert [p.name for p in other.iterdir()] == ["bao_cao.docx"]


def test_a_date_cell_with_blank_precision_is_read_as_shown(template, tmp_path):
    book = openpyxl.load_workbook(template)
    book["thong_tin"]["B3"], book["thong_tin"]["B5"] = "Thử", "có"
    book["so_cuoc_hop"]["G11"] = 10
    for col, value in zip(
        "ABCDE", ("Phù Yên", "tuyengiao_ttct", datetime(2018, 8, 1), None, "ước tính")
    ):
        book["thi_diem"][f"{col}3"] = value
    book["thi_diem"]["C3"].number_format = "mmm-yy"  # what Excel makes of a typed "08/2018"
    book.save(tmp_path / "t.xlsx")
    pilot = load_dataset(tmp_path / "t.xlsx").pilots.iloc[0]
    assert (str(pilot.start.date()), pilot.start_precision) == ("2018-08-01", "month")
    assert pilot.start_status == "approximate"


def test_template_print_setup(template):
    book = openpyxl.load_workbook(template)
    for ws in book.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
        assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert book["so_cuoc_hop"].print_title_rows == "$1:$5"
    assert book["thi_diem"].print_title_rows == "$1:$2"


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def convert(path: Path, fmt: str, tmp_path: Path) -> Path:
    profile = (tmp_path / "lo_profile").as_uri()
    subprocess.run(
        [
            SOFFICE,
            "--headless",
            f"-env:UserInstallation={profile}",
            "--convert-to",
            fmt,
            "--outdir",
            str(tmp_path),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return tmp_path / f"{path.stem}.{fmt}"


@pytest.mark.slow
@pytest.mark.skipif(SOFFICE is None or shutil.which("pdfinfo") is None, reason="LibreOffice")
def test_the_empty_template_prints_on_few_pages(template, tmp_path):
    pdf = convert(template, "pdf", tmp_path)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages")))
    # one page per indicator sheet (12), thong_tin, thi_diem, nhan_xet, the guide's few: 47
    # before the print set-up
    assert pages <= 20


@pytest.mark.slow
@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice")
def test_libreoffice_ods_reads_as_the_xlsx(phu_yen, tmp_path):
    ods = convert(phu_yen, "ods", tmp_path)
    a, b = load_dataset(phu_yen), load_dataset(ods)
    assert a.panel.equals(b.panel) and a.pilots.equals(b.pilots)


def test_validate_shows_what_was_converted_even_when_refusing(tmp_path, capsys):
    # Names typed with .VnTime ("Quúnh Nhai", "Phï Yªn"), converted with a note, and one
    # negative count: the dataset is refused, and the note is still said.
    folder = tmp_path / "tcvn3"
    corpus = Path(__file__).parent / "corpus" / "cases" / "tcvn3_names_utf8"
    shutil.copytree(corpus, folder)
    panel = folder / "panel.csv"
    lines = panel.read_text(encoding="utf-8").splitlines()
    head, first = lines[0].split(","), lines[1].split(",")
    first[head.index("value")] = "-3"
    panel.write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n", encoding="utf-8")
    assert main(["validate", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "Bộ dữ liệu không hợp lệ" in err
    assert "Ghi chú khi đọc số liệu" in err and "TCVN3" in err


def test_a_problem_of_the_combined_inputs_names_the_inputs_not_the_scratch_folder(
    phu_yen, quynh_nhai, tmp_path
):
    # Phù Yên's yearly meetings for 2018 in its workbook, and a quarter of 2018 for Phù Yên in
    # the province's folder: each valid alone, and not a conflict (2018 and 2018-Q1 are
    # different periods), but together the unit mixes yearly and quarterly figures in 2018.
    folder = import_workbook(quynh_nhai, tmp_path / "tinh")
    indicator = load_dataset(phu_yen).panel["indicator"].iloc[0]
    with (folder / "panel.csv").open("a", encoding="utf-8", newline="") as f:
        f.write(f"122,2018-Q1,{indicator},3,\r\n")
    assert len(load_dataset(folder).panel) == 3  # valid on its own
    out = tmp_path / "son_la"
    with pytest.raises(DatasetError) as err:
        merge_datasets([phu_yen, folder], out)
    (problem,) = err.value.problems
    # merged panel.csv, sorted by unit and period: 118 2017, 118 2018, 122 2017, 122 2018
    # (from phu_yen.xlsx), 122 2018-Q1 (from tinh): the quarter is the row mixing frequencies
    # and the yearly 2018 row of phu_yen.xlsx the one it refers to.
    assert problem.file == "tinh" and problem.column == "period" and problem.row is None
    assert problem.place == f"Huyện Phù Yên, 2018-Q1, {indicator}"
    assert problem.message_vi.startswith("Lỗi chỉ xuất hiện khi gộp các tệp")
    assert "kết quả gộp, lấy từ tinh," in problem.message_vi
    assert f"Huyện Phù Yên, 2018, {indicator} trong phu_yen.xlsx" in problem.message_vi
    assert problem.message_en.startswith("This problem appears only when the inputs are combined")
    assert f"(row Huyện Phù Yên, 2018, {indicator} in phu_yen.xlsx)" in problem.message_en
    text = str(err.value)
    assert ".check" not in text and "panel.csv" not in text and "dòng 6" not in text
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_whole_dataset_problem_of_the_merge_names_all_its_inputs(
    phu_yen, quynh_nhai, tmp_path, monkeypatch
):
    # A problem with no row of the merged panel or pilots (the merged metadata): it is told
    # against the merged result of every input, never the scratch folder it was found in.
    import kiemnhiem.data.merge as merge

    real = merge.load_dataset

    def validator(path, **kwargs):
        if Path(path).name.endswith(".check"):
            where = {"file": "metadata.json", "column": "name"}
            raise DatasetError([Problem("Tên sai.", "Wrong name.", **where)], str(path))
        return real(path, **kwargs)

    monkeypatch.setattr(merge, "load_dataset", validator)
    out = tmp_path / "son_la"
    with pytest.raises(DatasetError) as err:
        merge_datasets([phu_yen, quynh_nhai], out)
    (problem,) = err.value.problems
    assert problem.file == "phu_yen.xlsx + quynh_nhai.xlsx" and problem.column == "name"
    assert problem.message_vi.endswith(
        "lấy từ phu_yen.xlsx + quynh_nhai.xlsx, tại đơn vị, kỳ và cột được nêu: Tên sai."
    )
    assert problem.message_en.endswith("Wrong name.")
    assert ".check" not in str(err.value) and not out.exists()
