"""Token scopes on the tokens page and in the OpenAPI docs (issue 9, hole 5)."""

from __future__ import annotations

import re

import pytest

from core.errors import ApplicationError
from tenants.test import client_for
from whatsapp import services
from whatsapp.models import ApiToken

pytestmark = pytest.mark.django_db

TOKENS = "/admin/whatsapp/api-tokens"


@pytest.mark.parametrize(
    ("ticked", "stored"),
    [([], "messages"), (["devices"], "devices"), (["messages", "devices"], "devices messages")],
)
def test_an_admin_chooses_a_tokens_scopes_on_the_tokens_page(cast, ticked, stored):
    alice = client_for(cast.alice, cast.host_a)

    response = alice.post(f"{TOKENS}/new", {"name": "Booking app", "scopes": ticked})

    assert response.status_code == 201
    assert ApiToken.objects.get().scopes == stored
    page = alice.get(TOKENS).content.decode()
    # The table says what the token can do in words, not the API's scope names (issue 11).
    words = {"messages": "Send and read messages", "devices": "Manage devices (add, link"}
    cell = re.search(r'data-testid="token-scopes-cell">(.*?)</td>', page).group(1)
    for scope in ("messages", "devices"):
        assert (words[scope] in cell) == (scope in stored.split())


def test_the_tokens_page_explains_each_scope(cast):
    page = client_for(cast.alice, cast.host_a).get(TOKENS).content.decode()

    assert 'name="scopes" value="messages"' in page and "checked" in page
    assert 'name="scopes" value="devices"' in page
    assert "Devices: add, pair, restart, log out and delete devices" in page


def test_an_unknown_scope_is_refused(cast):
    alice = client_for(cast.alice, cast.host_a)

    response = alice.post(f"{TOKENS}/new", {"name": "Booking app", "scopes": ["admin"]})

    assert response.status_code == 422
    assert not ApiToken.objects.exists()
    with pytest.raises(ApplicationError):
        services.api_token_create(tenant=cast.tenant_a, name="x", actor=None, scopes=["root"])


def test_the_openapi_docs_name_the_scope_of_every_operation(cast):
    schema = client_for().get("/api/openapi.json").json()

    operations = {
        (method.upper(), path): op
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
    }
    assert operations[("POST", "/api/whatsapp/devices")]["x-token-scope"] == "devices"
    assert operations[("DELETE", "/api/whatsapp/devices/{device_id}")]["x-token-scope"] == "devices"
    assert operations[("POST", "/api/whatsapp/messages")]["x-token-scope"] == "messages"
    assert operations[("GET", "/api/whatsapp/devices")]["x-token-scope"] == "any"
    assert all("**Who may call:**" in op["description"] for op in operations.values())
    bearer = schema["components"]["securitySchemes"]["TenantTokenAuth"]
    assert "`devices`" in bearer["description"] and "`messages`" in bearer["description"]
