"""The outputs in the programs readers and analysts really use.

- Chromium (headless, through playwright) opens the demo site's index and every report: no
  console error, no failed request, no broken image, no request leaving the machine; a report
  printed to A4 PDF repeats the synthetic-data banner on every page. A screenshot of a report's
  first screen is kept under ``tests/artifacts/``.
- LibreOffice Calc opens the template and filled workbooks and saves them again: the data
  validation and the sheet protection survive, a negative count is still refused, and the
  import reads the formulas' values that Calc saved.
- JupyterLab (a real server started here, tested with JupyterLab 4.6.6) runs the explorer
  notebook in Chromium: after "Run All Cells", choosing another indicator redraws the chart,
  and no cell writes to stderr.

Each test skips, saying what is missing, without the program; under ``CI=true`` a missing
program fails the test instead.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import openpyxl
import pytest

from kiemnhiem.data.dataset import load_dataset
from kiemnhiem.data.template import write_template
from kiemnhiem.data.workbook import import_workbook
from kiemnhiem.exceptions import DatasetError
from kiemnhiem.labels import label
from kiemnhiem.resources import demo_dir, notebook_path

from .helpers_clients import (
    convert_with_libreoffice,
    free_port,
    is_local,
    launch,
    missing,
    need_browser,
    require_calc,
    sync_playwright,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


# ------------------------------------------------------------------------------- Chromium
def published_pages(site: Path) -> list[str]:
    """The site's pages as published (the ``runs/`` history aside), index first."""
    pages = sorted(
        str(p.relative_to(site))
        for p in site.rglob("*.html")
        if "runs" not in p.relative_to(site).parts
    )
    pages.remove("index.html")
    return ["index.html", *pages]


def test_chromium_opens_every_page_offline_and_prints_the_banner(request, tmp_path):
    need_browser()
    site = Path(request.getfixturevalue("demo_site").out)  # built once per session
    pages = published_pages(site)
    # The index, one report per pilot of the demo, the summary.
    with (demo_dir() / "pilots.csv").open(encoding="utf-8", newline="") as fh:
        n_pilots = len(list(csv.DictReader(fh)))
    assert len(pages) == 1 + n_pilots + 1 and "summary.html" in pages

    problems: list[str] = []
    outside: list[str] = []
    with sync_playwright() as pw:
        context = launch(pw, tmp_path / "profile", viewport={"width": 1280, "height": 800})

        def guard(route):
            url = route.request.url
            if is_local(url):
                route.continue_()
            else:
                outside.append(url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        page.on(
            "console",
            lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
        page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
        for rel in pages:
            page.goto((site / rel).as_uri(), wait_until="load")
            broken = page.evaluate(
                "Array.from(document.images)"
                ".filter(i => !i.complete || i.naturalWidth === 0)"
                ".map(i => i.src.slice(0, 80))"
            )
            assert broken == [], (rel, broken)
            n_images = page.evaluate("document.images.length")
            if rel != "index.html":
                assert n_images > 0, rel  # every report has its figures
            if rel == "index.html":
                # Every link of the index leads to a file of the site.
                hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
                assert hrefs
                for href in hrefs:
                    assert href.startswith("file://"), href
                    target = Path(urllib.request.url2pathname(href.removeprefix("file://")))
                    assert target.is_file(), href

        report = next(p for p in pages if p.endswith(".html") and "/" in p)
        page.goto((site / report).as_uri(), wait_until="load")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "chromium-report-first-screen.png"))
        pdf = tmp_path / "report.pdf"
        page.pdf(path=str(pdf), format="A4")
        context.close()
    assert problems == []
    assert outside == []

    if shutil.which("pdftotext") is None:
        missing("pdftotext is not on PATH (apt: poppler-utils)")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    printed = [p for p in text.split("\f") if p.strip()]
    assert len(printed) >= 2  # a report is several pages long
    banner = label("report_print_synthetic", "vi")
    for number, content in enumerate(printed, start=1):
        assert banner in " ".join(content.split()), f"page {number} has no banner"


# ------------------------------------------------------------------------------- Printing
#: Issue 12: what a leader prints. The summary on A4 landscape, a district report on portrait.
SUMMARY_PAGES = 10
DISTRICT_PAGES = 8


