"""Constants and small helpers shared by the tests of :mod:`kiemnhiem.run`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

from kiemnhiem.run import plan as plan_module

# The demo's pilots (DESIGN.md, DOMAIN.md): 5 danvan_mttq and all 12 units in tuyengiao_ttct.
N_PILOTS = 17
DANVAN = {"116", "118", "121", "122", "124"}
TUYENGIAO = {f"{c}" for c in range(116, 129) if c != 117}
PHU_YEN = "tuyengiao_ttct/122-phu-yen.html"
ROOT = Path(__file__).resolve().parents[2]

# A <script> or <link> tag that loads anything, and any CSS import over the network.
LOADING_TAG = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=", re.IGNORECASE)
REMOTE_URL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
CSS_IMPORT = re.compile(r"@import\s+url\(\s*['\"]?(?:https?:)?//", re.IGNORECASE)


def summary_planned() -> bool:
    return plan_module.summary_notebook() is not None


def read_manifest(site: Path) -> dict:
    return json.loads((site / "manifest.json").read_text(encoding="utf-8"))


def read_page(site: Path, rel: str) -> str:
    return (site / rel).read_text(encoding="utf-8")


def make_notebook(path: Path, parameters: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    nb.cells = [
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(1)"),
    ]
    nbformat.write(nb, path)
    return path


def edit_panel(folder: Path, unit: str, period: str, indicator: str, value: str) -> None:
    path = folder / "panel.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    prefix = f"{unit},{period},{indicator},"
    hits = [i for i, line in enumerate(lines) if line.startswith(prefix)]
    assert len(hits) == 1, prefix
    rest = lines[hits[0]][len(prefix) :].split(",", 1)
    lines[hits[0]] = prefix + value + "," + rest[1]
    path.write_text("".join(lines), encoding="utf-8")
