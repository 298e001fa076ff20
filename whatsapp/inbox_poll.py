"""The inbox's "anything new?" poll, answered before the session, user and tenant lookups.

An open thread or inbox asks every two seconds. When nothing changed, the answer is a bodiless
204 after one indexed query: the page handed the browser a signed poll ticket (tenant, host,
what is watched) when it was rendered for a signed-in member, and the ticket only ever learns
"changed or not". A changed stamp falls through to the normal view, which checks the session
and membership again before it renders anything.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core import signing
from django.db import DatabaseError
from django.http import HttpResponse

from tenants.hosts import subdomain_from_host
from whatsapp import selectors

TICKET_SALT = "whatsapp.inbox-poll"
# A page left open all day keeps polling; a reload issues a new ticket.
TICKET_MAX_AGE = 12 * 3600
POLL_PATH = re.compile(
    r"/admin/whatsapp/conversations/(?:(?P<conversation_id>[0-9a-fA-F-]{36})/)?poll"
)


def poll_ticket(*, tenant, conversation_id=None) -> str:
    return signing.dumps(
        {"t": str(tenant.pk), "s": tenant.subdomain, "c": str(conversation_id or "")},
        salt=TICKET_SALT,
        compress=True,
    )


def stamp_for(*, tenant_id, conversation_id=None) -> str:
    if conversation_id:
        return selectors.thread_stamp(conversation_id=conversation_id)
    return selectors.inbox_stamp(tenant_id=tenant_id)


def etag(stamp: str) -> str:
    return f'"{stamp}"'


class InboxPollFastPathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method != "GET" or "X-Poll-Ticket" not in request.headers:
            return self.get_response(request)
        match = POLL_PATH.fullmatch(request.path_info)
        if match is None:
            return self.get_response(request)
        try:
            ticket = signing.loads(
                request.headers["X-Poll-Ticket"], salt=TICKET_SALT, max_age=TICKET_MAX_AGE
            )
        except signing.BadSignature:
            return self.get_response(request)  # the normal path decides (login page, 404)
        host = subdomain_from_host(request.get_host(), settings.BASE_DOMAIN)
        watched = match["conversation_id"] or ""
        if host.subdomain != ticket.get("s") or watched.lower() != ticket.get("c"):
            return self.get_response(request)
        try:
            stamp = stamp_for(tenant_id=ticket["t"], conversation_id=watched or None)
        except DatabaseError:
            # A busy or briefly absent database: the normal path answers (a friendly 503).
            return self.get_response(request)
        if request.headers.get("If-None-Match") != etag(stamp):
            return self.get_response(request)
        response = HttpResponse(status=204)
        response["ETag"] = etag(stamp)
        response["Cache-Control"] = "no-store"
        return response
