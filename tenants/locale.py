"""Each request's language and time zone: the person's choice, the browser's, then the tenant's."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.translation.trans_real import parse_accept_lang_header

SESSION_KEY = "language"


def supported_language(code: object) -> str | None:
    """The configured language that `code` (``id``, ``id-ID``, ``en-us``) asks for, if any."""
    if not isinstance(code, str) or not code or code == "*":
        return None
    try:
        return translation.get_supported_language_variant(code.lower())
    except LookupError:
        return None


def language_for(request) -> str:
    """Chosen language (session, then cookie), else the browser's, else the host's default."""
    session = getattr(request, "session", None)
    chosen = session.get(SESSION_KEY) if session is not None else None
    for candidate in (chosen, request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)):
        if language := supported_language(candidate):
            return language
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    # Malformed headers parse to () and fall through to the default rather than failing.
    for accepted, _quality in parse_accept_lang_header(header[:1000]) or ():
        if language := supported_language(accepted):
            return language
    if getattr(request, "tenant", None) is not None:
        return settings.TENANT_DEFAULT_LANGUAGE
    return settings.LANGUAGE_CODE


class TenantLocaleMiddleware:
    """Activates the request's language and, on tenant hosts, the tenant's time zone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = language_for(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        tenant = getattr(request, "tenant", None)
        if tenant is not None:
            timezone.activate(ZoneInfo(tenant.time_zone))
        try:
            response = self.get_response(request)
        finally:
            timezone.deactivate()
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", language)
        translation.deactivate()
        return response


@receiver(user_logged_in)
def restore_language_on_login(sender, request, user, **kwargs):
    """A language chosen on one device follows the person to the next sign-in."""
    if request is None or not hasattr(request, "session"):
        return
    preference = getattr(user, "preference", None) if user.pk else None
    if preference is not None and preference.language:
        request.session[SESSION_KEY] = preference.language
