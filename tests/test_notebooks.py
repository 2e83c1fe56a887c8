"""Notebooks: structure (fast) and real runs under nbval and the papermill CLI (slow).

Every notebook in ``notebooks/`` runs under ``pytest --nbval-lax --nbval-current-env`` here,
in a subprocess, so the Makefile needs no separate nbval step. Each notebook also runs once per
language through the papermill CLI, and its output is exported with the offline template to
check what a reader gets: the language's own labels (and not the other's), escaped data, alt
text on every figure, the print banner. All kernel runs of the session start together, two at
a time (CI has two cores), the first time a slow test asks for them.
"""

from __future__ import annotations

import ast
import html
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

import kiemnhiem
from kiemnhiem.labels import label
from kiemnhiem.resources import demo_dir, notebook_path, notebooks_dir, templates_dir

from .report.test_export import HOSTILE_COMMENT, HOSTILE_SCRIPT, make_hostile_dataset

NOTEBOOKS = sorted(notebooks_dir().glob("*.ipynb"))
PILOT_REPORT = notebook_path("pilot_report")
SUMMARY = notebook_path("province_summary")
EXPLORE = notebook_path("explore")
PACKAGE_PARENT = Path(kiemnhiem.__file__).resolve().parent.parent
CLASSIFICATION = "Tài liệu nội bộ <mật>"

DEFAULTS = {
    "pilot_report": {
        "dataset": None,
        "unit": "Phù Yên",
        "model": "tuyengiao_ttct",
        "lang": "vi",
        "pre_years": 3,
        "post_years": 3,
        "level": 0.10,
        "classification": None,
        # Optional: the run's estimates, computed once per run (README); None computes them.
        "evaluation_file": None,
    },
    "province_summary": {
        "dataset": None,
        "lang": "vi",
        "classification": None,
        "model": None,
        "evaluation_file": None,
    },
    "explore": {
        "dataset": None,
        "lang": "vi",
        "model": "danvan_mttq",
        "unit": "Quỳnh Nhai",
        "indicator": "so_cuoc_hop",
    },
}

