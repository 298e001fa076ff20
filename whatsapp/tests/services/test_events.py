"""Events reach a real HTTP listener signed per Standard Webhooks: every status up to `read`,
retries after a 500 (with the log showing both attempts), Replay with the same webhook-id."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from tenants.test import client_for
from whatsapp import services
from whatsapp.management.commands.whatsapp_scheduler import fast_steps, run_steps
from whatsapp.models import (
    Device,
    DeviceStatus,
    EventDelivery,
    EventEndpoint,
    Message,
)
from whatsapp.selectors_tenant import event_endpoints_with_log
from whatsapp.tests.factories import make_front_desk
from whatsapp.tests.support import waha_webhooks as waha
from whatsapp.tests.support.api import CUSTOMER, GATEWAY
from whatsapp.tests.support.listener import IMMEDIATE

pytestmark = pytest.mark.django_db

SESSION = "bq-acme-frontdesk"
SECRET = "per-device-secret-front-desk"


@pytest.fixture
def setup(cast, settings, listener, device):
    """The conftest's front desk, events delivered at once, a gateway that accepts a send."""
    settings.TASKS = IMMEDIATE
    settings.WHATSAPP_EVENTS_ALLOW_PRIVATE_URLS = True
    with responses.RequestsMock(assert_all_requests_are_fired=False) as gateway:
        gateway.add_passthru("http://127.0.0.1")
        gateway.post(
            f"{GATEWAY}/api/sendText",
            status=201,
            json={"id": "true_6281234567890@c.us_3EB0EVENTS01", "fromMe": True},
        )
        yield cast, device


def subscribe(cast, url: str, events: list[str]) -> tuple[dict, object]:
    client = client_for(cast.alice, cast.host_a)
    reply = client.post(
        "/api/whatsapp/event-endpoints",
        {"url": url, "events": events},
        content_type="application/json",
    )
    assert reply.status_code == 201, reply.content
    return reply.json()["endpoint"], client


def gateway_webhook(device: Device, delivery: dict) -> None:
    body = waha.encode(delivery)
    reply = client_for(None).post(
        f"/api/whatsapp/webhooks/{device.webhook_id}",
        body,
        content_type="application/json",
        **{
            f"HTTP_{k.upper().replace('-', '_')}": v
            for k, v in waha.signed_headers(body, SECRET).items()
        },
    )
    assert reply.status_code == 200, reply.content
    services.webhook_events_process_due()


def test_the_listener_receives_every_status_up_to_read_each_signed(
    setup, listener, django_capture_on_commit_callbacks
):
    cast, device = setup
    endpoint, client = subscribe(cast, listener.url, ["message.status"])
    assert endpoint["secret"].startswith("whsec_")

    with django_capture_on_commit_callbacks(execute=True):
        reply = client.post(
            "/api/whatsapp/messages",
            {"to": CUSTOMER, "body": "Booking confirmed for 10:00"},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="booking-42-confirmation",
        )
    assert reply.status_code == 202
    message_id = reply.json()["message"]["id"]
    for ack in ("SERVER", "DEVICE", "READ"):
        with django_capture_on_commit_callbacks(execute=True):
            gateway_webhook(device, waha.ack(SESSION, "3EB0EVENTS01", ack))

    events = listener.events(endpoint["secret"])
    assert [e["data"]["status"] for e in events] == [
        "queued",
        "sending",
        "sent",
        "delivered",
        "read",
    ]
    assert {e["type"] for e in events} == {"message.status"}
    assert {e["data"]["id"] for e in events} == {message_id}
    assert {e["data"]["idempotency_key"] for e in events} == {"booking-42-confirmation"}
    assert events[-1]["data"]["to"] == CUSTOMER
    # every delivery has its own webhook-id
    assert len({headers["webhook-id"] for headers, _ in listener.received}) == 5
    assert Message.objects.get(pk=message_id).status == "read"


