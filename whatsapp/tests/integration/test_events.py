"""Events end to end: a live simulator pairs, sends and acks through webhooks to a live server,
and a real HTTP listener receives device.status, message.status up to read and message.received,
each verified with the standardwebhooks library."""

from __future__ import annotations

import pytest

from whatsapp import services
from whatsapp.models import Message, MessageStatus
from whatsapp.services import events as event_services
from whatsapp.tests.support.listener import IMMEDIATE
from whatsapp.tests.support.live import pair_front_desk, process_webhooks_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CONTACT = "6281100000001"


def test_the_booking_product_hears_pairing_sending_ticks_and_the_reply(
    cast, simulator, webhooks_to_live_server, listener, settings
):
    settings.TASKS = IMMEDIATE
    settings.WHATSAPP_EVENTS_ALLOW_PRIVATE_URLS = True
    _, secret = event_services.event_endpoint_create(
        tenant=cast.tenant_a,
        url=listener.url,
        events=["message.status", "message.received", "device.status"],
    )
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Sim", actor=cast.superadmin)
    device = pair_front_desk(simulator, cast.tenant_a, cast.alice)

    message, _ = services.message_send(
        tenant=cast.tenant_a, to=f"+{CONTACT}", body="Reminder: 10:00", idempotency_key="bk-1"
    )
    process_webhooks_until(lambda: Message.objects.get(pk=message.pk).status == MessageStatus.READ)
    simulator.inbound(device.session_name, CONTACT, "YA", pushName="Budi")
    process_webhooks_until(lambda: Message.objects.filter(direction="in").exists())

    events = listener.events(secret)
    assert [e["data"]["status"] for e in events if e["type"] == "device.status"] == ["connected"]
    statuses = [e["data"]["status"] for e in events if e["type"] == "message.status"]
    assert statuses == ["queued", "sending", "sent", "delivered", "read"]
    [received] = [e["data"] for e in events if e["type"] == "message.received"]
    assert received["body"] == "YA"
    assert received["from"] == f"+{CONTACT}"
    assert received["in_reply_to"]["id"] == str(message.pk)
    assert received["in_reply_to"]["idempotency_key"] == "bk-1"
