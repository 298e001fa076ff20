"""Sending messages through a mocked WAHA gateway: retries until expiry, unknown outcomes
reconciled with the chat history, permanent failures, pacing, leases, the transactional enqueue,
and acks that arrive early, late or out of order."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
import responses
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from urllib3.exceptions import MaxRetryError, NewConnectionError

from tenants.test import CANARY_PRIMARY
from whatsapp import services
from whatsapp.models import (
    Device,
    Message,
    MessageStatus,
    TenantWhatsAppConfig,
    WebhookEvent,
)
from whatsapp.tasks import send_message
from whatsapp.tests.factories import make_config
from whatsapp.tests.support import waha_webhooks as waha
from whatsapp.tests.support.api import CUSTOMER, GATEWAY, SEND_URL

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.responses(assert_all_requests_are_fired=False),
]

SESSION = "bq-acme-frontdesk"
HISTORY_URL = f"{GATEWAY}/api/{SESSION}/chats/6281234567890@c.us/messages"
SECRET = "per-device-secret-front-desk"


@pytest.fixture
def config(cast):
    """The endpoint with a 17 s message timeout (the conftest's device stands on it)."""
    return make_config(cast.tenant_a, message_timeout=17)


def queue(device: Device, body: str = "Your booking is confirmed", to: str = CUSTOMER) -> Message:
    message, created = services.message_send(tenant=device.tenant, to=to, body=body)
    assert created
    return message


def sent_reply(short_id: str = "3EB0AAAA0001", to: str = "6281234567890") -> dict:
    return {"id": f"true_{to}@c.us_{short_id}", "fromMe": True, "ack": 0, "ackName": "PENDING"}


def reload(message: Message) -> Message:
    return Message.objects.get(pk=message.pk)


def send_tasks(message: Message):
    return DBTaskResult.objects.filter(args_kwargs__args=[str(message.pk)])


# -- sending -------------------------------------------------------------------------------------


def test_it_sends_a_queued_message_and_keeps_the_gateway_message_id(device, rsps):
    rsps.post(SEND_URL, status=201, json=sent_reply("3EB0C0FFEE01"))
    message = queue(device)

    assert services.message_deliver(message_id=message.pk) == MessageStatus.SENT

    message = reload(message)
    assert message.status == MessageStatus.SENT
    assert message.gateway_message_id == "3EB0C0FFEE01"
    assert message.attempts == 1
    assert message.sent_at is not None
    assert message.lease_until is None
    assert message.last_error == ""
    call = rsps.calls[0]
    assert json.loads(call.request.body) == {
        "session": SESSION,
        "chatId": "6281234567890@c.us",
        "text": "Your booking is confirmed",
    }
    assert call.request.headers["X-Api-Key"] == CANARY_PRIMARY
    # The tenant's message_timeout (17 s) bounds the read; connecting gets at most 5 s.
    assert call.request.req_kwargs["timeout"] == (5, 17)


def test_it_treats_an_empty_201_as_sent_with_an_unknown_id(device, rsps):
    rsps.post(SEND_URL, status=201, body="")
    message = queue(device)

    assert services.message_deliver(message_id=message.pk) == MessageStatus.SENT
    message = reload(message)
    assert (message.status, message.gateway_message_id) == (MessageStatus.SENT, None)


def refused() -> requests.ConnectionError:
    """What requests raises when nothing listens on the gateway's port."""
    return requests.ConnectionError(MaxRetryError(None, "/", NewConnectionError(None, "refused")))


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ({"status": 408, "body": ""}, "408"),
        ({"body": refused()}, "could not be reached"),
        ({"body": requests.exceptions.ConnectTimeout()}, "did not answer within 17s"),
    ],
    ids=["408", "refused", "connect-timeout"],
)
def test_it_puts_a_send_that_never_reached_the_gateway_back_in_the_queue(
    device, rsps, reply, reason
):
    rsps.post(SEND_URL, **reply)
    message = queue(device)
    before = timezone.now()

    assert services.message_deliver(message_id=message.pk) == MessageStatus.QUEUED

    message = reload(message)
    assert message.status == MessageStatus.QUEUED
    assert message.attempts == 1
    assert reason in message.last_error
    assert CANARY_PRIMARY not in message.last_error
    assert message.lease_until is None
    assert before <= message.waiting_since <= timezone.now()
    # Backoff with full jitter for the first retry: somewhere in [0, base * 2**1] seconds.
    assert before <= message.next_attempt_at <= timezone.now() + timedelta(seconds=4)
    # A new trigger waits for the retry time, so the queue does not spin on it.
    retry = send_tasks(message).get()
    assert retry.run_after == message.next_attempt_at


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ({"status": 500, "json": {"message": "engine crashed"}}, "500"),
        ({"status": 502, "body": "Bad gateway"}, "502"),
        ({"body": requests.exceptions.ReadTimeout()}, "did not answer within 17s"),
        ({"body": requests.ConnectionError("Connection aborted.")}, "could not be reached"),
    ],
    ids=["500", "502", "read-timeout", "reset-after-write"],
)
def test_it_marks_a_send_that_may_have_reached_the_gateway_unconfirmed_not_failed(
    device, rsps, reply, reason
):
    rsps.post(SEND_URL, **reply)
    message = queue(device)

    assert services.message_deliver(message_id=message.pk) == MessageStatus.UNCONFIRMED

    message = reload(message)
    assert message.status == MessageStatus.UNCONFIRMED
    assert message.maybe_sent
    assert reason in message.last_error
    assert "may have sent it" in message.last_error
    assert CANARY_PRIMARY not in message.last_error
    # Its next run reads the history first; the trigger waits for it.
    assert send_tasks(message).get().run_after == message.next_attempt_at
    assert len(rsps.calls) == 1


