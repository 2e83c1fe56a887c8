"""Statistics layer: pure functions over tidy frames, no I/O, nothing printed.

Time windows and yearly aggregation (:mod:`.timeline`), exact rank inference
(:mod:`.inference`), Callaway and Sant'Anna (:mod:`.staggered`), event studies
(:mod:`.eventstudy`) and the per-pilot and per-model evaluation (:mod:`.evaluation`). Reads
datasets from :mod:`kiemnhiem.data`; knows nothing of notebooks, plots or files.
"""
