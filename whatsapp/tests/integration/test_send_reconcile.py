"""Sends whose outcome is unknown, against the simulator as a real process: the gateway delivers
but answers too late or with a 5xx, the gateway is down for an hour, Retry of an unconfirmed
message; and a burst of inbound messages listed in the order they were written."""

from __future__ import annotations

import signal
import time
import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone

from gateway_simulator.testing import wait_until
from tenants.test import client_for
from whatsapp import services
from whatsapp.models import (
    Conversation,
    Device,
    DeviceStatus,
    Message,
    MessageStatus,
    TenantWhatsAppConfig,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

CONTACT = "+6281100000001"


def deliveries(simulator, device: Device, text: str) -> int:
    """How many copies of `text` reached the simulated phone (its contacts page log)."""
    status, page = simulator.request("GET", f"/contacts/{quote(device.session_name)}?fragment=log")
    assert status == 200
    return page.count(text)


def send_fault(simulator, **fault) -> None:
    status, reply = simulator.request("POST", "/_sim/send-fault", fault)
    assert status == 200, reply


@pytest.fixture
def device(cast, simulator):
    """A device paired on the simulator; webhooks are not needed here, so they are off."""
    simulator.configure(webhooks_enabled=False, ack_delays=[])
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Sim", actor=cast.superadmin)
    # The tenant's send timeout, short so a slow reply overruns it quickly.
    TenantWhatsAppConfig.objects.filter(tenant=cast.tenant_a).update(message_timeout=1)
    device = services.device_create(tenant=cast.tenant_a, name="Front desk", actor=cast.alice)
    simulator.pair(device.session_name)
    Device.objects.filter(pk=device.pk).update(status=DeviceStatus.CONNECTED, min_send_gap_ms=0)
    device.refresh_from_db()
    return device


def queue(device: Device, text: str) -> Message:
    message, _ = services.message_send(tenant=device.tenant, to=CONTACT, body=text)
    return message


def tenant_url(name: str, **kwargs) -> str:
    return reverse(name, kwargs=kwargs, urlconf="booqing.urls_tenant")


def reload(message: Message) -> Message:
    return Message.objects.get(pk=message.pk)


def run_until_settled(message: Message, *, limit: int = 10) -> Message:
    """Run the message's task whenever it is next due (time moved forward, never slept)."""
    for _ in range(limit):
        message = reload(message)
        if message.status not in (MessageStatus.QUEUED, MessageStatus.UNCONFIRMED):
            return message
        services.message_deliver(message_id=message.pk, now=message.next_attempt_at)
    return reload(message)


@pytest.mark.parametrize(
    "fault",
    [
        {"mode": "slow_reply_after_delivery", "delay": 2.5},
        {"mode": "error_after_delivery", "status": 500},
        {"mode": "error_after_delivery", "status": 503},
    ],
    ids=["reply-after-the-timeout", "500-after-delivery", "503-after-delivery"],
)
def test_a_send_the_gateway_delivered_without_saying_so_ends_sent_with_one_copy(
    device, simulator, fault
):
    text = f"Reminder: your appointment is tomorrow {uuid.uuid4().hex[:6]}"
    send_fault(simulator, **fault)
    message = queue(device, text)

    assert services.message_deliver(message_id=message.pk) == MessageStatus.UNCONFIRMED
    assert "may have sent it" in reload(message).last_error

    message = run_until_settled(message)

    assert message.status == MessageStatus.SENT, message.last_error
    assert message.gateway_message_id.startswith("3EB0")
    assert message.attempts == 1
    assert deliveries(simulator, device, text) == 1


def test_a_gateway_paused_mid_send_delivers_once_and_the_message_ends_sent(device, simulator):
    """The issue's check, scaled down: the gateway process is frozen (SIGSTOP) while a send is in
    flight, our reads of its history time out too, then it resumes and works through its
    backlog. Real time passes; nothing is resent blindly."""
    text = f"Reminder, paused gateway {uuid.uuid4().hex[:6]}"
    message = queue(device, text)
    simulator.process.send_signal(signal.SIGSTOP)
    try:
        # The request sits in the frozen gateway's socket: our 1 s timeout runs out.
        assert services.message_deliver(message_id=message.pk) == MessageStatus.UNCONFIRMED
        # Looking in the history while it is frozen times out as well: still unconfirmed.
        message = reload(message)
        time.sleep(max(0.0, (message.next_attempt_at - timezone.now()).total_seconds()))
        assert services.message_deliver(message_id=message.pk) == MessageStatus.UNCONFIRMED
        assert "could not be read yet" in reload(message).last_error
    finally:
        simulator.process.send_signal(signal.SIGCONT)

    deadline = time.monotonic() + 40
    while reload(message).status == MessageStatus.UNCONFIRMED and time.monotonic() < deadline:
        due = reload(message).next_attempt_at
        time.sleep(max(0.0, (due - timezone.now()).total_seconds()) + 0.05)
        services.message_deliver(message_id=message.pk)

    message = reload(message)
    assert message.status == MessageStatus.SENT, message.last_error
    assert message.attempts == 1
    time.sleep(0.5)  # anything still queued in the resumed gateway has run by now
    assert deliveries(simulator, device, text) == 1


def test_a_gateway_down_for_an_hour_keeps_the_message_queued_and_sends_it_once_back(
    device, simulator, cast
):
    text = f"Your booking is confirmed {uuid.uuid4().hex[:6]}"
    message = queue(device, text)
    simulator.stop()
    now = timezone.now()
    back_at = now + timedelta(hours=1)

    while now < back_at:
        assert services.message_deliver(message_id=message.pk, now=now) == MessageStatus.QUEUED
        message = reload(message)
        assert message.status == MessageStatus.QUEUED
        assert "could not be reached" in message.last_error
        # Backoff with full jitter, capped at five minutes a try.
        assert now <= message.next_attempt_at <= now + timedelta(minutes=5)
        now = message.next_attempt_at
    assert message.attempts > 12  # far past the old fixed count of 6
    assert message.waiting_since is not None

    # The thread says it waits, since when.
    page = client_for(cast.alice, cast.host_a).get(
        tenant_url("whatsapp_thread", conversation_id=message.conversation_id)
    )
    waiting_since = timezone.localtime(message.waiting_since).strftime("%H:%M")
    assert f"Waiting for the gateway since {waiting_since}" in page.content.decode()

    # The gateway comes back (without its in-memory sessions: re-create and re-pair).
    simulator.restart()
    simulator.configure(webhooks_enabled=False, ack_delays=[])
    services.device_restart(device=Device.objects.get(pk=device.pk))
    simulator.pair(device.session_name)

    assert services.message_deliver(message_id=message.pk, now=now) == MessageStatus.SENT
    message = reload(message)
    assert (message.status, message.last_error) == (MessageStatus.SENT, "")
    assert deliveries(simulator, device, text) == 1


def test_retry_of_an_unconfirmed_message_in_the_inbox_reconciles_first(device, simulator, cast):
    text = f"See you at 10 {uuid.uuid4().hex[:6]}"
    send_fault(simulator, mode="error_after_delivery", status=502)
    message = queue(device, text)
    assert services.message_deliver(message_id=message.pk) == MessageStatus.UNCONFIRMED
    # Its own recheck is far off; a person presses Retry now.
    Message.objects.filter(pk=message.pk).update(
        next_attempt_at=timezone.now() + timedelta(hours=1)
    )

    client = client_for(cast.alice, cast.host_a)
    thread_url = tenant_url("whatsapp_thread", conversation_id=message.conversation_id)
    page = client.get(thread_url).content.decode()
    assert 'data-testid="message-unconfirmed"' in page
    assert "WhatsApp may have sent it" in page
    assert 'data-testid="message-error"' not in page  # unconfirmed is not failed
    retry_url = tenant_url(
        "whatsapp_message_retry", conversation_id=message.conversation_id, message_id=message.pk
    )
    assert client.post(retry_url).status_code == 302

    assert services.message_deliver(message_id=message.pk) == MessageStatus.SENT
    assert reload(message).attempts == 1
    assert deliveries(simulator, device, text) == 1


@pytest.mark.django_db(transaction=True)
def test_25_inbound_messages_written_in_one_second_are_listed_in_order(
    cast, simulator, webhooks_to_live_server
):
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Sim", actor=cast.superadmin)
    device = services.device_create(tenant=cast.tenant_a, name="Front desk", actor=cast.alice)
    simulator.pair(device.session_name)
    bodies = [f"part {n:02d}" for n in range(1, 26)]

    # Start on a fresh second; a phone's messages reach the gateway one after another, a few
    # milliseconds apart at the least (the gateway then posts their webhooks concurrently).
    time.sleep(1 - time.time() % 1 + 0.01)
    for body in bodies:
        simulator.inbound(device.session_name, CONTACT.lstrip("+"), body, pushName="Budi")
        time.sleep(0.004)

    def stored() -> bool:
        services.webhook_events_process_due()
        return Message.objects.filter(direction=Message.Direction.INBOUND).count() == 25

    wait_until(stored, timeout=20)
    conversation = Conversation.objects.get(device=device)
    thread = client_for(cast.alice, cast.host_a).get(
        tenant_url("whatsapp_thread", conversation_id=conversation.pk)
    )
    page = thread.content.decode()
    positions = [page.index(f">{body}<") for body in bodies]
    assert positions == sorted(positions)
    api = client_for(cast.alice, cast.host_a).get(
        "/api/whatsapp/messages", {"conversation_id": str(conversation.pk), "limit": 50}
    )
    assert [m["body"] for m in api.json()["results"]] == list(reversed(bodies))
    assert conversation.last_message_preview == "part 25"