def history_item(short_id: str, body: str, at, from_me: bool = True) -> dict:
    return {
        "id": f"{'true' if from_me else 'false'}_6281234567890@c.us_{short_id}",
        "timestamp": int(at.timestamp()),
        "from": "6281100000000@c.us",
        "fromMe": from_me,
        "body": body,
        "hasMedia": False,
    }


def unconfirmed(device, rsps, body: str = "Your booking is confirmed") -> Message:
    rsps.post(SEND_URL, body=requests.exceptions.ReadTimeout())
    message = queue(device, body)
    assert services.message_deliver(message_id=message.pk) == MessageStatus.UNCONFIRMED
    return reload(message)


def sends(rsps) -> int:
    return sum(1 for call in rsps.calls if call.request.url == SEND_URL)


def test_it_records_an_unconfirmed_message_found_in_the_history_as_sent_without_resending(
    device, rsps
):
    message = unconfirmed(device, rsps)
    now = timezone.now()
    rsps.get(
        HISTORY_URL,
        json=[
            history_item("3EB0OTHER", "Something else", now),
            history_item("3EB0INBOUND", "Your booking is confirmed", now, from_me=False),
            history_item("3EB0FOUND01", "Your booking is confirmed", now),
        ],
    )

    later = message.next_attempt_at
    assert services.message_deliver(message_id=message.pk, now=later) == MessageStatus.SENT

    message = reload(message)
    assert (message.status, message.gateway_message_id) == (MessageStatus.SENT, "3EB0FOUND01")
    assert not message.maybe_sent
    assert message.last_error == ""
    assert sends(rsps) == 1
    history_call = next(c for c in rsps.calls if c.request.url.startswith(HISTORY_URL))
    assert "downloadMedia=false" in history_call.request.url


def test_it_never_matches_a_history_entry_that_belongs_to_another_of_our_messages(device, rsps):
    earlier = sent_message(device, rsps, "3EB0EARLIER")
    rsps.replace(responses.POST, SEND_URL, body=requests.exceptions.ReadTimeout())
    message = queue(device, earlier.body)
    assert services.message_deliver(message_id=message.pk) == MessageStatus.UNCONFIRMED
    message = reload(message)
    rsps.get(HISTORY_URL, json=[history_item("3EB0EARLIER", earlier.body, timezone.now())])

    now = message.next_attempt_at
    assert services.message_deliver(message_id=message.pk, now=now) == MessageStatus.UNCONFIRMED
    assert reload(message).gateway_message_id is None


