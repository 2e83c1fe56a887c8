"""The command line: exit codes, bilingual messages, and nothing written by validate."""

import subprocess
import sys
from types import SimpleNamespace

import pytest

from kiemnhiem.cli import _parser, main
from kiemnhiem.data.dataset import load_dataset
from kiemnhiem.run import runner
from kiemnhiem.run.plan import plan_reports
from tests.data.test_dataset import TODAY, good_files, write  # noqa: F401


def test_validate_clean_dataset(tmp_path, capsys):
    folder = write(tmp_path / "ok", good_files())
    assert main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Bộ dữ liệu hợp lệ" in out and "The dataset is valid" in out


def test_validate_broken_dataset_exit_2_and_writes_nothing(tmp_path, capsys):
    files = good_files()
    files["panel.csv"] += "Phù Yên,2019,so_cuoc_hop,-1,\nMường Tè,2019,so_cuoc_hop,1,\n"
    folder = write(tmp_path / "bad", files)
    before = {p: p.read_bytes() for p in folder.iterdir()}
    assert main(["validate", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "2 lỗi" in err and "2 problem(s)" in err
    assert "panel.csv, dòng 9, cột value (Phù Yên, 2019): " in err
    assert "panel.csv, row 9, column value (Phù Yên, 2019): " in err
    assert "panel.csv, dòng 10, cột unit (Mường Tè, 2019): " in err
    assert {p: p.read_bytes() for p in folder.iterdir()} == before


def test_validate_missing_dataset(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nowhere")]) == 2
    assert "Dataset not found" in capsys.readouterr().err


def test_pilots_lists_start_precision_and_status(tmp_path, capsys):
    folder = write(tmp_path / "ok", good_files())
    assert main(["pilots", str(folder)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split("\t") == ["unit_code", "unit_name", "model", "start",
                                    "start_precision", "start_status"]
    rows = {tuple(line.split("\t")[:3]): line.split("\t")[3:] for line in lines[1:]}
    assert rows[("122", "Huyện Phù Yên", "tuyengiao_ttct")] == ["08/2018", "month", "documented"]
    assert rows[("118", "Huyện Quỳnh Nhai", "danvan_mttq")] == ["2018", "year", "approximate"]
    assert rows[("116", "Thành phố Sơn La", "danvan_mttq")] == ["01/01/2019", "day", "assumed"]


def test_bad_usage_is_exit_2_and_help_is_bilingual():
    proc = subprocess.run([sys.executable, "-m", "kiemnhiem", "run", "--lang", "fr"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    help_text = subprocess.run([sys.executable, "-m", "kiemnhiem", "--help"],
                               capture_output=True, text=True).stdout
    assert "Bộ công cụ đánh giá" in help_text and "Evaluation suite" in help_text


TWO = ["122:tuyengiao_ttct", "Mộc Châu:tuyengiao_ttct"]


@pytest.mark.parametrize(
    "only", [["--only", *TWO], ["--only", TWO[0], "--only", TWO[1]]], ids=["one", "twice"]
)
def test_run_only_keeps_every_report_asked_for(only, tmp_path, monkeypatch):
    # argparse's nargs="+" alone keeps the last --only: a report asked for went missing, exit 0.
    assert _parser().parse_args(["run", *only]).only == TWO
    planned = []

    def plan_only(**kwargs):  # stands in for run_reports: plans, runs nothing
        jobs = plan_reports(load_dataset(kwargs["dataset"]), only=kwargs["only"])
        planned.extend((j.unit_code, j.model) for j in jobs)
        return SimpleNamespace(exit_code=0)

    monkeypatch.setattr(runner, "run_reports", plan_only)
    assert main(["run", "--out", str(tmp_path / "site"), "--quiet", *only]) == 0
    assert planned == [("122", "tuyengiao_ttct"), ("123", "tuyengiao_ttct")]


@pytest.mark.parametrize(("argv", "vi", "en"), [
    (["run", "--bogus"], "kiemnhiem: lỗi: không nhận ra tham số: --bogus",
     "kiemnhiem: error: unrecognized arguments: --bogus"),
    (["demo"], "kiemnhiem demo: lỗi: thiếu tham số bắt buộc: outdir",
     "kiemnhiem demo: error: the following arguments are required: outdir"),
    (["demo", "--units", "x", "out"],
     "kiemnhiem demo: lỗi: tham số --units: 'x' không phải số nguyên hợp lệ",
     "kiemnhiem demo: error: argument --units: invalid int value: 'x'"),
    (["run", "--lang", "fr"],
     "kiemnhiem run: lỗi: tham số --lang: giá trị 'fr' không thuộc các lựa chọn ('vi', 'en')",
     "kiemnhiem run: error: argument --lang: invalid choice: 'fr' (choose from 'vi', 'en')"),
    (["run", "--out"], "kiemnhiem run: lỗi: tham số --out cần đúng một giá trị đi kèm",
     "kiemnhiem run: error: argument --out: expected one argument"),
])
def test_usage_errors_are_vietnamese_then_english(argv, vi, en, capsys):
    # argparse writes these in English only; a district office reads the Vietnamese line first.
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2:] == [vi, en]
    assert err[0].startswith("cách dùng / usage: kiemnhiem")


def test_an_argparse_message_not_known_keeps_its_english_words():
    from kiemnhiem.cli import bilingual_error
    vi, en = bilingual_error("argument --x: something new in a later Python")
    assert en == "argument --x: something new in a later Python"
    assert vi == ("lỗi tham số dòng lệnh (nguyên văn tiếng Anh): "
                  "argument --x: something new in a later Python")
