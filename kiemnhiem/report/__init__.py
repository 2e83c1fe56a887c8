"""Report layer: what a reader sees, built from result frames.

Tables and sentences (:mod:`.tables`), matplotlib figures (:mod:`.plots`), Word and PDF
documents (:mod:`.documents`), the Excel export (:mod:`.export`) and the JupyterLab widgets
(:mod:`.explore`). Knows nothing of papermill, kernels or processes.
"""
