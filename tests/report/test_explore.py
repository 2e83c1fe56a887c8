"""The explorer: the pure view function and the widgets that call it, driven without a browser."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from matplotlib.figure import Figure

from kiemnhiem.data.catalog import indicators_for_model
from kiemnhiem.data.dataset import load_dataset
from kiemnhiem.exceptions import ParameterError
from kiemnhiem.labels import label
from kiemnhiem.report.explore import build_explorer, explore_choices, explore_view
from kiemnhiem.report.text import verdict_label
from kiemnhiem.stats.evaluation import evaluate_pilot

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo():
    return load_dataset(None)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_choices_follow_the_pilots_and_the_catalog(demo, lang):
    choices = explore_choices(demo, lang)
    # Models in the order the pilots list them; names from the model catalog.
    assert [code for _, code in choices.models] == ["danvan_mttq", "tuyengiao_ttct"]
    names = dict(zip(demo.models["code"], demo.models[f"label_{lang}"], strict=True))
    assert [text for text, _ in choices.models] == [names["danvan_mttq"], names["tuyengiao_ttct"]]
    # The article's five Dân vận – MTTQ districts, by code.
    assert [code for _, code in choices.units["danvan_mttq"]] == ["116", "118", "121", "122", "124"]
    assert choices.units["danvan_mttq"][1][0] == "Huyện Quỳnh Nhai (118)"
    assert len(choices.units["tuyengiao_ttct"]) == 12
    for model in ("danvan_mttq", "tuyengiao_ttct"):
        expected = list(indicators_for_model(demo.indicators, model)["code"])
        assert [code for _, code in choices.indicators[model]] == expected


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_view_is_the_series_chart_and_the_estimates(demo, lang):
    fig, table = explore_view(demo, "Quỳnh Nhai", "danvan_mttq", "so_cuoc_hop", lang)
    assert isinstance(fig, Figure) and isinstance(table, pd.DataFrame)
    name = {"vi": "Số cuộc họp", "en": "Meetings held"}[lang]
    assert fig.axes[0].get_title(loc="left") == label(
        "plot_series_title", lang, indicator=name, unit="Huyện Quỳnh Nhai"
    )
    # The timeline events are drawn and listed (Resolution 18 falls inside the chart's years).
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    nq18 = {"vi": "Nghị quyết 18-NQ/TW", "en": "Resolution 18-NQ/TW"}[lang]
    assert any(nq18 in text for text in legend)
    # The alt text travels as the figure's label.
    assert "Huyện Quỳnh Nhai" in fig.get_label()
    assert list(table.columns) == [label("report_col_item", lang), label("report_col_value", lang)]
    items = dict(zip(table.iloc[:, 0], table.iloc[:, 1], strict=True))
    row = evaluate_pilot(demo, "118", "danvan_mttq").set_index("indicator").loc["so_cuoc_hop"]
    assert items[label("report_col_verdict", lang)] == verdict_label(row["verdict"], lang)


def test_view_accepts_codes_and_reuses_results(demo):
    results = evaluate_pilot(demo, "122", "tuyengiao_ttct")
    _fig, by_name = explore_view(demo, "Phù Yên", "tuyengiao_ttct", "so_giang_vien_chuyen_trach")
    _fig, reused = explore_view(
        demo, "122", "tuyengiao_ttct", "so_giang_vien_chuyen_trach", results=results
    )
    pd.testing.assert_frame_equal(by_name, reused)


def test_view_refuses_what_the_model_does_not_have(demo):
    with pytest.raises(ParameterError, match="so_hoc_vien"):
        explore_view(demo, "118", "danvan_mttq", "so_hoc_vien")  # a training-centre indicator
    with pytest.raises(ParameterError):
        explore_view(demo, "Mai Sơn", "danvan_mttq", "so_cuoc_hop")  # not a pilot of the model
    with pytest.raises(ParameterError):
        explore_view(demo, "118", "no_such_model", "so_cuoc_hop")


def test_explorer_redraws_when_the_choice_changes(demo):
    box = build_explorer(demo, "vi", model="danvan_mttq", unit="Quỳnh Nhai")
    assert (box.model.value, box.unit.value, box.indicator.value) == (
        "danvan_mttq",
        "118",
        "so_cuoc_hop",
    )
    first_chart, first_table = box.chart.value, box.table.value
    assert first_chart[:8] == PNG
    assert label("report_col_verdict", "vi") in first_table

    box.indicator.value = "so_cuoc_kiem_tra_giam_sat"
    assert box.chart.value != first_chart and box.table.value != first_table

    # A new model refills the other lists with its own pilots and indicators.
    box.model.value = "tuyengiao_ttct"
    assert [code for _, code in box.unit.options] == list(
        demo.pilots.loc[demo.pilots["model"] == "tuyengiao_ttct", "unit_code"].sort_values()
    )
    assert "so_giang_vien_chuyen_trach" in [code for _, code in box.indicator.options]
    assert "so_cuoc_kiem_tra_giam_sat" not in [code for _, code in box.indicator.options]
    before = box.chart.value
    box.unit.value = "122"
    assert box.chart.value != before and box.chart.value[:8] == PNG


def test_explorer_labels_follow_the_language(demo):
    box = build_explorer(demo, "en")
    assert box.model.description == label("explore_model", "en")
    assert box.unit.description == label("explore_unit", "en")
    assert label("report_col_verdict", "en") in box.table.value


def test_explorer_refuses_a_bad_initial_choice(demo):
    with pytest.raises(ParameterError):
        build_explorer(demo, "vi", model="danvan_mttq", indicator="so_hoc_vien")
    with pytest.raises(ParameterError):
        build_explorer(demo, "vi", model="danvan_mttq", unit="Mai Sơn")
    with pytest.raises(ParameterError):
        build_explorer(demo, "vi", model="bithu_chutich")  # in the catalog, but no pilots


def test_explorer_escapes_text_from_the_data(demo):
    # The caption is HTML built from data: a hostile indicator name must arrive as text.
    indicators = demo.indicators.copy()
    indicators.loc[indicators["code"] == "so_cuoc_hop", "label_vi"] = "<b>Họp</b>"
    box = build_explorer(
        dataclasses.replace(demo, indicators=indicators), "vi", model="danvan_mttq"
    )
    assert "<b>Họp</b>" not in box.caption.value
    assert "&lt;b&gt;Họp&lt;/b&gt;" in box.caption.value