def _pdf_pages(pdf: Path) -> list[str]:
    """The text of each page, whitespace collapsed (poppler's pdfinfo and pdftotext)."""
    if shutil.which("pdfinfo") is None or shutil.which("pdftotext") is None:
        missing("pdfinfo or pdftotext is not on PATH (apt: poppler-utils)")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    count = int(next(x.split()[-1] for x in info.stdout.splitlines() if x.startswith("Pages:")))
    pages = []
    for n in range(1, count + 1):
        text = subprocess.run(
            ["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        pages.append(" ".join(text.split()))
    return pages


@pytest.fixture(scope="session")
def printed(request, tmp_path_factory):
    """The demo's summary (A4 landscape) and its longest district report (A4 portrait, the
    report with the most indicator headings) printed by headless Chromium as a reader would,
    the page size the stylesheet asks for: ``{name: (pdf, [page texts], [headings], size)}``,
    and ``{"<name> fonts": {"answers": [px, ...], "running": px}}`` measured in print media."""
    need_browser()
    site = Path(request.getfixturevalue("demo_site").out)  # built once per session
    reports = [p for p in published_pages(site) if "/" in p]
    district = max(reports, key=lambda p: ((site / p).read_text(encoding="utf-8").count("<h3"), p))
    out = tmp_path_factory.mktemp("printed")
    done = {}
    with sync_playwright() as pw:
        context = launch(pw, out / "profile")
        page = context.new_page()
        for name, rel, landscape in (
            ("summary", "summary.html", True),
            ("district", district, False),
        ):
            page.goto((site / rel).as_uri(), wait_until="load")
            page.emulate_media(media="print")
            headings = page.eval_on_selector_all(
                "h1, h2, h3",
                "hs => hs.filter(h => h.getClientRects().length > 0)"
                ".map(h => h.innerText.replace(/\\u00b6/g, '').trim())",
            )
            # Font sizes in print (px): the first page's answer blocks, every element of them,
            # and the running text (the «Đánh giá chung» paragraph, a district report's).
            fonts = page.evaluate(
                """() => {
                  const px = e => parseFloat(getComputedStyle(e).fontSize);
                  const running = document.querySelector('.kn-assessment p');
                  return {answers: [...document.querySelectorAll('.kn-answer, .kn-answer *')]
                            .filter(e => e.getClientRects().length > 0).map(px),
                          running: running ? px(running) : null};
                }"""
            )
            pdf = out / f"{name}.pdf"
            page.pdf(path=str(pdf), format="A4", landscape=landscape, prefer_css_page_size=True)
            info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
            size = next(x for x in info.splitlines() if x.startswith("Page size:"))
            done[name] = (pdf, _pdf_pages(pdf), [" ".join(h.split()) for h in headings], size)
            done[f"{name} fonts"] = fonts
        context.close()
    return done


def _size(line: str) -> tuple[float, float]:
    # "Page size:      841.92 x 594.96 pts (A4)"
    parts = line.split(":", 1)[1].split()
    return float(parts[0]), float(parts[2])


@pytest.mark.parametrize("name", ["summary", "district"])
def test_print_headings_are_whole_and_never_at_a_page_foot(printed, name):
    pdf, pages, headings, size = printed[name]
    width, height = _size(size)
    assert "A4" in size and (width > height) == (name == "summary"), size
    assert headings
    banner = label("report_print_synthetic", "vi")
    for number, text in enumerate(pages, start=1):
        assert banner in text, f"{name}: page {number} has no banner"
    for heading in headings:
        on = [n for n, text in enumerate(pages, start=1) if heading in text]
        assert on, f"{name}: heading {heading!r} is not whole on any page (split or hyphenated)"
        # Something of the section follows the heading on its page: not orphaned at the foot.
        n = on[0]
        assert not pages[n - 1].endswith(heading), f"{name}: {heading!r} ends page {n}"


def test_print_summary_fits_its_pages(printed):
    _pdf, pages, _headings, _size_line = printed["summary"]
    assert len(pages) <= SUMMARY_PAGES, f"summary prints on {len(pages)} A4 landscape pages"


def test_print_district_report_fits_its_pages(printed):
    _pdf, pages, _headings, _size_line = printed["district"]
    assert len(pages) <= DISTRICT_PAGES, f"a district report prints on {len(pages)} A4 pages"


def test_print_answer_blocks_are_as_legible_as_the_running_text(printed):
    # What a leader reads first is not printed smaller than the text around it.
    fonts = printed["district fonts"]
    assert fonts["running"] and fonts["answers"], fonts
    assert min(fonts["answers"]) >= fonts["running"], fonts


# ------------------------------------------------------------------------------- LibreOffice
def _validations(path: Path) -> dict[str, list[tuple]]:
    """Each sheet's data validation rules, by meaning: the attributes a spreadsheet writes out
    as defaults (a list's operator, an unused second bound, "stop", a quoted sheet name)
    normalized."""
    book = openpyxl.load_workbook(path)
    rules = {}
    for ws in book.worksheets:
        found = []
        for dv in ws.data_validations.dataValidation:
            two_bounds = dv.operator in (None, "between", "notBetween") and dv.type != "list"
            found.append(
                (
                    " ".join(sorted(str(dv.sqref).split())),
                    dv.type,
                    None if dv.type == "list" else (dv.operator or "between"),
                    (dv.formula1 or "").replace("'", ""),
                    dv.formula2 if two_bounds else None,
                    dv.errorStyle or "stop",
                    bool(dv.showErrorMessage),
                )
            )
        rules[ws.title] = sorted(found)
    return rules


def _protection(path: Path) -> dict[str, tuple]:
    book = openpyxl.load_workbook(path)
    return {ws.title: (bool(ws.protection.sheet), ws.sheet_state) for ws in book.worksheets}


def _fill(template: Path, path: Path, *, negative: bool) -> Path:
    """Phù Yên's pilot and its meetings 2014-2020 (row 11, columns C-I), 2017 as a formula
    (12 - 2) that openpyxl saves without a value; ``negative``: 2016 typed as -3."""
    book = openpyxl.load_workbook(template)
    meta = book["thong_tin"]
    meta["B3"], meta["B5"] = "Số liệu qua LibreOffice", True
    pilots = book["thi_diem"]
    for col, value in zip(
        "ABCDE", ["Huyện Phù Yên", "tuyengiao_ttct", "08/2018", "month", "documented"]
    ):
        pilots[f"{col}3"] = value
    ws = book["so_cuoc_hop"]
    for col in "CDEGHI":
        ws[f"{col}11"] = 12
    ws["F11"] = "=E11-2"
    if negative:
        ws["E11"] = -3
    book.save(path)
    return path


def test_libreoffice_calc_round_trip(tmp_path):
    template = write_template(tmp_path / "mau.xlsx", province="Sơn La", years=(2014, 2025))
    good = _fill(template, tmp_path / "du_lieu.xlsx", negative=False)
    bad = _fill(template, tmp_path / "so_am.xlsx", negative=True)
    with pytest.raises(DatasetError) as err:  # openpyxl saved no value for the formula
        load_dataset(good)
    assert [p.cell for p in err.value.problems] == ["so_cuoc_hop!F11"]

    out = tmp_path / "calc"
    started = time.perf_counter()
    proc = convert_with_libreoffice([template, good, bad], out, tmp_path / "lo-profile")
    elapsed = time.perf_counter() - started
    saved = {p.name: p for p in out.glob("*.xlsx")}
    require_calc(proc, list(saved.values()))
    assert sorted(saved) == ["du_lieu.xlsx", "mau.xlsx", "so_am.xlsx"], (proc.stdout, proc.stderr)
    assert elapsed < 120

    # The template's checks and protection survive Calc.
    before, after = _validations(template), _validations(saved["mau.xlsx"])
    assert after == before
    assert all(rules for name, rules in before.items() if name.startswith("so_"))
    assert _protection(saved["mau.xlsx"]) == _protection(template)
    assert all(on for on, _state in _protection(template).values())
    ws = openpyxl.load_workbook(saved["mau.xlsx"])["so_cuoc_hop"]
    assert ws["C6"].protection.locked is False and ws["N17"].protection.locked is False
    assert ws["A6"].protection.locked and ws["C5"].protection.locked

    # A negative count typed past the drop-down checks is still refused, by cell.
    with pytest.raises(DatasetError) as err:
        load_dataset(saved["so_am.xlsx"])
    assert "so_cuoc_hop!E11" in [p.cell for p in err.value.problems]

    # Calc saved the formula's value: the import reads 12 - 2 = 10 for 2017.
    folder = import_workbook(saved["du_lieu.xlsx"], tmp_path / "imported")
    ds = load_dataset(folder)
    meetings = ds.panel[(ds.panel["unit_code"] == "122") & (ds.panel["indicator"] == "so_cuoc_hop")]
    values = dict(zip(meetings["year"], meetings["value"], strict=True))
    assert values == {2014: 12, 2015: 12, 2016: 12, 2017: 10, 2018: 12, 2019: 12, 2020: 12}


# ------------------------------------------------------------------------------- JupyterLab
@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on 127.0.0.1 over a copy of the explorer notebook; its settings,
    workspaces, runtime and config folders are temporary. Yields ``(base URL, token)``."""
    need_browser()
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        missing("JupyterLab is not installed")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    shutil.copy(notebook_path("explore"), notebooks / "explore.ipynb")
    app_settings = tmp_path / "lab-settings"
    app_settings.mkdir()
    # Every cell in the page (no virtual scrolling); no update or news check.
    overrides = {
        "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension:notification": {
            "checkForUpdates": False,
            "fetchNews": "false",
        },
    }
    (app_settings / "overrides.json").write_text(json.dumps(overrides), encoding="utf-8")
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
    }
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={notebooks}", f"--LabApp.app_settings_dir={app_settings}",
        f"--LabApp.user_settings_dir={tmp_path / 'user-settings'}",
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers
    log = (tmp_path / "server.log").open("w", encoding="utf-8")
    # Its own process group: the kernels it starts go with it, whatever happens.
    server = subprocess.Popen(
        command,
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(
                        "JupyterLab did not start:\n" + (tmp_path / "server.log").read_text()
                    )
                time.sleep(0.2)
        # The override is in force (as the schema's default): the notebook's windowing is off.
        request = urllib.request.Request(
            f"{base}/lab/api/settings/@jupyterlab/notebook-extension:tracker",
            headers={"Authorization": f"token {token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            settings = json.load(response)
        assert settings["schema"]["properties"]["windowingMode"]["default"] == "none"
        yield base, token
    finally:
        # The server's own shutdown (kernels too), then its process group, then a kill.
        try:
            request = urllib.request.Request(
                f"{base}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
            )
            urllib.request.urlopen(request, timeout=10)
        except OSError:
            server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(server.pid, signal.SIGKILL)  # any kernel left behind
        log.close()


def test_jupyterlab_runs_the_explorer_and_redraws_on_a_new_indicator(jupyterlab, tmp_path):
    base, token = jupyterlab
    outside: list[str] = []
    problems: list[str] = []
    with sync_playwright() as pw:
        context = launch(pw, tmp_path / "profile", viewport={"width": 1400, "height": 1000})

        def guard(route):
            url = route.request.url
            if is_local(url):
                route.continue_()
            else:
                outside.append(url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.goto(f"{base}/lab/tree/explore.ipynb?token={token}")
        page.wait_for_selector(".jp-Notebook .jp-CodeCell")
        n_cells = len(json.loads(notebook_path("explore").read_text(encoding="utf-8"))["cells"])
        # Windowing off: every cell gets into the page.
        page.wait_for_function(
            "n => document.querySelectorAll('.jp-Notebook .jp-Cell').length === n", arg=n_cells
        )
        # Once the kernel is ready (the status bar says so), Run > Run All Cells.
        page.wait_for_function(
            "() => /\\|\\s*Idle/.test(document.querySelector('#jp-main-statusbar')"
            "?.textContent || '')"
        )
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']:not(.lm-mod-disabled)").click()
        # Every code cell ran ([n] prompts, none pending).
        page.wait_for_function(
            "() => { const p = Array.from(document.querySelectorAll("
            "'.jp-CodeCell .jp-InputArea-prompt')).map(e => e.textContent.trim());"
            " return p.length > 0 && p.every(t => /^\\[\\d+\\]:$/.test(t)); }"
        )
        image = page.locator(".widget-image, .jupyter-widgets img").first
        image.wait_for()
        before = image.get_attribute("src")
        caption_before = page.locator(".widget-html-content").first.inner_text()
        selects = page.locator(".widget-dropdown select")
        assert selects.count() == 3  # model, unit, indicator
        indicator = selects.nth(2)
        current = indicator.input_value()
        options = indicator.locator("option").evaluate_all("os => os.map(o => o.value)")
        choice = next(o for o in options if o != current)
        indicator.select_option(value=choice)
        page.wait_for_function(
            "before => { const i = document.querySelector('.widget-image, .jupyter-widgets img');"
            " return i && i.src !== before && i.naturalWidth > 0; }",
            arg=before,
        )
        caption_after = page.locator(".widget-html-content").first.inner_text()
        assert caption_after != caption_before
        assert choice in caption_after.replace("\xa0", " ")  # the new indicator's chart
        errors = page.locator(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
        ).count()
        tracebacks = page.locator(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]'
        ).count()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-explorer.png"))
        context.close()
    assert (errors, tracebacks) == (0, 0)
    assert problems == []
    assert outside == []
