"""Tables every app writes to: the audit log."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """Who assigned, changed or removed what, and when."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(max_length=150, blank=True)
    # The tenant model is named by a setting (as Django's AUTH_USER_MODEL), so core imports
    # nothing of ours.
    tenant = models.ForeignKey(
        settings.TENANT_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="audit_events",
    )
    action = models.CharField(max_length=60)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        # The table was created by the whatsapp app, where this model lived first; moving it
        # only moved its state (core/migrations/0001, whatsapp/migrations/0008).
        db_table = "whatsapp_auditevent"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def changes(self) -> list[tuple[str, object, object]]:
        """(field, before, after) for every field that differs, for display."""
        keys = sorted(set(self.before) | set(self.after))
        return [
            (k, self.before.get(k), self.after.get(k))
            for k in keys
            if self.before.get(k) != self.after.get(k)
        ]
