"""/metrics after a scripted day: pairings, sends, acks, failures, probes, reconnects and API
calls move the counters and histograms an operator alerts on, by the expected amounts."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
import responses
from prometheus_client.parser import text_string_to_metric_families

from core.errors import ApplicationError
from tenants.test import CANARY_KEYS, client_for
from whatsapp import services
from whatsapp.metrics import operation_label
from whatsapp.models import Device, DeviceStatus, MessageStatus, TenantWhatsAppConfig
from whatsapp.services.devices import devices_reconnect_due
from whatsapp.services.health import endpoint_probe
from whatsapp.tests.support import waha_webhooks as waha
from whatsapp.tests.support.api import GATEWAY

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-day"
SESSION_RE = re.compile(rf"{GATEWAY}/api/sessions/bq-[a-z0-9-]+")


def scrape() -> dict[tuple[str, frozenset], float]:
    response = client_for().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    text = response.content.decode()
    assert not any(key in text for key in CANARY_KEYS)
    values: dict[tuple[str, frozenset], float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return values


def delta(before, after, name: str, **labels) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_it_labels_gateway_operations_with_their_route_not_their_values():
    assert operation_label("post", "/api/sessions/bq-acme-1f2e3d/restart") == (
        "POST /api/sessions/{}/restart"
    )
    assert operation_label("GET", "/instance/connectionState/bq-x-9") == (
        "GET /instance/connectionState/{}"
    )
    assert operation_label("GET", "/ping") == "GET /ping"


def test_a_scripted_day_moves_counters_and_histograms_by_the_expected_amounts(cast, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.WHATSAPP_WEBHOOK_BASE_URL = "https://hooks.booqing.test"
    TenantWhatsAppConfig.objects.create(
        tenant=cast.tenant_a, endpoint_name="Primary", is_configured=True
    )
    before = scrape()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as gw:
        # Morning: the scheduler probes both endpoints; Secondary does not answer.
        gw.get(f"{GATEWAY}/ping", json={"message": "pong"})
        gw.get(f"{GATEWAY}/api/server/version", json={"version": "2024.10.8", "tier": "PLUS"})
        assert endpoint_probe(endpoint_name="Primary").ok
        assert not endpoint_probe(endpoint_name="Secondary").ok

        # Alice pairs a phone; a second device fails because the gateway answers 500.
        gw.post(f"{GATEWAY}/api/sessions", json={"name": "x", "status": "STARTING"})
        device = services.device_create(tenant=cast.tenant_a, name="Front desk", actor=cast.alice)
        gw.replace(responses.POST, f"{GATEWAY}/api/sessions", status=500, json={})
        with pytest.raises(ApplicationError):
            services.device_create(tenant=cast.tenant_a, name="Back office", actor=cast.alice)

        # The gateway says the phone linked: one accepted delivery, one forged one refused.
        body = waha.encode(
            waha.envelope(
                "session.status",
                device.session_name,
                {"name": device.session_name, "status": "WORKING"},
            )
        )
        hook = f"/api/whatsapp/webhooks/{device.webhook_id}/{device.webhook_token}"
        accepted = client_for().post(
            hook,
            body,
            content_type="application/json",
            headers=waha.signed_headers(body, device.webhook_secret),
        )
        forged = client_for().post(
            hook,
            body,
            content_type="application/json",
            headers=waha.signed_headers(body, "not-the-secret"),
        )
        assert (accepted.status_code, forged.status_code) == (200, 401)
        services.webhook_events_process_due()
        device.refresh_from_db()
        assert device.status == DeviceStatus.CONNECTED
        Device.objects.filter(pk=device.pk).update(min_send_gap_ms=0)

        # Three sends: two go out, the third is refused for good.
        gw.post(
            f"{GATEWAY}/api/sendText",
            json={"id": "true_6281234567890@c.us_3EB0DAY00001", "ack": 0},
        )
        first, _ = services.message_send(tenant=cast.tenant_a, to="+6281234567890", body="Hi 1")
        assert services.message_deliver(message_id=first.pk) == MessageStatus.SENT
        gw.replace(
            responses.POST,
            f"{GATEWAY}/api/sendText",
            json={"id": "true_6281234567890@c.us_3EB0DAY00002", "ack": 0},
        )
        second, _ = services.message_send(tenant=cast.tenant_a, to="+6281234567890", body="Hi 2")
        assert services.message_deliver(message_id=second.pk) == MessageStatus.SENT
        gw.replace(responses.POST, f"{GATEWAY}/api/sendText", status=400, json={"message": "no"})
        third, _ = services.message_send(tenant=cast.tenant_a, to="+6281234567890", body="Hi 3")
        assert services.message_deliver(message_id=third.pk) == MessageStatus.FAILED

        # The first is delivered, then read; the second is read without a delivered ack.
        for short_id, ack in (
            ("3EB0DAY00001", "DEVICE"),
            ("3EB0DAY00001", "READ"),
            ("3EB0DAY00002", "READ"),
        ):
            ack_body = waha.encode(waha.ack(device.session_name, short_id, ack))
            services.webhook_ingest(
                webhook_id=device.webhook_id,
                token=device.webhook_token,
                body=ack_body,
                headers=waha.signed_headers(ack_body, device.webhook_secret),
            )
            services.webhook_events_process_due()

        # Evening: the phone drops and the scheduler reconnects it.
        Device.objects.filter(pk=device.pk).update(status=DeviceStatus.FAILED)
        gw.post(SESSION_RE, json={})  # restart
        gw.get(SESSION_RE, json={"name": device.session_name, "status": "WORKING"})
        assert devices_reconnect_due() == 1

    # And the booking product reads the device list through the API once.
    api = client_for(cast.alice, cast.host_a).get("/api/whatsapp/devices")
    assert api.status_code == 200

    after = scrape()
    d = lambda name, **labels: delta(before, after, name, **labels)  # noqa: E731
    assert d("booqing_whatsapp_pairing_attempts_total", endpoint="Primary") == 2
    assert d("booqing_whatsapp_pairing_successes_total", endpoint="Primary") == 1
    failures = "booqing_whatsapp_pairing_failures_total"
    assert d(failures, endpoint="Primary", reason="gateway_unavailable") == 1
    assert d("booqing_whatsapp_device_reconnects_total", endpoint="Primary", outcome="ok") == 1
    outcomes = "booqing_whatsapp_messages_outcome_total"
    assert d(outcomes, endpoint="Primary", outcome="sent") == 2
    assert d(outcomes, endpoint="Primary", outcome="failed") == 1
    assert d(outcomes, endpoint="Primary", outcome="delivered") == 2
    assert d(outcomes, endpoint="Primary", outcome="read") == 2
    webhooks = "booqing_whatsapp_webhook_deliveries_total"
    assert d(webhooks, result="accepted") == 1
    assert d(webhooks, result="invalid_signature") == 1

    gw_hist = "booqing_whatsapp_gateway_request_duration_seconds"
    send_ok = {"endpoint": "Primary", "operation": "POST /api/sendText", "outcome": "ok"}
    assert d(f"{gw_hist}_count", **send_ok) == 2
    assert d(f"{gw_hist}_bucket", **send_ok, le="+Inf") == 2
    assert d(f"{gw_hist}_sum", **send_ok) > 0
    refused = {"endpoint": "Primary", "operation": "POST /api/sendText"}
    assert d(f"{gw_hist}_count", **refused, outcome="invalid_request") == 1
    ping = {"endpoint": "Primary", "operation": "GET /ping", "outcome": "ok"}
    assert d(f"{gw_hist}_count", **ping) == 1
    down = {"endpoint": "Secondary", "operation": "POST /verify-creds", "outcome": "unreachable"}
    assert d(f"{gw_hist}_count", **down) == 1, sorted(
        k for k in after if k[0].startswith(gw_hist + "_count")
    )

    http = "booqing_http_request_duration_seconds"
    api_ok = {"method": "GET", "route": "api/whatsapp/devices", "status_class": "2xx"}
    assert d(f"{http}_count", **api_ok) == 1
    hook_route = "api/whatsapp/webhooks/<uuid:webhook_id>/<str:token>"
    assert d(f"{http}_count", method="POST", route=hook_route, status_class="4xx") == 1

    # Gauges describe the state at the end of the day.
    assert after[("booqing_whatsapp_endpoints_configured", frozenset())] == 2
    assert after[("booqing_whatsapp_endpoint_tenants", frozenset({("endpoint", "Primary")}))] == 1
    by_health = "booqing_whatsapp_endpoints_by_health"
    assert after[(by_health, frozenset({("status", "healthy")}))] == 1
    assert after[(by_health, frozenset({("status", "unhealthy")}))] == 1
    assert after[("booqing_whatsapp_devices", frozenset({("status", "connected")}))] == 1


def test_it_reads_no_message_rows_to_answer_a_scrape(cast, settings, django_assert_max_num_queries):
    """The scrape's cost follows the endpoints and tenants, not the history: a fixed number of
    small queries whatever the number of messages (bench/metrics_scrape.py times it)."""
    settings.METRICS_TOKEN = TOKEN
    with django_assert_max_num_queries(8):
        scrape()
