"""Tenant page for events to the booking product: endpoints, their delivery log and Replay."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError
from tenants.access import member_required
from whatsapp import selectors_tenant as reads
from whatsapp.models import EVENT_TYPES
from whatsapp.services import events as event_services
from whatsapp.views.responses import error_status

EVENTS_TEMPLATE = "whatsapp/event_endpoints.html"
LOG_SIZE = 20


def _context(request, *, error=None, created=None, secret=None, url="", events=None) -> dict:
    endpoints = reads.event_endpoints_with_log(tenant=request.tenant, log_size=LOG_SIZE)
    return {
        "endpoints": endpoints,
        "event_types": EVENT_TYPES,
        "error": error,
        "created": created,
        "secret": secret,
        "url": url,
        "chosen": events if events is not None else list(EVENT_TYPES),
    }


@member_required(admin=True)
@require_GET
def event_endpoints(request):
    return render(request, EVENTS_TEMPLATE, _context(request))


@never_cache  # the reply carries the secret's only copy: no cache may keep it
@member_required(admin=True)
@require_POST
def event_endpoint_create(request):
    url = request.POST.get("url", "").strip()
    events = request.POST.getlist("events")
    try:
        endpoint, secret = event_services.event_endpoint_create(
            tenant=request.tenant, url=url, events=events, actor=request.user
        )
    except ApplicationError as exc:
        context = _context(request, error=exc.message, url=url, events=events)
        return render(request, EVENTS_TEMPLATE, context, status=error_status(exc))
    # Rendered, not redirected: the secret exists in this one response only.
    context = _context(request, created=endpoint, secret=secret)
    return render(request, EVENTS_TEMPLATE, context, status=201)


@member_required(admin=True)
@require_POST
def event_endpoint_delete(request, endpoint_id):
    endpoint = get_object_or_404(
        reads.tenant_event_endpoints(tenant=request.tenant), pk=endpoint_id
    )
    event_services.event_endpoint_delete(endpoint=endpoint, actor=request.user)
    messages.success(
        request,
        _("Endpoint %(url)s removed: it receives no more events.") % {"url": endpoint.url},
    )
    return redirect("whatsapp_event_endpoints")


@member_required(admin=True)
@require_POST
def event_delivery_replay(request, endpoint_id, delivery_id):
    delivery = get_object_or_404(
        reads.tenant_event_deliveries(tenant=request.tenant),
        pk=delivery_id,
        endpoint_id=endpoint_id,
    )
    event_services.event_delivery_replay(delivery=delivery, actor=request.user)
    messages.success(
        request, _("Event %(id)s queued to be sent again.") % {"id": delivery.webhook_id}
    )
    return redirect("whatsapp_event_endpoints")