# Labels each rendered notebook must show, in its own language only.
SHOWN = {
    # Issue 12: the first page is the conclusions, «Đánh giá chung» and «Đề xuất, kiến nghị»
    # (the verdict boxes' heading and "Nhận xét, kiến nghị" are gone); p_min and the method
    # notes stay, in the technical appendix.
    "pilot_report": (
        "conc_answers_heading",
        "conc_assessment_heading",
        "conc_recommendations_heading",
        "nav_summary",
        "appendix_heading",
        "report_legend_heading",
        "report_overview_plain",
        "report_detail_p_min",
        "report_note_ranks_heading",
        "report_note_chosen_heading",
        "report_note_limits_heading",
        "report_dq_heading",
    ),
    # The untestable claims are rows of the one claims table («Không có chỉ tiêu nào đo nhận
    # định này»), which opens the summary with «Đánh giá chung»; no separate heading.
    "province_summary": (
        "conc_assessment_heading",
        "conc_col_answer",
        "appendix_heading",
        "summary_matrix_heading",
        "summary_pooled_heading",
        "summary_claims_heading",
        "summary_starts_heading",
        "summary_never_heading",
        "summary_col_claim",
        "report_legend_heading",
    ),
    "explore": ("explore_title", "explore_static_heading", "report_detail_p_min"),
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


# ---------------------------------------------------------------------------------------------
# Structure
# ---------------------------------------------------------------------------------------------


def test_the_three_notebooks_are_bundled():
    assert {PILOT_REPORT, SUMMARY, EXPLORE} <= set(NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_parameters_cell(path):
    cells = [c for c in _read(path).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    assert cells[0].cell_type == "code"


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_parameter_defaults(name):
    nb = _read(notebook_path(name))
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert _assignments(cell.source) == DEFAULTS[name]
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


# ---------------------------------------------------------------------------------------------
# Runs: every kernel of the session, two at a time
# ---------------------------------------------------------------------------------------------


def _nbval(path: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
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
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )


def _papermill(path: Path, cwd: Path, *parameters: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(path),
            str(cwd / "out.ipynb"),
            *parameters,
            "--no-progress-bar",
        ],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )


class _Run:
    """One papermill run: the process, the executed notebook and its page as HTML."""

    def __init__(self, proc: subprocess.CompletedProcess, folder: Path, lang: str):
        self.proc, self.folder, self.lang = proc, folder, lang
        assert proc.returncode == 0, proc.stderr[-4000:]
        self.nb = _read(folder / "out.ipynb")
        self.html = _export_html(self.nb, lang)


def _export_html(nb, lang: str) -> str:
    """The page a reader gets: the offline template, inputs hidden (as the runner exports)."""
    import nbconvert
    from nbconvert import HTMLExporter

    theirs = []
    package = Path(nbconvert.__file__).resolve()
    for prefix in (package.parents[4], package.parents[3]):
        candidate = prefix / "share" / "jupyter" / "nbconvert" / "templates"
        if (candidate / "lab").is_dir():
            theirs.append(str(candidate))
    exporter = HTMLExporter(
        template_name="offline",
        extra_template_basedirs=[str(templates_dir()), *theirs],
        extra_template_paths=theirs,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    exporter.language_code = lang
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": "t"}})
    return body


@pytest.fixture(scope="session")
def notebook_runs(tmp_path_factory):
    """Every slow notebook run of the session, keyed by name; started together, two at once."""
    if not (demo_dir() / "metadata.json").is_file():
        pytest.skip("the bundled demo dataset is missing")
    root = tmp_path_factory.mktemp("notebook-runs")
    hostile = str(make_hostile_dataset(root / "hostile"))
    jobs = {
        # Vietnamese: on the demo with hostile text in its name, a comment and a note.
        "pilot_report-vi": (
            PILOT_REPORT,
            "vi",
            (
                "-p",
                "dataset",
                hostile,
                "-p",
                "unit",
                "118",
                "-p",
                "model",
                "danvan_mttq",
                "-p",
                "classification",
                CLASSIFICATION,
            ),
        ),
        # English, with papermill's -p turning "122" into the integer 122 (the notebook pads).
        "pilot_report-en": (
            PILOT_REPORT,
            "en",
            ("-p", "unit", "122", "-p", "model", "tuyengiao_ttct", "-p", "lang", "en"),
        ),
        "province_summary-vi": (
            SUMMARY,
            "vi",
            ("-p", "dataset", hostile, "-p", "classification", CLASSIFICATION),
        ),
        "province_summary-en": (
            SUMMARY,
            "en",
            ("-p", "lang", "en", "-p", "model", "danvan_mttq"),
        ),
        "explore-vi": (EXPLORE, "vi", ()),
        "explore-en": (
            EXPLORE,
            "en",
            (
                "-p",
                "lang",
                "en",
                "-p",
                "model",
                "tuyengiao_ttct",
                "-p",
                "unit",
                "122",
                "-p",
                "indicator",
                "so_giang_vien_chuyen_trach",
            ),
        ),
    }
    folders = {}
    for key in [*jobs, *(f"nbval-{p.stem}" for p in NOTEBOOKS)]:
        folders[key] = root / key
        folders[key].mkdir()
    with ThreadPoolExecutor(max_workers=2) as pool:
        nbval = {
            f"nbval-{p.stem}": pool.submit(_nbval, p, folders[f"nbval-{p.stem}"]) for p in NOTEBOOKS
        }
        papermill = {
            key: pool.submit(_papermill, path, folders[key], *parameters)
            for key, (path, _lang, parameters) in jobs.items()
        }
        runs = {key: future.result() for key, future in nbval.items()}
        for key, future in papermill.items():
            runs[key] = (future.result(), folders[key], jobs[key][1])
    return runs


def _run(notebook_runs, key: str) -> _Run:
    """The run ``key``, its page exported once per session."""
    cache = notebook_runs.setdefault("_exported", {})
    if key not in cache:
        proc, folder, lang = notebook_runs[key]
        cache[key] = _Run(proc, folder, lang)
    return cache[key]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_under_nbval(notebook_runs, path):
    proc = notebook_runs[f"nbval-{path.stem}"]
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def _shown(page: str, text: str) -> bool:
    return text in page or html.escape(text) in page or html.escape(text, quote=False) in page


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SHOWN))
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_each_language_shows_its_own_labels(notebook_runs, name, lang):
    run = _run(notebook_runs, f"{name}-{lang}")
    other = "en" if lang == "vi" else "vi"
    assert f'<html lang="{lang}">' in run.html
    for key in SHOWN[name]:
        assert _shown(run.html, label(key, lang)), key
        assert not _shown(run.html, label(key, other)), key


@pytest.mark.slow
@pytest.mark.parametrize("key", [f"{n}-{lang}" for n in sorted(SHOWN) for lang in ("vi", "en")])
def test_every_figure_has_alt_text_and_a_name_for_the_runner(notebook_runs, key):
    run = _run(notebook_runs, key)
    named = [
        output
        for cell in run.nb.cells
        for output in cell.get("outputs", [])
        if (output.get("metadata") or {}).get("kiemnhiem_figure")
    ]
    assert named
    for output in named:
        # one copy of the picture: the <img> with its alt text, which the runner extracts
        assert "image/png" not in output["data"]
        assert re.match(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+" alt="[^"]+"',
                        "".join(output["data"]["text/html"]))
    images = re.findall(r"<img\b[^>]*>", run.html)
    assert len(images) == len(named)
    for tag in images:
        alt = re.search(r'alt="([^"]*)"', tag)
        assert alt and alt.group(1).strip(), tag[:120]
        assert 'src="data:image/png;base64,' in tag


@pytest.mark.slow
def test_pilot_report_in_vietnamese(notebook_runs):
    run = _run(notebook_runs, "pilot_report-vi")
    page = run.html
    assert "Huyện Quỳnh Nhai" in page
    names = [
        o["metadata"]["kiemnhiem_figure"]
        for c in run.nb.cells
        for o in c.get("outputs", [])
        if (o.get("metadata") or {}).get("kiemnhiem_figure")
    ]
    assert "so_cuoc_hop-series" in names and "so_cuoc_hop-event-study" in names
    # The analyst's comment, escaped; the hostile dataset name and classification too.
    assert html.escape(HOSTILE_COMMENT) in page
    assert HOSTILE_SCRIPT not in page and "<script" not in page.lower()
    assert html.escape(CLASSIFICATION) in page
    # Printed: a banner repeated on every page, from the template's print style.
    assert 'class="kn-print-banner"' in page
    assert "@media print" in page and "position: fixed" in page
    # On a phone: pictures shrink, wide tables scroll.
    assert "max-width: 100%" in page and "overflow-x: auto" in page


@pytest.mark.slow
def test_pilot_report_from_the_plain_papermill_cli(notebook_runs):
    run = _run(notebook_runs, "pilot_report-en")
    assert "Huyện Phù Yên" in run.html
    assert label("report_synthetic_title", "en") in run.html
    assert sorted(p.name for p in run.folder.iterdir()) == ["out.ipynb"]  # nothing else written


@pytest.mark.slow
def test_province_summary_in_vietnamese(notebook_runs):
    page = _run(notebook_runs, "province_summary-vi").html
    assert 'class="kn-matrix"' in page
    assert "giảm cơ cấu Ủy viên Ban Chấp hành Đảng bộ huyện" in page  # an article quote
    assert "Covid-19" in page  # a claim the data cannot test
    assert _shown(page, label("summary_pooled_row", "vi"))
    assert HOSTILE_SCRIPT not in page and html.escape(CLASSIFICATION) in page


@pytest.mark.slow
def test_province_summary_for_one_model(notebook_runs):
    page = _run(notebook_runs, "province_summary-en").html
    models = kiemnhiem.load_dataset(None).models.set_index("code")["label_en"]
    assert _shown(page, models["danvan_mttq"])
    # The other model has no section of its own; its name appears only where the joint test
    # on meetings is said to be joint with it (issue 12: the caveat names the model).
    assert f"<h2>{html.escape(models['tuyengiao_ttct'])}</h2>" not in page
    assert f"<h2>{html.escape(models['danvan_mttq'])}</h2>" in page
    assert label("conc_short_joint", "en", other=models["tuyengiao_ttct"]) in html.unescape(page)


@pytest.mark.slow
def test_explore_notebook_draws_its_first_view_without_widgets(notebook_runs):
    run = _run(notebook_runs, "explore-en")
    assert "Huyện Phù Yên" in run.html
    widget_outputs = [
        o
        for c in run.nb.cells
        for o in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert len(widget_outputs) == 1  # the explorer itself, for JupyterLab


# ---------------------------------------------------------------------------------------------
# What a leader reads (issue 12)
# ---------------------------------------------------------------------------------------------

#: Technical words that belong in the technical appendix only.
TECHNICAL_WORDS = (
    "p =",
    "p <",
    "p_min",
    "p một phía",
    "p hai phía",
    "one-sided",
    "two-sided",
    "placebo",
    "chênh lệch kép",
    "khác biệt kép",
    "DiD",
    "difference in differences",
    "difference-in-differences",
    "Hodges",
    "Lehmann",
    "Callaway",
    "Sant'Anna",
    "Monte",
    "xếp hạng",
    "thứ hạng",
    "rút ngẫu nhiên",
    "sampled",
    "tham số",
    "parameters",
    "unit = ",
    "level = ",
)


def _leader_text(page: str) -> tuple[str, str]:
    """(the text a reader sees outside the technical appendix, the appendix's text)."""
    # Styles and scripts first: the print stylesheet's comments may name the appendix.
    page = re.sub(r"<(script|style|title)\b.*?</\1>", " ", page, flags=re.S)
    appendix = re.findall(r"<details\b.*?</details>", page, flags=re.S)
    rest = re.sub(r"<details\b.*?</details>", " ", page, flags=re.S)

    def text(fragment: str) -> str:
        return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment)))

    return text(rest), text(" ".join(appendix))


