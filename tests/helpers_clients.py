"""Shared by the tests that drive real programs (Chromium, LibreOffice Calc, JupyterLab).

A missing program skips its test with the reason, except under ``CI=true``: the lead's CI
installs them (``.ci/run``), so there a missing program is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

IN_CI = os.environ.get("CI") == "true"

#: Chromium flags: no sandbox (containers run as root), nothing fetched in the background.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing(reason: str) -> None:
    """Skip with ``reason``; fail instead in CI, which installs every program."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def chromium_path() -> str:
    """Debian's Chromium (never a browser downloaded by ``playwright install``)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    missing("Chromium is not on PATH (apt: chromium)")
    raise AssertionError("unreachable")


def sync_playwright():
    """playwright's sync API; skips (fails in CI) without the PyPI package."""
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError:
        missing("the Python package playwright is not installed (pip install playwright)")
    return start()


def need_browser() -> None:
    """Skip (fail in CI) now, before any costly set-up, without playwright or Chromium."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("the Python package playwright is not installed (pip install playwright)")
    chromium_path()


def launch(playwright, profile: Path, **options):
    """A headless Chromium with a fresh profile folder, as a persistent context."""
    return playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=chromium_path(),
        args=CHROMIUM_ARGS,
        headless=True,
        **options,
    )


def is_local(url: str, allowed_hosts: tuple[str, ...] = ("127.0.0.1",)) -> bool:
    """Whether a request stays on this machine: a file, inline data, or a loopback server."""
    parts = urlsplit(url)
    if parts.scheme in ("file", "data", "blob", "about"):
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in allowed_hosts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def soffice() -> str:
    """LibreOffice's ``soffice``, or skip (fail in CI)."""
    for name in ("soffice", "libreoffice"):
        path = shutil.which(name)
        if path:
            return path
    missing("LibreOffice is not on PATH (apt: libreoffice-calc-nogui)")
    raise AssertionError("unreachable")


def require_calc(proc: subprocess.CompletedProcess, produced: list[Path]) -> None:
    """After a conversion that produced nothing: skip (fail in CI) when LibreOffice has no
    Calc (only Writer installed: ``soffice`` exits 0 saying it found no export filter)."""
    if produced:
        return
    program = Path(shutil.which("soffice") or shutil.which("libreoffice") or "").resolve()
    no_calc = not any(program.parent.glob("libsclo.*")) and not any(program.parent.glob("sclo.*"))
    if no_calc or "no export filter" in proc.stdout + proc.stderr:
        missing("LibreOffice Calc is not installed (apt: libreoffice-calc-nogui)")


def convert_with_libreoffice(
    files: list[Path], outdir: Path, profile: Path, target: str = "xlsx", timeout: float = 180
) -> subprocess.CompletedProcess:
    """``soffice --headless --convert-to TARGET`` with its own user profile (one per call)."""
    outdir.mkdir(parents=True, exist_ok=True)
    command = [
        soffice(),
        f"-env:UserInstallation={profile.resolve().as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        target,
        "--outdir",
        str(outdir),
        *map(str, files),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


class Page(HTMLParser):
    """An HTML page as a browser would build it, for checks that need no browser: the
    elements with their attributes, the text a reader sees (entities decoded, script and
    style contents apart) and the script contents."""

    _RAW = ("script", "style")

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.visible: list[str] = []
        self.scripts: list[str] = []
        self._raw: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag in self._RAW:
            self._raw = tag
            if tag == "script":
                self.scripts.append("")

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag == self._raw:
            self._raw = None

    def handle_data(self, data):
        if self._raw == "script":
            self.scripts[-1] += data
        elif self._raw is None:
            self.visible.append(data)

    @property
    def text(self) -> str:
        return "".join(self.visible)
