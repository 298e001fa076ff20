"""Database tables of the WhatsApp integration. No table has a column for a gateway URL or key."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from tenants.models import Tenant
from whatsapp.models_booking import (  # noqa: F401  (the booking product's tables)
    CONTACT_CHECK_TTL,
    EVENT_TYPES,
    ContactCheck,
    EventAttempt,
    EventDelivery,
    EventEndpoint,
    MessageTemplate,
)


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
    # How long a queued message stays worth sending; after that it is `expired`, never sent late.
    message_expiry_hours = models.PositiveIntegerField(
        default=24,
        validators=bounded(1, 24 * 7),
        help_text="Hours a message may wait for the gateway before it expires unsent.",
    )
    # Quiet hours (tenant time zone): API and scheduled sends wait until `quiet_hours_end`;
    # replies typed in the inbox are not held. Both empty (or equal): no quiet hours.
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
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


class DeviceStatus(models.TextChoices):
    """Our one vocabulary for a gateway session's state (GATEWAYS.md maps each provider to it)."""

    STOPPED = "stopped", "Stopped"
    STARTING = "starting", "Starting"
    SCAN_QR = "scan_qr", "Waiting for QR scan"
    ACTION_REQUIRED = "action_required", "Action required on the phone"
    CONNECTED = "connected", "Connected"
    FAILED = "failed", "Failed"


PAIRING_STATUSES = (DeviceStatus.STARTING, DeviceStatus.SCAN_QR, DeviceStatus.ACTION_REQUIRED)
# A connected device that has not heard from its gateway for this long may have lost its webhook
# (the dashboard says so).
SILENT_AFTER = timedelta(hours=24)
DROPPED_STATUSES = (DeviceStatus.STOPPED, DeviceStatus.FAILED)


class Device(models.Model):
    """A WhatsApp number paired to the tenant's endpoint: one gateway session."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="devices")
    name = models.CharField(max_length=60)
    endpoint_name = models.CharField(max_length=100)
    session_name = models.CharField(max_length=54)
    status = models.CharField(
        max_length=20, choices=DeviceStatus.choices, default=DeviceStatus.STARTING
    )
    status_detail = models.CharField(max_length=300, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    push_name = models.CharField(max_length=100, blank=True)
    # The gateway posts to /api/whatsapp/webhooks/<webhook_id>/<webhook_token>: the token (a
    # capability URL, >= 128 random bits, new on every re-pair) is the only proof an unsigned
    # gateway (WAHA Core) can give. Where the gateway signs, webhook_secret is the HMAC key
    # (WAHA Plus) or the X-Webhook-Secret header (Evolution), checked on top.
    webhook_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    webhook_secret = models.CharField(max_length=64, editable=False)
    webhook_token = models.CharField(max_length=64, blank=True, editable=False)
    # Set when the session was created on a gateway that signs: never accepts unsigned again.
    webhook_signed = models.BooleanField(default=True, editable=False)
    qr_value = models.TextField(blank=True)
    qr_changed_at = models.DateTimeField(null=True, blank=True)
    qr_fetched_at = models.DateTimeField(null=True, blank=True)
    qr_count = models.PositiveSmallIntegerField(default=0)
    connected_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    next_reconnect_at = models.DateTimeField(null=True, blank=True)
    reconnect_attempts = models.PositiveIntegerField(default=0)
    # Outbound pacing protects the number from bans: a minimum gap (with jitter) and a daily cap.
    min_send_gap_ms = models.PositiveIntegerField(default=1000)
    daily_send_cap = models.PositiveIntegerField(null=True, blank=True)
    next_send_at = models.DateTimeField(null=True, blank=True)
    # Last inbound message or ack: a connected device with sends waiting and nothing from it for
    # far longer than this rhythm is "silent" (tenant admins are told, restarted once).
    last_activity_at = models.DateTimeField(null=True, blank=True)
    silent_since = models.DateTimeField(null=True, blank=True)
    silent_restarted_at = models.DateTimeField(null=True, blank=True)
    # The last state tenant admins were e-mailed about (so one drop sends one e-mail).
    alerted_state = models.CharField(max_length=20, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint_name", "session_name"], name="unique_session_per_endpoint"
            ),
            models.UniqueConstraint(
                fields=["tenant", "name"], name="unique_device_name_per_tenant"
            ),
        ]
        indexes = [models.Index(fields=["status", "next_reconnect_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def is_pairing(self) -> bool:
        return self.status in PAIRING_STATUSES

    @property
    def is_connected(self) -> bool:
        return self.status == DeviceStatus.CONNECTED

    @property
    def heard_from_at(self) -> datetime | None:
        """When the gateway last told us anything about this device (an event, or connecting)."""
        return self.last_event_at or self.connected_at

    @property
    def is_silent(self) -> bool:
        """Connected, yet nothing heard for SILENT_AFTER: its webhook may be lost."""
        heard = self.heard_from_at
        return self.is_connected and heard is not None and heard < timezone.now() - SILENT_AFTER


class EndpointState(models.Model):
    """Per-endpoint health and the scheduler's claim on its next probe (one row per name)."""

    endpoint_name = models.CharField(max_length=100, unique=True)
    health_status = models.CharField(
        max_length=10, choices=HealthStatus.choices, default=HealthStatus.UNKNOWN
    )
    next_probe_at = models.DateTimeField(db_index=True)
    last_probe_at = models.DateTimeField(null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    version = models.CharField(max_length=60, blank=True)
    unhealthy_since = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True)
    # Capabilities, learned on the first probe, refreshed hourly or when the version changes.
    provider = models.CharField(max_length=20, blank=True)
    tier = models.CharField(max_length=10, blank=True)
    engine = models.CharField(max_length=30, blank=True)
    key_enforced = models.BooleanField(null=True, blank=True)
    signs_webhooks = models.BooleanField(null=True, blank=True)
    multi_session = models.BooleanField(null=True, blank=True)
    capabilities_checked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.endpoint_name}: {self.health_status}"


