"""Finding the gateway adapter for a tenant, a device or an endpoint name, with readable errors."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.utils.translation import gettext as _

from core.errors import ApplicationError, ErrorKind
from tenants.models import Tenant
from whatsapp.endpoints import EndpointNotFound, registry
from whatsapp.gateways import Gateway, gateway_for
from whatsapp.models import TenantWhatsAppConfig

# Probes must be quick: a gateway that never answers costs one short timeout, not a hung loop.
PROBE_TIMEOUT_SECONDS = 5.0
# Session management calls (create, status, QR) run while a person waits for a page.
SESSION_TIMEOUT_SECONDS = 10.0


def gateway_for_endpoint(
    endpoint_name: str, *, timeout: float = SESSION_TIMEOUT_SECONDS
) -> Gateway:
    try:
        endpoint = registry().config(endpoint_name)
    except EndpointNotFound:
        raise ApplicationError(
            _(
                "The WhatsApp server '%(name)s' is not configured on this server any more. The "
                "platform operator must add it back to WHATSAPP_ENDPOINTS or assign another one."
            )
            % {"name": endpoint_name},
            "endpoint_not_found",
            kind=ErrorKind.CONFLICT,
        ) from None
    return gateway_for(endpoint, timeout=timeout)


def tenant_config_or_error(tenant: Tenant) -> TenantWhatsAppConfig:
    config = TenantWhatsAppConfig.objects.filter(tenant=tenant).first()
    if config is None:
        raise ApplicationError(
            _(
                "WhatsApp is not set up for %(name)s: ask the platform operator to connect a "
                "WhatsApp server first."
            )
            % {"name": tenant.name},
            "not_configured",
            kind=ErrorKind.CONFLICT,
        )
    return config


def new_webhook_token() -> str:
    """A device's webhook URL secret: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def webhook_url(webhook_id, token: str = "") -> str:
    """Where the gateway posts a device's events; the token makes it a capability URL."""
    base = settings.WHATSAPP_WEBHOOK_BASE_URL.rstrip("/")
    url = f"{base}/api/whatsapp/webhooks/{webhook_id}"
    return f"{url}/{token}" if token else url
