"""The authorisation matrix: every URL x role x host, with the status each must get, in three
tables read top to bottom:

- CONFIG_MATRIX: the platform host, the superadmin's pages, the endpoint setup and the tenant-config
  API (statuses for anon, alice, bob, charlie, root);
- DEVICES_MATRIX (+ TOKEN_MATRIX, SCOPE_MATRIX): devices, the inbox, API tokens, the tenant API,
  webhooks and probes, then every API URL x tenant API token x host and x scope;
- BOOKING_MATRIX (+ BOOKING_TOKEN_MATRIX): the booking product's URLs (event endpoints, delivery
  log and Replay, templates, quick replies, the number check).

Roles and hosts: tests/support/authorization.py. Rules per table:

CONFIG_MATRIX (DESIGN.md, issue 2):
- platform pages: anonymous -> login, non-superuser -> 403, superadmin -> 200;
  on a tenant host -> 404
- tenant pages: anonymous -> login, non-member -> 403 (the superadmin too), member -> 200;
  on the platform host -> 404
- API: anonymous -> 401; available-endpoints and every write are for the superadmin (403 otherwise);
  tenant-config GET: superadmin on any host, a member on their own host for their own tenant;
  another tenant's id from a tenant host -> 404 (never a 403 that confirms it exists)
- a host that is no workspace -> 404 for everything
Every denied write leaves the database as it was.

DEVICES_MATRIX (DESIGN.md, issues 3 and 4, tenants/access.py, whatsapp/api/common.py):
- tenant pages: anonymous -> login; non-member (the superadmin too) -> 403; staff -> 200/302 for
  reading, the inbox, new messages, replies and retries, 403 for device management and API tokens;
  admin -> 200/201/302. Another tenant's object on your own host -> 404. Platform host -> 404.
- API: anonymous -> 401 JSON; a member on their own host -> 200/201/202, 403 for staff on
  admin-only actions (creating, deleting and driving devices); another tenant's id -> 404;
  a session on the platform host (no tenant, no token) -> 400 tenant_required.
- tenant API token: acts for its tenant on the platform host and its own host; on another
  tenant's host -> 403; another tenant's ids -> 404; a revoked token -> 401; pages ignore it.
- webhooks: anonymous by design, signature checked: unsigned -> 401 whoever asks.
- /metrics: Bearer METRICS_TOKEN only; /healthz and /readyz: everyone.
Each row runs every role against a fresh copy of the same data (a savepoint rolled back after each
request), so an allowed write for one role never changes what the next role sees. A denied request
changes no row and calls no gateway; an allowed write really writes.

BOOKING_MATRIX: anonymous -> login
(pages) or 401 (API); the superadmin and other tenants' members -> 403; staff may read templates,
check numbers and send quick replies, and get 403 for managing events and templates; another
tenant's object (or a missing one) is a 404; a tenant API token acts for its own tenant on the
platform host and its own host, 403 on another tenant's host, 401 once revoked. Every request
runs in a savepoint that is rolled back, so each role sees the same data.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

import pytest
import responses
from django.conf import settings as django_settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection, transaction
from django.test import Client
from django.test.client import ClientHandler
from django.utils import timezone

from core.models import AuditEvent
from tenants.test import Cast, client_for, platform_host
from whatsapp import services
from whatsapp.models import (
    ApiToken,
    ContactCheck,
    Conversation,
    Device,
    DeviceStatus,
    EventDelivery,
    EventEndpoint,
    Message,
    MessageStatus,
    MessageTemplate,
    TenantWhatsAppConfig,
    WebhookEvent,
)
from whatsapp.services import events as event_services
from whatsapp.tests.factories import make_conversation, make_device, make_message
from whatsapp.tests.support import waha_webhooks as waha
from whatsapp.tests.support.authorization import (
    DJLOGIN,
    HOSTS,
    LOGIN,
    MISSING_ID,
    NOWHERE,
    ROLES,
    A,
    B,
    P,
    resolve,
    user_for,
)
from whatsapp.tests.support.authorization import (
    snapshot as config_snapshot,
)

pytestmark = pytest.mark.django_db

# =================================================================================================
# The tables
# =================================================================================================

# --- CONFIG_MATRIX: platform host, superadmin, tenant-config API -------------------------------
CFG = "/api/whatsapp/tenant-config"
AVAILABLE = "/api/whatsapp/available-endpoints"
SETUP = "/admin/tenants/{A}/whatsapp"
SETUP_B = "/admin/tenants/{B}/whatsapp"
# The setup page's actions, one URL each.
ASSIGN = f"{SETUP}/assign"
ASSIGN_B = f"{SETUP_B}/assign"
SETTINGS = f"{SETUP}/settings"
REMOVE = f"{SETUP}/remove"
TEST = f"{SETUP}/test"
OPS = "/admin/operations/"
OPS_CHART = "/admin/operations/charts/messages.svg?range=24h"

# What each unsafe request sends (a valid request, so only authorisation can refuse it).
CONFIG_BODIES = {
    "/admin/tenants/": {"name": "Initech", "subdomain": "initech"},
    "/accounts/language/": {"language": "id", "next": "/"},
    SETUP: {"action": "assign", "endpoint_name": "Secondary"},  # the page's original form
    ASSIGN: {"endpoint_name": "Secondary"},
    ASSIGN_B: {"endpoint_name": "Secondary"},
    SETTINGS: {
        "reconnect_interval": "45",
        "health_check_interval": "60",
        "webhook_retries": "3",
        "message_timeout": "30",
    },
    f"{CFG}/{{A}}": {"endpoint_name": "Secondary"},
    f"{CFG}/{{B}}": {"endpoint_name": "Secondary"},
    f"{CFG}/{{X}}": {"endpoint_name": "Secondary"},
}

# fmt: off
CONFIG_MATRIX = [
    # method   path                            host     anon     alice    bob      charlie   root
    # --- platform host: pages -------------------------------------------------------------------
    ("GET",    "/",                            P,       302,     302,     302,     302,     302),
    ("GET",    "/accounts/login/",             P,       200,     302,     302,     302,     302),
    ("GET",    "/accounts/logout/",            P,       405,     405,     405,     405,     405),
    ("POST",   "/accounts/logout/",            P,       302,     302,     302,     302,     302),
    ("GET",    "/accounts/language/",          P,       405,     405,     405,     405,     405),
    ("POST",   "/accounts/language/",          P,       302,     302,     302,     302,     302),
    ("GET",    "/admin/tenants/",              P,       LOGIN,   403,     403,     403,     200),
    ("POST",   "/admin/tenants/",              P,       LOGIN,   403,     403,     403,     302),
    ("GET",    SETUP,                          P,       LOGIN,   403,     403,     403,     200),
    ("POST",   SETUP,                          P,       LOGIN,   403,     403,     403,     302),
    ("POST",   ASSIGN,                         P,       LOGIN,   403,     403,     403,     302),
    ("GET",    ASSIGN,                         P,       LOGIN,   403,     403,     403,     405),
    ("POST",   SETTINGS,                       P,       LOGIN,   403,     403,     403,     302),
    ("POST",   REMOVE,                         P,       LOGIN,   403,     403,     403,     302),
    ("GET",    REMOVE,                         P,       LOGIN,   403,     403,     403,     405),
    ("POST",   TEST,                           P,       LOGIN,   403,     403,     403,     422),
    ("GET",    SETUP_B,                        P,       LOGIN,   403,     403,     403,     200),
    ("POST",   ASSIGN_B,                       P,       LOGIN,   403,     403,     403,     302),
    ("GET",    "/admin/tenants/{X}/whatsapp",  P,       LOGIN,   403,     403,     403,     404),
    ("POST",   "/admin/tenants/{X}/whatsapp/assign", P, LOGIN,   403,     403,     403,     404),
    ("GET",    "/admin/endpoints/",            P,       LOGIN,   403,     403,     403,     200),
    ("POST",   "/admin/endpoints/",            P,       LOGIN,   403,     403,     403,     405),
    ("GET",    OPS,                            P,       LOGIN,   403,     403,     403,     200),
    ("GET",    f"{OPS}?range=7d&endpoint=Primary", P,   LOGIN,   403,     403,     403,     200),
    ("POST",   OPS,                            P,       LOGIN,   403,     403,     403,     405),
    ("GET",    OPS_CHART,                      P,       LOGIN,   403,     403,     403,     200),
    ("GET",    f"{OPS}charts/nope.svg",        P,       LOGIN,   403,     403,     403,     404),
    ("GET",    "/django-admin/",               P,       DJLOGIN, DJLOGIN, DJLOGIN, DJLOGIN, 200),
    # The audit log's old admin address: a redirect for anyone, the admin then decides.
    ("GET",    "/django-admin/whatsapp/auditevent/", P, 302,     302,     302,     302,     302),
    ("GET",    "/admin/whatsapp",              P,       404,     404,     404,     404,     404),
    ("GET",    "/healthz",                     P,       200,     200,     200,     200,     200),
    ("GET",    "/readyz",                      P,       200,     200,     200,     200,     200),
    # --- platform host: API ---------------------------------------------------------------------
    ("GET",    AVAILABLE,                      P,       401,     403,     403,     403,     200),
    ("POST",   AVAILABLE,                      P,       405,     405,     405,     405,     405),
    ("GET",    f"{CFG}/{{A}}",                 P,       401,     403,     403,     403,     200),
    ("GET",    f"{CFG}/{{B}}",                 P,       401,     403,     403,     403,     200),
    ("GET",    f"{CFG}/{{X}}",                 P,       401,     403,     403,     403,     404),
    ("POST",   f"{CFG}/{{A}}",                 P,       401,     403,     403,     403,     200),
    ("POST",   f"{CFG}/{{X}}",                 P,       401,     403,     403,     403,     404),
    ("DELETE", f"{CFG}/{{A}}",                 P,       401,     403,     403,     403,     200),
    ("DELETE", f"{CFG}/{{X}}",                 P,       401,     403,     403,     403,     404),
    ("PUT",    f"{CFG}/{{A}}",                 P,       405,     405,     405,     405,     405),
    ("GET",    "/api/openapi.json",            P,       200,     200,     200,     200,     200),
    ("GET",    "/api/nope",                    P,       404,     404,     404,     404,     404),
    ("POST",   "/api/nope",                    P,       404,     404,     404,     404,     404),
    # --- tenant A's host: pages -----------------------------------------------------------------
    ("GET",    "/",                            A,       302,     302,     302,     302,     302),
    ("GET",    "/accounts/login/",             A,       200,     302,     302,     302,     302),
    ("POST",   "/accounts/logout/",            A,       302,     302,     302,     302,     302),
    ("POST",   "/accounts/language/",          A,       302,     302,     302,     302,     302),
    ("GET",    "/admin/whatsapp",              A,       LOGIN,   200,     200,     403,     403),
    ("GET",    "/admin/tenants/",              A,       404,     404,     404,     404,     404),
    ("POST",   "/admin/tenants/",              A,       404,     404,     404,     404,     404),
    ("GET",    SETUP,                          A,       404,     404,     404,     404,     404),
    ("POST",   SETUP,                          A,       404,     404,     404,     404,     404),
    ("POST",   ASSIGN,                         A,       404,     404,     404,     404,     404),
    ("POST",   SETTINGS,                       A,       404,     404,     404,     404,     404),
    ("POST",   REMOVE,                         A,       404,     404,     404,     404,     404),
    ("POST",   TEST,                           A,       404,     404,     404,     404,     404),
    ("GET",    "/admin/endpoints/",            A,       404,     404,     404,     404,     404),
    ("GET",    OPS,                            A,       404,     404,     404,     404,     404),
    ("GET",    OPS_CHART,                      A,       404,     404,     404,     404,     404),
    ("GET",    "/django-admin/",               A,       404,     404,     404,     404,     404),
    ("GET",    "/django-admin/whatsapp/auditevent/", A, 404,     404,     404,     404,     404),
    ("GET",    "/healthz",                     A,       200,     200,     200,     200,     200),
    # --- tenant A's host: API -------------------------------------------------------------------
    ("GET",    AVAILABLE,                      A,       401,     403,     403,     403,     200),
    ("GET",    f"{CFG}/{{A}}",                 A,       401,     200,     200,     403,     200),
    ("GET",    f"{CFG}/{{B}}",                 A,       401,     404,     404,     403,     200),
    ("GET",    f"{CFG}/{{X}}",                 A,       401,     404,     404,     403,     404),
    ("POST",   f"{CFG}/{{A}}",                 A,       401,     403,     403,     403,     200),
    ("POST",   f"{CFG}/{{B}}",                 A,       401,     403,     403,     403,     200),
    ("DELETE", f"{CFG}/{{A}}",                 A,       401,     403,     403,     403,     200),
    ("DELETE", f"{CFG}/{{B}}",                 A,       401,     403,     403,     403,     200),
    ("PUT",    f"{CFG}/{{A}}",                 A,       405,     405,     405,     405,     405),
    ("GET",    "/api/openapi.json",            A,       200,     200,     200,     200,     200),
    ("GET",    "/api/nope",                    A,       404,     404,     404,     404,     404),
    # --- tenant B's host ------------------------------------------------------------------------
    ("GET",    "/",                            B,       302,     302,     302,     302,     302),
    ("GET",    "/accounts/login/",             B,       200,     302,     302,     302,     302),
    ("GET",    "/admin/whatsapp",              B,       LOGIN,   403,     403,     200,     403),
    ("GET",    "/admin/tenants/",              B,       404,     404,     404,     404,     404),
    ("POST",   SETUP_B,                        B,       404,     404,     404,     404,     404),
    ("POST",   ASSIGN_B,                       B,       404,     404,     404,     404,     404),
    ("GET",    AVAILABLE,                      B,       401,     403,     403,     403,     200),
    ("GET",    f"{CFG}/{{B}}",                 B,       401,     403,     403,     200,     200),
    ("GET",    f"{CFG}/{{A}}",                 B,       401,     403,     403,     404,     200),
    ("GET",    f"{CFG}/{{X}}",                 B,       401,     403,     403,     404,     404),
    ("POST",   f"{CFG}/{{B}}",                 B,       401,     403,     403,     403,     200),
    ("POST",   f"{CFG}/{{A}}",                 B,       401,     403,     403,     403,     200),
    ("DELETE", f"{CFG}/{{B}}",                 B,       401,     403,     403,     403,     200),
    ("DELETE", f"{CFG}/{{A}}",                 B,       401,     403,     403,     403,     200),
    # --- a host that is no workspace ------------------------------------------------------------
    ("GET",    "/",                            NOWHERE, 404,     404,     404,     404,     404),
    ("GET",    "/accounts/login/",             NOWHERE, 404,     404,     404,     404,     404),
    ("GET",    "/admin/whatsapp",              NOWHERE, 404,     404,     404,     404,     404),
    ("GET",    "/admin/tenants/",              NOWHERE, 404,     404,     404,     404,     404),
    ("GET",    AVAILABLE,                      NOWHERE, 404,     404,     404,     404,     404),
    ("POST",   f"{CFG}/{{A}}",                 NOWHERE, 404,     404,     404,     404,     404),
    ("DELETE", f"{CFG}/{{A}}",                 NOWHERE, 404,     404,     404,     404,     404),
]
# fmt: on

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
CONFIG_DENIED = {LOGIN, DJLOGIN, 401, 403, 404, 405}


# --- DEVICES_MATRIX: devices, inbox, tokens, tenant API, webhooks, probes ----------------------
GATEWAY = "https://primary.gateway.test"
METRICS_TOKEN = "metrics-token-1b7e5c9d"
CUSTOMER = "+6281234567890"
NEW_CONTACT = "+6281298765432"

WA = "/admin/whatsapp"
DEV = f"{WA}/devices"
INBOX = f"{WA}/conversations"
TOKENS = f"{WA}/api-tokens"
API = "/api/whatsapp"
HOOK = f"{API}/webhooks"

# Placeholders: D device, C conversation, M message, T API token, W webhook id; A/B the tenant.
# K: a device's webhook URL token. N: a starter template's name (every tenant has "reminder").
PLACEHOLDERS = (
    *("DA", "DB", "CA", "CB", "MA", "MB", "TA", "TB", "WA", "WB", "KA", "KB", "A", "B", "X", "N"),
)


def webhook_envelope(session: str) -> dict:
    """A well-formed WAHA `message` delivery: only the missing signature can refuse it."""
    return {
        "id": "evt_01JABCDEFGHJKMNPQRSTVWXYZ0",
        "timestamp": int(time.time() * 1000),
        "event": "message",
        "session": session,
        "payload": {
            "id": "false_6281234567890@c.us_3EB0AAAABBBBCCCC",
            "timestamp": int(time.time()),
            "from": "6281234567890@c.us",
            "fromMe": False,
            "body": "Hello from a customer",
        },
    }


SESSION_A, SESSION_B = "bq-acme-front-desk", "bq-globex-clinic-desk"

# What each unsafe request sends: a valid request, so only authorisation can refuse it.
DEVICES_BODIES = {
    f"{DEV}/new": {"name": "Back office"},
    f"{INBOX}/new": {"to": NEW_CONTACT, "body": "Your booking is confirmed."},
    f"{INBOX}/{{CA}}/reply": {"body": "See you at 10."},
    f"{INBOX}/{{CB}}/reply": {"body": "See you at 10."},
    f"{INBOX}/{{CA}}/contact": {"contact_name": "Budi", "contact_note": "Prefers mornings"},
    f"{INBOX}/{{CB}}/contact": {"contact_name": "Budi", "contact_note": "Prefers mornings"},
    f"{TOKENS}/new": {"name": "Booking app 2"},
    f"{API}/devices": {"name": "Back office"},
    # issue 11: linking a phone by number
    f"{DEV}/{{DA}}/pairing-code": {"phone": "081234567890"},
    f"{DEV}/{{DB}}/pairing-code": {"phone": "081234567890"},
    f"{API}/devices/{{DA}}/pairing-code": {"phone": "081234567890"},
    f"{API}/devices/{{DB}}/pairing-code": {"phone": "081234567890"},
    f"{API}/messages": {"to": NEW_CONTACT, "body": "Your booking is confirmed."},
    f"{API}/tenant-config/{{A}}": {"endpoint_name": "Secondary"},
    f"{API}/templates": {"name": "follow-up", "body": "Halo {nama}, sampai jumpa lagi."},
    f"{API}/templates/{{N}}": {"body": "Halo {nama}, jangan lupa besok jam {jam}."},
    f"{API}/event-endpoints": {
        "url": "https://93.184.216.34/booqing",
        "events": ["message.status"],
    },
    f"{HOOK}/{{WA}}": webhook_envelope(SESSION_A),
    f"{HOOK}/{{WB}}": webhook_envelope(SESSION_B),
    f"{HOOK}/{{X}}": webhook_envelope(SESSION_A),
    f"{HOOK}/{{WA}}/{{KA}}": webhook_envelope(SESSION_A),
    f"{HOOK}/{{WA}}/{{KB}}": webhook_envelope(SESSION_A),
}


# fmt: off
# Tenant pages, written for tenant A's host: admin = alice, staff = bob, outsider = charlie.
# `tenant_rows` mirrors each row onto tenant B's host with every A id swapped for B's.
TENANT_PAGES = [
    # method  path                                        anon    admin  staff  outsider root
    ("POST",  f"{DEV}/new",                               LOGIN,  302,   403,   403,     403),
    ("GET",   f"{DEV}/new",                               LOGIN,  405,   403,   403,     403),
    ("GET",   f"{DEV}/{{DA}}",                            LOGIN,  200,   200,   403,     403),
    ("POST",  f"{DEV}/{{DA}}",                            LOGIN,  405,   405,   403,     403),
    ("POST",  f"{DEV}/{{DA}}/qr",                         LOGIN,  302,   403,   403,     403),
    ("GET",   f"{DEV}/{{DA}}/qr",                         LOGIN,  405,   403,   403,     403),
    ("POST",  f"{DEV}/{{DA}}/restart",                    LOGIN,  302,   403,   403,     403),
    ("POST",  f"{DEV}/{{DA}}/logout",                     LOGIN,  302,   403,   403,     403),
    ("POST",  f"{DEV}/{{DA}}/pairing-code",               LOGIN,  200,   403,   403,     403),
    ("GET",   f"{DEV}/{{DA}}/pairing-code",               LOGIN,  405,   403,   403,     403),
    ("POST",  f"{DEV}/{{DA}}/delete",                     LOGIN,  302,   403,   403,     403),
    ("GET",   f"{DEV}/{{DA}}/delete",                     LOGIN,  405,   403,   403,     403),
    ("GET",   f"{DEV}/{{DA}}/timeline",                   LOGIN,  200,   200,   403,     403),
    ("POST",  f"{DEV}/{{DA}}/timeline",                   LOGIN,  405,   405,   403,     403),
    ("GET",   f"{INBOX}/",                                LOGIN,  200,   200,   403,     403),
    ("POST",  f"{INBOX}/",                                LOGIN,  405,   405,   403,     403),
    ("POST",  f"{INBOX}/new",                             LOGIN,  302,   302,   403,     403),
    ("GET",   f"{INBOX}/{{CA}}",                          LOGIN,  200,   200,   403,     403),
    ("POST",  f"{INBOX}/{{CA}}/reply",                    LOGIN,  302,   302,   403,     403),
    ("GET",   f"{INBOX}/poll",                            LOGIN,  200,   200,   403,     403),
    ("GET",   f"{INBOX}/{{CA}}/poll",                     LOGIN,  200,   200,   403,     403),
    ("POST",  f"{INBOX}/{{CA}}/contact",                  LOGIN,  302,   302,   403,     403),
    ("POST",  f"{INBOX}/{{CA}}/messages/{{MA}}/retry",    LOGIN,  302,   302,   403,     403),
    # the thread's message failed: it is not one that may have been sent, so nothing to decide
    ("POST",  f"{INBOX}/{{CA}}/messages/{{MA}}/send-again", LOGIN, 409,  409,   403,     403),
    ("POST",  f"{INBOX}/{{CA}}/messages/{{MA}}/mark-sent", LOGIN, 409,   409,   403,     403),
    ("GET",   TOKENS,                                     LOGIN,  200,   403,   403,     403),
    ("POST",  f"{TOKENS}/new",                            LOGIN,  201,   403,   403,     403),
    ("POST",  f"{TOKENS}/{{TA}}/revoke",                  LOGIN,  302,   403,   403,     403),
    # another tenant's objects (and missing ones) from this host: 404, never a 403 that confirms
    # them; admin-only URLs refuse staff before looking anything up, so staff get 403 for any id
    ("GET",   f"{DEV}/{{DB}}",                            LOGIN,  404,   404,   403,     403),
    ("POST",  f"{DEV}/{{DB}}/qr",                         LOGIN,  404,   403,   403,     403),
    ("POST",  f"{DEV}/{{DB}}/restart",                    LOGIN,  404,   403,   403,     403),
    ("POST",  f"{DEV}/{{DB}}/logout",                     LOGIN,  404,   403,   403,     403),
    ("POST",  f"{DEV}/{{DB}}/pairing-code",               LOGIN,  404,   403,   403,     403),
    ("POST",  f"{DEV}/{{DB}}/delete",                     LOGIN,  404,   403,   403,     403),
    ("GET",   f"{DEV}/{{X}}",                             LOGIN,  404,   404,   403,     403),
    ("GET",   f"{DEV}/{{DB}}/timeline",                   LOGIN,  404,   404,   403,     403),
    ("GET",   f"{INBOX}/{{CB}}",                          LOGIN,  404,   404,   403,     403),
    ("POST",  f"{INBOX}/{{CB}}/reply",                    LOGIN,  404,   404,   403,     403),
    ("GET",   f"{INBOX}/{{CB}}/poll",                     LOGIN,  404,   404,   403,     403),
    ("POST",  f"{INBOX}/{{CB}}/contact",                  LOGIN,  404,   404,   403,     403),
    ("POST",  f"{INBOX}/{{CB}}/messages/{{MB}}/retry",    LOGIN,  404,   404,   403,     403),
    ("POST",  f"{INBOX}/{{CA}}/messages/{{MB}}/retry",    LOGIN,  404,   404,   403,     403),
    ("POST",  f"{INBOX}/{{CB}}/messages/{{MB}}/send-again", LOGIN, 404,  404,   403,     403),
    ("POST",  f"{INBOX}/{{CB}}/messages/{{MB}}/mark-sent", LOGIN, 404,   404,   403,     403),
    ("GET",   f"{INBOX}/{{X}}",                           LOGIN,  404,   404,   403,     403),
    ("POST",  f"{TOKENS}/{{TB}}/revoke",                  LOGIN,  404,   403,   403,     403),
]

# The tenant API, seen from tenant A's host.
TENANT_API = [
    # method   path                                       anon   admin  staff  outsider root
    ("GET",    f"{API}/devices",                          401,   200,   200,   403,     403),
    ("POST",   f"{API}/devices",                          401,   201,   403,   403,     403),
    ("PUT",    f"{API}/devices",                          405,   405,   405,   405,     405),
    ("GET",    f"{API}/devices/{{DA}}",                   401,   200,   200,   403,     403),
    ("DELETE", f"{API}/devices/{{DA}}",                   401,   200,   403,   403,     403),
    ("POST",   f"{API}/devices/{{DA}}/qr",                401,   200,   403,   403,     403),
    ("POST",   f"{API}/devices/{{DA}}/restart",           401,   200,   403,   403,     403),
    ("POST",   f"{API}/devices/{{DA}}/logout",            401,   200,   403,   403,     403),
    ("POST",   f"{API}/devices/{{DA}}/pairing-code",      401,   200,   403,   403,     403),
    ("GET",    f"{API}/devices/{{DA}}/pairing-code",      405,   405,   405,   405,     405),
    ("GET",    f"{API}/devices/{{DA}}/logout",            405,   405,   405,   405,     405),
    ("GET",    f"{API}/messages",                         401,   200,   200,   403,     403),
    ("POST",   f"{API}/messages",                         401,   202,   202,   403,     403),
    ("GET",    f"{API}/messages/{{MA}}",                  401,   200,   200,   403,     403),
    ("DELETE", f"{API}/messages/{{MA}}",                  405,   405,   405,   405,     405),
    ("POST",   f"{API}/messages/{{MA}}/retry",            401,   202,   202,   403,     403),
    ("POST",   f"{API}/messages/{{MA}}/send-again",       401,   409,   409,   403,     403),
    ("POST",   f"{API}/messages/{{MA}}/mark-sent",        401,   409,   409,   403,     403),
    ("POST",   f"{API}/messages/{{MA}}/cancel",           401,   409,   409,   403,     403),
    ("GET",    f"{API}/messages/{{MA}}/retry",            405,   405,   405,   405,     405),
    ("GET",    f"{API}/conversations",                    401,   200,   200,   403,     403),
    ("POST",   f"{API}/conversations",                    405,   405,   405,   405,     405),
    ("GET",    f"{API}/devices/{{DB}}",                   401,   404,   404,   403,     403),
    ("DELETE", f"{API}/devices/{{DB}}",                   401,   404,   403,   403,     403),
    ("POST",   f"{API}/devices/{{DB}}/qr",                401,   404,   403,   403,     403),
    ("POST",   f"{API}/devices/{{DB}}/restart",           401,   404,   403,   403,     403),
    ("POST",   f"{API}/devices/{{DB}}/logout",            401,   404,   403,   403,     403),
    ("POST",   f"{API}/devices/{{DB}}/pairing-code",      401,   404,   403,   403,     403),
    ("GET",    f"{API}/devices/{{X}}",                    401,   404,   404,   403,     403),
    ("GET",    f"{API}/messages/{{MB}}",                  401,   404,   404,   403,     403),
    ("GET",    f"{API}/messages/{{X}}",                   401,   404,   404,   403,     403),
    ("POST",   f"{API}/messages/{{MB}}/retry",            401,   404,   404,   403,     403),
    ("POST",   f"{API}/messages/{{MB}}/mark-sent",        401,   404,   404,   403,     403),
]

# The same API on the platform host: a session names no tenant there (only a token does).
T_REQ = 400  # tenant_required
PLATFORM_API = [
    ("GET",    f"{API}/devices",                   P,  401,   T_REQ, T_REQ, T_REQ, T_REQ),
    ("POST",   f"{API}/devices",                   P,  401,   T_REQ, T_REQ, T_REQ, T_REQ),
    ("GET",    f"{API}/devices/{{DA}}",            P,  401,   T_REQ, T_REQ, T_REQ, T_REQ),
    ("DELETE", f"{API}/devices/{{DA}}",            P,  401,   T_REQ, T_REQ, T_REQ, T_REQ),
    ("POST",   f"{API}/devices/{{DA}}/qr",         P,  401,   T_REQ, T_REQ, T_REQ, T_REQ),
    ("POST",   f"{API}/devices/{{DA}}/restart",    P,  401,   T_REQ, T_REQ, T_REQ, T_REQ),
    ("POST",   f"{API}/devices/{{DA}}/logout",     P,  401,   T_REQ, T_REQ, T_REQ, T_REQ),
    ("POST",   f"{API}/devices/{{DA}}/pairing-code", P, 401, T_REQ, T_REQ, T_REQ, T_REQ),
    ("GET",    f"{API}/devices/{{DB}}",            P,  401,   T_REQ, T_REQ, T_REQ, T_REQ),
    ("DELETE", f"{API}/devices/{{DB}}",            P,  401,   T_REQ, T_REQ, T_REQ, T_REQ),
    ("GET",    f"{API}/messages",                  P,  401,   T_REQ, T_REQ, T_REQ, T_REQ),
    ("POST",   f"{API}/messages",                  P,  401,   T_REQ, T_REQ, T_REQ, T_REQ),
    ("GET",    f"{API}/messages/{{MA}}",           P,  401,   T_REQ, T_REQ, T_REQ, T_REQ),
    ("GET",    f"{API}/messages/{{MB}}",           P,  401,   T_REQ, T_REQ, T_REQ, T_REQ),
    ("GET",    f"{API}/conversations",             P,  401,   T_REQ, T_REQ, T_REQ, T_REQ),
]

# Served on every host, whoever asks.
EVERY_HOST = [
    # gateways post here with no session and no CSRF token: the per-device signature is the
    # only way in, so an unsigned delivery is refused for everyone (and an unknown id is a 404)
    # a device whose URL has a token refuses its bare URL like an unknown one
    ("POST",   f"{HOOK}/{{WA}}",                   404,   404,   404,   404,     404),
    ("POST",   f"{HOOK}/{{WB}}",                   404,   404,   404,   404,     404),
    ("POST",   f"{HOOK}/{{X}}",                    404,   404,   404,   404,     404),
    ("GET",    f"{HOOK}/{{WA}}",                   405,   405,   405,   405,     405),
    # the URL's token is required too: the right one still needs the signature, a wrong one
    # (another device's) is an unknown webhook
    ("POST",   f"{HOOK}/{{WA}}/{{KA}}",            401,   401,   401,   401,     401),
    ("POST",   f"{HOOK}/{{WA}}/{{KB}}",            404,   404,   404,   404,     404),
    # a session is no metrics credential, not even the superadmin's
    ("GET",    "/metrics",                         401,   401,   401,   401,     401),
    ("POST",   "/metrics",                         405,   405,   405,   405,     405),
    ("GET",    "/healthz",                         200,   200,   200,   200,     200),
    ("POST",   "/healthz",                         405,   405,   405,   405,     405),
    ("GET",    "/readyz",                          200,   200,   200,   200,     200),
]
# fmt: on


def on_host(host: str, rows: list[tuple]) -> list[tuple]:
    """(method, path, anon, alice, bob, charlie, root) rows placed on `host`."""
    return [(method, path, host, *statuses) for method, path, *statuses in rows]


def tenant_rows(rows: list[tuple]) -> list[tuple]:
    """Rows written for tenant A's host, placed on A's host and mirrored onto B's host.

    The mirror swaps every A id for B's (and back): on B's host charlie gets A's admin column,
    alice and bob get A's outsider column (tenant B has no staff member).
    """
    swap = {"{DA}": "{DB}", "{CA}": "{CB}", "{MA}": "{MB}", "{TA}": "{TB}", "{WA}": "{WB}"}
    swap |= {v: k for k, v in swap.items()}
    pattern = re.compile("|".join(re.escape(k) for k in swap))
    placed = []
    for method, path, anon, admin, staff, outsider, root in rows:
        placed.append((method, path, A, anon, admin, staff, outsider, root))
        mirrored = pattern.sub(lambda m: swap[m.group()], path)
        placed.append((method, mirrored, B, anon, outsider, outsider, admin, root))
    return placed


# Tenant pages do not exist on the platform host at all.
PLATFORM_PAGES = [
    (method, path, P, 404, 404, 404, 404, 404)
    for method, path, *_ in TENANT_PAGES
    if "B}" not in path and "{X}" not in path
]

DEVICES_MATRIX = [
    *tenant_rows(TENANT_PAGES),
    *PLATFORM_PAGES,
    *tenant_rows(TENANT_API),
    *PLATFORM_API,
    *on_host(P, EVERY_HOST),
    *on_host(A, EVERY_HOST),
    *on_host(B, EVERY_HOST),
]

# fmt: off
# Tenant A's API token (Bearer, no session, CSRF enforced) on each host, and a revoked one.
TOKEN_COLUMNS = ("A@platform", "A@acme", "A@globex", "revoked@platform", "revoked@acme",
                 "revoked@globex")
TOKEN_MATRIX = [
    # method   path                                  A@P    A@A    A@B    rev@P  rev@A  rev@B
    ("GET",    f"{API}/devices",                     200,   200,   403,   401,   401,   401),
    ("POST",   f"{API}/devices",                     201,   201,   403,   401,   401,   401),
    ("GET",    f"{API}/devices/{{DA}}",              200,   200,   403,   401,   401,   401),
    ("DELETE", f"{API}/devices/{{DA}}",              200,   200,   403,   401,   401,   401),
    ("POST",   f"{API}/devices/{{DA}}/qr",           200,   200,   403,   401,   401,   401),
    ("POST",   f"{API}/devices/{{DA}}/restart",      200,   200,   403,   401,   401,   401),
    ("POST",   f"{API}/devices/{{DA}}/logout",       200,   200,   403,   401,   401,   401),
    ("POST",   f"{API}/devices/{{DA}}/pairing-code", 200,   200,   403,   401,   401,   401),
    ("GET",    f"{API}/messages",                    200,   200,   403,   401,   401,   401),
    ("POST",   f"{API}/messages",                    202,   202,   403,   401,   401,   401),
    ("GET",    f"{API}/messages/{{MA}}",             200,   200,   403,   401,   401,   401),
    ("GET",    f"{API}/conversations",               200,   200,   403,   401,   401,   401),
    ("GET",    f"{API}/devices/{{DB}}",              404,   404,   403,   401,   401,   401),
    ("DELETE", f"{API}/devices/{{DB}}",              404,   404,   403,   401,   401,   401),
    ("POST",   f"{API}/devices/{{DB}}/qr",           404,   404,   403,   401,   401,   401),
    ("POST",   f"{API}/devices/{{DB}}/restart",      404,   404,   403,   401,   401,   401),
    ("POST",   f"{API}/devices/{{DB}}/logout",       404,   404,   403,   401,   401,   401),
    ("POST",   f"{API}/devices/{{DB}}/pairing-code", 404,   404,   403,   401,   401,   401),
    ("GET",    f"{API}/devices/{{X}}",               404,   404,   403,   401,   401,   401),
    ("GET",    f"{API}/messages/{{MB}}",             404,   404,   403,   401,   401,   401),
    ("GET",    f"{API}/tenant-config/{{A}}",         200,   200,   403,   401,   401,   401),
    ("GET",    f"{API}/tenant-config/{{B}}",         404,   404,   403,   401,   401,   401),
    ("POST",   f"{API}/tenant-config/{{A}}",         403,   403,   403,   401,   401,   401),
    ("GET",    f"{API}/available-endpoints",         403,   403,   403,   401,   401,   401),
    # pages are for people: a token is no session there
    ("GET",    f"{DEV}/{{DA}}",                      404,   LOGIN, LOGIN, 404,   LOGIN, LOGIN),
    # (a form post from a server has no CSRF cookie: CSRF refuses it before the view runs)
    ("POST",   f"{DEV}/{{DA}}/delete",               404,   403,   403,   404,   403,   403),
    ("POST",   f"{TOKENS}/new",                      404,   403,   403,   404,   403,   403),
    # nor a metrics or webhook credential
    ("GET",    "/metrics",                           401,   401,   401,   401,   401,   401),
    ("POST",   f"{HOOK}/{{WA}}/{{KA}}",              401,   401,   401,   401,   401,   401),
]
# fmt: on
TOKEN_HOSTS = (P, A, B, P, A, B)

ALL_SCOPES = ("messages", "devices")
# fmt: off
# Every API route x token scope (issue 9): tenant A's tokens with one scope each, and both, on
# the platform host. Managing devices needs `devices`; messages need `messages`; reading devices
# and the tenant's own config takes any scope; the superadmin's operations take no token.
SCOPE_COLUMNS = ("messages", "devices", "messages+devices")
SCOPE_MATRIX = [
    # method   path                                  messages devices  both
    ("GET",    f"{API}/devices",                     200,     200,     200),
    ("POST",   f"{API}/devices",                     403,     201,     201),
    ("GET",    f"{API}/devices/{{DA}}",              200,     200,     200),
    ("DELETE", f"{API}/devices/{{DA}}",              403,     200,     200),
    ("POST",   f"{API}/devices/{{DA}}/qr",           403,     200,     200),
    ("POST",   f"{API}/devices/{{DA}}/restart",      403,     200,     200),
    ("POST",   f"{API}/devices/{{DA}}/logout",       403,     200,     200),
    ("POST",   f"{API}/devices/{{DA}}/pairing-code", 403,     200,     200),
    ("DELETE", f"{API}/devices/{{DB}}",              403,     404,     404),
    ("POST",   f"{API}/messages",                    202,     403,     202),
    ("GET",    f"{API}/messages",                    200,     403,     200),
    ("GET",    f"{API}/messages/{{MA}}",             200,     403,     200),
    ("GET",    f"{API}/conversations",               200,     403,     200),
    ("GET",    f"{API}/tenant-config/{{A}}",         200,     200,     200),
    ("POST",   f"{API}/tenant-config/{{A}}",         403,     403,     403),
    ("DELETE", f"{API}/tenant-config/{{A}}",         403,     403,     403),
    ("GET",    f"{API}/available-endpoints",         403,     403,     403),
    # issue 8: settling a message is sending it
    ("POST",   f"{API}/messages/{{MA}}/retry",       202,     403,     202),
    ("POST",   f"{API}/messages/{{MA}}/send-again",  409,     403,     409),
    ("POST",   f"{API}/messages/{{MA}}/mark-sent",   409,     403,     409),
    ("POST",   f"{API}/messages/{{MA}}/cancel",      409,     403,     409),
    # issue 12: the number check is part of sending; event endpoints and template changes are
    # workspace management, like devices
    # (409: tenant A's device is not connected, so nobody can be asked)
    ("GET",    f"{API}/contacts/check?phone=%2B6281234567890", 409, 403, 409),
    ("GET",    f"{API}/templates",                   200,     403,     200),
    ("POST",   f"{API}/templates",                   403,     201,     201),
    ("PATCH",  f"{API}/templates/{{N}}",          403,     200,     200),
    ("DELETE", f"{API}/templates/{{N}}",          403,     200,     200),
    ("GET",    f"{API}/event-endpoints",             403,     200,     200),
    ("POST",   f"{API}/event-endpoints",             403,     201,     201),
    ("GET",    f"{API}/event-endpoints/{{X}}",       403,     404,     404),
    ("DELETE", f"{API}/event-endpoints/{{X}}",       403,     404,     404),
    ("GET",    f"{API}/event-endpoints/{{X}}/deliveries", 403, 404,    404),
    ("POST",   f"{API}/event-endpoints/{{X}}/deliveries/{{X}}/replay", 403, 404, 404),
]
# fmt: on

# 409: allowed in, but a business rule said no (e.g. nothing to decide): it changes nothing either.
DEVICES_DENIED = {LOGIN, 400, 401, 403, 404, 405, 409}


# --- BOOKING_MATRIX: event endpoints, templates, quick replies, number check -------------------
EV = f"{WA}/event-endpoints"
TPL = f"{WA}/templates"
# Placeholders: E endpoint, V delivery, C conversation; A/B the tenant; X a missing id.
# Tenant B has a template only it has, "globex-only"; both have the starter "reminder".
CHECK = f"{API}/contacts/check?phone=081234567890"

BOOKING_BODIES = {
    f"{EV}/new": {"url": "https://booking.example.com/events", "events": ["message.status"]},
    f"{API}/event-endpoints": {
        "url": "https://booking.example.com/events",
        "events": ["message.status", "device.status"],
    },
    f"{TPL}/new": {"name": "promo", "body": "Diskon {persen}%"},
    f"{TPL}/{{NA}}/edit": {"body": "Halo {nama}, sampai jumpa {jam}."},
    f"{TPL}/{{NB}}/edit": {"body": "Halo {nama}."},
    f"{API}/templates": {"name": "promo", "body": "Diskon {persen}%"},
    f"{API}/templates/{{NA}}": {"body": "Halo {nama}, sampai jumpa {jam}."},
    f"{API}/templates/{{NB}}": {"body": "Halo {nama}."},
    f"{API}/templates/nothing-here": {"body": "Halo {nama}."},
    f"{INBOX}/{{CA}}/quick-reply": {"template": "thanks", "var_nama": "Budi"},
    f"{INBOX}/{{CB}}/quick-reply": {"template": "thanks", "var_nama": "Budi"},
    f"{WA}/settings/save": {
        "quiet_hours_start": "21:00",
        "quiet_hours_end": "07:00",
        "message_expiry_hours": "12",
    },
    f"{WA}/settings/devices/{{DA}}/pacing": {"min_send_gap_ms": "1500", "daily_send_cap": "300"},
    f"{WA}/settings/devices/{{DB}}/pacing": {"min_send_gap_ms": "1500", "daily_send_cap": "300"},
    f"{WA}/settings/devices/{{X}}/pacing": {"min_send_gap_ms": "1500", "daily_send_cap": "300"},
}

# fmt: off
BOOKING_PAGES = [
    # method  path                                           anon   admin  staff  outsider root
    ("GET",   EV,                                            LOGIN, 200,   403,   403,     403),
    ("POST",  EV,                                            LOGIN, 405,   403,   403,     403),
    ("POST",  f"{EV}/new",                                   LOGIN, 201,   403,   403,     403),
    ("GET",   f"{EV}/new",                                   LOGIN, 405,   403,   403,     403),
    ("POST",  f"{EV}/{{EA}}/delete",                         LOGIN, 302,   403,   403,     403),
    ("POST",  f"{EV}/{{EA}}/deliveries/{{VA}}/replay",       LOGIN, 302,   403,   403,     403),
    ("GET",   f"{EV}/{{EA}}/deliveries/{{VA}}/replay",       LOGIN, 405,   403,   403,     403),
    ("GET",   TPL,                                           LOGIN, 200,   403,   403,     403),
    ("POST",  f"{TPL}/new",                                  LOGIN, 302,   403,   403,     403),
    ("POST",  f"{TPL}/{{NA}}/edit",                        LOGIN, 302,   403,   403,     403),
    ("POST",  f"{TPL}/{{NA}}/delete",                      LOGIN, 302,   403,   403,     403),
    ("GET",   f"{TPL}/{{NA}}/delete",                      LOGIN, 405,   403,   403,     403),
    ("POST",  f"{INBOX}/{{CA}}/quick-reply",                 LOGIN, 302,   302,   403,     403),
    ("GET",   f"{INBOX}/{{CA}}/quick-reply",                 LOGIN, 405,   405,   403,     403),
    # another tenant's objects and missing ones: 404 (staff are refused admin URLs first)
    ("POST",  f"{EV}/{{EB}}/delete",                         LOGIN, 404,   403,   403,     403),
    ("POST",  f"{EV}/{{X}}/delete",                          LOGIN, 404,   403,   403,     403),
    ("POST",  f"{EV}/{{EB}}/deliveries/{{VB}}/replay",       LOGIN, 404,   403,   403,     403),
    ("POST",  f"{EV}/{{EA}}/deliveries/{{VB}}/replay",       LOGIN, 404,   403,   403,     403),
    ("POST",  f"{TPL}/{{NB}}/edit",                     LOGIN, 404,   403,   403,     403),
    ("POST",  f"{TPL}/{{NB}}/delete",                   LOGIN, 404,   403,   403,     403),
    ("POST",  f"{INBOX}/{{CB}}/quick-reply",                 LOGIN, 404,   404,   403,     403),
    # sending settings (quiet hours, expiry, pacing): admins only
    ("GET",   f"{WA}/settings",                              LOGIN, 200,   403,   403,     403),
    ("POST",  f"{WA}/settings",                              LOGIN, 405,   403,   403,     403),
    ("POST",  f"{WA}/settings/save",                         LOGIN, 302,   403,   403,     403),
    ("GET",   f"{WA}/settings/save",                         LOGIN, 405,   403,   403,     403),
    ("POST",  f"{WA}/settings/devices/{{DA}}/pacing",        LOGIN, 302,   403,   403,     403),
    ("GET",   f"{WA}/settings/devices/{{DA}}/pacing",        LOGIN, 405,   403,   403,     403),
    ("POST",  f"{WA}/settings/devices/{{DB}}/pacing",        LOGIN, 404,   403,   403,     403),
    ("POST",  f"{WA}/settings/devices/{{X}}/pacing",         LOGIN, 404,   403,   403,     403),
]

BOOKING_TENANT_API = [
    # method   path                                              anon admin staff outsider root
    ("GET",    f"{API}/event-endpoints",                         401, 200,  403,  403,     403),
    ("POST",   f"{API}/event-endpoints",                         401, 201,  403,  403,     403),
    ("PUT",    f"{API}/event-endpoints",                         405, 405,  405,  405,     405),
    ("GET",    f"{API}/event-endpoints/{{EA}}",                  401, 200,  403,  403,     403),
    ("DELETE", f"{API}/event-endpoints/{{EA}}",                  401, 200,  403,  403,     403),
    ("GET",    f"{API}/event-endpoints/{{EA}}/deliveries",       401, 200,  403,  403,     403),
    ("POST",   f"{API}/event-endpoints/{{EA}}/deliveries/{{VA}}/replay", 401, 202, 403, 403, 403),
    ("GET",    f"{API}/templates",                               401, 200,  200,  403,     403),
    ("POST",   f"{API}/templates",                               401, 201,  403,  403,     403),
    ("PATCH",  f"{API}/templates/{{NA}}",                      401, 200,  403,  403,     403),
    ("DELETE", f"{API}/templates/{{NA}}",                      401, 200,  403,  403,     403),
    ("GET",    CHECK,                                            401, 200,  200,  403,     403),
    ("POST",   CHECK,                                            405, 405,  405,  405,     405),
    ("GET",    f"{API}/event-endpoints/{{EB}}",                  401, 404,  403,  403,     403),
    ("GET",    f"{API}/event-endpoints/{{X}}",                   401, 404,  403,  403,     403),
    ("DELETE", f"{API}/event-endpoints/{{EB}}",                  401, 404,  403,  403,     403),
    ("GET",    f"{API}/event-endpoints/{{EB}}/deliveries",       401, 404,  403,  403,     403),
    ("POST",   f"{API}/event-endpoints/{{EB}}/deliveries/{{VB}}/replay", 401, 404, 403, 403, 403),
    ("POST",   f"{API}/event-endpoints/{{EA}}/deliveries/{{VB}}/replay", 401, 404, 403, 403, 403),
    ("PATCH",  f"{API}/templates/{{NB}}",                   401, 404,  403,  403,     403),
    ("DELETE", f"{API}/templates/{{NB}}",                   401, 404,  403,  403,     403),
]

BOOKING_PLATFORM_API = [
    (method, path, P, 401 if anon == 401 else anon, *([T_REQ] * 4))
    for method, path, anon, *_ in BOOKING_TENANT_API if anon == 401
]
BOOKING_PLATFORM_PAGES = [
    (method, path, P, 404, 404, 404, 404, 404)
    for method, path, *_ in BOOKING_PAGES
    if "B}" not in path
]

BOOKING_MATRIX = [
    *[(m, p, A, *e) for m, p, *e in BOOKING_PAGES],
    *BOOKING_PLATFORM_PAGES,
    *[(m, p, A, *e) for m, p, *e in BOOKING_TENANT_API],
    *BOOKING_PLATFORM_API,
]

BOOKING_TOKEN_COLUMNS = ("A@platform", "A@acme", "A@globex", "revoked@platform", "revoked@acme")
BOOKING_TOKEN_HOSTS = (P, A, B, P, A)
BOOKING_TOKEN_MATRIX = [
    # method   path                                                   A@P  A@A  A@B  rev@P rev@A
    ("GET",    f"{API}/event-endpoints",                              200, 200, 403, 401,  401),
    ("POST",   f"{API}/event-endpoints",                              201, 201, 403, 401,  401),
    ("GET",    f"{API}/event-endpoints/{{EA}}",                       200, 200, 403, 401,  401),
    ("DELETE", f"{API}/event-endpoints/{{EA}}",                       200, 200, 403, 401,  401),
    ("GET",    f"{API}/event-endpoints/{{EA}}/deliveries",            200, 200, 403, 401,  401),
    ("POST",   f"{API}/event-endpoints/{{EA}}/deliveries/{{VA}}/replay", 202, 202, 403, 401, 401),
    ("GET",    f"{API}/templates",                                    200, 200, 403, 401,  401),
    ("POST",   f"{API}/templates",                                    201, 201, 403, 401,  401),
    ("PATCH",  f"{API}/templates/{{NA}}",                           200, 200, 403, 401,  401),
    ("DELETE", f"{API}/templates/{{NA}}",                           200, 200, 403, 401,  401),
    ("GET",    CHECK,                                                 200, 200, 403, 401,  401),
    ("GET",    f"{API}/event-endpoints/{{EB}}",                       404, 404, 403, 401,  401),
    ("DELETE", f"{API}/event-endpoints/{{EB}}",                       404, 404, 403, 401,  401),
    ("POST",   f"{API}/event-endpoints/{{EA}}/deliveries/{{VB}}/replay", 404, 404, 403, 401, 401),
    ("PATCH",  f"{API}/templates/{{NB}}",                        404, 404, 403, 401,  401),
    # pages are for people: a token is no session there
    ("GET",    EV,                                                  404, LOGIN, LOGIN, 404, LOGIN),
    ("POST",   f"{EV}/new",                                           404, 403, 403, 404,  403),
]
# fmt: on
BOOKING_DENIED = {LOGIN, 400, 401, 403, 404, 405}
BOOKING_SNAPSHOT_MODELS = (
    EventEndpoint,
    EventDelivery,
    MessageTemplate,
    ContactCheck,
    Message,
    AuditEvent,
    Device,
    TenantWhatsAppConfig,
)


# =================================================================================================
# CONFIG_MATRIX: how a row is sent and checked, and the tests
# =================================================================================================


def config_cases():
    for method, path, host, *expected in CONFIG_MATRIX:
        for role, status in zip(ROLES, expected, strict=True):
            yield pytest.param(
                method,
                path,
                host,
                role,
                status,
                id=f"{method} {path} @{host} as {role} -> {status}",
            )


def send_config(client, method: str, path: str, raw_path: str):
    body = CONFIG_BODIES.get(raw_path)
    if raw_path.startswith("/api/"):
        return client.generic(
            method, path, json.dumps(body) if body is not None else "", "application/json"
        )
    if method == "POST":
        return client.post(path, body or {})
    return client.generic(method, path)


@pytest.fixture
def assigned(cast):
    """Both tenants have an endpoint: reads have something to show, removals something to remove."""
    for tenant in (cast.tenant_a, cast.tenant_b):
        TenantWhatsAppConfig.objects.create(
            tenant=tenant, endpoint_name="Primary", is_configured=True
        )
    return cast


@pytest.mark.parametrize(("method", "path", "host", "role", "expected"), list(config_cases()))
def test_the_config_urls_answer_each_role_on_each_host_as_the_matrix_says(
    assigned, method, path, host, role, expected
):
    cast = assigned
    client = client_for(user_for(cast, role), HOSTS[host])
    before = config_snapshot()

    response = send_config(client, method, resolve(path, cast), path)

    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    elif expected == DJLOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith("/django-admin/login/")
    else:
        assert response.status_code == expected, response.content[:300]
    if path.startswith("/api/") and host != NOWHERE and response.status_code >= 400:
        assert set(response.json()) == {"error"}, "API errors are JSON"
    if method in UNSAFE and expected in CONFIG_DENIED:
        assert config_snapshot() == before, "a denied write changed the database"


def test_the_config_matrix_lists_each_url_once_per_host():
    keys = [(method, path, host) for method, path, host, *_ in CONFIG_MATRIX]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(
    ("role", "host", "other"),
    [
        ("alice", A, "{B}"),
        ("bob", A, "{B}"),
        ("charlie", B, "{A}"),
        ("alice", P, "{B}"),
        ("charlie", P, "{A}"),
        ("alice", B, "{B}"),
        ("charlie", A, "{A}"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_the_config_api_answers_another_tenants_id_exactly_like_a_missing_one(
    assigned, role, host, other, method
):
    """A non-superuser cannot tell whether another tenant's id exists."""
    cast = assigned
    client = client_for(user_for(cast, role), HOSTS[host])

    existing = send_config(client, method, resolve(f"{CFG}/{other}", cast), f"{CFG}/{other}")
    missing = send_config(client, method, resolve(f"{CFG}/{{X}}", cast), f"{CFG}/{{X}}")

    assert existing.status_code == missing.status_code
    assert existing.status_code in (403, 404)
    other_id = resolve(other, cast)
    assert existing.content.decode().replace(other_id, "<id>") == missing.content.decode().replace(
        MISSING_ID, "<id>"
    )


