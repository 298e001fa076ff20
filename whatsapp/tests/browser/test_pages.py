"""In real Chromium at 390 px: every page, as every role that may see it, fits the phone's width
and passes axe-core; an Indonesian browser gets the pages in Bahasa Indonesia."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from core.models import AuditEvent
from tenants.test import PASSWORD
from whatsapp.models import (
    EventDelivery,
    EventEndpoint,
    MessageStatus,
    MessageTemplate,
)
from whatsapp.tests.factories import make_conversation, make_front_desk, make_message
from whatsapp.tests.support.browser import AXE, SCREENSHOTS, VIEWPORTS, assert_fits, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = VIEWPORTS["phone"]
TENANT = "booqing.urls_tenant"


def tenant_url(live_server, subdomain: str = "acme") -> str:
    return live_server.url.replace("://localhost", f"://{subdomain}.localhost")


@pytest.fixture
def salon(cast, monkeypatch):
    """Acme with an endpoint (a closed local port answers at once), a connected device, a
    conversation, a template, an event endpoint with a delivery and some setup history."""
    endpoints = [{"name": "Primary", "apiUrl": "http://127.0.0.1:9", "apiKey": "k-primary-0000"}]
    monkeypatch.setenv("WHATSAPP_ENDPOINTS", json.dumps(endpoints))
    device = make_front_desk(
        cast.tenant_a,
        "Meja depan",
        configured=False,
        session="bq-acme-pages",
        secret="s",
        phone="+6281100000000",
        connected_at=timezone.now(),
        last_event_at=timezone.now(),
    )
    conversation = make_conversation(
        device,
        "+6281200000001",
        contact_name="Bu Sari",
        last_message_preview="Bisa potong rambut jam 3?",
    )
    for direction, status, body in (
        ("in", MessageStatus.RECEIVED, "Bisa potong rambut jam 3?"),
        ("out", MessageStatus.DELIVERED, "Bisa, Bu. Sampai jumpa jam 15.00."),
    ):
        make_message(conversation, body, direction=direction, status=status)
    MessageTemplate.objects.create(
        tenant=cast.tenant_a, name="pengingat", body="Halo {nama}, jadwal Anda besok jam {jam}."
    )
    endpoint = EventEndpoint.objects.create(
        tenant=cast.tenant_a,
        url="https://booking.example.com/whatsapp/events/with-a-rather-long-path-to-wrap",
        events=["message.status", "message.received"],
        secret="whsec_test",
    )
    EventDelivery.objects.create(
        endpoint=endpoint,
        webhook_id="msg_2Lz9cWmE1xYqR7tH0aBcD3fG",
        event_type="message.status",
        payload={},
        status="failed",
        attempts=3,
        give_up_at=timezone.now() + timedelta(hours=24),
        last_status_code=500,
        last_response="Internal Server Error " * 8,
    )
    AuditEvent.objects.create(
        tenant=cast.tenant_a,
        actor=cast.superadmin,
        actor_label="root",
        action="endpoint_assigned",
        before={"endpoint_name": None},
        after={"endpoint_name": "Primary"},
    )
    return {"device": device, "conversation": conversation}


def tenant_pages(salon) -> dict[str, list[str]]:
    device, conversation = salon["device"], salon["conversation"]
    every_member = [
        "/admin/whatsapp",
        "/admin/whatsapp/conversations/",
        reverse("whatsapp_thread", urlconf=TENANT, kwargs={"conversation_id": conversation.pk}),
        reverse("whatsapp_device", urlconf=TENANT, kwargs={"device_id": device.pk}),
        "/admin/whatsapp/no-such-page",  # the friendly 404
    ]
    admin_only = [
        "/admin/members/",
        "/admin/whatsapp/api-tokens",
        "/admin/whatsapp/templates",
        "/admin/whatsapp/event-endpoints",
    ]
    # Bob (staff) also opens the members page: he gets the friendly 403 page.
    return {"alice": every_member + admin_only, "bob": [*every_member, "/admin/members/"]}


def platform_pages(cast) -> list[str]:
    tenant = cast.tenant_a.pk
    return [
        "/admin/tenants/",
        f"/admin/tenants/{tenant}/whatsapp",
        f"/admin/tenants/{tenant}/members/",
        "/admin/endpoints/",
        "/admin/operations/",
    ]


def axe_problems(page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    if not AXE.exists():
        return []  # npm was not available to install axe-core (see `make browser`)
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa']}))
            .violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"""
    )


def check(page, url: str, failures: dict) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    try:
        assert_fits(page)
    except AssertionError as exc:
        failures[url] = f"wider than 390 px: {exc}"
        return
    problems = axe_problems(page)
    if problems:
        failures[url] = problems


