"""A short path for gateway webhooks, the busiest URL: it skips the middleware they do not use.

Webhooks carry no session, no user and no CSRF token (the per-device signature authenticates
them), so the session, auth, CSRF, messages and tenant middleware only cost time there. This
middleware sits right after SecurityMiddleware, still enforces ALLOWED_HOSTS, and hands the
request straight to the webhook view. The URL stays in the URLconf, for reverse() and the docs.
"""

from __future__ import annotations

import re
import uuid

from whatsapp.views.webhooks import receive

WEBHOOK_PATH = re.compile(r"/api/whatsapp/webhooks/(?P<webhook_id>[0-9a-fA-F-]{36})")


class WebhookFastPathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        match = WEBHOOK_PATH.fullmatch(request.path_info) if request.method == "POST" else None
        if match is None:
            return self.get_response(request)
        try:
            webhook_id = uuid.UUID(match["webhook_id"])
        except ValueError:
            return self.get_response(request)  # not a UUID: the normal path answers 404
        request.get_host()  # raises DisallowedHost (400) for a host we do not serve
        return receive(request, webhook_id)
