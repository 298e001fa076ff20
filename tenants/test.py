"""The test cast, built once per test: a superadmin, alice and bob of tenant A, charlie of tenant B,
and two endpoints with canary keys that must never appear in any output."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from tenants.models import Membership, Tenant

PASSWORD = "correct-horse-battery-staple"
CANARY_PRIMARY = "canary-PRIMARY-key-7f3a9c1e5b2d4f60"
CANARY_SECONDARY = "canary-SECONDARY-key-0b8d2e6f4a1c3957"
CANARY_KEYS = (CANARY_PRIMARY, CANARY_SECONDARY)

ENDPOINTS = [
    {"name": "Primary", "apiUrl": "https://primary.gateway.test", "apiKey": CANARY_PRIMARY},
    {
        "name": "Secondary",
        "apiUrl": "https://secondary.gateway.test:8443",
        "apiKey": CANARY_SECONDARY,
        "provider": "evolution",
    },
]
ENDPOINTS_JSON = json.dumps(ENDPOINTS)


def platform_host() -> str:
    return settings.BASE_DOMAIN


def tenant_host(tenant: Tenant) -> str:
    return f"{tenant.subdomain}.{settings.BASE_DOMAIN}"


def client_for(
    user=None, host: str | None = None, *, enforce_csrf: bool = False, language: str = "en"
) -> Client:
    """A test client on `host` (the platform host by default), logged in as `user` if given.

    It asks for English as a browser would with Accept-Language, so assertions read the English
    texts; pass `language="id"` (or "" for no header) to see what Indonesian visitors get.
    """
    headers = {"HTTP_ACCEPT_LANGUAGE": language} if language else {}
    client = Client(HTTP_HOST=host or platform_host(), enforce_csrf_checks=enforce_csrf, **headers)
    if user is not None:
        client.force_login(user)
    return client


@dataclass
class Cast:
    superadmin: object
    alice: object
    bob: object
    charlie: object
    tenant_a: Tenant
    tenant_b: Tenant

    @property
    def host_a(self) -> str:
        return tenant_host(self.tenant_a)

    @property
    def host_b(self) -> str:
        return tenant_host(self.tenant_b)


def build_cast() -> Cast:
    User = get_user_model()
    superadmin = User.objects.create_superuser("root", "root@booqing.test", PASSWORD)
    alice = User.objects.create_user("alice", "alice@acme.test", PASSWORD)
    bob = User.objects.create_user("bob", "bob@acme.test", PASSWORD)
    charlie = User.objects.create_user("charlie", "charlie@globex.test", PASSWORD)
    tenant_a = Tenant.objects.create(name="Acme Salon", subdomain="acme")
    tenant_b = Tenant.objects.create(name="Globex Clinic", subdomain="globex")
    Membership.objects.create(user=alice, tenant=tenant_a, role=Membership.Role.ADMIN)
    Membership.objects.create(user=bob, tenant=tenant_a, role=Membership.Role.STAFF)
    Membership.objects.create(user=charlie, tenant=tenant_b, role=Membership.Role.ADMIN)
    return Cast(superadmin, alice, bob, charlie, tenant_a, tenant_b)
