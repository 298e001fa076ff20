"""Scheduled sends (send_at), quiet hours, and that neither ever sends a message twice or late."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import responses
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tenants.test import client_for, tenant_host
from whatsapp import services
from whatsapp.models import Message, MessageStatus
from whatsapp.models_booking import EventDelivery, EventEndpoint
from whatsapp.services import messages as message_services
from whatsapp.services.quiet_hours import quiet_hours_until
from whatsapp.tests.support.api import CUSTOMER, SEND_URL, post

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.responses(assert_all_requests_are_fired=False),
]

WIB = ZoneInfo("Asia/Jakarta")


def gateway_sends(rsps, n: int = 1) -> None:
    for i in range(n):
        rsps.post(SEND_URL, status=201, json={"id": f"true_6281234567890@c.us_3EB0SCHED{i:04d}"})


def sends_seen(rsps) -> int:
    return sum(1 for call in rsps.calls if call.request.url == SEND_URL)


def at(moment: datetime, monkeypatch) -> None:
    """Move the clock (services read timezone.now())."""
    monkeypatch.setattr(timezone, "now", lambda: moment)


def reload(message) -> Message:
    return Message.objects.get(pk=message.pk)


# -- send_at in the API ------------------------------------------------------------------------


def test_a_future_send_at_answers_202_scheduled_with_the_time(
    device, api, django_capture_on_commit_callbacks
):
    send_at = (timezone.now() + timedelta(hours=2)).astimezone(WIB).replace(microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            api, "/messages", {"to": CUSTOMER, "body": "Reminder", "send_at": send_at.isoformat()}
        )
    assert response.status_code == 202
    message = response.json()["message"]
    assert message["status"] == "scheduled"
    assert datetime.fromisoformat(message["send_at"]) == send_at
    # Default expiry counts from the send time, so a reminder for tomorrow is not dead on arrival.
    assert datetime.fromisoformat(message["expires_at"]) == send_at + timedelta(hours=24)
    row = Message.objects.get(pk=message["id"])
    assert row.next_attempt_at == send_at
    task = DBTaskResult.objects.get(args_kwargs__args=[message["id"]])
    assert task.run_after == send_at


def test_send_at_now_or_a_few_seconds_ago_sends_at_once(device, api):
    just_now = (timezone.now() - timedelta(seconds=20)).isoformat()
    response = post(api, "/messages", {"to": CUSTOMER, "body": "Now", "send_at": just_now})
    assert response.status_code == 202
    assert response.json()["message"]["status"] == "queued"
    assert response.json()["message"]["send_at"] is None


@pytest.mark.parametrize(
    ("fields", "code", "named"),
    [
        ({"send_at": "PAST"}, "invalid_send_at", "send_at"),
        ({"send_at": "2099-12-24T10:00:00"}, "invalid_send_at", "send_at"),
        (
            {"send_at": "2099-12-24T10:00:00+07:00", "expires_at": "2099-12-24T09:00:00+07:00"},
            "invalid_expires_at",
            "expires_at",
        ),
    ],
)
def test_bad_send_times_answer_422_naming_the_field(device, api, fields, code, named):
    if fields.get("send_at") == "PAST":
        fields = {"send_at": (timezone.now() - timedelta(minutes=5)).isoformat()}
    response = post(api, "/messages", {"to": CUSTOMER, "body": "Hi", **fields})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == code
    assert named in error["message"]
    assert not Message.objects.exists()


def test_a_garbled_send_at_is_422_not_500(device, api):
    response = post(api, "/messages", {"to": CUSTOMER, "body": "Hi", "send_at": "tomorrow 9ish"})
    assert response.status_code == 422
    assert "send_at" in json.dumps(response.json())


# -- becoming due ------------------------------------------------------------------------------


def test_a_scheduled_message_waits_then_is_sent_once_by_worker_and_scheduler(
    device, rsps, monkeypatch
):
    gateway_sends(rsps, 3)
    send_at = timezone.now() + timedelta(hours=1)
    message, _ = services.message_send(
        tenant=device.tenant, to=CUSTOMER, body="Reminder", send_at=send_at
    )
    # Early: a task that runs too soon (or a duplicate) changes nothing.
    assert services.message_deliver(message_id=message.pk) == MessageStatus.SCHEDULED
    assert sends_seen(rsps) == 0

    # After a restart the task is gone: the scheduler finds the overdue row and enqueues it.
    DBTaskResult.objects.all().delete()
    at(send_at + timedelta(minutes=5), monkeypatch)
    assert message_services.messages_requeue_stale() >= 1
    assert DBTaskResult.objects.filter(args_kwargs__args=[str(message.pk)]).count() == 1
    assert services.message_deliver(message_id=message.pk) == MessageStatus.SENT
    # The original task (and a replay of it) arriving late sends nothing more.
    assert services.message_deliver(message_id=message.pk) == MessageStatus.SENT
    assert message_services.messages_requeue_stale() == 0
    assert sends_seen(rsps) == 1


def test_a_cancelled_scheduled_message_is_never_sent(device, api, rsps, monkeypatch):
    gateway_sends(rsps)
    send_at = timezone.now() + timedelta(hours=1)
    message, _ = services.message_send(
        tenant=device.tenant, to=CUSTOMER, body="Reminder", send_at=send_at
    )
    response = post(api, f"/messages/{message.pk}/cancel", {})
    assert response.status_code == 200
    assert response.json()["message"]["status"] == "cancelled"
    at(send_at + timedelta(minutes=5), monkeypatch)
    message_services.messages_requeue_stale()
    assert services.message_deliver(message_id=message.pk) == MessageStatus.CANCELLED
    assert sends_seen(rsps) == 0
    again = post(api, f"/messages/{message.pk}/cancel", {})
    assert again.status_code == 409


def test_a_scheduled_message_is_never_sent_after_its_expiry(device, rsps, monkeypatch):
    gateway_sends(rsps)
    send_at = timezone.now() + timedelta(hours=1)
    message, _ = services.message_send(
        tenant=device.tenant,
        to=CUSTOMER,
        body="Reminder",
        send_at=send_at,
        expires_at=send_at + timedelta(minutes=30),
    )
    at(send_at + timedelta(hours=2), monkeypatch)  # the worker was down past the expiry
    assert message_services.messages_requeue_stale() >= 1
    assert reload(message).status == MessageStatus.EXPIRED
    assert services.message_deliver(message_id=message.pk) == MessageStatus.EXPIRED
    assert sends_seen(rsps) == 0


def test_scheduled_sends_emit_message_status_events(device):
    endpoint = EventEndpoint.objects.create(
        tenant=device.tenant,
        url="https://booking.example/hooks",
        events=["message.status"],
        secret="whsec_dGVzdA==",
    )
    message, _ = services.message_send(
        tenant=device.tenant,
        to=CUSTOMER,
        body="Reminder",
        send_at=timezone.now() + timedelta(hours=1),
    )
    statuses = [
        d.payload["data"]["status"] for d in EventDelivery.objects.filter(endpoint=endpoint)
    ]
    assert statuses == ["scheduled"]
    services.message_cancel(message=message)
    statuses = [
        d.payload["data"]["status"]
        for d in EventDelivery.objects.filter(endpoint=endpoint).order_by("created_at")
    ]
    assert statuses == ["scheduled", "cancelled"]


# -- quiet hours -------------------------------------------------------------------------------


def wib(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=WIB)


@pytest.mark.parametrize(
    ("moment", "opens"),
    [
        (wib(22), wib(7, day=3)),
        (wib(3), wib(7)),
        (wib(21), wib(7, day=3)),
        (wib(7), None),
        (wib(12), None),
        (wib(20, 59), None),
    ],
)
def test_a_window_across_midnight(cast, moment, opens):
    assert quiet_hours_until(start=time(21), end=time(7), tenant=cast.tenant_a, at=moment) == opens


def test_the_window_is_read_in_the_tenants_zone(cast):
    cast.tenant_a.time_zone = "Asia/Jayapura"  # WIT, two hours ahead of WIB
    # 20:00 WIB is 22:00 WIT: inside the tenant's 21:00-07:00.
    opens = quiet_hours_until(start=time(21), end=time(7), tenant=cast.tenant_a, at=wib(20))
    assert opens == datetime(2026, 12, 3, 7, tzinfo=ZoneInfo("Asia/Jayapura"))


def test_an_api_send_in_quiet_hours_waits_until_the_window_opens(device, config, api, monkeypatch):
    config.quiet_hours_start, config.quiet_hours_end = time(21), time(7)
    config.save()
    at(wib(22, 30), monkeypatch)
    response = post(api, "/messages", {"to": CUSTOMER, "body": "Promo"})
    assert response.status_code == 202
    message = response.json()["message"]
    assert message["status"] == "scheduled"
    assert datetime.fromisoformat(message["send_at"]) == wib(7, day=3)


def test_a_scheduled_time_inside_quiet_hours_moves_to_the_end(device, config, monkeypatch):
    config.quiet_hours_start, config.quiet_hours_end = time(21), time(7)
    config.save()
    at(wib(12), monkeypatch)
    message, _ = services.message_send(
        tenant=device.tenant, to=CUSTOMER, body="Reminder", send_at=wib(23)
    )
    assert message.status == MessageStatus.SCHEDULED
    assert message.send_at == wib(7, day=3)


def test_inbox_replies_are_not_held(device, config, monkeypatch):
    config.quiet_hours_start, config.quiet_hours_end = time(21), time(7)
    config.save()
    at(wib(22, 30), monkeypatch)
    message, _ = services.message_send(
        tenant=device.tenant, to=CUSTOMER, body="Sure, see you", from_inbox=True
    )
    assert message.status == MessageStatus.QUEUED


def test_a_reply_typed_in_the_inbox_at_night_goes_out(cast, device, config, rsps, monkeypatch):
    gateway_sends(rsps)
    config.quiet_hours_start, config.quiet_hours_end = time(21), time(7)
    config.save()
    conversation = services.message_receive(
        device=device,
        inbound={
            "message_id": "IN1",
            "sender": "6281234567890@c.us",
            "phone": CUSTOMER,
            "body": "Hi",
        },
    ).conversation
    at(wib(23), monkeypatch)
    client = client_for(user=cast.bob, host=tenant_host(cast.tenant_a))
    reply_url = reverse(
        "whatsapp_thread_reply",
        kwargs={"conversation_id": conversation.pk},
        urlconf="booqing.urls_tenant",
    )
    response = client.post(
        reply_url,
        {"body": "Yes, we are open tomorrow"},
    )
    assert response.status_code in (200, 302)
    sent = Message.objects.get(body="Yes, we are open tomorrow")
    assert sent.status == MessageStatus.QUEUED
    assert services.message_deliver(message_id=sent.pk) == MessageStatus.SENT


def test_a_queued_api_message_due_in_quiet_hours_waits_and_goes_when_it_opens(
    device, config, rsps, monkeypatch
):
    gateway_sends(rsps)
    at(wib(20, 50), monkeypatch)
    message, _ = services.message_send(tenant=device.tenant, to=CUSTOMER, body="Promo")
    config.quiet_hours_start, config.quiet_hours_end = time(21), time(7)
    config.save()
    at(wib(21, 5), monkeypatch)  # the worker was busy; now it is quiet time
    assert services.message_deliver(message_id=message.pk) == MessageStatus.SCHEDULED
    assert reload(message).send_at == wib(7, day=3)
    assert sends_seen(rsps) == 0
    at(wib(7, 1, day=3), monkeypatch)
    assert services.message_deliver(message_id=message.pk) == MessageStatus.SENT
    assert sends_seen(rsps) == 1


def test_quiet_hours_never_push_a_send_past_its_expiry(device, config, rsps, monkeypatch):
    gateway_sends(rsps)
    config.quiet_hours_start, config.quiet_hours_end = time(21), time(7)
    config.save()
    at(wib(22), monkeypatch)
    message, _ = services.message_send(
        tenant=device.tenant, to=CUSTOMER, body="Tonight only", expires_at=wib(23, 30)
    )
    at(wib(23, 31), monkeypatch)
    message_services.messages_requeue_stale()
    assert reload(message).status == MessageStatus.EXPIRED
    assert sends_seen(rsps) == 0


def test_cancel_loses_to_a_send_already_under_way_and_nothing_goes_twice(
    device, api, rsps, monkeypatch
):
    send_at = timezone.now() + timedelta(minutes=10)
    message, _ = services.message_send(
        tenant=device.tenant, to=CUSTOMER, body="Reminder", send_at=send_at
    )
    at(send_at + timedelta(seconds=1), monkeypatch)
    cancel_answers = []

    def gateway_answers(request):
        # The booking product cancels while the gateway is working on the send.
        cancel_answers.append(post(api, f"/messages/{message.pk}/cancel", {}).status_code)
        return (201, {}, json.dumps({"id": "true_6281234567890@c.us_3EB0RACE0001"}))

    rsps.add_callback(responses.POST, SEND_URL, callback=gateway_answers)
    assert services.message_deliver(message_id=message.pk) == MessageStatus.SENT
    assert cancel_answers == [409]
    # Two more copies of the task (a replay, the scheduler's sweep) send nothing.
    assert services.message_deliver(message_id=message.pk) == MessageStatus.SENT
    message_services.messages_requeue_stale()
    assert services.message_deliver(message_id=message.pk) == MessageStatus.SENT
    assert sends_seen(rsps) == 1
    assert reload(message).attempts == 1
