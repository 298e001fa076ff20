"""The simulators' supervisor as `make run` starts it: one dying leaves the rest up, SIGHUP brings
it back with its sessions, and the key never shows in the output."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

import pytest
import requests

from gateway_simulator.testing import PROJECT_ROOT, free_port, wait_until

DEMO_KEY = "demo-canary-key-4b1f"


class Supervised:
    """The supervisor as `make run` starts it, with its output collected line by line."""

    def __init__(self, tmp_path, *specs: str) -> None:
        env = {**os.environ, "WAHA_API_KEY": DEMO_KEY, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "gateway_simulator.supervisor"]
        command += ["--state-dir", str(tmp_path), "--restart-hint", "restart {label} by hand"]
        self.process = subprocess.Popen(
            [*command, *specs],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    def output(self) -> str:
        return "\n".join(self.lines)

    def pid_of(self, label: str) -> int:
        found = wait_until(
            lambda: re.findall(rf"\[{label}\] .* \(pid (\d+);", self.output()), timeout=10
        )
        return int(found[-1])

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=10)


def answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/_sim/config", timeout=1).ok
    except requests.RequestException:
        return False


@pytest.mark.integration
def test_a_dead_simulator_leaves_the_others_running_and_comes_back_on_hup(tmp_path):
    core, plus = free_port(), free_port()
    supervised = Supervised(tmp_path, f"acme=waha-core:{core}", f"shared=waha-plus:{plus}")
    try:
        wait_until(lambda: answers(core) and answers(plus), timeout=15)
        os.kill(supervised.pid_of("acme"), signal.SIGKILL)  # a crash, not a clean stop

        wait_until(lambda: "restart acme by hand" in supervised.output(), timeout=10)
        assert supervised.process.poll() is None  # honcho would see nothing exit
        assert answers(plus) and not answers(core)

        supervised.process.send_signal(signal.SIGHUP)
        wait_until(lambda: answers(core), timeout=15)
        # The restarted Core kept its state file: still the one `default` session.
        sessions = requests.get(
            f"http://127.0.0.1:{core}/api/sessions", headers={"X-Api-Key": DEMO_KEY}, timeout=5
        ).json()
        assert [s["name"] for s in sessions] == ["default"]
    finally:
        assert supervised.stop() == 0
    assert not answers(core) and not answers(plus)
    assert DEMO_KEY not in supervised.output()