class EndpointProbe(models.Model):
    """One health probe of an endpoint (kept a week)."""

    endpoint_name = models.CharField(max_length=100)
    ok = models.BooleanField()
    latency_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["endpoint_name", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.endpoint_name} {'ok' if self.ok else 'failed'} {self.latency_ms} ms"


class WebhookEvent(models.Model):
    """A gateway event, stored once (UNIQUE on device + event id) before it is processed."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    id = models.BigAutoField(primary_key=True)
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="webhook_events")
    event_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=30)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "event_id"], name="unique_event_per_device")
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            # Retention prunes by age.
            models.Index(fields=["received_at"], name="webhook_event_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.event_id} ({self.status})"


# Stored webhook events are kept this long by default (WHATSAPP_WEBHOOK_EVENT_RETENTION_DAYS).
WEBHOOK_EVENT_RETENTION_DAYS = 7


# Numbers written without a country code (0812...) are Indonesian: BooQing's market.
DEFAULT_PHONE_REGION = "ID"


class Conversation(models.Model):
    """A chat between one device and one contact (E.164 phone, or a hidden @lid id)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="conversations")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="conversations")
    contact = models.CharField(max_length=64)
    contact_name = models.CharField(max_length=100, blank=True)
    contact_lid = models.CharField(max_length=64, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_message_preview = models.CharField(max_length=120, blank=True)
    # The last message's arrival number: breaks ties between messages stamped in the same second.
    last_message_seq = models.BigIntegerField(default=0)
    unread_count = models.PositiveIntegerField(default=0)
    # What the team knows about the contact ("prefers afternoons"), shown in the inbox list.
    contact_note = models.CharField(max_length=300, blank=True)
    # Has a failed, expired or unconfirmed message (ATTENTION_STATUSES): kept by the message
    # services at each status change, so the inbox's "needs attention" filter reads one index
    # instead of the tenant's message history.
    needs_attention = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "contact"], name="unique_contact_per_device")
        ]
        indexes = [
            models.Index(fields=["tenant", "-last_message_at"]),
            models.Index(
                fields=["tenant", "-last_message_at", "-last_message_seq"],
                name="conversation_order",
            ),
            # The inbox list's order and keyset paging (empty conversations follow, by id).
            models.Index(
                fields=["tenant", "-last_message_at", "-last_message_seq", "-id"],
                condition=models.Q(last_message_at__isnull=False),
                name="conversation_inbox_keyset",
            ),
            # The nav's unread count reads only the conversations that have something unread.
            models.Index(
                fields=["tenant"],
                condition=models.Q(unread_count__gt=0),
                name="conversation_unread",
            ),
            # The "needs attention" filter: the inbox order over the flagged conversations only.
            models.Index(
                fields=["tenant", "-last_message_at", "-last_message_seq", "-id"],
                condition=models.Q(needs_attention=True, last_message_at__isnull=False),
                name="conversation_attention",
            ),
        ]

    def __str__(self) -> str:
        return self.contact_name or self.contact


class MessageStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    # The gateway may have it (timeout, reset, 5xx): reconciled with its history before a resend.
    UNCONFIRMED = "unconfirmed", "Unconfirmed"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"
    RECEIVED = "received", "Received"


# Outgoing messages a person should look at: not sent, or maybe sent.
ATTENTION_STATUSES = ("failed", "expired", "unconfirmed")

# Acks only move a message forward along this order (a late "sent" never undoes "read").
STATUS_RANK = {"queued": 0, "sending": 1, "unconfirmed": 1, "sent": 2, "delivered": 3, "read": 4}


class NextInSequence(models.Expression):
    """The next arrival number for a row being inserted.

    PostgreSQL draws it from a sequence (created by migration 0003); SQLite has a single
    writer, so max + 1 read inside the INSERT cannot race another insert.
    """

    output_field = models.BigIntegerField()

    def __init__(self, table: str, column: str) -> None:
        super().__init__()
        self.table, self.column = table, column

    def as_sql(self, compiler, connection):
        quote = connection.ops.quote_name
        return (
            # Quoted identifiers from the model, never input.
            f"(SELECT COALESCE(MAX({quote(self.column)}), 0) + 1 FROM {quote(self.table)})",  # noqa: S608
            [],
        )

    def as_postgresql(self, compiler, connection):
        return f"nextval('{self.table}_{self.column}')", []


