"""What a run tells its user while it works: a one-line counter on a terminal and a log line
per report (INFO, or DEBUG with ``quiet``; failures always as warnings).

Logs through ``logging.getLogger("kiemnhiem")`` and writes only to the stream it is given. It
must not import the modules that plan, execute or publish (they import it, if anything).
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from ..labels import label

if TYPE_CHECKING:
    from .plan import ReportJob, ReportOutcome

logger = logging.getLogger("kiemnhiem")


def log(quiet: bool, message: str) -> None:
    """``message`` at INFO, or at DEBUG when ``quiet``."""
    logger.log(logging.DEBUG if quiet else logging.INFO, message)


def isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    """A one-line counter on a terminal: ``[ 5/17] ✓4 ✗1  Huyện Phù Yên – tuyengiao_ttct``."""

    def __init__(self, total: int, enabled: bool, stream=None):
        self.total = total
        self.enabled = enabled and total > 0
        self.stream = stream if stream is not None else sys.stderr
        self.done = self.ok = self.failed = 0
        self.last = ""

    def advance(self, job: ReportJob, status: str) -> None:
        self.done += 1
        self.ok += status == "ok"
        self.failed += status == "failed"
        self.last = f"{job.name} – {job.model}" if job.model else job.name
        self.draw()

    def draw(self) -> None:
        if not self.enabled:
            return
        width = len(str(self.total))
        text = f"[{self.done:>{width}}/{self.total}] ✓{self.ok} ✗{self.failed}  {self.last}"
        self.stream.write("\r\x1b[K" + text[:200])
        self.stream.flush()

    def clear(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()

    def report(self, outcome: ReportOutcome, quiet: bool) -> None:
        """Count ``outcome`` and log it: done (unless quiet or counting), or failed."""
        job = outcome.job
        self.advance(job, outcome.status)
        if outcome.status == "ok":
            seconds = f"{outcome.duration:.0f}"
            text = label(
                "run_report_done", job.lang, unit=job.name, model=job.model or "–", seconds=seconds
            )
            log(quiet or self.enabled, text)
        else:
            self.clear()
            logger.warning(
                label(
                    "run_report_failed",
                    job.lang,
                    unit=job.name,
                    model=job.model or "–",
                    error=outcome.error,
                )
            )
            self.draw()
