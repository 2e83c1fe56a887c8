"""Hostile content: text from a dataset never becomes markup, a formula or code.

A copy of the demo dataset carries, in every free-text field a dataset has (the analysts'
comments with their author and date, the panel's notes, the metadata's name, description and
source, the pilots' source), strings that a careless page, spreadsheet or template engine would
act on: a script, an image with an ``onerror`` handler, a Jinja expression, and the formula
starts ``=``, ``+``, ``-``, ``@``; a timeline event's label holds matplotlib mathtext. Its
folder name, which the runner passes to the notebooks as a parameter, and the summary's
``classification`` parameter carry Python that would create a file if it ever ran.

The real ``kiemnhiem run`` (two reports with ``--only``, Word documents too, ``--out`` given
with a ``..`` segment) and the real province summary notebook (through
``runner.execute_report``) run on it in subprocesses whose Python, kernels included (they
inherit ``PYTHONPATH``), refuses and records every connection off this machine. Then:

- every page (reports, index, summary) shows each string as text, never as an element: no
  script or event handler from the data, and the literal text is what a reader sees;
- nothing ran (the marker file does not exist), nothing was written outside ``--out`` (the
  run's working and temporary folders are empty, the dataset is unchanged, the ``..`` was not
  created) and nothing was fetched (no connection attempt, while the guard is shown to work);
- figures draw the event's label as typed (``$`` is not mathtext, so it cannot fail them);
- the Word document holds the text literally (no field, no hyperlink);
- the Excel export stores formula-like text as quote-prefixed strings (no formula anywhere;
  LibreOffice Calc shows the text, not a result), and ``import``'s CSV files make them inert
  for any spreadsheet opening them.

The ``--only`` values and options that try to reach other folders or run code are refused
before anything is written.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest

from kiemnhiem.cli import main
from kiemnhiem.data.dataset import load_dataset
from kiemnhiem.data.template import write_template
from kiemnhiem.data.workbook import import_workbook
from kiemnhiem.report.export import export_results
from kiemnhiem.resources import demo_dir
from kiemnhiem.run.kernels import SERVER_COMMAND

from .helpers_clients import Page, convert_with_libreoffice, require_calc

ROOT = Path(__file__).resolve().parent.parent

PAYLOADS = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "{{7*7}}",
    '=HYPERLINK("http://x","y")',
    "+1",
    "-1+2",
    "@SUM(A1)",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Starts like a formula, then every payload: it is shown on every page and in every output.
NAME = '=HYPERLINK("http://x","y") Tên: ' + " ".join(PAYLOADS)
DESCRIPTION = "@SUM(A1) mô tả: " + " ".join(PAYLOADS)
SOURCE = "-1+2 nguồn: " + " ".join(PAYLOADS)
#: Python that creates the marker file, were a parameter ever pasted into code unquoted.
CODE = '"); __import__("os").system("touch $KN_PWNED") #'
FOLDER = f"du lieu {CODE}'"
CLASSIFICATION = f'Mật {CODE} \\"\n' + " ".join(PAYLOADS)
#: A timeline event: "$...$" is mathtext to matplotlib, where "\\foo" is an error.
EVENT = "Chi phí $\\foo{5}$ triệu " + " ".join(PAYLOADS)
PILOTS = {"122": "tuyengiao_ttct", "118": "danvan_mttq"}  # 122 Phù Yên, 118 Quỳnh Nhai
ONLY = ["122:tuyengiao_ttct", "Quỳnh Nhai:danvan_mttq"]
PAGES = {"122": "tuyengiao_ttct/122-phu-yen.html", "118": "danvan_mttq/118-quynh-nhai.html"}


def comments_of(unit: str) -> list[tuple[str, str, str]]:
    """(comment, author, date) written for one pilot: each starts with a payload and is
    tagged, so the report shows which one it is."""
    rows = []
    for i, payload in enumerate(PAYLOADS):
        author = f"{PAYLOADS[(i + 1) % len(PAYLOADS)]} [tác giả {unit}-{i}]"
        day = "@SUM(A1)" if i == 0 else f"2024-01-{i + 1:02d}"
        rows.append((f"{payload} [nhận xét {unit}-{i}]", author, day))
    return rows


def note_of(i: int) -> str:
    return f"{PAYLOADS[i % len(PAYLOADS)]} [ghi chú {i}]"


def make_hostile(folder: Path) -> Path:
    """The demo dataset with the payloads in every free-text field, and a timeline event."""
    shutil.copytree(demo_dir(), folder)
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    meta.update(name=NAME, description=DESCRIPTION, source=SOURCE)
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    def rewrite(name: str, column: str, value) -> None:
        with (folder / name).open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        for i, row in enumerate(rows):
            row[column] = value(i)
        with (folder / name).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    rewrite("pilots.csv", "source", lambda i: f"{PAYLOADS[i % len(PAYLOADS)]} [nguồn {i}]")
    rewrite("panel.csv", "note", note_of)
    with (folder / "events.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(
            [["date", "code", "label_vi", "label_en"], ["2019-06-01", "su_kien", EVENT, EVENT]]
        )
    with (folder / "comments.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["unit", "model", "comment", "author", "date"])
        for unit, model in PILOTS.items():
            for comment, author, day in comments_of(unit):
                writer.writerow([unit, model, comment, author, day])
    return folder


# A sitecustomize for the subprocesses: every Python started with it on PYTHONPATH (the CLI,
# its workers, the kernels) says so in KN_GUARD_LOADED and refuses any connection or name
# lookup off this machine, writing it to KN_NET_LOG.
GUARD = r"""
import os, socket, sys