def test_it_resends_only_when_two_history_reads_apart_agree_the_message_is_not_there(device, rsps):
    message = unconfirmed(device, rsps)
    rsps.get(HISTORY_URL, json=[])
    now = message.next_attempt_at

    # The first read may race a request the gateway is still working through: look again.
    assert services.message_deliver(message_id=message.pk, now=now) == MessageStatus.UNCONFIRMED
    message = reload(message)
    assert message.history_miss_at == now
    assert sends(rsps) == 1

    rsps.replace(responses.POST, SEND_URL, status=201, json=sent_reply("3EB0RESENT01"))
    later = message.next_attempt_at
    assert later >= now + timedelta(seconds=10)
    assert services.message_deliver(message_id=message.pk, now=later) == MessageStatus.SENT

    message = reload(message)
    assert (message.status, message.gateway_message_id) == (MessageStatus.SENT, "3EB0RESENT01")
    assert message.attempts == 2
    assert sends(rsps) == 2


def test_it_holds_an_unconfirmed_message_for_a_person_when_the_history_cannot_be_read(device, rsps):
    message = unconfirmed(device, rsps)
    rsps.get(HISTORY_URL, status=422, json={"message": "history is not enabled"})

    now = message.next_attempt_at
    assert services.message_deliver(message_id=message.pk, now=now) == MessageStatus.UNCONFIRMED

    message = reload(message)
    assert message.awaiting_decision
    assert "May have been sent" in message.last_error
    assert "Send again or Mark as sent" in message.last_error
    # Held: neither the task nor the scheduler sends it on their own.
    later = now + timedelta(hours=1)
    assert services.message_deliver(message_id=message.pk, now=later) == MessageStatus.UNCONFIRMED
    services.messages_requeue_stale(now=later)
    assert sends(rsps) == 1

    rsps.replace(responses.POST, SEND_URL, status=201, json=sent_reply("3EB0AGAIN01"))
    message = services.message_send_again(message=message)
    assert message.status == MessageStatus.QUEUED
    assert services.message_deliver(message_id=message.pk) == MessageStatus.SENT
    assert sends(rsps) == 2


def test_a_person_can_mark_a_held_message_as_sent(device, rsps, cast):
    message = unconfirmed(device, rsps)
    rsps.get(HISTORY_URL, status=404, json={"message": "not found"})
    services.message_deliver(message_id=message.pk, now=message.next_attempt_at)

    message = services.message_mark_sent(message=reload(message), actor=cast.alice)

    assert message.status == MessageStatus.SENT
    assert "Marked as sent by alice" in message.last_error
    assert sends(rsps) == 1


def test_it_keeps_reading_the_history_while_the_gateway_is_unreachable(device, rsps):
    message = unconfirmed(device, rsps)
    rsps.get(HISTORY_URL, body=refused())

    now = message.next_attempt_at
    assert services.message_deliver(message_id=message.pk, now=now) == MessageStatus.UNCONFIRMED

    message = reload(message)
    assert not message.awaiting_decision
    assert "could not be read yet" in message.last_error
    assert message.next_attempt_at > now
    assert sends(rsps) == 1


def test_retry_of_an_unconfirmed_message_reads_the_history_before_anything_else(device, rsps):
    message = unconfirmed(device, rsps)
    rsps.get(HISTORY_URL, json=[history_item("3EB0RETRY01", message.body, timezone.now())])
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() + timedelta(1))

    message = services.message_retry(message=reload(message))
    assert message.status == MessageStatus.UNCONFIRMED
    assert services.message_deliver(message_id=message.pk) == MessageStatus.SENT

    assert reload(message).gateway_message_id == "3EB0RETRY01"
    assert sends(rsps) == 1


