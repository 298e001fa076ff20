"""A device's timeline: status changes, webhooks, sends and reconnects, newest first."""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from whatsapp.models import Device, DeviceEvent, DeviceStatus, Message, WebhookEvent

PAGE_SIZE = 25
# Deeper pages would merge ever longer slices of three tables; older history is for support.
MAX_PAGES = 40

_STATUS_LABELS = dict(DeviceStatus.choices)
# Gateway errors name the endpoint as "Gateway 'Primary' (host:port)"; tenants get the name only.
_GATEWAY_HOST = re.compile(r"(Gateway '[^']*') \([^)]*\)")
_WEBHOOK_KINDS = {"status": "status change", "message": "incoming message", "ack": "receipt"}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # status | pairing | reconnect | webhook | webhook_refused | send
    title: str
    outcome: str
    tone: str  # ok | warn | bad | info: the badge colour, never the only carrier of meaning
    detail: str = ""

    def __post_init__(self):
        object.__setattr__(self, "detail", _GATEWAY_HOST.sub(r"\1", self.detail or ""))


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _device_events(device: Device, limit: int):
    rows = DeviceEvent.objects.filter(device=device).order_by("-created_at", "-id")[:limit]
    for row in rows:
        if row.kind == DeviceEvent.Kind.STATUS:
            label = _STATUS_LABELS.get(row.outcome, row.outcome)
            tone = {"connected": "ok", "failed": "bad", "stopped": "warn"}.get(row.outcome, "info")
            yield TimelineEntry(
                row.created_at, "status", f"Status: {label}", label, tone, row.detail
            )
        elif row.kind == DeviceEvent.Kind.RECONNECT:
            ok = row.outcome == "ok"
            yield TimelineEntry(
                row.created_at,
                "reconnect",
                "Reconnect attempt",
                "restarted" if ok else "failed",
                "ok" if ok else "bad",
                row.detail,
            )
        elif row.kind == DeviceEvent.Kind.WEBHOOK_REFUSED:
            yield TimelineEntry(
                row.created_at,
                "webhook_refused",
                "Webhook refused",
                row.outcome.replace("_", " "),
                "bad",
                row.detail,
            )
        else:
            yield TimelineEntry(
                row.created_at, "pairing", "Pairing started", "started", "info", row.detail
            )


def _webhook_events(device: Device, limit: int):
    rows = (
        WebhookEvent.objects.filter(device=device)
        .order_by("-received_at", "-id")
        .only("kind", "status", "received_at", "processed_at", "last_error", "attempts")[:limit]
    )
    for row in rows:
        kind = _WEBHOOK_KINDS.get(row.kind, row.kind)
        if row.status == WebhookEvent.Status.PROCESSED:
            outcome, tone, detail = "accepted", "ok", ""
        elif row.status == WebhookEvent.Status.FAILED:
            outcome, tone = "accepted, processing failed", "bad"
            detail = row.last_error
        else:
            outcome, tone = "accepted, waiting", "warn"
            detail = row.last_error and f"Will retry: {row.last_error}"
        yield TimelineEntry(
            row.received_at, "webhook", f"Webhook received: {kind}", outcome, tone, detail
        )


def _sends(device: Device, limit: int):
    rows = (
        Message.objects.filter(device=device, direction=Message.Direction.OUTBOUND)
        .select_related("conversation")
        .order_by("-created_at")
        .only("status", "created_at", "last_error", "attempts", "conversation__contact")[:limit]
    )
    for row in rows:
        tone = {"failed": "bad", "read": "ok", "delivered": "ok", "sent": "ok"}.get(
            row.status, "warn" if row.status in ("expired", "unconfirmed") else "info"
        )
        attempts = f" after {row.attempts} attempts" if row.attempts > 1 else ""
        detail = row.last_error or (attempts.strip().capitalize() if attempts else "")
        yield TimelineEntry(
            row.created_at,
            "send",
            f"Message to {row.conversation.contact}",
            row.status,
            tone,
            detail,
        )


def device_timeline(*, device: Device, page: int = 1) -> TimelinePage:
    """One page of the timeline. Each source reads only its newest rows (indexed by device and
    time), so a page costs three small queries whatever the device's history."""
    page = max(1, min(page, MAX_PAGES))
    start = (page - 1) * PAGE_SIZE
    want = start + PAGE_SIZE + 1
    merged = heapq.merge(
        _device_events(device, want),
        _webhook_events(device, want),
        _sends(device, want),
        key=lambda entry: entry.at,
        reverse=True,
    )
    window = list(islice(merged, start, want))
    return TimelinePage(
        entries=window[:PAGE_SIZE],
        page=page,
        has_next=len(window) > PAGE_SIZE and page < MAX_PAGES,
    )