_LOG = os.environ.get("KN_NET_LOG")
_LOCAL = {"127.0.0.1", "::1", "localhost", "::ffff:127.0.0.1", "", None}
try:
    _LOCAL.add(socket.gethostname())
except OSError:
    pass


def _note(path, text):
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")


_argv = " ".join(getattr(sys, "orig_argv", sys.argv))
_note(os.environ.get("KN_GUARD_LOADED"), f"{os.getpid()} {_argv}")


def _refuse(what):
    _note(_LOG, f"{os.getpid()} {what!r}")
    raise OSError(101, f"test guard: no network ({what!r})")


def _local(sock, address):
    if sock.family == getattr(socket, "AF_UNIX", object()):
        return True
    host = address[0] if isinstance(address, tuple) else address
    return host in _LOCAL


_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def connect(self, address):
    if not _local(self, address):
        _refuse(address)
    return _connect(self, address)


def connect_ex(self, address):
    if not _local(self, address):
        _refuse(address)
    return _connect_ex(self, address)


def getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name not in _LOCAL:
        _refuse(("getaddrinfo", name))
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
socket.getaddrinfo = getaddrinfo
"""

# The province summary, made as the runner makes it (real notebook, real kernel, the offline
# HTML export), with a hostile classification; ``--only`` runs never make it.
SUMMARY = r"""
import sys
from pathlib import Path
from kiemnhiem.labels import label
from kiemnhiem.resources import notebook_path
from kiemnhiem.run.execute import KERNEL_NAME, execute_report

data, out, classification = sys.argv[1:4]
res = execute_report({
    "notebook_path": str(notebook_path("province_summary")),
    "parameters": {"dataset": data, "lang": "vi", "classification": classification,
                   "model": None},
    "timeout": 600, "lang": "vi", "title": label("run_summary_title", "vi"),
    "figure_suffix": ".png", "kernel_name": KERNEL_NAME, "token": "hostile-summary",
})
if res["status"] != "ok":
    sys.exit(f"summary failed: {res.get('error')}")
