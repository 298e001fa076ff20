"""Tests for the Evolution API adapter against recorded payload shapes (HTTP mocked at requests)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests
import responses

from whatsapp.gateways import (
    Ack,
    EvolutionGateway,
    GatewayError,
    InboundMessage,
    QrCode,
    SessionStatus,
    StatusChange,
    WebhookParseError,
)
from whatsapp.tests.support.adapters import (
    CANARY,
    SECRET,
    assert_no_canary,
    evolution_gateway,
    fixture_readers,
)
from whatsapp.tests.support.adapters import FIXTURES as ADAPTER_FIXTURES

BASE = "https://evo.example.com"
FIXTURES = ADAPTER_FIXTURES / "evolution"
fixture, raw_fixture = fixture_readers(FIXTURES)
# Evolution's connection states and ours, as its status call and its webhooks both report them.
CONNECTION_STATES = [
    ("open", "connected"),
    ("connecting", "starting"),
    ("close", "stopped"),
    ("refused", "failed"),
]
PNG_1PX = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5E"
    "rkJggg=="
)


@pytest.fixture
def gw() -> EvolutionGateway:
    return evolution_gateway(BASE, CANARY)


def create(gw: EvolutionGateway) -> SessionStatus:
    return gw.session_create(
        name="t-acme-dev-2",
        webhook_url="https://acme.booqing.test/wa/hook/2b7e",
        webhook_secret=SECRET,
        webhook_retries=10,
        metadata={"tenant": "acme"},
    )


class TestHealth:
    def test_it_reports_ok_with_one_call_that_checks_the_key(self, rsps, gw):
        # GET / fetches web.whatsapp.com on every call (seconds): health never asks it; the
        # version comes from the hourly capability probe instead.
        rsps.post(f"{BASE}/verify-creds", json={"status": 200, "message": "Credentials are valid"})
        health = gw.health()
        assert health.ok is True
        assert len(rsps.calls) == 1
        assert rsps.calls[0].request.headers["apikey"] == CANARY

    def test_it_reports_a_rejected_key_without_showing_it(self, rsps, gw):
        rsps.post(f"{BASE}/verify-creds", status=401, json={"message": "Unauthorized"})
        health = gw.health()
        assert health.ok is False
        assert "key rejected" in health.detail
        assert CANARY not in health.detail

    def test_it_reports_a_slow_gateway_instead_of_raising(self, rsps, gw):
        rsps.post(f"{BASE}/verify-creds", body=requests.exceptions.ReadTimeout())
        health = gw.health()
        assert health.ok is False
        assert "did not answer within 10s" in health.detail


class TestInstances:
    def test_it_creates_an_instance_with_a_secret_header_webhook(self, rsps, gw):
        rsps.post(f"{BASE}/instance/create", status=201, json=fixture("instance_create.json"))
        assert create(gw) == SessionStatus(
            name="t-acme-dev-2", status="scan_qr", raw_status="connecting"
        )
        sent = json.loads(rsps.calls[0].request.body)
        assert sent["instanceName"] == "t-acme-dev-2"
        assert sent["integration"] == "WHATSAPP-BAILEYS"
        assert sent["qrcode"] is True
        assert sent["webhook"] == {
            "url": "https://acme.booqing.test/wa/hook/2b7e",
            "byEvents": False,
            "base64": False,
            "headers": {"X-Webhook-Secret": SECRET},
            "events": ["MESSAGES_UPSERT", "MESSAGES_UPDATE", "CONNECTION_UPDATE", "QRCODE_UPDATED"],
        }
        assert len(sent["token"]) >= 32 and sent["token"] != CANARY

    def test_it_uses_a_different_instance_token_each_time(self, rsps, gw):
        rsps.post(f"{BASE}/instance/create", status=201, json={"instance": {"status": "created"}})
        rsps.post(f"{BASE}/instance/create", status=201, json={"instance": {"status": "created"}})
        assert create(gw).status == "starting"
        create(gw)
        tokens = {json.loads(c.request.body)["token"] for c in rsps.calls}
        assert len(tokens) == 2

    def test_it_reports_a_duplicate_instance_as_permanent(self, rsps, gw):
        rsps.post(
            f"{BASE}/instance/create", status=403, json=fixture("error_403_instance_exists.json")
        )
        with pytest.raises(GatewayError) as info:
            create(gw)
        assert (info.value.code, info.value.permanent) == ("session_exists", True)

    @pytest.mark.parametrize(("state", "ours"), CONNECTION_STATES)
    def test_it_maps_each_connection_state(self, rsps, gw, state, ours):
        rsps.get(
            f"{BASE}/instance/connectionState/dev-2",
            json={"instance": {"instanceName": "dev-2", "state": state}},
        )
        if state == "open":
            rsps.get(f"{BASE}/instance/fetchInstances", json=[])
        status = gw.session_status("dev-2")
        assert (status.status, status.raw_status) == (ours, state)

    def test_it_reads_the_paired_phone_of_an_open_instance(self, rsps, gw):
        rsps.get(
            f"{BASE}/instance/connectionState/t-acme-dev-2",
            json=fixture("connection_state_open.json"),
        )
        rsps.get(
            f"{BASE}/instance/fetchInstances",
            match=[responses.matchers.query_param_matcher({"instanceName": "t-acme-dev-2"})],
            json=fixture("fetch_instances.json"),
        )
        assert gw.session_status("t-acme-dev-2") == SessionStatus(
            name="t-acme-dev-2",
            status="connected",
            phone="+6281100000002",
            push_name="Acme Bookings 2",
            raw_status="open",
        )

    def test_it_still_reports_connected_when_the_phone_lookup_fails(self, rsps, gw):
        rsps.get(
            f"{BASE}/instance/connectionState/t-acme-dev-2",
            json=fixture("connection_state_open.json"),
        )
        rsps.get(f"{BASE}/instance/fetchInstances", status=500)
        status = gw.session_status("t-acme-dev-2")
        assert (status.status, status.phone) == ("connected", None)

    def test_it_reports_an_unknown_instance(self, rsps, gw):
        rsps.get(f"{BASE}/instance/connectionState/dev-2", status=404)
        with pytest.raises(GatewayError) as info:
            gw.session_status("dev-2")
        assert (info.value.code, info.value.permanent) == ("session_not_found", True)

    def test_it_returns_the_raw_qr_and_its_image(self, rsps, gw):
        rsps.get(f"{BASE}/instance/connect/dev-2", json=fixture("connect_qr.json"))
        assert gw.session_qr("dev-2") == QrCode(
            value=fixture("connect_qr.json")["code"], image_base64=PNG_1PX, mimetype="image/png"
        )

    def test_it_says_the_qr_is_not_ready_when_no_code_came_back(self, rsps, gw):
        rsps.get(f"{BASE}/instance/connect/dev-2", json=fixture("connect_already_open.json"))
        with pytest.raises(GatewayError) as info:
            gw.session_qr("dev-2")
        assert (info.value.code, info.value.permanent) == ("qr_not_ready", False)

    def test_it_restarts_logs_out_and_deletes(self, rsps, gw):
        rsps.post(f"{BASE}/instance/restart/dev-2", json={"status": "SUCCESS"})
        rsps.delete(f"{BASE}/instance/logout/dev-2", json={"status": "SUCCESS"})
        rsps.delete(f"{BASE}/instance/delete/dev-2", json={"status": "SUCCESS"})
        gw.session_restart("dev-2")
        gw.session_logout("dev-2")
        gw.session_delete("dev-2")
        assert [c.request.method for c in rsps.calls] == ["POST", "DELETE", "DELETE"]

    def test_it_treats_deleting_a_missing_instance_as_done(self, rsps, gw):
        rsps.delete(f"{BASE}/instance/delete/dev-2", status=404)
        assert gw.session_delete("dev-2") is None


class TestSendText:
    def test_it_sends_digits_and_returns_the_key_id(self, rsps, gw):
        rsps.post(f"{BASE}/message/sendText/dev-2", status=201, json=fixture("send_reply.json"))
        sent = gw.send_text(session="dev-2", phone="+6281234567890", text="Booking confirmed")
        assert sent.message_id == "3EB0A1B2C3D4E5F60718"
        assert json.loads(rsps.calls[0].request.body) == {
            "number": "6281234567890",
            "text": "Booking confirmed",
        }

    def test_it_treats_an_empty_201_as_sent_with_an_unknown_id(self, rsps, gw):
        rsps.post(f"{BASE}/message/sendText/dev-2", status=201, body="")
        assert gw.send_text(session="dev-2", phone="+6281234567890", text="hi").message_id is None

    def test_it_says_when_a_number_is_not_on_whatsapp(self, rsps, gw):
        rsps.post(
            f"{BASE}/message/sendText/dev-2",
            status=400,
            json=fixture("error_400_not_on_whatsapp.json"),
        )
        with pytest.raises(GatewayError) as info:
            gw.send_text(session="dev-2", phone="+6280000000000", text="hi")
        assert (info.value.code, info.value.permanent) == ("not_on_whatsapp", True)
        assert "number is not on WhatsApp" in info.value.message

    def test_it_reports_other_400s_as_permanent_with_the_reason(self, rsps, gw):
        rsps.post(
            f"{BASE}/message/sendText/dev-2",
            status=400,
            json={"status": 400, "response": {"message": ["text is required"]}},
        )
        with pytest.raises(GatewayError) as info:
            gw.send_text(session="dev-2", phone="+6281234567890", text="")
        assert (info.value.code, info.value.permanent) == ("invalid_request", True)
        assert "text is required" in info.value.message

    def test_it_tells_the_operator_the_key_is_wrong_without_showing_it(self, rsps, gw):
        rsps.post(f"{BASE}/message/sendText/dev-2", status=401, json={"apikey": CANARY})
        with pytest.raises(GatewayError) as info:
            gw.send_text(session="dev-2", phone="+6281234567890", text="hi")
        assert "check the endpoint's apiKey" in info.value.message
        assert_no_canary(info.value)

    def test_it_treats_a_timeout_and_a_500_as_transient(self, rsps, gw):
        rsps.post(f"{BASE}/message/sendText/dev-2", body=requests.exceptions.ConnectTimeout())
        rsps.post(f"{BASE}/message/sendText/dev-2", status=500, json={"message": "disk full"})
        for _ in range(2):
            with pytest.raises(GatewayError) as info:
                gw.send_text(session="dev-2", phone="+6281234567890", text="hi")
            assert info.value.permanent is False
            assert "disk full" not in info.value.message
            assert_no_canary(info.value)

    def test_a_500_connection_closed_means_the_session_is_not_ready(self, rsps, gw):
        # Evolution 2.3.6 answers this while unpaired (gateways-recorded b10): the sender
        # waits for the session instead of failing the message.
        rsps.post(
            f"{BASE}/message/sendText/dev-2", status=500, json={"message": "Connection Closed"}
        )
        with pytest.raises(GatewayError) as info:
            gw.send_text(session="dev-2", phone="+6281234567890", text="hi")
        assert info.value.code == "session_not_ready"

    def test_it_passes_on_retry_after_when_throttled(self, rsps, gw):
        rsps.post(f"{BASE}/message/sendText/dev-2", status=429, headers={"Retry-After": "5"})
        with pytest.raises(GatewayError) as info:
            gw.send_text(session="dev-2", phone="+6281234567890", text="hi")
        assert (info.value.code, info.value.retry_after) == ("rate_limited", 5.0)


class TestVerifyWebhook:
    body = raw_fixture("webhook_messages_upsert.json")

    @pytest.mark.parametrize(
        "headers",
        [
            {"X-Webhook-Secret": SECRET},
            {"x-webhook-secret": SECRET},
            {"HTTP_X_WEBHOOK_SECRET": SECRET},
        ],
    )
    def test_it_accepts_the_devices_secret_header(self, gw, headers):
        assert gw.verify_webhook(body=self.body, headers=headers, secret=SECRET)

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"X-Webhook-Secret": SECRET[:-1]},
            {"X-Webhook-Secret": SECRET + "x"},
            {"X-Webhook-Secret": ""},
            {"X-Webhook-Secret": None},
            {"X-Webhook-Secret": "sëcret"},
            {"X-Webhook-Secret": b"bytes"},
            {"apikey": SECRET},
        ],
    )
    def test_it_rejects_wrong_or_garbage_headers_without_raising(self, gw, headers):
        assert gw.verify_webhook(body=self.body, headers=headers, secret=SECRET) is False

    def test_it_rejects_everything_when_no_secret_is_configured(self, gw):
        assert not gw.verify_webhook(body=self.body, headers={"X-Webhook-Secret": ""}, secret="")


EXPECTED = {
    "webhook_messages_upsert.json": [
        InboundMessage(
            event_id="3EB0B7E3C5A1D2F4E6A8",
            message_id="3EB0B7E3C5A1D2F4E6A8",
            session="t-acme-dev-2",
            sender="6281234567890@s.whatsapp.net",
            phone="+6281234567890",
            push_name="Budi Santoso",
            body="Halo, mau booking jam 3 sore besok",
            timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        )
    ],
    "webhook_messages_upsert_lid.json": [
        InboundMessage(
            event_id="3EB0C0FFEE1234567890",
            message_id="3EB0C0FFEE1234567890",
            session="t-acme-dev-2",
            sender="98765432109876@lid",
            phone="+6289876543210",
            push_name="Rina",
            body="Can I move my booking to 5pm?",
            timestamp=datetime(2026, 1, 1, 0, 1, tzinfo=UTC),
            lid="98765432109876@lid",
        )
    ],
    "webhook_messages_upsert_lid_unknown.json": [
        InboundMessage(
            event_id="3EB0DEADBEEF00000001",
            message_id="3EB0DEADBEEF00000001",
            session="t-acme-dev-2",
            sender="55555555555555@lid",
            phone=None,
            push_name="Anon",
            body="hi",
            timestamp=datetime(2026, 1, 1, 0, 1, 10, tzinfo=UTC),
            lid="55555555555555@lid",
        )
    ],
    "webhook_messages_upsert_media.json": [
        InboundMessage(
            event_id="3EB0ABCDEF0123456789",
            message_id="3EB0ABCDEF0123456789",
            session="t-acme-dev-2",
            sender="6281234567890@s.whatsapp.net",
            phone="+6281234567890",
            push_name="Budi Santoso",
            body="Bukti transfer",
            timestamp=datetime(2026, 1, 1, 0, 2, tzinfo=UTC),
            has_media=True,
        )
    ],
    "webhook_messages_upsert_from_me.json": [],
    "webhook_messages_update_delivered.json": [
        Ack(
            event_id="3EB0FEEDFACE00000002:delivered",
            message_id="3EB0FEEDFACE00000002",
            session="t-acme-dev-2",
            status="delivered",
        )
    ],
    "webhook_messages_update_read.json": [
        Ack(
            event_id="3EB0FEEDFACE00000002:read",
            message_id="3EB0FEEDFACE00000002",
            session="t-acme-dev-2",
            status="read",
        )
    ],
    "webhook_unknown_event.json": [],
}


class TestParseWebhook:
    def test_it_has_an_expectation_for_every_recorded_webhook(self):
        status_events = {
            "webhook_connection_update_open.json",
            "webhook_connection_update_logged_out.json",
            "webhook_qrcode_updated.json",
        }
        names = {p.name for p in FIXTURES.glob("webhook_*.json")}
        assert names == set(EXPECTED) | status_events

    @pytest.mark.parametrize("name", sorted(EXPECTED))
    def test_it_replays_recorded_webhooks(self, gw, name):
        assert gw.parse_webhook(raw_fixture(name)) == EXPECTED[name]

    def test_it_reports_a_connected_device_with_its_phone(self, gw):
        [change] = gw.parse_webhook(raw_fixture("webhook_connection_update_open.json"))
        assert isinstance(change, StatusChange)
        assert (change.session, change.status, change.phone, change.push_name) == (
            "t-acme-dev-2",
            "connected",
            "+6281100000002",
            "Acme Bookings 2",
        )

    def test_it_reports_a_logout_from_the_phone_as_failed(self, gw):
        [change] = gw.parse_webhook(raw_fixture("webhook_connection_update_logged_out.json"))
        assert change.status == "failed"

    def test_it_reports_a_new_qr_as_scan_qr(self, gw):
        [change] = gw.parse_webhook(raw_fixture("webhook_qrcode_updated.json"))
        assert (change.session, change.status) == ("t-acme-dev-2", "scan_qr")

    def test_it_gives_a_redelivered_status_event_the_same_id(self, gw):
        body = raw_fixture("webhook_qrcode_updated.json")
        assert gw.parse_webhook(body)[0].event_id == gw.parse_webhook(body)[0].event_id
        other = gw.parse_webhook(raw_fixture("webhook_connection_update_open.json"))[0]
        assert other.event_id != gw.parse_webhook(body)[0].event_id

    @pytest.mark.parametrize(
        ("raw", "ours"),
        [
            ("SERVER_ACK", "sent"),
            ("DELIVERY_ACK", "delivered"),
            ("READ", "read"),
            ("PLAYED", "read"),
            ("ERROR", "failed"),
            (3, "delivered"),
        ],
    )
    def test_it_maps_each_ack(self, gw, raw, ours):
        envelope = fixture("webhook_messages_update_read.json")
        envelope["data"]["status"] = raw
        [ack] = gw.parse_webhook(json.dumps(envelope).encode())
        assert ack.status == ours

    def test_it_ignores_pending_acks(self, gw):
        envelope = fixture("webhook_messages_update_read.json")
        envelope["data"]["status"] = "PENDING"
        assert gw.parse_webhook(json.dumps(envelope).encode()) == []

    @pytest.mark.parametrize(("state", "ours"), CONNECTION_STATES)
    def test_it_maps_each_connection_update(self, gw, state, ours):
        envelope = fixture("webhook_connection_update_open.json")
        envelope["data"]["state"] = state
        assert gw.parse_webhook(json.dumps(envelope).encode())[0].status == ours

    def test_it_accepts_upper_case_event_names(self, gw):
        envelope = fixture("webhook_messages_upsert.json")
        envelope["event"] = "MESSAGES_UPSERT"
        assert (
            gw.parse_webhook(json.dumps(envelope).encode())
            == EXPECTED["webhook_messages_upsert.json"]
        )

    def test_it_ignores_group_messages(self, gw):
        envelope = fixture("webhook_messages_upsert.json")
        envelope["data"]["key"]["remoteJid"] = "120363025246125486@g.us"
        assert gw.parse_webhook(json.dumps(envelope).encode()) == []

    @pytest.mark.parametrize(
        "body",
        [
            b"{nope",
            b"[]",
            b'{"instance": "i", "data": {}}',
            b'{"event": "messages.upsert", "data": {"key": {"id": "x", "remoteJid": "1@c.us"}}}',
            b'{"event": "messages.upsert", "instance": "i", "data": "x"}',
            b'{"event": "messages.upsert", "instance": "i", "data": {"message": {}}}',
            b'{"event": "messages.update", "instance": "i", "data": {"status": "READ"}}',
            b'{"event": "connection.update", "instance": "i", "data": {}}',
        ],
    )
    def test_it_rejects_malformed_bodies(self, gw, body):
        with pytest.raises(WebhookParseError):
            gw.parse_webhook(body)
