"""Prometheus metrics at /metrics (Bearer METRICS_TOKEN): every process's counters, summed, plus
gauges read from small tables. Nothing here scans the message or webhook history."""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable, Mapping

from django.conf import settings
from django.db.models import Count, Manager, Min, Q, QuerySet
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from whatsapp.endpoints import registry as endpoint_registry
from whatsapp.models import (
    Device,
    EndpointState,
    HealthStatus,
    Message,
    MessageStatus,
    TenantWhatsAppConfig,
    WebhookEvent,
)

HEALTH_VALUES = [choice.value for choice in HealthStatus]


class DatabaseCollector:
    """Gauges computed at scrape time from tables whose size follows the number of endpoints,
    tenants and devices (or the queue's backlog), never the number of messages ever stored."""

    def collect(self):
        now = timezone.now()
        names = endpoint_registry().names()
        configured = GaugeMetricFamily(
            "booqing_whatsapp_endpoints_configured", "Endpoints in the server's configuration"
        )
        configured.add_metric([], len(names))
        yield configured

        yield _gauge(
            "booqing_whatsapp_endpoint_tenants",
            "Tenants assigned to each endpoint",
            "endpoint",
            _count_by(TenantWhatsAppConfig.objects, "endpoint_name"),
            names,
        )
        yield _gauge(
            "booqing_whatsapp_tenants_by_health",
            "Tenants by the health of their endpoint",
            "status",
            _count_by(TenantWhatsAppConfig.objects, "health_status"),
            HEALTH_VALUES,
        )

        states = {s.endpoint_name: s for s in EndpointState.objects.filter(endpoint_name__in=names)}
        distribution = dict.fromkeys(HEALTH_VALUES, 0)
        healthy = GaugeMetricFamily(
            "booqing_whatsapp_endpoint_healthy",
            "1 when the last probe succeeded",
            labels=["endpoint"],
        )
        latency = GaugeMetricFamily(
            "booqing_whatsapp_endpoint_latency_ms", "Latency of the last probe", labels=["endpoint"]
        )
        unhealthy_for = GaugeMetricFamily(
            "booqing_whatsapp_endpoint_unhealthy_seconds",
            "How long the endpoint has failed its probes (0 when healthy)",
            labels=["endpoint"],
        )
        for name in names:
            state = states.get(name)
            status = state.health_status if state else HealthStatus.UNKNOWN
            distribution[status] = distribution.get(status, 0) + 1
            if state is None:
                continue
            healthy.add_metric([name], 1 if status == HealthStatus.HEALTHY else 0)
            if state.last_latency_ms is not None:
                latency.add_metric([name], state.last_latency_ms)
            since = state.unhealthy_since
            unhealthy_for.add_metric([name], (now - since).total_seconds() if since else 0)
        yield _gauge(
            "booqing_whatsapp_endpoints_by_health",
            "Configured endpoints by the result of their last probe",
            "status",
            distribution,
            distribution,
        )
        yield healthy
        yield latency
        yield unhealthy_for

        devices = _count_by(Device.objects, "status")
        yield _gauge("booqing_whatsapp_devices", "Devices by status", "status", devices, devices)

        # Queue ages: both filters start on an indexed status column, so they read the backlog
        # only (normally a handful of rows), whatever the history holds.
        ages = GaugeMetricFamily(
            "booqing_whatsapp_queue_oldest_seconds",
            "Age of the oldest item waiting: messages due to send, webhook events to process",
            labels=["queue"],
        )
        oldest_message = (
            Message.objects.filter(status=MessageStatus.QUEUED)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .aggregate(at=Min("created_at"))["at"]
        )
        oldest_event = WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING).aggregate(
            at=Min("received_at")
        )["at"]
        for queue, at in (("messages", oldest_message), ("webhooks", oldest_event)):
            ages.add_metric([queue], max((now - at).total_seconds(), 0) if at else 0)
        yield ages


def _count_by(rows: QuerySet | Manager, field: str) -> dict:
    """{value: number of rows} for one column, in one GROUP BY."""
    return dict(rows.values_list(field).annotate(n=Count("id")))


def _gauge(
    name: str, documentation: str, label: str, counts: Mapping, keys: Iterable
) -> GaugeMetricFamily:
    """One sample per key, labelled `label`: its count, or 0 where nothing has it."""
    gauge = GaugeMetricFamily(name, documentation, labels=[label])
    for key in keys:
        gauge.add_metric([key], counts.get(key, 0))
    return gauge


def build_registry() -> CollectorRegistry:
    """The counters and histograms of every process (multiprocess mode) plus the gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:  # a process started without the directory only knows its own counters
        registry = CollectorRegistry()
        registry.register(_ProcessCollector())
    registry.register(DatabaseCollector())
    return registry


class _ProcessCollector:
    def collect(self):
        yield from REGISTRY.collect()


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


@never_cache
@require_GET
def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        return _error(404, "metrics_disabled", "Set METRICS_TOKEN to enable /metrics.")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        return _error(401, "unauthorized", "Send Authorization: Bearer <METRICS_TOKEN>.")
    return HttpResponse(generate_latest(build_registry()), content_type=CONTENT_TYPE_LATEST)
