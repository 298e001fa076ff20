"""Messages: queue a send with its task, deliver it until it expires (reconciling any send whose
outcome is unknown with the gateway's history before a resend), receive, apply acks."""

from __future__ import annotations

import logging
import math
import random
from datetime import datetime, timedelta

import phonenumbers
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.errors import ApplicationError, ErrorKind, NotFoundError
from core.request_context import task_kwargs
from tenants.models import Tenant
from whatsapp import queue
from whatsapp.backoff import Backoff
from whatsapp.gateways import GatewayError
from whatsapp.gateways.base import request_may_have_reached
from whatsapp.metrics import message_outcome
from whatsapp.models import (
    ATTENTION_STATUSES,
    DEFAULT_PHONE_REGION,
    STATUS_RANK,
    ApiToken,
    ContactCheck,
    ContactLid,
    Conversation,
    Device,
    DeviceStatus,
    Message,
    MessageStatus,
    TenantWhatsAppConfig,
)
from whatsapp.services.events import events_emit_message_received, events_emit_message_status
from whatsapp.services.gateway_access import gateway_for_endpoint
from whatsapp.services.quiet_hours import tenant_quiet_hours_until

logger = logging.getLogger(__name__)

MAX_BODY_CHARS = 4096
RETRY_BASE_SECONDS = 2
RETRY_CAP_SECONDS = 300
# Never sooner than the gateway's Retry-After, however long it asks.
SEND_BACKOFF = Backoff(base=RETRY_BASE_SECONDS, cap=RETRY_CAP_SECONDS)
DEFAULT_EXPIRY_HOURS = 24
# A history read that does not show the message is trusted only when a second read, this much
# later, agrees: a gateway that was paused may still be working through our earlier request.
HISTORY_SETTLE_SECONDS = 10
# The gateway's clock and ours may disagree a little; its history is read from this far before
# the message was written (ids we already hold are never matched, so this cannot steal one).
CLOCK_SKEW_SECONDS = 30
# Statuses a message can still be sent from; the "open" ones a person may still be waiting on.
SENDABLE = (MessageStatus.QUEUED, MessageStatus.UNCONFIRMED)
# Not sent yet and still to be: what expiry and the scheduler's overdue sweep look at.
WAITING = (MessageStatus.SCHEDULED, *SENDABLE)
# A send_at this far in the past is still "now" (clocks of the booking product and ours differ).
SEND_AT_GRACE_SECONDS = 60
DONE = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.RECEIVED)
# How long past its timeout a `sending` row may stay before the scheduler assumes a dead worker.
LEASE_MARGIN_SECONDS = 30
PREVIEW_CHARS = 120


