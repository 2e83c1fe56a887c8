"""The input corpus: every way a dataset arrives, read as the reference or refused precisely.

``tests/data/corpus/cases.csv`` (written by hand) lists each case under ``cases/``: a dataset
folder, or a workbook ``<case>.xlsx`` or ``<case>.ods``. A "read" case must load as its
hand-written reference (``reference/``, or the folder its ``reference`` column names:
``reference_ratings/`` adds annual ratings, ``reference_confirmed/`` a confirmed far value); a
"refused" case must make ``kiemnhiem validate`` (and, for workbooks, ``kiemnhiem import``)
exit 2 with a bilingual message naming the file or sheet and the row and
column, or the cell, given in the manifest, and write nothing. ``make_corpus.py`` generated the
cases; re-running it must give the committed bytes.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from kiemnhiem.cli import main
from kiemnhiem.data.dataset import load_dataset

CORPUS = Path(__file__).parent / "corpus"
with (CORPUS / "cases.csv").open(encoding="utf-8", newline="") as _fh:
    MANIFEST = list(csv.DictReader(_fh))
READ = [c for c in MANIFEST if c["kind"] == "read"]
REFUSED = [c for c in MANIFEST if c["kind"] == "refused"]
_VIETNAMESE = re.compile(r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]")


WORKBOOK_SUFFIXES = (".xlsx", ".ods")


def case_path(name: str) -> Path:
    folder = CORPUS / "cases" / name
    if folder.is_dir():
        return folder
    return next(
        (p for p in (folder.with_name(name + s) for s in WORKBOOK_SUFFIXES) if p.exists()),
        folder.with_name(name + ".xlsx"),
    )


def snapshot(path: Path) -> dict[str, bytes]:
    files = [path] if path.is_file() else sorted(path.rglob("*"))
    return {str(p): p.read_bytes() for p in files if p.is_file()}


@pytest.fixture(scope="module", autouse=True)
def rebuilt(tmp_path_factory):
    """A function returning make_corpus.py's output re-run into a temporary folder.

    The script runs in a child process started before this module's first test, so that
    bzip2-compressing the zip bomb's 256 MiB overlaps the other tests.
    """
    out = tmp_path_factory.mktemp("corpus") / "cases"
    script = CORPUS / "make_corpus.py"
    child = subprocess.Popen(
        [sys.executable, str(script), str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )

    def wait() -> Path:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err.decode(errors="replace")
        return out

    yield wait
    if child.poll() is None:
        child.kill()
        child.wait()


@pytest.fixture(scope="module")
def reference():
    return load_dataset(CORPUS / "reference")


def test_manifest_lists_every_case_once():
    names = [c["case"] for c in MANIFEST]
    assert len(names) == len(set(names)) and len(names) >= 40
    on_disk = {
        p.name.removesuffix(".xlsx").removesuffix(".ods") for p in (CORPUS / "cases").iterdir()
    }
    assert set(names) == on_disk
    assert {c["kind"] for c in MANIFEST} == {"read", "refused"}
    for c in REFUSED:
        assert c["file_or_sheet"], c["case"]  # every refusal names at least where


def test_corpus_files_stay_small():
    sizes = {p.name: p.stat().st_size for p in (CORPUS / "cases").rglob("*") if p.is_file()}
    assert max(sizes.values()) < 200_000, max(sizes, key=sizes.get)


def test_reference_is_what_was_written(reference):
    # Worked out from reference/*.csv by hand: 4 units x 4 years x 3 indicators.
    assert reference.province_code == "14" and reference.synthetic is True
    assert reference.data_end == date(2020, 12, 31)
    assert len(reference.panel) == 48
    assert reference.units["unit_code"].tolist() == ["116", "118", "122", "125"]
    values = reference.panel.set_index(["unit_code", "period", "indicator"])["value"]
    assert values[("122", "2019", "kinh_phi_hoat_dong")] == 1105.5
    assert values[("116", "2018", "dat_chuan_co_so")] == 0.82
    assert values[("125", "2020", "so_cuoc_hop")] == 10
    pilots = reference.pilots.set_index(["unit_code", "model"])
    phu_yen = pilots.loc[("122", "tuyengiao_ttct")]
    assert (str(phu_yen["start"].date()), phu_yen["start_precision"]) == ("2018-08-01", "month")
    quynh_nhai = pilots.loc[("118", "danvan_mttq")]
    assert (str(quynh_nhai["start"].date()), quynh_nhai["start_status"]) == (
        "2019-01-01",
        "assumed",
    )


@pytest.fixture(scope="module")
def references(reference):
    """Every reference a read case may name, loaded once."""
    out = {"reference": reference}
    for c in READ:
        name = c.get("reference") or "reference"
        if name not in out:
            out[name] = load_dataset(CORPUS / name)
    return out


def test_the_other_references_are_what_was_written(references):
    # reference_ratings: the reference plus xep_loai (Quỳnh Nhai 2017 rated 2, Phù Yên 2018
    # rated 4); reference_confirmed: Phù Yên's 2019 running costs 221100 instead of 1105.5.
    ratings = references["reference_ratings"].panel.set_index(["unit_code", "period", "indicator"])
    assert len(ratings) == 48 + 16
    assert ratings.loc[("118", "2017", "xep_loai"), "value"] == 2
    assert ratings.loc[("122", "2018", "xep_loai"), "value"] == 4
    far = references["reference_confirmed"].panel.set_index(["unit_code", "period", "indicator"])
    assert far.loc[("122", "2019", "kinh_phi_hoat_dong"), "value"] == 221100


@pytest.mark.parametrize("case", READ, ids=[c["case"] for c in READ])
def test_read_case_equals_the_reference(case, references):
    reference = references[case.get("reference") or "reference"]
    ds = load_dataset(case_path(case["case"]))
    pd.testing.assert_frame_equal(ds.panel, reference.panel)
    pd.testing.assert_frame_equal(ds.pilots, reference.pilots)
    pd.testing.assert_frame_equal(ds.units, reference.units)
    assert (ds.name, ds.province_code, ds.synthetic, ds.data_end) == (
        reference.name,
        reference.province_code,
        reference.synthetic,
        reference.data_end,
    )


def problems_of(err: str) -> list[tuple[str, str]]:
    """The (Vietnamese, English) lines of each problem: "  - " then "    " (one language a line)."""
    lines = err.splitlines()
    return [
        (line[4:], lines[k + 1][4:])
        for k, line in enumerate(lines)
        if line.startswith("  - ") and k + 1 < len(lines) and lines[k + 1].startswith("    ")
    ]


def _at(location: str, word: str, value: str) -> bool:
    return re.search(rf"(^|, ){word} {re.escape(value)}(,| \(|$)", location) is not None


def expected_problem(case: dict, err: str) -> tuple[str, str]:
    """The problem that names the case's file or sheet, row and column, or cell (and place)."""
    where, row, spot = case["file_or_sheet"], case["row"], case["column_or_cell"]
    place = case.get("place") or ""
    is_file = where.endswith((".csv", ".json", ".xlsx", ".ods", ".xls"))
    for vi, en in problems_of(err):
        location = vi.split(": ", 1)[0]
        if is_file and not location.startswith(where):
            continue
        if not is_file and not _at(location, "trang", where):
            continue
        if row and not _at(location, "dòng", row):
            continue
        if spot and "!" in spot and not re.search(rf"(^|, ){re.escape(spot)}( \(|$)", location):
            continue
        if spot and "!" not in spot:
            # a missing column has no column of its own: its message names it
            if not _at(location, "cột", spot) and f'"{spot}"' not in vi:
                continue
        if place and f"({place})" not in location:
            continue
        if case.get("message") and case["message"] not in vi:
            continue
        return vi, en
    raise AssertionError(f"no problem at {where} {row} {spot} {place} in:\n{err}")


