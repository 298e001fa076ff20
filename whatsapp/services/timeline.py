"""Recording what happens to devices: the device timeline's rows and the pairing/reconnect
counters. Each function is a one-line hook for the service where the thing happens."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from whatsapp import metrics
from whatsapp.models import PAIRING_STATUSES, Device, DeviceEvent, DeviceStatus

logger = logging.getLogger(__name__)

# Refused deliveries are recorded at most once per device, code and window: a misconfigured
# gateway (or someone guessing) can post thousands; the tenant needs to know it happens, and the
# table must not grow with the flood.
REFUSAL_RECORD_WINDOW = timedelta(minutes=1)


def _record(device_id, kind: str, outcome: str = "", detail: str = "") -> None:
    try:
        DeviceEvent.objects.create(
            device_id=device_id, kind=kind, outcome=outcome[:40], detail=detail[:300]
        )
    except Exception:
        # The timeline is evidence, not the state: losing one row must not fail the action.
        logger.exception("could not record device event device=%s kind=%s", device_id, kind)


def device_status_changed(*, device: Device, old: str, new: str, detail: str = "") -> None:
    """A device moved from `old` to `new` (called before the row is saved)."""
    if old == new:
        return
    labels = dict(DeviceStatus.choices)
    summary = f"{labels.get(old, old)} → {labels.get(new, new)}"
    _record(device.pk, DeviceEvent.Kind.STATUS, new, detail or summary)
    if old in PAIRING_STATUSES and new == DeviceStatus.CONNECTED:
        metrics.pairing_successes.labels(device.endpoint_name).inc()
    elif old in PAIRING_STATUSES and new == DeviceStatus.FAILED:
        metrics.pairing_failed(endpoint=device.endpoint_name, reason="session_failed")


def pairing_started(*, device: Device, detail: str = "") -> None:
    _record(device.pk, DeviceEvent.Kind.PAIRING, "started", detail)
    metrics.pairing_started(endpoint=device.endpoint_name)


def pairing_refused(*, endpoint_name: str, code: str) -> None:
    """The gateway refused to create a session, so there is no device (only a counter)."""
    metrics.pairing_started(endpoint=endpoint_name)
    metrics.pairing_failed(endpoint=endpoint_name, reason=code or "gateway_error")


def reconnect_attempted(*, device: Device, ok: bool, detail: str = "") -> None:
    _record(device.pk, DeviceEvent.Kind.RECONNECT, "ok" if ok else "failed", detail)
    metrics.reconnect_attempted(endpoint=device.endpoint_name, ok=ok)


def webhook_delivery_recorded(*, webhook_id, code: str = "", reason: str = "") -> None:
    """A delivery was accepted (no code) or refused with `code`; refusals reach the timeline."""
    metrics.webhook_delivery(result=code or "accepted")
    if not code:
        return
    device_id = Device.objects.filter(webhook_id=webhook_id).values_list("pk", flat=True).first()
    if device_id is None:
        return  # an unknown URL: no tenant to tell
    recent = DeviceEvent.objects.filter(
        device_id=device_id,
        kind=DeviceEvent.Kind.WEBHOOK_REFUSED,
        outcome=code[:40],
        created_at__gte=timezone.now() - REFUSAL_RECORD_WINDOW,
    )
    if not recent.exists():
        _record(device_id, DeviceEvent.Kind.WEBHOOK_REFUSED, code, reason)
