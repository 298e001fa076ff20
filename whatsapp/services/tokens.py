"""Tenant API tokens for the booking product: shown once, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.errors import ApplicationError, ErrorKind
from tenants.models import Tenant
from whatsapp.caches import api_tokens, forget_api_token
from whatsapp.limits import token_quota_check
from whatsapp.models import ApiToken, TokenScope

TOKEN_PREFIX = "bqw_"
# Writing last_used_at on every request would turn each API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_create(
    *, tenant: Tenant, name: str, actor, scopes: Iterable[str] = (TokenScope.MESSAGES,)
) -> tuple[ApiToken, str]:
    """Create a token with `scopes`; the plain value is returned once and never stored."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ApplicationError(
            "Name the token (1-80 characters), e.g. 'Booking app'.",
            "invalid_name",
            kind=ErrorKind.INVALID,
        )
    chosen = sorted({str(s) for s in scopes})
    if not chosen or not set(chosen) <= set(TokenScope.values):
        raise ApplicationError(
            f"Choose the token's scopes from: {', '.join(TokenScope.values)}.",
            "invalid_scopes",
            kind=ErrorKind.INVALID,
        )
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token_quota_check(tenant=tenant)
        token = _token_insert(tenant, name, raw, chosen, actor)
    audit_record(
        actor=actor,
        tenant=tenant,
        action="api_token.created",
        after={"name": name, "scopes": chosen},
    )
    return token, raw


def _token_insert(tenant: Tenant, name: str, raw: str, chosen: list[str], actor) -> ApiToken:
    return ApiToken.objects.create(
        tenant=tenant,
        name=name,
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        token_hash=_hash(raw),
        scopes=" ".join(chosen),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )


def api_token_revoke(*, token: ApiToken, actor) -> None:
    forget_api_token(token.token_hash)
    if token.revoked_at is None:
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
        audit_record(
            actor=actor,
            tenant=token.tenant,
            action="api_token.revoked",
            before={"name": token.name},
        )


def api_token_authenticate(raw: str) -> ApiToken | None:
    """The active token for this value, or None."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    digest = _hash(raw)
    token = api_tokens.get(digest)
    if token is None:
        token = (
            ApiToken.objects.filter(token_hash=digest, revoked_at__isnull=True)
            .select_related("tenant")
            .first()
        )
        if token is None or not token.tenant.is_active:
            return None
        api_tokens.set(digest, token)
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
