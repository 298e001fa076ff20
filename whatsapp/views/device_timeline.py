"""The device timeline's pages (the device page shows the first; older ones come from here)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from tenants.access import member_required
from whatsapp import selectors_tenant as reads
from whatsapp.selectors_timeline import device_timeline as timeline_page


def _page_number(raw: str | None) -> int:
    try:
        return max(1, int(raw or 1))
    except ValueError:
        return 1  # a mangled ?page= shows the newest page instead of an error


@member_required
@require_GET
def device_timeline(request, device_id):
    # Another tenant's device is a 404, like every tenant-scoped object.
    device = get_object_or_404(reads.tenant_devices(tenant=request.tenant), pk=device_id)
    context = {
        "device": device,
        "timeline": timeline_page(device=device, page=_page_number(request.GET.get("page"))),
    }
    template = "whatsapp/_device_timeline.html" if request.htmx else "whatsapp/device_timeline.html"
    return render(request, template, context)
