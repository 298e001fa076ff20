"""Messages: queue a send with its task, deliver it with retries and pacing, receive, apply acks."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

import phonenumbers
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from booqing.exceptions import ApplicationError, NotFoundError
from tenants.models import Tenant
from whatsapp.gateways import GatewayError
from whatsapp.models import (
    DEFAULT_PHONE_REGION,
    STATUS_RANK,
    ContactCheck,
    ContactLid,
    Conversation,
    Device,
    DeviceStatus,
    Message,
    MessageStatus,
)
from whatsapp.services.events import events_emit_message_received, events_emit_message_status
from whatsapp.services.gateway_access import gateway_for_endpoint

logger = logging.getLogger(__name__)

MAX_BODY_CHARS = 4096
MAX_ATTEMPTS = 6
RETRY_BASE_SECONDS = 2
RETRY_CAP_SECONDS = 300
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
            status=422,
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _validate_body(body: object) -> str:
    if not isinstance(body, str) or not body.strip():
        raise ApplicationError("The message body is empty.", "empty_body", status=422)
    if len(body) > MAX_BODY_CHARS:
        raise ApplicationError(
            f"The message is {len(body)} characters long; the limit is {MAX_BODY_CHARS}.",
            "body_too_long",
            status=422,
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
            status=409,
        )
    return device


def _touch_conversation(conversation_id, *, at: datetime, body: str, inbound: bool) -> None:
    conversation = Conversation.objects.filter(pk=conversation_id)
    if inbound:
        # Counted on its own: an inbound message whose gateway timestamp is older than the last
        # message (whole seconds vs our microseconds, clock skew, a late retry) is still unread.
        conversation.update(unread_count=F("unread_count") + 1)
    conversation.filter(Q(last_message_at__isnull=True) | Q(last_message_at__lte=at)).update(
        last_message_at=at, last_message_preview=body[:PREVIEW_CHARS]
    )


def _conversation(device: Device, contact: str, contact_name: str = "") -> Conversation:
    conversation, created = Conversation.objects.get_or_create(
        device=device,
        contact=contact,
        defaults={"tenant_id": device.tenant_id, "contact_name": contact_name[:100]},
    )
    if not created and contact_name and not conversation.contact_name:
        Conversation.objects.filter(pk=conversation.pk).update(contact_name=contact_name[:100])
    return conversation


def message_send(
    *,
    tenant: Tenant,
    to: str,
    body: str,
    device_id=None,
    idempotency_key: str | None = None,
    actor=None,
) -> tuple[Message, bool]:
    """Queue an outbound message; its task is enqueued when the row commits.

    Returns (message, created). The same Idempotency-Key returns the first message again.
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
            status=422,
        )
    device = _pick_device(tenant, device_id)
    now = timezone.now()
    try:
        with transaction.atomic():
            conversation = _conversation(device, contact)
            message = Message.objects.create(
                tenant=tenant,
                device=device,
                conversation=conversation,
                direction=Message.Direction.OUTBOUND,
                body=body,
                status=MessageStatus.QUEUED,
                idempotency_key=idempotency_key or None,
                next_attempt_at=now,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            _touch_conversation(conversation.pk, at=now, body=body, inbound=False)
            events_emit_message_status(message_id=message.pk, tenant_id=tenant.pk, status="queued")
            # The task is only a trigger: the row is the record, and it exists before the task.
            transaction.on_commit(lambda: _enqueue_send(message.pk))
    except IntegrityError:
        existing = Message.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _same_request(existing, contact, body), False
    logger.info("message queued tenant=%s message=%s", tenant.subdomain, message.pk)
    return message, True


def _same_request(existing: Message, contact: str, body: str) -> Message:
    if existing.body != body or existing.conversation.contact != contact:
        raise ApplicationError(
            "This Idempotency-Key was already used for a different message; use a new key.",
            "idempotency_key_reused",
            status=422,
        )
    return existing


def _enqueue_send(message_id, *, run_after: datetime | None = None) -> None:
    from whatsapp.tasks import send_message

    try:
        task = send_message.using(run_after=run_after) if run_after else send_message
        task.enqueue(str(message_id))
    except Exception:
        # The scheduler re-enqueues overdue queued rows, so a queue hiccup delays, never loses.
        logger.exception("could not enqueue send message=%s", message_id)


def _retry_delay(attempt: int, retry_after: float | None) -> timedelta:
    # Exponential backoff with full jitter, never sooner than the gateway's Retry-After.
    delay = random.uniform(0, min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempt))
    return timedelta(seconds=max(delay, retry_after or 0))


