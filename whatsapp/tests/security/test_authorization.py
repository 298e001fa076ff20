"""The authorisation matrix: every URL x role x host, with the status each must get.

Rules (DESIGN.md, issue 2):
- platform pages: anonymous -> login, non-superuser -> 403, superadmin -> 200;
  on a tenant host -> 404
- tenant pages: anonymous -> login, non-member -> 403 (the superadmin too), member -> 200;
  on the platform host -> 404
- API: anonymous -> 401; available-endpoints and every write are for the superadmin (403 otherwise);
  tenant-config GET: superadmin on any host, a member on their own host for their own tenant;
  another tenant's id from a tenant host -> 404 (never a 403 that confirms it exists)
- a host that is no workspace -> 404 for everything
Every denied write leaves the database as it was.
"""

from __future__ import annotations

import json

import pytest

from booqing.test import client_for
from whatsapp.models import TenantWhatsAppConfig
from whatsapp.tests.support.authorization import (
    DJLOGIN,
    HOSTS,
    LOGIN,
    MISSING_ID,
    NOWHERE,
    ROLES,
    A,
    B,
    P,
    resolve,
    snapshot,
    user_for,
)

pytestmark = pytest.mark.django_db

CFG = "/api/whatsapp/tenant-config"
AVAILABLE = "/api/whatsapp/available-endpoints"
SETUP = "/admin/tenants/{A}/whatsapp"
SETUP_B = "/admin/tenants/{B}/whatsapp"
OPS = "/admin/operations/"
OPS_CHART = "/admin/operations/charts/messages.svg?range=24h"

# What each unsafe request sends (a valid request, so only authorisation can refuse it).
BODIES = {
    "/admin/tenants/": {"name": "Initech", "subdomain": "initech"},
    "/accounts/language/": {"language": "id", "next": "/"},
    SETUP: {"action": "assign", "endpoint_name": "Secondary"},
    SETUP_B: {"action": "assign", "endpoint_name": "Secondary"},
    f"{CFG}/{{A}}": {"endpoint_name": "Secondary"},
    f"{CFG}/{{B}}": {"endpoint_name": "Secondary"},
    f"{CFG}/{{X}}": {"endpoint_name": "Secondary"},
}

