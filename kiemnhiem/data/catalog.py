"""Built-in catalogs of models, indicators and timeline events (``data/catalog/*.csv``).

Adding an indicator or a model is a data change: a row in the built-in CSV, or in the dataset's
own ``indicators.csv`` / ``models.csv``, which extend (and may override) the built-ins.
"""

from __future__ import annotations

from functools import cache
from typing import Literal, get_args

import pandas as pd

from ..resources import catalog_dir
from .cells import RATING_WORDS as _RATING_WORDS

Kind = Literal["count", "stock", "share", "rating", "duration", "amount"]
Aggregate = Literal["sum", "mean", "last"]
Better = Literal["lower", "higher", "none"]
KINDS: tuple[str, ...] = get_args(Kind)
AGGREGATES: tuple[str, ...] = get_args(Aggregate)
BETTERS: tuple[str, ...] = get_args(Better)

MODEL_COLUMNS = ("code", "label_vi", "label_en", "post_a_vi", "post_b_vi", "post_a_en", "post_b_en")
INDICATOR_COLUMNS = (
    "code",
    "label_vi",
    "label_en",
    "unit_vi",
    "unit_en",
    "kind",
    "aggregate",
    "better",
    "models",
    "description_vi",
    "description_en",
)
EVENT_COLUMNS = ("date", "code", "label_vi", "label_en")

# Rating words as analysts type them, abbreviations included (see kiemnhiem.data.cells).
RATING_WORDS = _RATING_WORDS


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(catalog_dir() / name, dtype=str, keep_default_na=False, encoding="utf-8")


def with_model_lists(indicators: pd.DataFrame) -> pd.DataFrame:
    """Add ``models_list``: the tuple of model codes an indicator concerns (``*`` = all)."""
    out = indicators.copy()
    out["models_list"] = [
        tuple(m.strip() for m in str(v).split(";") if m.strip()) for v in out["models"]
    ]
    return out


@cache
def _builtin_models() -> pd.DataFrame:
    return _read("models.csv")


@cache
def _builtin_indicators() -> pd.DataFrame:
    return with_model_lists(_read("indicators.csv"))


@cache
def _builtin_events() -> pd.DataFrame:
    events = _read("events.csv")
    events["date"] = pd.to_datetime(events["date"], format="%Y-%m-%d")
    return events


def builtin_models() -> pd.DataFrame:
    """The built-in models (a copy)."""
    return _builtin_models().copy()


def builtin_indicators() -> pd.DataFrame:
    """The built-in indicators (a copy), with ``models_list``."""
    return _builtin_indicators().copy()


def builtin_events() -> pd.DataFrame:
    """The built-in timeline events (a copy)."""
    return _builtin_events().copy()


def indicators_for_model(indicators: pd.DataFrame, model: str) -> pd.DataFrame:
    """Indicators that concern ``model`` (those listing it, and those for every model)."""
    mask = [("*" in ms) or (model in ms) for ms in indicators["models_list"]]
    return indicators[mask]


def models_concerned(indicators: pd.DataFrame, code: str, models: list[str]) -> list[str]:
    """Of ``models``, those that indicator ``code`` concerns."""
    ms = indicators.set_index("code").loc[code, "models_list"]
    return [m for m in models if "*" in ms or m in ms]
