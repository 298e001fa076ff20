"""docs/monitoring: the alert rules and the Grafana dashboard only use series /metrics exports
(a renamed metric would otherwise silently blind an alert)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from whatsapp.metrics_collector import build_registry

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[3] / "docs" / "monitoring"
SERIES = re.compile(r"\bbooqing_[a-z_]+")
SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def exported() -> set[str]:
    # Touch every labelled metric once so each family appears in this process's registry.
    from whatsapp import metrics, observability

    families = [
        metrics.gateway_request_seconds,
        metrics.pairing_attempts,
        metrics.pairing_successes,
        metrics.pairing_failures,
        metrics.reconnects,
        metrics.messages_outcome,
        metrics.webhook_deliveries,
        observability.http_request_seconds,
    ]
    names = set()
    for family in families:
        names.add(family._name)
    for metric in build_registry().collect():
        names.add(metric.name)
    return names


def base_name(series: str) -> str:
    for suffix in SUFFIXES:
        if series.endswith(suffix):
            return series.removesuffix(suffix)
    return series


def test_every_alert_rule_uses_exported_series_and_says_what_to_do():
    rules = yaml.safe_load((DOCS / "alerts.yml").read_text())["groups"][0]["rules"]
    names = exported()
    alerts = {rule["alert"] for rule in rules}
    assert {
        "WhatsAppEndpointUnhealthy",
        "WhatsAppDeliverySuccessLow",
        "WhatsAppWebhookProcessingLag",
        "WhatsAppSendQueueAge",
    } <= alerts
    for rule in rules:
        used = {base_name(s) for s in SERIES.findall(rule["expr"])}
        assert used and used <= names, (rule["alert"], used - names)
        assert rule["annotations"]["summary"]


def test_every_dashboard_panel_queries_exported_series():
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    names = exported()
    assert len(dashboard["panels"]) >= 10
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used = {base_name(s) for s in SERIES.findall(target["expr"])}
            assert used and used <= names, (panel["title"], used - names)