def test_it_lets_a_member_read_only_their_own_tenants_config(assigned):
    cast = assigned

    response = client_for(cast.bob, cast.host_a).get(f"{CFG}/{cast.tenant_a.pk}")

    assert response.json()["config"]["tenant_id"] == str(cast.tenant_a.pk)


def test_it_makes_a_session_from_one_tenant_useless_on_another(cast):
    """Even a leaked cookie would not help: membership is checked on every request."""
    client = client_for(cast.alice, cast.host_a)
    assert client.get("/admin/whatsapp").status_code == 200

    client.defaults["HTTP_HOST"] = cast.host_b

    assert client.get("/admin/whatsapp").status_code == 403
    assert client.get(f"{CFG}/{cast.tenant_b.pk}").status_code == 403


def test_it_explains_a_403_on_a_friendly_page(cast):
    response = client_for(cast.alice).get("/admin/tenants/")

    assert response.status_code == 403
    page = response.content.decode()
    assert "<h1>Not allowed</h1>" in page
    assert "This page is for platform administrators." in page
    assert "Traceback" not in page


def test_it_explains_a_tenant_page_403_by_naming_the_workspace(cast):
    response = client_for(cast.charlie, cast.host_a).get("/admin/whatsapp")

    assert response.status_code == 403
    assert "You are not a member of Acme Salon." in response.content.decode()


