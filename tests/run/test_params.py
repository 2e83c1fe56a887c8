"""What the notebooks and ``--only`` accept: unit codes, ``UNIT:MODEL`` values, and parameter
sets checked against a notebook's parameters cell (:mod:`kiemnhiem.run.params`)."""

from __future__ import annotations

import unicodedata

import pytest

from kiemnhiem.exceptions import ParameterError
from kiemnhiem.resources import notebook_path
from kiemnhiem.run import plan as plan_module
from kiemnhiem.run.evaluations import EVALUATION_PARAMETER
from kiemnhiem.run.params import (
    PILOT_PARAMETERS,
    SUMMARY_OPTIONAL,
    SUMMARY_PARAMETERS,
    check_parameters,
    notebook_parameter_names,
    pad_unit_code,
    parse_only,
    resolve_report_unit,
)
from tests.run.helpers import (
    make_notebook,
)

# ---------------------------------------------------------------------------------------------
# Units and --only
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (94, "094"),
        ("94", "094"),
        ("094", "094"),
        (122, "122"),
        (7, "007"),
        (122.0, "122"),
        ("  Phù Yên ", "Phù Yên"),
    ],
)
def test_pad_unit_code(value, expected):
    assert pad_unit_code(value) == expected


def test_pad_unit_code_normalizes_names_to_nfc():
    decomposed = unicodedata.normalize("NFD", "Phù Yên")
    assert pad_unit_code(decomposed) == unicodedata.normalize("NFC", "Phù Yên")


@pytest.mark.parametrize("value", [True, -5])
def test_pad_unit_code_rejects_non_codes(value):
    with pytest.raises(ParameterError):
        pad_unit_code(value)


@pytest.mark.parametrize("value", ["122", 122, "Phù Yên", "phu yen", "Huyện Phù Yên"])
def test_resolve_report_unit(demo, value):
    assert resolve_report_unit(demo, value) == ("122", "Huyện Phù Yên")


def test_resolve_report_unit_refuses_another_province(demo):
    # Phú Yên is a province: the matcher must not take it for Phù Yên (DESIGN.md).
    with pytest.raises(ParameterError):
        resolve_report_unit(demo, "Phú Yên")


def test_parse_only():
    assert parse_only(["122:tuyengiao_ttct", "Phù Yên : danvan_mttq"]) == [
        ("122", "tuyengiao_ttct"),
        ("Phù Yên", "danvan_mttq"),
    ]
    assert parse_only(None) == []


@pytest.mark.parametrize("bad", ["122", ":tuyengiao_ttct", "122:", ""])
def test_parse_only_rejects_malformed_values(bad):
    with pytest.raises(ParameterError):
        parse_only([bad])


# ---------------------------------------------------------------------------------------------
# A notebook's parameters cell
# ---------------------------------------------------------------------------------------------


def test_check_parameters_names_unknown_and_missing_in_both_languages(tmp_path):
    nb = make_notebook(tmp_path / "n.ipynb", "dataset = None\nunit = '122'\nextra = 1")
    check_parameters(nb, [{"dataset": "/d", "unit": "122", "extra": 2}])
    with pytest.raises(ParameterError) as info:
        check_parameters(nb, [{"dataset": "/d", "unit": "122", "lang": "vi"}])
    vi, en = info.value.message_vi, info.value.message_en
    assert "lang" in vi and "extra" in vi and "lang" in en and "extra" in en
    assert vi != en and "n.ipynb" in en
    assert notebook_parameter_names(nb) == ["dataset", "unit", "extra"]


def test_the_bundled_notebooks_declare_what_the_runner_passes():
    nb = notebook_path("pilot_report")
    # evaluation_file: optional, passed when the run has computed the evaluation once.
    assert set(notebook_parameter_names(nb)) == {*PILOT_PARAMETERS, EVALUATION_PARAMETER}
    summary = plan_module.summary_notebook()
    if summary is not None:
        declared = set(notebook_parameter_names(summary))
        assert set(SUMMARY_PARAMETERS) <= declared
        assert declared <= {*SUMMARY_PARAMETERS, *SUMMARY_OPTIONAL, EVALUATION_PARAMETER}