# fmt: off
MATRIX = [
    # method   path                            host     anon     alice    bob      charlie   root
    # --- platform host: pages -------------------------------------------------------------------
    ("GET",    "/",                            P,       302,     302,     302,     302,     302),
    ("GET",    "/accounts/login/",             P,       200,     302,     302,     302,     302),
    ("GET",    "/accounts/logout/",            P,       405,     405,     405,     405,     405),
    ("POST",   "/accounts/logout/",            P,       302,     302,     302,     302,     302),
    ("GET",    "/accounts/language/",          P,       405,     405,     405,     405,     405),
    ("POST",   "/accounts/language/",          P,       302,     302,     302,     302,     302),
    ("GET",    "/admin/tenants/",              P,       LOGIN,   403,     403,     403,     200),
    ("POST",   "/admin/tenants/",              P,       LOGIN,   403,     403,     403,     302),
    ("GET",    SETUP,                          P,       LOGIN,   403,     403,     403,     200),
    ("POST",   SETUP,                          P,       LOGIN,   403,     403,     403,     302),
    ("GET",    SETUP_B,                        P,       LOGIN,   403,     403,     403,     200),
    ("POST",   SETUP_B,                        P,       LOGIN,   403,     403,     403,     302),
    ("GET",    "/admin/tenants/{X}/whatsapp",  P,       LOGIN,   403,     403,     403,     404),
    ("GET",    "/admin/endpoints/",            P,       LOGIN,   403,     403,     403,     200),
    ("POST",   "/admin/endpoints/",            P,       LOGIN,   403,     403,     403,     405),
    ("GET",    OPS,                            P,       LOGIN,   403,     403,     403,     200),
    ("GET",    f"{OPS}?range=7d&endpoint=Primary", P,   LOGIN,   403,     403,     403,     200),
    ("POST",   OPS,                            P,       LOGIN,   403,     403,     403,     405),
    ("GET",    OPS_CHART,                      P,       LOGIN,   403,     403,     403,     200),
    ("GET",    f"{OPS}charts/nope.svg",        P,       LOGIN,   403,     403,     403,     404),
    ("GET",    "/django-admin/",               P,       DJLOGIN, DJLOGIN, DJLOGIN, DJLOGIN, 200),
    ("GET",    "/admin/whatsapp",              P,       404,     404,     404,     404,     404),
    ("GET",    "/healthz",                     P,       200,     200,     200,     200,     200),
    ("GET",    "/readyz",                      P,       200,     200,     200,     200,     200),
    # --- platform host: API ---------------------------------------------------------------------
    ("GET",    AVAILABLE,                      P,       401,     403,     403,     403,     200),
    ("POST",   AVAILABLE,                      P,       405,     405,     405,     405,     405),
    ("GET",    f"{CFG}/{{A}}",                 P,       401,     403,     403,     403,     200),
    ("GET",    f"{CFG}/{{B}}",                 P,       401,     403,     403,     403,     200),
    ("GET",    f"{CFG}/{{X}}",                 P,       401,     403,     403,     403,     404),
    ("POST",   f"{CFG}/{{A}}",                 P,       401,     403,     403,     403,     200),
    ("POST",   f"{CFG}/{{X}}",                 P,       401,     403,     403,     403,     404),
    ("DELETE", f"{CFG}/{{A}}",                 P,       401,     403,     403,     403,     200),
    ("DELETE", f"{CFG}/{{X}}",                 P,       401,     403,     403,     403,     404),
    ("PUT",    f"{CFG}/{{A}}",                 P,       405,     405,     405,     405,     405),
    ("GET",    "/api/openapi.json",            P,       200,     200,     200,     200,     200),
    ("GET",    "/api/nope",                    P,       404,     404,     404,     404,     404),
    ("POST",   "/api/nope",                    P,       404,     404,     404,     404,     404),
    # --- tenant A's host: pages -----------------------------------------------------------------
    ("GET",    "/",                            A,       302,     302,     302,     302,     302),
    ("GET",    "/accounts/login/",             A,       200,     302,     302,     302,     302),
    ("POST",   "/accounts/logout/",            A,       302,     302,     302,     302,     302),
    ("POST",   "/accounts/language/",          A,       302,     302,     302,     302,     302),
    ("GET",    "/admin/whatsapp",              A,       LOGIN,   200,     200,     403,     403),
    ("GET",    "/admin/tenants/",              A,       404,     404,     404,     404,     404),
    ("POST",   "/admin/tenants/",              A,       404,     404,     404,     404,     404),
    ("GET",    SETUP,                          A,       404,     404,     404,     404,     404),
    ("POST",   SETUP,                          A,       404,     404,     404,     404,     404),
    ("GET",    "/admin/endpoints/",            A,       404,     404,     404,     404,     404),
    ("GET",    OPS,                            A,       404,     404,     404,     404,     404),
    ("GET",    OPS_CHART,                      A,       404,     404,     404,     404,     404),
    ("GET",    "/django-admin/",               A,       404,     404,     404,     404,     404),
    ("GET",    "/healthz",                     A,       200,     200,     200,     200,     200),
    # --- tenant A's host: API -------------------------------------------------------------------
    ("GET",    AVAILABLE,                      A,       401,     403,     403,     403,     200),
    ("GET",    f"{CFG}/{{A}}",                 A,       401,     200,     200,     403,     200),
    ("GET",    f"{CFG}/{{B}}",                 A,       401,     404,     404,     403,     200),
    ("GET",    f"{CFG}/{{X}}",                 A,       401,     404,     404,     403,     404),
    ("POST",   f"{CFG}/{{A}}",                 A,       401,     403,     403,     403,     200),
    ("POST",   f"{CFG}/{{B}}",                 A,       401,     403,     403,     403,     200),
    ("DELETE", f"{CFG}/{{A}}",                 A,       401,     403,     403,     403,     200),
    ("DELETE", f"{CFG}/{{B}}",                 A,       401,     403,     403,     403,     200),
    ("PUT",    f"{CFG}/{{A}}",                 A,       405,     405,     405,     405,     405),
    ("GET",    "/api/openapi.json",            A,       200,     200,     200,     200,     200),
    ("GET",    "/api/nope",                    A,       404,     404,     404,     404,     404),
    # --- tenant B's host ------------------------------------------------------------------------
    ("GET",    "/",                            B,       302,     302,     302,     302,     302),
    ("GET",    "/accounts/login/",             B,       200,     302,     302,     302,     302),
    ("GET",    "/admin/whatsapp",              B,       LOGIN,   403,     403,     200,     403),
    ("GET",    "/admin/tenants/",              B,       404,     404,     404,     404,     404),
    ("POST",   SETUP_B,                        B,       404,     404,     404,     404,     404),
    ("GET",    AVAILABLE,                      B,       401,     403,     403,     403,     200),
    ("GET",    f"{CFG}/{{B}}",                 B,       401,     403,     403,     200,     200),
    ("GET",    f"{CFG}/{{A}}",                 B,       401,     403,     403,     404,     200),
    ("GET",    f"{CFG}/{{X}}",                 B,       401,     403,     403,     404,     404),
    ("POST",   f"{CFG}/{{B}}",                 B,       401,     403,     403,     403,     200),
    ("POST",   f"{CFG}/{{A}}",                 B,       401,     403,     403,     403,     200),
    ("DELETE", f"{CFG}/{{B}}",                 B,       401,     403,     403,     403,     200),
    ("DELETE", f"{CFG}/{{A}}",                 B,       401,     403,     403,     403,     200),
    # --- a host that is no workspace ------------------------------------------------------------
    ("GET",    "/",                            NOWHERE, 404,     404,     404,     404,     404),
    ("GET",    "/accounts/login/",             NOWHERE, 404,     404,     404,     404,     404),
    ("GET",    "/admin/whatsapp",              NOWHERE, 404,     404,     404,     404,     404),
    ("GET",    "/admin/tenants/",              NOWHERE, 404,     404,     404,     404,     404),
    ("GET",    AVAILABLE,                      NOWHERE, 404,     404,     404,     404,     404),
    ("POST",   f"{CFG}/{{A}}",                 NOWHERE, 404,     404,     404,     404,     404),
    ("DELETE", f"{CFG}/{{A}}",                 NOWHERE, 404,     404,     404,     404,     404),
]
# fmt: on

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
DENIED = {LOGIN, DJLOGIN, 401, 403, 404, 405}


