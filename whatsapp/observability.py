"""Per-request observability: a request id, one log line and one histogram sample per request."""

from __future__ import annotations

import logging
import time

from prometheus_client import Histogram

from core.request_context import current_tenant, request_context
from whatsapp.middleware import WEBHOOK_PATH

logger = logging.getLogger("booqing.requests")

http_request_seconds = Histogram(
    "booqing_http_request_duration_seconds",
    "Time to answer each request, by route template and status class",
    ["method", "route", "status_class"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Only these methods become label values; anything else a client invents is "other".
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
WEBHOOK_ROUTE = "api/whatsapp/webhooks/<uuid:webhook_id>"


def route_template(request) -> str:
    """The URL pattern that served the request (`api/whatsapp/devices/<device_id>`), never the
    path itself: paths carry ids, so they would make a label without bound."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return match.route
    if WEBHOOK_PATH.fullmatch(request.path_info):
        return WEBHOOK_ROUTE  # served by the fast-path middleware, which skips URL resolution
    return "unmatched"


class RequestObservabilityMiddleware:
    """First in MIDDLEWARE, so it times the whole stack and every log line below has the id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        with request_context(incoming, request=request) as request_id:
            request.request_id = request_id
            started = time.perf_counter()
            status = 500
            try:
                response = self.get_response(request)
                status = response.status_code
                response["X-Request-ID"] = request_id
                return response
            finally:
                elapsed = time.perf_counter() - started
                route = route_template(request)
                method = request.method if request.method in _METHODS else "other"
                http_request_seconds.labels(method, route, f"{status // 100}xx").observe(elapsed)
                tenant = current_tenant() or "-"
                # No query string and no headers: tokens and keys never reach this line.
                logger.info(
                    "request method=%s route=%s status=%d duration_ms=%d tenant=%s request_id=%s",
                    method,
                    route,
                    status,
                    elapsed * 1000,
                    tenant,
                    request_id,
                )
