"""Tests for the WAHA adapter against recorded payload shapes (HTTP mocked at the requests seam)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
import requests
import responses

from whatsapp.gateways import (
    Ack,
    GatewayError,
    InboundMessage,
    QrCode,
    SessionStatus,
    StatusChange,
    WahaGateway,
    WebhookParseError,
)
from whatsapp.tests.support.adapters import (
    CANARY,
    SECRET,
    assert_no_canary,
    fixture_readers,
    waha_gateway,
)
from whatsapp.tests.support.adapters import FIXTURES as ADAPTER_FIXTURES

BASE = "https://wa.example.com"
FIXTURES = ADAPTER_FIXTURES / "waha"
NOW = 1767225600.0
fixture, raw_fixture = fixture_readers(FIXTURES)


def signed_headers(body: bytes, *, secret: str = SECRET, at: float = NOW) -> dict[str, str]:
    return {
        "X-Webhook-Hmac": hmac.new(secret.encode(), body, hashlib.sha512).hexdigest(),
        "X-Webhook-Hmac-Algorithm": "sha512",
        "X-Webhook-Request-Id": "req_01",
        "X-Webhook-Timestamp": str(int(at * 1000)),
    }


@pytest.fixture
def gw() -> WahaGateway:
    return waha_gateway(BASE, CANARY, "Primary")


class TestHealth:
    def test_it_reports_ok_with_the_version(self, rsps, gw):
        rsps.get(f"{BASE}/ping", json={"message": "pong"})
        rsps.get(f"{BASE}/api/server/version", json=fixture("server_version.json"))
        health = gw.health()
        assert (health.ok, health.version, health.detail) == (True, "2025.11.1", "")

    @pytest.mark.parametrize("status", [401, 403])
    def test_it_reports_a_rejected_key_without_showing_it(self, rsps, gw, status):
        rsps.get(f"{BASE}/ping", json={"message": "pong"})
        rsps.get(f"{BASE}/api/server/version", status=status)
        health = gw.health()
        assert health.ok is False
        assert "key rejected" in health.detail
        assert CANARY not in health.detail

    def test_it_reports_an_unreachable_gateway_instead_of_raising(self, rsps, gw):
        rsps.get(f"{BASE}/ping", body=requests.exceptions.ConnectionError("refused"))
        health = gw.health()
        assert health.ok is False
        assert "could not be reached" in health.detail


class TestSessions:
    def test_it_creates_and_starts_a_session_with_signed_webhooks(self, rsps, gw):
        rsps.post(f"{BASE}/api/sessions", status=201, json=fixture("session_created.json"))
        status = gw.session_create(
            name="t-acme-dev-1",
            webhook_url="https://acme.booqing.test/wa/hook/6f1c",
            webhook_secret=SECRET,
            webhook_retries=7,
            metadata={"tenant": "acme"},
        )
        assert status == SessionStatus(
            name="t-acme-dev-1", status="starting", raw_status="STARTING"
        )
        sent = json.loads(rsps.calls[0].request.body)
        assert sent["start"] is True
        assert sent["config"]["metadata"] == {"tenant": "acme"}
        assert sent["config"]["webhooks"] == [
            {
                "url": "https://acme.booqing.test/wa/hook/6f1c",
                "events": ["message", "message.ack", "session.status"],
                "hmac": {"key": SECRET},
                "retries": {"policy": "exponential", "delaySeconds": 2, "attempts": 7},
            }
        ]

    def test_it_reports_a_duplicate_session_as_permanent(self, rsps, gw):
        rsps.post(f"{BASE}/api/sessions", status=422, json=fixture("error_422_session_exists.json"))
        with pytest.raises(GatewayError) as info:
            gw.session_create(
                name="t-acme-dev-1",
                webhook_url="u",
                webhook_secret="s",
                webhook_retries=3,
                metadata={},
            )
        assert (info.value.code, info.value.permanent) == ("session_exists", True)

    def test_it_reports_other_validation_failures_as_invalid(self, rsps, gw):
        rsps.post(
            f"{BASE}/api/sessions", status=422, json={"message": "webhooks.0.url must be a URL"}
        )
        with pytest.raises(GatewayError) as info:
            gw.session_create(
                name="t-acme-dev-1",
                webhook_url="u",
                webhook_secret="s",
                webhook_retries=3,
                metadata={},
            )
        assert info.value.code == "invalid_request"
        assert "must be a URL" in info.value.message

    @pytest.mark.parametrize("name", ["Acme", "a" * 55, "a/b", "a.b"])
    def test_it_refuses_session_names_waha_cannot_take(self, gw, name):
        with pytest.raises(ValueError):
            gw.session_create(
                name=name, webhook_url="u", webhook_secret="s", webhook_retries=3, metadata={}
            )

    @pytest.mark.parametrize(
        ("raw", "ours"),
        [
            ("STOPPED", "stopped"),
            ("STARTING", "starting"),
            ("SCAN_QR_CODE", "scan_qr"),
            ("PASSKEY_REQUIRED", "action_required"),
            ("PASSKEY_CONFIRMATION_REQUIRED", "action_required"),
            ("WORKING", "connected"),
            ("FAILED", "failed"),
            ("SOMETHING_NEW", "starting"),
        ],
    )
    def test_it_maps_each_session_status(self, rsps, gw, raw, ours):
        rsps.get(f"{BASE}/api/sessions/dev-1", json={"name": "dev-1", "status": raw, "me": None})
        status = gw.session_status("dev-1")
        assert (status.status, status.raw_status, status.phone) == (ours, raw, None)

    def test_it_reads_the_paired_phone_and_name(self, rsps, gw):
        rsps.get(f"{BASE}/api/sessions/t-acme-dev-1", json=fixture("session_working.json"))
        assert gw.session_status("t-acme-dev-1") == SessionStatus(
            name="t-acme-dev-1",
            status="connected",
            phone="+6281100000001",
            push_name="Acme Bookings",
            raw_status="WORKING",
        )

    def test_it_reports_an_unknown_session(self, rsps, gw):
        rsps.get(f"{BASE}/api/sessions/dev-1", status=404)
        with pytest.raises(GatewayError) as info:
            gw.session_status("dev-1")
        assert (info.value.code, info.value.permanent) == ("session_not_found", True)

    def test_it_fetches_the_raw_qr_value(self, rsps, gw):
        rsps.get(
            f"{BASE}/api/dev-1/auth/qr",
            match=[responses.matchers.query_param_matcher({"format": "raw"})],
            json=fixture("qr_raw.json"),
        )
        assert gw.session_qr("dev-1") == QrCode(value=fixture("qr_raw.json")["value"])

    def test_it_says_the_qr_is_not_ready_yet_on_422(self, rsps, gw):
        rsps.get(f"{BASE}/api/dev-1/auth/qr", status=422, json={"message": "status is STARTING"})
        with pytest.raises(GatewayError) as info:
            gw.session_qr("dev-1")
        assert (info.value.code, info.value.permanent) == ("qr_not_ready", False)

    @pytest.mark.parametrize(("action", "verb"), [("restart", "restart"), ("logout", "logout")])
    def test_it_restarts_and_logs_out(self, rsps, gw, action, verb):
        rsps.post(f"{BASE}/api/sessions/dev-1/{verb}", json={"name": "dev-1"})
        assert getattr(gw, f"session_{action}")("dev-1") is None
        assert len(rsps.calls) == 1

    @pytest.mark.parametrize("status", [200, 404])
    def test_it_deletes_idempotently(self, rsps, gw, status):
        rsps.delete(f"{BASE}/api/sessions/dev-1", status=status)
        assert gw.session_delete("dev-1") is None

    def test_it_still_raises_when_delete_fails(self, rsps, gw):
        rsps.delete(f"{BASE}/api/sessions/dev-1", status=500)
        with pytest.raises(GatewayError):
            gw.session_delete("dev-1")


class TestSendText:
    @pytest.mark.parametrize(
        "reply",
        [
            "send_reply_id_string.json",
            "send_reply_id_serialized.json",
            "send_reply_id_id.json",
            "send_reply_key_id.json",
        ],
    )
    def test_it_reads_the_short_id_from_every_reply_shape(self, rsps, gw, reply):
        rsps.post(f"{BASE}/api/sendText", status=201, json=fixture(reply))
        sent = gw.send_text(session="dev-1", phone="+6281234567890", text="Booking confirmed")
        assert sent.message_id == "3EB0A1B2C3D4E5F60718"

    def test_it_treats_an_empty_201_as_sent_with_an_unknown_id(self, rsps, gw):
        rsps.post(f"{BASE}/api/sendText", status=201, body="")
        assert gw.send_text(session="dev-1", phone="+6281234567890", text="hi").message_id is None

    def test_it_addresses_the_chat_by_phone_digits(self, rsps, gw):
        rsps.post(f"{BASE}/api/sendText", status=201, json={"id": "x"})
        gw.send_text(session="dev-1", phone="+6281234567890", text="Halo", timeout=2.5)
        call = rsps.calls[0].request
        assert json.loads(call.body) == {
            "session": "dev-1",
            "chatId": "6281234567890@c.us",
            "text": "Halo",
        }
        assert call.req_kwargs["timeout"] == (2.5, 2.5)

    def test_it_refuses_a_phone_that_is_not_e164(self, gw):
        with pytest.raises(ValueError):
            gw.send_text(session="dev-1", phone="0812-345", text="hi")

    def test_it_reports_a_session_that_is_not_connected_as_permanent(self, rsps, gw):
        rsps.post(f"{BASE}/api/sendText", status=422, json=fixture("error_422_not_working.json"))
        with pytest.raises(GatewayError) as info:
            gw.send_text(session="dev-1", phone="+6281234567890", text="hi")
        assert (info.value.code, info.value.permanent) == ("session_not_ready", True)

    def test_it_tells_the_operator_the_key_is_wrong_without_showing_it(self, rsps, gw):
        rsps.post(f"{BASE}/api/sendText", status=401, json={"message": f"bad key {CANARY}"})
        with pytest.raises(GatewayError) as info:
            gw.send_text(session="dev-1", phone="+6281234567890", text="hi")
        assert info.value.message == (
            "Gateway 'Primary' (wa.example.com) answered 401 Unauthorized: "
            "check the endpoint's apiKey"
        )
        assert (info.value.permanent, info.value.code) == (True, "unauthorized")
        assert_no_canary(info.value)

    def test_it_treats_a_send_timeout_as_transient(self, rsps, gw):
        rsps.post(f"{BASE}/api/sendText", body=requests.exceptions.ReadTimeout())
        with pytest.raises(GatewayError) as info:
            gw.send_text(session="dev-1", phone="+6281234567890", text="hi")
        assert (info.value.permanent, info.value.code) == (False, "timeout")
        assert_no_canary(info.value)

    def test_it_treats_a_500_as_transient_and_a_400_as_permanent(self, rsps, gw):
        rsps.post(f"{BASE}/api/sendText", status=500)
        rsps.post(f"{BASE}/api/sendText", status=400, json={"message": "chatId is invalid"})
        with pytest.raises(GatewayError) as first:
            gw.send_text(session="dev-1", phone="+6281234567890", text="hi")
        with pytest.raises(GatewayError) as second:
            gw.send_text(session="dev-1", phone="+6281234567890", text="hi")
        assert first.value.permanent is False
        assert second.value.permanent is True
        assert "chatId is invalid" in second.value.message

    def test_it_passes_on_retry_after_when_throttled(self, rsps, gw):
        rsps.post(f"{BASE}/api/sendText", status=429, headers={"Retry-After": "30"})
        with pytest.raises(GatewayError) as info:
            gw.send_text(session="dev-1", phone="+6281234567890", text="hi")
        assert (info.value.permanent, info.value.retry_after) == (False, 30.0)


class TestVerifyWebhook:
    body = raw_fixture("webhook_message.json")

    def test_it_accepts_a_fresh_correctly_signed_body(self, gw):
        headers = signed_headers(self.body)
        assert gw.verify_webhook(body=self.body, headers=headers, secret=SECRET, now=NOW + 5)

    def test_it_accepts_django_style_lowercase_headers(self, gw):
        headers = {k.lower(): v for k, v in signed_headers(self.body).items()}
        assert gw.verify_webhook(body=self.body, headers=headers, secret=SECRET, now=NOW)

    def test_it_rejects_a_body_tampered_by_one_byte(self, gw):
        tampered = bytearray(self.body)
        tampered[40] ^= 0x01
        headers = signed_headers(self.body)
        assert not gw.verify_webhook(body=bytes(tampered), headers=headers, secret=SECRET, now=NOW)

    def test_it_rejects_another_devices_secret(self, gw):
        headers = signed_headers(self.body, secret="other-device")
        assert not gw.verify_webhook(body=self.body, headers=headers, secret=SECRET, now=NOW)

    @pytest.mark.parametrize("skew", [-301, 301, -3600])
    def test_it_rejects_stale_and_future_timestamps(self, gw, skew):
        headers = signed_headers(self.body, at=NOW + skew)
        assert not gw.verify_webhook(body=self.body, headers=headers, secret=SECRET, now=NOW)

    @pytest.mark.parametrize(
        "broken",
        [
            {"X-Webhook-Timestamp": "yesterday"},
            {"X-Webhook-Timestamp": ""},
            {"X-Webhook-Timestamp": None},
            {"X-Webhook-Timestamp": "1e400"},
            {"X-Webhook-Hmac": "zz-not-hex"},
            {"X-Webhook-Hmac": "ünïcödé"},
            {"X-Webhook-Hmac": b"\xff\xfe"},
            {"X-Webhook-Hmac": None},
            {"X-Webhook-Hmac": ""},
        ],
    )
    def test_it_rejects_garbage_headers_without_raising(self, gw, broken):
        headers = {**signed_headers(self.body), **broken}
        assert gw.verify_webhook(body=self.body, headers=headers, secret=SECRET, now=NOW) is False

    def test_it_rejects_everything_when_no_secret_is_configured(self, gw):
        headers = signed_headers(self.body, secret="")
        assert not gw.verify_webhook(body=self.body, headers=headers, secret="", now=NOW)


EXPECTED = {
    "webhook_message.json": [
        InboundMessage(
            event_id="evt_01jf3n6vq8x2k7d9m4r5t0w1ya",
            message_id="3EB0C431B0E6D1A2F7AA",
            session="t-acme-dev-1",
            sender="6281234567890@c.us",
            phone="+6281234567890",
            push_name="Budi Santoso",
            body="Halo, mau booking jam 3 sore besok",
            # The whole second, refined by the envelope's millisecond event time (.123).
            timestamp=datetime(2026, 1, 1, 0, 0, 0, 123000, tzinfo=UTC),
        )
    ],
    "webhook_message_lid.json": [
        InboundMessage(
            event_id="evt_01jf3n7c2a5b8e1h4k7n0q3t6w",
            message_id="3EB0AA11BB22CC33DD44",
            session="t-acme-dev-1",
            sender="123456789012345@lid",
            phone=None,
            push_name="Sari",
            body="Is there a slot on Saturday?",
            timestamp=datetime(2026, 1, 1, 0, 1, 0, 456000, tzinfo=UTC),
            lid="123456789012345@lid",
        )
    ],
    "webhook_message_media.json": [
        InboundMessage(
            event_id="evt_01jf3n8d9f2g5j8m1p4s7v0y3b",
            message_id="3EB05F0E9A8B7C6D5E4F",
            session="t-acme-dev-1",
            sender="6281234567890@c.us",
            phone="+6281234567890",
            push_name="Budi Santoso",
            body="Bukti transfer",
            timestamp=datetime(2026, 1, 1, 0, 2, 0, 789000, tzinfo=UTC),
            has_media=True,
        )
    ],
    "webhook_message_from_me.json": [],
    "webhook_message_group.json": [],
    "webhook_message_ack_read.json": [
        Ack(
            event_id="evt_01jf3nbh2j5k8n1q4t7w0z3c6f",
            message_id="3EB0FFEE00112233AABB",
            session="t-acme-dev-1",
            status="read",
        )
    ],
    "webhook_message_ack_pending.json": [],
    "webhook_session_status_working.json": [
        StatusChange(
            event_id="evt_01jf3ndj4m7n0q3s6v9y2b5e8h",
            session="t-acme-dev-1",
            status="connected",
            phone="+6281100000001",
            push_name="Acme Bookings",
        )
    ],
    "webhook_session_status_scan_qr.json": [
        StatusChange(
            event_id="evt_01jf3nek5n8p1r4t7w0z3c6f9j", session="t-acme-dev-1", status="scan_qr"
        )
    ],
    "webhook_unknown_event.json": [],
}


class TestParseWebhook:
    def test_it_has_an_expectation_for_every_recorded_webhook(self):
        assert {p.name for p in FIXTURES.glob("webhook_*.json")} == set(EXPECTED)

    @pytest.mark.parametrize("name", sorted(EXPECTED))
    def test_it_replays_recorded_webhooks(self, gw, name):
        assert gw.parse_webhook(raw_fixture(name)) == EXPECTED[name]

    @pytest.mark.parametrize(
        ("ack_name", "ours"),
        [
            ("SERVER", "sent"),
            ("DEVICE", "delivered"),
            ("READ", "read"),
            ("PLAYED", "read"),
            ("ERROR", "failed"),
        ],
    )
    def test_it_maps_each_ack(self, gw, ack_name, ours):
        envelope = fixture("webhook_message_ack_read.json")
        envelope["payload"]["ackName"] = ack_name
        [ack] = gw.parse_webhook(json.dumps(envelope).encode())
        assert ack.status == ours

    def test_it_falls_back_to_the_numeric_ack(self, gw):
        envelope = fixture("webhook_message_ack_read.json")
        del envelope["payload"]["ackName"]
        envelope["payload"]["ack"] = 2
        assert gw.parse_webhook(json.dumps(envelope).encode())[0].status == "delivered"

    @pytest.mark.parametrize(
        ("raw", "ours"),
        [
            ("STOPPED", "stopped"),
            ("STARTING", "starting"),
            ("SCAN_QR_CODE", "scan_qr"),
            ("PASSKEY_REQUIRED", "action_required"),
            ("WORKING", "connected"),
            ("FAILED", "failed"),
        ],
    )
    def test_it_maps_each_session_status_event(self, gw, raw, ours):
        envelope = fixture("webhook_session_status_scan_qr.json")
        envelope["payload"]["status"] = raw
        assert gw.parse_webhook(json.dumps(envelope).encode())[0].status == ours

    def test_it_gives_an_envelope_without_id_a_stable_event_id(self, gw):
        envelope = fixture("webhook_message.json")
        del envelope["id"]
        body = json.dumps(envelope).encode()
        first, again = gw.parse_webhook(body)[0], gw.parse_webhook(body)[0]
        assert first.event_id == again.event_id == "waha:t-acme-dev-1:message:3EB0C431B0E6D1A2F7AA"

    @pytest.mark.parametrize(
        "body",
        [
            b"not json",
            b"",
            b"[]",
            b'"message"',
            b'{"session": "s", "payload": {}}',
            b'{"event": "message", "payload": {}}',
            b'{"event": "message", "session": "s", "payload": []}',
            b'{"event": "message", "session": "s", "payload": {"from": "1@c.us"}}',
            b'{"event": "message.ack", "session": "s", "payload": {"ackName": "READ"}}',
        ],
    )
    def test_it_rejects_malformed_bodies(self, gw, body):
        with pytest.raises(WebhookParseError):
            gw.parse_webhook(body)