@pytest.mark.slow
@pytest.mark.parametrize(
    "key", ["pilot_report-vi", "pilot_report-en", "province_summary-vi", "province_summary-en"]
)
def test_no_technical_words_outside_the_appendix(notebook_runs, key):
    page = _run(notebook_runs, key).html
    body = page[page.index("<body") :]
    assert body.count('<details class="kn-appendix"') == 1
    leader, appendix = _leader_text(page)
    for word in TECHNICAL_WORDS:
        assert word not in leader, (word, leader[max(0, leader.find(word) - 200) :][:400])
    # The appendix keeps the figures complete for analysts.
    lang = key.rsplit("-", 1)[1]
    assert label("report_detail_p_min", lang) in appendix or "p_min" in appendix
    assert "Hodges" in appendix or "DiD" in appendix or "placebo" in appendix
    # No ISO timestamps; the synthetic-data banner stays.
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:", leader)
    assert label("report_synthetic_title", lang) in leader


@pytest.mark.slow
def test_a_district_report_opens_with_its_conclusions(notebook_runs):
    # Quỳnh Nhai (118), danvan_mttq, on the demo's figures.
    leader, _ = _leader_text(_run(notebook_runs, "pilot_report-vi").html)
    first = leader.index(label("conc_answers_heading", "vi"))
    assert first < leader.index(label("report_indicators_heading", "vi"))
    block = leader[first:]
    # Meetings: the model's estimate of its test leads, with the joint test said; then the
    # district's own estimate with its range; then the verdict in words; then the trend.
    assert "Mô hình nói chung (5 huyện thí điểm): cải thiện rõ – −8,9 cuộc" in block
    assert "kiểm định chung với mô hình" in block
    assert "Riêng huyện Quỳnh Nhai: −8,8 cuộc (khoảng 90 %: −16,9 cuộc đến −0,66 cuộc)" in block
    assert "−8,4 cuộc, bằng 96 % mức thay đổi −8,8 cuộc" in block  # not «không cảnh báo»
    assert block.index("Mô hình nói chung (5") < block.index("Riêng huyện Quỳnh Nhai")
    assert label("dist_note_assumption", "vi") in block
    assert label("conc_assessment_heading", "vi") in block
    assert "Trong 8 chỉ tiêu được xem xét, 2 chỉ tiêu cải thiện rõ" in block
    assert "../summary.html" in _run(notebook_runs, "pilot_report-vi").html
    assert "../index.html" in _run(notebook_runs, "pilot_report-vi").html


