"""Signed-in users get no 500s for hostile input (issue 9, hole 3): NULs and lone surrogates in
bodies, names and searches, hand-made cursors, oversized bodies, a restart racing a delete."""

from __future__ import annotations

import base64
import json
import logging

import pytest
import responses

from tenants.test import client_for
from whatsapp.models import Conversation, Device, Message
from whatsapp.tests.factories import make_device
from whatsapp.tests.support.api import API, GATEWAY, assert_error, session_url, waha_session

pytestmark = pytest.mark.django_db

NUL, LONE = "\\u0000", "\\ud800"  # as JSON escapes


@pytest.fixture(autouse=True)
def no_error_logs(caplog):
    caplog.set_level(logging.WARNING)
    yield
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors


@pytest.fixture
def device_a(cast):
    from whatsapp.models import TenantWhatsAppConfig

    TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")
    device = make_device(cast.tenant_a, "Front desk", phone="+6281100000000")
    Conversation.objects.create(
        tenant=cast.tenant_a, device=device, contact="+6281234567890", contact_name="Budi"
    )
    return device


@pytest.fixture
def alice(cast):
    return client_for(cast.alice, cast.host_a)


def post_raw(client, path: str, raw_json: str):
    return client.post(API + path, raw_json, content_type="application/json")


@pytest.mark.parametrize("bad", [NUL, LONE])
def test_a_message_body_with_an_unstorable_character_is_refused_clearly(device_a, alice, bad):
    response = post_raw(alice, "/messages", f'{{"to": "+6281234567890", "body": "Hi{bad}"}}')

    assert "NUL" in assert_error(response, 400, "invalid_text")
    assert not Message.objects.exists()


@pytest.mark.parametrize("bad", [NUL, LONE])
def test_a_device_name_with_an_unstorable_character_is_refused_clearly(device_a, alice, bad):
    response = post_raw(alice, "/devices", f'{{"name": "Desk{bad}"}}')

    assert_error(response, 400, "invalid_text")
    assert Device.objects.count() == 1


@pytest.mark.parametrize("q", ["\x00", "Bu\x00di", "%00"])
def test_an_api_search_with_a_nul_is_refused_clearly(device_a, alice, q):
    response = alice.get(f"{API}/conversations", {"q": q})

    if q == "%00":  # (the literal text "%00", not a NUL: an ordinary search)
        assert response.status_code == 200
    else:
        assert_error(response, 400, "invalid_text")


@pytest.mark.parametrize("q", ["\x00", "Bu\x00di"])
def test_the_inbox_page_searches_past_a_nul(device_a, alice, q):
    response = alice.get("/admin/whatsapp/conversations/", {"q": q})

    assert response.status_code == 200
    assert "Budi" not in response.content.decode()  # a search for U+FFFD matches nobody


def test_the_tenant_list_searches_past_a_nul(cast):
    response = client_for(cast.superadmin).get("/admin/tenants/", {"q": "Ac\x00me"})

    assert response.status_code == 200


def cursor_of(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def nested_cursor(depth: int) -> str:
    return base64.urlsafe_b64encode(("[" * depth + "]" * depth).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        nested_cursor(100_000),
        nested_cursor(2_000),
        cursor_of(["0001-01-01T00:00:00+14:00", "00000000-0000-0000-0000-000000000000"]),
        cursor_of(["9999-12-31T23:59:59-14:00", "00000000-0000-0000-0000-000000000000"]),
        cursor_of([{"a": 1}, "00000000-0000-0000-0000-000000000000"]),
        cursor_of(["2026-01-01T00:00:00", ["x"]]),
        cursor_of("just text"),
        "%%%",
    ],
)
@pytest.mark.parametrize("path", ["/messages", "/conversations"])
def test_a_hand_made_cursor_is_a_400(device_a, alice, cursor, path):
    response = alice.get(API + path, {"cursor": cursor})

    assert_error(response, 400, "invalid_cursor")


def test_a_json_body_over_the_upload_limit_is_413(device_a, alice, settings):
    body = json.dumps({"to": "+6281234567890", "body": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})

    assert_error(post_raw(alice, "/messages", body), 413, "request_too_large")
    assert not Message.objects.exists()


@pytest.mark.parametrize("via", ["api", "page"])
def test_a_restart_that_races_a_delete_answers_not_found(device_a, alice, via):
    """Another admin deletes the device while the gateway restarts its session."""

    def restart_while_deleted(request):
        Device.objects.filter(pk=device_a.pk).delete()
        return (200, {}, "{}")

    with responses.RequestsMock(assert_all_requests_are_fired=False) as gateway:
        gateway.add_callback(
            responses.POST, session_url(device_a, "/restart"), callback=restart_while_deleted
        )
        gateway.get(session_url(device_a), json=waha_session(device_a.session_name, "SCAN_QR_CODE"))
        gateway.get(f"{GATEWAY}/api/{device_a.session_name}/auth/qr", json={"value": "2@x"})
        if via == "api":
            response = alice.post(f"{API}/devices/{device_a.pk}/restart")
            assert_error(response, 404, "device_not_found")
        else:
            response = alice.post(f"/admin/whatsapp/devices/{device_a.pk}/restart")
            assert response.status_code == 404
    assert not Device.objects.exists()
