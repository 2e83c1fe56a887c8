"""Find the bundled catalogs, demo dataset and notebooks.

One resolver for both layouts: in a wheel they are under ``kiemnhiem/_bundled/`` (hatchling
``force-include``), in a checkout (editable install or plain ``PYTHONPATH``) they are the
repository's top-level ``data/`` and ``notebooks/``. No symlinks, so Windows checkouts work.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def _root() -> Path:
    bundled = _PACKAGE_DIR / "_bundled"
    if (bundled / "data" / "catalog").is_dir():
        return bundled
    checkout = _PACKAGE_DIR.parent
    if (checkout / "data" / "catalog").is_dir():
        return checkout
    raise FileNotFoundError(
        "kiemnhiem: bundled data not found (neither kiemnhiem/_bundled nor a checkout's data/)"
    )


def package_dir() -> Path:
    """The ``kiemnhiem`` package folder (its parent is the checkout, or site-packages)."""
    return _PACKAGE_DIR


def data_dir() -> Path:
    """The folder holding ``catalog/`` and ``demo/``."""
    return _root() / "data"


def catalog_dir() -> Path:
    return data_dir() / "catalog"


def demo_dir() -> Path:
    """The bundled synthetic demonstration dataset (what ``dataset=None`` means)."""
    return data_dir() / "demo"


def notebooks_dir() -> Path:
    return _root() / "notebooks"


def notebook_path(name: str) -> Path:
    """Absolute path of a bundled notebook, e.g. ``notebook_path("pilot_report")``."""
    stem = name.removesuffix(".ipynb")
    return notebooks_dir() / f"{stem}.ipynb"


def templates_dir() -> Path:
    """nbconvert and jinja2 templates, shipped as package files."""
    return _PACKAGE_DIR / "templates"
