"""The superadmin's Operations page: charts of the last 24 hours or 7 days, each with its table."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tenants.access import superadmin_required
from whatsapp.charts import SIZES, chart_svg
from whatsapp.endpoints import registry
from whatsapp.selectors_operations import CHART_KEYS, RANGES, operations_charts

# An SVG shown as an image runs no script; this policy says so again for anyone who opens it
# directly, and allows only the chart's own <style> element.
CHART_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _filters(request) -> tuple[str, str | None]:
    range_key = request.GET.get("range", "24h")
    if range_key not in RANGES:
        range_key = "24h"
    endpoint = request.GET.get("endpoint") or None
    if endpoint is not None and endpoint not in registry().names():
        endpoint = None  # an unknown name shows every endpoint rather than an empty page
    return range_key, endpoint


@superadmin_required
@require_GET
def operations(request):
    range_key, endpoint = _filters(request)
    context = {
        "charts": operations_charts(range_key=range_key, endpoint=endpoint),
        "range_key": range_key,
        "ranges": list(RANGES),
        "endpoint": endpoint,
    }
    return render(request, "whatsapp/operations.html", context)


@superadmin_required
@require_GET
@never_cache
def operations_chart(request, chart_key: str):
    if chart_key not in CHART_KEYS:
        raise Http404("No such chart.")
    range_key, endpoint = _filters(request)
    size = request.GET.get("size", "wide")
    size = size if size in SIZES else "wide"
    (chart,) = operations_charts(range_key=range_key, endpoint=endpoint, only=chart_key)
    response = HttpResponse(chart_svg(chart, size=size), content_type="image/svg+xml")
    response["Content-Security-Policy"] = CHART_CSP
    return response