def check_refusal(case: dict, err: str) -> None:
    head = err.splitlines()[:2]
    assert "Bộ dữ liệu không hợp lệ" in head[0] and "Invalid dataset" in head[1]
    vi, en = expected_problem(case, err)
    loc_vi, _, message_vi = vi.partition(": ")
    loc_en, _, message_en = en.partition(": ")
    assert message_en and message_vi != message_en, (vi, en)
    assert _VIETNAMESE.search(message_vi), vi  # really Vietnamese, not a copy of the English
    # one language a line: the locations use their own words
    assert not re.search(r"\b(row|column|sheet)\b", loc_vi), vi
    assert not re.search(r"\b(dòng|cột|trang)\b", loc_en), en


@pytest.mark.parametrize("case", REFUSED, ids=[c["case"] for c in REFUSED])
def test_refused_case_exits_2_names_the_place_and_writes_nothing(case, tmp_path, capsys):
    path = case_path(case["case"])
    before = snapshot(path.parent if path.is_file() else path)
    assert main(["validate", str(path)]) == 2
    check_refusal(case, capsys.readouterr().err)
    if path.suffix in WORKBOOK_SUFFIXES:
        out = tmp_path / "imported"
        assert main(["import", str(path), str(out)]) == 2
        check_refusal(case, capsys.readouterr().err)
        assert not out.exists() and list(tmp_path.iterdir()) == []
    assert snapshot(path.parent if path.is_file() else path) == before


def test_zip_bomb_is_refused_before_openpyxl_inflates_it(monkeypatch, capsys):
    def never(*args, **kwargs):
        raise AssertionError("openpyxl was handed a zip bomb")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    assert main(["validate", str(case_path("wb_zip_bomb"))]) == 2
    assert "zip bomb" in capsys.readouterr().err


def test_openpyxl_parses_sheets_and_strings_through_defusedxml():
    # Without the pre-check, openpyxl itself must refuse the entity bombs: it parses sheets
    # and shared strings with defusedxml's iterparse when defusedxml is importable.
    from defusedxml import EntitiesForbidden
    from openpyxl.xml.functions import iterparse

    assert iterparse.__module__.startswith("defusedxml")
    for name in ("wb_xml_bomb_sheet", "wb_xml_bomb_shared_strings"):
        with pytest.raises(ValueError) as err:
            openpyxl.load_workbook(case_path(name))
        assert isinstance(err.value.__cause__ or err.value.__context__, EntitiesForbidden)


def test_make_corpus_reproduces_the_committed_files(rebuilt):
    out = rebuilt()
    committed, again = snapshot(CORPUS / "cases"), snapshot(out)
    committed = {Path(k).relative_to(CORPUS / "cases"): v for k, v in committed.items()}
    again = {Path(k).relative_to(out): v for k, v in again.items()}
    assert sorted(again) == sorted(committed)
    changed = [str(k) for k in committed if committed[k] != again[k]]
    assert not changed, f"re-run tests/data/corpus/make_corpus.py and review: {changed}"