@pytest.fixture
def phone(browser):
    # bypass_csp lets the test inject axe-core; the pages themselves are unchanged.
    context = browser.new_context(viewport=PHONE, bypass_csp=True, locale="id-ID")
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_every_tenant_page_fits_a_phone_and_passes_axe(salon, cast, live_server, phone, who):
    base = tenant_url(live_server)
    login(phone, base, who, PASSWORD)
    expect(phone).not_to_have_url(f"{base}/accounts/login/")
    failures: dict = {}
    for path in tenant_pages(salon)[who]:
        check(phone, base + path, failures)
    assert failures == {}


def test_every_platform_page_fits_a_phone_and_passes_axe(salon, cast, live_server, phone):
    login(phone, live_server.url, "root", PASSWORD)
    expect(phone).not_to_have_url(f"{live_server.url}/accounts/login/")
    failures: dict = {}
    for path in platform_pages(cast):
        check(phone, live_server.url + path, failures)
    assert failures == {}


def test_the_signed_out_pages_fit_a_phone_and_pass_axe(salon, cast, live_server, phone):
    failures: dict = {}
    for url in (
        f"{tenant_url(live_server)}/accounts/login/",
        f"{live_server.url}/accounts/login/",
        f"{tenant_url(live_server)}/accounts/set-password/MQ/bad-token/",
    ):
        check(phone, url, failures)
    # A refused sign-in ties its error to the fields.
    phone.goto(f"{tenant_url(live_server)}/accounts/login/")
    phone.fill("#id_username", "alice")
    phone.fill("#id_password", "wrong password")
    phone.click("main button[type=submit]")
    expect(phone.locator("#id_password")).to_have_attribute("aria-invalid", "true")
    expect(phone.locator("#id_password")).to_have_attribute("aria-describedby", "login-error")
    check_current = axe_problems(phone)
    assert failures == {} and check_current == []


def test_a_form_error_is_tied_to_its_field_and_keeps_the_page_narrow(
    salon, cast, live_server, phone
):
    login(phone, live_server.url, "root", PASSWORD)
    phone.goto(f"{live_server.url}/admin/tenants/")
    phone.fill("#id_name", "Salon Melati")
    phone.fill("#id_subdomain", "Not A Valid Subdomain!")
    phone.locator("form.grid-form button[type=submit]").click()
    field = phone.locator("#id_subdomain")
    expect(field).to_have_attribute("aria-invalid", "true")
    described = field.get_attribute("aria-describedby") or ""
    assert "id_subdomain_error" in described.split()
    expect(phone.locator("#id_subdomain_error")).to_be_visible()
    assert_fits(phone)
    assert axe_problems(phone) == []


def test_an_indonesian_browser_gets_indonesian_pages(salon, cast, live_server, browser):
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="id-ID")
    page = context.new_page()
    try:
        base = tenant_url(live_server)
        page.goto(f"{base}/accounts/login/")
        assert page.locator("html").get_attribute("lang") == "id"
        expect(page.get_by_role("heading", name="Masuk")).to_be_visible()
        login(page, base, "alice", PASSWORD)
        nav = page.get_by_role("navigation", name="Menu utama")
        expect(nav.get_by_role("link", name="Kotak masuk")).to_be_visible()
        expect(nav.get_by_role("link", name="Beranda")).to_be_visible()
        expect(page.get_by_role("heading", name="Perangkat", exact=True)).to_be_visible()
        expect(page.get_by_test_id("endpoint")).to_contain_text("Server WhatsApp")
        expect(page.get_by_test_id("devices")).to_contain_text("0811-0000-0000")
        assert "Primary" not in page.get_by_test_id("endpoint").inner_text()
    finally:
        context.close()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_readme_screenshots_in_bahasa_indonesia(salon, cast, live_server, browser, viewport):
    """Retaken with `UPDATE_SCREENSHOTS=1`: the dashboard, inbox, thread and templates."""
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="id-ID")
    page = context.new_page()
    try:
        base = tenant_url(live_server)
        login(page, base, "alice", PASSWORD)
        thread = reverse(
            "whatsapp_thread",
            urlconf=TENANT,
            kwargs={"conversation_id": salon["conversation"].pk},
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name, path in (
            ("dashboard", "/admin/whatsapp"),
            ("inbox", "/admin/whatsapp/conversations/"),
            ("thread", thread),
            ("templates", "/admin/whatsapp/templates"),
        ):
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            assert page.locator("html").get_attribute("lang") == "id"
            page.screenshot(path=str(SCREENSHOTS / f"id-{name}-{viewport}.png"))
        root = browser.new_context(viewport=VIEWPORTS[viewport], locale="id-ID").new_page()
        login(root, live_server.url, "root", PASSWORD)
        root.goto(f"{live_server.url}/admin/tenants/")
        root.screenshot(path=str(SCREENSHOTS / f"id-tenants-{viewport}.png"))
        root.context.close()
    finally:
        context.close()
