"""Issue 7: the product against gateways as they really answer (WAHA Core, WAHA Plus, Evolution).

Gateways are mocked with `responses`, replaying the recorded answers in gateways-recorded/."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta

import pytest
import requests
import responses
from django.utils import timezone

from core.errors import ApplicationError
from tenants.test import CANARY_PRIMARY, client_for
from whatsapp import services
from whatsapp.models import (
    Device,
    DeviceStatus,
    EndpointState,
    TenantWhatsAppConfig,
    WebhookEvent,
)
from whatsapp.security import RedactSecretsFilter, scrub
from whatsapp.tests.support import waha_webhooks as waha
from whatsapp.tests.support.recorded import EVOLUTION, WAHA_CORE, deliveries, read_exchange

pytestmark = pytest.mark.django_db

PRIMARY = "https://primary.gateway.test"
SECONDARY = "https://secondary.gateway.test:8443"
HTMX = {"HTTP_HX_REQUEST": "true"}
CORE_SUMMARY = "WAHA Core 2024.10.8 (NOWEB) · one number · webhooks unsigned · API key NOT checked"


def recorded(name: str, folder=WAHA_CORE):
    return read_exchange(folder / "responses" / f"{name}.txt")


def replay(mock, name: str, *, base: str = PRIMARY, folder=WAHA_CORE, method=None, path=None):
    exchange = recorded(name, folder)
    mock.add(
        method or exchange.method,
        base + (path or exchange.path),
        body=exchange.body,
        status=exchange.status,
        content_type="application/json",
    )


def assign(tenant, endpoint="Primary") -> TenantWhatsAppConfig:
    return TenantWhatsAppConfig.objects.create(
        tenant=tenant, endpoint_name=endpoint, is_configured=True
    )


def learn(endpoint="Primary", *, tier="CORE", key_enforced=False) -> None:
    """Store capabilities as a probe of that gateway would."""
    EndpointState.objects.update_or_create(
        endpoint_name=endpoint,
        defaults={
            "next_probe_at": timezone.now(),
            "provider": "waha",
            "version": "2024.10.8",
            "tier": tier,
            "engine": "NOWEB",
            "key_enforced": key_enforced,
            "signs_webhooks": tier != "CORE",
            "multi_session": tier != "CORE",
            "capabilities_checked_at": timezone.now(),
        },
    )


def token_url(device: Device) -> str:
    return f"/api/whatsapp/webhooks/{device.webhook_id}/{device.webhook_token}"


def post(url: str, body: bytes, headers: dict | None = None):
    # A recording's transport headers (Host of the recording machine, length) are not replayed.
    kept = {
        k: v
        for k, v in (headers or {}).items()
        if k.lower() not in ("host", "content-length", "connection", "content-type")
    }
    return client_for(enforce_csrf=True).post(
        url, body, content_type="application/json", headers=kept
    )


# --- 1. capabilities --------------------------------------------------------------------------


def core_probe_answers(mock):
    replay(mock, "real_a01_ping")
    replay(mock, "real_a02_version")


def test_the_first_probe_learns_a_waha_core_that_does_not_check_its_key(gateway):
    core_probe_answers(gateway)

    services.endpoint_probe(endpoint_name="Primary")

    state = EndpointState.objects.get(endpoint_name="Primary")
    assert (state.provider, state.version, state.tier, state.engine) == (
        "waha",
        "2024.10.8",
        "CORE",
        "NOWEB",
    )
    assert (state.key_enforced, state.signs_webhooks, state.multi_session) == (False, False, False)
    # the last call carried a key nobody has, and was answered 200
    keys = [call.request.headers["X-Api-Key"] for call in gateway.calls]
    assert set(keys[:-1]) == {CANARY_PRIMARY} and keys[-1] != CANARY_PRIMARY


def test_capabilities_are_not_probed_again_until_an_hour_passes_or_the_version_changes(gateway):
    core_probe_answers(gateway)
    start = timezone.now()

    def calls_for_probe_at(when) -> int:
        before = len(gateway.calls)
        services.endpoint_probe(endpoint_name="Primary", now=when)
        return len(gateway.calls) - before

    assert calls_for_probe_at(start) == 3  # ping, version, the same with a wrong key
    assert calls_for_probe_at(start + timedelta(minutes=1)) == 2
    assert calls_for_probe_at(start + timedelta(minutes=30)) == 2
    assert calls_for_probe_at(start + timedelta(minutes=61)) == 3
    gateway.upsert(
        responses.GET,
        f"{PRIMARY}/api/server/version",
        json={"version": "2025.1.1", "engine": "NOWEB", "tier": "PLUS"},
    )
    assert calls_for_probe_at(start + timedelta(minutes=62)) == 3  # a new version: learn again
    state = EndpointState.objects.get(endpoint_name="Primary")
    assert (state.tier, state.version, state.multi_session) == ("PLUS", "2025.1.1", True)


def test_a_gateway_that_refuses_the_wrong_key_is_recorded_as_enforcing_it(gateway):
    replay(gateway, "real_a01_ping")
    # health's version call (reused for the capabilities), then the one with a wrong key
    gateway.get(f"{PRIMARY}/api/server/version", json={"version": "2025.1.1", "tier": "PLUS"})
    gateway.get(f"{PRIMARY}/api/server/version", status=401, json={"message": "Unauthorized"})

    services.endpoint_probe(endpoint_name="Primary")

    state = EndpointState.objects.get(endpoint_name="Primary")
    assert (state.key_enforced, state.tier, state.signs_webhooks) == (True, "PLUS", True)


def test_the_endpoints_page_says_what_each_gateway_is_and_warns_about_an_unchecked_key(
    cast, gateway
):
    core_probe_answers(gateway)
    services.endpoint_probe(endpoint_name="Primary")

    html = client_for(cast.superadmin).get("/admin/endpoints/").content.decode()

    assert CORE_SUMMARY in html
    assert "This gateway accepts requests without its API key." in html
    assert "controls its WhatsApp sessions" in html
    assert CANARY_PRIMARY not in html


def test_the_setup_page_shows_the_capabilities_and_the_key_warning(cast):
    assign(cast.tenant_a)
    learn()

    html = client_for(cast.superadmin).get(f"/admin/tenants/{cast.tenant_a.pk}/whatsapp")

    page = html.content.decode()
    assert CORE_SUMMARY in page
    assert 'data-testid="key-warning"' in page


def test_the_setup_page_says_when_capabilities_are_not_known_yet(cast):
    assign(cast.tenant_a)
    page = client_for(cast.superadmin).get(f"/admin/tenants/{cast.tenant_a.pk}/whatsapp")
    assert "not known yet" in page.content.decode()


def test_the_setup_page_warns_when_a_core_endpoint_already_serves_another_tenant(cast, gateway):
    assign(cast.tenant_a)
    learn()
    make_core_device(cast, gateway)

    response = client_for(cast.superadmin).post(
        f"/admin/tenants/{cast.tenant_b.pk}/whatsapp/assign",
        {"endpoint_name": "Primary"},
        follow=True,
    )

    page = response.content.decode()
    assert 'data-testid="single-session-warning"' in page
    assert "runs WAHA Core and another tenant's device already uses it" in page
    # tenant A's own page has no such warning: the device is its own
    own = client_for(cast.superadmin).get(f"/admin/tenants/{cast.tenant_a.pk}/whatsapp")
    assert 'data-testid="single-session-warning"' not in own.content.decode()


# --- 2. WAHA Core devices ---------------------------------------------------------------------


def make_core_device(cast, gateway, tenant=None) -> Device:
    """Add a device on the fresh Core server: its STOPPED 'default' is configured and started."""
    replay(gateway, "real_a10_create_default_dup")
    gateway.put(f"{PRIMARY}/api/sessions/default", body=recorded("real_a15_get_default").body)
    replay(gateway, "40_start")
    return services.device_create(tenant=tenant or cast.tenant_a, name="Front desk", actor=None)


def test_a_core_endpoint_configures_and_starts_its_default_session(cast, gateway):
    assign(cast.tenant_a)
    learn()

    device = make_core_device(cast, gateway)

    assert device.session_name == "default"
    assert device.status == DeviceStatus.STARTING
    assert device.webhook_signed is False
    created = json.loads(gateway.calls[0].request.body)
    assert created["name"] == "default"
    put = next(c for c in gateway.calls if c.request.method == "PUT")
    sent = json.loads(put.request.body)
    assert sent["config"]["webhooks"][0]["url"].endswith(token_url(device))
    assert sent["config"]["metadata"] == {"tenant": "acme", "device": str(device.pk)}
    assert gateway.calls[-1].request.url == f"{PRIMARY}/api/sessions/default/start"


def test_a_second_device_on_a_core_endpoint_is_refused_before_any_gateway_call(cast, gateway):
    assign(cast.tenant_a)
    assign(cast.tenant_b)
    learn()
    make_core_device(cast, gateway)
    calls = len(gateway.calls)

    with pytest.raises(ApplicationError) as info:
        services.device_create(tenant=cast.tenant_b, name="Clinic desk", actor=None)

    assert "WAHA Plus" in info.value.message
    assert info.value.code == "endpoint_single_session"
    assert len(gateway.calls) == calls
    assert not Device.objects.filter(tenant=cast.tenant_b).exists()


def test_the_dashboard_explains_a_refused_second_device(cast, gateway):
    assign(cast.tenant_a)
    learn()
    make_core_device(cast, gateway)

    response = client_for(cast.alice, cast.host_a).post(
        "/admin/whatsapp/devices/new", {"name": "Back office"}
    )

    assert response.status_code == 409
    page = response.content.decode()
    assert "runs WAHA Core, which serves one WhatsApp number" in page
    assert "WAHA Plus" in page


def test_an_endpoint_not_yet_probed_learns_it_is_core_from_its_refusal(cast, gateway):
    assign(cast.tenant_a)
    replay(gateway, "real_a08_create_bq")  # 422 only 'default'
    replay(gateway, "real_a02_version")
    replay(gateway, "real_a09_create_default")

    device = services.device_create(tenant=cast.tenant_a, name="Front desk", actor=None)

    assert device.session_name == "default"
    assert EndpointState.objects.get(endpoint_name="Primary").multi_session is False
    assert json.loads(gateway.calls[-1].request.body)["name"] == "default"


def test_deleting_the_core_device_leaves_the_endpoint_ready_for_the_next(cast, gateway):
    assign(cast.tenant_a)
    learn()
    device = make_core_device(cast, gateway)
    replay(gateway, "real_a26_delete")

    services.device_delete(device=device, actor=None)

    gateway.upsert(
        responses.POST,
        f"{PRIMARY}/api/sessions",
        body=recorded("real_a09_create_default").body,
        status=201,
    )
    again = services.device_create(tenant=cast.tenant_a, name="Front desk", actor=None)
    assert again.session_name == "default"
    assert Device.objects.filter(endpoint_name="Primary").count() == 1


def test_waha_plus_keeps_one_session_per_device(cast, gateway):
    assign(cast.tenant_a)
    assign(cast.tenant_b)
    learn(tier="PLUS")

    def created(request):
        name = json.loads(request.body)["name"]
        return 201, {}, json.dumps({"name": name, "status": "STARTING"})

    gateway.add_callback(responses.POST, f"{PRIMARY}/api/sessions", callback=created)
    one = services.device_create(tenant=cast.tenant_a, name="Front desk", actor=None)
    two = services.device_create(tenant=cast.tenant_b, name="Clinic desk", actor=None)

    assert one.session_name != two.session_name
    assert all(d.session_name.startswith("bq-") for d in (one, two))
    assert one.webhook_signed and two.webhook_signed


# --- 3. webhook URLs carry a secret -------------------------------------------------------------


@pytest.fixture
def core_device(cast, gateway):
    assign(cast.tenant_a)
    learn()
    return make_core_device(cast, gateway)


def test_every_recorded_core_delivery_is_accepted_at_the_device_url(core_device):
    for delivery in deliveries(WAHA_CORE):
        response = post(token_url(core_device), delivery.body, delivery.headers)
        assert response.status_code == 200, (delivery.path.name, response.content)
    # id-less statuses that recur are all kept: none was swallowed as a duplicate
    assert WebhookEvent.objects.filter(device=core_device).count() == 40


def test_the_url_token_is_at_least_128_random_bits(core_device):
    # 22 url-safe characters carry 132 bits; ours carry 192
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", core_device.webhook_token)


@pytest.mark.parametrize("tamper", ["wrong", "altered", "bare", "other-device"])
def test_a_delivery_to_a_wrong_or_altered_url_is_refused_and_writes_nothing(
    core_device, cast, tamper
):
    body = deliveries(WAHA_CORE)[0].body
    token = core_device.webhook_token
    url = {
        "wrong": f"/api/whatsapp/webhooks/{core_device.webhook_id}/{'A' * len(token)}",
        "altered": f"/api/whatsapp/webhooks/{core_device.webhook_id}/{token[:-1]}",
        "bare": f"/api/whatsapp/webhooks/{core_device.webhook_id}",
        "other-device": f"/api/whatsapp/webhooks/00000000-0000-4000-8000-000000000000/{token}",
    }[tamper]

    response = post(url, body)

    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"] == "unknown_webhook"
    assert not WebhookEvent.objects.exists()


def test_a_device_on_a_signing_gateway_never_accepts_an_unsigned_delivery(cast, gateway):
    assign(cast.tenant_a)
    learn(tier="PLUS")
    gateway.post(f"{PRIMARY}/api/sessions", status=201, json={"status": "STARTING"})
    device = services.device_create(tenant=cast.tenant_a, name="Front desk", actor=None)
    # Even if the endpoint is later replaced by an unsigned gateway: no downgrade.
    learn(tier="CORE")
    body = waha.encode(waha.inbound_message(device.session_name))

    unsigned = post(token_url(device), body)
    signed = post(token_url(device), body, waha.signed_headers(body, device.webhook_secret))

    assert unsigned.status_code == 401
    assert signed.status_code == 200
    assert WebhookEvent.objects.filter(device=device).count() == 1


def test_a_bad_signature_on_an_unsigned_gateways_delivery_is_still_refused(core_device):
    body = deliveries(WAHA_CORE)[0].body
    response = post(token_url(core_device), body, waha.signed_headers(body, "not-the-secret"))
    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_every_recorded_evolution_delivery_is_accepted_with_its_secret_header(cast, gateway):
    assign(cast.tenant_a, "Secondary")
    device = Device.objects.create(
        tenant=cast.tenant_a,
        name="Evo",
        endpoint_name="Secondary",
        session_name="bq-acme-0123456789ab",
        webhook_secret="s3cret-webhook-value",
        webhook_token="evo-token-" + "e" * 24,
    )
    for delivery in deliveries(EVOLUTION):
        assert post(token_url(device), delivery.body, delivery.headers).status_code == 200
        stripped = {k: v for k, v in delivery.headers.items() if k != "X-Webhook-Secret"}
        assert post(token_url(device), delivery.body, stripped).status_code == 401


def test_the_url_token_never_reaches_a_log_line(core_device, caplog):
    line = f'"POST {token_url(core_device)} HTTP/1.1" 200 30'
    assert core_device.webhook_token not in scrub(line)
    assert str(core_device.webhook_id) in scrub(line)
    logger = logging.getLogger("django.server")
    record = logger.makeRecord("django.server", logging.INFO, __file__, 1, line, (), None)
    RedactSecretsFilter().filter(record)
    assert core_device.webhook_token not in record.getMessage()


def test_a_re_pair_gives_the_device_a_new_url(core_device, gateway):
    old_url = token_url(core_device)
    replay(gateway, "real_a21_logout")
    replay(gateway, "real_a15_get_default")

    services.device_logout(device=core_device, actor=None)

    core_device.refresh_from_db()
    assert token_url(core_device) != old_url
    put = [c for c in gateway.calls if c.request.method == "PUT"][-1]
    assert json.loads(put.request.body)["config"]["webhooks"][0]["url"].endswith(
        token_url(core_device)
    )
    body = deliveries(WAHA_CORE)[0].body
    assert post(old_url, body).status_code == 404
    assert post(token_url(core_device), body).status_code == 200


# --- 4. unsigned statuses are hints; recurring statuses are never swallowed --------------------


def status_delivery(status: str) -> bytes:
    """A WAHA Core session.status delivery exactly as recorded: no id, no timestamp."""
    return json.dumps(
        {
            "event": "session.status",
            "session": "default",
            "metadata": {"device": "dev1"},
            "me": None,
            "payload": {"name": "default", "status": status},
            "engine": "WEBJS",
            "environment": {"version": "2024.10.8", "engine": "WEBJS", "tier": "CORE"},
        },
        separators=(",", ":"),
    ).encode()


def session_answer(status: str) -> dict:
    me = {"id": "6281100000000@c.us", "pushName": "Front desk"} if status == "WORKING" else None
    return {"name": "default", "status": status, "me": me}


def test_an_unsigned_status_is_confirmed_with_the_gateway_before_the_device_changes(
    core_device, gateway
):
    gateway.get(f"{PRIMARY}/api/sessions/default", json=session_answer("STARTING"))

    assert post(token_url(core_device), status_delivery("WORKING")).status_code == 200
    services.webhook_events_process_due()

    core_device.refresh_from_db()
    assert core_device.status == DeviceStatus.STARTING  # the gateway did not confirm it
    assert gateway.calls[-1].request.url == f"{PRIMARY}/api/sessions/default"

    gateway.upsert(responses.GET, f"{PRIMARY}/api/sessions/default", json=session_answer("WORKING"))
    assert post(token_url(core_device), status_delivery("WORKING")).status_code == 200
    services.webhook_events_process_due()

    core_device.refresh_from_db()
    assert (core_device.status, core_device.phone) == (DeviceStatus.CONNECTED, "+6281100000000")


def test_a_recurring_status_with_identical_bodies_always_reaches_the_device(core_device, gateway):
    seen = []
    for status in ("WORKING", "FAILED", "WORKING", "FAILED"):
        gateway.upsert(
            responses.GET, f"{PRIMARY}/api/sessions/default", json=session_answer(status)
        )
        assert post(token_url(core_device), status_delivery(status)).status_code == 200
        services.webhook_events_process_due()
        core_device.refresh_from_db()
        seen.append(core_device.status)

    assert seen == ["connected", "failed", "connected", "failed"]
    assert WebhookEvent.objects.filter(device=core_device, status="processed").count() == 4


def test_a_status_repeating_the_devices_last_one_asks_the_gateway_nothing(core_device, gateway):
    calls = len(gateway.calls)
    assert post(token_url(core_device), status_delivery("STARTING")).status_code == 200
    services.webhook_events_process_due()
    assert len(gateway.calls) == calls
    core_device.refresh_from_db()
    assert core_device.last_event_at is not None


def test_messages_and_acks_without_an_envelope_id_dedupe_on_the_fact(core_device):
    message = waha.inbound_message("default", message_id="3EB0AAAA0001")
    del message["id"]
    body = waha.encode(message)
    for _ in range(3):
        assert post(token_url(core_device), body).status_code == 200
    assert WebhookEvent.objects.filter(device=core_device, kind="message").count() == 1


def test_stored_webhook_events_are_pruned_after_the_retention_period(core_device, settings):
    post(token_url(core_device), status_delivery("STARTING"))
    post(token_url(core_device), status_delivery("FAILED"))
    old, new = WebhookEvent.objects.order_by("id")
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=8))

    assert services.webhook_events_prune() == 1
    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [new.pk]

    settings.WHATSAPP_WEBHOOK_EVENT_RETENTION_DAYS = 30
    WebhookEvent.objects.filter(pk=new.pk).update(received_at=timezone.now() - timedelta(days=8))
    assert services.webhook_events_prune() == 0


# --- 5. no page waits on a gateway --------------------------------------------------------------


def test_the_device_page_renders_from_the_database_and_checks_live_status_asynchronously(
    core_device, cast
):
    with responses.RequestsMock() as nothing_may_be_called:
        response = client_for(cast.alice, cast.host_a).get(
            f"/admin/whatsapp/devices/{core_device.pk}"
        )
        assert len(nothing_may_be_called.calls) == 0
    page = response.content.decode()
    assert response.status_code == 200
    assert "Checking with WhatsApp…" in page
    assert re.search(r'hx-trigger="load[^"]*"', page)


def test_the_dashboard_renders_from_the_database_then_checks_live_status(
    core_device, cast, gateway
):
    client = client_for(cast.alice, cast.host_a)
    calls = len(gateway.calls)
    page = client.get("/admin/whatsapp").content.decode()
    assert len(gateway.calls) == calls
    assert "checking with WhatsApp…" in page
    assert "?live=1" in page

    gateway.get(f"{PRIMARY}/api/sessions/default", json=session_answer("WORKING"))
    live = client.get("/admin/whatsapp?live=1", **HTMX).content.decode()
    assert 'data-status="connected"' in live
    assert "checking with WhatsApp…" not in live

    # the device page (from the database) now says the same thing
    device_page = client.get(f"/admin/whatsapp/devices/{core_device.pk}").content.decode()
    assert 'data-testid="device-badge" data-status="connected"' in device_page


def test_a_hung_gateway_costs_the_live_check_not_the_page(core_device, cast, gateway):
    gateway.get(f"{PRIMARY}/api/sessions/default", body=requests.exceptions.ReadTimeout())
    client = client_for(cast.alice, cast.host_a)
    assert client.get(f"/admin/whatsapp/devices/{core_device.pk}").status_code == 200
    live = client.get(f"/admin/whatsapp/devices/{core_device.pk}", **HTMX).content.decode()
    # The owner reads a plain sentence (issue 11: no gateway names or hosts on tenant pages);
    # the gateway's own reason stays on the device for superadmins and the API.
    assert "Could not refresh the status" in live
    assert "primary.gateway.test" not in live
    core_device.refresh_from_db()
    assert "did not answer within" in core_device.status_detail


def test_the_api_refuses_a_second_core_device_with_the_json_error_shape(cast, gateway):
    assign(cast.tenant_a)
    learn()
    make_core_device(cast, gateway)
    calls = len(gateway.calls)

    response = client_for(cast.alice, cast.host_a, enforce_csrf=False).post(
        "/api/whatsapp/devices", {"name": "Back office"}, content_type="application/json"
    )

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "endpoint_single_session"
    assert "WAHA Plus" in error["message"]
    assert len(gateway.calls) == calls
