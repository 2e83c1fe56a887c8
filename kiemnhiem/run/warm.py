"""Imported once by the report pool's fork server (multiprocessing's ``forkserver`` preload),
so that every worker it forks starts with this done: pandas and the modules that read a run's
evaluations and datasets imported, and the HTML exporter built with its templates compiled.

Measured on a whole demo site (18 reports, 2 workers): each worker imported pandas and the
dataset modules for its first evaluation or dataset (about 1 CPU-second a worker), and its
first export cost 0.77 CPU-s against 0.14 for the next ones (nbconvert's filters and
templates). Done here it is paid once per run instead of once per worker, and a worker's first
report costs what the others do.

A module rather than a function because the fork server only imports modules by name. Any
failure is ignored: the workers then do the same work themselves, as before.

It comes first in the fork server's preload list, so that :func:`skip_iri_grammar` takes effect
before anything imports ``jsonschema`` (papermill and nbconvert import it through nbformat).
"""

from __future__ import annotations

import contextlib
import sys


def skip_iri_grammar() -> None:
    """Keep ``jsonschema`` from importing ``rfc3987_syntax`` in this process.

    jsonschema imports that optional package, when installed, to check the ``iri`` format;
    importing it builds a Lark grammar: 1.45 of the fork server's 2.7 CPU-seconds of imports
    (measured, same process, with and without; once per run). Nothing in a worker checks
    formats: nbformat validates with fastjsonschema, or jsonschema's ``Draft4Validator``
    without a format checker, and papermill, nbclient and nbconvert validate through nbformat.
    Marked missing (``None`` in ``sys.modules``), jsonschema's own ``suppress(ImportError)``
    leaves the ``iri`` check out, as where the package is not installed.
    """
    sys.modules.setdefault("rfc3987_syntax", None)


def warm() -> None:
    """Import what the workers use and compile the exporter's templates (in this process)."""
    import nbformat
    import pandas  # noqa: F401

    import kiemnhiem.data.dataset  # noqa: F401
    import kiemnhiem.report.conclusions  # noqa: F401 (the evaluation's district rows)
    import kiemnhiem.stats.evaluation  # noqa: F401

    from .execute import _export_html

    # An empty notebook through the very exporter the reports use: its templates are loaded
    # and compiled into the exporter's Jinja environment, which the forked workers inherit.
    _export_html(nbformat.v4.new_notebook(), "", "vi")


skip_iri_grammar()
with contextlib.suppress(Exception):
    warm()
