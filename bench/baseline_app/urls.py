from __future__ import annotations

from django.urls import path

from bench.baseline_app import views

urlpatterns = [
    path("ping", views.ping),
    path("config/<uuid:config_id>", views.config_by_pk),
    path("webhook/<uuid:device_id>", views.webhook_insert),
]
