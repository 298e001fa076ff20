"""`{% device_timeline_section device %}`: the first timeline page inside the device page."""

from __future__ import annotations

from django import template

from whatsapp.selectors_timeline import device_timeline

register = template.Library()


@register.inclusion_tag("whatsapp/_device_timeline.html")
def device_timeline_section(device):
    # The device page's view already scoped `device` to request.tenant.
    return {"device": device, "timeline": device_timeline(device=device, page=1)}
