"""The audit log's one writer, and who an action is recorded against (a user, a token, or the
system)."""

from __future__ import annotations

from django.db import models

from core.models import AuditEvent

SYSTEM = "system"


def actor_label(actor) -> str:
    """How the log names `actor`: a signed-in user by username; anything else that can act (an
    API token) by its own `audit_label`; None (a command, a task) as the system."""
    if getattr(actor, "is_authenticated", False):
        return actor.get_username()
    label = getattr(actor, "audit_label", None)
    return str(label)[:150] if label else SYSTEM


def request_actor(request):
    """Who is calling: the signed-in user, or the credential the API authenticated (an API
    token, recorded by name); None when neither can be named."""
    if request.user.is_authenticated:
        return request.user
    auth = getattr(request, "auth", None)
    return auth if getattr(auth, "audit_label", None) else None


def audit_record(
    *, actor, tenant: models.Model | None, action: str, before=None, after=None
) -> None:
    """Record who did what. `actor` is a user, an API token (the booking product), or None."""
    AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label=actor_label(actor),
        tenant=tenant,
        action=action,
        before=before or {},
        after=after or {},
    )
