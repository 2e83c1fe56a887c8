"""What a run tells its user: the one-line counter (:mod:`kiemnhiem.run.progress`)."""

from __future__ import annotations

import io

from kiemnhiem.run.plan import ReportJob
from kiemnhiem.run.progress import Progress


def test_progress_counter_draws_one_line():
    stream = io.StringIO()
    progress = Progress(2, enabled=True, stream=stream)
    job = ReportJob("122", "Huyện Phù Yên", "Phù Yên", "tuyengiao_ttct", "vi")
    progress.advance(job, "ok")
    progress.advance(job, "failed")
    progress.finish()
    text = stream.getvalue()
    assert "[1/2] ✓1 ✗0" in text and "[2/2] ✓1 ✗1" in text
    assert text.count("\n") == 1 and "\r" in text
    silent = io.StringIO()
    Progress(2, enabled=False, stream=silent).advance(job, "ok")
    assert silent.getvalue() == ""
