"""How pages answer: the htmx fragment, or the whole page with a status that tells the truth."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRedirect

from core.errors import ApplicationError


def error_status(exc: ApplicationError) -> int:
    """The status of a full page that shows a service error: a 4xx, whatever the API would say.

    Gateway trouble is a 502/503 in the JSON API, but a page that explains it is a client-side
    answer (and proxies replace 5xx pages with their own).
    """
    return exc.status if 400 <= exc.status < 500 else 422


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
