"""Use cases for devices: create a gateway session, pair it by QR, follow its status, remove it."""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ApplicationError, ErrorKind, NotFoundError
from tenants.models import Tenant
from whatsapp.caches import forget_webhook_target
from whatsapp.gateways import GatewayError, SessionStatus
from whatsapp.gateways.waha import CORE_SESSION
from whatsapp.limits import device_quota_check
from whatsapp.models import (
    DROPPED_STATUSES,
    Device,
    DeviceStatus,
    HealthStatus,
    TenantWhatsAppConfig,
)
from whatsapp.redaction import redact
from whatsapp.services import timeline
from whatsapp.services.alerts import device_alert_status_changed
from whatsapp.services.events import events_emit_device_status
from whatsapp.services.gateway_access import (
    gateway_for_endpoint,
    new_webhook_token,
    tenant_config_or_error,
    webhook_url,
)
from whatsapp.services.health import endpoint_capabilities
from whatsapp.text import clean_text

logger = logging.getLogger(__name__)

# WAHA: the first QR lives 60 s, each later one 20 s.
FIRST_QR_SECONDS = 60
NEXT_QR_SECONDS = 20
# A QR fetched this recently is served from the database instead of asking the gateway again.
QR_CACHE_SECONDS = 4
MAX_DEVICE_NAME = 60
# Numbers typed without a country code are Indonesian (0812... -> +62812...).
PAIRING_PHONE_REGION = "ID"


@dataclass(frozen=True)
class QrInfo:
    value: str
    expires_at: datetime


def _session_name(tenant: Tenant) -> str:
    # <= 54 chars of [a-z0-9_-] (WAHA's rule); unique because of the random suffix.
    return f"bq-{tenant.subdomain[:24]}-{uuid.uuid4().hex[:12]}"


def _gateway_error(action: str, exc: GatewayError) -> ApplicationError:
    return ApplicationError(
        f"{action}: {exc.message}", exc.code or "gateway_error", kind=ErrorKind.GATEWAY
    )


def _apply_status(device: Device, status: SessionStatus | None, *, now: datetime) -> list[str]:
    """Copy a gateway status onto the device; returns the fields that changed."""
    if status is None:
        return []
    changed = []
    if status.status != device.status:
        if status.status == DeviceStatus.CONNECTED:
            device.connected_at = now
            device.reconnect_attempts = 0
            device.next_reconnect_at = None
        elif status.status in DROPPED_STATUSES and device.connected_at is not None:
            # A paired device dropped: the scheduler restarts it after reconnect_interval.
            device.next_reconnect_at = now
        if status.status != DeviceStatus.SCAN_QR:
            device.qr_value = ""
        timeline.device_status_changed(device=device, old=device.status, new=status.status)
        events_emit_device_status(device=device, previous=device.status, new=status.status)
        device_alert_status_changed(device=device, previous=device.status, new=status.status)
        device.status = status.status
        changed += ["status", "connected_at", "reconnect_attempts", "next_reconnect_at", "qr_value"]
    if status.phone and status.phone != device.phone:
        device.phone = status.phone
        changed.append("phone")
    push_name = clean_text(status.push_name or "")[:100]  # a phone's name: any characters
    if push_name and push_name != device.push_name:
        device.push_name = push_name
        changed.append("push_name")
    if device.status_detail:
        device.status_detail = ""
        changed.append("status_detail")
    return changed


def _save(device: Device, fields: list[str]) -> None:
    if not fields:
        return
    try:
        with transaction.atomic():  # a savepoint: a failed save leaves the caller's work intact
            device.save(update_fields=[*sorted(set(fields)), "updated_at"])
    except DatabaseError as exc:
        # Deleted meanwhile (e.g. a restart racing a delete): Django's own "Save with
        # update_fields did not affect any rows" (driver errors are subclasses, re-raised).
        if type(exc) is not DatabaseError:
            raise
        raise NotFoundError("This device was deleted meanwhile.", "device_not_found") from None


