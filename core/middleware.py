"""Middleware every app's pages share: private caching, and a 503 when the database is busy."""

from __future__ import annotations

import logging

from django.db import OperationalError
from django.http import HttpResponse

# A page or API reply can carry customer data (messages, phone numbers, tokens): no shared or
# browser cache may keep it. Views that want other caching set Cache-Control themselves.
NO_STORE = "private, no-store"


class NoStoreMiddleware:
    """Adds `Cache-Control: private, no-store` to every dynamic response that sets none."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Cache-Control" not in response:
            response["Cache-Control"] = NO_STORE
        return response


class DatabaseBusyMiddleware:
    """A page whose database connection could not be had answers 503 with Retry-After.

    With a bounded pool, a burst may find every connection busy for longer than the pool's
    timeout; that is a moment to wait, not a server error (and not an error e-mail).
    """

    RETRY_AFTER = 5

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError):
            return None
        logging.getLogger(__name__).warning(
            "database busy path=%s error=%s", request.path, type(exception).__name__
        )
        response = HttpResponse(
            "<!doctype html><title>Busy</title><h1>We are busy</h1>"
            "<p>Too many requests at once. Please try again in a few seconds.</p>",
            status=503,
        )
        response["Retry-After"] = str(self.RETRY_AFTER)
        return response
