"""URLs of tenant hosts (<subdomain>.BASE_DOMAIN): the tenant's WhatsApp pages and the API."""

from __future__ import annotations

from django.urls import path
from django.views.generic import RedirectView

from booqing.urls_common import common_patterns
from whatsapp.views import tenant

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/whatsapp", permanent=False)),
    path("admin/whatsapp", tenant.dashboard, name="whatsapp_dashboard"),
    path("admin/whatsapp/", RedirectView.as_view(url="/admin/whatsapp", permanent=False)),
    *common_patterns,
]
