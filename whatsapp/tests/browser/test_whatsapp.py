"""In real Chromium: a tenant admin pairs a device and chats, and pages update without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from gateway_simulator.testing import wait_until
from tenants.test import PASSWORD
from whatsapp import services
from whatsapp.models import Device, Message
from whatsapp.tests.support.browser import SCREENSHOTS, login, tenant_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def acme(cast, simulator, webhooks_to_live_server):
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Sim", actor=cast.superadmin)
    return cast


def test_it_pairs_a_device_by_opening_the_qr_link_and_turns_connected_without_reload(
    acme, live_server, page, background_scheduler
):
    base = tenant_url(live_server, "acme")
    login(page, base, "alice", PASSWORD)
    expect(page).to_have_url(re.compile(r"/admin/whatsapp$"))

    page.fill("#id_name", "Front desk")
    page.get_by_role("button", name="Add device").click()
    expect(page.get_by_test_id("qr")).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("qr").locator("svg")).to_be_visible()
    expect(page.get_by_test_id("qr-countdown")).to_contain_text("Expires in")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "pairing.png"), full_page=True)
    page.evaluate("window.__noReload = 1")

    # The QR's value is the simulator's phone page: opening it is what scanning does.
    with page.context.expect_page() as phone_tab:
        page.get_by_test_id("qr-link").click()
    phone = phone_tab.value
    phone.get_by_role("button", name=re.compile("Link", re.I)).click()

    expect(page.get_by_test_id("connected-as")).to_be_visible(timeout=15_000)
    # Shown as people dial it (issue 11): 0812-3456-7890, not +6281234567890.
    expect(page.get_by_test_id("connected-as")).to_contain_text(re.compile(r"08\d{2}-\d{4}-"))
    assert page.evaluate("window.__noReload") == 1
    device = Device.objects.get(name="Front desk")
    assert device.is_connected and device.phone.startswith("+62")


def test_it_sends_from_the_thread_and_shows_ticks_and_the_reply_without_reload(
    acme, live_server, page, simulator, settings, background_scheduler
):
    # Sends run at commit time in the request (the immediate backend); the worker and the
    # scheduler are exercised by the integration and reliability tests.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    device = services.device_create(tenant=acme.tenant_a, name="Front desk", actor=acme.alice)
    Device.objects.filter(pk=device.pk).update(min_send_gap_ms=0)
    simulator.pair(device.session_name)
    wait_until(lambda: Device.objects.get(pk=device.pk).is_connected or None, timeout=15)

    base = tenant_url(live_server, "acme")
    login(page, base, "alice", PASSWORD)
    page.goto(f"{base}/admin/whatsapp/conversations/")
    page.fill("#id_to", "0811 0000 0001")
    page.fill("#id_body", "Hello from Acme Salon")
    page.get_by_role("button", name=re.compile("Send", re.I)).click()
    expect(page.get_by_test_id("contact")).to_contain_text("0811-0000-0001", timeout=15_000)
    page.evaluate("window.__noReload = 1")

    outbound = page.locator("[data-testid=message][data-direction=out]")
    expect(outbound).to_have_count(1)
    expect(outbound.first).to_have_attribute("data-status", "read", timeout=20_000)

    simulator.inbound(device.session_name, "6281100000001", "Thanks, see you at 10!")
    inbound = page.locator("[data-testid=message][data-direction=in]")
    expect(inbound).to_have_count(1, timeout=20_000)
    expect(inbound.first).to_contain_text("Thanks, see you at 10!")

    page.get_by_placeholder("Write a reply").fill("Great, see you!")
    page.get_by_role("button", name="Send").click()
    expect(outbound).to_have_count(2, timeout=15_000)
    assert page.evaluate("window.__noReload") == 1
    page.screenshot(path=str(SCREENSHOTS / "thread.png"), full_page=True)
    assert Message.objects.filter(direction="out").count() == 2
