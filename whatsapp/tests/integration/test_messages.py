"""Messages end to end against a live simulator process, with its webhooks posted to a live
server: send, ticks by ack, inbound messages, @lid senders, duplicate and shuffled webhooks."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from gateway_simulator.testing import wait_until
from whatsapp import services
from whatsapp.models import (
    ContactLid,
    Conversation,
    Device,
    Message,
    MessageStatus,
    WebhookEvent,
)
from whatsapp.tasks import send_message
from whatsapp.tests.support import waha_webhooks as waha
from whatsapp.tests.support.live import pair_front_desk, process_webhooks_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CONTACT = "6281100000001"


@pytest.fixture
def device(cast, acme, simulator):
    device = pair_front_desk(simulator, acme, cast.alice)
    device.refresh_from_db()
    return device


def inbound(simulator, device: Device, body: str, **extra) -> dict:
    """A contact writes to the device; returns the simulator's record (id, from, event_id)."""
    path = f"/_sim/sessions/{device.session_name}/inbound"
    status, reply = simulator.request("POST", path, {"from": CONTACT, "body": body, **extra})
    assert status == 200, reply
    return reply


def status_of(message: Message) -> str:
    return Message.objects.values_list("status", flat=True).get(pk=message.pk)


def send(device: Device, body: str = "Your booking is confirmed", to: str = "+62 811-0000-0001"):
    message, _ = services.message_send(tenant=device.tenant, to=to, body=body)
    return message


def test_it_sends_a_message_and_shows_its_ticks_from_the_gateways_acks(device, simulator):
    message = send(device)

    assert send_message.call(str(message.pk)) == MessageStatus.SENT

    message.refresh_from_db()
    assert message.gateway_message_id.startswith("3EB0")
    assert message.conversation.contact == f"+{CONTACT}"
    process_webhooks_until(lambda: status_of(message) == MessageStatus.READ)
    message.refresh_from_db()
    assert message.delivered_at is not None
    assert message.read_at is not None
    assert simulator.state()["sessions"][0]["status"] == "WORKING"


def test_it_stores_an_inbound_message_in_the_contacts_conversation(device, simulator):
    simulator.inbound(device.session_name, CONTACT, "Can I book for 3pm?", pushName="Budi")

    message = process_webhooks_until(
        lambda: Message.objects.filter(direction=Message.Direction.INBOUND).first()
    )

    assert message.body == "Can I book for 3pm?"
    assert message.status == MessageStatus.RECEIVED
    conversation = message.conversation
    assert (conversation.contact, conversation.contact_name) == (f"+{CONTACT}", "Budi")
    assert conversation.tenant_id == device.tenant_id
    assert conversation.unread_count == 1
    assert conversation.last_message_preview == "Can I book for 3pm?"


def test_it_threads_a_reply_and_the_contacts_answer_in_one_conversation(device, simulator):
    message = send(device, "Reminder: tomorrow 10:00", to="0811-0000-0001")
    assert services.message_deliver(message_id=message.pk) == MessageStatus.SENT
    simulator.inbound(device.session_name, CONTACT, "Thanks, see you", pushName="Budi")

    process_webhooks_until(
        lambda: Message.objects.filter(direction=Message.Direction.INBOUND).exists()
    )

    conversation = Conversation.objects.get()
    assert conversation.contact_name == "Budi"
    assert list(conversation.messages.values_list("body", flat=True)) == [
        "Reminder: tomorrow 10:00",
        "Thanks, see you",
    ]


def signed_post(url: str, envelope: dict, secret: str) -> int:
    """Post a delivery as the gateway would: the raw body signed with the device's secret."""
    body = json.dumps(envelope).encode()
    headers = {"Content-Type": "application/json", **waha.signed_headers(body, secret)}
    with requests.Session() as session:
        session.trust_env = False
        return session.post(url, data=body, headers=headers, timeout=10).status_code


