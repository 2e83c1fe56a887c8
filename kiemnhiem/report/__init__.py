"""Report layer: what a reader sees, built from result frames.

Catalog look-ups (:mod:`.indicators`), sentences and the wording of numbers and verdicts
(:mod:`.text`), tidy frames for display (:mod:`.frames`), HTML fragments for what pandas cannot
draw (:mod:`.html`), matplotlib figures (:mod:`.plots`), Word and PDF documents (content in
:mod:`.documents`, page layout in :mod:`.docx_layout`), the Excel export (:mod:`.export`) and
the JupyterLab widgets (:mod:`.explore`). Imports run one way, ``indicators`` <- ``text`` <-
``frames`` <- ``html``; nothing here imports :mod:`kiemnhiem.run`. Knows nothing of papermill,
kernels or processes.
"""
