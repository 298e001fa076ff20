"""URL patterns served on every host: login/logout, the JSON API and the health probes."""

from __future__ import annotations

from django.urls import path, re_path

from booqing.api import api, api_not_found
from core import views
from tenants import views as tenant_views
from whatsapp import metrics_collector
from whatsapp.views import webhooks

common_patterns = [
    path("accounts/login/", tenant_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", tenant_views.LogoutView.as_view(), name="logout"),
    path("accounts/language/", tenant_views.language_set, name="language_set"),
    path(
        "accounts/set-password/<uidb64>/<token>/",
        tenant_views.PasswordSetView.as_view(),
        name="password_set",
    ),
    # Before the API router: gateways post raw signed bodies here, outside ninja's parsing.
    path(
        "api/whatsapp/webhooks/<uuid:webhook_id>/<str:token>",
        webhooks.receive,
        name="whatsapp_webhook_token",
    ),
    # Devices paired before webhook URLs carried a token: accepted only with a valid signature.
    path("api/whatsapp/webhooks/<uuid:webhook_id>", webhooks.receive, name="whatsapp_webhook"),
    path("api/", api.urls),
    re_path(r"^api/(?P<path>.*)$", api_not_found),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", metrics_collector.metrics, name="metrics"),
]