def test_a_failing_listener_gets_the_event_again_later_and_replay_keeps_the_webhook_id(
    setup, listener, monkeypatch, django_capture_on_commit_callbacks
):
    cast, device = setup
    endpoint, client = subscribe(cast, listener.url, ["message.received"])
    listener.statuses = [500]

    with django_capture_on_commit_callbacks(execute=True):
        gateway_webhook(device, waha.inbound_message(SESSION, text="Bisa jam 11?"))

    delivery = EventDelivery.objects.get()
    assert delivery.status == "pending"
    assert delivery.attempts == 1
    assert delivery.last_status_code == 500
    assert delivery.next_attempt_at > timezone.now()

    # Two hours later the scheduler finds it due again and the listener now answers 204.
    later = timezone.now() + timedelta(hours=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    with django_capture_on_commit_callbacks(execute=True):
        run_steps([s for s in fast_steps() if s.name == "event_deliveries"])

    first, second = listener.events(endpoint["secret"])
    assert first == second
    assert second["data"]["body"] == "Bisa jam 11?"
    assert listener.received[0][0]["webhook-id"] == listener.received[1][0]["webhook-id"]

    log = client.get(f"/api/whatsapp/event-endpoints/{endpoint['id']}/deliveries").json()
    [entry] = log["results"]
    assert entry["status"] == "delivered"
    assert entry["attempts"] == 2
    assert [a["status_code"] for a in entry["attempt_log"]] == [500, 204]

    page = client.get("/admin/whatsapp/event-endpoints")
    assert page.status_code == 200
    assert page.content.decode().count("500") >= 1

    with django_capture_on_commit_callbacks(execute=True):
        replay = client.post(
            f"/api/whatsapp/event-endpoints/{endpoint['id']}/deliveries/{entry['id']}/replay"
        )
    assert replay.status_code == 202
    assert len(listener.received) == 3
    replayed = listener.events(endpoint["secret"])[2]
    assert replayed == second
    assert listener.received[2][0]["webhook-id"] == listener.received[0][0]["webhook-id"]
    assert json.loads(listener.received[2][1])["type"] == "message.received"


def test_a_device_that_connects_and_drops_is_announced(
    setup, listener, django_capture_on_commit_callbacks
):
    cast, device = setup
    Device.objects.filter(pk=device.pk).update(status=DeviceStatus.SCAN_QR)
    endpoint, _ = subscribe(cast, listener.url, ["device.status"])

    for status in ("WORKING", "STOPPED"):
        with django_capture_on_commit_callbacks(execute=True):
            gateway_webhook(
                device,
                waha.envelope("session.status", SESSION, {"status": status, "name": SESSION}),
            )

    events = listener.events(endpoint["secret"])
    assert [e["data"]["status"] for e in events] == ["connected", "disconnected"]
    assert events[0]["data"]["device"]["id"] == str(device.pk)


def test_sends_never_wait_for_an_event_endpoint(
    cast, settings, listener, django_capture_on_commit_callbacks
):
    """With the real queue, a send only records its events and queues them on the `events`
    queue (worked by its own worker): the send makes no call to the booking product."""
    from django_tasks_db.models import DBTaskResult

    settings.WHATSAPP_EVENTS_ALLOW_PRIVATE_URLS = True
    make_front_desk(
        cast.tenant_a, configured=False, session=SESSION, secret=SECRET, min_send_gap_ms=0
    )
    subscribe(cast, listener.url, ["message.status"])
    with responses.RequestsMock() as gateway:  # an unregistered URL (the listener) would raise
        gateway.post(f"{GATEWAY}/api/sendText", status=201, json={"id": "3EB0QUIET001"})
        with django_capture_on_commit_callbacks(execute=True):
            message, _ = services.message_send(tenant=cast.tenant_a, to=CUSTOMER, body="Hi")
            assert services.message_deliver(message_id=message.pk) == "sent"
    assert listener.received == []
    assert EventDelivery.objects.filter(status="pending").count() == 3  # queued, sending, sent
    queued = DBTaskResult.objects.filter(queue_name="events")
    assert queued.count() == 3
    assert {r.task_path for r in queued} == {"whatsapp.tasks.deliver_event"}
    assert DBTaskResult.objects.filter(queue_name="default").count() == 1  # the send itself


def test_the_delivery_log_page_reads_every_endpoint_in_three_queries(
    cast, django_assert_num_queries
):
    now = timezone.now()
    for e in range(3):
        endpoint = EventEndpoint.objects.create(
            tenant=cast.tenant_a, url=f"https://booking.example/hook/{e}", secret="whsec_x"
        )
        EventDelivery.objects.bulk_create(
            EventDelivery(
                endpoint=endpoint,
                webhook_id=f"msg_{e}_{d}",
                event_type="message.received",
                payload={"n": d},
                give_up_at=now,
            )
            for d in range(5)
        )

    with django_assert_num_queries(3):  # endpoints, their newest deliveries, those tries
        endpoints = event_endpoints_with_log(tenant=cast.tenant_a, log_size=3)
        logs = [[delivery.payload["n"] for delivery in e.log] for e in endpoints]
        [list(delivery.tries.all()) for e in endpoints for delivery in e.log]

    assert [len(log) for log in logs] == [3, 3, 3]
