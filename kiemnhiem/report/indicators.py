"""What the catalogs say about an indicator or a model, in the report's language.

The lowest module of the report layer: :mod:`.text`, :mod:`.frames`, :mod:`.html`,
:mod:`.plots`, :mod:`.documents` and :mod:`.export` all name indicators and models through it.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    if indicators is not None and len(indicators) and code in set(indicators["code"]):
        row = indicators.loc[indicators["code"] == code].iloc[0]
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
    if models is not None and len(models) and code in set(models["code"]):
        text = models.loc[models["code"] == code, f"label_{lang}"].iloc[0]
        return str(text) if isinstance(text, str) and text else code
    return code
