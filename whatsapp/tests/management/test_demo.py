"""`make run`'s pieces: seed_demo's endpoints (a WAHA Core per tenant, a shared WAHA Plus) and the
demo script (the simulators' supervisor is tested in gateway_simulator/tests/test_supervisor.py)."""

from __future__ import annotations

import json
import re
import subprocess
from io import StringIO

import pytest
from django.core.management import call_command

from gateway_simulator.testing import PROJECT_ROOT
from whatsapp.models import TenantWhatsAppConfig

DEMO_KEY = "demo-canary-key-4b1f"


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
