"""The authorisation matrices' vocabulary: roles, hosts, the cast member behind each role."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from core.models import AuditEvent
from tenants.models import Membership, Tenant
from tenants.test import Cast
from whatsapp.models import TenantWhatsAppConfig

ROLES = ("anon", "alice", "bob", "charlie", "root")
LOGIN = "login"  # 302 to /accounts/login/?next=...
DJLOGIN = "django-admin-login"  # 302 to Django admin's own login
P, A, B, NOWHERE = "platform", "acme", "globex", "nobody"  # hosts
HOSTS = {P: "localhost", A: "acme.localhost", B: "globex.localhost", NOWHERE: "nobody.localhost"}
MISSING_ID = "0d3c6a2e-2f57-4c4c-9b7a-000000000000"  # a tenant id that does not exist


def user_for(cast: Cast, role: str):
    return None if role == "anon" else {"root": cast.superadmin}.get(role) or getattr(cast, role)


def resolve(path: str, cast: Cast) -> str:
    return path.format(A=cast.tenant_a.pk, B=cast.tenant_b.pk, X=MISSING_ID)


def snapshot() -> dict:
    """Every row a write could touch, in a comparable form."""
    return {
        "configs": sorted(map(repr, TenantWhatsAppConfig.objects.values_list())),
        "audit": sorted(map(repr, AuditEvent.objects.values_list())),
        "tenants": sorted(map(repr, Tenant.objects.values_list())),
        "memberships": sorted(map(repr, Membership.objects.values_list())),
        "users": sorted(
            map(repr, get_user_model().objects.values_list("id", "username", "password"))
        ),
    }
