"""Run layer: executing the report notebooks and publishing the site.

The only layer that knows about processes, kernels and the output folder. One module per job:
:mod:`.params` (what notebooks and ``--only`` accept, the run's settings), :mod:`.plan` (jobs,
what is up to date), :mod:`.fingerprints` (what a report depends on), :mod:`.execute` (kernels,
papermill, HTML, the process pool), :mod:`.cluster` (Dask), :mod:`.site` (manifest, index page,
changes, banners), :mod:`.progress` (what the user sees), :mod:`.publish` (atomic publishing),
:mod:`.lock` (one run at a time), and :mod:`.runner`, which runs them in sequence.
"""
