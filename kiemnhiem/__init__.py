"""kiemnhiem: evaluate concurrent-position (kiêm nhiệm) pilots in Vietnamese local government.

The public API is imported lazily so that ``import kiemnhiem`` stays cheap (the runner imports
the package in every worker) and has no side effects.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_API = {
    "load_dataset": "dataset",
    "Dataset": "dataset",
    "label": "labels",
    "resolve_unit": "units",
    "UnitMatcher": "units",
    "did_2x2": "evaluation",
    "evaluate_pilot": "evaluation",
    "evaluate_all": "evaluation",
    "pilot_series": "evaluation",
    "att_gt": "staggered",
    "event_study": "eventstudy",
    "export_results": "export",
    "write_template": "workbook",
    "import_workbook": "workbook",
    "run_reports": "runner",
    "write_demo": "demo",
    "KiemNhiemError": "exceptions",
    "DatasetError": "exceptions",
    "ParameterError": "exceptions",
    "RunError": "exceptions",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'kiemnhiem' has no attribute {name!r}")
