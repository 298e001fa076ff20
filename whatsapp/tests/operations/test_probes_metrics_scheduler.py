"""Operations: probes for load balancers, Prometheus metrics, and the scheduler loop."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tenants.test import CANARY_KEYS, client_for
from whatsapp.management.commands.whatsapp_scheduler import Step, run_steps
from whatsapp.models import Device, EndpointState, Message, WebhookEvent

pytestmark = pytest.mark.django_db


def test_it_answers_healthz_and_readyz_on_every_host(cast):
    for host in (None, cast.host_a):
        client = client_for(host=host)
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"status": "ok", "database": "ok"}


def test_it_keeps_metrics_closed_without_the_token(settings):
    settings.METRICS_TOKEN = ""
    assert client_for().get("/metrics").status_code == 404
    settings.METRICS_TOKEN = "metrics-secret"
    response = client_for().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_it_exports_endpoint_health_and_message_counts(cast, settings):
    settings.METRICS_TOKEN = "metrics-secret"
    EndpointState.objects.create(
        endpoint_name="Primary",
        health_status="healthy",
        next_probe_at="2026-01-01T00:00Z",
        last_latency_ms=42,
    )
    response = client_for().get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-secret")
    text = response.content.decode()
    assert response.status_code == 200
    assert 'booqing_whatsapp_endpoint_healthy{endpoint="Primary"} 1.0' in text
    assert 'booqing_whatsapp_endpoint_latency_ms{endpoint="Primary"} 42.0' in text
    assert 'booqing_whatsapp_endpoints_by_health{status="healthy"} 1.0' in text
    assert 'booqing_whatsapp_endpoints_by_health{status="unknown"} 1.0' in text
    assert not any(key in text for key in CANARY_KEYS)


def test_it_keeps_running_other_steps_when_one_raises(caplog):
    calls = []

    def broken():
        raise RuntimeError("one bad row")

    steps = [Step("broken", broken, every=0), Step("fine", lambda: calls.append(1) or 1, every=0)]
    assert run_steps(steps) is True
    assert calls == [1]
    assert "scheduler step failed step=broken" in caplog.text


def test_it_runs_every_step_once_with_the_once_flag(cast):
    # No endpoint answers in tests, so the sweep marks them unhealthy; it must still finish.
    call_command("whatsapp_scheduler", "--once", "--concurrency", "2")
    states = {s.endpoint_name: s.health_status for s in EndpointState.objects.all()}
    assert states == {"Primary": "unhealthy", "Secondary": "unhealthy"}
    assert not WebhookEvent.objects.exists()
    assert not Message.objects.exists()
    assert not Device.objects.exists()


def test_it_lets_the_operator_requeue_failed_webhook_events_from_the_admin(cast):
    device = Device.objects.create(
        tenant=cast.tenant_a,
        name="Front desk",
        endpoint_name="Primary",
        session_name="bq-acme-1",
        webhook_secret="s",
    )
    event = WebhookEvent.objects.create(
        device=device,
        event_id="evt_1",
        kind="ack",
        payload={},
        status=WebhookEvent.Status.FAILED,
        attempts=4,
        last_error="no message yet",
    )
    client = client_for(cast.superadmin)
    listing = client.get("/django-admin/whatsapp/webhookevent/?status__exact=failed")
    assert listing.status_code == 200
    assert "no message yet" in listing.content.decode()
    response = client.post(
        "/django-admin/whatsapp/webhookevent/",
        {"action": "retry_events", "_selected_action": [event.pk]},
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.status, event.attempts) == (WebhookEvent.Status.PENDING, 0)


@pytest.mark.parametrize(
    "path",
    [
        "/django-admin/whatsapp/device/",
        "/django-admin/whatsapp/message/",
        "/django-admin/whatsapp/endpointstate/",
        "/django-admin/whatsapp/apitoken/",
        "/django-admin/whatsapp/tenantwhatsappconfig/",
        "/django-admin/core/auditevent/",
        "/django-admin/tenants/tenant/",
    ],
)
def test_it_shows_the_admin_lists_without_keys(cast, path):
    response = client_for(cast.superadmin).get(path)
    assert response.status_code == 200
    assert not any(key in response.content.decode() for key in CANARY_KEYS)


def test_the_audit_log_keeps_its_old_admin_address(cast):
    response = client_for(cast.superadmin).get("/django-admin/whatsapp/auditevent/?q=assign")
    assert response.status_code == 302
    assert response["Location"] == "/django-admin/core/auditevent/?q=assign"
