"""Silent devices (a scheduler step): a device that looks connected but has not been heard from
for far longer than its usual rhythm while sends wait is marked silent, announced to the booking
product, reported to the tenant's admins and restarted once; the mark clears when it is heard
from again."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import F, Q
from django.utils import timezone

from core.errors import ApplicationError
from whatsapp.models import Device, DeviceStatus, Message, MessageStatus
from whatsapp.services import devices
from whatsapp.services.alerts import device_alert
from whatsapp.services.events import events_emit_device_status

logger = logging.getLogger(__name__)

# Silent = no inbound message or ack for this many "usual gaps" (at least SILENT_MIN) while
# sends wait. The usual gap is the last day's activity spread evenly over the day.
SILENT_FACTOR = 10
SILENT_MIN = timedelta(minutes=30)
SILENT_MAX = timedelta(hours=6)


def _silence_threshold(device: Device, now: datetime) -> timedelta:
    day_ago = now - timedelta(days=1)
    recent = Message.objects.filter(
        device=device, direction=Message.Direction.INBOUND, created_at__gte=day_ago
    ).count()
    usual_gap = timedelta(days=1) / max(recent, 1)
    return min(max(usual_gap * SILENT_FACTOR, SILENT_MIN), SILENT_MAX)


def _sends_waiting(device: Device, since: datetime) -> bool:
    waiting = Q(
        status__in=[MessageStatus.QUEUED, MessageStatus.UNCONFIRMED, MessageStatus.SENDING],
        next_attempt_at__lte=since,
    ) | Q(status=MessageStatus.SENT, sent_at__lte=since)
    return Message.objects.filter(
        waiting, device=device, direction=Message.Direction.OUTBOUND
    ).exists()


def devices_check_silent(*, now: datetime | None = None, limit: int = 200) -> int:
    """Scheduler step: mark connected devices silent (alert, event, restart once) and clear the
    mark when they are heard from again. Returns how many devices changed."""
    now = now or timezone.now()
    changed = 0
    heard_again = Device.objects.filter(
        silent_since__isnull=False, last_activity_at__gt=F("silent_since")
    )
    for device in heard_again[:limit]:
        if Device.objects.filter(pk=device.pk, silent_since=device.silent_since).update(
            silent_since=None, alerted_state=""
        ):
            events_emit_device_status(
                device=device, previous=device.status, new=device.status, state="connected"
            )
            changed += 1
    candidates = Device.objects.filter(
        status=DeviceStatus.CONNECTED, silent_since__isnull=True
    ).select_related("tenant")
    for device in candidates[:limit]:
        threshold = _silence_threshold(device, now)
        heard = max(filter(None, [device.last_activity_at, device.connected_at]), default=None)
        if heard is None or now - heard < threshold:
            continue
        if not _sends_waiting(device, now - threshold):
            continue
        if not Device.objects.filter(pk=device.pk, silent_since__isnull=True).update(
            silent_since=now
        ):
            continue
        device.silent_since = now
        changed += 1
        logger.warning("device silent device=%s heard=%s", device.pk, heard)
        events_emit_device_status(
            device=device, previous=device.status, new=device.status, state="silent"
        )
        device_alert(device, "silent")
        # Looked up on the module at call time, so a test can stand in for the gateway call.
        _restart_once(device, now=now, restart=devices.device_restart)
    return changed


def _restart_once(device: Device, *, now: datetime, restart) -> None:
    # Once per silent spell: a restart that does not help is the admins' call, not a loop.
    if device.silent_restarted_at and device.silent_restarted_at >= device.silent_since:
        return
    Device.objects.filter(pk=device.pk).update(silent_restarted_at=now)
    device.silent_restarted_at = now
    try:
        restart(device=device)
    except ApplicationError as exc:
        logger.warning("silent device restart failed device=%s error=%s", device.pk, exc.message)