def test_a_late_send_reply_still_records_the_message_as_sent(device, rsps):
    message = queue(device)
    claimed_at = timezone.now()
    rsps.post(SEND_URL, status=201, json=sent_reply("3EB0LATE0001"))
    # The worker claimed it, then stalled past its lease; the scheduler made it unconfirmed.
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING, attempts=1, lease_until=claimed_at - timedelta(seconds=1)
    )
    services.messages_requeue_stale(now=claimed_at)
    assert reload(message).status == MessageStatus.UNCONFIRMED

    # The stalled worker's reply finally arrives.
    from whatsapp.services.messages import _mark_sent

    _mark_sent(reload(message), "3EB0LATE0001", now=timezone.now())

    message = reload(message)
    assert (message.status, message.gateway_message_id) == (MessageStatus.SENT, "3EB0LATE0001")


def test_it_waits_at_least_as_long_as_the_gateways_retry_after(device, rsps):
    rsps.post(SEND_URL, status=429, headers={"Retry-After": "120"}, json={"message": "slow down"})
    message = queue(device)
    before = timezone.now()

    assert services.message_deliver(message_id=message.pk) == MessageStatus.QUEUED

    message = reload(message)
    assert message.status == MessageStatus.QUEUED
    assert message.attempts == 1
    assert message.next_attempt_at >= before + timedelta(seconds=120)
    assert "429" in message.last_error
    # Until then, running the task again does not call the gateway.
    assert services.message_deliver(message_id=message.pk) == MessageStatus.QUEUED
    assert len(rsps.calls) == 1
    later = message.next_attempt_at + timedelta(seconds=1)
    rsps.replace(responses.POST, SEND_URL, status=201, json=sent_reply())
    assert services.message_deliver(message_id=message.pk, now=later) == MessageStatus.SENT
    assert reload(message).attempts == 2


def test_it_fails_a_message_the_gateway_refuses_with_its_reason_and_never_retries(device, rsps):
    rsps.post(SEND_URL, status=400, json={"message": "number not on WhatsApp"})
    message = queue(device)

    assert services.message_deliver(message_id=message.pk) == MessageStatus.FAILED

    message = reload(message)
    assert message.status == MessageStatus.FAILED
    assert message.attempts == 1
    assert "number not on WhatsApp" in message.last_error
    assert message.next_attempt_at is None
    # No retry storm: no new trigger, and running the task again does not call the gateway.
    assert not send_tasks(message).exists()
    later = timezone.now() + timedelta(hours=1)
    assert services.message_deliver(message_id=message.pk, now=later) == MessageStatus.FAILED
    assert services.messages_requeue_stale(now=later) == 0
    assert len(rsps.calls) == 1


def test_it_retries_until_the_message_expires_and_then_ends_expired_with_the_reason(device, rsps):
    rsps.post(SEND_URL, status=429, json={"message": "overloaded"})
    message = queue(device)
    now = timezone.now()
    assert message.expires_at == pytest.approx(now + timedelta(hours=24), abs=timedelta(minutes=1))

    while services.message_deliver(message_id=message.pk, now=now) == MessageStatus.QUEUED:
        now = reload(message).next_attempt_at
    message = reload(message)

    assert message.status == MessageStatus.EXPIRED
    # Far more than a fixed handful of attempts, with gaps capped at five minutes.
    assert message.attempts > 50
    assert "not sent before its expiry" in message.last_error
    assert "429" in message.last_error
    assert now == message.expires_at
    calls = len(rsps.calls)
    assert services.message_deliver(message_id=message.pk, now=now) == MessageStatus.EXPIRED
    services.messages_requeue_stale(now=now + timedelta(hours=1))
    assert len(rsps.calls) == calls


def test_it_takes_the_default_expiry_from_the_tenants_setting(device, rsps):
    TenantWhatsAppConfig.objects.filter(tenant=device.tenant).update(message_expiry_hours=2)
    message = queue(device)
    expected = message.created_at + timedelta(hours=2)
    assert abs(message.expires_at - expected) < timedelta(seconds=1)


