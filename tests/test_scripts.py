"""The validation and benchmark scripts stay importable: they are not run in CI (minutes of
simulation), so a renamed module would otherwise break them unseen. ``--help`` imports every
module a script needs and runs nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(
    p.relative_to(ROOT).as_posix()
    for folder in ("validation", "benchmarks")
    for p in (ROOT / folder).glob("*.py")
)


def test_there_are_scripts():
    assert {"validation/district.py", "benchmarks/bench_evaluation.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_imports_and_explains_itself(script):
    done = subprocess.run(
        [sys.executable, str(ROOT / script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")
