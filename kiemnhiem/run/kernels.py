"""Report kernels forked from a warm process instead of started from nothing (Linux).

A fresh kernel costs about 2.5 CPU-seconds before a report's first line runs: Python,
ipykernel, zmq and tornado, then pandas, matplotlib, scipy and kiemnhiem's report modules. Each
worker of the runner's pool therefore starts one *kernel server* (:func:`serve`) that imports
all of that once and then forks one child per report; the child becomes an ordinary ipykernel
(the same ``ipykernel_launcher`` arguments, connection file, working folder and environment),
so papermill and nbclient talk to it exactly as to a kernel they started.

Why it stays killable (the runner's SIGINT/SIGTERM contract):

- each forked kernel calls ``setsid()`` before it runs, so its process group is its own pid,
  like a kernel jupyter_client starts (``start_new_session``): killing that group kills it;
- :class:`ForkedProcess` stands in for the ``Popen`` of :class:`ForkProvisioner` (poll, wait,
  signals) through a Linux pidfd, since the kernel is the server's child, not the worker's;
- the server dies with the worker that started it, and each kernel with the server
  (``PR_SET_PDEATHSIG``), so a worker killed outright leaves nothing behind; the pool's
  ``stop_pool`` also finds them among the worker's descendants.

The server imports modules and starts no thread before it forks (forking a process with
threads is unsafe): ipykernel's application, its zmq context and IPython's shell are created
in the child only. Where any of this is unavailable (not Linux, no pidfd, the server failed),
kernels start the ordinary way: :func:`kernel_server` returns None.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger("kiemnhiem")

#: What the server imports once: the kernel itself, then what the report notebooks import.
#: Measured in the kernels of a whole demo site (py-spy), each of them went on to import:
#: ``ipykernel.debugger`` (the kernel's debugger class, 0.08 CPU-s a kernel),
#: ``IPython.core.oinspect``, ``psutil`` and ``sqlite3`` (the kernel's start), then
#: ``scipy.special`` (the pre-trend test, imported lazily: 0.14 a report), ``jinja2`` and
#: ``pandas.io.formats.style`` (``DataFrame.style``): 0.3 CPU-s a report in all.
PRELOAD: tuple[str, ...] = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.debugger",
    "IPython.core.oinspect",
    "psutil",
    "sqlite3",
    "matplotlib_inline.backend_inline",
    "matplotlib",
    "pandas",
    "pandas.io.formats.style",
    "jinja2",
    "scipy.special",
    "kiemnhiem.data.dataset",
    "kiemnhiem.report.conclusions",
    "kiemnhiem.report.frames",
    "kiemnhiem.report.html",
    "kiemnhiem.report.plots",
    "kiemnhiem.report.text",
    "kiemnhiem.run.evaluations",
    "kiemnhiem.run.params",
    "kiemnhiem.stats.evaluation",
    "kiemnhiem.stats.eventstudy",
)
#: How the server is started (``python -c``); its forked kernels share this command line.
SERVER_COMMAND = "from kiemnhiem.run.kernels import serve; serve()"
_INLINE = "module://matplotlib_inline.backend_inline"
#: A forked kernel's first garbage-collection threshold (Python's default is 700; 2,000 from
#: Python 3.13). A report allocates millions of short-lived objects, matplotlib's artists in
#: reference cycles among them: at 700 the collector ran so often that it took about a quarter
#: of the figures' CPU (one report's 20 figures built in 0.80 CPU-s, 0.58 at 5,000, 0.56 with
#: the collector off; measured in one process, alternating, 8 December 2026). Cycles are
#: still collected, a few thousand allocations later.
KERNEL_GC_THRESHOLD = 5000
_PR_SET_PDEATHSIG = 1
#: Seconds to wait for the server to answer a fork (it answers in milliseconds once warm).
_ANSWER_TIMEOUT = 60.0


def supported() -> bool:
    """Linux with pidfds (kernel 5.3, Python 3.9)."""
    return sys.platform.startswith("linux") and hasattr(os, "pidfd_open")


def _die_with_parent() -> None:
    """Be killed when the parent dies (Linux ``prctl``)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


