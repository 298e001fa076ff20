"""API: event endpoints for the booking product (Standard Webhooks), their delivery log, replay."""

from __future__ import annotations

import uuid
from typing import Any

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from pydantic import Field

from core.audit import request_actor as actor
from whatsapp import selectors_tenant as reads
from whatsapp.api.common import acting_tenant, iso, keyset_page
from whatsapp.api.schemas import ERRORS, SuccessOut
from whatsapp.models import EVENT_TYPES, EventDelivery, EventEndpoint
from whatsapp.services import events as event_services

router = Router(tags=["events"])


class EventEndpointIn(Schema):
    url: str = Field(description="Where events are POSTed: a public https:// URL.")
    events: list[str] = Field(description=f"One or more of: {', '.join(EVENT_TYPES)}.")


class DeliveryFilters(Schema):
    status: str | None = Field(None, description="pending, delivered or failed")
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


ISO = "ISO 8601"


class EventEndpointOut(Schema):
    id: str
    url: str
    events: list[str]
    created_at: str | None = Field(description=ISO)


class EventEndpointCreatedOut(EventEndpointOut):
    secret: str = Field(description="whsec_...: shown in this reply only; keep it.")


class EventEndpointEnvelope(Schema):
    endpoint: EventEndpointOut


class EventEndpointCreatedEnvelope(Schema):
    endpoint: EventEndpointCreatedOut


class EventEndpointListOut(Schema):
    endpoints: list[EventEndpointOut]


class DeliveryOut(Schema):
    id: str
    webhook_id: str
    event: str
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    next_attempt_at: str | None = Field(description=ISO)
    last_attempt_at: str | None = Field(description=ISO)
    last_status_code: int | None
    last_response: str | None
    created_at: str | None = Field(description=ISO)
    payload: dict[str, Any] = Field(description="The event as it was (and is) delivered.")


class AttemptOut(Schema):
    at: str | None = Field(description=ISO)
    status_code: int | None
    response: str | None
    duration_ms: int
    ok: bool


class DeliveryWithAttemptsOut(DeliveryOut):
    attempt_log: list[AttemptOut]


class DeliveryPage(Schema):
    results: list[DeliveryWithAttemptsOut]
    next: str | None = Field(description="The cursor of the next page; null on the last.")


class DeliveryEnvelope(Schema):
    delivery: DeliveryOut


def endpoint_as_dict(endpoint: EventEndpoint, *, secret: str | None = None) -> dict:
    data = {
        "id": str(endpoint.id),
        "url": endpoint.url,
        "events": endpoint.events,
        "created_at": iso(endpoint.created_at),
    }
    if secret is not None:
        data["secret"] = secret  # only in the reply that creates it
    return data


def delivery_as_dict(delivery: EventDelivery, *, with_attempts: bool = False) -> dict:
    data = {
        "id": str(delivery.id),
        "webhook_id": delivery.webhook_id,
        "event": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "last_attempt_at": iso(delivery.last_attempt_at),
        "last_status_code": delivery.last_status_code,
        "last_response": delivery.last_response or None,
        "created_at": iso(delivery.created_at),
        "payload": delivery.payload,
    }
    if with_attempts:
        data["attempt_log"] = [
            {
                "at": iso(a.attempted_at),
                "status_code": a.status_code,
                "response": a.response or None,
                "duration_ms": a.duration_ms,
                "ok": a.ok,
            }
            for a in delivery.tries.all()
        ]
    return data


def _endpoint(request, endpoint_id: uuid.UUID) -> EventEndpoint:
    tenant = acting_tenant(request, admin=True)
    return get_object_or_404(
        reads.tenant_event_endpoints(tenant=tenant).select_related("tenant"), pk=endpoint_id
    )


@router.get("/event-endpoints", response={200: EventEndpointListOut, **ERRORS})
def event_endpoint_list(request):
    """The workspace's event endpoints (their secrets are never shown again)."""
    tenant = acting_tenant(request, admin=True)
    endpoints = reads.tenant_event_endpoints(tenant=tenant)
    return {"endpoints": [endpoint_as_dict(e) for e in endpoints]}


@router.post("/event-endpoints", response={201: EventEndpointCreatedEnvelope, **ERRORS})
def event_endpoint_create(request, payload: EventEndpointIn):
    """Subscribe a URL to events. The reply holds the signing secret (`whsec_...`) once: keep it
    to verify each delivery's `webhook-signature` (Standard Webhooks)."""
    tenant = acting_tenant(request, admin=True)
    endpoint, secret = event_services.event_endpoint_create(
        tenant=tenant, url=payload.url, events=payload.events, actor=actor(request)
    )
    return Status(201, {"endpoint": endpoint_as_dict(endpoint, secret=secret)})


@router.get("/event-endpoints/{endpoint_id}", response={200: EventEndpointEnvelope, **ERRORS})
def event_endpoint_get(request, endpoint_id: uuid.UUID):
    return {"endpoint": endpoint_as_dict(_endpoint(request, endpoint_id))}


@router.delete("/event-endpoints/{endpoint_id}", response={200: SuccessOut, **ERRORS})
def event_endpoint_delete(request, endpoint_id: uuid.UUID):
    event_services.event_endpoint_delete(
        endpoint=_endpoint(request, endpoint_id), actor=actor(request)
    )
    return {"success": True}


@router.get("/event-endpoints/{endpoint_id}/deliveries", response={200: DeliveryPage, **ERRORS})
def event_delivery_list(request, endpoint_id: uuid.UUID, filters: Query[DeliveryFilters]):
    """The delivery log, newest first: status, attempts and the endpoint's last answer."""
    endpoint = _endpoint(request, endpoint_id)
    rows, next_cursor = keyset_page(
        reads.endpoint_deliveries(endpoint=endpoint, status=filters.status),
        field="created_at",
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return {"results": [delivery_as_dict(d, with_attempts=True) for d in rows], "next": next_cursor}


@router.post(
    "/event-endpoints/{endpoint_id}/deliveries/{delivery_id}/replay",
    response={202: DeliveryEnvelope, **ERRORS},
)
def event_delivery_replay(request, endpoint_id: uuid.UUID, delivery_id: uuid.UUID):
    """Deliver the event again, with the same `webhook-id` (so receivers can dedupe)."""
    endpoint = _endpoint(request, endpoint_id)
    delivery = get_object_or_404(
        reads.tenant_event_deliveries(tenant=endpoint.tenant), pk=delivery_id, endpoint=endpoint
    )
    delivery = event_services.event_delivery_replay(delivery=delivery, actor=actor(request))
    return Status(202, {"delivery": delivery_as_dict(delivery)})
