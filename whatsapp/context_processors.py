"""Template context: the inbox's unread count for the nav and the tab title (members only)."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from whatsapp.selectors import unread_conversations


def inbox_unread(request):
    # Lazy: a page that never shows the nav (errors, plain fragments) never runs the query.
    def count() -> int:
        membership = getattr(request, "membership", None)
        tenant = getattr(request, "tenant", None)
        if tenant is None or membership is None:
            return 0
        return unread_conversations(tenant_id=tenant.pk)

    return {"inbox_unread": SimpleLazyObject(count)}
