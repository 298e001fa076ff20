"""Events to the booking product: endpoints, signed deliveries (Standard Webhooks), replay."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables
from standardwebhooks import Webhook

from core.audit import audit_record
from core.errors import ApplicationError, ErrorKind
from tenants.models import Tenant
from whatsapp import queue
from whatsapp.backoff import Backoff
from whatsapp.caches import event_subscriptions, forget_event_subscriptions
from whatsapp.event_transport import UnsafeUrl, post_event, url_check
from whatsapp.models import (
    DROPPED_STATUSES,
    EVENT_TYPES,
    PAIRING_STATUSES,
    Device,
    DeviceStatus,
    EventAttempt,
    EventDelivery,
    EventEndpoint,
    Message,
    MessageStatus,
)

logger = logging.getLogger(__name__)

MAX_ENDPOINTS_PER_TENANT = 10
# Retries: full jitter, random(0, min(cap, base * 2**n)), for up to a day after the event.
RETRY_BASE_SECONDS = 5
RETRY_CAP_SECONDS = 3600
# A Retry-After is honoured up to the cap: an endpoint cannot park its deliveries for a day.
DELIVERY_BACKOFF = Backoff(
    base=RETRY_BASE_SECONDS, cap=RETRY_CAP_SECONDS, retry_after_cap=RETRY_CAP_SECONDS
)
RETRY_WINDOW = timedelta(hours=24)
# A claimed attempt whose worker died is due again after this (the HTTP call takes <= 8 s).
ATTEMPT_LEASE = timedelta(seconds=60)
# The scheduler re-enqueues a due delivery only when its own task is this late (lost or dead).
ENQUEUE_GRACE = timedelta(seconds=60)
DELIVERY_LOG_DAYS = 30
# An inbound message answers the last outbound one sent to the contact within this window.
REPLY_WINDOW = timedelta(hours=24)
REACHED_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ)


def _new_secret() -> str:
    # Standard Webhooks: `whsec_` + base64 of 24-64 random bytes.
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _validate_events(events: object) -> list[str]:
    if not isinstance(events, list) or not events:
        raise ApplicationError(
            _("events: list at least one of %(events)s.") % {"events": ", ".join(EVENT_TYPES)},
            "invalid_events",
            kind=ErrorKind.INVALID,
        )
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise ApplicationError(
            _("events: unknown event '%(event)s'; known events are %(events)s.")
            % {"event": str(unknown[0])[:40], "events": ", ".join(EVENT_TYPES)},
            "unknown_event",
            kind=ErrorKind.INVALID,
        )
    return [e for e in EVENT_TYPES if e in events]


@sensitive_variables("secret")
def event_endpoint_create(
    *, tenant: Tenant, url: str, events: object, actor=None
) -> tuple[EventEndpoint, str]:
    """Subscribe a URL. Returns (endpoint, secret); the secret is shown to the caller once."""
    url = (url or "").strip() if isinstance(url, str) else ""
    if not url or len(url) > 500:
        raise ApplicationError(
            _("url: give the endpoint's https:// URL."), "invalid_url", kind=ErrorKind.INVALID
        )
    try:
        url_check(url)
    except UnsafeUrl as exc:
        raise ApplicationError(
            f"url: the URL {exc}.", "invalid_url", kind=ErrorKind.INVALID
        ) from None
    events = _validate_events(events)
    if EventEndpoint.objects.filter(tenant=tenant).count() >= MAX_ENDPOINTS_PER_TENANT:
        raise ApplicationError(
            _("A workspace can have at most %(max)s event endpoints.")
            % {"max": MAX_ENDPOINTS_PER_TENANT},
            "too_many_endpoints",
            kind=ErrorKind.INVALID,
        )
    secret = _new_secret()
    with transaction.atomic():
        endpoint = EventEndpoint.objects.create(
            tenant=tenant,
            url=url,
            events=events,
            secret=secret,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_record(
            actor=actor,
            tenant=tenant,
            action="event_endpoint.created",
            after={"url": url, "events": events},
        )
    forget_event_subscriptions(tenant.pk)
    return endpoint, secret


def event_endpoint_delete(*, endpoint: EventEndpoint, actor=None) -> None:
    """Unsubscribe: pending deliveries to it are dropped with it."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            tenant=endpoint.tenant,
            action="event_endpoint.deleted",
            before={"url": endpoint.url, "events": endpoint.events},
        )
        endpoint.delete()
    forget_event_subscriptions(endpoint.tenant_id)


def _subscribers(tenant_id, event_type: str) -> list:
    subscriptions = event_subscriptions.get(tenant_id)
    if subscriptions is None:
        subscriptions = list(
            EventEndpoint.objects.filter(tenant_id=tenant_id).values_list("id", "events")
        )
        event_subscriptions.set(tenant_id, subscriptions)
    return [pk for pk, events in subscriptions if event_type in events]


