"""In real Chromium: the main pages and the API docs work under our Content-Security-Policy,
with no CSP violation in the console (issue 9, hole 8)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tenants.test import PASSWORD
from whatsapp import services
from whatsapp.tests.support.browser import login, tenant_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def violations(page):
    """Console messages and page errors that mention the Content-Security-Policy."""
    seen: list[str] = []

    def on_console(message):
        if re.search(r"Content.Security.Policy|Refused to", message.text, re.I):
            seen.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.append(f"page error: {error}"))
    return seen


def test_tenant_pages_work_under_the_csp(cast, simulator, live_server, page, violations):
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Sim", actor=cast.superadmin)
    base = tenant_url(live_server, "acme")
    login(page, base, "alice", PASSWORD)
    expect(page).to_have_url(re.compile(r"/admin/whatsapp$"))
    assert "script-src 'self'" in page.evaluate(
        "async () => (await fetch(location.href)).headers.get('content-security-policy')"
    )

    # htmx posts the form and swaps in the pairing page; the QR countdown is an inline script
    page.fill("#id_name", "Front desk")
    page.get_by_role("button", name="Add device").click()
    expect(page.get_by_test_id("qr")).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("qr-countdown")).to_contain_text(re.compile(r"Expires in \d+ s"))

    page.goto(f"{base}/admin/whatsapp/conversations/")
    expect(page.locator("#id_body")).to_be_visible()

    page.goto(f"{base}/admin/whatsapp/api-tokens")
    page.fill("#id_name", "Booking app")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_test_id("token-value")
    expect(token).to_be_visible()
    token.focus()  # selects the whole token, from app.js instead of an inline handler
    assert page.evaluate("window.getSelection().toString() || document.activeElement.selectionEnd")

    assert not violations, violations


def test_superadmin_pages_and_the_api_docs_work_under_the_csp(cast, live_server, page, violations):
    login(page, live_server.url, "root", PASSWORD)
    expect(page).to_have_url(re.compile(r"/admin/tenants/$"))
    page.goto(f"{live_server.url}/admin/tenants/{cast.tenant_a.pk}/whatsapp")
    expect(page.get_by_role("heading", name=re.compile("Acme Salon"))).to_be_visible()
    page.goto(f"{live_server.url}/admin/endpoints/")
    expect(page.locator("main")).to_contain_text("Primary")
    page.goto(f"{live_server.url}/django-admin/")
    expect(page.locator("#content")).to_be_visible()

    page.goto(f"{live_server.url}/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("BooQing WhatsApp API")
    expect(page.locator(".opblock").first).to_be_visible()

    assert not violations, violations
