"""Sending settings a tenant admin may change: quiet hours, message expiry, and each device's
pacing (minimum gap) and daily cap, within platform bounds (Django settings with defaults)."""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import transaction

from core.audit import audit_record
from core.errors import ApplicationError, ErrorKind
from tenants.models import Tenant
from whatsapp.models import Device, TenantWhatsAppConfig

EXPIRY_HOURS_BOUNDS = (1, 24 * 7)


def pacing_bounds() -> dict[str, int]:
    """Platform bounds: a tenant may not pace faster than the minimum gap or cap above the max."""
    return {
        "min_gap_ms": int(getattr(settings, "WHATSAPP_MIN_SEND_GAP_MS_FLOOR", 500)),
        "max_gap_ms": int(getattr(settings, "WHATSAPP_MIN_SEND_GAP_MS_CEILING", 60_000)),
        "max_daily_cap": int(getattr(settings, "WHATSAPP_DAILY_SEND_CAP_CEILING", 5_000)),
    }


def _field_error(field: str, message: str) -> ApplicationError:
    return ApplicationError(f"{field}: {message}", f"invalid_{field}", kind=ErrorKind.INVALID)


def send_settings_update(
    *,
    tenant: Tenant,
    quiet_hours_start: time | None,
    quiet_hours_end: time | None,
    message_expiry_hours: int,
    actor,
) -> TenantWhatsAppConfig:
    """Quiet hours (both or neither; tenant time zone) and the default message expiry."""
    config = TenantWhatsAppConfig.objects.filter(tenant=tenant).first()
    if config is None:
        raise ApplicationError(
            "WhatsApp is not set up for this business yet.",
            "not_configured",
            kind=ErrorKind.CONFLICT,
        )
    if (quiet_hours_start is None) != (quiet_hours_end is None):
        raise _field_error("quiet_hours_end", "give both the start and the end, or neither.")
    if quiet_hours_start is not None and quiet_hours_start == quiet_hours_end:
        raise _field_error("quiet_hours_end", "the end must differ from the start.")
    low, high = EXPIRY_HOURS_BOUNDS
    if not low <= int(message_expiry_hours) <= high:
        raise _field_error("message_expiry_hours", f"between {low} and {high} hours.")
    before = {
        "quiet_hours": _window(config.quiet_hours_start, config.quiet_hours_end),
        "message_expiry_hours": config.message_expiry_hours,
    }
    config.quiet_hours_start, config.quiet_hours_end = quiet_hours_start, quiet_hours_end
    config.message_expiry_hours = int(message_expiry_hours)
    with transaction.atomic():
        config.save(
            update_fields=[
                "quiet_hours_start",
                "quiet_hours_end",
                "message_expiry_hours",
                "updated_at",
            ]
        )
        audit_record(
            actor=actor,
            tenant=tenant,
            action="whatsapp.send_settings_updated",
            before=before,
            after={
                "quiet_hours": _window(quiet_hours_start, quiet_hours_end),
                "message_expiry_hours": config.message_expiry_hours,
            },
        )
    return config


def _window(start: time | None, end: time | None) -> str:
    return f"{start:%H:%M}-{end:%H:%M}" if start and end else ""


def device_pacing_update(
    *, device: Device, min_send_gap_ms: int, daily_send_cap: int | None, actor
) -> Device:
    """A device's minimum gap between sends and its daily cap (None: the platform maximum)."""
    bounds = pacing_bounds()
    if not bounds["min_gap_ms"] <= int(min_send_gap_ms) <= bounds["max_gap_ms"]:
        raise _field_error(
            "min_send_gap_ms",
            f"between {bounds['min_gap_ms']} and {bounds['max_gap_ms']} milliseconds.",
        )
    if daily_send_cap is not None and not 1 <= int(daily_send_cap) <= bounds["max_daily_cap"]:
        raise _field_error("daily_send_cap", f"between 1 and {bounds['max_daily_cap']}.")
    before = {"min_send_gap_ms": device.min_send_gap_ms, "daily_send_cap": device.daily_send_cap}
    device.min_send_gap_ms = int(min_send_gap_ms)
    device.daily_send_cap = int(daily_send_cap) if daily_send_cap is not None else None
    with transaction.atomic():
        device.save(update_fields=["min_send_gap_ms", "daily_send_cap", "updated_at"])
        audit_record(
            actor=actor,
            tenant=device.tenant,
            action="device.pacing_updated",
            before={"device": device.name, **before},
            after={
                "device": device.name,
                "min_send_gap_ms": device.min_send_gap_ms,
                "daily_send_cap": device.daily_send_cap,
            },
        )
    return device