# =================================================================================================
# DEVICES_MATRIX, TOKEN_MATRIX, SCOPE_MATRIX: the world, the checks, the tests
# =================================================================================================


# A new Client builds the whole middleware stack on its first request, and whitenoise scans every
# static file while doing so (~0.1 s): the matrix would spend most of its time there. One handler
# per CSRF mode serves every client of this module instead.
HANDLERS = {mode: ClientHandler(enforce_csrf_checks=mode) for mode in (False, True)}


def session_for(user) -> str:
    """A logged-in session key for `user`, as `Client.force_login` makes (minus its extra work)."""
    session = SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


def quick_client(session: str | None, host: str, *, enforce_csrf: bool = False) -> Client:
    client = Client(HTTP_HOST=host, enforce_csrf_checks=enforce_csrf)
    client.handler = HANDLERS[enforce_csrf]
    if session:
        client.cookies[django_settings.SESSION_COOKIE_NAME] = session
    return client


@dataclass
class World:
    cast: Cast
    ids: dict[str, str]
    token_a: str
    revoked_a: str
    sessions: dict[str, str]

    def fill(self, text: str) -> str:
        for name in PLACEHOLDERS:
            text = text.replace(f"{{{name}}}", self.ids[name])
        return text

    def client(self, role: str, host: str) -> Client:
        """`role` (anon, alice, bob, charlie, root) on one of the matrix hosts."""
        return quick_client(self.sessions.get(role), HOSTS[host])

    def bearer(self, raw_token: str, host: str) -> Client:
        """A server calling with a tenant API token: no session, so CSRF is enforced."""
        client = quick_client(None, HOSTS[host], enforce_csrf=True)
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {raw_token}"
        return client


