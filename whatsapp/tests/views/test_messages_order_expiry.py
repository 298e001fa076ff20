"""Messages as people see them: expiry in the API, order as written (messages and
conversations stamped in the same second), and pages that tell the truth during an outage."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tenants.test import client_for
from whatsapp import services
from whatsapp.models import (
    Conversation,
    Device,
    HealthStatus,
    Message,
    MessageStatus,
    TenantWhatsAppConfig,
)
from whatsapp.tests.support.api import API, CUSTOMER, post

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs) -> str:
    return reverse(name, kwargs=kwargs, urlconf="booqing.urls_tenant")


# -- expiry in the API ---------------------------------------------------------------------------


def test_the_api_accepts_and_returns_expires_at_with_its_offset(device, api):
    response = post(
        api, "/messages", {"to": CUSTOMER, "body": "Hi", "expires_at": "2099-12-24T10:00:00+07:00"}
    )

    assert response.status_code == 202
    message = response.json()["message"]
    assert message["expires_at"] == "2099-12-24T03:00:00+00:00"
    assert message["status"] == "queued"
    fetched = api.get(f"{API}/messages/{message['id']}").json()["message"]
    assert fetched["expires_at"] == "2099-12-24T03:00:00+00:00"


def test_the_api_gives_a_message_the_tenants_default_expiry(device, api):
    TenantWhatsAppConfig.objects.filter(tenant=device.tenant).update(message_expiry_hours=6)
    before = timezone.now()

    message = post(api, "/messages", {"to": CUSTOMER, "body": "Hi"}).json()["message"]

    expires = Message.objects.get(pk=message["id"]).expires_at
    assert before + timedelta(hours=6) <= expires <= timezone.now() + timedelta(hours=6)
    assert message["expires_at"] == expires.isoformat()


@pytest.mark.parametrize(
    "value",
    ["2001-01-01T00:00:00+07:00", "2099-12-24T10:00:00"],
    ids=["in-the-past", "without-offset"],
)
def test_the_api_refuses_an_expiry_in_the_past_or_without_an_offset_naming_the_field(
    device, api, value
):
    response = post(api, "/messages", {"to": CUSTOMER, "body": "Hi", "expires_at": value})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_expires_at"
    assert "expires_at" in error["message"]
    assert not Message.objects.exists()


def test_the_api_refuses_an_expiry_that_is_not_a_date(device, api):
    response = post(api, "/messages", {"to": CUSTOMER, "body": "Hi", "expires_at": "tomorrow"})

    assert response.status_code == 422
    assert "expires_at" in response.json()["error"]["message"]


def test_the_api_shows_an_unconfirmed_message_apart_from_a_failed_one_and_settles_it(device, api):
    message, _ = services.message_send(tenant=device.tenant, to=CUSTOMER, body="Reminder")
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.UNCONFIRMED,
        maybe_sent=True,
        awaiting_decision=True,
        last_error="May have been sent: ...",
    )

    shown = api.get(f"{API}/messages/{message.pk}").json()["message"]
    assert (shown["status"], shown["needs_decision"]) == ("unconfirmed", True)
    listed = api.get(f"{API}/messages", {"status": "unconfirmed"}).json()["results"]
    assert [m["id"] for m in listed] == [str(message.pk)]

    settled = post(api, f"/messages/{message.pk}/mark-sent", {})
    assert settled.status_code == 200
    assert settled.json()["message"]["status"] == "sent"
    assert settled.json()["message"]["needs_decision"] is False


def test_cancel_stops_a_queued_message_and_refuses_a_sent_one(device, api):
    queued, _ = services.message_send(tenant=device.tenant, to=CUSTOMER, body="Cancel me")
    sent, _ = services.message_send(tenant=device.tenant, to=CUSTOMER, body="Too late")
    Message.objects.filter(pk=sent.pk).update(status=MessageStatus.SENT)

    assert post(api, f"/messages/{queued.pk}/cancel", {}).json()["message"]["status"] == (
        "cancelled"
    )
    refused = post(api, f"/messages/{sent.pk}/cancel", {})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_cancellable"
    assert services.message_deliver(message_id=queued.pk) == MessageStatus.CANCELLED


# -- order as written ------------------------------------------------------------------------------


def test_messages_stamped_in_the_same_second_show_in_the_order_they_arrived(device, cast):
    second = timezone.now().replace(microsecond=0) - timedelta(minutes=1)
    for n in range(25):
        services.message_receive(
            device=device,
            inbound={
                "message_id": f"3EB0BURST{n:02d}",
                "sender": "6281234567890@c.us",
                "phone": CUSTOMER,
                "body": f"part {n:02d}",
                "timestamp": second,  # WhatsApp's whole second, the same for all 25
            },
        )
    conversation = Conversation.objects.get()

    page = client_for(cast.alice, cast.host_a).get(
        url("whatsapp_thread", conversation_id=conversation.pk)
    )
    html = page.content.decode()
    positions = [html.index(f">part {n:02d}<") for n in range(25)]
    assert positions == sorted(positions)
    api = client_for(cast.alice, cast.host_a).get(
        f"{API}/messages", {"conversation_id": str(conversation.pk), "limit": 10}
    )
    first_page = [m["body"] for m in api.json()["results"]]
    assert first_page == [f"part {n:02d}" for n in range(24, 14, -1)]
    assert conversation.last_message_preview == "part 24"


def test_conversations_whose_contacts_wrote_in_the_same_second_are_listed_newest_first(
    device, cast
):
    second = timezone.now().replace(microsecond=0)
    for n, phone in enumerate(["+6281200000001", "+6281200000002", "+6281200000003"]):
        services.message_receive(
            device=device,
            inbound={
                "message_id": f"3EB0SAME{n}",
                "sender": f"{phone[1:]}@c.us",
                "phone": phone,
                "push_name": f"Contact {n + 1}",
                "body": f"hello {n + 1}",
                "timestamp": second,
            },
        )

    page = client_for(cast.alice, cast.host_a).get(url("whatsapp_inbox")).content.decode()
    positions = [page.index(f"Contact {n}") for n in (3, 2, 1)]
    assert positions == sorted(positions)
    listed = client_for(cast.alice, cast.host_a).get(f"{API}/conversations", {"limit": 2}).json()
    assert [c["contact_name"] for c in listed["results"]] == ["Contact 3", "Contact 2"]
    rest = client_for(cast.alice, cast.host_a).get(
        f"{API}/conversations", {"limit": 2, "cursor": listed["next"]}
    )
    assert [c["contact_name"] for c in rest.json()["results"]] == ["Contact 1"]


# -- pages during an outage -----------------------------------------------------------------------


def outage(device: Device, minutes: int = 12) -> None:
    TenantWhatsAppConfig.objects.filter(tenant=device.tenant).update(
        health_status=HealthStatus.UNHEALTHY,
        unhealthy_since=timezone.now() - timedelta(minutes=minutes),
    )


def test_the_thread_shows_the_endpoint_down_not_a_green_connected(device, cast):
    message, _ = services.message_send(tenant=device.tenant, to=CUSTOMER, body="Reminder")
    waiting_since = timezone.now() - timedelta(minutes=3)
    Message.objects.filter(pk=message.pk).update(
        waiting_since=waiting_since, last_error="Gateway 'Primary' could not be reached"
    )
    outage(device)

    page = client_for(cast.alice, cast.host_a).get(
        url("whatsapp_thread", conversation_id=message.conversation_id)
    )
    html = page.content.decode()

    assert 'data-status="unreachable"' in html
    assert 'data-status="connected"' not in html
    assert "last known: Connected" in html
    assert 'data-testid="outage-banner"' in html
    assert "Messages wait in the queue and are sent automatically, once each" in html
    assert "checked every 60 seconds" in html
    assert "1 message waiting" in html
    assert "not sent within 24 hours of being written is marked Expired" in html
    at = timezone.localtime(waiting_since).strftime("%H:%M")
    assert f"Waiting for the gateway since {at}" in html


@pytest.mark.parametrize("page", ["whatsapp_dashboard", "whatsapp_inbox"])
def test_the_dashboard_and_inbox_say_what_happens_to_messages_during_an_outage(device, cast, page):
    outage(device)

    html = client_for(cast.alice, cast.host_a).get(url(page)).content.decode()

    assert 'data-testid="outage-banner"' in html
    assert "The WhatsApp server is not answering since" in html
    assert "Primary" not in html  # tenant pages never name the endpoint
    assert "sent automatically, once each, as soon as it answers again" in html


def test_a_healthy_thread_shows_no_outage_and_a_failed_message_its_retry(device, cast):
    message, _ = services.message_send(tenant=device.tenant, to=CUSTOMER, body="Reminder")
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.FAILED, last_error="number not on WhatsApp"
    )

    html = (
        client_for(cast.alice, cast.host_a)
        .get(url("whatsapp_thread", conversation_id=message.conversation_id))
        .content.decode()
    )

    assert 'data-testid="outage-banner"' not in html
    assert 'data-status="connected"' in html
    assert "Failed: number not on WhatsApp" in html
    assert 'data-testid="message-unconfirmed"' not in html


def test_a_held_message_offers_send_again_and_mark_as_sent_on_the_page(device, cast):
    message, _ = services.message_send(tenant=device.tenant, to=CUSTOMER, body="Reminder")
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.UNCONFIRMED, maybe_sent=True, awaiting_decision=True
    )
    client = client_for(cast.alice, cast.host_a)
    thread = url("whatsapp_thread", conversation_id=message.conversation_id)

    html = client.get(thread).content.decode()
    assert "May have been sent" in html
    assert ">Send again<" in html and ">Mark as sent<" in html
    assert 'title="Unconfirmed: WhatsApp may have sent it"' in html

    mark = url(
        "whatsapp_message_mark_sent", conversation_id=message.conversation_id, message_id=message.pk
    )
    assert client.post(mark).status_code == 302
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert "Marked as sent by alice" in message.last_error
