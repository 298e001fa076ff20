"""Canary keys never leak from devices, the inbox, API tokens, the tenant API, webhooks or probes.

Every request of the authorisation matrix (each role, each token, pages also as htmx fragments),
then every page and API reply built on a failing gateway that echoes the key it was sent, in its
body and its headers, for both providers; plus the rows, log records and console output those
failures leave behind.
"""

from __future__ import annotations

import json
import logging
import re

import pytest
import responses
from django.db import transaction

from booqing.test import CANARY_KEYS
from whatsapp import services
from whatsapp.models import Device, HealthStatus, Message, MessageStatus, TenantWhatsAppConfig
from whatsapp.tests.security.test_authorization_devices_messages import (
    API,
    DEV,
    INBOX,
    MATRIX,
    TOKEN_COLUMNS,
    TOKEN_HOSTS,
    TOKEN_MATRIX,
    TOKENS,
    WA,
    World,
    gateway_fixture,  # noqa: F401 (the `gateway` fixture)
    send,
    snapshot,
    world_fixture,  # noqa: F401 (the `world` fixture)
)
from whatsapp.tests.support.authorization import ROLES, A, P
from whatsapp.tests.support.secrets import assert_no_canary, response_text

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
GATEWAYS = re.compile(r"https://(primary|secondary)\.gateway\.test(:8443)?/.*")


def sent(client, method: str, path: str, world: World, **headers):
    """One request whose effects are rolled back, so every request sees the same data."""
    with transaction.atomic():
        if headers:
            client.defaults.update(headers)
        response = send(client, method, path, world)
        transaction.set_rollback(True)
    return response


@pytest.mark.parametrize("role", ROLES)
def test_it_shows_no_key_on_any_url_of_the_matrix(world, role):
    for method, path, host, *_ in MATRIX:
        where = f"in {method} {path} @{host} as {role}"
        assert_no_canary(response_text(sent(world.client(role, host), method, path, world)), where)
        if not path.startswith("/api/"):
            response = sent(world.client(role, host), method, path, world, **HTMX)
            assert_no_canary(response_text(response), f"{where} (htmx)")


def test_it_shows_no_key_on_any_url_to_a_tenant_token(world):
    for method, path, *_ in TOKEN_MATRIX:
        for column, host in zip(TOKEN_COLUMNS, TOKEN_HOSTS, strict=True):
            raw = world.revoked_a if column.startswith("revoked") else world.token_a
            response = sent(world.bearer(raw, host), method, path, world)
            assert_no_canary(response_text(response), f"in {method} {path} with token {column}")


# --- a failing gateway that echoes the key it was sent ---------------------------------------


def echo_the_key(status: int):
    """A gateway error reply that repeats every request header (the key among them) in every
    place an error message is read from: message, error, response.message, and its headers."""

    def reply(request):
        sent_headers = "; ".join(f"{name}: {value}" for name, value in request.headers.items())
        body = {
            "statusCode": status,
            "message": f"Invalid request with headers {sent_headers}",
            "error": f"Unauthorized {sent_headers}",
            "response": {"message": [f"apikey {sent_headers} rejected"]},
        }
        return status, {"X-Echo": sent_headers, "WWW-Authenticate": sent_headers}, json.dumps(body)

    return reply