@pytest.mark.slow
def test_a_pilot_without_comparison_shows_its_before_after_change_as_such(notebook_runs):
    # Phù Yên (122) in English: tuyengiao's early starter; its first page names the model's
    # estimate and its own, and the summary link is the English one.
    page = _run(notebook_runs, "pilot_report-en").html
    leader, _ = _leader_text(page)
    assert "The model as a whole (" in leader and "Phù Yên alone:" in leader
    assert "../summary.en.html" in page


@pytest.mark.slow
def test_the_summary_opens_with_its_assessment_and_answers_level_claims_with_the_level(
    notebook_runs,
):
    leader, _ = _leader_text(_run(notebook_runs, "province_summary-vi").html)
    assessment = leader.index(label("conc_assessment_heading", "vi"))
    assert assessment < leader.index(label("summary_matrix_heading", "vi"))
    assert "Mô hình nói chung cải thiện rõ ở 2 trong 8 chỉ tiêu" in leader
    # «xếp loại hoàn thành tốt nhiệm vụ trở lên hằng năm»: the rated pilot-years, not a test.
    assert "lượt xếp loại hằng năm của các huyện thí điểm đạt hoàn thành tốt nhiệm vụ trở lên" in (
        leader
    )
    assert "Số liệu ủng hộ nhận định" not in leader
