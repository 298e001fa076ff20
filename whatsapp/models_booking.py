"""Tables for the booking product: event endpoints, their delivery log, templates, number checks."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import Tenant

# Event names the booking product can subscribe to (a contract: DESIGN.md).
EVENT_TYPES = ("message.status", "message.received", "device.status")
CONTACT_CHECK_TTL = timedelta(days=1)


class EventEndpoint(models.Model):
    """A URL of the booking product that receives signed events (Standard Webhooks)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="event_endpoints")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)
    # The signing secret (`whsec_` + base64). HMAC needs the secret itself, so it is stored; it is
    # shown once when the endpoint is created and never again (no page, reply or log shows it).
    secret = models.CharField(max_length=100, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.url} ({', '.join(self.events)})"


class EventDelivery(models.Model):
    """One event for one endpoint: the row is the record, the queued task only its trigger."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(EventEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The Standard Webhooks `webhook-id`: the same for every attempt and replay of this event.
    webhook_id = models.CharField(max_length=60, unique=True)
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Retries stop after this moment (24 h after the event; a replay opens a new window).
    give_up_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["endpoint", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_id} ({self.status})"


class EventAttempt(models.Model):
    """One HTTP attempt of a delivery: when, what the endpoint answered, how long it took."""

    delivery = models.ForeignKey(EventDelivery, on_delete=models.CASCADE, related_name="tries")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    ok = models.BooleanField(default=False)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.attempted_at:%H:%M:%S} {self.status_code or 'no answer'}"


class MessageTemplate(models.Model):
    """A tenant's message text with named variables such as {nama} and {jam}."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="message_templates")
    name = models.SlugField(max_length=50)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="unique_template_name")
        ]

    def __str__(self) -> str:
        return self.name


class ContactCheckQuerySet(models.QuerySet):
    def fresh(self, *, now=None) -> models.QuerySet:
        """Checks young enough to trust (a day)."""
        return self.filter(checked_at__gte=(now or timezone.now()) - CONTACT_CHECK_TTL)

    def known_absent(self, *, tenant_id, phone: str) -> bool:
        """A fresh check said this number has no WhatsApp (a query, never a gateway call)."""
        return self.fresh().filter(tenant_id=tenant_id, phone=phone, on_whatsapp=False).exists()


class ContactCheck(models.Model):
    """Whether a number is on WhatsApp, as the tenant's gateway said (kept a day)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="contact_checks")
    phone = models.CharField(max_length=20)
    on_whatsapp = models.BooleanField()
    checked_at = models.DateTimeField()

    objects = ContactCheckQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "phone"], name="unique_contact_check")
        ]

    def __str__(self) -> str:
        return f"{self.phone}: {'on' if self.on_whatsapp else 'not on'} WhatsApp"