def waha_session(name: str, status: str) -> dict:
    return {"name": name, "status": status, "me": None, "config": {}, "engine": {"engine": "WEBJS"}}


@pytest.fixture(name="gateway")
def gateway_fixture():
    """The Primary endpoint (WAHA) answering as a healthy gateway with a session waiting for a QR
    scan. Anything else (an unmocked URL) fails the call, which an allowed request would show."""
    host = re.escape(GATEWAY)
    session = r"(?P<name>[a-z0-9_-]+)"

    def named(request) -> str:
        return re.search(rf"/api/(?:sessions/)?{session}", request.url).group("name")

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(
            responses.POST,
            f"{GATEWAY}/api/sessions",
            callback=lambda r: (
                201,
                {},
                json.dumps(waha_session(json.loads(r.body)["name"], "SCAN_QR_CODE")),
            ),
        )
        mock.add_callback(
            responses.GET,
            re.compile(rf"{host}/api/sessions/{session}$"),
            callback=lambda r: (200, {}, json.dumps(waha_session(named(r), "SCAN_QR_CODE"))),
        )
        mock.get(re.compile(rf"{host}/api/{session}/auth/qr"), json={"value": "2@pair-me,abc"})
        mock.post(re.compile(rf"{host}/api/sessions/{session}/(restart|logout)$"), json={})
        mock.post(
            re.compile(rf"{host}/api/{session}/auth/request-code$"),
            status=201,
            json={"code": "ABCD-EFGH"},
        )
        mock.delete(re.compile(rf"{host}/api/sessions/{session}$"), json={})
        yield mock


