"""Packaging: conda and pip list the same packages, and the built wheel runs the main job."""

import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_pyproject_packages():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    wanted |= {_name(r) for r in project["optional-dependencies"]["test"]}
    listed = set()
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    for line in text.split("dependencies:", 1)[1].splitlines():
        m = re.match(r"^\s+-\s+([A-Za-z0-9_.\-]+)", line)
        if m and not line.strip().startswith("- -e"):
            listed.add(_name(m.group(1)))
    listed -= {"python", "pip"}
    assert listed == wanted


@pytest.mark.slow
def test_wheel_installs_and_runs_the_main_job(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-w", str(dist), str(ROOT)],
        check=True, capture_output=True,
    )
    wheel = next(dist.glob("kiemnhiem-*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    py = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # The dependencies come from this test's environment; kiemnhiem itself only from the wheel
    # (a path line in a .pth file does not process that folder's own .pth files, so the
    # editable install of the checkout stays invisible).
    target = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    Path(target, "_outer_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(py), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    # Nothing may point back at the checkout (a runner in this test session may have put it on
    # PYTHONPATH for its kernels).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run(
        [str(py), "-c", "import kiemnhiem, kiemnhiem.resources as r; "
         "print(kiemnhiem.__file__); print(r.demo_dir())"],
        cwd=work, check=True, capture_output=True, text=True, env=env,
    ).stdout.split()
    assert where[0].startswith(target) and "_bundled" in where[1]
    proc = subprocess.run(
        [str(py), "-m", "kiemnhiem", "run", "--out", "site", "--workers", "1",
         "--only", "Phù Yên:tuyengiao_ttct", "--quiet"],
        cwd=work, capture_output=True, text=True, timeout=600, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (work / "site" / "index.html").is_file()
    assert (work / "site" / "tuyengiao_ttct" / "122-phu-yen.html").is_file()
