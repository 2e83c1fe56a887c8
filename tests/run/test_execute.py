"""One report in a worker: timeout, the kernel's path, retry only when the kernel died
(:mod:`kiemnhiem.run.execute`). Real papermill and kernels on small notebooks."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from kiemnhiem.labels import label
from kiemnhiem.resources import demo_dir
from kiemnhiem.run.execute import KERNEL_NAME, execute_report
from tests.run.helpers import (
    ROOT,
    make_notebook,
)


def _spec(notebook: Path, parameters: dict, timeout: float = 60.0) -> dict:
    return {
        "notebook": notebook.read_text(encoding="utf-8"),
        "parameters": parameters,
        "timeout": timeout,
        "lang": "en",
        "title": "t",
        "figure_suffix": ".png",
        "kernel_name": KERNEL_NAME,
        "key": "k",
    }


@pytest.mark.slow
def test_execute_report_stops_a_report_at_its_timeout(tmp_path):
    notebook = make_notebook(tmp_path / "slow.ipynb", "x = 1")
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[1].source = "import time\ntime.sleep(60)"
    nbformat.write(nb, notebook)
    result = execute_report(_spec(notebook, {"x": 2}, timeout=2.0))
    assert result["status"] == "failed"
    assert result["error"] == label("run_timeout", "en", seconds="2")
    assert result["duration"] < 30 and result["attempts"] == 1
    assert "html" not in result


@pytest.mark.slow
def test_the_kernel_gets_the_checkout_on_its_path_and_this_process_keeps_its_own(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("PYTHONPATH", "sentinel")
    notebook = make_notebook(tmp_path / "path.ipynb", "x = 1")
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[1].source = (
        "import os, kiemnhiem\n"
        "parts = os.environ['PYTHONPATH'].split(os.pathsep)\n"
        f"assert parts == [{str(ROOT)!r}, 'sentinel'], parts\n"
        f"assert kiemnhiem.__file__.startswith({str(ROOT)!r}), kiemnhiem.__file__"
    )
    nbformat.write(nb, notebook)
    result = execute_report(_spec(notebook, {"x": 2}))
    assert result["status"] == "ok", result.get("evalue")
    # The checkout went to the kernel only: threads and later subprocesses see the original.
    assert os.environ["PYTHONPATH"] == "sentinel"


def _light_params(tmp_path: Path) -> dict:
    return {
        "dataset": str(demo_dir()),
        "unit": "122",
        "model": "tuyengiao_ttct",
        "lang": "en",
        "pre_years": 3,
        "post_years": 3,
        "level": 0.1,
        "classification": None,
    }


@pytest.mark.slow
def test_a_kernel_that_dies_is_retried_once(light_notebook, tmp_path, monkeypatch):
    monkeypatch.setenv("KN_TEST_DIE_ONCE", str(tmp_path / "died-once"))
    result = execute_report(_spec(light_notebook, _light_params(tmp_path)))
    assert result["status"] == "ok" and result["attempts"] == 2
    assert "Dữ liệu minh họa" in result["html"]
    assert list(result["figures"]) == ["light-series.png"]


@pytest.mark.slow
def test_a_kernel_that_dies_twice_fails(light_notebook, tmp_path, monkeypatch):
    monkeypatch.setenv("KN_TEST_ALWAYS_DIE", "1")
    result = execute_report(_spec(light_notebook, _light_params(tmp_path)))
    assert result["status"] == "failed" and result["attempts"] == 2
    assert result["error"] == label("run_kernel_died", "en", attempts=2)


@pytest.mark.slow
def test_a_notebook_that_raises_is_not_retried(light_notebook, tmp_path, monkeypatch):
    monkeypatch.setenv("KN_TEST_FAIL_UNIT", "122")
    result = execute_report(_spec(light_notebook, _light_params(tmp_path)))
    assert result["status"] == "failed" and result["attempts"] == 1
    assert result["ename"] == "ValueError" and "planned failure for 122" in result["evalue"]
    # Cells: parameters, papermill's injected parameters, the PNG, the body that raised.
    assert result["cell_index"] == 3


def test_figures_are_extracted_from_the_img_a_figure_output_sends_once():
    """The runner's figure files: from ``figure_output``'s ``<img>`` (the picture is sent once,
    inside it) and from a bare ``image/png``; unnamed outputs and bad names are left out."""
    import base64

    from matplotlib.figure import Figure

    from kiemnhiem.report.plots import figure_output, figure_png
    from kiemnhiem.run.execute import _extract_figures

    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [1, 0])
    data, metadata = figure_output(fig, "a-series", 'alt "x"')
    png = figure_png(fig)
    bare = b"\x89PNG\r\n\x1a\n not checked here"
    cell = nbformat.v4.new_code_cell(
        outputs=[
            nbformat.v4.new_output("display_data", data=data, metadata=metadata),
            nbformat.v4.new_output(
                "display_data",
                data={"image/png": base64.b64encode(bare).decode()},
                metadata={"kiemnhiem_figure": "b-bare"},
            ),
            nbformat.v4.new_output("display_data", data=data, metadata={}),
            nbformat.v4.new_output(
                "display_data", data=data, metadata={"kiemnhiem_figure": "../escape"}
            ),
        ]
    )
    nb = nbformat.v4.new_notebook(cells=[cell])
    # nbformat stores text/html as written or split into lines: both are read
    nb.cells[0].outputs[0].data["text/html"] = data["text/html"].splitlines(keepends=True)
    assert _extract_figures(nb, ".png") == {"a-series.png": png, "b-bare.png": bare}
