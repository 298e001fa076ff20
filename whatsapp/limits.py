"""Per-tenant limits: devices, active API tokens, and API requests per token (settings.py).

Every tenant shares its endpoint's gateway with others, so one tenant's 50 sessions or 1,400
tokens is everyone's problem. The limits are settings with defaults a salon never reaches.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django_ratelimit.core import get_usage

from core.errors import ApplicationError, ErrorKind
from tenants.models import Tenant
from whatsapp.models import ApiToken, Device


class RateLimited(ApplicationError):
    """Too many API requests with one token: answered 429 with Retry-After."""

    kind = ErrorKind.RATE_LIMITED

    def __init__(self, retry_after: int, rate: str):
        super().__init__(
            f"Too many requests with this API token (limit {rate}). Try again in {retry_after} s.",
            "rate_limited",
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class TenantUsage:
    devices: int
    max_devices: int
    active_tokens: int
    max_active_tokens: int
    token_rate: str


def tenant_usage(*, tenant: Tenant) -> TenantUsage:
    """What a superadmin sees on the tenant's setup page."""
    return TenantUsage(
        devices=Device.objects.filter(tenant=tenant).count(),
        max_devices=settings.WHATSAPP_MAX_DEVICES_PER_TENANT,
        active_tokens=ApiToken.objects.filter(tenant=tenant, revoked_at__isnull=True).count(),
        max_active_tokens=settings.WHATSAPP_MAX_ACTIVE_TOKENS_PER_TENANT,
        token_rate=settings.WHATSAPP_API_TOKEN_RATE,
    )


def _lock_tenant(tenant: Tenant) -> None:
    # Concurrent creates queue on the tenant row, so the count below cannot be overtaken (on
    # SQLite, IMMEDIATE transactions already serialise writers).
    if transaction.get_connection().in_atomic_block:
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()


def device_quota_check(*, tenant: Tenant) -> None:
    """Raise when the tenant has its maximum of devices. Call inside the creating transaction."""
    _lock_tenant(tenant)
    limit = settings.WHATSAPP_MAX_DEVICES_PER_TENANT
    if Device.objects.filter(tenant=tenant).count() >= limit:
        raise ApplicationError(
            f"{tenant.name} already has {limit} devices, the most a workspace may have. Delete "
            "one first, or ask the platform operator to raise WHATSAPP_MAX_DEVICES_PER_TENANT.",
            "device_limit_reached",
            kind=ErrorKind.CONFLICT,
        )


def token_quota_check(*, tenant: Tenant) -> None:
    """Raise when the tenant has its maximum of active tokens. Call inside the transaction."""
    _lock_tenant(tenant)
    limit = settings.WHATSAPP_MAX_ACTIVE_TOKENS_PER_TENANT
    if ApiToken.objects.filter(tenant=tenant, revoked_at__isnull=True).count() >= limit:
        raise ApplicationError(
            f"{tenant.name} already has {limit} active API tokens, the most a workspace may "
            "have. Revoke one you no longer use first.",
            "token_limit_reached",
            kind=ErrorKind.CONFLICT,
        )


def api_token_rate_check(*, request, token: ApiToken) -> None:
    """Count this request against the token's rate (django-ratelimit); raise when over it."""
    rate = settings.WHATSAPP_API_TOKEN_RATE
    if not rate:
        return
    usage = get_usage(
        request,
        group="whatsapp-api-token",
        key=lambda group, request: str(token.pk),
        rate=rate,
        increment=True,
    )
    if usage is not None and usage["should_limit"]:
        raise RateLimited(max(1, int(usage["time_left"])), rate)