def normalise_phone(raw: object) -> str:
    """Any way a person writes a number (0812..., +62 812-..., 62812...) -> E.164 (+62812...)."""
    text = str(raw or "").strip()
    if text.endswith(("@c.us", "@s.whatsapp.net")):
        text = "+" + text.split("@", 1)[0]
    elif text.isdigit() and text.startswith("62"):
        text = "+" + text
    try:
        number = phonenumbers.parse(text, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ApplicationError(
            f"'{text[:40]}' is not a valid phone number: write it as +6281234567890 or "
            "081234567890.",
            "invalid_phone",
            kind=ErrorKind.INVALID,
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _validate_body(body: object) -> str:
    if not isinstance(body, str) or not body.strip():
        raise ApplicationError("The message body is empty.", "empty_body", kind=ErrorKind.INVALID)
    if len(body) > MAX_BODY_CHARS:
        raise ApplicationError(
            f"The message is {len(body)} characters long; the limit is {MAX_BODY_CHARS}.",
            "body_too_long",
            kind=ErrorKind.INVALID,
        )
    return body


def _pick_device(tenant: Tenant, device_id) -> Device:
    devices = Device.objects.filter(tenant=tenant)
    if device_id is not None:
        device = devices.filter(pk=device_id).first()
        if device is None:
            raise NotFoundError(f"No device with id {device_id}.", "device_not_found")
        return device
    device = (
        devices.filter(status=DeviceStatus.CONNECTED).order_by("created_at").first()
        or devices.order_by("created_at").first()
    )
    if device is None:
        raise ApplicationError(
            "No WhatsApp device yet: add one on the WhatsApp page and scan its QR code first.",
            "no_device",
            kind=ErrorKind.CONFLICT,
        )
    return device


def _touch_conversation(
    conversation_id, *, at: datetime, seq: int, body: str, inbound: bool
) -> None:
    conversation = Conversation.objects.filter(pk=conversation_id)
    if inbound:
        # Counted on its own: an inbound message whose gateway timestamp is older than the last
        # message (clock skew, a late retry) is still unread.
        conversation.update(unread_count=F("unread_count") + 1)
    # The newest message as written: later timestamp, or the same second and a later arrival.
    newer = (
        Q(last_message_at__isnull=True)
        | Q(last_message_at__lt=at)
        | Q(last_message_at=at, last_message_seq__lt=seq)
    )
    conversation.filter(newer).update(
        last_message_at=at, last_message_seq=seq, last_message_preview=body[:PREVIEW_CHARS]
    )


def _attention_refresh(conversations: QuerySet[Conversation]) -> None:
    """Set needs_attention to "has a failed, expired or unconfirmed message" on these
    conversations. One UPDATE along the message_attention index; it writes (and locks) no row
    whose flag is already right, which is nearly every status change."""

    def troubled() -> Exists:
        return Exists(
            Message.objects.filter(
                tenant_id=OuterRef("tenant_id"),
                conversation_id=OuterRef("pk"),
                status__in=ATTENTION_STATUSES,
            )
        )

    conversations.exclude(needs_attention=troubled()).update(needs_attention=troubled())


def _attention_follow(message_id) -> None:
    """After a message's status changed into or out of ATTENTION_STATUSES: its conversation's
    flag follows. Every such change in this module calls it once the change is written."""
    of_message = Message.objects.filter(pk=message_id).values("conversation_id")
    _attention_refresh(Conversation.objects.filter(pk__in=of_message))


def conversations_attention_rebuild(*, tenant: Tenant | None = None) -> None:
    """Recompute every conversation's needs_attention flag (of one tenant, or all).

    For rows written around the services, as a bulk import or a benchmark's seed does with
    bulk_create; migration 0009 did the same for the history it found."""
    conversations = Conversation.objects.all()
    if tenant is not None:
        conversations = conversations.filter(tenant=tenant)
    _attention_refresh(conversations)


def _conversation(device: Device, contact: str, contact_name: str = "") -> Conversation:
    conversation, created = Conversation.objects.get_or_create(
        device=device,
        contact=contact,
        defaults={"tenant_id": device.tenant_id, "contact_name": contact_name[:100]},
    )
    if not created and contact_name and not conversation.contact_name:
        Conversation.objects.filter(pk=conversation.pk).update(contact_name=contact_name[:100])
    return conversation


def _whole_second(at: datetime) -> datetime:
    return at.replace(microsecond=0)


def _expiry_for(
    tenant: Tenant, expires_at: datetime | None, *, now: datetime, base: datetime | None = None
) -> datetime:
    if expires_at is None:
        hours = (
            TenantWhatsAppConfig.objects.filter(tenant=tenant)
            .values_list("message_expiry_hours", flat=True)
            .first()
        )
        # A scheduled message may wait its full expiry counted from when it is due.
        return (base or now) + timedelta(hours=hours or DEFAULT_EXPIRY_HOURS)
    if timezone.is_naive(expires_at):
        raise ApplicationError(
            "expires_at needs a time zone offset, such as 2026-12-24T10:00:00+07:00.",
            "invalid_expires_at",
            kind=ErrorKind.INVALID,
        )
    if expires_at <= now:
        raise ApplicationError(
            "expires_at is in the past: a message must be allowed to wait at least until now.",
            "invalid_expires_at",
            kind=ErrorKind.INVALID,
        )
    return expires_at


def _check_send_at(send_at: datetime | None, *, now: datetime) -> datetime | None:
    """The requested send time, or None for "now" (absent, or at most a minute ago)."""
    if send_at is None:
        return None
    if timezone.is_naive(send_at):
        raise ApplicationError(
            "send_at needs a time zone offset, such as 2026-12-24T09:00:00+07:00.",
            "invalid_send_at",
            kind=ErrorKind.INVALID,
        )
    if send_at < now - timedelta(seconds=SEND_AT_GRACE_SECONDS):
        raise ApplicationError(
            "send_at is in the past: give a future time (or leave it out to send now).",
            "invalid_send_at",
            kind=ErrorKind.INVALID,
        )
    return send_at if send_at > now else None


def _quiet_until(tenant: Tenant, at: datetime) -> datetime | None:
    config = TenantWhatsAppConfig.objects.filter(tenant=tenant).first()
    return tenant_quiet_hours_until(tenant=tenant, config=config, at=at)


def message_send(
    *,
    tenant: Tenant,
    to: str,
    body: str,
    device_id=None,
    idempotency_key: str | None = None,
    expires_at: datetime | None = None,
    send_at: datetime | None = None,
    from_inbox: bool = False,
    actor=None,
) -> tuple[Message, bool]:
    """Queue an outbound message; its task is enqueued when the row commits.

    Returns (message, created). The same Idempotency-Key returns the first message again.
    `expires_at` (default: the tenant's message_expiry_hours from now) is when it stops being
    worth sending: it is never sent after that. A future `send_at` makes it `scheduled` until
    then; so do the tenant's quiet hours, unless it was typed in the inbox (`from_inbox`).
    """
    body = _validate_body(body)
    contact = normalise_phone(to)
    if idempotency_key:
        idempotency_key = idempotency_key.strip()[:128]
        existing = Message.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()
        if existing is not None:
            return _same_request(existing, contact, body), False
    if ContactCheck.objects.known_absent(tenant_id=tenant.pk, phone=contact):
        raise ApplicationError(
            f"{contact} is not on WhatsApp (checked within the last day).",
            "not_on_whatsapp",
            kind=ErrorKind.INVALID,
        )
    now = timezone.now()
    requested = _check_send_at(send_at, now=now)
    due = requested or now
    if not from_inbox:
        due = _quiet_until(tenant, due) or due
    scheduled = due > now
    expires_at = _expiry_for(tenant, expires_at, now=now, base=due if scheduled else None)
    if requested is not None and expires_at <= requested:
        raise ApplicationError(
            "expires_at is before send_at: the message would expire before it may be sent.",
            "invalid_expires_at",
            kind=ErrorKind.INVALID,
        )
    device = _pick_device(tenant, device_id)
    written_at = _whole_second(now)
    status = MessageStatus.SCHEDULED if scheduled else MessageStatus.QUEUED
    try:
        with transaction.atomic():
            conversation = _conversation(device, contact)
            message = Message.objects.create(
                tenant=tenant,
                device=device,
                conversation=conversation,
                direction=Message.Direction.OUTBOUND,
                body=body,
                status=status,
                idempotency_key=idempotency_key or None,
                next_attempt_at=due,
                send_at=due if scheduled else None,
                hold_in_quiet_hours=not from_inbox,
                expires_at=expires_at,
                written_at=written_at,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
                # API sends: the thread names the token ("Booking app") as the sender.
                created_by_token=actor if isinstance(actor, ApiToken) else None,
            )
            _touch_conversation(
                conversation.pk, at=written_at, seq=message.seq, body=body, inbound=False
            )
            events_emit_message_status(message_id=message.pk, tenant_id=tenant.pk, status=status)
            # The task is only a trigger: the row is the record, and it exists before the task
            # (a scheduled one also survives a lost task: the scheduler re-enqueues overdue rows).
            run_after = due if scheduled else None
            transaction.on_commit(lambda: _enqueue_send(message.pk, run_after=run_after))
    except IntegrityError:
        existing = Message.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _same_request(existing, contact, body), False
    logger.info("message %s tenant=%s message=%s", status, tenant.subdomain, message.pk)
    return message, True


def _same_request(existing: Message, contact: str, body: str) -> Message:
    if existing.body != body or existing.conversation.contact != contact:
        raise ApplicationError(
            "This Idempotency-Key was already used for a different message; use a new key.",
            "idempotency_key_reused",
            kind=ErrorKind.INVALID,
        )
    return existing


def _enqueue_send(message_id, *, run_after: datetime | None = None) -> None:
    try:
        task = queue.task(queue.SEND_MESSAGE)
        task = task.using(run_after=run_after) if run_after else task
        task.enqueue(str(message_id), **task_kwargs())
    except Exception:
        # The scheduler re-enqueues overdue queued rows, so a queue hiccup delays, never loses.
        logger.exception("could not enqueue send message=%s", message_id)


def _load(message_id) -> tuple[Message | None, int]:
    message = (
        Message.objects.select_related("device", "conversation", "tenant__whatsapp_config")
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        return None, 0
    config = getattr(message.tenant, "whatsapp_config", None)
    return message, config.message_timeout if config else 30


def _lease(now: datetime, timeout: int) -> datetime:
    return now + timedelta(seconds=timeout + LEASE_MARGIN_SECONDS)


def _is_due(message: Message, now: datetime) -> bool:
    return message.next_attempt_at is None or message.next_attempt_at <= now


def _claim_for_sending(message: Message, *, now: datetime, timeout: int, from_status: str) -> bool:
    """queued or due scheduled (or a reconciled unconfirmed) -> sending, with a lease."""
    claim = Message.objects.filter(pk=message.pk, status=from_status)
    if from_status in (MessageStatus.QUEUED, MessageStatus.SCHEDULED):
        claim = claim.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    else:
        claim = claim.filter(attempts=message.attempts)
    claimed = claim.update(
        status=MessageStatus.SENDING,
        attempts=F("attempts") + 1,
        lease_until=_lease(now, timeout),
        attempt_started_at=now,
        history_miss_at=None,
        maybe_sent=False,
    )
    if claimed:
        if from_status == MessageStatus.UNCONFIRMED:
            _attention_follow(message.pk)
        message.status = MessageStatus.SENDING
        message.attempts += 1
        message.attempt_started_at = now
    return bool(claimed)


def _reserve_pacing_slot(device: Device, *, now: datetime) -> datetime | None:
    """Take the device's next send slot; returns when to try again if it is not free yet."""
    if device.daily_send_cap:
        start_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        sent_today = Message.objects.filter(
            device=device, direction=Message.Direction.OUTBOUND, sent_at__gte=start_of_day
        ).count()
        if sent_today >= device.daily_send_cap:
            return start_of_day + timedelta(days=1)
    if device.min_send_gap_ms == 0:
        return None
    gap = timedelta(milliseconds=device.min_send_gap_ms * random.uniform(0.8, 1.4))
    slot = Device.objects.filter(pk=device.pk).filter(
        Q(next_send_at__isnull=True) | Q(next_send_at__lte=now)
    )
    if slot.update(next_send_at=now + gap):
        return None
    next_free = Device.objects.filter(pk=device.pk).values_list("next_send_at", flat=True).first()
    return next_free or now + gap


def _this_attempt(message: Message, status: str = MessageStatus.SENDING):
    # Guarded by the attempt number: a worker that outlived its lease must not overwrite the
    # state of a newer attempt of the same message.
    return Message.objects.filter(pk=message.pk, status=status, attempts=message.attempts)


def _next_try(message: Message, at: datetime) -> datetime:
    # Never later than the expiry, so an expiring message is marked expired on time.
    return min(at, message.expires_at) if message.expires_at else at


def _requeue(message: Message, *, at: datetime, error: str = "", count_attempt: bool) -> None:
    at = _next_try(message, at)
    updates = {"status": MessageStatus.QUEUED, "next_attempt_at": at, "lease_until": None}
    if error:
        updates["last_error"] = error[:500]
        updates["waiting_since"] = Coalesce(F("waiting_since"), message.attempt_started_at)
    if not count_attempt:
        updates["attempts"] = F("attempts") - 1
    if _this_attempt(message).update(**updates):
        if count_attempt:  # a pacing wait never announced `sending`, so no `queued` either
            events_emit_message_status(
                message_id=message.pk, tenant_id=message.tenant_id, status="queued", error=error
            )
        _enqueue_send(message.pk, run_after=at)


def _to_unconfirmed(message: Message, *, at: datetime, error: str) -> None:
    at = _next_try(message, at)
    updated = _this_attempt(message).update(
        status=MessageStatus.UNCONFIRMED,
        maybe_sent=True,
        next_attempt_at=at,
        lease_until=None,
        waiting_since=Coalesce(F("waiting_since"), message.attempt_started_at),
        last_error=(
            f"Not confirmed: {error} WhatsApp may have sent it; its chat history is checked "
            "before any resend."
        )[:500],
    )
    if updated:
        _attention_follow(message.pk)
        logger.warning("message outcome unknown message=%s", message.pk)
        events_emit_message_status(
            message_id=message.pk, tenant_id=message.tenant_id, status="unconfirmed", error=error
        )
        _enqueue_send(message.pk, run_after=at)


def _fail(message: Message, reason: str) -> None:
    failed = _this_attempt(message).update(
        status=MessageStatus.FAILED, last_error=reason[:500], lease_until=None, next_attempt_at=None
    )
    message_outcome(endpoint=message.device.endpoint_name, outcome="failed", count=failed)
    if failed:
        _attention_follow(message.pk)
        events_emit_message_status(
            message_id=message.pk, tenant_id=message.tenant_id, status="failed", error=reason
        )
    logger.warning("message failed message=%s reason=%s", message.pk, reason)


def _expire(message: Message, *, now: datetime) -> None:
    when = timezone.localtime(message.expires_at)
    reason = f"Expired at {when:%Y-%m-%d %H:%M}: not sent before its expiry."
    if message.maybe_sent or message.status == MessageStatus.UNCONFIRMED:
        reason = (
            f"Expired at {when:%Y-%m-%d %H:%M} unconfirmed: WhatsApp may have sent it, but "
            "this could not be checked before its expiry."
        )
    if message.last_error and not message.last_error.startswith("Expired"):
        reason += f" Last problem: {message.last_error}"
    expired = Message.objects.filter(pk=message.pk, status__in=WAITING).update(
        status=MessageStatus.EXPIRED,
        last_error=reason[:500],
        lease_until=None,
        next_attempt_at=None,
        awaiting_decision=False,
    )
    message_outcome(endpoint=message.device.endpoint_name, outcome="expired", count=expired)
    if expired:
        _attention_follow(message.pk)
        events_emit_message_status(
            message_id=message.pk, tenant_id=message.tenant_id, status="expired", error=reason
        )
    logger.warning("message expired message=%s", message.pk)


def message_deliver(*, message_id, now: datetime | None = None) -> str:
    """The worker's job for one message. Returns the status it left the message in.

    A queued message is sent; an unconfirmed one is first looked up in the gateway's history.
    """
    now = now or timezone.now()
    message, timeout = _load(message_id)
    if message is None:
        return "missing"
    if message.status not in WAITING or not _is_due(message, now):
        return message.status
    if message.expires_at and now >= message.expires_at:
        _expire(message, now=now)
        return MessageStatus.EXPIRED
    if message.status != MessageStatus.UNCONFIRMED and _hold_for_quiet_hours(message, now=now):
        return MessageStatus.SCHEDULED
    if message.status == MessageStatus.UNCONFIRMED:
        if message.awaiting_decision:
            return message.status
        outcome = _reconcile(message, now=now, timeout=timeout)
        if outcome != MessageStatus.QUEUED:
            return outcome
        if not _claim_for_sending(
            message, now=now, timeout=timeout, from_status=MessageStatus.UNCONFIRMED
        ):
            return _current_status(message)
    elif not _claim_for_sending(message, now=now, timeout=timeout, from_status=message.status):
        return _current_status(message)
    return _send(message, now=now, timeout=timeout)


def _hold_for_quiet_hours(message: Message, *, now: datetime) -> bool:
    """A due API/scheduled send inside the tenant's quiet hours waits (`scheduled`) until the
    window opens; never past its expiry, where it expires instead."""
    if not message.hold_in_quiet_hours:
        return False
    config = getattr(message.tenant, "whatsapp_config", None)
    opens = tenant_quiet_hours_until(tenant=message.tenant, config=config, at=now)
    if opens is None:
        return False
    opens = _next_try(message, opens)
    held = Message.objects.filter(
        pk=message.pk, status=message.status, lease_until__isnull=True
    ).update(status=MessageStatus.SCHEDULED, next_attempt_at=opens, send_at=opens)
    if held:
        if message.status != MessageStatus.SCHEDULED:
            events_emit_message_status(
                message_id=message.pk, tenant_id=message.tenant_id, status="scheduled"
            )
        _enqueue_send(message.pk, run_after=opens)
    return True


def _current_status(message: Message) -> str:
    return Message.objects.filter(pk=message.pk).values_list("status", flat=True).first() or (
        "missing"
    )


def _send(message: Message, *, now: datetime, timeout: int) -> str:
    device = message.device
    wait_until = _reserve_pacing_slot(device, now=now)
    if wait_until is not None:
        _requeue(message, at=wait_until, count_attempt=False)
        return MessageStatus.QUEUED
    events_emit_message_status(message_id=message.pk, tenant_id=message.tenant_id, status="sending")
    try:
        gateway = gateway_for_endpoint(device.endpoint_name, timeout=timeout)
        sent = gateway.send_text(
            session=device.session_name,
            phone=message.conversation.contact,
            text=message.body,
            timeout=timeout,
        )
    except ApplicationError as exc:
        _fail(message, exc.message)
        return MessageStatus.FAILED
    except GatewayError as exc:
        return _after_gateway_error(message, exc, now=now)
    _mark_sent(message, sent.message_id, now=timezone.now())
    return MessageStatus.SENT


def _after_gateway_error(message: Message, exc: GatewayError, *, now: datetime) -> str:
    # A device that is reconnecting answers "not ready": that is worth waiting for.
    if exc.permanent and exc.code != "session_not_ready":
        _fail(message, exc.message)
        return MessageStatus.FAILED
    at = now + SEND_BACKOFF.delay(message.attempts, retry_after=exc.retry_after)
    if request_may_have_reached(exc):
        _to_unconfirmed(message, at=at, error=exc.message)
        return MessageStatus.UNCONFIRMED
    _requeue(message, at=at, error=exc.message, count_attempt=True)
    return MessageStatus.QUEUED


def _mark_sent(
    message: Message, gateway_message_id: str | None, *, now: datetime, source: str = "reply"
) -> bool:
    # Whatever state the row reached meanwhile (its lease expired and it became unconfirmed, it
    # expired), the gateway took the message: the truth is "sent". Delivery acks move it on.
    row = Message.objects.filter(pk=message.pk).exclude(status__in=DONE)
    updates = {
        "status": MessageStatus.SENT,
        "sent_at": now,
        "lease_until": None,
        "next_attempt_at": None,
        "last_error": "",
        "maybe_sent": False,
        "awaiting_decision": False,
        "history_miss_at": None,
        "waiting_since": None,
    }
    if source != "reply":
        # A history entry that another message of ours took meanwhile is not this message's.
        try:
            with transaction.atomic():
                updated = row.update(gateway_message_id=gateway_message_id, **updates)
        except IntegrityError:
            return False
        logger.info("message confirmed sent message=%s by=%s", message.pk, source)
        _sent_announced(message, updated)
        return bool(updated)
    try:
        # No savepoint here: this runs once per send, and the worker is not in a transaction.
        updated = row.update(gateway_message_id=gateway_message_id, **updates)
    except IntegrityError:
        # The gateway reused an id we already hold for another message: keep the send, not the id.
        updated = row.update(**updates)
    _sent_announced(message, updated)
    return bool(updated)


def _sent_announced(message: Message, updated: int) -> None:
    message_outcome(endpoint=message.device.endpoint_name, outcome="sent", count=updated)
    if updated:
        _attention_follow(message.pk)
        events_emit_message_status(
            message_id=message.pk, tenant_id=message.tenant_id, status="sent"
        )


# -- reconciliation ----------------------------------------------------------------------------


def _reconcile(message: Message, *, now: datetime, timeout: int) -> str:
    """Look for an unconfirmed message in the gateway's recent history.

    Returns SENT (found: it is recorded with the gateway's id), QUEUED (not there, twice: the
    caller may send it), or UNCONFIRMED (checked again later, or held for a person).
    """
    claim = Message.objects.filter(
        pk=message.pk, status=MessageStatus.UNCONFIRMED, awaiting_decision=False
    ).filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    if not claim.update(lease_until=_lease(now, timeout)):
        return _current_status(message)
    device = message.device
    since = message.created_at - timedelta(seconds=CLOCK_SKEW_SECONDS)
    try:
        gateway = gateway_for_endpoint(device.endpoint_name, timeout=timeout)
        history = gateway.recent_outgoing(
            session=device.session_name, phone=message.conversation.contact, since=since
        )
    except ApplicationError as exc:
        return _hold_for_person(message, exc.message)
    except GatewayError as exc:
        if exc.permanent and exc.code != "session_not_ready":
            return _hold_for_person(message, exc.message)
        # No send happens meanwhile, so the attempt count does not grow: back off by how long
        # it has been waiting instead (the ceiling doubles as the wait doubles).
        started = message.waiting_since or message.attempt_started_at or now
        waited = max(0.0, (now - started).total_seconds())
        doublings = int(math.log2(1 + waited / RETRY_BASE_SECONDS))
        at = _next_try(message, now + SEND_BACKOFF.delay(doublings, retry_after=exc.retry_after))
        _release_unconfirmed(
            message,
            at=at,
            error=f"Not confirmed: the chat history could not be read yet ({exc.message}); "
            "trying again.",
        )
        return MessageStatus.UNCONFIRMED
    wanted = message.body.strip()
    candidates = [item for item in history if item.body.strip() == wanted]
    taken = set(
        Message.objects.filter(
            device=device, gateway_message_id__in=[item.message_id for item in candidates]
        ).values_list("gateway_message_id", flat=True)
    )
    # The oldest copy not already recorded for another message of ours.
    for item in reversed(candidates):
        if item.message_id not in taken and _mark_sent(
            message, item.message_id, now=item.timestamp or now, source="history"
        ):
            return MessageStatus.SENT
    if message.history_miss_at is None or now - message.history_miss_at < timedelta(
        seconds=HISTORY_SETTLE_SECONDS
    ):
        at = _next_try(message, now + timedelta(seconds=HISTORY_SETTLE_SECONDS))
        _release_unconfirmed(message, at=at, first_miss=now)
        return MessageStatus.UNCONFIRMED
    logger.info("message not in the gateway's history, sending again message=%s", message.pk)
    return MessageStatus.QUEUED


def _release_unconfirmed(
    message: Message, *, at: datetime, error: str = "", first_miss: datetime | None = None
) -> None:
    updates: dict = {"lease_until": None, "next_attempt_at": at}
    if error:
        updates["last_error"] = error[:500]
    if first_miss is not None:
        updates["history_miss_at"] = Coalesce(F("history_miss_at"), first_miss)
    if Message.objects.filter(pk=message.pk, status=MessageStatus.UNCONFIRMED).update(**updates):
        _enqueue_send(message.pk, run_after=at)


def _hold_for_person(message: Message, reason: str) -> str:
    Message.objects.filter(pk=message.pk, status=MessageStatus.UNCONFIRMED).update(
        awaiting_decision=True,
        lease_until=None,
        next_attempt_at=None,
        last_error=(
            f"May have been sent: the gateway did not confirm it and its chat history cannot be "
            f"checked ({reason}). Choose Send again or Mark as sent."
        )[:500],
    )
    logger.warning("message held for a decision message=%s", message.pk)
    return MessageStatus.UNCONFIRMED


# -- what people do with a message ------------------------------------------------------------


def message_retry(*, message: Message) -> Message:
    """The Retry button: send a failed or expired message again, or look for an unconfirmed
    one in the gateway's history now. Anything that may have been sent is reconciled first."""
    if message.direction != Message.Direction.OUTBOUND:
        raise ApplicationError(
            "Only outgoing messages can be retried.", "not_retryable", kind=ErrorKind.CONFLICT
        )
    now = timezone.now()
    retryable = (MessageStatus.FAILED, MessageStatus.EXPIRED, MessageStatus.UNCONFIRMED)
    if message.status not in retryable:
        raise ApplicationError(
            f"This message is {message.get_status_display().lower()}: only failed, expired or "
            "unconfirmed messages can be retried.",
            "not_retryable",
            kind=ErrorKind.CONFLICT,
        )
    reconcile = message.status == MessageStatus.UNCONFIRMED or message.maybe_sent
    updates: dict = {
        "status": MessageStatus.UNCONFIRMED if reconcile else MessageStatus.QUEUED,
        "next_attempt_at": now,
        "lease_until": None,
        "awaiting_decision": False,
        "history_miss_at": None,
    }
    if message.expires_at is None or message.expires_at <= now:
        # A person asked for it now: it gets a fresh expiry, counted from now.
        updates["expires_at"] = _expiry_for(message.tenant, None, now=now)
    with transaction.atomic():
        if Message.objects.filter(pk=message.pk, status=message.status).update(**updates):
            _attention_follow(message.pk)
            transaction.on_commit(lambda: _enqueue_send(message.pk))
    message.refresh_from_db()
    return message


def _decision_pending(message: Message) -> None:
    held = message.status == MessageStatus.UNCONFIRMED or (
        message.status == MessageStatus.EXPIRED and message.maybe_sent
    )
    if message.direction != Message.Direction.OUTBOUND or not held:
        raise ApplicationError(
            "Only a message that may have been sent (unconfirmed) can be sent again or marked "
            "as sent.",
            "not_unconfirmed",
            kind=ErrorKind.CONFLICT,
        )


def message_send_again(*, message: Message) -> Message:
    """A person decided an unconfirmed message was not sent: send it, without looking again."""
    _decision_pending(message)
    now = timezone.now()
    updates: dict = {
        "status": MessageStatus.QUEUED,
        "next_attempt_at": now,
        "lease_until": None,
        "awaiting_decision": False,
        "maybe_sent": False,
        "history_miss_at": None,
    }
    if message.expires_at is None or message.expires_at <= now:
        updates["expires_at"] = _expiry_for(message.tenant, None, now=now)
    with transaction.atomic():
        if Message.objects.filter(pk=message.pk, status=message.status).update(**updates):
            _attention_follow(message.pk)
            transaction.on_commit(lambda: _enqueue_send(message.pk))
    message.refresh_from_db()
    return message


def message_mark_sent(*, message: Message, actor=None) -> Message:
    """A person confirmed (e.g. on the phone) that an unconfirmed message did arrive."""
    _decision_pending(message)
    who = getattr(actor, "get_username", lambda: "")() or getattr(actor, "name", "") or "someone"
    marked = Message.objects.filter(pk=message.pk, status=message.status).update(
        status=MessageStatus.SENT,
        sent_at=timezone.now(),
        lease_until=None,
        next_attempt_at=None,
        awaiting_decision=False,
        maybe_sent=False,
        waiting_since=None,
        last_error=f"Marked as sent by {who}."[:500],
    )
    _sent_announced(message, marked)
    message.refresh_from_db()
    return message


def message_cancel(*, message: Message) -> Message:
    """Stop a message that has not gone out yet."""
    cancellable = (MessageStatus.SCHEDULED, MessageStatus.QUEUED)
    if message.direction != Message.Direction.OUTBOUND or message.status not in cancellable:
        raise ApplicationError(
            f"This message is {message.get_status_display().lower()}: only a scheduled or queued "
            "message can be cancelled.",
            "not_cancellable",
            kind=ErrorKind.CONFLICT,
        )
    if not Message.objects.filter(pk=message.pk, status__in=cancellable).update(
        status=MessageStatus.CANCELLED, next_attempt_at=None, lease_until=None
    ):
        raise ApplicationError(
            "Too late: the message is being sent.", "not_cancellable", kind=ErrorKind.CONFLICT
        )
    events_emit_message_status(
        message_id=message.pk, tenant_id=message.tenant_id, status="cancelled"
    )
    message.refresh_from_db()
    return message


def messages_requeue_stale(*, now: datetime | None = None, limit: int = 500) -> int:
    """Scheduler step: `sending` rows whose lease expired (a killed worker) become unconfirmed
    (the request may have reached the gateway) and are reconciled; rows past their expiry are
    expired; due rows whose task never ran are enqueued again. Claims make repeats harmless."""
    now = now or timezone.now()
    done = 0
    lost = list(
        Message.objects.filter(
            status__in=[MessageStatus.SENDING, MessageStatus.UNCONFIRMED], lease_until__lt=now
        ).values_list("pk", "status")[:limit]
    )
    for pk, status in lost:
        stale = Message.objects.filter(pk=pk, status=status, lease_until__lt=now)
        updates: dict = {"lease_until": None, "next_attempt_at": now}
        if status == MessageStatus.SENDING:
            updates.update(
                status=MessageStatus.UNCONFIRMED,
                maybe_sent=True,
                waiting_since=Coalesce(F("waiting_since"), F("attempt_started_at")),
                last_error="Not confirmed: the worker stopped while sending. WhatsApp may have "
                "sent it; its chat history is checked before any resend.",
            )
        if stale.update(**updates):
            logger.warning("message lease expired message=%s was=%s", pk, status)
            if status == MessageStatus.SENDING:
                _attention_follow(pk)
                _emit_stale(pk, MessageStatus.UNCONFIRMED)
            _enqueue_send(pk)
            done += 1
    expired = Message.objects.filter(
        status__in=WAITING, expires_at__lte=now, lease_until__isnull=True
    ).select_related("tenant")[:limit]
    for message in expired:
        _expire(message, now=now)
        done += 1
    overdue = list(
        Message.objects.filter(
            status__in=WAITING,
            awaiting_decision=False,
            next_attempt_at__lt=now - timedelta(seconds=60),
        ).values_list("pk", flat=True)[:limit]
    )
    for pk in overdue:
        # Push the due time forward as the claim, so two schedulers do not both enqueue it.
        if Message.objects.filter(pk=pk, status__in=WAITING, next_attempt_at__lt=now).update(
            next_attempt_at=now
        ):
            _enqueue_send(pk)
            done += 1
    return done


def _emit_stale(message_id, status: str) -> None:
    tenant_id = Message.objects.filter(pk=message_id).values_list("tenant_id", flat=True).first()
    events_emit_message_status(message_id=message_id, tenant_id=tenant_id, status=status)


def message_ack_apply(*, device: Device, gateway_message_id: str, status: str) -> bool:
    """Move an outbound message forward (never back). False when the id is not known yet."""
    message = (
        Message.objects.filter(device=device, gateway_message_id=gateway_message_id)
        .only("pk", "status")
        .first()
    )
    if message is None:
        _reconcile_soon(device)
        return False
    now = timezone.now()
    if status == MessageStatus.FAILED:
        failed = Message.objects.filter(
            pk=message.pk,
            status__in=[MessageStatus.SENDING, MessageStatus.UNCONFIRMED, MessageStatus.SENT],
        ).update(status=MessageStatus.FAILED, last_error="WhatsApp reported a delivery error.")
        message_outcome(endpoint=device.endpoint_name, outcome="failed", count=failed)
        if failed:
            _attention_follow(message.pk)
            events_emit_message_status(
                message_id=message.pk,
                tenant_id=device.tenant_id,
                status="failed",
                error="WhatsApp reported a delivery error.",
            )
        return True
    rank = STATUS_RANK.get(status)
    if rank is None:
        return True
    earlier = [s for s, r in STATUS_RANK.items() if r < rank]
    updates = {"status": status}
    if status == MessageStatus.DELIVERED:
        updates["delivered_at"] = now
    elif status == MessageStatus.READ:
        updates["read_at"] = now
    moved = Message.objects.filter(pk=message.pk, status__in=earlier).update(**updates)
    _heard_from(device, now)
    message_outcome(endpoint=device.endpoint_name, outcome=status, count=moved)
    if moved:
        if message.status == MessageStatus.UNCONFIRMED:  # an ack settles an unconfirmed send
            _attention_follow(message.pk)
        events_emit_message_status(message_id=message.pk, tenant_id=device.tenant_id, status=status)
    if moved and status == MessageStatus.READ and STATUS_RANK.get(message.status, 0) < 3:
        # Read without a delivered ack first: it was delivered too, for the delivery rate.
        message_outcome(endpoint=device.endpoint_name, outcome=MessageStatus.DELIVERED)
    return True


def _heard_from(device: Device, now: datetime) -> None:
    # Acks are what a silent device stops sending; at most one write a minute per device.
    last = device.last_activity_at
    if last is None or now - last > timedelta(seconds=60):
        Device.objects.filter(pk=device.pk).update(last_activity_at=now)
        device.last_activity_at = now


def _reconcile_soon(device: Device) -> None:
    """An ack for an id we do not know may belong to an unconfirmed message of this device
    (its send reply was lost): look in the history now, so the ack finds it when retried."""
    now = timezone.now()
    waiting = Message.objects.filter(
        device=device,
        status=MessageStatus.UNCONFIRMED,
        awaiting_decision=False,
        lease_until__isnull=True,
        next_attempt_at__gt=now,
    )
    for pk in list(waiting.values_list("pk", flat=True)[:20]):
        if waiting.filter(pk=pk).update(next_attempt_at=now):
            _enqueue_send(pk)


def _contact_for(device: Device, inbound: dict) -> str:
    phone, lid = inbound.get("phone"), inbound.get("lid")
    if lid and phone:
        ContactLid.objects.update_or_create(device=device, lid=lid, defaults={"phone": phone})
        _fold_lid_conversation(device, lid=lid, phone=phone)
    if phone:
        return phone
    if lid:
        known = ContactLid.objects.filter(device=device, lid=lid).values_list("phone", flat=True)
        # Without a known phone the hidden id itself is the contact, so nothing is lost.
        return known.first() or lid
    return str(inbound.get("sender", "unknown"))[:64]


def _fold_lid_conversation(device: Device, *, lid: str, phone: str) -> None:
    """Once a hidden @lid sender's phone is known, the chat kept under the lid continues under
    the phone. Without this the inbox showed the same person twice: the earlier messages in a
    thread named by the lid, the later ones in the phone's thread."""
    lid_conversation = Conversation.objects.filter(device=device, contact=lid).first()
    if lid_conversation is None:
        return
    target = Conversation.objects.filter(device=device, contact=phone).first()
    if target is None:
        Conversation.objects.filter(pk=lid_conversation.pk).update(contact=phone, contact_lid=lid)
        return
    Message.objects.filter(conversation=lid_conversation).update(conversation=target)
    updates = {"unread_count": F("unread_count") + lid_conversation.unread_count}
    if not target.contact_lid:
        updates["contact_lid"] = lid
    if not target.contact_name and lid_conversation.contact_name:
        updates["contact_name"] = lid_conversation.contact_name
    Conversation.objects.filter(pk=target.pk).update(**updates)
    _attention_refresh(Conversation.objects.filter(pk=target.pk))  # its messages came along
    lid_conversation.delete()
    if lid_conversation.last_message_at:
        _touch_conversation(
            target.pk,
            at=lid_conversation.last_message_at,
            seq=lid_conversation.last_message_seq,
            body=lid_conversation.last_message_preview,
            inbound=False,
        )


def message_receive(*, device: Device, inbound: dict) -> Message:
    """Store an incoming message once (UNIQUE device + gateway id) in its conversation."""
    # The gateway's time (whole seconds, refined by its event time where it has one).
    at = inbound.get("timestamp") or timezone.now()
    contact = _contact_for(device, inbound)
    conversation = _conversation(device, contact, inbound.get("push_name") or "")
    lid = inbound.get("lid")
    if lid and contact != lid and conversation.contact_lid != lid:
        # Remember the hidden id on the phone's conversation (shown in the inbox, searchable).
        Conversation.objects.filter(pk=conversation.pk).update(contact_lid=lid)
    message, created = Message.objects.get_or_create(
        device=device,
        gateway_message_id=inbound["message_id"],
        defaults={
            "tenant_id": device.tenant_id,
            "conversation": conversation,
            "direction": Message.Direction.INBOUND,
            "body": inbound.get("body") or ("[media]" if inbound.get("has_media") else ""),
            "status": MessageStatus.RECEIVED,
            "written_at": at,
        },
    )
    if created:
        _touch_conversation(
            conversation.pk, at=at, seq=message.seq, body=message.body, inbound=True
        )
        Device.objects.filter(pk=device.pk).update(
            last_event_at=timezone.now(), last_activity_at=timezone.now()
        )
        events_emit_message_received(message=message, quoted_id=inbound.get("quoted_id"))
    return message


def conversation_mark_read(*, conversation: Conversation) -> None:
    if conversation.unread_count:
        Conversation.objects.filter(pk=conversation.pk).update(unread_count=0)
        conversation.unread_count = 0
