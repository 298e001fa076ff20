"""Database tables of the WhatsApp integration. No table has a column for a gateway URL or key."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from tenants.models import Tenant


def bounded(low: int, high: int) -> list:
    return [MinValueValidator(low), MaxValueValidator(high)]


class HealthStatus(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    HEALTHY = "healthy", "Healthy"
    UNHEALTHY = "unhealthy", "Unhealthy"


class TenantWhatsAppConfig(models.Model):
    """Which endpoint a tenant uses, and its settings. Columns and defaults follow the seed."""

    # Bounds shared by the form, the API and the service (see services.config_update).
    SETTING_FIELDS = (
        "auto_reconnect",
        "reconnect_interval",
        "health_check_interval",
        "webhook_retries",
        "message_timeout",
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="whatsapp_config")
    endpoint_name = models.CharField(max_length=100, db_index=True)
    auto_reconnect = models.BooleanField(default=True)
    reconnect_interval = models.PositiveIntegerField(
        default=30, validators=bounded(10, 3600), help_text="Seconds between reconnect attempts."
    )
    health_check_interval = models.PositiveIntegerField(
        default=60, validators=bounded(15, 3600), help_text="Seconds between health checks."
    )
    webhook_retries = models.PositiveIntegerField(
        default=3, validators=bounded(0, 10), help_text="How often the gateway retries a webhook."
    )
    message_timeout = models.PositiveIntegerField(
        default=30, validators=bounded(5, 120), help_text="Seconds to wait for a send to answer."
    )
    is_configured = models.BooleanField(default=False)
    health_status = models.CharField(
        max_length=10, choices=HealthStatus.choices, default=HealthStatus.UNKNOWN
    )
    last_health_check = models.DateTimeField(null=True, blank=True)
    unhealthy_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tenant_whatsapp_config"
        verbose_name = "tenant WhatsApp config"

    def __str__(self) -> str:
        return f"{self.tenant.subdomain} -> {self.endpoint_name}"

    def settings_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.SETTING_FIELDS}


class AuditEvent(models.Model):
    """Who assigned, changed or removed what, and when."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(max_length=150, blank=True)
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_events"
    )
    action = models.CharField(max_length=60)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
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
