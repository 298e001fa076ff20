"""Resolves the Host header to `request.tenant` and picks the platform or the tenant URLconf."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render

from tenants.hosts import subdomain_from_host
from tenants.models import Tenant


class TenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        match = subdomain_from_host(request.get_host(), settings.BASE_DOMAIN)
        request.tenant = None
        request.is_platform_host = match.is_platform
        if match.subdomain is not None:
            tenant = Tenant.objects.filter(subdomain=match.subdomain, is_active=True).first()
            if tenant is None:
                return not_found_page(request)
            request.tenant = tenant
            request.urlconf = settings.TENANT_URLCONF
        elif match.is_unknown:
            return not_found_page(request)
        return self.get_response(request)


def not_found_page(request):
    # Rendered before the session/auth middleware ran, so the page shows no user menu.
    return render(
        request,
        "404.html",
        {"message": "There is no BooQing workspace at this address."},
        status=404,
    )
