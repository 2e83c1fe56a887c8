"""Catalog look-ups: an indicator's name, unit and kind."""

from __future__ import annotations

from kiemnhiem.report.indicators import indicator_info


def test_indicator_info_without_catalog_falls_back_to_the_code():
    info = indicator_info(None, "so_moi", "vi")
    assert (info.label, info.kind) == ("so_moi", "count")
