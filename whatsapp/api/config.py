"""API: available endpoints and tenant WhatsApp configuration (superadmin and members)."""

from __future__ import annotations

import uuid

from django.core.exceptions import PermissionDenied
from django.http import Http404
from ninja import Router, Schema
from pydantic import AliasChoices, ConfigDict, Field

from tenants import selectors as tenant_selectors
from tenants.access import TenantRefused, resolve_tenant
from tenants.models import Tenant
from whatsapp import selectors, services
from whatsapp.api.common import api_token, refusal_error
from whatsapp.api.schemas import ERRORS, SuccessOut
from whatsapp.endpoints import registry

router = Router(tags=["configuration"])


# Token scopes in the OpenAPI docs (booqing/api.py): reading its own config needs any scope;
# the superadmin's operations take no token at all.
ANY_SCOPE = {"x-token-scope": "any"}
SUPERADMIN = {"x-token-scope": "none", "x-session-role": "superadmin"}


def require_superadmin(request) -> None:
    if not request.user.is_superuser:
        raise PermissionDenied("Only platform administrators may do this.")


def tenant_for_config_read(request, tenant_id: uuid.UUID) -> Tenant:
    """Superadmins read any tenant; a member (or a token) reads its own tenant only."""
    token = api_token(request)
    if token is not None:
        tenant = token.tenant if token.tenant_id == tenant_id else None
    elif request.user.is_superuser:
        tenant = tenant_selectors.tenant_get(tenant_id=tenant_id)
    else:
        try:
            own = resolve_tenant(request)
        except TenantRefused as refused:
            if refused.reason == TenantRefused.NO_TENANT:
                raise PermissionDenied(
                    "Only platform administrators may read other tenants' settings."
                ) from None
            raise refusal_error(refused) from None
        # Another tenant's id is "not found", so ids cannot be probed from a tenant host.
        tenant = own if own.pk == tenant_id else None
    if tenant is None:
        raise Http404(f"No tenant with id {tenant_id}.")
    return tenant


def _tenant_or_404(tenant_id: uuid.UUID) -> Tenant:
    tenant = tenant_selectors.tenant_get(tenant_id=tenant_id)
    if tenant is None:
        raise Http404(f"No tenant with id {tenant_id}.")
    return tenant


class AvailableEndpointsOut(Schema):
    endpoints: list[str]
    count: int


class ConfigIn(Schema):
    """Assign an endpoint and optionally change settings. camelCase names are accepted too."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    endpoint_name: str = Field(validation_alias=AliasChoices("endpoint_name", "endpointName"))
    auto_reconnect: bool | None = Field(
        None, validation_alias=AliasChoices("auto_reconnect", "autoReconnect")
    )
    reconnect_interval: int | None = Field(
        None, validation_alias=AliasChoices("reconnect_interval", "reconnectInterval")
    )
    health_check_interval: int | None = Field(
        None, validation_alias=AliasChoices("health_check_interval", "healthCheckInterval")
    )
    webhook_retries: int | None = Field(
        None, validation_alias=AliasChoices("webhook_retries", "webhookRetries")
    )
    message_timeout: int | None = Field(
        None, validation_alias=AliasChoices("message_timeout", "messageTimeout")
    )


class TenantConfigOut(Schema):
    """A tenant's WhatsApp configuration: the endpoint's name and settings, never a URL or key."""

    id: str
    tenant_id: str
    endpoint_name: str
    auto_reconnect: bool
    reconnect_interval: int = Field(description="Seconds.")
    health_check_interval: int = Field(description="Seconds.")
    webhook_retries: int
    message_timeout: int = Field(description="Seconds.")
    is_configured: bool
    health_status: str = Field(description="unknown, healthy or unhealthy")
    last_health_check: str | None = Field(description="ISO 8601")
    created_at: str = Field(description="ISO 8601")
    updated_at: str = Field(description="ISO 8601")


class ConfigOut(Schema):
    config: TenantConfigOut | None = Field(description="null while no endpoint is assigned")


@router.get(
    "/available-endpoints",
    response={200: AvailableEndpointsOut, **ERRORS},
    openapi_extra=SUPERADMIN,
)
def available_endpoints(request):
    """Names of the endpoints configured on this server (superadmin)."""
    require_superadmin(request)
    names = registry().names()
    return {"endpoints": names, "count": len(names)}


@router.get(
    "/tenant-config/{tenant_id}", response={200: ConfigOut, **ERRORS}, openapi_extra=ANY_SCOPE
)
def tenant_config_get(request, tenant_id: uuid.UUID):
    """The tenant's WhatsApp configuration, or null when no endpoint is assigned."""
    tenant = tenant_for_config_read(request, tenant_id)
    return {"config": selectors.config_snapshot(tenant.pk)}


@router.post(
    "/tenant-config/{tenant_id}", response={200: ConfigOut, **ERRORS}, openapi_extra=SUPERADMIN
)
def tenant_config_post(request, tenant_id: uuid.UUID, payload: ConfigIn):
    """Assign (or change) the tenant's endpoint and settings (superadmin)."""
    require_superadmin(request)
    tenant = _tenant_or_404(tenant_id)
    settings = payload.model_dump(exclude={"endpoint_name"}, exclude_none=True)
    config = services.endpoint_assign(
        tenant=tenant, endpoint_name=payload.endpoint_name, actor=request.user, settings=settings
    )
    return {"config": selectors.config_as_dict(config)}


@router.delete(
    "/tenant-config/{tenant_id}", response={200: SuccessOut, **ERRORS}, openapi_extra=SUPERADMIN
)
def tenant_config_delete(request, tenant_id: uuid.UUID):
    """Remove the tenant's endpoint assignment (superadmin)."""
    require_superadmin(request)
    tenant = _tenant_or_404(tenant_id)
    services.endpoint_remove(tenant=tenant, actor=request.user)
    return {"success": True}
