"""The run lock: one run at a time writes into an output folder.

An OS lock on ``OUT/.lock`` (``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows), taken
without waiting: when another run holds it, :class:`LockHeldError` says which process does.
The OS releases the lock when the process ends, however it ends (even ``SIGKILL``), so a
crashed run never leaves a stale lock behind; the file itself stays and is harmless.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from ..exceptions import LockHeldError
from ..labels import both

LOCK_NAME = ".lock"


class RunLock:
    """Hold ``folder/.lock`` for the length of a ``with`` block.

    Examples
    --------
    >>> with RunLock(out):          # doctest: +SKIP
    ...     ...                     # build and publish
    """

    def __init__(self, folder: str | os.PathLike):
        self.path = Path(folder) / LOCK_NAME
        self._fh = None

    @property
    def held(self) -> bool:
        return self._fh is not None

    def acquire(self) -> RunLock:
        """Take the lock or raise :class:`LockHeldError` at once (never waits)."""
        if self._fh is not None:
            return self
        fh = open(self.path, "a+b")  # noqa: SIM115 - kept open while the lock is held
        try:
            _lock(fh)
        except OSError:
            holder = _read_holder(fh)
            fh.close()
            raise LockHeldError(
                *both("run_lock_held", path=str(self.path), holder=holder)
            ) from None
        # Who holds it, for the message the next run shows (informative only).
        try:
            fh.seek(0)
            fh.truncate()
            stamp = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
            fh.write(f"{os.getpid()} {stamp}\n".encode("ascii"))
            fh.flush()
        except OSError:
            pass
        self._fh = fh
        return self

    def release(self) -> None:
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            _unlock(fh)
        finally:
            fh.close()

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fh) -> str:
    try:
        fh.seek(0)
        text = fh.read(200).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return text or "?"


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fh) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(fh) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fh) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fh) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
