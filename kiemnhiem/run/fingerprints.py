"""What a report depends on: dataset digests, kiemnhiem's code hash, library versions, and
the fingerprint that decides whether a report is remade.

Pure hashing over a loaded dataset and files of the package: it must not import papermill,
nbconvert, jupyter_client or dask, nor the modules of :mod:`kiemnhiem.run` that plan, execute
or publish (they import it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..resources import data_dir, package_dir

if TYPE_CHECKING:
    from ..data.dataset import Dataset

#: Libraries whose version is part of every report's fingerprint.
KEY_DEPENDENCIES: tuple[str, ...] = (
    "pandas",
    "numpy",
    "scipy",
    "matplotlib",
    "papermill",
    "nbconvert",
    "babel",
    "python-docx",
)
#: The manifest's format; part of every fingerprint, so that a new format remakes reports.
MANIFEST_SCHEMA = 2


class ReportIdentity(Protocol):
    """What a fingerprint needs of a report (a :class:`~kiemnhiem.run.plan.ReportJob`, which
    imports this module: hence a protocol, not an import)."""

    kind: str
    unit_code: str
    model: str
    lang: str


def dataset_digests(ds: Dataset) -> tuple[str, dict[str, str]]:
    """``(common, {indicator: digest})``: sha256 of everything in ``ds`` but the panel, and of
    each indicator's panel rows (all units).

    Computed from the loaded dataset (what the notebooks see), so that a change of encoding or
    of the file layout that reads the same does not remake reports, and any new field of
    :class:`~kiemnhiem.data.dataset.Dataset` is covered by default.
    """
    import pandas as pd

    common = hashlib.sha256()
    for f in dataclasses.fields(ds):
        if f.name in ("panel", "path", "content_hash"):
            continue
        value = getattr(ds, f.name)
        common.update(f.name.encode("utf-8") + b"\0")
        if isinstance(value, pd.DataFrame):
            common.update(str(list(value.dtypes.astype(str).items())).encode("utf-8"))
            common.update(value.to_csv(index=False).encode("utf-8"))
        else:
            common.update(json.dumps(value, sort_keys=True, default=str).encode("utf-8"))
        common.update(b"\0")
    panel = ds.panel
    per_indicator: dict[str, str] = {}
    if len(panel):
        rows = pd.util.hash_pandas_object(panel, index=False).to_numpy()
        head = str(list(panel.dtypes.astype(str).items())).encode("utf-8")
        for indicator, idx in panel.groupby("indicator", sort=True).indices.items():
            digest = hashlib.sha256(head)
            digest.update(rows[idx].tobytes())
            per_indicator[str(indicator)] = digest.hexdigest()
    return common.hexdigest(), per_indicator


def versions() -> dict[str, str]:
    """Versions of Python, kiemnhiem and :data:`KEY_DEPENDENCIES` (without importing them)."""
    from importlib import metadata

    from .. import __version__

    out = {"python": sys.version.split()[0], "kiemnhiem": __version__}
    for name in KEY_DEPENDENCIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = ""
    return out


def code_hash() -> str:
    """sha256 over what shapes a report besides its data: the package's code, templates and
    built-in catalogs (labels included), so that a changed release is never "unchanged"."""
    package = package_dir()
    named = [
        *((p.relative_to(package).as_posix(), p) for p in package.rglob("*.py")),
        *(
            (p.relative_to(package).as_posix(), p)
            for pattern in ("*.j2", "*.json", "*.css")
            for p in (package / "templates").rglob(pattern)
        ),
        *((f"catalog/{p.name}", p) for p in data_dir().joinpath("catalog").glob("*.csv")),
    ]
    digest = hashlib.sha256()
    # Names relative to the package (catalogs by name), so that a checkout and an installed
    # wheel of the same code agree (Dask workers compare theirs with the client's).
    for name, path in sorted(named):
        if "__pycache__" in name or name.startswith("_bundled/"):
            continue
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Fingerprints:
    """Every report's fingerprint for one run (dataset digests computed once).

    ``code`` is kiemnhiem's code hash, :func:`code_hash` by default; ``document`` the run's own
    document settings (issuer, number, signer, recipients: what the command line gives; the
    dataset's are part of its data), so that a changed number remakes the documents.
    """

    def __init__(
        self,
        ds: Dataset,
        notebooks: Mapping[str, Path | None],
        code: str | None = None,
        document: Mapping[str, Any] | None = None,
    ):
        self.ds = ds
        self.document = dict(document or {})
        self.common, self.indicators = dataset_digests(ds)
        self.code_hash = code_hash() if code is None else code
        self.versions = versions()
        self.notebook_hash = {k: file_hash(p) for k, p in notebooks.items() if p is not None}
        self._model_indicators: dict[str, list[str]] = {}

    def data_digest(self, kind: str, model: str) -> str:
        digest = hashlib.sha256(self.common.encode("ascii"))
        if kind == "summary":
            names = sorted(self.indicators)
        else:
            names = self._indicators_of(model)
        for name in names:
            digest.update(f"{name}={self.indicators.get(name, '')};".encode())
        return digest.hexdigest()

    def _indicators_of(self, model: str) -> list[str]:
        if model not in self._model_indicators:
            from ..data.catalog import indicators_for_model

            codes = indicators_for_model(self.ds.indicators, model)["code"]
            self._model_indicators[model] = sorted(str(c) for c in codes)
        return self._model_indicators[model]

    def inputs(self, job: ReportIdentity, parameters: Mapping[str, Any]) -> dict[str, str]:
        """What ``job`` run with ``parameters`` depends on, one digest per kind of input (the
        dataset path left out: its content counts, not where it lies)."""

        def digest(value: Any) -> str:
            text = json.dumps(value, sort_keys=True, ensure_ascii=True, default=str)
            return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]

        return {
            "report": digest([MANIFEST_SCHEMA, job.kind, job.unit_code, job.model, job.lang]),
            "notebook": self.notebook_hash.get(job.kind, "")[:16],
            "parameters": digest({k: v for k, v in parameters.items() if k != "dataset"}),
            "data": self.data_digest(job.kind, job.model)[:16],
            "code": self.code_hash[:16],
            "versions": digest(self.versions),
            "document": digest(self.document),
        }

    def of(self, job: ReportIdentity, parameters: Mapping[str, Any]) -> str:
        """The fingerprint of ``job`` run with ``parameters``."""
        text = json.dumps(self.inputs(job, parameters), sort_keys=True)
        return hashlib.sha256(text.encode("ascii")).hexdigest()
