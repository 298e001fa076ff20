"""In real Chromium: linking the business phone by number on a phone-sized screen (the code is
offered first, fits 390 px, passes axe, copies with a visible "Copied"), then Connected live; and
the one-time API token's Copy button under the CSP (issue 11)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tenants.test import PASSWORD
from whatsapp import services
from whatsapp.models import Device
from whatsapp.tests.support.browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = (
    Path(__file__).resolve().parents[3]
    / ".cache"
    / "npm"
    / "node_modules"
    / "axe-core"
    / "axe.min.js"
)
PHONE = {"width": 390, "height": 844}


def tenant_url(live_server, subdomain: str) -> str:
    return live_server.url.replace("://localhost", f"://{subdomain}.localhost")


@pytest.fixture
def acme(cast, simulator, webhooks_to_live_server):
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Sim", actor=cast.superadmin)
    return cast


def new_page(browser, *, viewport=PHONE, locale="en-US"):
    # bypass_csp only so the test can inject axe-core; the page's own scripts are static files.
    context = browser.new_context(
        viewport=viewport,
        locale=locale,
        bypass_csp=True,
        permissions=["clipboard-read", "clipboard-write"],
    )
    return context, context.new_page()


def assert_fits_and_accessible(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    if AXE.exists():
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(
            """async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa']}))
                .violations.filter(v => ['serious', 'critical'].includes(v.impact))
                .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"""
        )
        assert violations == []


def test_an_owner_links_the_phone_they_hold_with_a_code(acme, live_server, browser, simulator):
    device = services.device_create(tenant=acme.tenant_a, name="Front desk", actor=acme.alice)
    simulator.wait_for_status(device.session_name, "SCAN_QR_CODE", timeout=15)
    context, page = new_page(browser)
    base = tenant_url(live_server, "acme")
    login(page, base, "alice", PASSWORD)
    page.goto(f"{base}/admin/whatsapp/devices/{device.pk}")

    # On a phone the phone-number way is open and comes before the QR.
    expect(page.get_by_test_id("qr")).to_be_visible(timeout=15_000)
    field = page.get_by_label("WhatsApp number of the phone")
    expect(field).to_be_visible()
    panel_top = page.get_by_test_id("pairing-panel").bounding_box()["y"]
    assert panel_top < page.get_by_test_id("qr").bounding_box()["y"]
    assert_fits_and_accessible(page)

    field.fill("12")
    page.get_by_role("button", name="Get a code").click()
    expect(page.get_by_test_id("pairing-phone-error")).to_be_visible()
    expect(page.get_by_label("WhatsApp number of the phone")).to_have_attribute(
        "aria-invalid", "true"
    )

    page.get_by_label("WhatsApp number of the phone").fill("0812-3456-7890")
    page.get_by_role("button", name="Get a code").click()
    code = page.get_by_test_id("pairing-code")
    expect(code).to_have_text(re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}$"))
    expect(page.get_by_test_id("pair-steps")).to_contain_text("Link with phone number instead")
    assert_fits_and_accessible(page)
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#pairing-copy-status")).to_have_text("Copied")

    simulator.pair_with_code(device.session_name, code.inner_text(), timeout=15)
    expect(page.get_by_test_id("connected-as")).to_contain_text("0812-3456-7890", timeout=15_000)
    expect(page.get_by_test_id("pairing-panel")).to_have_count(0)
    assert Device.objects.get(pk=device.pk).phone == "+6281234567890"
    context.close()


def test_an_indonesian_owner_reads_the_steps_in_indonesian(acme, live_server, browser, simulator):
    device = services.device_create(tenant=acme.tenant_a, name="Front desk", actor=acme.alice)
    simulator.wait_for_status(device.session_name, "SCAN_QR_CODE", timeout=15)
    context, page = new_page(browser, viewport={"width": 1280, "height": 900}, locale="id-ID")
    base = tenant_url(live_server, "acme")
    login(page, base, "alice", PASSWORD)
    page.goto(f"{base}/admin/whatsapp/devices/{device.pk}")

    # On a desktop the QR is the default: the phone-number way stays folded away.
    expect(page.get_by_test_id("qr")).to_be_visible(timeout=15_000)
    expect(page.get_by_label("Nomor WhatsApp HP tersebut")).to_be_hidden()
    page.get_by_role("heading", name="Tautkan dengan nomor telepon").click()
    page.get_by_label("Nomor WhatsApp HP tersebut").fill("081234567890")
    page.get_by_role("button", name="Minta kode").click()
    expect(page.get_by_test_id("pair-steps")).to_contain_text("Ketik kode")
    context.close()


def test_the_new_token_has_a_copy_button_that_confirms(acme, live_server, browser):
    context, page = new_page(browser)
    base = tenant_url(live_server, "acme")
    login(page, base, "alice", PASSWORD)
    page.goto(f"{base}/admin/whatsapp/api-tokens")
    page.fill("#id_name", "Booking app")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_test_id("token-value").input_value()

    page.get_by_test_id("copy-token").click()

    expect(page.get_by_test_id("copy-status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == token
    assert_fits_and_accessible(page)
    context.close()
