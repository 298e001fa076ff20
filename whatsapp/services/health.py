"""Endpoint health: probe each endpoint once per interval, share it with its tenants, alert."""

from __future__ import annotations

import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError, ErrorKind
from whatsapp.caches import forget_config_snapshots
from whatsapp.endpoints import EndpointNotFound, registry
from whatsapp.gateways import GatewayError, Health, gateway_for
from whatsapp.gateways.base import Capabilities
from whatsapp.models import EndpointProbe, EndpointState, HealthStatus, TenantWhatsAppConfig
from whatsapp.selectors import capabilities_from_state
from whatsapp.services.gateway_access import PROBE_TIMEOUT_SECONDS

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 60
ALERT_AFTER = timedelta(minutes=5)
PROBE_RETENTION = timedelta(days=7)
DEFAULT_CONCURRENCY = 8
# Capabilities (tier, key enforcement, signing) change only with a new gateway build: they are
# learned on the first probe and refreshed hourly or when the version changes, not every probe.
CAPABILITIES_MAX_AGE = timedelta(hours=1)


@dataclass(frozen=True)
class ProbeResult:
    endpoint_name: str
    health: Health
    capabilities: Capabilities | None = None


@dataclass(frozen=True)
class _Known:
    """What the database knew about an endpoint when its probe was claimed."""

    version: str = ""
    capabilities_due: bool = True


def _known(state: EndpointState | None, now: datetime) -> _Known:
    if state is None:
        return _Known()
    checked = state.capabilities_checked_at
    return _Known(
        version=state.version,
        capabilities_due=checked is None or now - checked >= CAPABILITIES_MAX_AGE,
    )


def _probe_network(endpoint_name: str, known: _Known | None = None) -> ProbeResult:
    """The HTTP part of a probe; touches no database, so it can run in a thread."""
    known = known or _Known()
    try:
        endpoint = registry().config(endpoint_name)
    except EndpointNotFound:
        return ProbeResult(endpoint_name, Health(ok=False, latency_ms=0, detail="not configured"))
    gateway = gateway_for(endpoint, timeout=PROBE_TIMEOUT_SECONDS)
    health = gateway.health()
    capabilities = None
    changed = bool(health.version) and health.version != known.version
    if health.ok and (known.capabilities_due or changed):
        try:
            capabilities = gateway.capabilities()
        except GatewayError as exc:
            logger.info("capability probe failed endpoint=%s error=%s", endpoint_name, exc.code)
        except Exception:  # a page or the scheduler must never die on a gateway's answer
            logger.exception("capability probe crashed endpoint=%s", endpoint_name)
    return ProbeResult(endpoint_name, health, capabilities)


def _store_capabilities(state: EndpointState, capabilities: Capabilities, now: datetime) -> list:
    state.provider = capabilities.provider[:20]
    state.tier = capabilities.tier[:10]
    state.engine = capabilities.engine[:30]
    state.key_enforced = capabilities.key_enforced
    state.signs_webhooks = capabilities.signs_webhooks
    state.multi_session = capabilities.multi_session
    state.capabilities_checked_at = now
    if capabilities.version:
        state.version = capabilities.version[:60]
    return [
        "provider",
        "tier",
        "engine",
        "key_enforced",
        "signs_webhooks",
        "multi_session",
        "capabilities_checked_at",
    ]


def endpoint_capabilities(
    *, endpoint_name: str, refresh: bool = False, probe: bool = True
) -> Capabilities | None:
    """An endpoint's capabilities from its stored state; learned from the gateway now if they
    were never learned and `probe`, or if `refresh`. None when not known (gateway down...)."""
    now = timezone.now()
    state = EndpointState.objects.filter(endpoint_name=endpoint_name).first()
    known = capabilities_from_state(state)
    if (known is not None or not probe) and not refresh:
        return known
    try:
        endpoint = registry().config(endpoint_name)
    except EndpointNotFound:
        return known
    try:
        capabilities = gateway_for(endpoint, timeout=PROBE_TIMEOUT_SECONDS).capabilities()
    except GatewayError as exc:
        logger.info("capability probe failed endpoint=%s error=%s", endpoint_name, exc.code)
        return known
    state, _ = EndpointState.objects.get_or_create(
        endpoint_name=endpoint_name, defaults={"next_probe_at": now}
    )
    state.save(update_fields=[*_store_capabilities(state, capabilities, now), "version"])
    return capabilities


def _record(result: ProbeResult, *, now: datetime) -> EndpointProbe:
    """Store a probe and apply it to the endpoint's state and to every tenant config using it."""
    health = result.health
    name = result.endpoint_name
    status = HealthStatus.HEALTHY if health.ok else HealthStatus.UNHEALTHY
    probe = EndpointProbe.objects.create(
        endpoint_name=name,
        ok=health.ok,
        latency_ms=max(health.latency_ms, 0),
        error=health.detail[:300],
    )
    state, _ = EndpointState.objects.get_or_create(
        endpoint_name=name, defaults={"next_probe_at": now}
    )
    was_unhealthy_since = state.unhealthy_since
    state.health_status = status
    state.last_probe_at = now
    state.last_latency_ms = max(health.latency_ms, 0)
    state.last_error = "" if health.ok else health.detail[:300]
    # Evolution's health call has no version (its GET / is too slow): keep the known one.
    state.version = (health.version or state.version or "")[:60]
    state.unhealthy_since = None if health.ok else (was_unhealthy_since or now)
    extra = _store_capabilities(state, result.capabilities, now) if result.capabilities else []
    state.save(
        update_fields=[
            *extra,
            "health_status",
            "last_probe_at",
            "last_latency_ms",
            "last_error",
            "version",
            "unhealthy_since",
        ]
    )
    TenantWhatsAppConfig.objects.filter(endpoint_name=name).update(
        health_status=status, last_health_check=now, unhealthy_since=state.unhealthy_since
    )
    forget_config_snapshots()
    _alert_if_needed(state, now=now)
    return probe


