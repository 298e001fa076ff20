"""The device timeline: what happened to a device, newest first, paginated, for its own tenant
only, and without gateway hosts or keys."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from tenants.test import CANARY_KEYS, client_for
from whatsapp import services
from whatsapp.models import Device, DeviceEvent, DeviceStatus
from whatsapp.selectors_timeline import PAGE_SIZE
from whatsapp.services.devices import devices_reconnect_due
from whatsapp.tests.factories import make_front_desk
from whatsapp.tests.support import waha_webhooks as waha
from whatsapp.tests.support.api import GATEWAY

pytestmark = pytest.mark.django_db


@pytest.fixture
def device(cast):
    return make_front_desk(
        cast.tenant_a,
        configured=False,
        session="bq-acme-frontdesk",
        status=DeviceStatus.SCAN_QR,
        secret="per-device-secret",
        min_send_gap_ms=0,
    )


def timeline_url(device) -> str:
    return f"/admin/whatsapp/devices/{device.pk}/timeline"


def entries(html: str) -> list[str]:
    """Each entry's visible text, whitespace folded, in page order."""
    items = re.findall(r'<li class="timeline-entry".*?</li>', html, flags=re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", item).split()) for item in items]


def post_status(device, status: str, secret: str | None = None):
    body = waha.encode(
        waha.envelope(
            "session.status", device.session_name, {"name": device.session_name, "status": status}
        )
    )
    return client_for().post(
        f"/api/whatsapp/webhooks/{device.webhook_id}",
        body,
        content_type="application/json",
        headers=waha.signed_headers(body, secret or device.webhook_secret),
    )


def test_it_tells_the_story_of_a_device_newest_first_without_hosts_or_keys(cast, device):
    # The phone links (an accepted webhook), a forged delivery is refused, a send succeeds, a
    # second is refused by the gateway, the phone drops and the scheduler reconnects it.
    assert post_status(device, "WORKING").status_code == 200
    services.webhook_events_process_due()
    assert post_status(device, "STOPPED", secret="forged").status_code == 401
    with responses.RequestsMock(assert_all_requests_are_fired=False) as gw:
        gw.post(f"{GATEWAY}/api/sendText", json={"id": "true_6281234567890@c.us_3EB0TL1"})
        first, _ = services.message_send(tenant=cast.tenant_a, to="+6281234567890", body="Hi")
        services.message_deliver(message_id=first.pk)
        gw.replace(
            responses.POST,
            f"{GATEWAY}/api/sendText",
            status=400,
            json={"message": "number is not on WhatsApp"},
        )
        second, _ = services.message_send(tenant=cast.tenant_a, to="+6281299999999", body="Yo")
        services.message_deliver(message_id=second.pk)
        Device.objects.filter(pk=device.pk).update(status=DeviceStatus.FAILED)
        gw.post(re.compile(rf"{GATEWAY}/api/sessions/.+/restart"), status=500, json={})
        devices_reconnect_due()

    page = client_for(cast.alice, cast.host_a).get(f"/admin/whatsapp/devices/{device.pk}")
    html = re.search(r'<section id="device-timeline".*?</section>', page.content.decode(), re.S)[0]
    assert page.status_code == 200
    texts = entries(html)
    assert len(texts) == 6
    assert "Reconnect attempt failed" in texts[0]
    assert "Message to +6281299999999 failed" in texts[1]
    assert "number is not on WhatsApp" in texts[1]
    assert "Message to +6281234567890 sent" in texts[2]
    assert "Webhook refused invalid signature" in texts[3]
    assert (
        " ".join(texts[4].split()[3:])
        == "Status: Connected Connected Waiting for QR scan → Connected"
        or "Status: Connected" in texts[4]
    )
    assert "Webhook received: status change accepted" in texts[5]
    assert "primary.gateway.test" not in html
    assert not any(key in html for key in CANARY_KEYS)
    assert device.webhook_secret not in html


def test_it_pages_through_a_long_history(cast, device):
    now = timezone.now()
    DeviceEvent.objects.bulk_create(
        DeviceEvent(device=device, kind="status", outcome="stopped", detail=f"drop {i}")
        for i in range(PAGE_SIZE + 5)
    )
    # auto_now_add stamps them all alike; spread them so the order is defined.
    for i, event in enumerate(DeviceEvent.objects.order_by("id")):
        DeviceEvent.objects.filter(pk=event.pk).update(created_at=now - timedelta(minutes=100 - i))
    client = client_for(cast.bob, cast.host_a)

    first = client.get(timeline_url(device)).content.decode()
    second = client.get(timeline_url(device) + "?page=2").content.decode()
    assert len(entries(first)) == PAGE_SIZE
    assert f"drop {PAGE_SIZE + 4}" in entries(first)[0]
    assert 'rel="next"' in first
    assert len(entries(second)) == 5
    assert "drop 0" in entries(second)[-1]
    assert 'rel="next"' not in second
    # A mangled page number shows the newest page instead of an error.
    assert client.get(timeline_url(device) + "?page=abc").status_code == 200


def test_it_serves_the_next_page_as_a_fragment_to_htmx(cast, device):
    response = client_for(cast.alice, cast.host_a).get(
        timeline_url(device), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="device-timeline"')
    assert "<html" not in html


def test_it_keeps_each_tenants_timeline_to_that_tenant(cast, device):
    url = timeline_url(device)
    assert client_for(cast.alice, cast.host_a).get(url).status_code == 200
    assert client_for(cast.bob, cast.host_a).get(url).status_code == 200
    # charlie administers the other tenant: not on A's host, and A's device is unknown on B's.
    assert client_for(cast.charlie, cast.host_a).get(url).status_code == 403
    assert client_for(cast.charlie, cast.host_b).get(url).status_code == 404
    assert client_for(cast.alice, cast.host_b).get(url).status_code in (403, 404)
    anonymous = client_for(host=cast.host_a).get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    # The platform host has no tenant pages at all, not even for the superadmin.
    assert client_for(cast.superadmin).get(url).status_code == 404


def test_it_records_a_flood_of_refused_webhooks_once_a_minute(cast, device):
    for _ in range(20):
        assert post_status(device, "WORKING", secret="forged").status_code == 401
    refused = DeviceEvent.objects.filter(device=device, kind="webhook_refused")
    assert refused.count() == 1
    refused.update(created_at=timezone.now() - timedelta(minutes=2))
    post_status(device, "WORKING", secret="forged")
    assert refused.count() == 2
