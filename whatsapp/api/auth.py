"""Who may call the JSON API: Django's session (with CSRF) or a tenant API token."""

from __future__ import annotations

from django.conf import settings
from ninja.security import APIKeyCookie, HttpBearer

from whatsapp.limits import api_token_rate_check
from whatsapp.services.tokens import api_token_authenticate


class SessionAuth(APIKeyCookie):
    """Django's session, with CSRF enforced on unsafe methods."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request):
        # Without a session cookie there is no session for CSRF to protect. ninja would still run
        # the CSRF check and answer 403 "CSRF check failed" to a POST with a missing or revoked
        # token; such a caller must get 401 "Authentication required" instead.
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)

    def authenticate(self, request, key):
        return request.user if request.user.is_authenticated else None


class TenantTokenAuth(HttpBearer):
    """`Authorization: Bearer <tenant API token>` for the booking product's servers."""

    def authenticate(self, request, token):
        found = api_token_authenticate(token)
        if found is not None:
            api_token_rate_check(request=request, token=found)
        return found
