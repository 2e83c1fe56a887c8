"""Shared fixtures.

``demo_site`` builds the bundled demo's report site once per test session (the real notebooks,
the real papermill, two workers: this is what CI's two cores can afford) and every test that
needs a built site reuses it. Tests that change a site work on a copy (``site_copy``).

Runner tests that are about scheduling, publishing and signals, not about the reports' content,
use ``light_notebook``: the pilot notebook's parameters cell with a body that starts no heavy
library (a kernel in about a second), or ``fake_reports``: no kernel at all.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

# A 1x1 PNG, for reports that need a figure.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

_LIGHT_BODY = """\
import json, os, pathlib, time
from IPython.display import HTML, Image, display

if os.environ.get("KN_TEST_DIE_ONCE"):
    marker = pathlib.Path(os.environ["KN_TEST_DIE_ONCE"])
    if not marker.exists():
        marker.write_text("died")
        os._exit(1)
if os.environ.get("KN_TEST_ALWAYS_DIE"):
    os._exit(1)
if os.environ.get("KN_TEST_FAIL_UNIT") == str(unit):
    raise ValueError(f"planned failure for {unit}")
time.sleep(float(os.environ.get("KN_TEST_SLEEP", "0")))
folder = pathlib.Path(dataset)
meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
display(HTML(f"<p class='light'>{meta['name']} | {unit} | {model} | {lang}</p>"))
display(Image(data=PNG), metadata={"kiemnhiem_figure": "light-series"})
"""


def _light_notebook(path: Path) -> Path:
    import nbformat

    png = base64.b64encode(PNG).decode("ascii")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    nb.cells = [
        nbformat.v4.new_code_cell(
            "\n".join(
                [
                    "dataset = None",
                    'unit = "122"',
                    'model = "tuyengiao_ttct"',
                    'lang = "vi"',
                    "pre_years = 3",
                    "post_years = 3",
                    "level = 0.10",
                    "classification = None",
                ]
            ),
            metadata={"tags": ["parameters"]},
        ),
        nbformat.v4.new_code_cell(f"import base64\nPNG = base64.b64decode({png!r})"),
        nbformat.v4.new_code_cell(_LIGHT_BODY),
    ]
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="session")
def light_notebook(tmp_path_factory) -> Path:
    """A notebook with the pilot report's parameters that shows the dataset's name, the unit
    and one tiny figure; environment variables make it sleep, fail or kill its kernel."""
    return _light_notebook(tmp_path_factory.mktemp("light") / "light.ipynb")


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory):
    """The :class:`~kiemnhiem.run.runner.RunResult` of ``run_reports`` on the bundled demo."""
    from kiemnhiem.run.runner import run_reports

    out = tmp_path_factory.mktemp("demo-site") / "site"
    return run_reports(None, out=out, workers=2, quiet=True)


@pytest.fixture
def site_copy(demo_site, tmp_path) -> Path:
    """A private copy of the demo site, for tests that run again into it."""
    target = tmp_path / "site"
    shutil.copytree(demo_site.out, target)
    return target


def fake_execute_report(spec: dict) -> dict:
    """Stands in for ``execute.execute_report``: an instant report (with its real key results),
    or a failure for the units (or "summary") listed in ``FAIL_UNITS``."""
    params = spec["parameters"]
    name = params.get("unit") or "summary"
    if str(name) in FAIL_UNITS:
        return {
            "status": "failed",
            "error": f"ValueError: planned failure for {name}",
            "ename": "ValueError",
            "evalue": f"planned failure for {name}",
            "cell_index": 2,
            "started": "2025-01-01T00:00:00+07:00",
            "duration": 0.01,
            "attempts": 1,
            "figures": {},
            "documents": {},
        }
    from kiemnhiem.run.execute import report_results

    page = (
        f'<!DOCTYPE html><html lang="{params["lang"]}"><head><title>t</title></head>'
        f"<body><p>{name} {params.get('model')} {params['lang']}</p></body></html>"
    )
    return {
        "status": "ok",
        "results": report_results(spec) if spec.get("evaluate") else None,
        "html": page,
        "figures": {f"fake-series{spec['figure_suffix']}": PNG},
        "documents": {f: f"{f} of {name}".encode() for f in spec.get("formats") or []},
        "started": "2025-01-01T00:00:00+07:00",
        "duration": 0.01,
        "attempts": 1,
    }


FAIL_UNITS: set[str] = set()


@pytest.fixture
def fake_reports(monkeypatch):
    """Reports without kernels: ``execute.execute_report`` replaced, a thread pool to run it,
    kiemnhiem's code hash (``fingerprints.code_hash``) frozen (others may edit the checkout
    meanwhile). Yields ``.executor`` (pass it to ``run_reports``) and ``.fail`` (unit codes, or
    "summary", whose reports fail)."""
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from kiemnhiem.run import execute, fingerprints

    monkeypatch.setattr(execute, "execute_report", fake_execute_report)
    monkeypatch.setattr(fingerprints, "code_hash", lambda: "frozen-code")
    FAIL_UNITS.clear()
    with ThreadPoolExecutor(2) as pool:
        yield SimpleNamespace(executor=pool, fail=FAIL_UNITS)
    FAIL_UNITS.clear()


@pytest.fixture(scope="session")
def fake_base(tmp_path_factory):
    """A copy of the demo dataset and a site built from it with fake reports."""
    from concurrent.futures import ThreadPoolExecutor

    from kiemnhiem.resources import demo_dir
    from kiemnhiem.run import execute, fingerprints
    from kiemnhiem.run.runner import run_reports

    root = tmp_path_factory.mktemp("fake-base")
    data = shutil.copytree(demo_dir(), root / "data")
    with pytest.MonkeyPatch.context() as mp, ThreadPoolExecutor(2) as pool:
        mp.setattr(execute, "execute_report", fake_execute_report)
        mp.setattr(fingerprints, "code_hash", lambda: "frozen-code")
        result = run_reports(data, out=root / "site", executor=pool, quiet=True)
    assert result.exit_code == 0 and result.published
    return root


@pytest.fixture
def fake_copy(fake_base, tmp_path):
    """A private copy of ``fake_base``: ``(dataset folder, site folder)``."""
    data = shutil.copytree(fake_base / "data", tmp_path / "data")
    site = shutil.copytree(fake_base / "site", tmp_path / "site")
    return data, site
