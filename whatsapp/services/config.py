"""Use cases for a tenant's endpoint: assign, change, remove, and its settings."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction

from core.audit import audit_record
from core.errors import ApplicationError, ErrorKind, NotFoundError
from core.request_context import task_kwargs
from tenants.models import Tenant
from whatsapp import queue
from whatsapp.caches import forget_config_snapshots
from whatsapp.endpoints import registry
from whatsapp.models import HealthStatus, TenantWhatsAppConfig

logger = logging.getLogger(__name__)


def validate_endpoint_name(endpoint_name: object) -> str:
    """The name, if this server knows it; otherwise an error saying what to do."""
    reg = registry()
    if not reg.names():
        raise ApplicationError(
            "No endpoints available: " + reg.unavailable_reason(),
            "no_endpoints",
            kind=ErrorKind.INVALID,
        )
    if not isinstance(endpoint_name, str) or not endpoint_name.strip():
        raise ApplicationError(
            "Choose an endpoint: endpoint_name is required.",
            "endpoint_required",
            kind=ErrorKind.INVALID,
        )
    if not reg.is_valid(endpoint_name):
        raise ApplicationError(
            f"Endpoint '{endpoint_name}' is not configured on this server: check "
            f"WHATSAPP_ENDPOINTS (known: {', '.join(reg.names())}).",
            "endpoint_not_found",
            kind=ErrorKind.INVALID,
        )
    return endpoint_name


def _validated_settings(config: TenantWhatsAppConfig, changes: dict) -> None:
    unknown = set(changes) - set(TenantWhatsAppConfig.SETTING_FIELDS)
    if unknown:
        raise ApplicationError(
            f"Unknown setting(s): {', '.join(sorted(unknown))}.",
            "invalid_setting",
            kind=ErrorKind.INVALID,
        )
    for name, value in changes.items():
        setattr(config, name, value)
    try:
        config.full_clean(exclude=["tenant", "endpoint_name"], validate_unique=False)
    except ValidationError as exc:
        parts = [f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()]
        raise ApplicationError(
            "Invalid settings. " + "; ".join(parts), "invalid_setting", kind=ErrorKind.INVALID
        ) from exc


def endpoint_assign(
    *, tenant: Tenant, endpoint_name: str, actor, settings: dict | None = None
) -> TenantWhatsAppConfig:
    """Assign (or change) the tenant's endpoint, optionally with settings, and audit it."""
    endpoint_name = validate_endpoint_name(endpoint_name)
    with transaction.atomic():
        config = TenantWhatsAppConfig.objects.select_for_update().filter(
            tenant=tenant
        ).first() or TenantWhatsAppConfig(tenant=tenant)
        created = config._state.adding
        before = (
            {} if created else {"endpoint_name": config.endpoint_name, **config.settings_dict()}
        )
        changed_endpoint = created or config.endpoint_name != endpoint_name
        config.endpoint_name = endpoint_name
        config.is_configured = True
        if changed_endpoint:
            # A different gateway: whatever we knew about the old one's health no longer applies.
            config.health_status = HealthStatus.UNKNOWN
            config.last_health_check = None
            config.unhealthy_since = None
        _validated_settings(config, settings or {})
        config.save()
        after = {"endpoint_name": config.endpoint_name, **config.settings_dict()}
        if before != after:
            action = (
                "endpoint.assigned"
                if created
                else ("endpoint.changed" if changed_endpoint else "settings.changed")
            )
            audit_record(actor=actor, tenant=tenant, action=action, before=before, after=after)
        if changed_endpoint:
            transaction.on_commit(lambda: _enqueue_probe(endpoint_name))
        _forget_snapshot(tenant)
    logger.info(
        "endpoint assigned tenant=%s endpoint=%s created=%s",
        tenant.subdomain,
        endpoint_name,
        created,
    )
    return config


def endpoint_remove(*, tenant: Tenant, actor) -> None:
    """Remove the tenant's endpoint assignment (its settings go with it) and audit it."""
    with transaction.atomic():
        config = TenantWhatsAppConfig.objects.select_for_update().filter(tenant=tenant).first()
        if config is None:
            raise NotFoundError(
                f"{tenant.name} has no WhatsApp endpoint assigned.", "not_configured"
            )
        before = {"endpoint_name": config.endpoint_name, **config.settings_dict()}
        config.delete()
        audit_record(actor=actor, tenant=tenant, action="endpoint.removed", before=before)
        _forget_snapshot(tenant)
    logger.info("endpoint removed tenant=%s endpoint=%s", tenant.subdomain, before["endpoint_name"])


def config_update(*, tenant: Tenant, actor, **changes) -> TenantWhatsAppConfig:
    """Change the tenant's settings (bounds come from the model's validators)."""
    with transaction.atomic():
        config = TenantWhatsAppConfig.objects.select_for_update().filter(tenant=tenant).first()
        if config is None:
            raise NotFoundError(
                f"Assign an endpoint to {tenant.name} before changing its settings.",
                "not_configured",
            )
        before = config.settings_dict()
        _validated_settings(config, changes)
        config.save()
        _forget_snapshot(tenant)
        after = config.settings_dict()
        if before != after:
            audit_record(
                actor=actor, tenant=tenant, action="settings.changed", before=before, after=after
            )
    return config


def _forget_snapshot(tenant: Tenant) -> None:
    # Now, for reads inside this transaction, and again at commit, for a read that raced it.
    forget_config_snapshots(tenant.pk)
    transaction.on_commit(lambda: forget_config_snapshots(tenant.pk))


def _enqueue_probe(endpoint_name: str) -> None:
    try:
        queue.task(queue.PROBE_ENDPOINT).enqueue(endpoint_name, **task_kwargs())
    except Exception:
        # The scheduler probes every endpoint anyway; a queue hiccup must not fail the assignment.
        logger.exception("could not enqueue probe endpoint=%s", endpoint_name)