FAILING_PAGES = [
    ("GET", WA),
    ("POST", f"{DEV}/new"),
    ("GET", f"{DEV}/{{DA}}"),
    ("POST", f"{DEV}/{{DA}}/qr"),
    ("POST", f"{DEV}/{{DA}}/restart"),
    ("POST", f"{DEV}/{{DA}}/logout"),
    ("POST", f"{DEV}/{{DA}}/delete"),
    ("GET", f"{INBOX}/"),
    ("POST", f"{INBOX}/new"),
    ("GET", f"{INBOX}/{{CA}}"),
    ("POST", f"{INBOX}/{{CA}}/reply"),
    ("POST", f"{INBOX}/{{CA}}/messages/{{MA}}/retry"),
    ("GET", TOKENS),
]
FAILING_API = [
    ("GET", f"{API}/devices"),
    ("POST", f"{API}/devices"),
    ("GET", f"{API}/devices/{{DA}}"),
    ("DELETE", f"{API}/devices/{{DA}}"),
    ("POST", f"{API}/devices/{{DA}}/qr"),
    ("POST", f"{API}/devices/{{DA}}/restart"),
    ("POST", f"{API}/devices/{{DA}}/logout"),
    ("POST", f"{API}/messages"),
    ("GET", f"{API}/messages"),
    ("GET", f"{API}/messages/{{MA}}"),
    ("GET", f"{API}/conversations"),
    ("GET", f"{API}/tenant-config/{{A}}"),
]


@pytest.mark.parametrize("status", [401, 422, 500])
@pytest.mark.parametrize("endpoint", ["Primary", "Secondary"])  # WAHA, Evolution
def test_it_shows_no_key_when_the_gateway_echoes_it_in_an_error(
    world, gateway, console_output, caplog, endpoint, status
):
    caplog.set_level(logging.INFO)
    tenant = world.cast.tenant_a
    TenantWhatsAppConfig.objects.filter(tenant=tenant).update(endpoint_name=endpoint)
    Device.objects.filter(tenant=tenant).update(endpoint_name=endpoint)
    gateway.reset()
    for method in (responses.GET, responses.POST, responses.PUT, responses.DELETE):
        gateway.add_callback(method, GATEWAYS, callback=echo_the_key(status))
    alice, token = world.client("alice", A), world.bearer(world.token_a, P)
    replies = []

    def ask(client, method, path, **headers):
        client.defaults.update(headers)
        response = send(client, method, path, world)
        replies.append((f"{method} {path} {headers or ''}", response))
        return response

    for method, path in FAILING_PAGES:
        ask(alice, method, path)
        ask(world.client("alice", A), method, path, **HTMX)
    for method, path in FAILING_API:
        ask(alice, method, path)
        ask(token, method, path)
    # An unhealthy endpoint is probed before a device is created: its answer is shown too.
    TenantWhatsAppConfig.objects.filter(tenant=tenant).update(health_status=HealthStatus.UNHEALTHY)
    ask(alice, "POST", f"{DEV}/new")
    ask(token, "POST", f"{API}/devices")
    # The worker sends the queued messages; the failure reason reaches the thread and the API.
    for message_id in Message.objects.filter(
        tenant=tenant, status=MessageStatus.QUEUED
    ).values_list("pk", flat=True):
        services.message_deliver(message_id=message_id)
    for method, path in [
        ("GET", f"{INBOX}/{{CA}}"),
        ("GET", f"{DEV}/{{DA}}"),
        ("GET", WA),
        ("GET", f"{API}/messages"),
        ("GET", f"{API}/messages/{{MA}}"),
        ("GET", f"{API}/devices"),
    ]:
        ask(alice, method, path)
        ask(token, method, path)
    for message in Message.objects.filter(tenant=tenant, status=MessageStatus.QUEUED):
        ask(alice, "GET", f"{INBOX}/{message.conversation_id}")

    # The gateway really was asked (with the key) and really failed the requests.
    echoed = [c for c in gateway.calls if any(k in str(c.request.headers) for k in CANARY_KEYS)]
    assert len(echoed) >= 10, "the failing gateway was not reached"
    assert any(response.status_code >= 400 for _, response in replies)
    assert Message.objects.filter(tenant=tenant).exclude(last_error="").exists()
    for label, response in replies:
        assert_no_canary(response_text(response), f"in {label}")
    assert_no_canary(repr(snapshot()), "in the database")
    for record in caplog.records:
        assert_no_canary(record.getMessage(), f"in log record {record.name}")
        assert_no_canary(record.exc_text or "", f"in a logged traceback {record.name}")
    assert_no_canary(console_output.getvalue(), "in the console log")
