"""The superadmin's Operations page: charts and their tables from our own tables, per endpoint,
over 24 hours or 7 days; chart images that carry no script; endpoints link to their history."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tenants.test import CANARY_KEYS, client_for
from whatsapp.models import (
    Conversation,
    DeviceEvent,
    EndpointProbe,
    MessageStatus,
    WebhookEvent,
)
from whatsapp.tests.factories import make_device, make_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def day(cast):
    """An hour of activity: probes, four sends with different fates, a pairing, two webhooks."""
    now = timezone.now()
    EndpointProbe.objects.create(endpoint_name="Primary", ok=True, latency_ms=100)
    EndpointProbe.objects.create(endpoint_name="Primary", ok=True, latency_ms=140)
    EndpointProbe.objects.create(endpoint_name="Secondary", ok=False, latency_ms=5000, error="x")
    device = make_device(cast.tenant_a, session="bq-acme-ops", secret="s")
    chat = Conversation.objects.create(tenant=cast.tenant_a, device=device, contact="+628111")
    for status, stamps in (
        (MessageStatus.READ, {"sent_at": now, "delivered_at": now, "read_at": now}),
        (MessageStatus.DELIVERED, {"sent_at": now, "delivered_at": now}),
        (MessageStatus.SENT, {"sent_at": now}),
        (MessageStatus.FAILED, {}),
    ):
        make_message(chat, "b", status=status, **stamps)
    DeviceEvent.objects.create(device=device, kind="pairing", outcome="started")
    DeviceEvent.objects.create(
        device=device, kind="status", outcome="connected", detail="Waiting for QR scan → Connected"
    )
    for i, lag in enumerate((1, 3)):
        event = WebhookEvent.objects.create(
            device=device, event_id=f"e{i}", kind="ack", payload={}, status="processed"
        )
        WebhookEvent.objects.filter(pk=event.pk).update(
            processed_at=event.received_at + timedelta(seconds=lag)
        )
    return cast


def table(html: str, key: str) -> list[list[str]]:
    """The rows of a chart's table, newest first, as text cells."""
    body = re.search(rf'data-testid="table-{key}".*?<tbody>(.*?)</tbody>', html, re.S)[1]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)
        ]
        for r in rows
    ]


def filled(rows: list[list[str]]) -> list[list[str]]:
    """The rows with any figure in them (the hour the fixture wrote, wherever the clock is)."""
    return [row[1:] for row in rows if any(cell not in ("—", "0") for cell in row[1:])]


def headers(html: str, key: str) -> list[str]:
    head = re.search(rf'data-testid="table-{key}".*?<thead>(.*?)</thead>', html, re.S)[1]
    return re.findall(r"<th[^>]*>(.*?)</th>", head)


def test_it_charts_the_last_day_with_a_table_behind_each_chart(day):
    response = client_for(day.superadmin).get("/admin/operations/")
    html = response.content.decode()
    assert response.status_code == 200
    for key in (
        "probe-latency",
        "probe-health",
        "messages",
        "pairing",
        "webhook-intake",
        "webhook-lag",
    ):
        assert f'data-testid="chart-{key}"' in html
        assert f"/admin/operations/charts/{key}.svg?range=24h" in html
    # One column per series; one row per hour, newest first.
    assert headers(html, "probe-latency") == ["Hour", "Primary", "Secondary"]
    assert filled(table(html, "probe-latency")) == [["120", "5000"]]
    assert filled(table(html, "probe-health")) == [["100.0", "0.0"]]
    assert headers(html, "messages") == ["Hour", "sent", "delivered", "read", "failed"]
    assert filled(table(html, "messages")) == [["3", "2", "1", "1"]]
    assert "3 sent, 2 delivered (67%), 1 failed." in html
    assert filled(table(html, "pairing")) == [["1", "1"]]
    assert "1 of 1 pairing attempts connected." in html
    assert filled(table(html, "webhook-intake")) == [["2"]]
    assert filled(table(html, "webhook-lag")) == [["2.0"]]
    assert len(table(html, "messages")) in (24, 25)  # a day of hours, the current one included
    assert not any(key in html for key in CANARY_KEYS)


def test_it_shows_one_endpoints_history_over_a_week(day):
    html = (
        client_for(day.superadmin)
        .get("/admin/operations/?range=7d&endpoint=Secondary")
        .content.decode()
    )
    assert headers(html, "probe-latency") == ["Hour", "Secondary"]
    assert len(table(html, "probe-health")) in (168, 169)
    # Messages went through Primary only.
    assert filled(table(html, "messages")) == []
    # A name that is not configured shows every endpoint instead of an empty page.
    other = client_for(day.superadmin).get("/admin/operations/?endpoint=Nope&range=forever")
    assert headers(other.content.decode(), "probe-latency") == ["Hour", "Primary", "Secondary"]


def test_it_draws_each_chart_as_an_svg_image_without_any_script(day):
    client = client_for(day.superadmin)
    for size in ("wide", "narrow"):
        response = client.get(f"/admin/operations/charts/messages.svg?range=24h&size={size}")
        svg = response.content.decode()
        assert response.status_code == 200
        assert response["Content-Type"] == "image/svg+xml"
        assert "default-src 'none'" in response["Content-Security-Policy"]
        assert "<svg" in svg
        assert "<script" not in svg
        assert "delivered" in svg  # the legend
    latency = client.get("/admin/operations/charts/probe-latency.svg").content.decode()
    assert "Primary" in latency
    assert "primary.gateway.test" not in latency
    assert not any(key in latency for key in CANARY_KEYS)


def test_the_endpoints_page_links_each_endpoint_to_its_history(day):
    html = client_for(day.superadmin).get("/admin/endpoints/").content.decode()
    assert 'href="/admin/operations/?endpoint=Primary"' in html
    assert 'href="/admin/operations/?endpoint=Secondary"' in html
