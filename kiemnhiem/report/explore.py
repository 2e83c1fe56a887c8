"""Interactive exploration for JupyterLab: pick a model, a pilot unit and an indicator.

:func:`explore_view` is the pure part: for one choice it returns the chart (the pilot's series
against the comparison mean, timeline events marked) and the table of estimates. The widgets of
:func:`build_explorer` only call it and show what it returns, so every callback is a package
function that tests can drive without a browser: setting a drop-down's ``value`` runs the same
update a click would.

``ipywidgets`` is imported inside :func:`build_explorer` only, so the reports' kernels never pay
for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

from ..data.catalog import indicators_for_model
from ..exceptions import ParameterError, UnitError
from ..labels import check_lang, label
from ..stats.evaluation import evaluate_pilot, pilot_series
from .frames import indicator_detail_table, style_table
from .indicators import indicator_info, model_label
from .plots import figure_png, plot_series, series_alt

__all__ = ["ExploreChoice", "build_explorer", "explore_choices", "explore_view"]


@dataclass(frozen=True)
class ExploreChoice:
    """What can be chosen: models with pilots; per model its pilot units and indicators.

    ``units[model]`` and ``indicators[model]`` are lists of ``(text shown, code)`` pairs, in
    the order drop-downs list them.
    """

    models: list[tuple[str, str]]
    units: dict[str, list[tuple[str, str]]]
    indicators: dict[str, list[tuple[str, str]]]


def explore_choices(dataset, lang: str = "vi") -> ExploreChoice:
    """The options of the explorer's three drop-downs."""
    lang = check_lang(lang)
    pilots = dataset.pilots
    codes = list(dict.fromkeys(str(m) for m in pilots["model"]))
    models = [(model_label(dataset.models, m, lang), m) for m in codes]
    units, indicators = {}, {}
    for m in codes:
        rows = pilots[pilots["model"] == m].sort_values("unit_code")
        units[m] = [(f"{dataset.unit_name(str(c))} ({c})", str(c)) for c in rows["unit_code"]]
        indicators[m] = [
            (indicator_info(dataset.indicators, str(code), lang).label, str(code))
            for code in indicators_for_model(dataset.indicators, m)["code"]
        ]
    return ExploreChoice(models, units, indicators)


def explore_view(
    dataset,
    unit: str,
    model: str,
    indicator: str,
    lang: str = "vi",
    *,
    pre_years: int = 3,
    post_years: int = 3,
    level: float = 0.10,
    results: pd.DataFrame | None = None,
) -> tuple[Figure, pd.DataFrame]:
    """The chart and the estimates for one pilot and indicator.

    Parameters
    ----------
    dataset : Dataset
    unit : str
        A pilot unit of ``model`` (code or name).
    model, indicator : str
        Codes; the indicator must concern the model.
    lang : {"vi", "en"}
    pre_years, post_years, level
        As :func:`~kiemnhiem.stats.evaluation.evaluate_pilot`.
    results : DataFrame, optional
        The pilot's rows of :func:`~kiemnhiem.stats.evaluation.evaluate_pilot`, when the caller has
        them already (the explorer keeps them while only the indicator changes).

    Returns
    -------
    (Figure, DataFrame)
        :func:`~kiemnhiem.report.plots.plot_series` with the dataset's events (its alt text, from
        :func:`~kiemnhiem.report.plots.series_alt`, is the figure's label: ``fig.get_label()``), and
        :func:`~kiemnhiem.report.frames.indicator_detail_table` (two text columns).

    Raises
    ------
    ParameterError
        Unknown model, a unit that is not its pilot, or an indicator that does not concern it.
    """
    lang = check_lang(lang)
    if results is None:
        results = evaluate_pilot(
            dataset, unit, model, pre_years=pre_years, post_years=post_years, level=level
        )
    row = results[results["indicator"] == indicator]
    if row.empty:
        known = ", ".join(str(c) for c in results["indicator"])
        raise ParameterError(
            label("explore_err_indicator", "vi", indicator=indicator, model=model, known=known),
            label("explore_err_indicator", "en", indicator=indicator, model=model, known=known),
        )
    row = row.iloc[0]
    unit_code = str(row["unit_code"])
    series = pilot_series(
        dataset, unit_code, model, indicator, pre_years=pre_years, post_years=post_years
    )
    fig = plot_series(series, row, dataset.indicators, lang, events=dataset.events)
    # The alt text travels with the figure (its label) for callers that publish it.
    fig.set_label(series_alt(series, row, dataset.indicators, lang))
    return fig, indicator_detail_table(row, dataset.indicators, lang)


