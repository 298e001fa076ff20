"""The live inbox in Chromium: polls keep focus and the draft, Enter sends, the list updates."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tenants.test import PASSWORD
from whatsapp.models import Message
from whatsapp.tests.factories import make_front_desk
from whatsapp.tests.support.browser import login
from whatsapp.tests.support.inbox import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def tenant_url(live_server, subdomain: str) -> str:
    return live_server.url.replace("://localhost", f"://{subdomain}.localhost")


@pytest.fixture
def front_desk(cast):
    return make_front_desk(cast.tenant_a)


def test_a_poll_keeps_focus_and_the_draft_and_enter_sends(cast, front_desk, live_server, page):
    first = receive(front_desk, "+6281100000001", "Halo, bisa jam 3?")
    base = tenant_url(live_server, "acme")
    login(page, base, "alice", PASSWORD)
    page.goto(f"{base}/admin/whatsapp/conversations/{first.conversation_id}")
    box = page.locator("textarea[name=body]")
    box.click()
    box.type("Bisa, saya cek")

    receive(front_desk, "+6281100000001", "Atau jam 4 juga boleh")
    expect(page.get_by_text("Atau jam 4 juga boleh")).to_be_visible(timeout=10_000)

    assert page.evaluate("document.activeElement.name") == "body"
    expect(box).to_have_value("Bisa, saya cek")

    box.press("Shift+Enter")
    box.type("dulu ya")
    box.press("Enter")
    outbound = page.locator("[data-testid=message][data-direction=out]")
    expect(outbound).to_have_count(1, timeout=10_000)
    expect(outbound.first.locator(".bubble-body")).to_contain_text("Bisa, saya cek")
    expect(outbound.first.get_by_test_id("sender")).to_have_text("alice")
    sent = Message.objects.get(direction="out")
    assert sent.body == "Bisa, saya cek\ndulu ya"


def test_the_conversation_list_updates_itself(cast, front_desk, live_server, page):
    receive(front_desk, "+6281100000001", "Halo")
    base = tenant_url(live_server, "acme")
    login(page, base, "alice", PASSWORD)
    page.goto(f"{base}/admin/whatsapp/conversations/")
    rows = page.get_by_test_id("conversation")
    expect(rows).to_have_count(1)
    page.evaluate("window.__noReload = 1")

    receive(front_desk, "+6281100000002", "Mau creambath Sabtu")

    expect(rows).to_have_count(2, timeout=10_000)
    expect(rows.first).to_contain_text("Mau creambath Sabtu")
    expect(page.get_by_test_id("nav-unread")).to_have_text("2", timeout=10_000)
    assert page.title().startswith("(2) ")
    assert page.evaluate("window.__noReload") == 1


def test_the_unread_badge_stays_out_of_sight_at_zero_and_appears_with_a_message(
    cast, front_desk, live_server, page
):
    base = tenant_url(live_server, "acme")
    login(page, base, "alice", PASSWORD)
    page.goto(f"{base}/admin/whatsapp/conversations/")
    badge = page.get_by_test_id("nav-unread")
    expect(badge).to_be_hidden()  # the `hidden` attribute must win over the badge's display

    receive(front_desk, "+6281100000001", "Halo")

    expect(badge).to_be_visible(timeout=10_000)
    expect(badge).to_contain_text("1")
