"""A test-only URLconf: the platform URLs plus a view that fails while holding a gateway key."""

from __future__ import annotations

from django.urls import path

from booqing.urls import urlpatterns as platform_patterns
from whatsapp.endpoints import registry


def explode(request):
    config = registry().config("Primary")
    value = config.api_key.reveal()  # a local variable the debug page would list
    raise RuntimeError(f"gateway {config.name} refused key {value}")


urlpatterns = [path("test-only/explode", explode), *platform_patterns]
