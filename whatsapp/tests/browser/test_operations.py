"""In real Chromium, at desktop width and at 390 px: the Operations page draws every chart with
its table, and a device's timeline pages through its history; both pass axe-core."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tenants.test import PASSWORD
from whatsapp.models import (
    DeviceEvent,
    EndpointProbe,
    WebhookEvent,
)
from whatsapp.tests.factories import make_front_desk
from whatsapp.tests.support.browser import AXE, SCREENSHOTS, VIEWPORTS, assert_fits, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHARTS = ("probe-latency", "probe-health", "messages", "pairing", "webhook-intake", "webhook-lag")


@pytest.fixture
def unreachable_endpoints(monkeypatch):
    # The device page asks the gateway for a status: a closed local port answers at once.
    endpoints = [
        {"name": "Primary", "apiUrl": "http://127.0.0.1:9", "apiKey": "k-primary-0000"},
        {"name": "Secondary", "apiUrl": "http://127.0.0.1:9", "apiKey": "k-second-0000"},
    ]
    monkeypatch.setenv("WHATSAPP_ENDPOINTS", json.dumps(endpoints))


@pytest.fixture(params=list(VIEWPORTS))
def screen(request, browser):
    # bypass_csp lets the test inject axe-core; the page itself is unchanged.
    context = browser.new_context(viewport=VIEWPORTS[request.param], bypass_csp=True)
    page = context.new_page()
    yield request.param, page
    context.close()


def assert_accessible(page) -> None:
    if not AXE.exists():
        return  # npm was not available to install axe-core (see `make browser`)
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa']}))
            .violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"""
    )
    assert violations == []


@pytest.fixture
def history(cast, unreachable_endpoints):
    device = make_front_desk(
        cast.tenant_a,
        configured=False,
        session="bq-acme-browser",
        secret="s",
        phone="+6281100000000",
        connected_at=timezone.now(),
    )
    for i in range(30):
        EndpointProbe.objects.create(endpoint_name="Primary", ok=i % 7 != 0, latency_ms=80 + i)
    EndpointProbe.objects.create(endpoint_name="Secondary", ok=False, latency_ms=5000)
    DeviceEvent.objects.create(device=device, kind="pairing", outcome="started")
    DeviceEvent.objects.bulk_create(
        DeviceEvent(
            device=device, kind="status", outcome="stopped", detail=f"Connected → Stopped {i}"
        )
        for i in range(30)
    )
    DeviceEvent.objects.create(
        device=device,
        kind="webhook_refused",
        outcome="invalid_signature",
        detail="Invalid webhook signature.",
    )
    event = WebhookEvent.objects.create(
        device=device, event_id="e1", kind="status", payload={}, status="processed"
    )
    WebhookEvent.objects.filter(pk=event.pk).update(
        processed_at=event.received_at + timedelta(seconds=2)
    )
    return device


def test_the_operations_page_draws_every_chart_with_its_table(history, cast, live_server, screen):
    name, page = screen
    login(page, live_server.url, "root", PASSWORD)
    page.goto(f"{live_server.url}/admin/operations/")
    expect(page.get_by_role("heading", name="Operations", exact=True)).to_be_visible()
    for key in CHARTS:
        card = page.get_by_test_id(f"chart-{key}")
        image = card.get_by_test_id("chart-image")
        expect(image).to_be_visible()
        drawn = image.evaluate("img => img.complete && img.naturalWidth > 0 && img.currentSrc")
        assert drawn, f"{key} chart was not drawn"
        assert ("size=narrow" in drawn) == (name == "phone")
        expect(card.get_by_test_id(f"table-{key}").locator("tbody tr").first).to_be_attached()
    assert_fits(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"operations-{name}.png"), full_page=False)
    assert_accessible(page)

    page.get_by_role("link", name="7 days").click()
    expect(page.get_by_role("link", name="7 days")).to_have_attribute("aria-current", "page")
    assert page.get_by_test_id("table-messages").locator("tbody tr").count() >= 168


def test_a_device_timeline_pages_through_its_history(history, cast, live_server, screen):
    name, page = screen
    base = live_server.url.replace("://localhost", "://acme.localhost")
    login(page, base, "alice", PASSWORD)
    page.goto(f"{base}/admin/whatsapp/devices/{history.pk}")
    timeline = page.get_by_test_id("device-timeline")
    expect(timeline).to_be_visible()
    entries = timeline.get_by_test_id("timeline-entry")
    expect(entries).to_have_count(25)
    expect(entries.first).to_contain_text("Webhook received")
    expect(timeline).to_contain_text("Webhook refused")
    assert_fits(page)
    page.screenshot(path=str(SCREENSHOTS / f"timeline-{name}.png"), full_page=False)
    assert_accessible(page)

    url = page.url
    timeline.get_by_test_id("timeline-older").click()
    expect(page.get_by_test_id("device-timeline")).to_contain_text("Page 2")
    expect(page.get_by_test_id("timeline-entry")).to_have_count(8)
    expect(page.get_by_test_id("device-timeline")).to_contain_text("Pairing started")
    assert page.url == url  # swapped in place by htmx, no reload
    assert "127.0.0.1:9" not in page.get_by_test_id("device-timeline").inner_html()
