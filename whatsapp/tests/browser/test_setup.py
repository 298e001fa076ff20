"""Real Chromium: a superadmin assigns an endpoint on WhatsApp Setup without a full reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from core.models import AuditEvent
from tenants.test import CANARY_KEYS, PASSWORD, build_cast
from whatsapp.models import TenantWhatsAppConfig
from whatsapp.tests.support.browser import SCREENSHOTS, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_assigns_an_endpoint_from_the_setup_page_without_a_full_reload(live_server, page):
    cast = build_cast()
    base = live_server.url  # http://localhost:<port>: the platform host

    login(page, base, "root", PASSWORD)
    expect(page).to_have_url(re.compile(r"/admin/tenants/$"))
    expect(page.get_by_role("heading", name="Tenants")).to_be_visible()

    page.get_by_role("row", name=re.compile("Acme Salon")).get_by_role(
        "link", name="WhatsApp setup"
    ).click()
    expect(page).to_have_url(re.compile(rf"/admin/tenants/{cast.tenant_a.pk}/whatsapp$"))
    expect(page.get_by_role("heading", name=re.compile("WhatsApp Setup"))).to_be_visible()
    dropdown = page.locator("select[name=endpoint_name]")
    option_labels = [o.strip() for o in dropdown.locator("option").all_inner_texts()]
    assert option_labels == ["Choose an endpoint…", "Primary", "Secondary"]

    page.evaluate("window.__marker = 1")
    dropdown.select_option("Primary")
    page.get_by_role("button", name="Assign").click()

    success = page.locator("#setup-panel .alert-success")
    expect(success).to_have_text("Endpoint Primary assigned to Acme Salon.", timeout=10_000)
    expect(page.locator(".assigned-endpoint")).to_have_text("Primary")
    assert page.evaluate("window.__marker") == 1, "the page was reloaded instead of swapped"
    assert TenantWhatsAppConfig.objects.get(tenant=cast.tenant_a).endpoint_name == "Primary"
    assert AuditEvent.objects.get(action="endpoint.assigned").actor == cast.superadmin
    html = page.content()
    for key in CANARY_KEYS:
        assert key not in html
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "setup.png"), full_page=True)

    page.get_by_role("navigation").get_by_role("link", name="Tenants").click()
    acme_row = page.get_by_role("row", name=re.compile("Acme Salon"))
    expect(acme_row).to_contain_text("Primary")
    page.screenshot(path=str(SCREENSHOTS / "tenants.png"), full_page=True)