@pytest.mark.parametrize("we_wrote_first", [False, True], ids=["they-start", "we-start"])
def test_it_keeps_an_lid_sender_under_its_lid_and_maps_it_once_the_phone_is_known(
    device, simulator, live_server, we_wrote_first
):
    if we_wrote_first:
        # The phone's conversation exists before the hidden id shows up.
        message = send(device, "Welcome!", to=CONTACT)
        assert services.message_deliver(message_id=message.pk) == MessageStatus.SENT
    reply = inbound(simulator, device, "Hi from a hidden id", lid=True)
    lid = reply["from"]
    assert lid.endswith("@lid")

    first = process_webhooks_until(
        lambda: Message.objects.filter(gateway_message_id__isnull=False, direction="in").first()
    )
    assert first.conversation.contact == lid

    # A later delivery from the same sender carries the phone (WAHA's _data.key.senderPn).
    envelope = {
        "id": f"evt_{uuid.uuid4().hex}",
        "timestamp": int(time.time() * 1000),
        "event": "message",
        "session": device.session_name,
        "payload": {
            "id": f"false_{lid}_3EB0{uuid.uuid4().hex[:12].upper()}",
            "timestamp": int(time.time()),
            "from": lid,
            "fromMe": False,
            "body": "It's me, Budi",
            "_data": {"notifyName": "Budi", "key": {"senderPn": f"{CONTACT}@s.whatsapp.net"}},
        },
    }
    url = f"{live_server.url}/api/whatsapp/webhooks/{device.webhook_id}/{device.webhook_token}"
    assert signed_post(url, envelope, device.webhook_secret) == 200
    process_webhooks_until(lambda: Message.objects.filter(direction="in").count() == 2)
    assert ContactLid.objects.get(device=device, lid=lid).phone == f"+{CONTACT}"

    # From now on the hidden id is that contact, and the whole chat is one conversation.
    simulator.inbound(device.session_name, CONTACT, "Still me", lid=True)
    process_webhooks_until(lambda: Message.objects.filter(direction="in").count() == 3)
    conversation = Conversation.objects.get()
    assert conversation.contact == f"+{CONTACT}"
    assert conversation.contact_lid == lid
    bodies = ["Hi from a hidden id", "It's me, Budi", "Still me"]
    if we_wrote_first:
        bodies.insert(0, "Welcome!")
    assert list(conversation.messages.values_list("body", flat=True)) == bodies
    assert conversation.unread_count == 3


def test_it_stores_one_message_when_every_webhook_arrives_twice(device, simulator):
    simulator.configure(duplicate_rate=1.0)
    reply = inbound(simulator, device, "Only once please")

    # Both copies reached us before we look.
    wait_until(
        lambda: (
            [d["state"] for d in simulator.webhooks() if d["event_id"] == reply["event_id"]]
            == ["delivered", "delivered"]
        )
    )
    process_webhooks_until(lambda: not WebhookEvent.objects.filter(status="pending").exists())

    assert Message.objects.filter(body="Only once please").count() == 1
    assert WebhookEvent.objects.filter(event_id=reply["event_id"]).count() == 1
    assert Conversation.objects.get().unread_count == 1


def test_it_ends_read_when_acks_arrive_shuffled_and_duplicated(device, simulator):
    simulator.configure(shuffle_webhooks=True, duplicate_rate=0.5, ack_delays=[0.0, 0.0, 0.0])
    messages = [send(device, f"message {i}") for i in range(5)]
    Device.objects.filter(pk=device.pk).update(min_send_gap_ms=0)

    for message in messages:
        assert services.message_deliver(message_id=message.pk) == MessageStatus.SENT

    process_webhooks_until(
        lambda: all(status_of(m) == MessageStatus.READ for m in messages), timeout=15
    )
    assert not WebhookEvent.objects.filter(status=WebhookEvent.Status.FAILED).exists()
