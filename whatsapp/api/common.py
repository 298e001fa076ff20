"""Shared pieces of the API: who the caller acts for, and cursor paging."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied
from django.db.models import F, Q, QuerySet
from django.utils.dateparse import parse_datetime
from ninja.errors import AuthenticationError

from core.errors import ApplicationError, ErrorKind
from tenants.access import TenantRefused, resolve_tenant
from tenants.models import Tenant
from whatsapp.models import ApiToken, TokenScope

MAX_PAGE = 200


def api_token(request) -> ApiToken | None:
    """The caller's API token, if it authenticated with one; refused on another tenant's host."""
    token = request.auth if isinstance(request.auth, ApiToken) else None
    if token is not None and request.tenant is not None and request.tenant.pk != token.tenant_id:
        raise PermissionDenied("This API token belongs to another workspace.")
    return token


def refusal_error(refused: TenantRefused) -> Exception:
    """The API's answer to a session that may not act for the tenant (see resolve_tenant)."""
    if refused.reason == TenantRefused.NO_TENANT:
        return ApplicationError(
            "Call this on the tenant's own host (acme.<domain>) or with a tenant API token.",
            "tenant_required",
            kind=ErrorKind.MALFORMED,
        )
    if refused.reason == TenantRefused.LOGIN:
        return AuthenticationError()
    return PermissionDenied(refused.message)


def acting_tenant(
    request, *, admin: bool = False, scope: str | None = TokenScope.MESSAGES
) -> Tenant:
    """The tenant this call acts for: a token's own tenant, or a member's tenant on its host.

    `admin`: device management, for a workspace admin's session or a token with the `devices`
    scope. Otherwise a token needs `scope` (None: any scope, e.g. reading devices).
    """
    token = api_token(request)
    if token is not None:
        required = TokenScope.DEVICES if admin else scope
        if required and not token.has_scope(required):
            raise ApplicationError(
                f"This API token lacks the '{required}' scope. A workspace admin can create a "
                f"token with it on the API tokens page.",
                "insufficient_scope",
                kind=ErrorKind.FORBIDDEN,
            )
        return token.tenant
    try:
        return resolve_tenant(request, admin=admin)
    except TenantRefused as refused:
        raise refusal_error(refused) from None


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def encode_cursor(at: datetime | None, pk: uuid.UUID) -> str:
    raw = json.dumps([iso(at), str(pk)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime | None, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at_text, pk_text = json.loads(base64.urlsafe_b64decode(padded.encode()))
        at = parse_datetime(at_text) if at_text else None
        if at is not None:
            # Year 1 at +14:00 parses but is before datetime.min in UTC: the database adapter
            # (SQLite) overflowed converting it. Converting here refuses it as a bad cursor.
            at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
        return at, uuid.UUID(pk_text)
    except (ValueError, TypeError, AttributeError, OverflowError, RecursionError, binascii.Error):
        raise ApplicationError(
            "Invalid cursor: pass the 'next' value from the previous page unchanged.",
            "invalid_cursor",
            kind=ErrorKind.MALFORMED,
        ) from None


def keyset_page(
    queryset: QuerySet, *, field: str, cursor: str | None, limit: int
) -> tuple[list, str | None]:
    """Newest-first keyset paging on (field, id): stable while new rows arrive."""
    limit = max(1, min(limit, MAX_PAGE))
    queryset = queryset.order_by(F(field).desc(nulls_last=True), "-id")
    if cursor:
        at, pk = decode_cursor(cursor)
        if at is None:
            queryset = queryset.filter(**{f"{field}__isnull": True, "id__lt": pk})
        else:
            queryset = queryset.filter(
                Q(**{f"{field}__lt": at})
                | Q(**{field: at, "id__lt": pk})
                | Q(**{f"{field}__isnull": True})
            )
    rows = list(queryset[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(getattr(rows[-1], field), rows[-1].pk) if has_more else None
    return rows, next_cursor