def make_thread(device: Device) -> tuple[Conversation, Message]:
    """A conversation whose last outbound message failed: reply and retry both have work."""
    conversation = make_conversation(
        device, CUSTOMER, contact_name="Budi", last_message_preview="Reminder"
    )
    message = make_message(
        conversation,
        "Reminder: your booking is tomorrow.",
        status=MessageStatus.FAILED,
        attempts=6,
        last_error="The gateway did not answer.",
    )
    return conversation, message


@pytest.fixture(name="world")
def world_fixture(cast, gateway, settings) -> World:
    """Both tenants on the Primary endpoint, each with a device, a thread and an API token."""
    settings.METRICS_TOKEN = METRICS_TOKEN
    for tenant in (cast.tenant_a, cast.tenant_b):
        services.endpoint_assign(tenant=tenant, endpoint_name="Primary", actor=cast.superadmin)
    device_a = make_device(
        cast.tenant_a, "Front desk", session=SESSION_A, status=DeviceStatus.SCAN_QR
    )
    device_b = make_device(
        cast.tenant_b, "Clinic desk", session=SESSION_B, status=DeviceStatus.SCAN_QR
    )
    for device, token in ((device_a, "token-a-" + "a" * 24), (device_b, "token-b-" + "b" * 24)):
        device.webhook_token = token
        device.save(update_fields=["webhook_token"])
    conversation_a, message_a = make_thread(device_a)
    conversation_b, message_b = make_thread(device_b)
    # Tenant A's token holds both scopes, so TOKEN_MATRIX tests hosts alone; SCOPE_MATRIX
    # tests each scope alone.
    token_a, raw_a = services.api_token_create(
        tenant=cast.tenant_a, name="Booking app", actor=None, scopes=ALL_SCOPES
    )
    token_b, _ = services.api_token_create(tenant=cast.tenant_b, name="Booking app", actor=None)
    revoked, raw_revoked = services.api_token_create(
        tenant=cast.tenant_a, name="Old booking app", actor=None, scopes=ALL_SCOPES
    )
    services.api_token_revoke(token=revoked, actor=None)
    ids = {
        "DA": device_a.pk,
        "DB": device_b.pk,
        "CA": conversation_a.pk,
        "CB": conversation_b.pk,
        "MA": message_a.pk,
        "MB": message_b.pk,
        "TA": token_a.pk,
        "TB": token_b.pk,
        "WA": device_a.webhook_id,
        "WB": device_b.webhook_id,
        "KA": device_a.webhook_token,
        "KB": device_b.webhook_token,
        "A": cast.tenant_a.pk,
        "B": cast.tenant_b.pk,
        "X": MISSING_ID,
        "N": "reminder",
    }
    sessions = {role: session_for(user_for(cast, role)) for role in ROLES if role != "anon"}
    return World(cast, {k: str(v) for k, v in ids.items()}, raw_a, raw_revoked, sessions)