def events_emit(*, tenant_id, event_type: str, data: dict) -> list[EventDelivery]:
    """Record one delivery per subscribed endpoint; their tasks start when the caller commits.

    Never raises: an event that cannot be recorded is logged, and the send, webhook or status
    change that caused it goes on.
    """
    endpoint_ids = _subscribers(tenant_id, event_type)
    if not endpoint_ids:
        return []
    now = timezone.now()
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": data}
    rows = [
        EventDelivery(
            endpoint_id=pk,
            webhook_id=f"msg_{uuid.uuid4().hex}",
            event_type=event_type,
            payload=payload,
            next_attempt_at=now,
            give_up_at=now + RETRY_WINDOW,
        )
        for pk in endpoint_ids
    ]
    try:
        with transaction.atomic():  # a savepoint: a failure here never breaks the caller's work
            EventDelivery.objects.bulk_create(rows)
    except Exception:
        logger.exception("could not record event type=%s tenant=%s", event_type, tenant_id)
        return []
    ids = [row.pk for row in rows]
    transaction.on_commit(lambda: _enqueue_many(ids))
    return rows


def _enqueue(delivery_id, *, run_after: datetime | None = None) -> None:
    try:
        task = queue.task(queue.DELIVER_EVENT)
        if run_after is not None:
            if not task.get_backend().supports_defer:
                return  # e.g. the immediate backend: the scheduler enqueues it once it is due
            task = task.using(run_after=run_after)
        task.enqueue(str(delivery_id))
    except Exception:
        # The scheduler enqueues overdue deliveries again: a queue hiccup delays, never loses.
        logger.exception("could not enqueue event delivery=%s", delivery_id)


def _enqueue_many(ids: list) -> None:
    for pk in ids:
        _enqueue(pk)


# --- What each event says -------------------------------------------------------------------


def events_emit_message_status(
    *, message_id, tenant_id, status: str, error: str = ""
) -> list[EventDelivery]:
    """`message.status`: an outbound message changed status (queued, sending, sent, ...)."""
    if not _subscribers(tenant_id, "message.status"):
        return []
    row = (
        Message.objects.filter(pk=message_id)
        .values(
            "idempotency_key",
            "device_id",
            "conversation_id",
            "conversation__contact",
            "gateway_message_id",
            "attempts",
        )
        .first()
    )
    if row is None:
        return []
    data = {
        "id": str(message_id),
        "status": str(status),
        "idempotency_key": row["idempotency_key"],
        "to": row["conversation__contact"],
        "device_id": str(row["device_id"]),
        "conversation_id": str(row["conversation_id"]),
        "gateway_message_id": row["gateway_message_id"],
        "attempts": row["attempts"],
        "error": error or None,
    }
    return events_emit(tenant_id=tenant_id, event_type="message.status", data=data)


def _in_reply_to(message: Message, quoted_id: str | None) -> dict | None:
    outbound = Message.objects.filter(
        device_id=message.device_id, direction=Message.Direction.OUTBOUND
    )
    if quoted_id:
        quoted = outbound.filter(gateway_message_id=quoted_id).first()
        if quoted is not None:
            return {"id": str(quoted.pk), "idempotency_key": quoted.idempotency_key, "by": "quote"}
    recent = (
        outbound.filter(
            conversation_id=message.conversation_id,
            status__in=REACHED_STATUSES,
            sent_at__gte=timezone.now() - REPLY_WINDOW,
        )
        .order_by("-sent_at")
        .first()
    )
    if recent is None:
        return None
    return {"id": str(recent.pk), "idempotency_key": recent.idempotency_key, "by": "recent"}


def events_emit_message_received(
    *, message: Message, quoted_id: str | None = None
) -> list[EventDelivery]:
    """`message.received`: a customer wrote, with the outbound message it most likely answers."""
    if not _subscribers(message.tenant_id, "message.received"):
        return []
    conversation = message.conversation
    data = {
        "id": str(message.pk),
        "from": conversation.contact,
        "contact_name": conversation.contact_name or None,
        "body": message.body,
        "device_id": str(message.device_id),
        "conversation_id": str(message.conversation_id),
        "gateway_message_id": message.gateway_message_id,
        "received_at": message.created_at.isoformat() if message.created_at else None,
        "in_reply_to": _in_reply_to(message, quoted_id),
    }
    return events_emit(tenant_id=message.tenant_id, event_type="message.received", data=data)


def device_event_state(previous: str, new: str) -> str | None:
    """What a device status change means to the booking product, or None if nothing."""
    if new == DeviceStatus.CONNECTED and previous != DeviceStatus.CONNECTED:
        return "connected"
    if previous == DeviceStatus.CONNECTED and new in DROPPED_STATUSES:
        return "disconnected"
    if previous == DeviceStatus.CONNECTED and new in PAIRING_STATUSES:
        return "logged_out"  # the phone was unlinked: the device needs a new QR scan
    return None


