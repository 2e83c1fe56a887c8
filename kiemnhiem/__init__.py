"""kiemnhiem: evaluate concurrent-position (kiêm nhiệm) pilots in Vietnamese local government.

The public API is imported lazily so that ``import kiemnhiem`` stays cheap (the runner imports
the package in every worker) and has no side effects.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_API = {
    "load_dataset": "data.dataset",
    "Dataset": "data.validate",
    "label": "labels",
    "resolve_unit": "data.units",
    "UnitMatcher": "data.units",
    "did_2x2": "stats.did",
    "evaluate_pilot": "stats.evaluation",
    "evaluate_all": "stats.evaluation",
    "pilot_series": "stats.evaluation",
    "att_gt": "stats.staggered",
    "event_study": "stats.eventstudy",
    "export_results": "report.export",
    "write_template": "data.template",
    "import_workbook": "data.workbook",
    "run_reports": "run.runner",
    "write_demo": "data.demo",
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
