"""Logs an operator can use: one line per API call and per gateway call, with the request id
carried into the background send it causes, JSON on request, and never a key or token."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import responses
from django_tasks_db.models import DBTaskResult

from tenants.test import CANARY_KEYS, CANARY_PRIMARY, ENDPOINTS_JSON, client_for
from whatsapp import services
from whatsapp.tasks import send_message
from whatsapp.tests.factories import make_front_desk

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
REQUEST_ID = "req-4f1c2b7a9e"


@pytest.fixture
def connected_device(cast):
    return make_front_desk(
        cast.tenant_a, configured=False, session="bq-acme-frontdesk", secret="s", min_send_gap_ms=0
    )


# Transactional, as in production: the send is enqueued when the API call's transaction commits.
@pytest.mark.django_db(transaction=True)
def test_an_api_call_and_the_send_it_causes_log_one_line_each_with_one_request_id(
    cast, connected_device, console_output
):
    raw_token = services.api_token_create(tenant=cast.tenant_a, name="Booking app", actor=None)[1]
    client = client_for(host=cast.host_a)
    response = client.post(
        "/api/whatsapp/messages",
        {"to": "+6281234567890", "body": "See you at 10"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw_token}", "X-Request-ID": REQUEST_ID},
    )
    assert response.status_code == 202
    assert response["X-Request-ID"] == REQUEST_ID

    # The worker picks the task up later, in another process: the id travels with it.
    task = DBTaskResult.objects.get()
    assert task.args_kwargs["kwargs"] == {"request_id": REQUEST_ID}
    with responses.RequestsMock() as gw:
        gw.post(
            "https://primary.gateway.test/api/sendText",
            status=201,
            json={"id": "true_6281234567890@c.us_3EB0LOG00001"},
        )
        send_message.func(*task.args_kwargs["args"], **task.args_kwargs["kwargs"])

    lines = console_output.getvalue().splitlines()
    api_lines = [line for line in lines if "booqing.requests" in line]
    assert len(api_lines) == 1
    assert "method=POST route=api/whatsapp/messages status=202" in api_lines[0]
    assert f"tenant=acme request_id={REQUEST_ID}" in api_lines[0]
    gateway_lines = [line for line in lines if "gateway call" in line]
    assert len(gateway_lines) == 1
    assert (
        "endpoint=Primary method=POST route=/api/sendText status=201 outcome=ok"
        in (gateway_lines[0])
    )
    assert f"request_id={REQUEST_ID}" in gateway_lines[0]
    output = console_output.getvalue()
    assert raw_token not in output
    assert not any(key in output for key in CANARY_KEYS)
    assert "primary.gateway.test" not in output


def test_it_replaces_a_request_id_that_could_forge_log_lines(cast, console_output):
    forged = "x\nINFO forged line"
    response = client_for(cast.alice, cast.host_a).get(
        "/api/whatsapp/devices", headers={"X-Request-ID": forged}
    )
    assert response.status_code == 200
    assert response["X-Request-ID"] != forged
    assert "forged line" not in console_output.getvalue()


def test_it_writes_json_lines_with_log_format_json_and_still_hides_keys():
    env = {
        **os.environ,
        "LOG_FORMAT": "json",
        "WHATSAPP_ENDPOINTS": ENDPOINTS_JSON,
        "DJANGO_SETTINGS_MODULE": "booqing.settings",
    }
    code = (
        "import django, logging; django.setup();"
        "from core.request_context import request_context\n"
        "with request_context('req-json-000001', tenant='acme'):\n"
        f"    logging.getLogger('whatsapp.x').warning('gateway said %s', {CANARY_PRIMARY!r})"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert len(records) == 1
    record = records[0]
    assert record["level"] == "WARNING"
    assert record["logger"] == "whatsapp.x"
    assert record["request_id"] == "req-json-000001"
    assert record["tenant"] == "acme"
    assert record["message"].startswith("gateway said ")
    assert CANARY_PRIMARY not in result.stderr


def test_each_scheduler_step_runs_under_its_own_request_id(console_output):
    import logging

    from whatsapp.management.commands.whatsapp_scheduler import Step, run_steps

    log = logging.getLogger("whatsapp.services.example")
    steps = [Step("health_sweep", lambda: log.warning("probing"), every=0)] * 2
    run_steps(steps)
    ids = re.findall(r"\[(sched-health_sweep-[0-9a-f]{12})\] probing", console_output.getvalue())
    assert len(ids) == 2
    assert ids[0] != ids[1]


def test_the_probes_of_a_sweep_log_the_sweeps_request_id(cast, console_output):
    from core.request_context import request_context
    from whatsapp.services.health import health_sweep

    with responses.RequestsMock(assert_all_requests_are_fired=False) as gw:
        gw.get("https://primary.gateway.test/ping", json={"message": "pong"})
        gw.get("https://primary.gateway.test/api/server/version", json={"version": "1"})
        with request_context("sched-health_sweep-0123456789ab"):
            health_sweep(concurrency=2)
    lines = [line for line in console_output.getvalue().splitlines() if "gateway call" in line]
    # Primary: /ping and /api/server/version; Secondary (Evolution) does not answer.
    assert len(lines) >= 3
    assert all("request_id=sched-health_sweep-0123456789ab" in line for line in lines)