Path(out).write_text(res["html"], encoding="utf-8")
"""


def guarded_env(root: Path) -> dict[str, str]:
    guard = root / "guard"
    guard.mkdir(exist_ok=True)
    (guard / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
    paths = [str(guard), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
        "KN_NET_LOG": str(root / "net.log"),
        "KN_GUARD_LOADED": str(root / "guard.log"),
        "KN_PWNED": str(root / "pwned"),
        "TMPDIR": str(root / "tmp"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def tree(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    data = make_hostile(root / "data" / FOLDER)
    for name in ("work", "tmp", "summary"):
        (root / name).mkdir()
    env = guarded_env(root)
    before = tree(root / "data")
    out = root / "nowhere" / ".." / "site"  # resolves to root/site; "nowhere" never exists
    run = subprocess.Popen(
        [sys.executable, "-m", "kiemnhiem", "run", str(data), "--out", str(out),
         "--only", *ONLY, "--workers", "2", "--formats", "html,docx", "--quiet"],
        cwd=root / "work", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    summary = subprocess.Popen(
        [sys.executable, "-c", SUMMARY, str(data), str(root / "summary" / "summary.html"),
         CLASSIFICATION],
        cwd=root / "work", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        run_out, run_err = run.communicate(timeout=900)
        sum_out, sum_err = summary.communicate(timeout=900)
    finally:
        for proc in (run, summary):
            if proc.poll() is None:
                proc.kill()
    return SimpleNamespace(
        root=root,
        data=data,
        site=root / "site",
        before=before,
        env=env,
        run=(run.returncode, run_out, run_err),
        summary=(summary.returncode, sum_out, sum_err),
    )


@pytest.mark.slow
def test_runs_succeed_with_no_connection_off_this_machine(hostile):
    code, out, err = hostile.run
    assert code == 0, err
    code, out, err = hostile.summary
    assert code == 0, err
    root = hostile.root
    assert not (root / "net.log").exists(), (root / "net.log").read_text(encoding="utf-8")
    # The guard was in every Python the run started, kernels included ...
    loaded = (root / "guard.log").read_text(encoding="utf-8")
    assert "-m kiemnhiem run" in loaded
    # Kernels start as their own Python (``ipykernel_launcher``: the summary's, papermill alone)
    # or, in the runner on Linux, are forked from a kernel server: a guarded Python whose
    # patched socket module its forks inherit. Either way two reports and the summary ran.
    launched = loaded.count("ipykernel_launcher")
    servers = loaded.count(SERVER_COMMAND)
    assert launched >= 3 or (launched >= 1 and servers >= 1), loaded
    # ... and it does refuse: a connection to a documentation address (RFC 5737) is recorded.
    probe = subprocess.run(
        [sys.executable, "-c", "import socket; socket.create_connection(('192.0.2.1', 80), 1)"],
        env={**hostile.env, "KN_NET_LOG": str(root / "guard" / "probe.log")},
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0 and "test guard: no network" in probe.stderr
    assert "192.0.2.1" in (root / "guard" / "probe.log").read_text(encoding="utf-8")


@pytest.mark.slow
def test_no_code_ran_and_nothing_was_written_outside_out(hostile):
    root = hostile.root
    assert not (root / "pwned").exists()
    assert not (root / "nowhere").exists()
    assert (root / "site" / "index.html").is_file()
    # The run's working folder and its TMPDIR are left empty (report work folders removed).
    assert list((root / "work").iterdir()) == []
    assert list((root / "tmp").iterdir()) == []
    assert tree(root / "data") == hostile.before  # the dataset is read, never written
    written = {p.name for p in root.iterdir()}
    assert written <= {"data", "work", "tmp", "summary", "guard", "guard.log", "site"}


def pages(hostile) -> dict[str, str]:
    site = hostile.site
    found = {str(p.relative_to(site)): p.read_text(encoding="utf-8") for p in site.rglob("*.html")}
    found["summary"] = (hostile.root / "summary" / "summary.html").read_text(encoding="utf-8")
    return found


@pytest.mark.slow
def test_every_page_shows_the_payloads_as_text(hostile):
    found = pages(hostile)
    for key in ("index.html", *PAGES.values(), "summary"):
        assert key in found, sorted(found)
    for name, text in found.items():
        page = Page(text)
        # Nothing from the data became an element: no script with its code, no handler,
        # no image pointing at "x".
        assert not any("alert" in script for script in page.scripts), name
        handlers = [(tag, a) for tag, attrs in page.elements for a in attrs if a.startswith("on")]
        assert handlers == [], name
        assert not any(attrs.get("src") == "x" for _tag, attrs in page.elements), name
        assert "<script>alert(1)" not in text and "<img src=x" not in text, name
        # What the reader sees is the literal text ({{7*7}} is not 49).
        assert NAME in page.text, name
    for unit, path in PAGES.items():
        text = Page(found[path]).text
        for comment, author, day in comments_of(unit):
            assert comment in text and author in text and day in text, (path, comment)
        other = next(u for u in PILOTS if u != unit)
        assert comments_of(other)[0][0] not in text  # each pilot shows its own comments
    assert CLASSIFICATION in Page(found["summary"]).text


@pytest.mark.slow
def test_figures_show_the_text_as_typed(hostile):
    from matplotlib.text import Text

    from kiemnhiem.report.plots import figure_png, plot_series
    from kiemnhiem.stats.evaluation import evaluate_pilot, pilot_series

    ds = load_dataset(hostile.data)
    rows = evaluate_pilot(ds, "122", "tuyengiao_ttct")
    row = rows[rows["indicator"] == "so_cuoc_hop"].iloc[0]
    series = pilot_series(ds, "122", "tuyengiao_ttct", "so_cuoc_hop")
    fig = plot_series(series, row, ds.indicators, "vi", events=ds.events)
    assert figure_png(fig)[:4] == b"\x89PNG"  # drawing does not fail on "$\\foo{5}$"
    texts = [t for t in fig.findobj(Text) if EVENT in t.get_text()]
    assert texts and not any(t.get_parse_math() for t in texts)  # the legend, as typed


def docx_text(path: Path) -> str:
    from docx import Document

    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    for section in doc.sections:
        for part in (section.header, section.footer, section.first_page_header):
            parts += [p.text for p in part.paragraphs]
    return "\n".join(parts)


@pytest.mark.slow
def test_word_documents_hold_the_text_literally(hostile):
    for path in PAGES.values():
        docx = hostile.site / path.replace(".html", ".docx")
        assert NAME in docx_text(docx)
        with zipfile.ZipFile(docx) as zf:
            xml = "".join(zf.read(n).decode("utf-8") for n in zf.namelist() if n.endswith(".xml"))
        # Word would act on a field code or a hyperlink element; the data made neither.
        assert "HYPERLINK" not in "".join(re.findall(r"<w:instrText[^>]*>([^<]*)<", xml))
        assert not re.search(r"<w:fldSimple[^>]*HYPERLINK", xml)
        assert "<w:hyperlink" not in xml and "http://x" not in _relationships(docx)


def _relationships(docx: Path) -> str:
    with zipfile.ZipFile(docx) as zf:
        return "".join(zf.read(n).decode("utf-8") for n in zf.namelist() if n.endswith(".rels"))


def formula_cells(path: Path) -> list[str]:
    """Every ``<f>`` element of every sheet of an .xlsx."""
    with zipfile.ZipFile(path) as zf:
        return [
            f
            for n in zf.namelist()
            if n.startswith("xl/worksheets/")
            for f in re.findall(r"<f[ >/]", zf.read(n).decode("utf-8"))
        ]


@pytest.fixture(scope="module")
def exported(hostile, tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile-export") / "ket_qua.xlsx"
    return export_results(load_dataset(hostile.data), out)


@pytest.mark.slow
def test_excel_export_stores_formula_like_text_as_text(exported):
    out = exported
    assert formula_cells(out) == []
    book = openpyxl.load_workbook(out)
    texts = []
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    texts.append(cell.value)
                    if cell.value.startswith(FORMULA_START):
                        # A string, and quote-prefixed: still text once someone edits it.
                        assert cell.data_type == "s", (ws.title, cell.coordinate)
                        assert cell.quotePrefix, (ws.title, cell.coordinate, cell.value)
    assert NAME in texts  # the dataset's name, in the information sheet
    notes = [t for t in texts if "[ghi chú" in t]
    for payload in PAYLOADS:  # every payload heads some note of the yearly data
        assert any(n.startswith(payload) for n in notes), payload


@pytest.mark.slow
def test_libreoffice_calc_shows_the_exported_text_not_a_result(exported, tmp_path):
    # Every sheet to CSV as Calc computes it (values, not formulas): a formula would show
    # its result ("y"), text shows as typed.
    options = "44,34,76,1,,0,false,true,false,false,false,-1"
    proc = convert_with_libreoffice(
        [exported],
        tmp_path / "csv",
        tmp_path / "lo-profile",
        f"csv:Text - txt - csv (StarCalc):{options}",
    )
    sheets = {p.stem.removeprefix("ket_qua-"): p for p in (tmp_path / "csv").glob("*.csv")}
    require_calc(proc, list(sheets.values()))
    assert {"thong_tin", "so_lieu_nam"} <= set(sheets), (proc.stdout, proc.stderr)

    def cells(name: str) -> list[str]:
        with sheets[name].open(encoding="utf-8", newline="") as fh:
            return [c for row in csv.reader(fh) for c in row]

    assert NAME in cells("thong_tin")
    notes = [c for c in cells("so_lieu_nam") if "[ghi chú" in c]
    for payload in PAYLOADS:
        assert any(n.startswith(payload) for n in notes), payload
    assert "y" not in cells("thong_tin")


def test_import_writes_csv_that_no_spreadsheet_runs(tmp_path):
    template = write_template(tmp_path / "mau.xlsx", province="Sơn La", years=(2014, 2025))
    book = openpyxl.load_workbook(template)

    def text(ws, ref: str, value: str) -> None:
        # As an analyst types '=... in Excel: text, not a formula.
        ws[ref] = value
        ws[ref].data_type = "s"

    meta = book["thong_tin"]  # B3 name, B5 synthetic, then description and source
    keys = {meta[f"A{r}"].value: r for r in range(3, meta.max_row + 1)}
    text(meta, f"B{keys['name']}", NAME)
    text(meta, f"B{keys['description']}", DESCRIPTION)
    text(meta, f"B{keys['source']}", SOURCE)
    meta[f"B{keys['synthetic']}"] = True
    pilots = book["thi_diem"]
    sources = [f"{PAYLOADS[3]} [nguồn 0]", f"{PAYLOADS[6]} [nguồn 1]"]  # =HYPERLINK, @SUM
    typed_pilots = [
        ("Huyện Phù Yên", "tuyengiao_ttct", "08/2018", "month"),
        ("Huyện Quỳnh Nhai", "danvan_mttq", "2018", "year"),
    ]
    for row, values in enumerate(typed_pilots, start=3):
        for col, value in zip("ABCDE", [*values, "documented"], strict=True):
            pilots[f"{col}{row}"] = value
        text(pilots, f"G{row}", sources[row - 3])
    comments = book["nhan_xet"]
    typed = comments_of("122")
    for row, (comment, author, _day) in enumerate(typed, start=3):
        comments[f"A{row}"], comments[f"B{row}"] = "Phù Yên", "tuyengiao_ttct"
        text(comments, f"C{row}", comment)
        text(comments, f"D{row}", author)
    for col in "CDEFGHI":  # so_cuoc_hop 2014-2020 of Quỳnh Nhai (row 7) and Phù Yên (row 11)
        book["so_cuoc_hop"][f"{col}7"] = book["so_cuoc_hop"][f"{col}11"] = 12
    book.save(tmp_path / "so_lieu.xlsx")

    out = import_workbook(tmp_path / "so_lieu.xlsx", tmp_path / "du_lieu")
    fields = []
    for name in ("pilots.csv", "panel.csv", "comments.csv"):
        with (out / name).open(encoding="utf-8", newline="") as fh:
            fields += [f for row in csv.reader(fh) for f in row]
    plain_number = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
    for field in fields:
        assert not field.startswith(FORMULA_START) or plain_number.fullmatch(field), field
    # The typed text is all there, behind the apostrophe that keeps it text.
    shown = {f[1:] if f.startswith("'") else f for f in fields}
    for comment, author, _day in typed:
        assert comment in shown and author in shown
    assert set(sources) <= shown
    meta = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    assert (meta["name"], meta["description"], meta["source"]) == (NAME, DESCRIPTION, SOURCE)


@pytest.mark.parametrize(
    "args",
    [
        ["--only", "../../etc:danvan_mttq"],
        ["--only", "122:../../etc"],
        ["--only", "__import__('os').system('touch $KN_PWNED'):danvan_mttq"],
        ["--only", f"122:{CODE}"],
        ["--formats", "html,../../x"],
        ["--lang", "vi'); __import__('os').system('touch $KN_PWNED') #"],
    ],
    ids=["unit-path", "model-path", "unit-code", "model-code", "formats-path", "lang-code"],
)
def test_cli_refuses_paths_and_code(args, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("KN_PWNED", str(tmp_path / "pwned"))
    logger = logging.getLogger("kiemnhiem")  # the CLI adds its handler: leave none behind
    handlers, level = list(logger.handlers), logger.level
    try:
        code = main(["run", "--out", "a/../site", *args])
    except SystemExit as exc:  # argparse's refusal of an unknown choice
        code = exc.code
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
    assert code == 2
    assert capsys.readouterr().err.strip()
    assert list(work.iterdir()) == []  # not even --out was created
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