def test_it_retries_a_device_that_is_reconnecting_and_then_sends(device, rsps):
    rsps.post(SEND_URL, status=422, json={"message": "Session status is not as expected"})
    message = queue(device)

    assert services.message_deliver(message_id=message.pk) == MessageStatus.QUEUED
    message = reload(message)
    assert "not connected" in message.last_error

    rsps.replace(responses.POST, SEND_URL, status=201, json=sent_reply())
    later = message.next_attempt_at + timedelta(seconds=1)
    assert services.message_deliver(message_id=message.pk, now=later) == MessageStatus.SENT


# -- pacing ---------------------------------------------------------------------------------------


def test_it_spaces_two_sends_on_one_device_and_queues_the_second_instead_of_dropping_it(
    device, rsps
):
    Device.objects.filter(pk=device.pk).update(min_send_gap_ms=5000)
    rsps.post(SEND_URL, status=201, json=sent_reply("3EB0FIRST"))
    first, second = queue(device, "first"), queue(device, "second")
    now = timezone.now()

    assert services.message_deliver(message_id=first.pk, now=now) == MessageStatus.SENT
    assert services.message_deliver(message_id=second.pk, now=now) == MessageStatus.QUEUED

    second = reload(second)
    assert second.status == MessageStatus.QUEUED
    # Waiting for a slot is not a failed attempt.
    assert second.attempts == 0
    assert second.last_error == ""
    # 5 s with jitter (0.8x .. 1.4x).
    assert now + timedelta(seconds=4) <= second.next_attempt_at <= now + timedelta(seconds=7)
    assert send_tasks(second).get().run_after == second.next_attempt_at
    assert len(rsps.calls) == 1

    rsps.replace(responses.POST, SEND_URL, status=201, json=sent_reply("3EB0SECOND"))
    later = second.next_attempt_at + timedelta(milliseconds=1)
    assert services.message_deliver(message_id=second.pk, now=later) == MessageStatus.SENT
    assert [json.loads(c.request.body)["text"] for c in rsps.calls] == ["first", "second"]


