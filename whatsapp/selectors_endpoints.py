"""The endpoints page for thousands of endpoints: search by name or host, one page at a time."""

from __future__ import annotations

from django.core.paginator import Page, Paginator

from whatsapp.selectors import EndpointRow, endpoint_overview

ENDPOINTS_PER_PAGE = 50


def endpoint_overview_page(*, search: str = "", page: str | int | None = 1) -> Page:
    """Endpoints whose name or host contains `search` (any case), `ENDPOINTS_PER_PAGE` a page.
    An out-of-range or mangled page number gives the nearest real page."""
    needle = search.strip().casefold()
    rows: list[EndpointRow] = endpoint_overview()
    if needle:
        rows = [r for r in rows if needle in r.name.casefold() or needle in r.host.casefold()]
    return Paginator(rows, ENDPOINTS_PER_PAGE).get_page(page)


SETUP_CHOICES_PER_PAGE = 50


def endpoint_choice_page(
    *, names: list[str], search: str = "", page: str | int | None = 1, current: str = ""
) -> tuple[Page, list[str]]:
    """The Setup dropdown's options for thousands of endpoints: the names containing `search`
    (any case), one page of them, plus the tenant's current endpoint so it stays selected."""
    needle = search.strip().casefold()
    matching = [n for n in names if needle in n.casefold()] if needle else list(names)
    chosen = Paginator(matching, SETUP_CHOICES_PER_PAGE).get_page(page)
    options = list(chosen.object_list)
    if current and current in names and current not in options:
        options.insert(0, current)
    return chosen, options
