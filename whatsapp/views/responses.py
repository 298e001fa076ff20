"""How pages answer: the htmx fragment, or the whole page with a status that tells the truth."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRedirect

from core.errors import ApplicationError, ErrorKind

# The pages' map from a service error's kind to the status of the page that explains it: always
# a 4xx. Gateway trouble is a 502/503 in the JSON API, but a page that explains it is a
# client-side answer (and proxies replace 5xx pages with their own).
PAGE_STATUS: dict[ErrorKind, int] = {
    ErrorKind.MALFORMED: 400,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.INVALID: 422,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.GATEWAY: 422,
    ErrorKind.UNAVAILABLE: 422,
}


def error_status(exc: ApplicationError) -> int:
    """The status of a full page that shows a service error."""
    return PAGE_STATUS[exc.kind]


def page_or_fragment(request, template: str, fragment: str, context: dict, *, status: int = 200):
    """htmx gets `template#fragment` to swap in place, always 2xx (htmx ignores other answers,
    so an error message travels inside the fragment); a plain request gets the whole page."""
    if request.htmx:
        return render(
            request, f"{template}#{fragment}", context, status=status if status < 300 else 200
        )
    return render(request, template, context, status=status)


def go_to(request, url: str):
    """After a successful post: htmx loads `url` in the whole tab; a browser is redirected."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
