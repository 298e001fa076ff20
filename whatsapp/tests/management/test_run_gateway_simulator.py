"""`manage.py run_gateway_simulator`: a thin wrapper over the gateway_simulator package's CLI, whose
errors it reports as CommandError (the simulator itself is tested in gateway_simulator/tests)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command


def test_it_refuses_to_run_the_django_command_without_a_key(monkeypatch):
    monkeypatch.delenv("WAHA_API_KEY", raising=False)
    with pytest.raises(CommandError, match="No API key"):
        call_command("run_gateway_simulator", "--port", "0")


def test_it_reports_a_bad_knob_as_a_command_error():
    with pytest.raises(CommandError, match="--knobs must be a JSON object"):
        call_command("run_gateway_simulator", "--api-key", "k", "--port", "0", "--knobs", "[]")
