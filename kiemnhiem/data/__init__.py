"""Data layer: what comes in and how it is checked.

Units and their names (:mod:`.units`), file readers (:mod:`.readers`), the catalogs of models
and indicators (:mod:`.catalog`), datasets (:mod:`.dataset`), the data-entry workbook
(:mod:`.workbook`) and the synthetic demo (:mod:`.demo`). Imports nothing from the layers
above it (``stats``, ``report``, ``run``).
"""