def build_explorer(
    dataset,
    lang: str = "vi",
    *,
    model: str | None = None,
    unit: str | None = None,
    indicator: str | None = None,
    pre_years: int = 3,
    post_years: int = 3,
    level: float = 0.10,
):
    """Three drop-downs (model, unit, indicator) over the chart and the estimates.

    Changing the model refills the unit and indicator lists; any change redraws through
    :func:`explore_view`. The chart is an ``ipywidgets.Image`` (PNG) and the table an
    ``ipywidgets.HTML`` (escaped), so the view updates without a kernel-side display hook.

    Parameters
    ----------
    dataset : Dataset
    lang : {"vi", "en"}
    model, unit, indicator : str, optional
        The initial choice (default: the first of each list).
    pre_years, post_years, level
        As :func:`~kiemnhiem.stats.evaluation.evaluate_pilot`.

    Returns
    -------
    ipywidgets.VBox
        Children: the row of drop-downs, the chart, its description, the table. The
        drop-downs are also reachable as ``.model``, ``.unit``, ``.indicator``, the chart as
        ``.chart``, its description as ``.caption`` and the table as ``.table``.
    """
    import ipywidgets as widgets

    lang = check_lang(lang)
    choices = explore_choices(dataset, lang)
    if not choices.models:
        raise ParameterError(
            label("explore_err_no_pilots", "vi"), label("explore_err_no_pilots", "en")
        )
    model_codes = [code for _, code in choices.models]
    model = model if model is not None else model_codes[0]
    if model not in model_codes:
        raise ParameterError(
            label("explore_err_model", "vi", model=model, known=", ".join(model_codes)),
            label("explore_err_model", "en", model=model, known=", ".join(model_codes)),
        )

    layout = widgets.Layout(width="auto", min_width="16em", max_width="100%")
    style = {"description_width": "initial"}
    pick_model = widgets.Dropdown(
        options=choices.models,
        value=model,
        description=label("explore_model", lang),
        layout=layout,
        style=style,
    )
    pick_unit = widgets.Dropdown(
        options=choices.units[model],
        description=label("explore_unit", lang),
        layout=layout,
        style=style,
    )
    pick_indicator = widgets.Dropdown(
        options=choices.indicators[model],
        description=label("explore_indicator", lang),
        layout=layout,
        style=style,
    )
    if unit is not None:
        pick_unit.value = _unit_value(dataset, choices.units[model], unit)
    if indicator is not None:
        known = [code for _, code in choices.indicators[model]]
        if indicator not in known:
            fields = {"indicator": indicator, "model": model, "known": ", ".join(known)}
            raise ParameterError(
                label("explore_err_indicator", "vi", **fields),
                label("explore_err_indicator", "en", **fields),
            )
        pick_indicator.value = indicator
    chart = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", height="auto"))
    caption = widgets.HTML()
    table = widgets.HTML(layout=widgets.Layout(overflow="auto", max_width="100%"))
    cache: dict[tuple[str, str], pd.DataFrame] = {}
    busy = {"refilling": False}

    def redraw(_change=None) -> None:
        if busy["refilling"] or pick_unit.value is None or pick_indicator.value is None:
            return
        key = (pick_model.value, pick_unit.value)
        if key not in cache:
            cache[key] = evaluate_pilot(
                dataset, key[1], key[0], pre_years=pre_years, post_years=post_years, level=level
            )
        fig, frame = explore_view(
            dataset,
            key[1],
            key[0],
            pick_indicator.value,
            lang,
            pre_years=pre_years,
            post_years=post_years,
            level=level,
            results=cache[key],
        )
        # The chart last: the front end applies updates in order, so a new chart never shows
        # beside the previous indicator's caption and table.
        caption.value = f'<p style="color:#444;">{_escape(fig.get_label())}</p>'
        table.value = style_table(frame, "explore").to_html()
        chart.value = figure_png(fig)

    def refill(change) -> None:
        busy["refilling"] = True
        try:
            pick_unit.options = choices.units[change["new"]]
            pick_indicator.options = choices.indicators[change["new"]]
        finally:
            busy["refilling"] = False
        redraw()

    pick_model.observe(refill, names="value")
    pick_unit.observe(redraw, names="value")
    pick_indicator.observe(redraw, names="value")
    redraw()

    row = widgets.HBox(
        [pick_model, pick_unit, pick_indicator],
        layout=widgets.Layout(flex_flow="row wrap"),
    )
    box = widgets.VBox([row, chart, caption, table])
    box.model, box.unit, box.indicator = pick_model, pick_unit, pick_indicator
    box.chart, box.caption, box.table = chart, caption, table
    return box


def _unit_value(dataset, options: list[tuple[str, str]], unit: str) -> str:
    """The drop-down value (a code) for a unit given by code or name."""
    from ..data.units import UnitMatcher

    codes = [code for _, code in options]
    text = str(unit).strip()
    if text.isdigit():
        text = text.zfill(3)
    if text not in codes:
        try:
            text = UnitMatcher(dataset.province_code).resolve(text).code
        except UnitError:
            text = ""
    if text not in codes:
        raise ParameterError(
            label("explore_err_unit", "vi", unit=unit, known=", ".join(codes)),
            label("explore_err_unit", "en", unit=unit, known=", ".join(codes)),
        )
    return text


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)