def send(client, method: str, path: str, world: World):
    """Send the row's request: JSON to the API, a form to pages, the row's body if it has one."""
    body = DEVICES_BODIES.get(path)
    url = world.fill(path)
    if path.startswith("/api/"):
        data = world.fill(json.dumps(body)) if body is not None else ""
        return client.generic(method, url, data, "application/json")
    if method == "POST":
        return client.post(url, body or {})
    return client.generic(method, url)


# A token's last_used_at is bookkeeping of the credential, written whenever it authenticates.
IGNORED_FIELDS = {ApiToken: {"last_used_at"}}
SNAPSHOT_MODELS = (
    TenantWhatsAppConfig,
    Device,
    Conversation,
    Message,
    ApiToken,
    WebhookEvent,
    AuditEvent,
)


def _select(model) -> str:
    ignored = IGNORED_FIELDS.get(model, set())
    quote = connection.ops.quote_name
    columns = [quote(f.column) for f in model._meta.concrete_fields if f.name not in ignored]
    return f"SELECT {', '.join(columns)} FROM {quote(model._meta.db_table)}"


def snapshot() -> dict:
    """Every row a request could touch, in a comparable form (plain SQL: it runs ~2000 times)."""
    state = {}
    with connection.cursor() as cursor:
        for model in SNAPSHOT_MODELS:
            cursor.execute(_select(model))
            state[model.__name__] = sorted(map(repr, cursor.fetchall()))
    return state


def changed_tables(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]


def check(
    world: World, gateway, client, method: str, path: str, expected, who: str, before: dict
) -> list[str]:
    """Send one request in a savepoint that is rolled back; return what disagrees with the row.

    `before` is the snapshot taken once per row: every request starts from that same state.
    """
    label = f"{method} {path} as {who}: "
    calls = len(gateway.calls)
    with transaction.atomic():
        response = send(client, method, path, world)
        needs_after = expected in DEVICES_DENIED or method != "GET"
        after = snapshot() if needs_after else before
        gateway_calls = len(gateway.calls) - calls
        transaction.set_rollback(True)

    problems = []
    status = response.status_code
    if expected == LOGIN:
        location = response.get("Location", "")
        if status != 302 or not location.startswith("/accounts/login/?next="):
            problems.append(
                f"{label}expected a redirect to the login page, got {status} {location}"
            )
    elif status != expected:
        problems.append(f"{label}expected {expected}, got {status}: {response.content[:200]!r}")
    # The API answers every error, 401 and 405 included, as {"error": {...}} JSON (and so does
    # /metrics when it refuses a scrape).
    json_errors = path.startswith("/api/") or (path == "/metrics" and status == 401)
    if status >= 400 and json_errors and not is_error_json(response):
        problems.append(f"{label}the {status} is not {{'error': ...}} JSON")
    if expected in DEVICES_DENIED:
        if changed := changed_tables(before, after):
            problems.append(f"{label}a denied request changed {changed}")
        if gateway_calls:
            problems.append(f"{label}a denied request called the gateway {gateway_calls} times")
    elif method != "GET" and not changed_tables(before, after):
        problems.append(f"{label}an allowed {method} changed nothing: was it really accepted?")
    return problems


def is_error_json(response) -> bool:
    if not response["Content-Type"].startswith("application/json"):
        return False
    data = response.json()
    return set(data) == {"error"} and {"code", "message"} <= set(data["error"])


def row_id(method: str, path: str, host: str, expected: tuple) -> str:
    return f"{method} {path} @{host} -> {'/'.join(map(str, expected))}"


@pytest.mark.parametrize(
    ("method", "path", "host", "expected"),
    [
        pytest.param(m, p, h, tuple(e), id=row_id(m, p, h, tuple(e)))
        for m, p, h, *e in DEVICES_MATRIX
    ],
)
def test_it_answers_each_role_on_each_host_as_the_matrix_says(
    world, gateway, method, path, host, expected
):
    before, problems = snapshot(), []
    for role, status in zip(ROLES, expected, strict=True):
        client = world.client(role, host)
        problems += check(world, gateway, client, method, path, status, role, before)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