class ArrivalSequenceField(models.BigIntegerField):
    """A number the database assigns on insert, increasing in the order rows were stored.

    WhatsApp stamps messages in whole seconds; this orders messages within one second.
    """

    db_returning = True  # the assigned number is read back on insert (RETURNING)

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("null", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if add and value is None:
            return NextInSequence(model_instance._meta.db_table, self.column)
        return value


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in", "Inbound"
        OUTBOUND = "out", "Outbound"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="messages")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="messages")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    body = models.TextField()
    status = models.CharField(max_length=12, choices=MessageStatus.choices)
    gateway_message_id = models.CharField(max_length=128, null=True, blank=True)
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # An API send: the token's name is what the thread shows as the sender.
    created_by_token = models.ForeignKey(
        "ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Order as written: the gateway's timestamp (whole seconds) for inbound messages, the moment
    # it was queued (whole seconds) for outbound ones; ties go by arrival number.
    written_at = models.DateTimeField(null=True, blank=True)
    seq = ArrivalSequenceField(db_index=True)
    # Sending until expiry, and what the current attempt knows.
    expires_at = models.DateTimeField(null=True, blank=True)
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)
    # An attempt's outcome was unknown and no history read has ruled it out yet.
    maybe_sent = models.BooleanField(default=False)
    # The first history read that did not show the message (a second one, later, allows a resend).
    history_miss_at = models.DateTimeField(null=True, blank=True)
    # Unconfirmed and the history cannot be read: a person chooses Send again or Mark as sent.
    awaiting_decision = models.BooleanField(default=False)
    # When a scheduled message goes (the requested send_at, moved to the end of quiet hours).
    send_at = models.DateTimeField(null=True, blank=True)
    # Replies typed in the inbox are not held by quiet hours; API and scheduled sends are.
    hold_in_quiet_hours = models.BooleanField(default=True)

    class Meta:
        ordering = ["written_at", "seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "gateway_message_id"],
                condition=models.Q(gateway_message_id__isnull=False),
                name="unique_gateway_message_per_device",
            ),
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="unique_idempotency_key_per_tenant",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["conversation", "created_at"]),
            models.Index(fields=["tenant", "-created_at"]),
            models.Index(fields=["conversation", "written_at", "seq"], name="message_thread_order"),
            models.Index(fields=["tenant", "-written_at", "-seq"], name="message_list_order"),
            # An open thread's poll reads its newest change here (PostgreSQL keeps updated_at
            # current on every write with a trigger, migration 0010; see thread_stamp).
            models.Index(fields=["conversation", "updated_at"], name="message_thread_changes"),
            # The inbox's "needs attention" filter and marks: only the few troubled messages.
            models.Index(
                fields=["tenant", "conversation"],
                condition=models.Q(status__in=ATTENTION_STATUSES),
                name="message_attention",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.status}: {self.body[:30]}"


class ContactLid(models.Model):
    """WhatsApp's hidden sender ids (`...@lid`) mapped to a phone when a gateway reveals it."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="lids")
    lid = models.CharField(max_length=64)
    phone = models.CharField(max_length=20)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "lid"], name="unique_lid")]

    def __str__(self) -> str:
        return f"{self.lid} -> {self.phone}"


class TokenScope(models.TextChoices):
    """What a tenant API token may do. `messages` is the default: what the booking product needs."""

    MESSAGES = "messages", "Messages: send and read messages and conversations"
    DEVICES = "devices", "Devices: add, pair, restart, log out and delete devices"


class ApiToken(models.Model):
    """A tenant API token for the booking product. Only its SHA-256 hash is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=12)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Space-separated TokenScope values, as OAuth writes scopes.
    scopes = models.CharField(max_length=100, default=TokenScope.MESSAGES)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def has_scope(self, scope: str) -> bool:
        return scope in self.scope_list

    @property
    def audit_label(self) -> str:
        """How the audit log names what this token did (core.audit)."""
        return f"API token {self.name}"


class DeviceEvent(models.Model):
    """What happened to a device that no other row remembers: status changes, refused webhooks,
    pairing and reconnect attempts. The device page's timeline merges these with its webhook
    events and messages. Details are sentences for the tenant: never a gateway host or key."""

    class Kind(models.TextChoices):
        STATUS = "status", "Status changed"
        PAIRING = "pairing", "Pairing started"
        RECONNECT = "reconnect", "Reconnect attempt"
        WEBHOOK_REFUSED = "webhook_refused", "Webhook refused"

    id = models.BigAutoField(primary_key=True)
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="timeline_events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    outcome = models.CharField(max_length=40, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["device", "-created_at"]),
            models.Index(fields=["kind", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.outcome}"