def test_it_holds_messages_over_the_daily_cap_until_the_next_day(device, rsps):
    Device.objects.filter(pk=device.pk).update(daily_send_cap=1)
    rsps.post(SEND_URL, status=201, json=sent_reply("3EB0ONLY"))
    first, second = queue(device, "first"), queue(device, "second")

    assert services.message_deliver(message_id=first.pk) == MessageStatus.SENT
    assert services.message_deliver(message_id=second.pk) == MessageStatus.QUEUED

    second = reload(second)
    tomorrow = (timezone.localtime() + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    assert second.status == MessageStatus.QUEUED
    assert second.next_attempt_at == tomorrow
    assert second.attempts == 0
    assert len(rsps.calls) == 1


# -- leases and repeated triggers ---------------------------------------------------------------


def test_a_send_whose_worker_died_becomes_unconfirmed_and_a_sent_message_is_untouched(device, rsps):
    now = timezone.now()
    stale = queue(device, "stale")
    alive = queue(device, "alive")
    done = queue(device, "done")
    Message.objects.filter(pk=stale.pk).update(
        status=MessageStatus.SENDING, attempts=1, lease_until=now - timedelta(seconds=1)
    )
    Message.objects.filter(pk=alive.pk).update(
        status=MessageStatus.SENDING, attempts=1, lease_until=now + timedelta(seconds=60)
    )
    Message.objects.filter(pk=done.pk).update(
        status=MessageStatus.SENT,
        gateway_message_id="3EB0DONE",
        lease_until=now - timedelta(seconds=1),
    )

    assert services.messages_requeue_stale(now=now) == 1

    # The dead worker's request may have reached the gateway: look before sending again.
    stale = reload(stale)
    assert stale.status == MessageStatus.UNCONFIRMED
    assert stale.maybe_sent
    assert stale.lease_until is None
    assert send_tasks(stale).count() == 1
    assert reload(alive).status == MessageStatus.SENDING
    assert reload(done).status == MessageStatus.SENT
    assert not send_tasks(done).exists()

    rsps.get(HISTORY_URL, json=[history_item("3EB0STALE", "stale", now)])
    assert services.message_deliver(message_id=stale.pk, now=now) == MessageStatus.SENT
    assert services.message_deliver(message_id=done.pk, now=now) == MessageStatus.SENT
    assert reload(stale).gateway_message_id == "3EB0STALE"
    assert sends(rsps) == 0


def test_it_requeues_a_queued_message_whose_trigger_was_lost(device):
    message = queue(device)
    long_ago = timezone.now() - timedelta(minutes=10)
    Message.objects.filter(pk=message.pk).update(next_attempt_at=long_ago)

    assert services.messages_requeue_stale() == 1
    assert send_tasks(message).count() == 1
    # The claim moved the due time, so a second scheduler does not enqueue it again.
    assert services.messages_requeue_stale() == 0
    assert send_tasks(message).count() == 1


def test_it_never_sends_a_sent_message_again_when_its_task_runs_twice(
    device, rsps, django_capture_on_commit_callbacks
):
    rsps.post(SEND_URL, status=201, json=sent_reply())
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(device)
    task = send_tasks(message).get()

    assert send_message.call(*task.args_kwargs["args"]) == MessageStatus.SENT
    assert send_message.call(*task.args_kwargs["args"]) == MessageStatus.SENT

    assert reload(message).status == MessageStatus.SENT
    assert len(rsps.calls) == 1


def test_it_keeps_only_ids_in_the_task_arguments(device, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(device, "secret booking code 4711")
    task = send_tasks(message).get()
    assert task.args_kwargs == {"args": [str(message.pk)], "kwargs": {}}


@pytest.mark.django_db(transaction=True)
def test_it_leaves_no_message_and_no_task_when_the_transaction_rolls_back(device):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        queue(device, "never")
        raise Abort

    assert not Message.objects.exists()
    assert not DBTaskResult.objects.exists()

    # The same call committed leaves exactly one row and one task.
    with transaction.atomic():
        message = queue(device, "committed")
    assert list(Message.objects.values_list("pk", flat=True)) == [message.pk]
    assert send_tasks(message).count() == 1


# -- acks -----------------------------------------------------------------------------------------


def waha_ack(short_id: str, ack_name: str) -> tuple[bytes, dict[str, str]]:
    body = waha.encode(waha.ack(SESSION, short_id, ack_name))
    return body, waha.signed_headers(body, SECRET)


def receive_ack(device: Device, short_id: str, ack_name: str) -> None:
    body, headers = waha_ack(short_id, ack_name)
    assert services.webhook_ingest(webhook_id=device.webhook_id, body=body, headers=headers) == 1


def process(now=None) -> int:
    return services.webhook_events_process_due(now=now)


def sent_message(device: Device, rsps, short_id: str = "3EB0ACK00001") -> Message:
    rsps.post(SEND_URL, status=201, json=sent_reply(short_id))
    message = queue(device)
    assert services.message_deliver(message_id=message.pk) == MessageStatus.SENT
    return message


def test_it_moves_a_message_forward_with_each_ack(device, rsps):
    message = sent_message(device, rsps)
    receive_ack(device, "3EB0ACK00001", "DEVICE")
    process()
    assert reload(message).status == MessageStatus.DELIVERED
    assert reload(message).delivered_at is not None
    receive_ack(device, "3EB0ACK00001", "READ")
    process()
    assert reload(message).status == MessageStatus.READ
    assert reload(message).read_at is not None


def test_it_keeps_read_when_a_sent_or_delivered_ack_arrives_late(device, rsps):
    message = sent_message(device, rsps)
    for name in ("READ", "SERVER", "DEVICE"):
        receive_ack(device, "3EB0ACK00001", name)
    assert process() == 3
    assert reload(message).status == MessageStatus.READ


def test_it_marks_a_message_failed_when_whatsapp_reports_an_error(device, rsps):
    message = sent_message(device, rsps)
    receive_ack(device, "3EB0ACK00001", "ERROR")
    process()
    message = reload(message)
    assert message.status == MessageStatus.FAILED
    assert message.last_error


def test_it_applies_an_ack_that_arrived_before_the_send_reply_once_the_id_is_known(device, rsps):
    message = queue(device)
    # The gateway's ack webhook overtakes its reply to our send.
    receive_ack(device, "3EB0EARLY0001", "DEVICE")
    assert process() == 0
    event = WebhookEvent.objects.get(kind="ack")
    assert event.status == WebhookEvent.Status.PENDING
    assert "3EB0EARLY0001" in event.last_error

    rsps.post(SEND_URL, status=201, json=sent_reply("3EB0EARLY0001"))
    assert services.message_deliver(message_id=message.pk) == MessageStatus.SENT
    assert process(now=timezone.now() + timedelta(minutes=5)) == 1

    assert WebhookEvent.objects.get(kind="ack").status == WebhookEvent.Status.PROCESSED
    assert reload(message).status == MessageStatus.DELIVERED


def test_it_waits_for_a_slow_send_reply_without_using_up_the_acks_retries(device, rsps):
    message = queue(device)
    now = timezone.now()
    # A worker claimed the message; the gateway delivered it, but its reply is still on the way.
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING, attempts=1, lease_until=now + timedelta(seconds=60)
    )
    receive_ack(device, "3EB0SLOW0001", "DEVICE")
    for _ in range(12):
        process(now=now)
        now += timedelta(seconds=4)
    event = WebhookEvent.objects.get(kind="ack")
    assert event.status == WebhookEvent.Status.PENDING

    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENT, gateway_message_id="3EB0SLOW0001", lease_until=None
    )
    assert process(now=now + timedelta(minutes=1)) == 1
    assert reload(message).status == MessageStatus.DELIVERED


