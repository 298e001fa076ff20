"""Quiet hours: a tenant's nightly window (in its own time zone) in which API and scheduled sends
wait; `quiet_hours_until` says when the window opens again."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings


def _zone(tenant) -> ZoneInfo:
    return ZoneInfo(getattr(tenant, "time_zone", "") or settings.TIME_ZONE)


def quiet_hours_until(
    *, start: time | None, end: time | None, tenant, at: datetime
) -> datetime | None:
    """When the quiet window that contains `at` ends (an aware datetime), or None if `at` is
    outside it (or no window is set). A window may cross midnight (21:00-07:00)."""
    if start is None or end is None or start == end:
        return None
    zone = _zone(tenant)
    local = at.astimezone(zone)
    now_t = local.time().replace(tzinfo=None)
    day = local.date()
    if start < end:  # same-day window, e.g. 12:00-13:00
        inside = start <= now_t < end
        opens_on = day
    else:  # crosses midnight
        inside = now_t >= start or now_t < end
        opens_on = day + timedelta(days=1) if now_t >= start else day
    if not inside:
        return None
    return datetime.combine(opens_on, end, tzinfo=zone)


def tenant_quiet_hours_until(*, tenant, config, at: datetime) -> datetime | None:
    """The same for a tenant with its (possibly missing) TenantWhatsAppConfig."""
    if config is None:
        return None
    return quiet_hours_until(
        start=config.quiet_hours_start, end=config.quiet_hours_end, tenant=tenant, at=at
    )