# Rows whose expected statuses the product does not meet yet (strict: a fix makes them XPASS,
# which fails, so the marker is removed together with the bug).
# (method, path) -> reason, for a row that documents a known bug (strict xfail). None today.
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def token_params():
    for method, path, *expected in TOKEN_MATRIX:
        bug = KNOWN_BUGS.get((method, path))
        yield pytest.param(
            method,
            path,
            tuple(expected),
            id=f"{method} {path} -> {'/'.join(map(str, expected))}",
            marks=[pytest.mark.xfail(strict=True, reason=bug)] if bug else [],
        )


@pytest.mark.parametrize(("method", "path", "expected"), list(token_params()))
def test_it_answers_tenant_api_tokens_on_each_host_as_the_matrix_says(
    world, gateway, method, path, expected
):
    before, problems = snapshot(), []
    for column, host, status in zip(TOKEN_COLUMNS, TOKEN_HOSTS, expected, strict=True):
        raw = world.revoked_a if column.startswith("revoked") else world.token_a
        client = world.bearer(raw, host)
        problems += check(world, gateway, client, method, path, status, column, before)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def scoped_tokens(world) -> dict[str, str]:
    """Raw tokens of tenant A, one per SCOPE_COLUMNS entry."""
    scopes = {"messages": ["messages"], "devices": ["devices"], "messages+devices": ALL_SCOPES}
    return {
        column: services.api_token_create(
            tenant=world.cast.tenant_a, name=f"Scoped {column}", actor=None, scopes=chosen
        )[1]
        for column, chosen in scopes.items()
    }


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        pytest.param(m, p, tuple(e), id=f"{m} {p} -> {'/'.join(map(str, e))}")
        for m, p, *e in SCOPE_MATRIX
    ],
)
def test_it_answers_each_token_scope_as_the_matrix_says(
    world, gateway, scoped_tokens, method, path, expected
):
    before, problems = snapshot(), []
    for column, status in zip(SCOPE_COLUMNS, expected, strict=True):
        client = world.bearer(scoped_tokens[column], P)
        problems += check(world, gateway, client, method, path, status, column, before)
        superadmin_only = "tenant-config" in path or "available-endpoints" in path
        if status == 403 and column != "messages+devices" and not superadmin_only:
            response = send(client, method, path, world)
            if response.json()["error"]["code"] != "insufficient_scope":
                problems.append(f"{method} {path} as {column}: not insufficient_scope")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_the_scope_matrix_covers_every_api_route():
    from booqing.api import api

    def shape(path: str) -> str:
        return re.sub(r"<[^>]+>|\{[^}]+\}", "*", path.split("?")[0]).strip("/")

    routes = {shape(f"api/{p.pattern}") for p in api.urls[0]} - {
        "api",  # ninja's root
        "api/docs",
        "api/openapi.json",
    }
    covered = {shape(path) for _, path, *_ in SCOPE_MATRIX}
    assert routes <= covered, f"API routes without a scope row: {sorted(routes - covered)}"


def test_a_new_token_has_only_the_messages_scope(world):
    _, raw = services.api_token_create(tenant=world.cast.tenant_a, name="Plain", actor=None)
    client = world.bearer(raw, P)

    refused = send(client, "POST", f"{API}/devices", world)

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    assert send(client, "POST", f"{API}/messages", world).status_code == 202


def test_it_lists_each_url_once_per_host():
    keys = [(method, path, host) for method, path, host, *_ in DEVICES_MATRIX]
    assert len(keys) == len(set(keys))
    assert len({(method, path) for method, path, *_ in TOKEN_MATRIX}) == len(TOKEN_MATRIX)


def test_it_covers_every_tenant_url_and_api_route():
    """A new URL without a row fails here, so the matrix cannot silently fall behind."""
    from booqing import urls_common, urls_tenant
    from booqing.api import api

    def shape(path: str) -> str:
        return re.sub(r"<[^>]+>|\{[^}]+\}", "*", path).strip("/")

    covered = {shape(path) for _, path, *_ in DEVICES_MATRIX}
    # The booking product's URLs have their own table (BOOKING_MATRIX, issue 12).
    covered |= {shape(path.split("?")[0]) for _, path, *_ in BOOKING_MATRIX}
    patterns = urls_tenant.urlpatterns + urls_common.common_patterns
    # (regex patterns are catch-alls, e.g. the JSON 404 for unknown /api/ URLs)
    pages = {shape(str(p.pattern)) for p in patterns if not str(p.pattern).startswith("^")}
    routes = {shape(f"api/{p.pattern}") for p in api.urls[0]}
    elsewhere = {  # in CONFIG_MATRIX: login, the dashboard, configuration, ninja's own
        "",
        "accounts/login",
        "accounts/logout",
        "accounts/language",
        "accounts/set-password/*/*",  # token-protected, tenants/tests/test_members.py
        "admin/members",  # the members pages: tenants/tests/test_members.py
        "admin/members/invite",
        "admin/members/*/role",
        "admin/members/*/remove",
        "admin/whatsapp",
        "api",
        "api/docs",
        "api/openapi.json",
        "api/*",
        "api/whatsapp/available-endpoints",
        "api/whatsapp/tenant-config/*",
    }
    missing = sorted((pages | routes) - covered - elsewhere)
    assert not missing, f"URLs without a matrix row: {missing}"


# Every session write that the matrix allows alice, now without the CSRF token a browser sends.
CSRF_WRITES = [
    (method, path)
    for method, path, _, admin, *_ in TENANT_PAGES + TENANT_API
    if method in ("POST", "DELETE") and admin in (200, 201, 202, 302)
]


@pytest.mark.parametrize(("method", "path"), CSRF_WRITES)
def test_it_refuses_a_session_write_without_the_csrf_token(world, gateway, method, path):
    client = quick_client(world.sessions["alice"], HOSTS[A], enforce_csrf=True)
    before = snapshot()

    response = send(client, method, path, world)

    assert response.status_code == 403
    if path.startswith("/api/"):
        assert response.json()["error"]["code"] == "csrf_failed"
    assert snapshot() == before
    assert not gateway.calls


@pytest.mark.parametrize(
    ("who", "host", "method", "other", "missing"),
    [
        ("alice", A, "GET", f"{DEV}/{{DB}}", f"{DEV}/{{X}}"),
        ("alice", A, "POST", f"{DEV}/{{DB}}/delete", f"{DEV}/{{X}}/delete"),
        ("bob", A, "GET", f"{INBOX}/{{CB}}", f"{INBOX}/{{X}}"),
        ("bob", A, "POST", f"{INBOX}/{{CB}}/reply", f"{INBOX}/{{X}}/reply"),
        ("alice", A, "POST", f"{TOKENS}/{{TB}}/revoke", f"{TOKENS}/{{X}}/revoke"),
        ("charlie", B, "GET", f"{DEV}/{{DA}}", f"{DEV}/{{X}}"),
        ("charlie", B, "POST", f"{DEV}/{{DA}}/qr", f"{DEV}/{{X}}/qr"),
        ("charlie", B, "POST", f"{INBOX}/{{CB}}/messages/{{MA}}/retry",
         f"{INBOX}/{{CB}}/messages/{{X}}/retry"),
        ("alice", A, "GET", f"{API}/devices/{{DB}}", f"{API}/devices/{{X}}"),
        ("alice", A, "DELETE", f"{API}/devices/{{DB}}", f"{API}/devices/{{X}}"),
        ("bob", A, "GET", f"{API}/messages/{{MB}}", f"{API}/messages/{{X}}"),
        ("charlie", B, "POST", f"{API}/devices/{{DA}}/restart", f"{API}/devices/{{X}}/restart"),
        ("token", P, "GET", f"{API}/devices/{{DB}}", f"{API}/devices/{{X}}"),
        ("token", A, "POST", f"{API}/devices/{{DB}}/logout", f"{API}/devices/{{X}}/logout"),
        ("token", P, "GET", f"{API}/messages/{{MB}}", f"{API}/messages/{{X}}"),
    ],
)  # fmt: skip
def test_it_answers_another_tenants_id_exactly_like_a_missing_one(
    world, who, host, method, other, missing
):
    """Nobody can tell whether another tenant's device, thread, message or token exists."""
    client = world.bearer(world.token_a, host) if who == "token" else world.client(who, host)

    existing = send(client, method, other, world)
    absent = send(client, method, missing, world)

    assert existing.status_code == absent.status_code == 404
    other_ids = [world.ids[name] for name in PLACEHOLDERS if f"{{{name}}}" in other]
    assert comparable(existing, other_ids) == comparable(absent, [MISSING_ID])


def comparable(response, ids: list[str]) -> str:
    """The reply with the ids it names and its (per-response masked) CSRF token blanked out."""
    text = response.content.decode()
    for value in ids:
        text = text.replace(value, "<id>")
    return re.sub(r"\b[A-Za-z0-9]{64}\b", "<csrf>", text)


@pytest.mark.parametrize("via", ["session", "token"])
def test_it_refuses_a_send_from_another_tenants_device_like_a_missing_one(world, via):
    client = world.bearer(world.token_a, P) if via == "token" else world.client("alice", A)
    before = snapshot()

    def send_from(device_id: str):
        body = {"to": NEW_CONTACT, "body": "Hello", "device_id": device_id}
        return client.post(f"{API}/messages", json.dumps(body), content_type="application/json")

    existing, absent = send_from(world.ids["DB"]), send_from(MISSING_ID)

    assert existing.status_code == absent.status_code == 404
    assert existing.json()["error"]["code"] == absent.json()["error"]["code"] == "device_not_found"
    assert snapshot() == before


def test_it_lets_tenant_a_token_send_and_read_only_tenant_a_messages(world):
    client = world.bearer(world.token_a, P)

    sent = client.post(
        f"{API}/messages",
        json.dumps({"to": NEW_CONTACT, "body": "Booking confirmed"}),
        content_type="application/json",
    )

    assert sent.status_code == 202, sent.content
    message = Message.objects.get(pk=sent.json()["message"]["id"])
    assert message.tenant == world.cast.tenant_a
    listed = client.get(f"{API}/messages").json()["results"]
    assert {m["id"] for m in listed} == {str(message.pk), world.ids["MA"]}
    conversations = client.get(f"{API}/conversations").json()["results"]
    assert all(c["id"] != world.ids["CB"] for c in conversations)


