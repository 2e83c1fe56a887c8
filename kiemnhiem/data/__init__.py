"""Data layer: what comes in and how it is checked.

Units and their names (:mod:`.units`), file readers (:mod:`.readers`), the catalogs of models
and indicators (:mod:`.catalog`), the dataset contract's columns and sources (:mod:`.sources`),
validation and the :class:`~.validate.Dataset` it builds (:mod:`.validate`), the workbook's
sheets (:mod:`.sheets`), the data-entry template (:mod:`.template`), workbooks read as
datasets and imported to folders (:mod:`.workbook`), loading a dataset (:mod:`.dataset`) and
the synthetic demo (:mod:`.demo`). Imports nothing from the layers above it (``stats``,
``report``, ``run``).
"""
