"""Template context: the current tenant and the viewer's role on it."""

from __future__ import annotations

from django.conf import settings


def tenant(request):
    current = getattr(request, "tenant", None)
    return {
        "current_tenant": current,
        "base_domain": settings.BASE_DOMAIN,
        "is_platform_host": getattr(request, "is_platform_host", False),
    }
