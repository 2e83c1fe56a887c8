"""Notebooks: structure (fast) and real runs under nbval and the papermill CLI (slow).

Every notebook in ``notebooks/`` runs under ``pytest --nbval-lax --nbval-current-env`` here,
in a subprocess, so the Makefile needs no separate nbval step.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import kiemnhiem
from kiemnhiem.resources import demo_dir, notebook_path, notebooks_dir

NOTEBOOKS = sorted(notebooks_dir().glob("*.ipynb"))
PILOT_REPORT = notebook_path("pilot_report")
PACKAGE_PARENT = Path(kiemnhiem.__file__).resolve().parent.parent

PILOT_REPORT_DEFAULTS = {
    "dataset": None,
    "unit": "Phù Yên",
    "model": "tuyengiao_ttct",
    "lang": "vi",
    "pre_years": 3,
    "post_years": 3,
    "level": 0.10,
    "classification": None,
}


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _env() -> dict[str, str]:
    """The kernel must import this kiemnhiem even when the checkout is not installed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p
    )
    return env


def _assignments(source: str) -> dict[str, object]:
    out = {}
    for node in ast.parse(source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, ast.dump(node)
        out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def test_pilot_report_is_bundled():
    assert PILOT_REPORT in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_parameters_cell(path):
    cells = [c for c in _read(path).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    assert cells[0].cell_type == "code"


def test_pilot_report_parameter_defaults():
    nb = _read(PILOT_REPORT)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert _assignments(cell.source) == PILOT_REPORT_DEFAULTS
    assert nb.cells.index(cell) == 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_definitions_in_notebooks(path):
    for cell in _read(path).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            assert not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef), (
                f"{path.name}: {cell.source[:60]!r}"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_are_stripped(path):
    for cell in _read(path).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_paths_relative_to_the_working_directory(path):
    text = path.read_text(encoding="utf-8")
    for fragment in ("../", "./data", "data/demo", "data/catalog"):
        assert fragment not in text, fragment


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_under_nbval(path, tmp_path):
    if not (demo_dir() / "metadata.json").is_file():
        pytest.skip("the bundled demo dataset is missing")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval-lax",
            "--nbval-current-env",
            str(path),
        ],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


@pytest.mark.slow
def test_plain_papermill_cli_with_an_integer_unit_code(tmp_path):
    # papermill's -p turns "122" into the integer 122; the notebook pads it back.
    out = tmp_path / "out.ipynb"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(PILOT_REPORT),
            str(out),
            "-p",
            "unit",
            "122",
            "-p",
            "model",
            "tuyengiao_ttct",
            "-p",
            "lang",
            "en",
            "--no-progress-bar",
        ],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    nb = _read(out)
    texts = [
        str(o.get("data", {}).get("text/markdown", ""))
        for c in nb.cells
        for o in c.get("outputs", [])
    ]
    assert any("Huyện Phù Yên" in t for t in texts)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.ipynb"]  # nothing else written
