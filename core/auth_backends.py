"""Authentication backends: django-axes' login throttling in front of Django's model backend."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class ThrottledLoginBackend(AxesStandaloneBackend):
    """django-axes' backend, minus its demand for a request.

    Logins over the web always pass the request, so they are throttled. Callers without one (a
    management command, `Client.login()` in tests) cannot be guessing passwords from an
    address: for them this backend steps aside instead of raising.
    """

    def authenticate(self, request, *args, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)