# ---------------------------------------------------------------------------------------------
# The server (its own process)
# ---------------------------------------------------------------------------------------------


def serve() -> None:
    """Import :data:`PRELOAD`, then fork one kernel per request read on stdin.

    A request is one JSON line ``{"argv": [...], "env": {...}, "cwd": "..."}`` (the arguments
    after ``-m ipykernel_launcher``); the answer, one JSON line on stdout, is ``{"pid": N}``
    once the child has its own session, or ``{"error": "..."}``. The server ends when stdin
    closes or its parent dies.
    """
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides; SIGTERM ends us
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # kernels print where the worker's kernels always printed: its stderr
    os.close(devnull)
    # As ipykernel does before matplotlib is imported, so that the kernels see what a fresh
    # kernel sees (matplotlib reads it when imported).
    os.environ.setdefault("MPLBACKEND", _INLINE)
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a kernel imports it again and shows the error
            print(f"kiemnhiem kernel server: cannot preload {name}: {exc}", file=sys.stderr)
    with contextlib.suppress(Exception):  # the figures' caches, inherited by every kernel
        importlib.import_module("kiemnhiem.report.warmup").warm_figures()
    # What the server imported lives as long as every kernel: moved out of the collector's
    # generations (the documented way before fork), full collections in the kernels no
    # longer walk it, and collecting in one kernel no longer copies the server's pages.
    gc.collect()
    gc.freeze()
    answers.write(json.dumps({"ready": os.getpid()}) + "\n")
    answers.flush()
    for line in requests:
        _reap()
        try:
            request = json.loads(line)
            answer = {"pid": _fork_kernel(request, requests, answers)}
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
    _reap()


def _reap() -> None:
    """Collect finished kernels (zombies); they tell their end to the worker by pidfd."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _fork_kernel(request: Mapping[str, Any], *server_files) -> int:
    env = {str(k): str(v) for k, v in dict(request["env"]).items()}
    # What the server imported came from its own PYTHONPATH: a kernel asking for another
    # one would import other code, so it must start the ordinary way.
    if env.get("PYTHONPATH", "") != os.environ.get("PYTHONPATH", ""):
        raise RuntimeError("PYTHONPATH differs from the kernel server's")
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the kernel
        code = 1
        try:
            os.close(ready_r)
            for handle in server_files:
                with contextlib.suppress(Exception):
                    os.close(handle.fileno())
            os.setsid()
            _die_with_parent()
            os.write(ready_w, b"1")
            os.close(ready_w)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            os.chdir(request["cwd"])
            os.environ.clear()
            os.environ.update(env)
            os.environ.setdefault("MPLBACKEND", _INLINE)
            sys.argv = ["ipykernel_launcher", *request["argv"]]
            gc.set_threshold(KERNEL_GC_THRESHOLD, *gc.get_threshold()[1:])
            from ipykernel import kernelapp

            kernelapp.launch_new_instance()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(ready_w)
    try:
        if os.read(ready_r, 1) != b"1":
            raise RuntimeError("the kernel died before it started")
    finally:
        os.close(ready_r)
    return pid


# ---------------------------------------------------------------------------------------------
# The worker's side
# ---------------------------------------------------------------------------------------------


class KernelServer:
    """A worker's kernel server: started now, warm in the background, asked for kernels."""

    def __init__(self, env: Mapping[str, str], cwd: str):
        self.env = dict(env)
        # -P: the server's folder is not put first on sys.path (a kernel's never is).
        self.process = subprocess.Popen(
            [sys.executable, "-Xfrozen_modules=off", "-P", "-c", SERVER_COMMAND],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=self.env,
            cwd=cwd,
            text=True,
            encoding="utf-8",
        )
        self._lock = threading.Lock()
        self._ready = False

    def alive(self) -> bool:
        return self.process.poll() is None

    def fork(self, argv: list[str], env: Mapping[str, str], cwd: str) -> int | None:
        """A kernel's pid, or None (then start it the ordinary way)."""
        with self._lock:
            try:
                if not self._ready:
                    self._ready = "ready" in self._answer()
                request = {"argv": list(argv), "env": dict(env), "cwd": str(cwd)}
                self.process.stdin.write(json.dumps(request) + "\n")
                self.process.stdin.flush()
                answer = self._answer()
            except (OSError, ValueError, RuntimeError) as exc:
                logger.debug("kernel server failed: %s", exc)
                self.close()
                return None
        if "pid" not in answer:
            logger.debug("kernel server refused: %s", answer.get("error"))
            return None
        return int(answer["pid"])

    def _answer(self) -> dict:
        import select

        deadline = time.monotonic() + _ANSWER_TIMEOUT
        while True:
            ready, _, _ = select.select([self.process.stdout], [], [], 1.0)
            if ready:
                line = self.process.stdout.readline()
                if not line:
                    raise RuntimeError("the kernel server ended")
                return json.loads(line)
            if not self.alive() or time.monotonic() > deadline:
                raise RuntimeError("the kernel server does not answer")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
            self.process.wait(2)


