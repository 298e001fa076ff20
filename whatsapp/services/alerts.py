"""Tenant admins are told: a device that disconnects, is logged out or goes silent gets an e-mail
to the tenant's admins (Indonesian by default, times in the tenant zone) and a dashboard banner;
a silent device is also announced to the booking product and restarted once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from tenants.models import Membership, Tenant
from whatsapp.models import Device, DeviceStatus, Message, MessageStatus
from whatsapp.services.events import device_event_state, events_emit_device_status

logger = logging.getLogger(__name__)

ALERT_STATES = ("disconnected", "logged_out", "silent")
# Silent = no inbound message or ack for this many "usual gaps" (at least SILENT_MIN) while
# sends wait. The usual gap is the last day's activity spread evenly over the day.
SILENT_FACTOR = 10
SILENT_MIN = timedelta(minutes=30)
SILENT_MAX = timedelta(hours=6)
ALERT_LANGUAGE = "id"


def device_alert_status_changed(*, device: Device, previous: str, new: str) -> None:
    """Called where a device's status changes: tell the admins about a drop, once per drop."""
    state = device_event_state(previous, new)
    if state == "connected":
        if device.alerted_state or device.silent_since:
            Device.objects.filter(pk=device.pk).update(alerted_state="", silent_since=None)
            device.alerted_state, device.silent_since = "", None
        return
    if state not in ALERT_STATES:
        return
    _alert(device, state)


def _alert(device: Device, state: str) -> None:
    # The conditional UPDATE is the claim: two processes seeing the same drop send one e-mail.
    if (
        not Device.objects.filter(pk=device.pk)
        .exclude(alerted_state=state)
        .update(alerted_state=state)
    ):
        return
    device.alerted_state = state
    device_id, at = device.pk, timezone.now()
    transaction.on_commit(lambda: _send_device_email(device_id=device_id, state=state, at=at))


def _admin_emails(tenant_id) -> list[str]:
    return sorted(
        {
            email
            for email in Membership.objects.filter(
                tenant_id=tenant_id, role=Membership.Role.ADMIN, user__is_active=True
            ).values_list("user__email", flat=True)
            if email
        }
    )


def _send_device_email(*, device_id, state: str, at: datetime) -> None:
    device = Device.objects.select_related("tenant").filter(pk=device_id).first()
    if device is None:
        return
    recipients = _admin_emails(device.tenant_id)
    logger.warning(
        "device alert tenant=%s device=%s state=%s recipients=%d",
        device.tenant.subdomain,
        device.pk,
        state,
        len(recipients),
    )
    if not recipients:
        return
    with translation.override(ALERT_LANGUAGE), timezone.override(device.tenant.time_zone):
        subject, body = _email_text(device, state, at)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=True)


def _email_text(device: Device, state: str, at: datetime) -> tuple[str, str]:
    local = timezone.localtime(at)
    names = {"name": device.name, "phone": device.phone or "-"}
    when = {"time": local.strftime("%H:%M %Z"), "date": local.strftime("%d-%m-%Y")}
    if state == "logged_out":
        subject = _("WhatsApp device %(name)s was logged out") % names
        what = (
            _(
                "The device %(name)s (%(phone)s) was unlinked from WhatsApp. Messages wait until "
                "someone scans a new QR code on the Devices page."
            )
            % names
        )
    elif state == "silent":
        subject = _("WhatsApp device %(name)s has gone silent") % names
        what = (
            _(
                "The device %(name)s (%(phone)s) looks connected but has not answered for a long "
                "time while messages wait. We restarted it once; if it stays silent, check the "
                "phone (power, internet, WhatsApp open)."
            )
            % names
        )
    else:
        subject = _("WhatsApp device %(name)s disconnected") % names
        what = (
            _(
                "The device %(name)s (%(phone)s) lost its connection. We try to reconnect it "
                "automatically; messages wait and are sent when it is back."
            )
            % names
        )
    since = _("Since %(time)s on %(date)s.") % when
    return f"[BooQing] {subject}", f"{what}\n\n{since}\n"


# -- silent devices (scheduler step) --------------------------------------------------------


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
    from whatsapp.services.devices import device_restart

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
        _alert(device, "silent")
        _restart_once(device, now=now, restart=device_restart)
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


# -- what pages show -------------------------------------------------------------------------


def tenant_alerts(*, tenant: Tenant) -> list[dict]:
    """Devices the tenant's people should know about, for the dashboard banner."""
    rows = Device.objects.filter(tenant=tenant).exclude(alerted_state="").order_by("name")
    return [
        {"device": device, "state": device.alerted_state, "since": device.silent_since}
        for device in rows
        if device.alerted_state in ALERT_STATES
    ]


def device_sends_today(*, device: Device, now: datetime | None = None) -> int:
    """Outbound messages this device sent today (tenant time zone), as the daily cap counts."""
    now = now or timezone.now()
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return Message.objects.filter(
        device=device, direction=Message.Direction.OUTBOUND, sent_at__gte=start
    ).count()
