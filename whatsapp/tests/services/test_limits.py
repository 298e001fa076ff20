"""Per-tenant limits (issue 9, hole 6): devices, active tokens and requests per token, shown to
superadmins; the tokens page paginates."""

from __future__ import annotations

import json
import re

import pytest
import responses

from core.errors import ApplicationError
from tenants.test import client_for
from whatsapp import services
from whatsapp.models import ApiToken, Device, DeviceStatus, TenantWhatsAppConfig
from whatsapp.tests.factories import make_device
from whatsapp.tests.support.api import API

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(cast):
    TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")
    return cast


def add_devices(tenant, count: int) -> None:
    for n in range(count):
        make_device(
            tenant=tenant, name=f"Desk {n}", endpoint="Primary", session=f"bq-d{n}",
            status=DeviceStatus.CONNECTED, secret="s",
        )  # fmt: skip


def test_a_tenant_cannot_add_more_devices_than_the_limit(acme, settings):
    settings.WHATSAPP_MAX_DEVICES_PER_TENANT = 3
    add_devices(acme.tenant_a, 3)
    alice = client_for(acme.alice, acme.host_a)

    with responses.RequestsMock() as gateway:  # any gateway call would fail the test
        response = alice.post(f"{API}/devices", {"name": "One more"}, "application/json")
        page = alice.post("/admin/whatsapp/devices/new", {"name": "One more"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "device_limit_reached"
    assert "3 devices" in response.json()["error"]["message"]
    assert page.status_code == 409 or "3 devices" in page.content.decode()
    assert Device.objects.filter(tenant=acme.tenant_a).count() == 3
    assert not gateway.calls


def test_the_device_limit_is_per_tenant(acme, settings):
    settings.WHATSAPP_MAX_DEVICES_PER_TENANT = 1
    add_devices(acme.tenant_a, 1)
    TenantWhatsAppConfig.objects.create(tenant=acme.tenant_b, endpoint_name="Primary")

    with responses.RequestsMock() as gateway:
        gateway.post(
            "https://primary.gateway.test/api/sessions",
            json={"name": "x", "status": "STARTING"},
            status=201,
        )
        device = services.device_create(tenant=acme.tenant_b, name="Clinic", actor=acme.charlie)

    assert device.tenant == acme.tenant_b


def test_a_tenant_cannot_hold_more_active_tokens_than_the_limit(acme, settings):
    settings.WHATSAPP_MAX_ACTIVE_TOKENS_PER_TENANT = 2
    first, _ = services.api_token_create(tenant=acme.tenant_a, name="One", actor=None)
    services.api_token_create(tenant=acme.tenant_a, name="Two", actor=None)
    alice = client_for(acme.alice, acme.host_a)

    refused = alice.post("/admin/whatsapp/api-tokens/new", {"name": "Three"})

    assert refused.status_code == 409
    assert "2 active API tokens" in refused.content.decode()
    assert ApiToken.objects.filter(tenant=acme.tenant_a).count() == 2
    # revoking one makes room again
    services.api_token_revoke(token=first, actor=None)
    assert alice.post("/admin/whatsapp/api-tokens/new", {"name": "Three"}).status_code == 201
    with pytest.raises(ApplicationError):
        services.api_token_create(tenant=acme.tenant_a, name="Four", actor=None)


def test_a_token_over_its_request_rate_gets_429_with_retry_after(acme, settings):
    settings.WHATSAPP_API_TOKEN_RATE = "3/m"
    _, raw = services.api_token_create(tenant=acme.tenant_a, name="Busy", actor=None)
    _, other = services.api_token_create(tenant=acme.tenant_a, name="Calm", actor=None)
    client = client_for()

    answers = [client.get(f"{API}/messages", HTTP_AUTHORIZATION=f"Bearer {raw}") for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    limited = answers[-1]
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    calm = client.get(f"{API}/messages", HTTP_AUTHORIZATION=f"Bearer {other}")
    assert calm.status_code == 200  # the limit is per token


def test_a_rate_limited_send_queues_nothing(acme, settings):
    settings.WHATSAPP_API_TOKEN_RATE = "1/m"
    _, raw = services.api_token_create(tenant=acme.tenant_a, name="Busy", actor=None)
    client = client_for()
    client.get(f"{API}/messages", HTTP_AUTHORIZATION=f"Bearer {raw}")

    response = client.post(
        f"{API}/messages",
        json.dumps({"to": "+6281234567890", "body": "Hi"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )

    assert response.status_code == 429
    from whatsapp.models import Message

    assert not Message.objects.exists()


def test_the_tokens_page_paginates(acme, settings):
    settings.WHATSAPP_MAX_ACTIVE_TOKENS_PER_TENANT = 100
    for n in range(60):
        services.api_token_create(tenant=acme.tenant_a, name=f"Token {n:02d}", actor=None)
    alice = client_for(acme.alice, acme.host_a)

    first = alice.get("/admin/whatsapp/api-tokens").content.decode()
    last = alice.get("/admin/whatsapp/api-tokens", {"page": 3}).content.decode()

    assert first.count('data-testid="token-row"') == 25
    assert "Page 1 of 3 (60 tokens)" in first
    assert last.count('data-testid="token-row"') == 10
    assert "Token 59" in first and "Token 00" in last  # newest first


def test_superadmins_see_the_limits_and_usage_on_the_setup_page(acme, settings):
    settings.WHATSAPP_MAX_DEVICES_PER_TENANT = 7
    add_devices(acme.tenant_a, 2)
    services.api_token_create(tenant=acme.tenant_a, name="One", actor=None)

    page = client_for(acme.superadmin).get(f"/admin/tenants/{acme.tenant_a.pk}/whatsapp")

    text = page.content.decode()
    assert 'data-testid="tenant-limits"' in text
    assert re.search(r"<td[^>]*>Devices</td><td[^>]*>2</td><td[^>]*>7</td>", text)
    assert re.search(r"<td[^>]*>Active API tokens</td><td[^>]*>1</td><td[^>]*>20</td>", text)
    assert "120/m" in text