def test_it_refuses_a_token_the_moment_it_is_revoked_on_the_tokens_page(world):
    client = world.bearer(world.token_a, A)
    assert client.get(f"{API}/devices").status_code == 200

    revoked = world.client("alice", A).post(world.fill(f"{TOKENS}/{{TA}}/revoke"))

    assert revoked.status_code == 302
    response = client.get(f"{API}/devices")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_it_accepts_the_same_webhook_once_it_is_signed(world):
    """The unsigned deliveries of the matrix are refused for the signature alone."""
    device = Device.objects.get(pk=world.ids["DA"])
    body = json.dumps(webhook_envelope(SESSION_A)).encode()
    headers = waha.signed_headers(body, device.webhook_secret)

    response = quick_client(None, platform_host(), enforce_csrf=True).post(
        f"{HOOK}/{device.webhook_id}/{device.webhook_token}",
        body,
        content_type="application/json",
        headers=headers,
    )

    assert response.status_code == 200, response.content
    assert WebhookEvent.objects.filter(device=device).count() == 1


@pytest.mark.parametrize("host", [P, A, B])
def test_it_serves_metrics_only_for_the_metrics_token(world, host):
    def scrape(token: str | None):
        client = world.client("root", host)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return client.get("/metrics", headers=headers)

    allowed = scrape(METRICS_TOKEN)

    assert allowed.status_code == 200
    assert "booqing_whatsapp_endpoints_configured" in allowed.content.decode()
    for token in (None, world.token_a, METRICS_TOKEN + "x", METRICS_TOKEN[:-1]):
        refused = scrape(token)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"


def test_it_keeps_the_platform_host_free_of_tenant_data_for_a_session(world):
    """Without a tenant (no host, no token) the API says what is missing instead of guessing."""
    response = world.client("alice", P).get(f"{API}/devices")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "tenant_required"


def test_it_answers_a_token_on_another_tenants_host_with_forbidden(world):
    response = world.bearer(world.token_a, B).get(f"{API}/devices")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert "another workspace" in response.json()["error"]["message"]


# =================================================================================================
# BOOKING_MATRIX: its world, its checks, its tests
# =================================================================================================


class BookingWorld:
    def __init__(self, cast: Cast, ids: dict, token: str, revoked: str, sessions: dict):
        self.cast, self.ids, self.token, self.revoked, self.sessions = (
            cast,
            ids,
            token,
            revoked,
            sessions,
        )

    def fill(self, text: str) -> str:
        return re.sub(r"\{([A-Z]{1,2})\}", lambda m: self.ids[m.group(1)], text)


@pytest.fixture(name="booking_world")
def booking_world_fixture(cast, gateway, settings) -> BookingWorld:
    settings.WHATSAPP_EVENTS_ALLOW_PRIVATE_URLS = True
    gateway.get(
        re.compile(r"https://primary\.gateway\.test/api/contacts/check-exists"),
        json={"numberExists": True},
    )
    ids: dict[str, str] = {"X": MISSING_ID}
    for tenant, letter, session in (
        (cast.tenant_a, "A", SESSION_A),
        (cast.tenant_b, "B", SESSION_B),
    ):
        services.endpoint_assign(tenant=tenant, endpoint_name="Primary", actor=cast.superadmin)
        device = make_device(tenant, "Front desk", session=session, status=DeviceStatus.SCAN_QR)
        device.status = "connected"
        device.save()
        conversation, _ = make_thread(device)
        endpoint, _ = event_services.event_endpoint_create(
            tenant=tenant, url=f"https://{letter.lower()}.example.com/", events=["device.status"]
        )
        [delivery] = event_services.events_emit_device_status(
            device=device, previous="scan_qr", new="connected"
        )
        MessageTemplate.objects.create(tenant=tenant, name="thanks", body="Terima kasih {nama}!")
        ids |= {f"E{letter}": str(endpoint.pk), f"V{letter}": str(delivery.pk)}
        ids |= {f"C{letter}": str(conversation.pk), letter: str(tenant.pk)}
        ids |= {f"D{letter}": str(device.pk)}
    ids |= {"NA": "reminder", "NB": "globex-only"}  # template names: a starter one, B's own
    MessageTemplate.objects.create(tenant=cast.tenant_b, name="globex-only", body="Halo {nama}.")
    _, raw = services.api_token_create(
        tenant=cast.tenant_a, name="Booking app", actor=None, scopes=("messages", "devices")
    )
    revoked, raw_revoked = services.api_token_create(tenant=cast.tenant_a, name="Old", actor=None)
    services.api_token_revoke(token=revoked, actor=None)
    sessions = {role: session_for(user_for(cast, role)) for role in ROLES if role != "anon"}
    return BookingWorld(cast, ids, raw, raw_revoked, sessions)


def snapshot_booking() -> dict:
    state = {}
    with connection.cursor() as cursor:
        for model in BOOKING_SNAPSHOT_MODELS:
            quote = connection.ops.quote_name
            columns = ", ".join(quote(f.column) for f in model._meta.concrete_fields)
            cursor.execute(f"SELECT {columns} FROM {quote(model._meta.db_table)}")
            state[model.__name__] = sorted(map(repr, cursor.fetchall()))
    return state


def send_booking(client, method: str, path: str, world: BookingWorld):
    body = BOOKING_BODIES.get(path)
    url = world.fill(path)
    if path.startswith("/api/"):
        data = json.dumps(body) if body is not None else ""
        return client.generic(method, url, data, "application/json")
    if method == "POST":
        return client.post(url, body or {})
    return client.generic(method, url)


def check_booking(world, gateway, client, method, path, expected, who) -> list[str]:
    label = f"{method} {path} as {who}: "
    before, calls = snapshot_booking(), len(gateway.calls)
    with transaction.atomic():
        response = send_booking(client, method, path, world)
        after = snapshot_booking()
        gateway_calls = len(gateway.calls) - calls
        transaction.set_rollback(True)
    problems, status = [], response.status_code
    if expected == LOGIN:
        if status != 302 or not response.get("Location", "").startswith("/accounts/login/"):
            problems.append(f"{label}expected the login page, got {status}")
    elif status != expected:
        problems.append(f"{label}expected {expected}, got {status}: {response.content[:200]!r}")
    if status >= 400 and path.startswith("/api/") and not is_error_json(response):
        problems.append(f"{label}the {status} is not {{'error': ...}} JSON")
    changed = [name for name in before if before[name] != after[name]]
    if expected in BOOKING_DENIED:
        if changed:
            problems.append(f"{label}a denied request changed {changed}")
        if gateway_calls:
            problems.append(f"{label}a denied request called the gateway")
    elif method != "GET" and not changed:
        problems.append(f"{label}an allowed {method} changed nothing")
    return problems


@pytest.mark.parametrize(
    ("method", "path", "host", "expected"),
    [
        pytest.param(m, p, h, tuple(e), id=f"{m} {p} @{h} -> {'/'.join(map(str, e))}")
        for m, p, h, *e in BOOKING_MATRIX
    ],
)
def test_each_role_on_each_host_gets_what_the_matrix_says(
    booking_world, gateway, method, path, host, expected
):
    problems = []
    for role, status in zip(ROLES, expected, strict=True):
        client = quick_client(booking_world.sessions.get(role), HOSTS[host])
        problems += check_booking(booking_world, gateway, client, method, path, status, role)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        pytest.param(m, p, tuple(e), id=f"{m} {p} -> {'/'.join(map(str, e))}")
        for m, p, *e in BOOKING_TOKEN_MATRIX
    ],
)
def test_tenant_api_tokens_get_what_the_matrix_says(booking_world, gateway, method, path, expected):
    problems = []
    for column, host, status in zip(
        BOOKING_TOKEN_COLUMNS, BOOKING_TOKEN_HOSTS, expected, strict=True
    ):
        raw = booking_world.revoked if column.startswith("revoked") else booking_world.token
        client = quick_client(None, HOSTS[host], enforce_csrf=True)
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
        problems += check_booking(booking_world, gateway, client, method, path, status, column)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.mark.parametrize(
    ("who", "method", "other", "missing"),
    [
        ("alice", "GET", f"{API}/event-endpoints/{{EB}}", f"{API}/event-endpoints/{{X}}"),
        ("alice", "DELETE", f"{API}/event-endpoints/{{EB}}", f"{API}/event-endpoints/{{X}}"),
        ("alice", "PATCH", f"{API}/templates/{{NB}}", f"{API}/templates/nothing-here"),
        ("alice", "POST", f"{EV}/{{EB}}/delete", f"{EV}/{{X}}/delete"),
        ("bob", "POST", f"{INBOX}/{{CB}}/quick-reply", f"{INBOX}/{{X}}/quick-reply"),
        ("token", "GET", f"{API}/event-endpoints/{{EB}}/deliveries",
         f"{API}/event-endpoints/{{X}}/deliveries"),
    ],
)  # fmt: skip
def test_another_tenants_object_answers_exactly_like_a_missing_one(
    booking_world, who, method, other, missing
):
    if who == "token":
        client = quick_client(None, HOSTS[P], enforce_csrf=True)
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {booking_world.token}"
    else:
        client = quick_client(booking_world.sessions[who], HOSTS[A])
    existing = send_booking(client, method, other, booking_world)
    absent = send_booking(client, method, missing, booking_world)
    assert existing.status_code == absent.status_code == 404

    def comparable(response, ids: list[str]) -> str:
        text = response.content.decode()
        for value in ids:
            text = text.replace(value, "<id>")
        return re.sub(r"\b[A-Za-z0-9]{64}\b", "<csrf>", text)

    other_ids = [v for v in booking_world.ids.values() if v in booking_world.fill(other)]
    missing_name = re.sub(r".*/templates/([^/]+)$", r"\1", missing)
    assert comparable(existing, [*other_ids, "globex-only"]) == comparable(
        absent, [MISSING_ID, missing_name]
    )


def test_a_quick_reply_sends_for_staff_and_the_number_check_is_remembered(booking_world):
    bob = quick_client(booking_world.sessions["bob"], HOSTS[A])
    reply = bob.post(
        booking_world.fill(f"{INBOX}/{{CA}}/quick-reply"),
        BOOKING_BODIES[f"{INBOX}/{{CA}}/quick-reply"],
    )
    assert reply.status_code == 302
    message = Message.objects.get(body="Terima kasih Budi!")
    assert message.conversation_id == Conversation.objects.get(pk=booking_world.ids["CA"]).pk
    assert bob.get(CHECK).json() == {
        "phone": CUSTOMER,
        "on_whatsapp": True,
        "checked_at": bob.get(CHECK).json()["checked_at"],
    }
    assert ContactCheck.objects.get().checked_at <= timezone.now()


BOOKING_CSRF_WRITES = [
    (method, path)
    for method, path, admin, *_ in [
        (m, p, a) for m, p, _, a, *_ in BOOKING_PAGES + BOOKING_TENANT_API
    ]
    if method in ("POST", "PATCH", "DELETE") and admin in (200, 201, 202, 302)
]


@pytest.mark.parametrize(("method", "path"), BOOKING_CSRF_WRITES)
def test_a_session_write_without_the_csrf_token_is_refused(booking_world, gateway, method, path):
    client = quick_client(booking_world.sessions["alice"], HOSTS[A], enforce_csrf=True)
    before = snapshot_booking()

    response = send_booking(client, method, path, booking_world)

    assert response.status_code == 403
    if path.startswith("/api/"):
        assert response.json()["error"]["code"] == "csrf_failed"
    assert snapshot_booking() == before
