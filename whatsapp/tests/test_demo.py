"""`make run`'s pieces: the simulators' supervisor (one dying leaves the rest up) and seed_demo's
endpoints (a WAHA Core per tenant, a shared WAHA Plus)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from io import StringIO

import pytest
import requests
from django.core.management import call_command

from whatsapp.models import TenantWhatsAppConfig
from whatsapp.simulator.testing import PROJECT_ROOT, free_port
from whatsapp.tests.support.live import wait_until

DEMO_KEY = "demo-canary-key-4b1f"


class Supervised:
    """The supervisor as `make run` starts it, with its output collected line by line."""

    def __init__(self, tmp_path, *specs: str) -> None:
        env = {**os.environ, "WAHA_API_KEY": DEMO_KEY, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "whatsapp.simulator.supervisor"]
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


@pytest.mark.django_db
def test_seed_demo_gives_each_tenant_its_own_core_and_lists_the_endpoints(monkeypatch):
    endpoints = [
        {"name": "Acme Core", "apiUrl": "http://localhost:3001", "apiKey": DEMO_KEY},
        {"name": "Globex Core", "apiUrl": "http://localhost:3002", "apiKey": DEMO_KEY},
        {"name": "Shared Plus", "apiUrl": "http://localhost:3000", "apiKey": DEMO_KEY},
        {
            "name": "Evolution",
            "apiUrl": "http://localhost:3003",
            "apiKey": DEMO_KEY,
            "provider": "evolution",
        },
    ]
    monkeypatch.setenv("WHATSAPP_ENDPOINTS", json.dumps(endpoints))
    out = StringIO()

    call_command("seed_demo", stdout=out, stderr=StringIO())

    assigned = dict(TenantWhatsAppConfig.objects.values_list("tenant__subdomain", "endpoint_name"))
    assert assigned == {"acme": "Acme Core", "globex": "Globex Core"}
    output = out.getvalue()
    assert "Endpoint 'Acme Core' is assigned to acme." in output
    assert re.search(r"Shared Plus +waha +http://localhost:3000/", output)
    assert re.search(r"Evolution +evolution +http://localhost:3003/", output)
    assert DEMO_KEY not in output


@pytest.mark.django_db
def test_seed_demo_falls_back_to_the_shared_plus_endpoint(monkeypatch):
    endpoints = [
        {"name": "Other", "apiUrl": "https://o.test", "apiKey": DEMO_KEY},
        {"name": "Shared Plus", "apiUrl": "http://localhost:3000", "apiKey": DEMO_KEY},
    ]
    monkeypatch.setenv("WHATSAPP_ENDPOINTS", json.dumps(endpoints))

    call_command("seed_demo", stdout=StringIO(), stderr=StringIO())

    names = set(TenantWhatsAppConfig.objects.values_list("endpoint_name", flat=True))
    assert names == {"Shared Plus"}


def test_the_demo_script_refuses_an_unknown_simulator_label():
    result = subprocess.run(
        ["bash", "scripts/run_demo.sh", "simulator", "nobody"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "No demo simulator called 'nobody'" in result.stderr
    assert "acme=waha-core:3001" in result.stderr
