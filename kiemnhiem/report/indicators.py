"""What the catalogs say about an indicator or a model, in the report's language.

The lowest module of the report layer: :mod:`.text`, :mod:`.frames`, :mod:`.html`,
:mod:`.plots`, :mod:`.documents` and :mod:`.export` all name indicators and models through it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..labels import check_lang


@dataclass(frozen=True)
class IndicatorInfo:
    """What a reader needs to know about an indicator: name, unit, kind, direction."""

    code: str
    label: str
    unit: str
    kind: str
    better: str
    description: str = ""


def indicator_info(indicators: pd.DataFrame | None, code: str, lang: str = "vi") -> IndicatorInfo:
    """Name, unit, kind and direction of ``code`` from the indicator catalog.

    Without a catalog, or for a code it lacks, the code itself is the name and the indicator
    is treated as a plain count.
    """
    lang = check_lang(lang)
    row = _first_row(indicators, code)
    if row is not None:
        return IndicatorInfo(
            code=code,
            label=str(row.get(f"label_{lang}", code) or code),
            unit=str(row.get(f"unit_{lang}", "") or ""),
            kind=str(row.get("kind", "count") or "count"),
            better=str(row.get("better", "none") or "none"),
            description=str(row.get(f"description_{lang}", "") or ""),
        )
    return IndicatorInfo(code=code, label=code, unit="", kind="count", better="none")


def model_label(models: pd.DataFrame | None, code: str, lang: str = "vi") -> str:
    """The model's name in ``lang`` from the model catalog (the code when unknown)."""
    lang = check_lang(lang)
    row = _first_row(models, code)
    if row is not None:
        text = row[f"label_{lang}"]
        return str(text) if isinstance(text, str) and text else code
    return code


def _first_row(catalog: pd.DataFrame | None, code: str) -> pd.Series | None:
    """The catalog's first row whose ``code`` is ``code``, or None.

    A report asks about 100 times; a set of the codes and a boolean ``.loc`` each time cost 1-2
    ms a call (0.1-0.2 CPU-s a report), this comparison on the column's array 0.17 ms. The
    row is the same Series (``.iloc`` of the same position).
    """
    if catalog is None or not len(catalog):
        return None
    hits = np.flatnonzero(catalog["code"].to_numpy() == code)
    return catalog.iloc[int(hits[0])] if len(hits) else None
