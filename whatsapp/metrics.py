"""Prometheus counters and histograms that move when things happen (summed across processes)."""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Histogram

from core.request_context import current_request_id

logger = logging.getLogger("whatsapp.gateway_calls")

# Labels are bounded on purpose: endpoint names come from the server's configuration, every
# other label from a fixed vocabulary. Tenant and device ids belong on the pages, not here.
GATEWAY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

gateway_request_seconds = Histogram(
    "booqing_whatsapp_gateway_request_duration_seconds",
    "Duration of each call to a gateway, by endpoint, operation and outcome",
    ["endpoint", "operation", "outcome"],
    buckets=GATEWAY_BUCKETS,
)
pairing_attempts = Counter(
    "booqing_whatsapp_pairing_attempts",
    "Pairings started (a new device or a new QR requested)",
    ["endpoint"],
)
pairing_successes = Counter(
    "booqing_whatsapp_pairing_successes",
    "Devices that reached connected from a pairing state",
    ["endpoint"],
)
pairing_failures = Counter(
    "booqing_whatsapp_pairing_failures",
    "Pairings that failed, by reason (a gateway error code or the session failing)",
    ["endpoint", "reason"],
)
reconnects = Counter(
    "booqing_whatsapp_device_reconnects",
    "Automatic reconnect attempts of dropped devices, by outcome",
    ["endpoint", "outcome"],
)
messages_outcome = Counter(
    "booqing_whatsapp_messages_outcome",
    "Outbound messages reaching a status, by endpoint (delivery rate = delivered / sent)",
    ["endpoint", "outcome"],
)
webhook_deliveries = Counter(
    "booqing_whatsapp_webhook_deliveries",
    "Gateway webhook deliveries, accepted or refused (with the refusal code)",
    ["result"],
)

MESSAGE_OUTCOMES = ("sent", "delivered", "read", "failed", "expired", "cancelled")

# A path segment made only of letters is part of the gateway's route (`sessions`, `sendText`);
# anything else (session names, ids, phone numbers) is a value and becomes `{}`, which keeps
# the operation label to a handful of values per provider. Hyphenated route words are listed,
# since session names are hyphenated too (`bq-acme-front-desk`).
_ROUTE_WORD = re.compile(r"[A-Za-z]+|verify-creds|check-exists|request-code")


def operation_label(method: str, path: str) -> str:
    parts = path.split("?", 1)[0].strip("/").split("/")
    template = "/".join(p if _ROUTE_WORD.fullmatch(p) else "{}" for p in parts if p)
    return f"{method.upper()} /{template}"


def _outcome(exc: BaseException | None) -> str:
    if exc is None:
        return "ok"
    return getattr(exc, "code", None) or "error"


def observe_gateway_call(request: Callable[..., Any]) -> Callable[..., Any]:
    """Decorates HttpGateway._request: one histogram sample and one log line per call."""

    @functools.wraps(request)
    def wrapper(self, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        error: BaseException | None = None
        status: int | None = None
        try:
            reply = request(self, method, path, *args, **kwargs)
            status = getattr(reply, "status", None)
            return reply
        except BaseException as exc:
            error = exc
            status = getattr(exc, "status", None)
            raise
        finally:
            elapsed = time.perf_counter() - started
            operation = operation_label(method, path)
            outcome = _outcome(error)
            gateway_request_seconds.labels(self.endpoint.name, operation, outcome).observe(elapsed)
            # The path is logged as its template: session names stay out, and a URL never
            # appears (the host and key live only in the endpoint configuration).
            logger.info(
                "gateway call endpoint=%s method=%s route=%s status=%s outcome=%s "
                "duration_ms=%d request_id=%s",
                self.endpoint.name,
                method.upper(),
                operation.split(" ", 1)[1],
                status if status is not None else "-",
                outcome,
                elapsed * 1000,
                current_request_id() or "-",
            )

    return wrapper


def message_outcome(*, endpoint: str, outcome: str, count: int = 1) -> None:
    """A message reached `outcome` (only call when the row's update changed something)."""
    if count:
        messages_outcome.labels(endpoint, outcome).inc(count)


def pairing_started(*, endpoint: str) -> None:
    pairing_attempts.labels(endpoint).inc()


def pairing_failed(*, endpoint: str, reason: str) -> None:
    pairing_failures.labels(endpoint, reason[:40] or "error").inc()


def reconnect_attempted(*, endpoint: str, ok: bool) -> None:
    reconnects.labels(endpoint, "ok" if ok else "failed").inc()


def webhook_delivery(*, result: str) -> None:
    webhook_deliveries.labels(result[:40]).inc()