def endpoint_probe(*, endpoint_name: str, now: datetime | None = None) -> EndpointProbe:
    """Probe one endpoint now (the "Test connection" button, and the first probe on assign)."""
    now = now or timezone.now()
    state = EndpointState.objects.filter(endpoint_name=endpoint_name).first()
    result = _probe_network(endpoint_name, _known(state, now))
    return _record(result, now=now)


def endpoint_connection_test(*, tenant) -> EndpointProbe:
    """The setup page's "Test connection": probe the tenant's endpoint now, or say why not."""
    config = TenantWhatsAppConfig.objects.filter(tenant=tenant).only("endpoint_name").first()
    if config is None:
        raise ApplicationError(
            _("Assign an endpoint before testing the connection."),
            "not_configured",
            kind=ErrorKind.CONFLICT,
        )
    probe = endpoint_probe(endpoint_name=config.endpoint_name)
    if not probe.ok:
        raise ApplicationError(
            _("Test connection failed: %(endpoint)s %(reason)s.")
            % {"endpoint": config.endpoint_name, "reason": probe.error or _("did not answer")},
            "endpoint_unhealthy",
            kind=ErrorKind.GATEWAY,
        )
    return probe


def _intervals() -> dict[str, int]:
    """Each endpoint is probed at the shortest interval any of its tenants asked for."""
    return dict(
        TenantWhatsAppConfig.objects.values_list("endpoint_name").annotate(
            interval=Min("health_check_interval")
        )
    )


def _claim_due(now: datetime) -> list[tuple[str, _Known]]:
    names = registry().names()
    EndpointState.objects.bulk_create(
        [EndpointState(endpoint_name=n, next_probe_at=now) for n in names], ignore_conflicts=True
    )
    intervals = _intervals()
    claimed = []
    for state in EndpointState.objects.filter(endpoint_name__in=names, next_probe_at__lte=now):
        interval = intervals.get(state.endpoint_name, DEFAULT_INTERVAL_SECONDS)
        # Conditional update = atomic claim: with several schedulers, exactly one gets each probe.
        won = EndpointState.objects.filter(pk=state.pk, next_probe_at=state.next_probe_at).update(
            next_probe_at=now + timedelta(seconds=interval)
        )
        if won:
            claimed.append((state.endpoint_name, _known(state, now)))
    return claimed


def health_sweep(
    *, now: datetime | None = None, concurrency: int = DEFAULT_CONCURRENCY
) -> list[EndpointProbe]:
    """Probe every endpoint that is due, `concurrency` at a time; one probe per endpoint."""
    now = now or timezone.now()
    due = _claim_due(now)
    if not due:
        return []
    probes = []
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(due)))) as pool:
        # Each probe runs in a copy of this context, so its log lines keep the sweep's request id.
        futures = [
            pool.submit(contextvars.copy_context().run, _probe_network, name, known)
            for name, known in due
        ]
        # Record each result as it lands (in this thread, which owns the database connection),
        # so the writes overlap with the probes still in flight instead of queueing after them.
        for future in as_completed(futures):
            probes.append(_record(future.result(), now=timezone.now()))
    unhealthy = [p.endpoint_name for p in probes if not p.ok]
    logger.info("health sweep probed=%d unhealthy=%s", len(probes), ",".join(unhealthy) or "-")
    return probes


def probes_prune(*, now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - PROBE_RETENTION
    deleted, _ = EndpointProbe.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _alert_recipients() -> list[str]:
    emails = set(
        get_user_model()
        .objects.filter(is_superuser=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    emails.update(email for _, email in settings.ADMINS)
    return sorted(emails)


def _alert_if_needed(state: EndpointState, *, now: datetime) -> None:
    """Mail the superadmins when an endpoint stays unhealthy > 5 minutes, and when it recovers."""
    claim = EndpointState.objects.filter(pk=state.pk)
    overdue = bool(state.unhealthy_since) and now - state.unhealthy_since >= ALERT_AFTER
    recovered = state.health_status == HealthStatus.HEALTHY
    # The conditional updates are claims: with several schedulers only one sends each mail.
    # The in-memory alerted_at spares a query per probe; the conditional update decides.
    if (
        overdue
        and state.alerted_at is None
        and claim.filter(alerted_at__isnull=True).update(alerted_at=now)
    ):
        minutes = int((now - state.unhealthy_since).total_seconds() // 60)
        _send_alert(
            f"[BooQing WhatsApp] Endpoint {state.endpoint_name} is unhealthy",
            f"Endpoint {state.endpoint_name} has failed its health checks for {minutes} "
            f"minutes.\nLast error: {state.last_error or 'no answer'}\n\n"
            "Tenants on it cannot pair devices or send messages until it recovers.",
        )
    elif (
        recovered
        and state.alerted_at is not None
        and claim.filter(alerted_at__isnull=False).update(alerted_at=None)
    ):
        _send_alert(
            f"[BooQing WhatsApp] Endpoint {state.endpoint_name} recovered",
            f"Endpoint {state.endpoint_name} answers its health checks again "
            f"({state.last_latency_ms} ms).",
        )


def _send_alert(subject: str, body: str) -> None:
    recipients = _alert_recipients()
    logger.warning("endpoint alert subject=%r recipients=%d", subject, len(recipients))
    if recipients:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=True)