def test_it_keeps_an_ack_for_an_unknown_message_visible_after_its_retries(device):
    TenantWhatsAppConfig.objects.filter(tenant=device.tenant).update(webhook_retries=2)
    receive_ack(device, "3EB0NOBODY", "READ")
    now = timezone.now()
    for _ in range(5):
        process(now=now)
        now += timedelta(minutes=10)

    event = WebhookEvent.objects.get(kind="ack")
    assert event.status == WebhookEvent.Status.FAILED
    assert event.attempts == 3  # the first try and webhook_retries=2 retries
    assert "3EB0NOBODY" in event.last_error


# -- receiving ------------------------------------------------------------------------------------


def inbound(message_id: str, body: str, at, **extra) -> dict:
    return {
        "message_id": message_id,
        "sender": "6281234567890@c.us",
        "phone": CUSTOMER,
        "push_name": "Budi",
        "body": body,
        "timestamp": at,
        **extra,
    }


def test_it_counts_an_inbound_message_as_unread_even_when_its_timestamp_is_older(device):
    sent = queue(device, "Our reply")
    conversation = sent.conversation
    conversation.refresh_from_db()
    # The gateway stamps whole seconds (or its clock is behind): older than our last message.
    older = conversation.last_message_at - timedelta(seconds=2)

    services.message_receive(device=device, inbound=inbound("3EB0LATE", "Their message", older))

    conversation.refresh_from_db()
    assert conversation.unread_count == 1
    # The preview still shows the newest message.
    assert conversation.last_message_preview == "Our reply"


def test_it_stores_a_redelivered_inbound_message_once(device):
    now = timezone.now()
    for _ in range(3):
        services.message_receive(device=device, inbound=inbound("3EB0TWICE", "Hello", now))
    message = Message.objects.get(gateway_message_id="3EB0TWICE")
    assert message.conversation.unread_count == 1
    assert message.conversation.contact_name == "Budi"


def test_history_reads_during_a_long_outage_back_off_as_the_wait_grows(device, rsps):
    message = unconfirmed(device, rsps)
    rsps.get(HISTORY_URL, body=refused())
    now = message.next_attempt_at
    gaps = []
    for _ in range(40):
        services.message_deliver(message_id=message.pk, now=now)
        following = reload(message).next_attempt_at
        gaps.append(following - now)
        now = following

    # Capped at five minutes a try, and far fewer reads than one every few seconds for an hour.
    assert max(gaps) <= timedelta(minutes=5)
    assert now - message.next_attempt_at > timedelta(minutes=30)
    assert reload(message).status == MessageStatus.UNCONFIRMED
    assert sends(rsps) == 1
