"""Fixtures of the tests of :mod:`kiemnhiem.run` (session-wide ones: tests/conftest.py)."""

from __future__ import annotations

import pytest

from kiemnhiem.data.dataset import load_dataset


@pytest.fixture(scope="module")
def demo():
    return load_dataset(None)
