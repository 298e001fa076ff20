"""Pages and API replies are never cached and run under a CSP; no Authorization value reaches a
log line, whatever its scheme (issue 9, hole 8)."""

from __future__ import annotations

import logging
import re

import pytest

from tenants.test import client_for
from whatsapp import services
from whatsapp.security import RedactSecretsFilter
from whatsapp.tests.factories import make_device

pytestmark = pytest.mark.django_db


def assert_private_no_store(response):
    directives = {d.strip() for d in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= directives, response["Cache-Control"]


@pytest.mark.parametrize(
    ("who", "host", "path"),
    [
        (None, "platform", "/accounts/login/"),
        ("alice", "acme", "/admin/whatsapp"),
        ("alice", "acme", "/admin/whatsapp/conversations/"),
        ("alice", "acme", "/admin/whatsapp/api-tokens"),
        ("superadmin", "platform", "/admin/tenants/"),
        ("superadmin", "platform", "/admin/endpoints/"),
        ("alice", "acme", "/admin/whatsapp/devices/00000000-0000-0000-0000-000000000000"),
        ("alice", "acme", "/api/whatsapp/devices"),
        ("alice", "acme", "/api/whatsapp/conversations"),
        (None, "platform", "/api/whatsapp/messages"),
        (None, "platform", "/api/docs"),
    ],
)
def test_pages_and_api_replies_are_private_and_never_stored(cast, who, host, path):
    user = getattr(cast, who) if who else None
    client = client_for(user, cast.host_a if host == "acme" else None)

    response = client.get(path)

    assert response.status_code < 500
    assert_private_no_store(response)
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


def test_a_token_reply_with_messages_is_private_and_never_stored(cast):
    _, raw = services.api_token_create(tenant=cast.tenant_a, name="Booking app", actor=None)
    client = client_for()

    response = client.get("/api/whatsapp/messages", HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 200
    assert_private_no_store(response)


def test_the_device_page_runs_no_inline_script(cast):
    from whatsapp.models import TenantWhatsAppConfig

    TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")
    device = make_device(
        tenant=cast.tenant_a, name="Desk", endpoint="Primary", session="bq-x",
        status="connected", secret="s",
    )  # fmt: skip
    client = client_for(cast.alice, cast.host_a)

    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as gateway:
        gateway.get(
            "https://primary.gateway.test/api/sessions/bq-x",
            json={"name": "bq-x", "status": "WORKING", "me": None},
        )
        response = client.get(f"/admin/whatsapp/devices/{device.pk}")

    # Issue 11 moved the page's code (QR countdown, copy buttons) into static files: no inline
    # script is left for the CSP to allow, and the static ones load from our own origin.
    page = response.content.decode()
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert '<script src="/static/js/device.js" defer>' in scripts
    assert all("src=" in tag for tag in scripts), scripts
    assert "'unsafe-inline'" not in response["Content-Security-Policy"].split("script-src")[1]


AUTHORIZATION_VALUES = [
    "Bearer bqw_live-secret-token-1234567890",
    "Basic YWxpY2U6c2VjcmV0LXBhc3N3b3Jk",
    "Token 0123456789abcdef0123456789abcdef",
    "Digest username=alice, response=6629fae49393a05397450978507c4ef1",
    "ApiKey sk-very-secret-key-000111222",
    "just-a-raw-secret-value-no-scheme-42",
]


@pytest.mark.parametrize("value", AUTHORIZATION_VALUES)
def test_no_authorization_value_reaches_a_log_line(value):
    record_filter = RedactSecretsFilter()
    secret_part = value.split(" ", 1)[-1].split(",")[-1].split("=")[-1][-12:]
    lines = [
        ("request headers: Authorization: %s", (value,)),
        ("meta=%r", ({"HTTP_AUTHORIZATION": value, "PATH_INFO": "/api/"},)),
        ("headers %s", ({"Authorization": value},)),
        ('auth authorization="%s" path=/api/whatsapp/messages', (value,)),
        ("auth authorization=%s path=/api/whatsapp/messages", (value.replace(" ", "_"),)),
    ]
    for message, args in lines:
        record = logging.LogRecord("test", logging.WARNING, __file__, 1, message, args, None)
        record_filter.filter(record)
        text = record.getMessage()
        assert secret_part not in text, text
        assert "/api/" in text or "headers" in text  # the rest of the line survives


def test_ordinary_log_lines_are_left_alone():
    record = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "api_token.created name=%s token created", ("Basic",), None
    )
    RedactSecretsFilter().filter(record)
    assert record.getMessage() == "api_token.created name=Basic token created"
