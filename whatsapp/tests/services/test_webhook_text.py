"""Text from WhatsApp is never refused for its characters (issue 9, hole 2): a NUL or a lone
surrogate in a message or a push name, or an absurd timestamp, still stores the message, with
the bad characters replaced by U+FFFD. Runs on SQLite and on PostgreSQL (which refuses NUL)."""

from __future__ import annotations

import time

import pytest

from tenants.test import client_for
from whatsapp.models import Conversation, Device, Message, TenantWhatsAppConfig, WebhookEvent
from whatsapp.services.webhooks import webhook_events_process_due
from whatsapp.tests.factories import make_device
from whatsapp.tests.support import waha_webhooks as waha
from whatsapp.tests.support.waha_webhooks import url
from whatsapp.text import clean_text

# The device's webhook secret; the deliveries below are signed with it.
SECRET = "per-device-secret-front-desk"

pytestmark = pytest.mark.django_db

NUL, LONE = "\x00", "\ud800"


@pytest.fixture
def device(cast):
    TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")
    return make_device(cast.tenant_a, "Front desk", secret=SECRET)


def deliver(device: Device, delivery: dict):
    body = waha.encode(delivery)
    return client_for(enforce_csrf=True).post(
        url(device),
        body,
        content_type="application/json",
        headers=waha.signed_headers(body, SECRET),
    )


@pytest.mark.parametrize(
    ("text", "push_name", "stored_text", "stored_name"),
    [
        (f"Halo{NUL}kak", "Budi", "Halo\ufffdkak", "Budi"),
        (f"Halo {LONE}!", "Budi", "Halo \ufffd!", "Budi"),
        ("Halo", f"Bu{NUL}di", "Halo", "Bu\ufffddi"),
        ("Halo", f"Budi {LONE}", "Halo", "Budi \ufffd"),
        (f"{NUL}{LONE}\U0001f600", f"{LONE}{NUL}", "\ufffd\ufffd\U0001f600", "\ufffd\ufffd"),
    ],
)
def test_a_message_with_unstorable_characters_is_stored_cleaned(
    device, text, push_name, stored_text, stored_name
):
    response = deliver(
        device, waha.inbound_message(device.session_name, text=text, push_name=push_name)
    )

    assert response.status_code == 200, response.content
    assert webhook_events_process_due() == 1
    message = Message.objects.get()
    assert message.body == stored_text
    assert Conversation.objects.get().contact_name == stored_name
    assert not WebhookEvent.objects.exclude(status="processed").exists()


@pytest.mark.parametrize("stamp", [10**400, -(10**400), 1e308, "1e400", "nan", 2**63, -1])
def test_an_absurd_timestamp_still_stores_the_message(device, stamp):
    delivery = waha.inbound_message(device.session_name, text="Jam berapa?")
    delivery["payload"]["timestamp"] = stamp
    delivery["timestamp"] = stamp
    before = time.time()

    response = deliver(device, delivery)

    assert response.status_code == 200, response.content
    assert webhook_events_process_due() == 1
    message = Message.objects.get()
    assert message.body == "Jam berapa?"
    # an impossible time is replaced by the time we received it
    assert before - 5 <= message.created_at.timestamp() <= time.time() + 5


def test_a_status_event_with_a_nul_push_name_updates_the_device(device):
    delivery = waha.envelope(
        "session.status", device.session_name, {"status": "WORKING", "name": device.session_name}
    )
    delivery["me"] = {"id": "6281100000000@c.us", "pushName": f"Front{NUL}desk{LONE}"}

    assert deliver(device, delivery).status_code == 200
    webhook_events_process_due()

    device.refresh_from_db()
    assert device.push_name in ("", "Front\ufffddesk\ufffd")
    assert device.status == "connected"


def test_clean_text_keeps_ordinary_text_and_joins_split_pairs():
    assert clean_text("Selamat pagi 👋") == "Selamat pagi 👋"
    assert clean_text("\ud83d\ude00") == "\U0001f600"
    assert clean_text("a\x00b\udfffc") == "a\ufffdb\ufffdc"