def device_create(*, tenant: Tenant, name: str, actor) -> Device:
    """Create a gateway session with our webhook and a per-device secret, then the Device row.

    The gateway call comes first and the row second, so a failed call leaves nothing behind
    and the user can simply try again.
    """
    name = (name or "").strip()
    if not name or len(name) > MAX_DEVICE_NAME:
        raise ApplicationError(
            _("Give the device a name of 1 to %(max)s characters (e.g. 'Front desk').")
            % {"max": MAX_DEVICE_NAME},
            "invalid_name",
            kind=ErrorKind.INVALID,
        )
    if Device.objects.filter(tenant=tenant, name=name).exists():
        raise ApplicationError(
            _("A device named '%(name)s' already exists: choose another name.") % {"name": name},
            "device_name_taken",
            kind=ErrorKind.INVALID,
        )
    config = tenant_config_or_error(tenant)
    gateway = gateway_for_endpoint(config.endpoint_name)
    # Stored capabilities only: no extra gateway call here. If they are not known yet and the
    # gateway turns out to be WAHA Core, its refusal teaches them (see _create_session).
    capabilities = endpoint_capabilities(endpoint_name=config.endpoint_name, probe=False)
    one_number = capabilities is not None and not capabilities.multi_session
    if one_number:
        # Refused before any gateway call: WAHA Core would answer 422 for any other name.
        _refuse_if_single_session_taken(config.endpoint_name)
    if config.health_status == HealthStatus.UNHEALTHY:
        health = gateway.health()
        if not health.ok:
            raise ApplicationError(
                # No endpoint name or gateway detail: tenant users see this message.
                _(
                    "Failed to create device: the WhatsApp server is not answering. Try again "
                    "once it is back; the platform operator has been told on the Endpoints page."
                ),
                "endpoint_unhealthy",
                kind=ErrorKind.UNAVAILABLE,
            )
    if capabilities is not None:
        signed = capabilities.signs_webhooks
    else:  # not learned yet (the gateway did not say): Evolution always gets our secret header
        signed = gateway.provider == "evolution"
    device = Device(
        tenant=tenant,
        name=name,
        endpoint_name=config.endpoint_name,
        session_name=CORE_SESSION if one_number else _session_name(tenant),
        webhook_secret=secrets.token_urlsafe(32),
        webhook_token=new_webhook_token(),
        webhook_signed=signed,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    # The row is saved before the gateway call so the session's first webhooks find their
    # device (Evolution never retries a 404). If the call fails the row is removed again, so
    # the user sees why and can simply retry; nothing is left half-created.
    try:
        with transaction.atomic():
            device_quota_check(tenant=tenant)  # per-tenant limit (whatsapp/limits.py)
            device.save()
    except IntegrityError as exc:
        if one_number:
            _refuse_if_single_session_taken(config.endpoint_name)
        raise ApplicationError(
            _("A device named '%(name)s' already exists: choose another name.") % {"name": name},
            "device_name_taken",
            kind=ErrorKind.INVALID,
        ) from exc
    try:
        status = _create_session(device, config, gateway, learned=capabilities is not None)
    except ApplicationError:
        _forget_device(device)
        raise
    except GatewayError as exc:
        logger.warning(
            "device create failed tenant=%s endpoint=%s error=%s",
            tenant.subdomain,
            config.endpoint_name,
            exc.message,
        )
        _forget_device(device)
        timeline.pairing_refused(endpoint_name=config.endpoint_name, code=exc.code)
        raise _gateway_error("Failed to create device", exc) from exc
    except BaseException:
        # Anything else (a crash parsing a hostile reply, a worker killed mid-call): the row
        # must not stay behind as an orphan device "starting" forever.
        _forget_device(device)
        raise
    with transaction.atomic():
        device = Device.objects.select_for_update().get(pk=device.pk)
        # A webhook may already have moved the new device on; the create reply is older news.
        if device.status == DeviceStatus.STARTING:
            _save(device, _apply_status(device, status, now=timezone.now()))
        audit_record(
            actor=actor,
            tenant=tenant,
            action="device.created",
            after={"device": name, "session": device.session_name},
        )
    logger.info("device created tenant=%s device=%s", tenant.subdomain, device.pk)
    timeline.pairing_started(device=device, detail="device added")
    return device


def _create_session(device: Device, config, gateway, *, learned: bool) -> SessionStatus:
    try:
        return gateway.session_create(**_session_settings(device, config))
    except GatewayError as exc:
        if exc.code != "waha_core_single_session" or learned:
            raise
    # The endpoint is WAHA Core and we did not know: learn it, then use its one session.
    endpoint_capabilities(endpoint_name=device.endpoint_name, refresh=True)
    if Device.objects.filter(endpoint_name=device.endpoint_name).exclude(pk=device.pk).exists():
        _refuse_if_single_session_taken(device.endpoint_name)
    device.session_name = CORE_SESSION
    device.webhook_signed = False  # Core does not sign; the URL's token is the proof
    try:
        _save(device, ["session_name", "webhook_signed"])
    except IntegrityError:
        _refuse_if_single_session_taken(device.endpoint_name)
    _forget_target(device)
    return gateway.session_create(**_session_settings(device, config))


def _refuse_if_single_session_taken(endpoint_name: str) -> None:
    """A WAHA Core endpoint carries one device across all tenants."""
    if Device.objects.filter(endpoint_name=endpoint_name).exists():
        raise ApplicationError(
            f"Endpoint '{endpoint_name}' runs WAHA Core, which serves one WhatsApp number, and "
            "a device already uses it. Delete that device first, or ask the platform operator "
            "for an endpoint running WAHA Plus (many numbers per endpoint) or another endpoint.",
            "endpoint_single_session",
            kind=ErrorKind.CONFLICT,
        )


def _session_settings(device: Device, config: TenantWhatsAppConfig) -> dict:
    """What the gateway needs to post this device's events to us (create and re-configure)."""
    return {
        "name": device.session_name,
        "webhook_url": webhook_url(device.webhook_id, device.webhook_token),
        "webhook_secret": device.webhook_secret,
        "webhook_retries": config.webhook_retries,
        "metadata": {"tenant": device.tenant.subdomain, "device": str(device.id)},
    }


def _forget_target(device: Device) -> None:
    forget_webhook_target(device.webhook_id)


def _rotate_webhook_token(device: Device, gateway) -> None:
    """A re-pair gets a new webhook URL; the old one stops working once the gateway has it."""
    previous = device.webhook_token
    device.webhook_token = new_webhook_token()
    config = tenant_config_or_error(device.tenant)
    try:
        gateway.session_configure(**_session_settings(device, config))
    except GatewayError as exc:
        # Keep the URL the gateway still has; the next re-pair tries again.
        device.webhook_token = previous
        logger.warning("webhook url rotation failed device=%s error=%s", device.pk, exc.code)
        return
    _save(device, ["webhook_token"])
    _forget_target(device)


def _forget_device(device: Device) -> None:
    Device.objects.filter(pk=device.pk).delete()
    _forget_target(device)


def device_refresh_status(*, device: Device) -> Device:
    """Ask the gateway for the session's status. Never raises: pages poll this."""
    now = timezone.now()
    try:
        status = gateway_for_endpoint(device.endpoint_name).session_status(device.session_name)
    except ApplicationError as exc:
        fields = _set_detail(device, exc.message)
    except GatewayError as exc:
        if exc.status == 404:
            status = SessionStatus(name=device.session_name, status=DeviceStatus.STOPPED)
            fields = _apply_status(device, status, now=now) + _set_detail(
                device, "The gateway no longer has this session: press Reconnect to recreate it."
            )
        else:
            # Tenant users read this: say what happened without the endpoint's name or host
            # (the gateway layer has logged those for the platform operator).
            fields = _set_detail(device, _refresh_failure(exc))
    else:
        fields = _apply_status(device, status, now=now)
    _save(device, fields)
    return device


def _refresh_failure(exc: GatewayError) -> str:
    if exc.code == "timeout":
        reason = _("the WhatsApp server did not answer within the time limit")
    elif exc.code == "unreachable":
        reason = _("the WhatsApp server could not be reached")
    else:
        reason = _("the WhatsApp server answered with an error")
    return _("Could not refresh the status: %(reason)s. Showing the last known status.") % {
        "reason": reason
    }


def _set_detail(device: Device, detail: str) -> list[str]:
    detail = redact(detail)[:300]  # shown on the device page: never a gateway key, in any form
    if device.status_detail == detail:
        return []
    device.status_detail = detail
    return ["status_detail"]


def device_qr(*, device: Device, force: bool = False) -> QrInfo | None:
    """The current QR (fetched from the gateway at most every few seconds), or None."""
    # Evolution reports "connecting" both before and after its QR exists, so a starting
    # session is asked too; WAHA answers "not ready" until it shows SCAN_QR_CODE.
    if device.status not in (DeviceStatus.SCAN_QR, DeviceStatus.STARTING):
        return None
    now = timezone.now()
    fresh = device.qr_fetched_at and now - device.qr_fetched_at < timedelta(
        seconds=QR_CACHE_SECONDS
    )
    if force or not device.qr_value or not fresh:
        try:
            qr = gateway_for_endpoint(device.endpoint_name).session_qr(device.session_name)
        except (GatewayError, ApplicationError) as exc:
            logger.info("qr not available device=%s reason=%s", device.pk, exc)
            qr = None
        if qr is not None and qr.value:
            fields = ["qr_fetched_at"]
            device.qr_fetched_at = now
            if qr.value != device.qr_value:
                device.qr_value = qr.value
                device.qr_changed_at = now
                device.qr_count = F("qr_count") + 1
                fields += ["qr_value", "qr_changed_at", "qr_count"]
            if device.status == DeviceStatus.STARTING:
                timeline.device_status_changed(device=device, old=device.status, new="scan_qr")
                device.status = DeviceStatus.SCAN_QR
                fields.append("status")
            _save(device, fields)
            device.refresh_from_db(fields=["qr_count"])
    if not device.qr_value or device.qr_changed_at is None:
        return None
    lifetime = FIRST_QR_SECONDS if device.qr_count <= 1 else NEXT_QR_SECONDS
    return QrInfo(
        value=device.qr_value, expires_at=device.qr_changed_at + timedelta(seconds=lifetime)
    )


def device_qr_stored(*, device: Device) -> QrInfo | None:
    """The QR the database holds (no gateway call), for a page that must render at once."""
    if not device.qr_value or device.qr_changed_at is None:
        return None
    lifetime = FIRST_QR_SECONDS if device.qr_count <= 1 else NEXT_QR_SECONDS
    return QrInfo(
        value=device.qr_value, expires_at=device.qr_changed_at + timedelta(seconds=lifetime)
    )


def devices_refresh_status(*, tenant: Tenant) -> list[Device]:
    """Every device of a tenant, refreshed from the gateway (the dashboard's live check)."""
    devices = list(Device.objects.filter(tenant=tenant).order_by("created_at"))
    for device in devices:
        device_refresh_status(device=device)
    return devices


def device_restart(*, device: Device, actor=None) -> Device:
    """Restart the session (recreating it if the gateway forgot it), e.g. after a drop."""
    gateway = gateway_for_endpoint(device.endpoint_name)
    try:
        gateway.session_restart(device.session_name)
    except GatewayError as exc:
        if exc.status != 404:
            raise _gateway_error("Could not reconnect the device", exc) from exc
        config = tenant_config_or_error(device.tenant)
        # A recreated session is a new pairing: it gets a new webhook URL.
        previous, device.webhook_token = device.webhook_token, new_webhook_token()
        try:
            gateway.session_create(**_session_settings(device, config))
        except GatewayError as create_exc:
            device.webhook_token = previous
            raise _gateway_error("Could not recreate the device's session", create_exc) from exc
        _save(device, ["webhook_token"])
        _forget_target(device)
    device.qr_value, device.qr_count = "", 0
    _save(device, ["qr_value", "qr_count"])
    if actor is not None:
        audit_record(
            actor=actor,
            tenant=device.tenant,
            action="device.restarted",
            after={"device": device.name},
        )
    return device_refresh_status(device=device)


def device_pairing_start(*, device: Device, actor=None) -> Device:
    """Get a fresh QR: restart a stopped/failed session, or fetch a new code while pairing."""
    if device.status == DeviceStatus.CONNECTED:
        raise ApplicationError(
            f"{device.name} is already connected; log it out first to pair another phone.",
            "already_connected",
            kind=ErrorKind.CONFLICT,
        )
    timeline.pairing_started(device=device, detail="new QR requested")
    if device.status in DROPPED_STATUSES:
        return device_restart(device=device, actor=actor)
    device_refresh_status(device=device)
    device_qr(device=device, force=True)
    return device


def device_logout(*, device: Device, actor) -> Device:
    """Unlink the phone; the session stays and shows a new QR. No automatic reconnect.

    The next pairing is a re-pair, so the webhook URL gets a new token.
    """
    gateway = gateway_for_endpoint(device.endpoint_name)
    session_gone = False
    try:
        gateway.session_logout(device.session_name)
    except GatewayError as exc:
        # A session the gateway no longer has is logged out already.
        session_gone = exc.code == "session_not_found"
        if not session_gone:
            raise _gateway_error("Could not log the device out", exc) from exc
    if not session_gone:
        _rotate_webhook_token(device, gateway)
    device.phone, device.push_name, device.connected_at = "", "", None
    device.next_reconnect_at, device.qr_value, device.qr_count = None, "", 0
    _save(
        device, ["phone", "push_name", "connected_at", "next_reconnect_at", "qr_value", "qr_count"]
    )
    audit_record(
        actor=actor, tenant=device.tenant, action="device.logged_out", after={"device": device.name}
    )
    return device_refresh_status(device=device)


def device_delete(*, device: Device, actor) -> None:
    """Delete the gateway session, then the device (its conversations and messages go too)."""
    try:
        gateway_for_endpoint(device.endpoint_name).session_delete(device.session_name)
    except ApplicationError:
        pass  # the endpoint is gone from the server, so there is no session left to delete
    except GatewayError as exc:
        # Only "the session is already gone" lets the row go; anything else (gateway down, key
        # rejected) would leave a live session behind that nobody can see any more.
        if exc.status not in (404, 410):
            action = "Could not remove the device from the gateway" + (
                "" if exc.permanent else " (try again in a moment)"
            )
            raise _gateway_error(action, exc) from exc
    with transaction.atomic():
        # Lock the row first: a webhook stored while the cascade collects related rows would
        # otherwise break the delete's foreign key; with the lock it waits and then finds no device.
        Device.objects.select_for_update().filter(pk=device.pk).first()
        audit_record(
            actor=actor,
            tenant=device.tenant,
            action="device.deleted",
            before={"device": device.name, "phone": device.phone},
        )
        device.delete()
    _forget_target(device)


def device_apply_status_event(
    *, device: Device, status: str, phone: str | None, push_name: str | None
) -> None:
    """A `session.status` webhook: move the device and drop a rotated QR."""
    now = timezone.now()
    fields = _apply_status(
        device,
        SessionStatus(name=device.session_name, status=status, phone=phone, push_name=push_name),
        now=now,
    )
    if status == DeviceStatus.SCAN_QR:
        # A new QR was announced: fetch it on the next poll instead of serving the old one.
        device.qr_fetched_at = None
        fields.append("qr_fetched_at")
    device.last_event_at = now
    _save(device, [*fields, "last_event_at"])


def device_status_confirm(*, device: Device, hinted: str) -> None:
    """An unsigned `session.status` event is a hint: read the session from the gateway and
    apply what it says. A hint that repeats the device's status needs no confirmation."""
    now = timezone.now()
    if hinted == device.status:
        Device.objects.filter(pk=device.pk).update(last_event_at=now)
        return
    gateway = gateway_for_endpoint(device.endpoint_name)
    try:
        status = gateway.session_status(device.session_name)
    except GatewayError as exc:
        if exc.code != "session_not_found":
            raise  # the event is retried: the gateway could not say right now
        status = SessionStatus(name=device.session_name, status=DeviceStatus.STOPPED)
    device = Device.objects.select_for_update().get(pk=device.pk)
    device_apply_status_event(
        device=device, status=status.status, phone=status.phone, push_name=status.push_name
    )


def devices_reconnect_due(*, now: datetime | None = None, limit: int = 50) -> int:
    """Restart dropped devices whose tenants want auto-reconnect. Safe to run concurrently."""
    now = now or timezone.now()
    configs = {
        c.tenant_id: c
        for c in TenantWhatsAppConfig.objects.filter(auto_reconnect=True).only(
            "tenant_id", "endpoint_name", "reconnect_interval"
        )
    }
    due = (
        Device.objects.filter(
            status__in=DROPPED_STATUSES,
            connected_at__isnull=False,
            tenant_id__in=list(configs),
        )
        .filter(Q(next_reconnect_at__lte=now) | Q(next_reconnect_at__isnull=True))
        .select_related("tenant")[:limit]
    )
    restarted = 0
    for device in due:
        config = configs[device.tenant_id]
        if config.endpoint_name != device.endpoint_name:
            continue
        next_at = now + timedelta(seconds=config.reconnect_interval)
        # The conditional update is the claim: another scheduler that got here first wins.
        claimed = Device.objects.filter(
            pk=device.pk, next_reconnect_at=device.next_reconnect_at
        ).update(next_reconnect_at=next_at, reconnect_attempts=F("reconnect_attempts") + 1)
        if not claimed:
            continue
        device.next_reconnect_at = next_at
        try:
            device_restart(device=device)
            restarted += 1
            logger.info("device reconnect device=%s tenant=%s", device.pk, device.tenant.subdomain)
            timeline.reconnect_attempted(device=device, ok=True)
        except ApplicationError as exc:
            logger.warning("device reconnect failed device=%s error=%s", device.pk, exc.message)
            timeline.reconnect_attempted(device=device, ok=False, detail=exc.message)
            Device.objects.filter(pk=device.pk).update(status_detail=exc.message[:300])
    return restarted


# --- pairing by phone number (issue 11) -----------------------------------------------------------

# WhatsApp accepts a phone-number pairing code for a few minutes (about 160 s is what clients
# report); the page says "a few minutes" and offers a new code rather than a live countdown.
PAIRING_CODE_SECONDS = 160


@dataclass(frozen=True)
class PairingCode:
    code: str
    phone: str
    expires_at: datetime


def pairing_phone_normalise(raw: object) -> str:
    """The business number as typed (0812..., +62 812-..., 62812...) -> E.164, or an error a
    salon owner can act on (code `invalid_phone`, shown next to the field)."""
    text = str(raw or "").strip()
    if text.isdigit() and text.startswith("62"):
        text = "+" + text
    try:
        number = phonenumbers.parse(text, PAIRING_PHONE_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ApplicationError(
            _(
                "Enter the WhatsApp number of the phone you want to link, for example "
                "0812-3456-7890 or +62 812-3456-7890."
            ),
            "invalid_phone",
            kind=ErrorKind.INVALID,
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def device_pairing_code(*, device: Device, phone: object, actor=None) -> PairingCode:
    """Ask the gateway for the 8-character code that links `phone` without scanning a QR (the
    owner has only that phone, so cannot scan a code shown on its own screen)."""
    number = pairing_phone_normalise(phone)
    if device.status == DeviceStatus.CONNECTED:
        raise ApplicationError(
            _("%(name)s is already connected; log it out first to link another phone.")
            % {"name": device.name},
            "already_connected",
            kind=ErrorKind.CONFLICT,
        )
    timeline.pairing_started(device=device, detail="pairing code requested")
    if device.status in DROPPED_STATUSES:
        # A stopped session gives no code: start it again, as "New QR" does.
        device_restart(device=device, actor=None)
    gateway = gateway_for_endpoint(device.endpoint_name)
    try:
        code = gateway.session_pairing_code(device.session_name, number)
    except GatewayError as exc:
        if exc.code == "invalid_phone":
            raise ApplicationError(
                _("WhatsApp did not accept this number. Check it and try again."),
                "invalid_phone",
                kind=ErrorKind.INVALID,
            ) from exc
        if exc.code == "already_connected":
            device_refresh_status(device=device)
        raise _gateway_error("Could not get a pairing code", exc) from exc
    if actor is not None:
        audit_record(
            actor=actor,
            tenant=device.tenant,
            action="device.pairing_code_requested",
            after={"device": device.name},
        )
    return PairingCode(
        code=code,
        phone=number,
        expires_at=timezone.now() + timedelta(seconds=PAIRING_CODE_SECONDS),
    )
