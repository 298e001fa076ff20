"""Run several simulators for `make run`; one dying never stops the others or the Procfile.

honcho stops every process when one exits. A real gateway dies without taking the product down,
so the demo's simulators run under this supervisor, which stays up whatever they do:

    python -m gateway_simulator.supervisor --state-dir .simulator \
        acme=waha-core:3001 globex=waha-core:3002 shared=waha-plus:3000

`kill <pid>` (or SIGSTOP) one simulator to watch the product's "endpoint down" states; start it
again with the command printed when it exits, or `kill -HUP <supervisor pid>` to restart every
simulator that is down. Sessions survive both, in the state directory.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from gateway_simulator.flavors import FLAVORS

SPEC = re.compile(r"^(?P<label>[a-z0-9_-]+)=(?P<flavor>[a-z-]+):(?P<port>\d{1,5})$")
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Child:
    label: str
    flavor: str
    port: int
    state_file: Path
    host: str
    knobs: list[str] = field(default_factory=list)
    restart_hint: str = ""
    process: subprocess.Popen[bytes] | None = None
    reported: bool = False

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "gateway_simulator",
            "--flavor",
            self.flavor,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--state-file",
            str(self.state_file),
            *self.knobs,
        ]

    def manual_command(self) -> str:
        """What a person types to start this one again alone (same port, same sessions)."""
        if self.restart_hint:
            return self.restart_hint.format(label=self.label)
        args = ["-m", "gateway_simulator", *self.command()[3:]]
        return "WAHA_API_KEY=<its key> .venv/bin/python " + shlex.join(args)


def parse_spec(
    spec: str, state_dir: Path, host: str, knobs: list[str], restart_hint: str = ""
) -> Child:
    match = SPEC.match(spec)
    if match is None or match["flavor"] not in FLAVORS:
        raise ValueError(
            f"{spec!r}: expected LABEL=FLAVOR:PORT with FLAVOR in {', '.join(FLAVORS)}"
        )
    return Child(
        label=match["label"],
        flavor=match["flavor"],
        port=int(match["port"]),
        state_file=state_dir / f"{match['label']}.json",
        host=host,
        knobs=list(knobs),
        restart_hint=restart_hint,
    )


class Supervisor:
    def __init__(self, children: list[Child], out: IO[str] = sys.stdout) -> None:
        self.children = children
        self.out = out
        self._stop = threading.Event()
        self._restart = threading.Event()
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        with self._lock:
            print(text, file=self.out, flush=True)

    def spawn(self, child: Child) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")])
        )
        child.process = subprocess.Popen(
            child.command(),
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own process group: Ctrl-C in the terminal reaches us, and we stop it cleanly.
            start_new_session=True,
        )
        child.reported = False
        threading.Thread(target=self._relay, args=(child, child.process), daemon=True).start()
        self.say(
            f"[{child.label}] {child.flavor} on http://localhost:{child.port}/ "
            f"(pid {child.process.pid}; stop it with: kill {child.process.pid})"
        )

    def _relay(self, child: Child, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            self.say(f"[{child.label}] {raw.decode('utf-8', 'replace').rstrip()}")

    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        signal.signal(signal.SIGINT, lambda *_: self._stop.set())
        signal.signal(signal.SIGHUP, lambda *_: self._restart.set())
        for child in self.children:
            self.spawn(child)
        self.say(
            f"Supervisor pid {os.getpid()}: a simulator that stops leaves the others (and web, "
            f"worker, scheduler) running; `kill -HUP {os.getpid()}` restarts the stopped ones."
        )
        while not self._stop.wait(0.3):
            self.check()
        self.shutdown()
        return 0

    def check(self) -> None:
        restart = self._restart.is_set()
        self._restart.clear()
        for child in self.children:
            process = child.process
            down = process is None or process.poll() is not None
            if down and not child.reported:
                child.reported = True
                code = process.returncode if process is not None else None
                self.say(
                    f"[{child.label}] exited (code {code}). The rest keeps running. Start it "
                    f"again alone with:\n    {child.manual_command()}\n"
                    f"  or restart every stopped simulator with: kill -HUP {os.getpid()}"
                )
            if down and restart:
                self.spawn(child)

    def shutdown(self) -> None:
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + 5
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway_simulator.supervisor",
        description="Run several gateway simulators; one exiting never stops the rest.",
    )
    parser.add_argument("specs", nargs="+", metavar="LABEL=FLAVOR:PORT")
    parser.add_argument("--state-dir", default=".simulator", help="one state file per simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--sim-arg",
        action="append",
        default=[],
        help="an extra option for every simulator, e.g. --sim-arg=--not-ready-delay=1",
    )
    parser.add_argument(
        "--restart-hint",
        default="",
        help="the command printed to start one simulator again ({label} is replaced)",
    )
    options = parser.parse_args(argv)
    if not os.environ.get("WAHA_API_KEY"):
        parser.error("set WAHA_API_KEY: every simulator needs a key")
    state_dir = Path(options.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        children = [
            parse_spec(s, state_dir, options.host, options.sim_arg, options.restart_hint)
            for s in options.specs
        ]
    except ValueError as exc:
        parser.error(str(exc))
    return Supervisor(children).run()


if __name__ == "__main__":
    sys.exit(main())
