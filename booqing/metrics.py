"""Prometheus metrics at /metrics (Bearer METRICS_TOKEN), computed from the database per scrape."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily


class DatabaseCollector:
    """Counts by status, read at scrape time, so every web process reports the same truth."""

    def collect(self):
        from whatsapp.models import Device, EndpointState, Message, WebhookEvent

        messages = GaugeMetricFamily(
            "booqing_whatsapp_messages",
            "Messages by direction and status",
            labels=["direction", "status"],
        )
        for row in Message.objects.values("direction", "status").annotate(n=Count("id")):
            messages.add_metric([row["direction"], row["status"]], row["n"])
        yield messages

        events = GaugeMetricFamily(
            "booqing_whatsapp_webhook_events", "Stored webhook events by status", labels=["status"]
        )
        for row in WebhookEvent.objects.values("status").annotate(n=Count("id")):
            events.add_metric([row["status"]], row["n"])
        yield events

        devices = GaugeMetricFamily(
            "booqing_whatsapp_devices", "Devices by status", labels=["status"]
        )
        for row in Device.objects.values("status").annotate(n=Count("id")):
            devices.add_metric([row["status"]], row["n"])
        yield devices

        healthy = GaugeMetricFamily(
            "booqing_whatsapp_endpoint_healthy",
            "1 when the last probe succeeded",
            labels=["endpoint"],
        )
        latency = GaugeMetricFamily(
            "booqing_whatsapp_endpoint_latency_ms", "Latency of the last probe", labels=["endpoint"]
        )
        for state in EndpointState.objects.all():
            healthy.add_metric([state.endpoint_name], 1 if state.health_status == "healthy" else 0)
            if state.last_latency_ms is not None:
                latency.add_metric([state.endpoint_name], state.last_latency_ms)
        yield healthy
        yield latency


@never_cache
@require_GET
def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        return JsonResponse(
            {
                "error": {
                    "code": "metrics_disabled",
                    "message": "Set METRICS_TOKEN to enable /metrics.",
                }
            },
            status=404,
        )
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        return JsonResponse(
            {
                "error": {
                    "code": "unauthorized",
                    "message": "Send Authorization: Bearer <METRICS_TOKEN>.",
                }
            },
            status=401,
        )
    registry = CollectorRegistry()
    registry.register(DatabaseCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
