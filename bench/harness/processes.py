"""Child processes in their own process group with a log file each, and gunicorn."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from gateway_simulator.testing import free_port

from . import PY, ROOT

# Never route benchmark traffic through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Proc:
    """A child process in its own process group, with its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], logdir: Path):
        self.name = name
        self.log_path = logdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            list(argv),
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self, tail: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-tail:]
        return ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        # Whatever is left in the group we created (e.g. gunicorn workers) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        self._log.close()


def wait_http(url: str, *, proc: Proc | None = None, timeout: float = 30.0, host=None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise SystemExit(f"{proc.name} exited early:\n{proc.output()}")
        try:
            req = urllib.request.Request(url)
            if host:
                req.add_header("Host", host)
            with _OPENER.open(req, timeout=2) as response:
                response.read()
                return
        except urllib.error.HTTPError:
            return  # it answered: the server is up
        except OSError as exc:
            last = exc
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout}s ({last})")


def gunicorn(
    name: str,
    app: str,
    env: dict[str, str],
    logdir: Path,
    *,
    workers: int,
    worker_class: str = "sync",
    threads: int = 1,
    ready_path: str = "/",
) -> tuple[Proc, int]:
    port = free_port()
    argv = [PY, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}"]
    argv += ["--workers", str(workers), "--worker-class", worker_class, "--threads", str(threads)]
    argv += ["--chdir", str(ROOT), "--log-level", "warning", "--backlog", "2048"]
    proc = Proc(name, argv, env, logdir)
    wait_http(f"http://127.0.0.1:{port}{ready_path}", proc=proc, host="localhost")
    return proc, port
