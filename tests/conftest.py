"""Shared fixtures.

``demo_site`` builds the bundled demo's report site once per test session (the real notebook,
the real papermill, two workers: this is what CI's two cores can afford) and every test that
needs a built site reuses it. Tests that change a site work on a copy (``site_copy``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory):
    """The :class:`~kiemnhiem.runner.RunResult` of ``run_reports`` on the bundled demo."""
    from kiemnhiem.runner import run_reports

    out = tmp_path_factory.mktemp("demo-site") / "site"
    return run_reports(None, out=out, workers=2, quiet=True)


@pytest.fixture
def site_copy(demo_site, tmp_path) -> Path:
    """A private copy of the demo site, for tests that run again into it."""
    target = tmp_path / "site"
    shutil.copytree(demo_site.out, target)
    return target