_SERVER: KernelServer | None = None


def start_kernel_server(env: Mapping[str, str], cwd: str) -> KernelServer | None:
    """Start this worker's kernel server (in the pool's initializer: its main thread, the
    one whose death ``PR_SET_PDEATHSIG`` watches)."""
    global _SERVER
    if not supported() or os.environ.get("KIEMNHIEM_FORK_KERNELS", "1") == "0":
        return None
    try:
        _SERVER = KernelServer(env, cwd)
    except OSError as exc:
        logger.debug("no kernel server: %s", exc)
        _SERVER = None
    return _SERVER


def kernel_server() -> KernelServer | None:
    """This worker's kernel server if it is running."""
    return _SERVER if _SERVER is not None and _SERVER.alive() else None


def launcher_arguments(cmd: list[str]) -> list[str] | None:
    """The arguments after ``-m ipykernel_launcher`` if ``cmd`` starts this very Python's
    ipykernel, else None (another kernel: start it the ordinary way)."""
    if not cmd or os.path.realpath(cmd[0]) != os.path.realpath(sys.executable):
        return None
    for i in range(1, len(cmd) - 1):
        if cmd[i] == "-m":
            return list(cmd[i + 2 :]) if cmd[i + 1] == "ipykernel_launcher" else None
    return None


class ForkedProcess:
    """The ``Popen`` of a kernel forked by the server: not our child, so watched by pidfd."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        self._pidfd = os.pidfd_open(pid)

    def poll(self) -> int | None:
        if self.returncode is None:
            import select

            ready, _, _ = select.select([self._pidfd], [], [], 0)
            if ready:
                self._ended()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import select

        if self.returncode is None:
            ready, _, _ = select.select([self._pidfd], [], [], timeout)
            if not ready:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            self._ended()
        return self.returncode

    def _ended(self) -> None:
        # The exit status belongs to the server that reaps it; a kernel that ended on its
        # own reads as 0, like a clean shutdown (a death shows as a dead kernel anyway).
        self.returncode = 0
        with contextlib.suppress(OSError):
            os.close(self._pidfd)

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def fork_provisioner_class():
    """jupyter_client's ``LocalProvisioner``, its kernel forked by this worker's server when
    there is one (else started as usual)."""
    from jupyter_client.provisioning.local_provisioner import LocalProvisioner

    class ForkProvisioner(LocalProvisioner):
        async def launch_kernel(self, cmd: list[str], **kwargs: Any):
            server = kernel_server()
            argv = launcher_arguments(cmd)
            pid = None
            if server is not None and argv is not None and kwargs.get("env") is not None:
                env = {k: v for k, v in kwargs["env"].items() if k != "JPY_PARENT_PID"}
                pid = server.fork(argv, env, str(kwargs.get("cwd") or os.getcwd()))
            if pid is None:
                return await super().launch_kernel(cmd, **kwargs)
            self.process = ForkedProcess(pid)
            self.pid = self.pgid = pid  # the kernel called setsid(): its group is its pid
            self.cwd = kwargs.get("cwd")
            return self.connection_info

    return ForkProvisioner
