"""Tenant pages: dashboard, pairing, inbox and threads, API tokens (gateway mocked over HTTP)."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import partial
from urllib.parse import unquote

import pytest
import responses
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from responses import matchers

from tenants.test import CANARY_KEYS, client_for
from whatsapp import services
from whatsapp.models import (
    SILENT_AFTER,
    ApiToken,
    Device,
    DeviceStatus,
    Message,
    MessageStatus,
    TenantWhatsAppConfig,
)
from whatsapp.tests import factories
from whatsapp.tests.factories import make_conversation, make_message

PRIMARY = "https://primary.gateway.test"
HTMX = {"HTTP_HX_REQUEST": "true"}
SIM_QR = "http://localhost:3000/phone/bq-acme-0123456789ab?code=k7Qz"


@pytest.fixture
def configured(cast):
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Primary", actor=None)
    return cast


# A new device waits for its QR scan; tests that need another status say so.
make_device = partial(factories.make_device, status=DeviceStatus.SCAN_QR)


def mock_status(gateway, device, status="SCAN_QR_CODE", me=None):
    gateway.get(
        f"{PRIMARY}/api/sessions/{device.session_name}",
        json={"name": device.session_name, "status": status, "me": me},
    )


def mock_qr(gateway, device, value=SIM_QR):
    gateway.get(
        f"{PRIMARY}/api/{device.session_name}/auth/qr",
        match=[matchers.query_param_matcher({"format": "raw"})],
        json={"value": value},
    )


def text(response) -> str:
    return response.content.decode()


def assert_no_keys(response) -> None:
    for key in CANARY_KEYS:
        assert key not in text(response)


# --- dashboard ---------------------------------------------------------------------------------


def test_it_shows_the_whatsapp_server_without_its_name_and_with_unknown_health(configured):
    response = client_for(configured.alice, configured.host_a).get("/admin/whatsapp")

    assert response.status_code == 200
    assert "WhatsApp server" in text(response)
    assert "Primary" not in text(response)  # the endpoint's name is the operator's business
    assert "Health status unknown" in text(response)
    assert "primary.gateway.test" not in text(response)
    assert_no_keys(response)


def test_it_shows_when_the_health_was_last_checked(configured):
    TenantWhatsAppConfig.objects.filter(tenant=configured.tenant_a).update(
        health_status="healthy", last_health_check=timezone.now() - timedelta(minutes=3)
    )

    response = client_for(configured.alice, configured.host_a).get("/admin/whatsapp")

    assert "Healthy" in text(response)
    assert "checked 3\xa0minutes ago" in text(response)


def test_it_explains_an_endpoint_missing_from_the_server(cast):
    TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Retired")

    response = client_for(cast.alice, cast.host_a).get("/admin/whatsapp")

    assert "is not available any more" in text(response)
    assert "Retired" not in text(response)


def test_it_explains_that_whatsapp_is_not_set_up(cast):
    response = client_for(cast.alice, cast.host_a).get("/admin/whatsapp")

    assert "WhatsApp is not set up" in text(response)


def test_it_lists_devices_with_readable_status(configured):
    make_device(configured.tenant_a, "Front desk", status=DeviceStatus.SCAN_QR)
    make_device(
        configured.tenant_a, "Back office", status=DeviceStatus.CONNECTED, phone="+628111222333"
    )
    make_device(configured.tenant_b, "Globex phone", status=DeviceStatus.CONNECTED)

    page = text(client_for(configured.bob, configured.host_a).get("/admin/whatsapp"))

    assert "Front desk" in page
    assert "Waiting for QR scan" in page
    assert "Back office" in page
    assert "0811-1222-333" in page  # as Indonesians dial it
    assert "Globex phone" not in page


def test_it_flags_a_connected_device_that_went_silent(configured):
    long_ago = timezone.now() - timedelta(days=2)
    make_device(
        configured.tenant_a,
        "Quiet",
        status=DeviceStatus.CONNECTED,
        connected_at=long_ago,
        last_event_at=long_ago,
    )
    make_device(
        configured.tenant_a, "Chatty", status=DeviceStatus.CONNECTED, last_event_at=timezone.now()
    )

    page = text(client_for(configured.alice, configured.host_a).get("/admin/whatsapp"))

    assert page.count("Connected but silent") == 1


def test_a_device_is_silent_only_when_connected_and_unheard_for_a_day():
    now = timezone.now()
    quiet = now - SILENT_AFTER - timedelta(minutes=1)
    recent = now - SILENT_AFTER + timedelta(minutes=1)

    assert Device(status=DeviceStatus.CONNECTED, last_event_at=quiet).is_silent
    assert Device(status=DeviceStatus.CONNECTED, connected_at=quiet).is_silent
    # The last event counts over the connection time; unheard-of is not silent.
    assert not Device(
        status=DeviceStatus.CONNECTED, connected_at=quiet, last_event_at=recent
    ).is_silent
    assert not Device(status=DeviceStatus.CONNECTED).is_silent
    assert not Device(status=DeviceStatus.STOPPED, last_event_at=quiet).is_silent


# --- adding a device ---------------------------------------------------------------------------


def test_it_adds_a_device_and_lands_on_its_pairing_page(configured, gateway):
    gateway.post(f"{PRIMARY}/api/sessions", status=201, json={"status": "STARTING"})
    client = client_for(configured.alice, configured.host_a)

    response = client.post("/admin/whatsapp/devices/new", {"name": "Front desk"})

    device = Device.objects.get(tenant=configured.tenant_a)
    assert device.name == "Front desk"
    assert response.status_code == 302
    assert response["Location"] == f"/admin/whatsapp/devices/{device.pk}"


def test_it_sends_htmx_to_the_pairing_page_after_adding(configured, gateway):
    gateway.post(f"{PRIMARY}/api/sessions", status=201, json={"status": "STARTING"})

    response = client_for(configured.alice, configured.host_a).post(
        "/admin/whatsapp/devices/new", {"name": "Front desk"}, **HTMX
    )

    device = Device.objects.get(tenant=configured.tenant_a)
    assert response["HX-Redirect"] == f"/admin/whatsapp/devices/{device.pk}"


def test_it_says_why_adding_a_device_failed_and_keeps_no_device(configured, gateway):
    gateway.post(f"{PRIMARY}/api/sessions", status=500, json={"message": "engine crashed"})
    client = client_for(configured.alice, configured.host_a)

    response = client.post("/admin/whatsapp/devices/new", {"name": "Front desk"})

    assert response.status_code == 422
    assert "Failed to create device" in text(response)
    assert not Device.objects.exists()
    assert_no_keys(response)


def test_it_shows_the_failure_inside_the_form_for_htmx(configured, gateway):
    gateway.post(f"{PRIMARY}/api/sessions", status=500, json={"message": "engine crashed"})

    response = client_for(configured.alice, configured.host_a).post(
        "/admin/whatsapp/devices/new", {"name": "Front desk"}, **HTMX
    )

    assert response.status_code == 200
    assert "Failed to create device" in text(response)
    assert "<html" not in text(response)


def test_it_explains_adding_a_device_without_an_endpoint(cast):
    response = client_for(cast.alice, cast.host_a).post(
        "/admin/whatsapp/devices/new", {"name": "Front desk"}
    )

    assert response.status_code == 409
    assert "WhatsApp is not set up for Acme Salon" in text(response)


def test_it_hides_device_changes_from_staff_and_refuses_them(configured):
    device = make_device(configured.tenant_a, status=DeviceStatus.CONNECTED, phone="+6281111")
    client = client_for(configured.bob, configured.host_a)

    dashboard = text(client.get("/admin/whatsapp"))
    device_page = text(client.get(f"/admin/whatsapp/devices/{device.pk}"))

    assert "Front desk" in dashboard
    assert "Add device" not in dashboard
    assert "Delete" not in device_page
    assert "Log out…" not in device_page
    assert client.post("/admin/whatsapp/devices/new", {"name": "X"}).status_code == 403
    assert client.post(f"/admin/whatsapp/devices/{device.pk}/delete").status_code == 403
    assert client.post(f"/admin/whatsapp/devices/{device.pk}/logout").status_code == 403
    assert Device.objects.filter(pk=device.pk).exists()


def test_it_answers_404_for_another_tenants_device(configured):
    theirs = make_device(configured.tenant_b, "Globex phone")
    client = client_for(configured.alice, configured.host_a)

    assert client.get(f"/admin/whatsapp/devices/{theirs.pk}").status_code == 404
    assert client.post(f"/admin/whatsapp/devices/{theirs.pk}/delete").status_code == 404
    assert client.post(f"/admin/whatsapp/devices/{theirs.pk}/qr").status_code == 404
    assert Device.objects.filter(pk=theirs.pk).exists()


# --- pairing page ------------------------------------------------------------------------------


def test_it_draws_the_qr_with_a_countdown_and_a_phone_link(configured, gateway):
    device = make_device(configured.tenant_a)
    mock_status(gateway, device, "SCAN_QR_CODE")
    mock_qr(gateway, device, SIM_QR)

    # The live status section (htmx) is what asks the gateway; the page itself never waits.
    response = client_for(configured.alice, configured.host_a).get(
        f"/admin/whatsapp/devices/{device.pk}", **HTMX
    )

    page = text(response)
    qr = re.search(r'data-testid="qr"[^>]*>(.*?)</div>', page, re.S)
    assert qr and "<svg" in qr.group(1)
    assert "data-expires-at=" in page
    countdown = re.search(r'data-expires-in="(\d+)"[^>]*>Expires in (\d+) s<', page)
    assert countdown and 0 < int(countdown.group(2)) <= 60  # a first QR lives a minute
    assert f'href="{SIM_QR}"' in page
    assert "Can't scan? Open the link on the phone" in page
    assert_no_keys(response)


def test_it_does_not_link_a_qr_value_that_is_not_a_web_address(configured, gateway):
    device = make_device(configured.tenant_a)
    mock_status(gateway, device, "SCAN_QR_CODE")
    mock_qr(gateway, device, "2@Xk3oPq9aZ,abc,def==")

    page = text(
        client_for(configured.alice, configured.host_a).get(
            f"/admin/whatsapp/devices/{device.pk}", **HTMX
        )
    )

    assert "<svg" in page
    assert 'data-testid="qr-link"' not in page


def test_it_polls_the_status_while_pairing_and_stops_once_connected(configured, gateway):
    device = make_device(configured.tenant_a)
    client = client_for(configured.alice, configured.host_a)
    url = f"/admin/whatsapp/devices/{device.pk}"
    mock_status(gateway, device, "SCAN_QR_CODE")
    mock_qr(gateway, device)

    pairing = text(client.get(url, **HTMX))

    gateway.replace(
        responses.GET,
        f"{PRIMARY}/api/sessions/{device.session_name}",
        json={
            "name": device.session_name,
            "status": "WORKING",
            "me": {"id": "6281234567890@c.us", "pushName": "Acme Front Desk"},
        },
    )
    connected = text(client.get(url, **HTMX))

    assert pairing.lstrip().startswith('<section id="device-status"')
    assert 'hx-trigger="every 2s"' in pairing
    assert 'data-testid="qr"' in pairing
    assert 'hx-trigger="every 2s"' not in connected
    assert 'data-testid="qr"' not in connected
    assert "Connected as <strong>0812-3456-7890</strong> (Acme Front Desk)" in connected


def test_it_stops_polling_when_the_session_failed_and_offers_reconnect(configured, gateway):
    device = make_device(configured.tenant_a)
    mock_status(gateway, device, "FAILED")

    fragment = text(
        client_for(configured.alice, configured.host_a).get(
            f"/admin/whatsapp/devices/{device.pk}", **HTMX
        )
    )

    assert 'data-status="failed"' in fragment
    assert "hx-trigger" not in fragment
    assert "Reconnect" in fragment


def test_it_shows_why_the_status_could_not_be_refreshed(configured, gateway):
    device = make_device(configured.tenant_a, status=DeviceStatus.CONNECTED)
    gateway.get(f"{PRIMARY}/api/sessions/{device.session_name}", status=503)

    page = text(
        client_for(configured.alice, configured.host_a).get(
            f"/admin/whatsapp/devices/{device.pk}", **HTMX
        )
    )

    # Salon owners read what happened, not the gateway's name and host (issue 11).
    assert "Could not refresh the status" in page
    assert "Gateway '" not in page
    assert PRIMARY.split("//", 1)[1] not in page


def test_it_requests_a_new_qr(configured, gateway):
    device = make_device(configured.tenant_a)
    mock_status(gateway, device, "SCAN_QR_CODE")
    mock_qr(gateway, device, "http://localhost:3000/phone/x?code=second")

    response = client_for(configured.alice, configured.host_a).post(
        f"/admin/whatsapp/devices/{device.pk}/qr", **HTMX
    )

    assert response.status_code == 200
    assert "A new QR code was requested" in text(response)
    assert "code=second" in text(response)


def test_it_reconnects_a_stopped_device(configured, gateway):
    device = make_device(configured.tenant_a, status=DeviceStatus.STOPPED)
    gateway.post(f"{PRIMARY}/api/sessions/{device.session_name}/restart", json={})
    mock_status(gateway, device, "STARTING")

    response = client_for(configured.alice, configured.host_a).post(
        f"/admin/whatsapp/devices/{device.pk}/restart"
    )

    assert response.status_code == 302
    device.refresh_from_db()
    assert device.status == DeviceStatus.STARTING


def test_it_logs_a_device_out(configured, gateway):
    device = make_device(configured.tenant_a, status=DeviceStatus.CONNECTED, phone="+6281234567890")
    gateway.post(f"{PRIMARY}/api/sessions/{device.session_name}/logout", json={})
    mock_status(gateway, device, "SCAN_QR_CODE")
    client = client_for(configured.alice, configured.host_a)

    response = client.post(f"/admin/whatsapp/devices/{device.pk}/logout", follow=True)

    device.refresh_from_db()
    assert device.phone == ""
    assert "was logged out" in text(response)


def test_it_shows_a_gateway_refusal_to_log_out(configured, gateway):
    device = make_device(configured.tenant_a, status=DeviceStatus.CONNECTED)
    gateway.post(f"{PRIMARY}/api/sessions/{device.session_name}/logout", status=500)
    mock_status(gateway, device, "WORKING")

    response = client_for(configured.alice, configured.host_a).post(
        f"/admin/whatsapp/devices/{device.pk}/logout", **HTMX
    )

    assert response.status_code == 200
    # The refusal is explained without the gateway's name and host (issue 11).
    assert "The WhatsApp service is not answering right now" in text(response)
    assert PRIMARY.split("//", 1)[1] not in text(response)


def test_it_deletes_a_device_and_returns_to_the_dashboard(configured, gateway):
    device = make_device(configured.tenant_a)
    gateway.delete(f"{PRIMARY}/api/sessions/{device.session_name}", status=200, json={})
    client = client_for(configured.alice, configured.host_a)

    response = client.post(f"/admin/whatsapp/devices/{device.pk}/delete", follow=True)

    assert response.redirect_chain[-1][0] == "/admin/whatsapp"
    assert "Front desk was deleted" in text(response)
    assert not Device.objects.filter(pk=device.pk).exists()


# --- inbox -------------------------------------------------------------------------------------


def test_it_lists_conversations_newest_first_with_unread_counts(configured):
    device = make_device(configured.tenant_a, status=DeviceStatus.CONNECTED)
    now = timezone.now()
    make_conversation(
        device,
        "+6281100000001",
        contact_name="Old Olga",
        last_message_at=now - timedelta(hours=2),
        last_message_preview="see you",
    )
    make_conversation(
        device,
        "+6281100000002",
        contact_name="New Nina",
        last_message_at=now,
        unread_count=3,
        last_message_preview="Can I book at 10?",
    )
    other = make_device(configured.tenant_b, "Globex phone")
    make_conversation(other, "+6281100000003", contact_name="Globex Gina")

    page = text(client_for(configured.bob, configured.host_a).get("/admin/whatsapp/conversations/"))

    assert page.index("New Nina") < page.index("Old Olga")
    assert re.search(r'data-testid="unread"[^>]*>3<', page)
    assert "Can I book at 10?" in page
    assert "Globex Gina" not in page


@pytest.mark.parametrize(
    ("query", "found"),
    [("nina", "New Nina"), ("0812 3456 7890", "New Nina"), ("+62 811-0000", "Old Olga")],
)
def test_it_searches_conversations_by_name_or_number(configured, query, found):
    device = make_device(configured.tenant_a, status=DeviceStatus.CONNECTED)
    make_conversation(device, "+6281100001111", contact_name="Old Olga")
    make_conversation(device, "+6281234567890", contact_name="New Nina")
    expected_missing = {"New Nina", "Old Olga"} - {found}

    page = text(
        client_for(configured.alice, configured.host_a).get(
            "/admin/whatsapp/conversations/", {"q": query}
        )
    )

    assert found in page
    for name in expected_missing:
        assert name not in page


def test_it_pages_the_inbox_by_25(configured):
    device = make_device(configured.tenant_a, status=DeviceStatus.CONNECTED)
    for i in range(30):
        make_conversation(device, f"+62811000{i:05d}")
    client = client_for(configured.alice, configured.host_a)

    first = text(client.get("/admin/whatsapp/conversations/"))
    # Keyset paging (issue 11: no COUNT(*) over the history): "Older" carries the cursor.
    older = re.search(r'href="\?[^"]*after=([^"&]+)"[^>]*data-testid="older"', first)
    second = text(client.get("/admin/whatsapp/conversations/", {"after": unquote(older[1])}))

    assert first.count('data-testid="conversation"') == 25
    assert second.count('data-testid="conversation"') == 5
    assert 'data-testid="older"' not in second


def test_it_loads_the_inbox_in_the_same_number_of_queries_for_5_or_50(
    configured, django_assert_max_num_queries
):
    device = make_device(configured.tenant_a, status=DeviceStatus.CONNECTED)
    make_device(configured.tenant_a, "Second phone", status=DeviceStatus.CONNECTED)
    for i in range(5):
        make_conversation(device, f"+62811000{i:05d}", unread_count=i)
    client = client_for(configured.alice, configured.host_a)
    with CaptureQueriesContext(connection) as five:
        assert client.get("/admin/whatsapp/conversations/").status_code == 200
    for i in range(5, 50):
        make_conversation(device, f"+62811000{i:05d}", unread_count=i)

    with django_assert_max_num_queries(len(five.captured_queries)):
        response = client.get("/admin/whatsapp/conversations/")

    assert text(response).count('data-testid="conversation"') == 25


def test_it_sends_a_new_message_and_opens_its_thread(configured):
    make_device(configured.tenant_a, status=DeviceStatus.CONNECTED)
    client = client_for(configured.bob, configured.host_a)

    response = client.post(
        "/admin/whatsapp/conversations/new", {"to": "0812 3456 7890", "body": "Hello!"}
    )

    message = Message.objects.get()
    assert message.status == MessageStatus.QUEUED
    assert message.conversation.contact == "+6281234567890"
    assert response["Location"] == f"/admin/whatsapp/conversations/{message.conversation_id}"


def test_it_lets_the_sender_pick_the_device_when_there_are_several(configured):
    make_device(configured.tenant_a, "Front desk", status=DeviceStatus.CONNECTED)
    second = make_device(configured.tenant_a, "Back office", status=DeviceStatus.CONNECTED)
    client = client_for(configured.alice, configured.host_a)

    assert "Send from" in text(client.get("/admin/whatsapp/conversations/"))
    client.post(
        "/admin/whatsapp/conversations/new",
        {"to": "+6281234567890", "body": "Hi", "device": str(second.pk)},
    )

    assert Message.objects.get().device == second


def test_it_explains_an_invalid_number(configured):
    make_device(configured.tenant_a, status=DeviceStatus.CONNECTED)

    response = client_for(configured.alice, configured.host_a).post(
        "/admin/whatsapp/conversations/new", {"to": "12", "body": "Hi"}
    )

    assert response.status_code == 422
    assert "is not a valid phone number" in text(response)
    assert not Message.objects.exists()


# --- thread ------------------------------------------------------------------------------------


def test_it_shows_the_thread_oldest_first_with_ticks_and_failures(configured):
    device = make_device(configured.tenant_a, status=DeviceStatus.CONNECTED)
    conversation = make_conversation(device, contact_name="Nina")
    make_message(conversation, "Can I book at 10?", direction="in", status="received")
    make_message(conversation, "Queued one", status=MessageStatus.QUEUED)
    make_message(conversation, "Delivered one", status=MessageStatus.DELIVERED)
    make_message(conversation, "Read one", status=MessageStatus.READ)
    make_message(
        conversation,
        "Failed one",
        status=MessageStatus.FAILED,
        last_error="The number is not on WhatsApp.",
    )

    page = text(
        client_for(configured.alice, configured.host_a).get(
            f"/admin/whatsapp/conversations/{conversation.pk}"
        )
    )

    bubbles = re.findall(
        r'data-testid="message"\s+data-direction="(\w+)" data-status="(\w+)"', page
    )
    assert bubbles == [
        ("in", "received"),
        ("out", "queued"),
        ("out", "delivered"),
        ("out", "read"),
        ("out", "failed"),
    ]
    assert page.index("Can I book at 10?") < page.index("Failed one")
    assert 'title="Delivered" aria-label="Delivered">✓✓' in page
    assert 'class="tick tick-read"' in page
    assert "Failed: The number is not on WhatsApp." in page
    assert ">Retry</button>" in page


def test_it_retries_a_failed_message(configured):
    device = make_device(configured.tenant_a, status=DeviceStatus.CONNECTED)
    conversation = make_conversation(device)
    failed = make_message(conversation, "Hi", status=MessageStatus.FAILED, last_error="Timeout")

    response = client_for(configured.alice, configured.host_a).post(
        f"/admin/whatsapp/conversations/{conversation.pk}/messages/{failed.pk}/retry", **HTMX
    )

    failed.refresh_from_db()
    assert failed.status == MessageStatus.QUEUED
    assert 'data-status="queued"' in text(response)
    assert "Failed: Timeout" not in text(response)


def test_it_marks_a_thread_read_when_opened(configured):
    device = make_device(configured.tenant_a, status=DeviceStatus.CONNECTED)
    conversation = make_conversation(device, unread_count=4)

    client_for(configured.bob, configured.host_a).get(
        f"/admin/whatsapp/conversations/{conversation.pk}"
    )

    conversation.refresh_from_db()
    assert conversation.unread_count == 0


def test_it_polls_the_message_list(configured):
    device = make_device(configured.tenant_a, status=DeviceStatus.CONNECTED)
    conversation = make_conversation(device)
    client = client_for(configured.alice, configured.host_a)
    url = f"/admin/whatsapp/conversations/{conversation.pk}"
    make_message(conversation, "First", direction="in", status="received")
    before = text(client.get(url, **HTMX))
    make_message(conversation, "Second", direction="in", status="received")

    after = text(client.get(url, **HTMX))

    assert before.lstrip().startswith('<div id="thread-messages"')
    assert "data-poll-url=" in before  # static/js polls with a version stamp (issue 11)
    assert "Second" not in before
    assert "Second" in after


def test_it_queues_a_reply(configured):
    device = make_device(configured.tenant_a, status=DeviceStatus.CONNECTED)
    conversation = make_conversation(device)

    response = client_for(configured.bob, configured.host_a).post(
        f"/admin/whatsapp/conversations/{conversation.pk}/reply", {"body": "See you at 10."}
    )

    reply = Message.objects.get()
    assert (reply.direction, reply.status, reply.conversation) == ("out", "queued", conversation)
    assert response["Location"] == f"/admin/whatsapp/conversations/{conversation.pk}"


def test_it_shows_an_htmx_reply_in_the_thread_without_a_reload(configured):
    device = make_device(configured.tenant_a, status=DeviceStatus.CONNECTED)
    conversation = make_conversation(device)

    response = client_for(configured.alice, configured.host_a).post(
        f"/admin/whatsapp/conversations/{conversation.pk}/reply",
        {"body": "See you at 10."},
        **HTMX,
    )

    page = text(response)
    assert page.lstrip().startswith('<div id="thread-panel"')
    assert 'data-direction="out" data-status="queued"' in page
    assert "See you at 10." in page
    assert "></textarea>" in page  # the reply box is empty again


def test_it_keeps_an_empty_reply_and_says_why(configured):
    device = make_device(configured.tenant_a, status=DeviceStatus.CONNECTED)
    conversation = make_conversation(device)

    response = client_for(configured.alice, configured.host_a).post(
        f"/admin/whatsapp/conversations/{conversation.pk}/reply", {"body": "   "}
    )

    assert response.status_code == 422
    assert "This field is required." in text(response)
    assert not Message.objects.exists()


def test_it_answers_404_for_another_tenants_conversation_and_message(configured):
    theirs = make_conversation(make_device(configured.tenant_b, "Globex phone"))
    failed = make_message(theirs, "Hi", status=MessageStatus.FAILED)
    mine = make_conversation(make_device(configured.tenant_a))
    client = client_for(configured.alice, configured.host_a)

    assert client.get(f"/admin/whatsapp/conversations/{theirs.pk}").status_code == 404
    reply = client.post(f"/admin/whatsapp/conversations/{theirs.pk}/reply", {"body": "x"})
    assert reply.status_code == 404
    retry = f"/admin/whatsapp/conversations/{mine.pk}/messages/{failed.pk}/retry"
    assert client.post(retry).status_code == 404
    assert not Message.objects.filter(direction="out", status="queued").exists()


# --- API tokens --------------------------------------------------------------------------------


def test_it_shows_a_new_token_once(configured):
    client = client_for(configured.alice, configured.host_a)

    created = client.post("/admin/whatsapp/api-tokens/new", {"name": "Booking app"})
    raw = re.search(r'data-testid="token-value"', text(created)) and re.search(
        r'value="(bqw_[^"]+)"', text(created)
    ).group(1)
    listed = client.get("/admin/whatsapp/api-tokens")

    assert created.status_code == 201
    assert "shown only once" in text(created)
    assert "no-store" in created["Cache-Control"]
    assert services.api_token_authenticate(raw) is not None
    assert raw not in text(listed)
    assert "Booking app" in text(listed)
    assert f"{raw[:10]}…" in text(listed)
    assert "Authorization: Bearer &lt;token&gt;" in text(listed)
    assert "/api/whatsapp/messages" in text(listed)


def test_it_revokes_a_token(configured):
    token, raw = services.api_token_create(
        tenant=configured.tenant_a, name="Booking app", actor=configured.alice
    )
    client = client_for(configured.alice, configured.host_a)

    response = client.post(f"/admin/whatsapp/api-tokens/{token.pk}/revoke", follow=True)

    assert "revoked" in text(response)
    assert "Revoked" in text(response)
    assert services.api_token_authenticate(raw) is None


def test_it_keeps_tokens_from_staff_and_other_tenants(configured):
    token, _ = services.api_token_create(
        tenant=configured.tenant_b, name="Globex app", actor=configured.charlie
    )
    staff = client_for(configured.bob, configured.host_a)
    admin = client_for(configured.alice, configured.host_a)

    assert staff.get("/admin/whatsapp/api-tokens").status_code == 403
    assert staff.post("/admin/whatsapp/api-tokens/new", {"name": "x"}).status_code == 403
    assert "API tokens" not in text(staff.get("/admin/whatsapp"))
    assert "Globex app" not in text(admin.get("/admin/whatsapp/api-tokens"))
    assert admin.post(f"/admin/whatsapp/api-tokens/{token.pk}/revoke").status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


# --- navigation and access ---------------------------------------------------------------------


def test_it_shows_admins_the_tenant_navigation(configured):
    page = text(client_for(configured.alice, configured.host_a).get("/admin/whatsapp"))

    assert 'href="/admin/whatsapp/conversations/"' in page
    assert 'href="/admin/whatsapp/api-tokens"' in page


@pytest.mark.parametrize(
    "url",
    ["/admin/whatsapp", "/admin/whatsapp/conversations/", "/admin/whatsapp/api-tokens"],
)
def test_it_sends_strangers_to_login_and_refuses_other_tenants(configured, url):
    anonymous = client_for(None, configured.host_a).get(url)
    outsider = client_for(configured.charlie, configured.host_a).get(url)

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    assert outsider.status_code == 403
