"""Run layer: executing the report notebooks and publishing the site.

The only layer that knows about processes, kernels and the output folder: the run lock
(:mod:`.lock`), atomic publishing (:mod:`.publish`) and the runner (:mod:`.runner`).
"""