def cases():
    for method, path, host, *expected in MATRIX:
        for role, status in zip(ROLES, expected, strict=True):
            yield pytest.param(
                method,
                path,
                host,
                role,
                status,
                id=f"{method} {path} @{host} as {role} -> {status}",
            )


def send(client, method: str, path: str, raw_path: str):
    body = BODIES.get(raw_path)
    if raw_path.startswith("/api/"):
        return client.generic(
            method, path, json.dumps(body) if body is not None else "", "application/json"
        )
    if method == "POST":
        return client.post(path, body or {})
    return client.generic(method, path)


@pytest.fixture
def assigned(cast):
    """Both tenants have an endpoint: reads have something to show, removals something to remove."""
    for tenant in (cast.tenant_a, cast.tenant_b):
        TenantWhatsAppConfig.objects.create(
            tenant=tenant, endpoint_name="Primary", is_configured=True
        )
    return cast


@pytest.mark.parametrize(("method", "path", "host", "role", "expected"), list(cases()))
def test_it_answers_each_role_on_each_host_as_the_matrix_says(
    assigned, method, path, host, role, expected
):
    cast = assigned
    client = client_for(user_for(cast, role), HOSTS[host])
    before = snapshot()

    response = send(client, method, resolve(path, cast), path)

    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    elif expected == DJLOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith("/django-admin/login/")
    else:
        assert response.status_code == expected, response.content[:300]
    if path.startswith("/api/") and host != NOWHERE and response.status_code >= 400:
        assert set(response.json()) == {"error"}, "API errors are JSON"
    if method in UNSAFE and expected in DENIED:
        assert snapshot() == before, "a denied write changed the database"


def test_it_lists_each_url_once_per_host():
    keys = [(method, path, host) for method, path, host, *_ in MATRIX]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(
    ("role", "host", "other"),
    [
        ("alice", A, "{B}"),
        ("bob", A, "{B}"),
        ("charlie", B, "{A}"),
        ("alice", P, "{B}"),
        ("charlie", P, "{A}"),
        ("alice", B, "{B}"),
        ("charlie", A, "{A}"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_it_answers_another_tenants_id_exactly_like_a_missing_one(
    assigned, role, host, other, method
):
    """A non-superuser cannot tell whether another tenant's id exists."""
    cast = assigned
    client = client_for(user_for(cast, role), HOSTS[host])

    existing = send(client, method, resolve(f"{CFG}/{other}", cast), f"{CFG}/{other}")
    missing = send(client, method, resolve(f"{CFG}/{{X}}", cast), f"{CFG}/{{X}}")

    assert existing.status_code == missing.status_code
    assert existing.status_code in (403, 404)
    other_id = resolve(other, cast)
    assert existing.content.decode().replace(other_id, "<id>") == missing.content.decode().replace(
        MISSING_ID, "<id>"
    )


def test_it_lets_a_member_read_only_their_own_tenants_config(assigned):
    cast = assigned

    response = client_for(cast.bob, cast.host_a).get(f"{CFG}/{cast.tenant_a.pk}")

    assert response.json()["config"]["tenant_id"] == str(cast.tenant_a.pk)


def test_it_makes_a_session_from_one_tenant_useless_on_another(cast):
    """Even a leaked cookie would not help: membership is checked on every request."""
    client = client_for(cast.alice, cast.host_a)
    assert client.get("/admin/whatsapp").status_code == 200

    client.defaults["HTTP_HOST"] = cast.host_b

    assert client.get("/admin/whatsapp").status_code == 403
    assert client.get(f"{CFG}/{cast.tenant_b.pk}").status_code == 403


def test_it_explains_a_403_on_a_friendly_page(cast):
    response = client_for(cast.alice).get("/admin/tenants/")

    assert response.status_code == 403
    page = response.content.decode()
    assert "<h1>Not allowed</h1>" in page
    assert "This page is for platform administrators." in page
    assert "Traceback" not in page


def test_it_explains_a_tenant_page_403_by_naming_the_workspace(cast):
    response = client_for(cast.charlie, cast.host_a).get("/admin/whatsapp")

    assert response.status_code == 403
    assert "You are not a member of Acme Salon." in response.content.decode()
