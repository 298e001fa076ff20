"""The gateway webhook refuses anything not signed by the device's gateway, and writes nothing
when it refuses: tampered, stale, replayed from another device, oversized or malformed bodies."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tenants.test import client_for
from whatsapp.models import Device, DeviceStatus, Message, TenantWhatsAppConfig, WebhookEvent
from whatsapp.tests.factories import make_device
from whatsapp.tests.support import waha_webhooks as waha
from whatsapp.tests.support.waha_webhooks import url

pytestmark = pytest.mark.django_db

SECRET = "per-device-secret-front-desk"
OTHER_SECRET = "per-device-secret-back-office"
EVOLUTION_SECRET = "per-device-secret-evolution"


@pytest.fixture
def device(cast):
    TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")
    return make_device(cast.tenant_a, "Front desk", secret=SECRET)


@pytest.fixture
def other_device(cast):
    TenantWhatsAppConfig.objects.create(tenant=cast.tenant_b, endpoint_name="Primary")
    return make_device(cast.tenant_b, "Back office", secret=OTHER_SECRET)


@pytest.fixture
def client():
    # Gateways call the platform host; CSRF is enforced as for any browser-less POST.
    return client_for(enforce_csrf=True)


def message_body(session: str, *, event_id: str | None = None, text: str = "Hello") -> bytes:
    return waha.encode(waha.inbound_message(session, event_id=event_id, text=text))


def signature(body: bytes, secret: str = SECRET) -> str:
    return waha.signature(body, secret)


def signed_headers(body: bytes, secret: str = SECRET, *, at: float | None = None) -> dict:
    return waha.signed_headers(body, secret, at=at)


def post(client, target, body: bytes, headers: dict | None = None):
    return client.post(
        url(target), data=body, content_type="application/json", headers=headers or {}
    )


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    error = response.json()["error"]
    assert error["code"] and error["message"]
    return error


def assert_nothing_written() -> None:
    assert WebhookEvent.objects.count() == 0
    assert Message.objects.count() == 0


def flip(text: str, index: int) -> str:
    replacement = "0" if text[index] != "0" else "1"
    return text[:index] + replacement + text[index + 1 :]


# -- accepted -------------------------------------------------------------------------------------


def test_it_stores_a_signed_delivery_once(client, device):
    body = message_body(device.session_name)
    response = post(client, device, body, signed_headers(body))
    assert response.status_code == 200
    assert response.json() == {"ok": True, "events": 1}
    event = WebhookEvent.objects.get()
    assert (event.device_id, event.kind, event.status) == (device.pk, "message", "pending")


def test_it_stores_the_same_delivery_twice_as_one_event(client, device):
    body = message_body(device.session_name)
    assert post(client, device, body, signed_headers(body)).status_code == 200
    # A gateway retry: same bytes, a fresh timestamp and request id.
    assert post(client, device, body, signed_headers(body)).status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_it_accepts_an_upper_case_signature(client, device):
    body = message_body(device.session_name)
    headers = signed_headers(body)
    headers["X-Webhook-Hmac"] = headers["X-Webhook-Hmac"].upper()
    assert post(client, device, body, headers).status_code == 200


# -- refused: 401 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 64, 127])
def test_it_refuses_a_signature_tampered_by_one_character(client, device, index):
    body = message_body(device.session_name)
    headers = signed_headers(body)
    headers["X-Webhook-Hmac"] = flip(headers["X-Webhook-Hmac"], index)
    assert_error(post(client, device, body, headers), 401)
    assert_nothing_written()


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_it_refuses_a_body_tampered_by_one_byte(client, device, where):
    body = message_body(device.session_name, text="Pay 100000")
    headers = signed_headers(body)
    index = {"start": 0, "middle": body.index(b"100000"), "end": len(body) - 1}[where]
    tampered = bytearray(body)
    tampered[index] ^= 0x01
    assert_error(post(client, device, bytes(tampered), headers), 401)
    assert_nothing_written()


@pytest.mark.parametrize("offset", [-301, -3600, 301, 86400], ids=["5m", "1h", "+5m", "+1d"])
def test_it_refuses_a_stale_or_future_timestamp(client, device, offset):
    body = message_body(device.session_name)
    assert_error(post(client, device, body, signed_headers(body, at=time.time() + offset)), 401)
    assert_nothing_written()


def test_it_refuses_a_body_signed_with_another_devices_secret(client, device, other_device):
    body = message_body(device.session_name)
    assert_error(post(client, device, body, signed_headers(body, OTHER_SECRET)), 401)
    # ...and another device's valid delivery replayed to this device's URL.
    other_body = message_body(other_device.session_name)
    assert_error(post(client, device, other_body, signed_headers(other_body, OTHER_SECRET)), 401)
    assert_nothing_written()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda h: h.pop("X-Webhook-Hmac"),
        lambda h: h.pop("X-Webhook-Timestamp"),
        lambda h: h.clear(),
        lambda h: h.update({"X-Webhook-Hmac": ""}),
        lambda h: h.update({"X-Webhook-Hmac": "not hex at all"}),
        lambda h: h.update({"X-Webhook-Hmac": "sha512=" + h["X-Webhook-Hmac"]}),
        lambda h: h.update({"X-Webhook-Hmac": h["X-Webhook-Hmac"][:64]}),
        lambda h: h.update({"X-Webhook-Hmac": "é" * 128}),
        lambda h: h.update({"X-Webhook-Timestamp": "yesterday"}),
        lambda h: h.update({"X-Webhook-Timestamp": ""}),
        lambda h: h.update({"X-Webhook-Timestamp": "nan"}),
        lambda h: h.update({"X-Webhook-Timestamp": "9" * 400}),
        lambda h: h.update({"X-Webhook-Timestamp": "-1"}),
        lambda h: h.update({"X-Webhook-Timestamp": "1e3"}),
    ],
    ids=[
        "no-signature",
        "no-timestamp",
        "no-headers",
        "empty-signature",
        "garbage-signature",
        "prefixed-signature",
        "short-signature",
        "non-ascii-signature",
        "word-timestamp",
        "empty-timestamp",
        "nan-timestamp",
        "huge-timestamp",
        "negative-timestamp",
        "float-timestamp",
    ],
)
def test_it_refuses_missing_or_garbage_signature_headers(client, device, mutate):
    body = message_body(device.session_name)
    headers = signed_headers(body)
    mutate(headers)
    assert_error(post(client, device, body, headers), 401)
    assert_nothing_written()


def test_it_refuses_an_unsigned_body_before_reading_it_as_json(client, device):
    assert_error(post(client, device, b"[" * 100_000), 401)
    assert_nothing_written()


# -- refused: bad bodies --------------------------------------------------------------------------


def test_it_refuses_a_3_mb_body_even_when_signed(client, device):
    body = message_body(device.session_name, text="x" * (3 * 1024 * 1024))
    error = assert_error(post(client, device, body, signed_headers(body)), 413)
    assert "limited" in error["message"]
    assert_nothing_written()


def test_it_refuses_deeply_nested_json(client, device):
    body = b"[" * 100_000
    error = assert_error(post(client, device, body, signed_headers(body)), 400)
    assert error["code"] == "malformed_webhook"
    assert_nothing_written()


def test_it_refuses_deeply_nested_json_inside_a_valid_envelope(client, device):
    envelope = message_body(device.session_name)
    body = envelope[:-1] + b',"extra":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert_error(post(client, device, body, signed_headers(body)), 400)
    assert_nothing_written()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00garbage",
        b"[]",
        b"null",
        b'"message"',
        b'{"event": "message"}',
        b'{"event": "message", "session": "s", "payload": []}',
        b'{"event": "message", "session": "s", "payload": {"from": "1@c.us"}}',
        b'{"event": 7, "session": "s", "payload": {}}',
    ],
    ids=[
        "empty",
        "text",
        "binary",
        "array",
        "null",
        "string",
        "no-session",
        "payload-list",
        "no-message-id",
        "event-number",
    ],
)
def test_it_refuses_a_signed_body_that_is_not_a_gateway_event(client, device, body):
    error = assert_error(post(client, device, body, signed_headers(body)), 400)
    assert error["code"] == "malformed_webhook"
    assert_nothing_written()


# -- refused: wrong address or method -------------------------------------------------------------


def test_it_answers_404_for_an_unknown_webhook_id(client, device):
    body = message_body(device.session_name)
    assert_error(post(client, uuid.uuid4(), body, signed_headers(body)), 404)
    assert_error(post(client, "not-a-uuid", body, signed_headers(body)), 404)
    assert_nothing_written()


def test_it_answers_404_once_the_devices_endpoint_left_the_configuration(
    client, device, monkeypatch
):
    monkeypatch.setenv("WHATSAPP_ENDPOINTS", "[]")
    body = message_body(device.session_name)
    assert_error(post(client, device, body, signed_headers(body)), 404)
    assert_nothing_written()


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_it_answers_405_to_anything_but_post(client, device, method):
    response = getattr(client, method)(url(device))
    error = assert_error(response, 405)
    assert error["code"] == "method_not_allowed"
    assert "POST" in response["Allow"]
    assert_nothing_written()


# -- Evolution API devices: a per-device secret header ---------------------------------------------


@pytest.fixture
def evolution_device(cast):
    TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Secondary")
    return make_device(
        cast.tenant_a, "Evolution desk", secret=EVOLUTION_SECRET, endpoint="Secondary"
    )


def evolution_body(instance: str) -> bytes:
    envelope = {
        "event": "messages.upsert",
        "instance": instance,
        "data": {
            "key": {
                "remoteJid": "6281234567890@s.whatsapp.net",
                "fromMe": False,
                "id": f"3EB0{uuid.uuid4().hex[:12].upper()}",
            },
            "pushName": "Budi",
            "message": {"conversation": "Hello"},
            "messageTimestamp": int(time.time()),
        },
        "date_time": "2026-01-01T10:00:00.000Z",
        "sender": "6281100000000@s.whatsapp.net",
        "server_url": "https://secondary.gateway.test:8443",
    }
    return json.dumps(envelope).encode()


def test_it_stores_an_evolution_delivery_with_the_right_secret_header_once(
    client, evolution_device
):
    body = evolution_body(evolution_device.session_name)
    headers = {"X-Webhook-Secret": EVOLUTION_SECRET}
    assert post(client, evolution_device, body, headers).status_code == 200
    assert post(client, evolution_device, body, headers).status_code == 200
    assert WebhookEvent.objects.filter(device=evolution_device, kind="message").count() == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Webhook-Secret": ""},
        {"X-Webhook-Secret": EVOLUTION_SECRET[:-1]},
        {"X-Webhook-Secret": EVOLUTION_SECRET + "x"},
        {"X-Webhook-Secret": SECRET},
        {"X-Webhook-Secret": "é" * 20},
        {"Authorization": f"Bearer {EVOLUTION_SECRET}"},
    ],
    ids=["none", "empty", "short", "long", "another-device", "non-ascii", "elsewhere"],
)
def test_it_refuses_an_evolution_delivery_without_its_secret(client, evolution_device, headers):
    body = evolution_body(evolution_device.session_name)
    assert_error(post(client, evolution_device, body, headers), 401)
    assert_nothing_written()


def test_it_refuses_a_waha_signature_on_an_evolution_device(client, evolution_device):
    body = evolution_body(evolution_device.session_name)
    assert_error(post(client, evolution_device, body, signed_headers(body, EVOLUTION_SECRET)), 401)
    assert_nothing_written()


# -- accepted status events are applied in the order the gateway emitted them ----------------------

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid_event_id(at_ms: int, *, lower: bool = False) -> str:
    """evt_<ULID> as WAHA sends it: 48-bit milliseconds, then 80 random bits, base32."""
    value = (at_ms << 80) | uuid.uuid4().int >> 48
    chars = "".join(CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))
    return "evt_" + (chars.lower() if lower else chars)


def status_body(session: str, status: str, event_id: str) -> bytes:
    me = {"id": "6281100000000@c.us", "pushName": "Acme"} if status == "WORKING" else None
    envelope = {
        "id": event_id,
        "timestamp": int(time.time() * 1000),
        "event": "session.status",
        "session": session,
        "me": me,
        "payload": {"name": session, "status": status},
    }
    return json.dumps(envelope).encode()


def deliver_status(client, device, status: str, at_ms: int, *, lower: bool = False) -> None:
    body = status_body(device.session_name, status, ulid_event_id(at_ms, lower=lower))
    assert post(client, device, body, signed_headers(body)).status_code == 200


def process_all() -> None:
    from whatsapp import services

    while services.webhook_events_process_due():
        pass


@pytest.mark.parametrize("lower", [False, True], ids=["upper-ulid", "lower-ulid"])
def test_it_keeps_a_paired_device_connected_when_an_older_status_arrives_late(
    client, device, lower
):
    Device.objects.filter(pk=device.pk).update(status=DeviceStatus.STARTING)
    t0 = int(time.time() * 1000)
    deliver_status(client, device, "SCAN_QR_CODE", t0 + 50, lower=lower)
    deliver_status(client, device, "WORKING", t0 + 900, lower=lower)
    process_all()
    # The gateway's first event (STARTING) failed to reach us and is retried last.
    deliver_status(client, device, "STARTING", t0, lower=lower)
    process_all()

    device.refresh_from_db()
    assert device.status == DeviceStatus.CONNECTED
    assert device.phone == "+6281100000000"
    assert not WebhookEvent.objects.exclude(status="processed").exists()


def test_it_applies_a_logout_that_follows_working_in_the_same_batch(client, device):
    Device.objects.filter(pk=device.pk).update(status=DeviceStatus.SCAN_QR)
    t0 = int(time.time() * 1000)
    deliver_status(client, device, "WORKING", t0)
    deliver_status(client, device, "SCAN_QR_CODE", t0 + 500)  # unlinked on the phone
    process_all()

    device.refresh_from_db()
    assert device.status == DeviceStatus.SCAN_QR
