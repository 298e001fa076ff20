"""Webhooks: store each gateway event once, then process the stored events with retries."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import ApplicationError, ErrorKind, NotFoundError
from whatsapp.backoff import Backoff
from whatsapp.caches import forget_webhook_target, webhook_targets
from whatsapp.gateways import Ack, Event, InboundMessage, StatusChange, WebhookParseError
from whatsapp.gateways.base import secrets_equal
from whatsapp.models import (
    WEBHOOK_EVENT_RETENTION_DAYS,
    Device,
    Message,
    MessageStatus,
    TenantWhatsAppConfig,
    WebhookEvent,
)
from whatsapp.services.devices import device_apply_status_event, device_status_confirm
from whatsapp.services.gateway_access import gateway_for_endpoint
from whatsapp.services.messages import message_ack_apply, message_receive
from whatsapp.text import clean_text

logger = logging.getLogger(__name__)

# Gateways send small JSON; anything bigger is refused before it is read or stored.
MAX_WEBHOOK_BYTES = 512 * 1024
# A claimed event not finished within this time (a crashed processor) is picked up again.
PROCESSING_LEASE = timedelta(seconds=60)
RETRY_BASE_SECONDS = 2
RETRY_CAP_SECONDS = 300
PROCESS_BACKOFF = Backoff(base=RETRY_BASE_SECONDS, cap=RETRY_CAP_SECONDS)


# How soon an ack waiting for an in-flight send's reply is looked at again, and for how long
# such waiting is free (longer than any send's lease: message_timeout <= 120 s plus a margin).
IN_FLIGHT_RECHECK = timedelta(seconds=2)
IN_FLIGHT_MAX_WAIT = timedelta(minutes=5)


class RetryLater(Exception):
    """Processing cannot finish yet (e.g. an ack for a message whose send reply is pending).

    `free`: the wait is expected to end by itself (a send is still in flight on the device), so
    it does not use up one of the event's `webhook_retries`.
    """

    def __init__(self, message: str, *, free: bool = False):
        super().__init__(message)
        self.free = free


def _event_kind(event: Event) -> str:
    return {InboundMessage: "message", Ack: "ack", StatusChange: "status"}[type(event)]


def _event_payload(event: Event, *, signed: bool = True) -> dict:
    # The fields are flat scalars: a shallow read avoids asdict()'s deep copy on the hot path.
    data = {field.name: getattr(event, field.name) for field in dataclasses.fields(event)}
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
        elif isinstance(value, str):
            data[key] = clean_text(value)  # NUL / lone surrogates: stored, never refused
    if isinstance(event, StatusChange) and not signed:
        # Anyone holding the URL could have sent it: a hint, confirmed with the gateway.
        data["confirm"] = True
    return data


@dataclass(frozen=True)
class _WebhookTarget:
    device_id: object
    endpoint_name: str
    secret: str
    token: str
    signed: bool


def _webhook_target(webhook_id) -> _WebhookTarget | None:
    # The lookup every delivery needs, cached briefly (caches.webhook_targets says why it may be).
    target = webhook_targets.get(webhook_id)
    if target is None:
        row = (
            Device.objects.filter(webhook_id=webhook_id)
            .values_list("id", "endpoint_name", "webhook_secret", "webhook_token", "webhook_signed")
            .first()
        )
        if row is None:
            return None
        target = _WebhookTarget(*row)
        webhook_targets.set(webhook_id, target)
    return target


def _insert_ignoring_duplicates(events: list[WebhookEvent]) -> None:
    """One `INSERT ... ON CONFLICT DO NOTHING` outside any transaction (PostgreSQL and SQLite).

    A redelivered event id is silently the same event. bulk_create(ignore_conflicts=True) says
    the same but wraps the statement in a transaction, which doubled the cost of each delivery.
    """
    meta = WebhookEvent._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # Only names from the model's own metadata go into the text; every value is a parameter.
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES {', '.join([row] * len(events))} "
        f"ON CONFLICT ({qn('device_id')}, {qn('event_id')}) DO NOTHING"
    )
    params = [
        field.get_db_prep_save(field.pre_save(event, add=True), connection)
        for event in events
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _token_matches(target: _WebhookTarget, token: str | None) -> bool:
    if not target.token:
        return token is None  # paired before tokens: only the bare URL, signature required
    return token is not None and secrets_equal(token, target.token)


def webhook_ingest(
    *, webhook_id, body: bytes, headers: Mapping[str, str], token: str | None = None
) -> int:
    """Verify and store a delivery's events (duplicates are ignored). Returns how many were new
    or repeated; raises ApplicationError (unauthenticated, malformed or not found) and writes
    nothing when it refuses.

    The URL's token (a capability URL) is required for every provider; where the gateway signs
    (WAHA Plus HMAC, Evolution's secret header) the signature is checked on top, and a device
    created on a signing gateway never accepts an unsigned delivery.
    """
    target = _webhook_target(webhook_id)
    # Compared in constant time; a wrong token looks exactly like an unknown webhook.
    if target is None or not _token_matches(target, token):
        raise NotFoundError("Unknown webhook.", "unknown_webhook")
    try:
        gateway = gateway_for_endpoint(target.endpoint_name)
    except ApplicationError as exc:
        # The endpoint left the configuration: nobody can verify this delivery.
        raise NotFoundError("Unknown webhook.", "unknown_webhook") from exc
    signed = False
    if target.signed or not target.token or gateway.webhook_signature_present(headers):
        if not gateway.verify_webhook(body=body, headers=headers, secret=target.secret):
            raise ApplicationError(
                "Invalid webhook signature.", "invalid_signature", kind=ErrorKind.UNAUTHENTICATED
            )
        signed = True
    try:
        events = gateway.parse_webhook(body)
    except (WebhookParseError, RecursionError, ValueError) as exc:
        raise ApplicationError(
            f"Malformed webhook: {exc}", "malformed_webhook", kind=ErrorKind.MALFORMED
        ) from None
    rows = [
        WebhookEvent(
            device_id=target.device_id,
            event_id=event.event_id[:200],
            kind=_event_kind(event),
            payload=_event_payload(event, signed=signed),
        )
        for event in events
    ]
    if rows:
        try:
            _insert_ignoring_duplicates(rows)
        except IntegrityError:
            # The device was deleted a moment ago (foreign key): its events have no home.
            forget_webhook_target(webhook_id)
            raise NotFoundError("Unknown webhook.", "unknown_webhook") from None
    return len(rows)


# WAHA envelope ids are `evt_<ULID>`; a ULID starts with its creation time in milliseconds as 10
# Crockford base32 characters, so comparing those (case-folded) compares when events happened.
_ULID_EVENT_ID = re.compile(r"evt_([0-9A-HJKMNP-TV-Z]{10})[0-9A-HJKMNP-TV-Z]{16}", re.IGNORECASE)
# How many of a device's latest applied status events a new one is compared with.
STATUS_ORDER_WINDOW = 20


def _emitted_at_key(event_id: str) -> str | None:
    match = _ULID_EVENT_ID.fullmatch(event_id)
    return match.group(1).upper() if match else None


def _is_stale_status(event: WebhookEvent) -> bool:
    """True when a status event the gateway emitted later was already applied.

    Gateways deliver webhooks concurrently and retry failed ones later, so a STARTING or
    SCAN_QR_CODE event can arrive after WORKING; applied last, it left a paired device shown as
    "starting" for good.
    """
    mine = _emitted_at_key(event.event_id)
    if mine is None:
        return False  # no ordering information (e.g. Evolution): apply as received
    applied = (
        WebhookEvent.objects.filter(
            device_id=event.device_id, kind="status", status=WebhookEvent.Status.PROCESSED
        )
        .exclude(pk=event.pk)
        .order_by("-id")
        .values_list("event_id", flat=True)[:STATUS_ORDER_WINDOW]
    )
    return any((key := _emitted_at_key(other)) is not None and key > mine for other in applied)


def _handle_status(event: WebhookEvent) -> None:
    if _is_stale_status(event):
        logger.info("stale status event ignored event=%s", event.pk)
        return
    if event.payload.get("confirm"):
        # An unsigned status is only a hint: the device moves to what the gateway says now.
        device = Device.objects.get(pk=event.device_id)
        device_status_confirm(device=device, hinted=event.payload["status"])
        return
    # Read the device now, not at claim time: an earlier event of this batch may have moved it,
    # and comparing with that stale copy skipped real changes (e.g. a logout right after WORKING).
    device = Device.objects.select_for_update().get(pk=event.device_id)
    device_apply_status_event(
        device=device,
        status=event.payload["status"],
        phone=event.payload.get("phone"),
        push_name=event.payload.get("push_name"),
    )


def _handle_message(event: WebhookEvent) -> None:
    payload = dict(event.payload)
    payload["timestamp"] = (
        parse_datetime(payload["timestamp"]) if payload.get("timestamp") else None
    )
    message_receive(device=event.device, inbound=payload)


def _handle_ack(event: WebhookEvent) -> None:
    if not message_ack_apply(
        device=event.device,
        gateway_message_id=event.payload["message_id"],
        status=event.payload["status"],
    ):
        # While a send on this device awaits the gateway's reply (up to message_timeout), this
        # is probably its ack. Jittered retries could all run out within a second or two, and
        # the ack was then dropped as failed: the message never showed delivered or read.
        in_flight = (
            timezone.now() - event.received_at < IN_FLIGHT_MAX_WAIT
            and Message.objects.filter(
                device_id=event.device_id,
                # An unconfirmed message is being looked up in the gateway's history.
                status__in=[MessageStatus.SENDING, MessageStatus.UNCONFIRMED],
            ).exists()
        )
        raise RetryLater(
            f"no message {event.payload['message_id']} yet (its send reply is pending)",
            free=in_flight,
        )


HANDLERS: dict[str, Callable[[WebhookEvent], None]] = {
    "status": _handle_status,
    "message": _handle_message,
    "ack": _handle_ack,
}


def webhook_event_process(*, event: WebhookEvent, now: datetime | None = None) -> bool:
    """Process one claimed event. On failure it is retried `webhook_retries` times, then kept
    as `failed` with the reason (visible, never dropped). Returns True when processed."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            HANDLERS[event.kind](event)
            WebhookEvent.objects.filter(pk=event.pk).update(
                status=WebhookEvent.Status.PROCESSED, processed_at=now, last_error=""
            )
        return True
    except Exception as exc:
        if isinstance(exc, RetryLater) and exc.free:
            # Give back the attempt the claim took, and look again shortly.
            WebhookEvent.objects.filter(pk=event.pk).update(
                last_error=str(exc)[:500],
                next_attempt_at=now + IN_FLIGHT_RECHECK,
                attempts=F("attempts") - 1,
            )
            return False
        retries = (
            TenantWhatsAppConfig.objects.filter(tenant_id=event.device.tenant_id)
            .values_list("webhook_retries", flat=True)
            .first()
        )
        reason = str(exc)[:500] or type(exc).__name__
        if event.attempts > (retries if retries is not None else 3):
            WebhookEvent.objects.filter(pk=event.pk).update(
                status=WebhookEvent.Status.FAILED, last_error=reason, next_attempt_at=None
            )
            logger.error("webhook event failed event=%s reason=%s", event.pk, reason)
        else:
            WebhookEvent.objects.filter(pk=event.pk).update(
                last_error=reason, next_attempt_at=now + PROCESS_BACKOFF.delay(event.attempts)
            )
            if not isinstance(exc, RetryLater):
                logger.warning("webhook event will retry event=%s reason=%s", event.pk, reason)
        return False


def webhook_events_claim(*, now: datetime, limit: int = 100) -> list[WebhookEvent]:
    """Claim due pending events (oldest first) with a lease; safe with several processors."""
    due = list(
        WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("id")
        .values_list("id", "next_attempt_at")[:limit]
    )
    claimed_ids = [
        pk
        for pk, next_at in due
        if WebhookEvent.objects.filter(pk=pk, next_attempt_at=next_at)
        .filter(status=WebhookEvent.Status.PENDING)
        .update(next_attempt_at=now + PROCESSING_LEASE, attempts=F("attempts") + 1)
    ]
    return list(
        WebhookEvent.objects.filter(pk__in=claimed_ids).select_related("device").order_by("id")
    )


def webhook_events_process_due(*, now: datetime | None = None, limit: int = 100) -> int:
    """One batch of the processing loop. Returns how many events were processed."""
    now = now or timezone.now()
    processed = 0
    for event in webhook_events_claim(now=now, limit=limit):
        processed += webhook_event_process(event=event, now=now)
    return processed


def webhook_events_prune(*, now: datetime | None = None) -> int:
    """Delete stored webhook events older than the retention period (a setting, default 7 days).

    Dedupe only needs recent ids (gateways retry within minutes), so old rows are just weight.
    """
    days = getattr(settings, "WHATSAPP_WEBHOOK_EVENT_RETENTION_DAYS", WEBHOOK_EVENT_RETENTION_DAYS)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _ = WebhookEvent.objects.filter(received_at__lt=cutoff).delete()
    return deleted


def webhook_event_retry(*, event: WebhookEvent) -> None:
    """Put a failed event back in the queue (from the admin or a support script)."""
    WebhookEvent.objects.filter(pk=event.pk, status=WebhookEvent.Status.FAILED).update(
        status=WebhookEvent.Status.PENDING, attempts=0, next_attempt_at=None
    )