def events_emit_device_status(
    *, device: Device, previous: str, new: str, state: str | None = None
) -> list[EventDelivery]:
    """`device.status`: connected, disconnected, logged_out (and silent, passed as `state`)."""
    state = state or device_event_state(previous, new)
    if state is None or not _subscribers(device.tenant_id, "device.status"):
        return []
    data = {
        "device": {"id": str(device.pk), "name": device.name, "phone": device.phone or None},
        "status": state,
        "device_status": str(new),
        "previous_device_status": str(previous),
    }
    return events_emit(tenant_id=device.tenant_id, event_type="device.status", data=data)


# --- Delivery -------------------------------------------------------------------------------


def _body(delivery: EventDelivery) -> str:
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False)


def _signed_headers(delivery: EventDelivery, body: str) -> dict[str, str]:
    # The signature's timestamp is the wall clock at sending (receivers reject old ones), so a
    # retry or a replay is signed afresh while its webhook-id stays the same.
    sent_at = datetime.now(tz=UTC)
    signature = Webhook(delivery.endpoint.secret).sign(delivery.webhook_id, sent_at, body)
    return {
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
        "User-Agent": "BooQing-WhatsApp-Events/1.0",
    }


def event_delivery_attempt(*, delivery_id, now: datetime | None = None) -> str:
    """The events worker's job: one attempt if the delivery is due. Returns its status after."""
    now = now or timezone.now()
    claimed = EventDelivery.objects.filter(
        pk=delivery_id, status=EventDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + ATTEMPT_LEASE, attempts=F("attempts") + 1)
    if not claimed:
        status = EventDelivery.objects.filter(pk=delivery_id).values_list("status", flat=True)
        return status.first() or "missing"
    delivery = EventDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        return "missing"  # its endpoint was deleted a moment ago
    body = _body(delivery)
    answer = post_event(delivery.endpoint.url, body=body, headers=_signed_headers(delivery, body))
    EventAttempt.objects.create(
        delivery=delivery,
        attempted_at=now,
        status_code=answer.status_code,
        response=answer.text[:500],
        duration_ms=answer.duration_ms,
        ok=answer.ok,
    )
    updates = {
        "last_attempt_at": now,
        "last_status_code": answer.status_code,
        "last_response": answer.text[:500],
    }
    if answer.ok:
        status, next_at = EventDelivery.Status.DELIVERED, None
    elif now >= delivery.give_up_at:
        status, next_at = EventDelivery.Status.FAILED, None
        logger.warning("event delivery gave up delivery=%s", delivery.pk)
    else:
        status = EventDelivery.Status.PENDING
        next_at = min(
            now + DELIVERY_BACKOFF.delay(delivery.attempts, retry_after=answer.retry_after),
            delivery.give_up_at,
        )
    EventDelivery.objects.filter(pk=delivery.pk).update(
        status=status, next_attempt_at=next_at, **updates
    )
    if next_at is not None:
        _enqueue(delivery.pk, run_after=next_at)
    return status


def event_deliveries_enqueue_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Scheduler step: deliveries whose task is overdue (lost, or its worker died) are enqueued
    again. The conditional update is the claim, so several schedulers enqueue each once."""
    now = now or timezone.now()
    due = list(
        EventDelivery.objects.filter(
            status=EventDelivery.Status.PENDING, next_attempt_at__lte=now - ENQUEUE_GRACE
        ).values_list("pk", "next_attempt_at")[:limit]
    )
    enqueued = 0
    for pk, next_at in due:
        if EventDelivery.objects.filter(pk=pk, next_attempt_at=next_at).update(next_attempt_at=now):
            _enqueue(pk)
            enqueued += 1
    return enqueued


def event_delivery_replay(*, delivery: EventDelivery, actor=None) -> EventDelivery:
    """Send an event again, with the same webhook-id (receivers dedupe on it)."""
    now = timezone.now()
    with transaction.atomic():
        EventDelivery.objects.filter(pk=delivery.pk).update(
            status=EventDelivery.Status.PENDING,
            next_attempt_at=now,
            give_up_at=now + RETRY_WINDOW,
        )
        audit_record(
            actor=actor,
            tenant=delivery.endpoint.tenant,
            action="event_delivery.replayed",
            after={"webhook_id": delivery.webhook_id, "event": delivery.event_type},
        )
        transaction.on_commit(lambda: _enqueue(delivery.pk))
    delivery.refresh_from_db()
    return delivery


def event_deliveries_prune(*, now: datetime | None = None) -> int:
    """Scheduler step: forget finished deliveries older than the log keeps."""
    now = now or timezone.now()
    deleted, _ = (
        EventDelivery.objects.filter(created_at__lt=now - timedelta(days=DELIVERY_LOG_DAYS))
        .exclude(status=EventDelivery.Status.PENDING)
        .delete()
    )
    return deleted