def _claim_for_sending(message_id, *, now: datetime) -> tuple[Message | None, int, str]:
    """Load the message with what sending needs, then claim it (queued -> sending, with a lease).

    Returns (message or None, the tenant's message timeout, the status when not claimed). One
    read and one conditional UPDATE: the worker's bookkeeping should cost little next to a send.
    """
    message = (
        Message.objects.select_related("device", "conversation", "tenant__whatsapp_config")
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        return None, 0, "missing"
    config = getattr(message.tenant, "whatsapp_config", None)
    timeout = config.message_timeout if config else 30
    if message.status != MessageStatus.QUEUED:
        return None, timeout, message.status
    claimed = (
        Message.objects.filter(pk=message_id, status=MessageStatus.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(
            status=MessageStatus.SENDING,
            attempts=F("attempts") + 1,
            lease_until=now + timedelta(seconds=timeout + LEASE_MARGIN_SECONDS),
        )
    )
    if not claimed:
        current = Message.objects.filter(pk=message_id).values_list("status", flat=True).first()
        return None, timeout, current or "missing"
    message.status = MessageStatus.SENDING
    message.attempts += 1
    return message, timeout, message.status


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


def _requeue(message: Message, *, at: datetime, error: str = "", count_attempt: bool) -> None:
    updates = {"status": MessageStatus.QUEUED, "next_attempt_at": at, "lease_until": None}
    if error:
        updates["last_error"] = error[:500]
    if not count_attempt:
        updates["attempts"] = F("attempts") - 1
    requeued = Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(**updates)
    if requeued and count_attempt:  # a pacing wait never announced `sending`, so no `queued` either
        events_emit_message_status(
            message_id=message.pk, tenant_id=message.tenant_id, status="queued", error=error
        )
    _enqueue_send(message.pk, run_after=at)


def _fail(message: Message, reason: str) -> None:
    if Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.FAILED, last_error=reason[:500], lease_until=None, next_attempt_at=None
    ):
        events_emit_message_status(
            message_id=message.pk, tenant_id=message.tenant_id, status="failed", error=reason
        )
    logger.warning("message failed message=%s reason=%s", message.pk, reason)


def message_deliver(*, message_id, now: datetime | None = None) -> str:
    """The worker's job for one message. Returns the status it left the message in."""
    now = now or timezone.now()
    message, timeout, status = _claim_for_sending(message_id, now=now)
    if message is None:
        return status
    device = message.device
    if device.status != DeviceStatus.CONNECTED and message.attempts >= MAX_ATTEMPTS:
        _fail(message, f"Device {device.name} is not connected ({device.status}); pair it again.")
        return MessageStatus.FAILED
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
    transient = not exc.permanent or exc.code == "session_not_ready"
    if not transient:
        _fail(message, exc.message)
        return MessageStatus.FAILED
    if message.attempts >= MAX_ATTEMPTS:
        _fail(message, f"Gave up after {message.attempts} attempts: {exc.message}")
        return MessageStatus.FAILED
    _requeue(
        message,
        at=now + _retry_delay(message.attempts, exc.retry_after),
        error=exc.message,
        count_attempt=True,
    )
    return MessageStatus.QUEUED


def _mark_sent(message: Message, gateway_message_id: str | None, *, now: datetime) -> None:
    # A worker that stalled past its lease finds its row re-queued: the gateway took the message,
    # so record it as sent anyway; the pending re-send then finds nothing left to claim.
    try:
        marked = Message.objects.filter(
            pk=message.pk, status__in=[MessageStatus.SENDING, MessageStatus.QUEUED]
        ).update(
            status=MessageStatus.SENT,
            gateway_message_id=gateway_message_id,
            sent_at=now,
            lease_until=None,
            next_attempt_at=None,
            last_error="",
        )
    except IntegrityError:
        # The gateway reused an id we already hold for another message: keep the send, not the id.
        marked = Message.objects.filter(pk=message.pk).update(
            status=MessageStatus.SENT, sent_at=now, lease_until=None, next_attempt_at=None
        )
    if marked:
        events_emit_message_status(
            message_id=message.pk, tenant_id=message.tenant_id, status="sent"
        )


def message_retry(*, message: Message) -> Message:
    """Send a failed outbound message again (the Retry button)."""
    if message.direction != Message.Direction.OUTBOUND or message.status != MessageStatus.FAILED:
        raise ApplicationError("Only failed outgoing messages can be retried.", "not_retryable")
    now = timezone.now()
    with transaction.atomic():
        if Message.objects.filter(pk=message.pk, status=MessageStatus.FAILED).update(
            status=MessageStatus.QUEUED, attempts=0, next_attempt_at=now, last_error=""
        ):
            events_emit_message_status(
                message_id=message.pk, tenant_id=message.tenant_id, status="queued"
            )
        transaction.on_commit(lambda: _enqueue_send(message.pk))
    message.refresh_from_db()
    return message


def messages_requeue_stale(*, now: datetime | None = None, limit: int = 500) -> int:
    """Scheduler step: `sending` rows whose lease expired (a killed worker) go back to `queued`,
    and queued rows whose task never ran are enqueued again. Claims make repeats harmless."""
    now = now or timezone.now()
    expired = list(
        Message.objects.filter(status=MessageStatus.SENDING, lease_until__lt=now).values_list(
            "pk", flat=True
        )[:limit]
    )
    for pk in expired:
        stale = Message.objects.filter(pk=pk, status=MessageStatus.SENDING, lease_until__lt=now)
        # A message whose every attempt ended with its worker gone (a send that crashes or
        # OOM-kills the worker) would otherwise be re-queued forever: give up with a reason.
        if stale.filter(attempts__gte=MAX_ATTEMPTS).update(
            status=MessageStatus.FAILED,
            lease_until=None,
            next_attempt_at=None,
            last_error=f"Gave up after {MAX_ATTEMPTS} attempts: the last one never finished "
            "(the worker stopped while sending).",
        ):
            logger.warning("message failed after repeated worker deaths message=%s", pk)
            _emit_stale(pk, "failed")
            continue
        if stale.update(status=MessageStatus.QUEUED, next_attempt_at=now, lease_until=None):
            logger.warning("message lease expired, re-queued message=%s", pk)
            _emit_stale(pk, "queued")
            _enqueue_send(pk)
    overdue = list(
        Message.objects.filter(
            status=MessageStatus.QUEUED, next_attempt_at__lt=now - timedelta(seconds=60)
        ).values_list("pk", flat=True)[:limit]
    )
    for pk in overdue:
        # Push the due time forward as the claim, so two schedulers do not both enqueue it.
        if Message.objects.filter(pk=pk, status=MessageStatus.QUEUED).update(next_attempt_at=now):
            _enqueue_send(pk)
    return len(expired) + len(overdue)


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
        return False
    now = timezone.now()
    if status == MessageStatus.FAILED:
        if Message.objects.filter(
            pk=message.pk, status__in=[MessageStatus.SENDING, MessageStatus.SENT]
        ).update(status=MessageStatus.FAILED, last_error="WhatsApp reported a delivery error."):
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
    if Message.objects.filter(pk=message.pk, status__in=earlier).update(**updates):
        events_emit_message_status(message_id=message.pk, tenant_id=device.tenant_id, status=status)
    return True


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
    lid_conversation.delete()
    if lid_conversation.last_message_at:
        _touch_conversation(
            target.pk,
            at=lid_conversation.last_message_at,
            body=lid_conversation.last_message_preview,
            inbound=False,
        )


def message_receive(*, device: Device, inbound: dict) -> Message:
    """Store an incoming message once (UNIQUE device + gateway id) in its conversation."""
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
        },
    )
    if created:
        _touch_conversation(conversation.pk, at=at, body=message.body, inbound=True)
        Device.objects.filter(pk=device.pk).update(last_event_at=timezone.now())
        events_emit_message_received(message=message, quoted_id=inbound.get("quoted_id"))
    return message


def conversation_mark_read(*, conversation: Conversation) -> None:
    if conversation.unread_count:
        Conversation.objects.filter(pk=conversation.pk).update(unread_count=0)
        conversation.unread_count = 0
