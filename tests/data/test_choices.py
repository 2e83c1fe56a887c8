"""Closed choices typed in Vietnamese or as the codes (data/choices.py), in folders too."""

import json
import shutil
from pathlib import Path

import pytest

from kiemnhiem.data.catalog import builtin_models
from kiemnhiem.data.choices import (
    model_aliases,
    read_model,
    read_precision,
    read_status,
    read_synthetic,
)
from kiemnhiem.data.dataset import load_dataset
from kiemnhiem.exceptions import DatasetError

REFERENCE = Path(__file__).parent / "corpus" / "reference"


@pytest.mark.parametrize(
    "typed, code",
    [("ngày", "day"), ("Tháng", "month"), ("nam", "year"), ("NĂM", "year"), ("month", "month")],
)
def test_precision_words(typed, code):
    assert read_precision(typed) == code


@pytest.mark.parametrize(
    "typed, code",
    [
        ("có văn bản", "documented"),
        ("Co van ban", "documented"),
        ("ước tính", "approximate"),
        ("giả định", "assumed"),
        ("assumed", "assumed"),
    ],
)
def test_status_words(typed, code):
    assert read_status(typed) == code


def test_synthetic_words_and_unknown_choices():
    assert read_synthetic("có") is True and read_synthetic("Không") is False
    assert read_synthetic(True) is True and read_synthetic("false") is False
    assert read_synthetic("có lẽ") is None
    assert read_precision("quý") is None and read_status("chắc chắn") is None


@pytest.mark.parametrize(
    "typed",
    [
        "danvan_mttq",
        "Dân vận - MTTQ",
        "dan van mttq",
        "Trưởng Ban Dân vận đồng thời là Chủ tịch Ủy ban MTTQ cấp huyện",
        "trưởng ban dân vận đồng thời là chủ tịch ủy ban mttq cấp huyện",
    ],
)
def test_model_by_code_short_form_or_vietnamese_name(typed):
    assert read_model(typed, model_aliases(builtin_models())) == "danvan_mttq"


def test_unknown_model_is_not_guessed():
    aliases = model_aliases(builtin_models())
    assert read_model("Dân vận", aliases) is None
    assert read_model("Tuyên giáo – TTCT", aliases) == "tuyengiao_ttct"


def write_folder(tmp_path, pilots: str, synthetic) -> Path:
    folder = tmp_path / "ds"
    shutil.copytree(REFERENCE, folder)
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    meta["synthetic"] = synthetic
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    (folder / "pilots.csv").write_text(pilots, encoding="utf-8")
    return folder


def test_a_folder_takes_vietnamese_words_and_infers_precision(tmp_path):
    pilots = (
        "unit,model,start,start_precision,start_status,end,source\n"
        "Phù Yên,Tuyên giáo - TTCT,08/2018,,có văn bản,,Báo Sơn La\n"
        "Quỳnh Nhai,Trưởng Ban Dân vận đồng thời là Chủ tịch Ủy ban MTTQ cấp huyện,"
        "2019,,giả định,,\n"
    )
    ds = load_dataset(write_folder(tmp_path, pilots, "có"))
    assert ds.synthetic is True
    got = {
        (p.unit_code, p.model): (str(p.start.date()), p.start_precision, p.start_status)
        for p in ds.pilots.itertuples()
    }
    # 08/2018 shows a month, 2019 only a year: neither is read as a day
    assert got == {
        ("122", "tuyengiao_ttct"): ("2018-08-01", "month", "documented"),
        ("118", "danvan_mttq"): ("2019-01-01", "year", "assumed"),
    }


def test_a_bad_choice_lists_the_vietnamese_words(tmp_path):
    pilots = (
        "unit,model,start,start_precision,start_status,end,source\n"
        "Phù Yên,tuyengiao_ttct,08/2018,quý,chắc chắn,,\n"
    )
    with pytest.raises(DatasetError) as err:
        load_dataset(write_folder(tmp_path, pilots, True))
    text = err.value.render()
    assert "ngày (day), tháng (month), năm (year)" in text
    assert "có văn bản (documented), ước tính (approximate), giả định (assumed)" in text
