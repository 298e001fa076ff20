"""The authorisation matrix for the booking product's URLs: event endpoints (page and API), their
delivery log and Replay, templates (page and API), quick replies and the number check.

Rules, as for devices and messages (test_authorization_devices_messages.py): anonymous -> login
(pages) or 401 (API); the superadmin and other tenants' members -> 403; staff may read templates,
check numbers and send quick replies, and get 403 for managing events and templates; another
tenant's object (or a missing one) is a 404; a tenant API token acts for its own tenant on the
platform host and its own host, 403 on another tenant's host, 401 once revoked. Every request
runs in a savepoint that is rolled back, so each role sees the same data.
"""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection, transaction
from django.utils import timezone

from booqing.test import Cast
from whatsapp import services
from whatsapp.models import (
    AuditEvent,
    ContactCheck,
    Conversation,
    Device,
    DeviceStatus,
    EventDelivery,
    EventEndpoint,
    Message,
    MessageTemplate,
    TenantWhatsAppConfig,
)
from whatsapp.services import events as event_services
from whatsapp.tests.factories import make_device
from whatsapp.tests.security.test_authorization_devices_messages import (
    CUSTOMER,
    SESSION_A,
    SESSION_B,
    gateway_fixture,  # noqa: F401  (the mocked gateway)
    is_error_json,
    make_thread,
    quick_client,
    session_for,
)
from whatsapp.tests.support.authorization import HOSTS, LOGIN, MISSING_ID, ROLES, A, B, P, user_for

pytestmark = pytest.mark.django_db

WA = "/admin/whatsapp"
EV = f"{WA}/event-endpoints"
TPL = f"{WA}/templates"
INBOX = f"{WA}/conversations"
API = "/api/whatsapp"
# Placeholders: E endpoint, V delivery, C conversation; A/B the tenant; X a missing id.
# Tenant B has a template only it has, "globex-only"; both have the starter "reminder".
CHECK = f"{API}/contacts/check?phone=081234567890"

BODIES = {
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
PAGES = [
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

TENANT_API = [
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

T_REQ = 400  # a session on the platform host names no tenant
PLATFORM_API = [
    (method, path, P, 401 if anon == 401 else anon, *([T_REQ] * 4))
    for method, path, anon, *_ in TENANT_API if anon == 401
]
PLATFORM_PAGES = [
    (method, path, P, 404, 404, 404, 404, 404) for method, path, *_ in PAGES if "B}" not in path
]

MATRIX = [
    *[(m, p, A, *e) for m, p, *e in PAGES],
    *PLATFORM_PAGES,
    *[(m, p, A, *e) for m, p, *e in TENANT_API],
    *PLATFORM_API,
]

TOKEN_COLUMNS = ("A@platform", "A@acme", "A@globex", "revoked@platform", "revoked@acme")
TOKEN_HOSTS = (P, A, B, P, A)
TOKEN_MATRIX = [
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
DENIED = {LOGIN, 400, 401, 403, 404, 405}
SNAPSHOT_MODELS = (
    EventEndpoint,
    EventDelivery,
    MessageTemplate,
    ContactCheck,
    Message,
    AuditEvent,
    Device,
    TenantWhatsAppConfig,
)


class World:
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
def booking_world_fixture(cast, gateway, settings) -> World:
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
    return World(cast, ids, raw, raw_revoked, sessions)


def snapshot() -> dict:
    state = {}
    with connection.cursor() as cursor:
        for model in SNAPSHOT_MODELS:
            quote = connection.ops.quote_name
            columns = ", ".join(quote(f.column) for f in model._meta.concrete_fields)
            cursor.execute(f"SELECT {columns} FROM {quote(model._meta.db_table)}")
            state[model.__name__] = sorted(map(repr, cursor.fetchall()))
    return state


def send(client, method: str, path: str, world: World):
    body = BODIES.get(path)
    url = world.fill(path)
    if path.startswith("/api/"):
        data = json.dumps(body) if body is not None else ""
        return client.generic(method, url, data, "application/json")
    if method == "POST":
        return client.post(url, body or {})
    return client.generic(method, url)


def check(world, gateway, client, method, path, expected, who) -> list[str]:
    label = f"{method} {path} as {who}: "
    before, calls = snapshot(), len(gateway.calls)
    with transaction.atomic():
        response = send(client, method, path, world)
        after = snapshot()
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
    if expected in DENIED:
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
        for m, p, h, *e in MATRIX
    ],
)
def test_each_role_on_each_host_gets_what_the_matrix_says(
    booking_world, gateway, method, path, host, expected
):
    problems = []
    for role, status in zip(ROLES, expected, strict=True):
        client = quick_client(booking_world.sessions.get(role), HOSTS[host])
        problems += check(booking_world, gateway, client, method, path, status, role)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        pytest.param(m, p, tuple(e), id=f"{m} {p} -> {'/'.join(map(str, e))}")
        for m, p, *e in TOKEN_MATRIX
    ],
)
def test_tenant_api_tokens_get_what_the_matrix_says(booking_world, gateway, method, path, expected):
    problems = []
    for column, host, status in zip(TOKEN_COLUMNS, TOKEN_HOSTS, expected, strict=True):
        raw = booking_world.revoked if column.startswith("revoked") else booking_world.token
        client = quick_client(None, HOSTS[host], enforce_csrf=True)
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
        problems += check(booking_world, gateway, client, method, path, status, column)
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
    existing = send(client, method, other, booking_world)
    absent = send(client, method, missing, booking_world)
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
        booking_world.fill(f"{INBOX}/{{CA}}/quick-reply"), BODIES[f"{INBOX}/{{CA}}/quick-reply"]
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


CSRF_WRITES = [
    (method, path)
    for method, path, admin, *_ in [(m, p, a) for m, p, _, a, *_ in PAGES + TENANT_API]
    if method in ("POST", "PATCH", "DELETE") and admin in (200, 201, 202, 302)
]


@pytest.mark.parametrize(("method", "path"), CSRF_WRITES)
def test_a_session_write_without_the_csrf_token_is_refused(booking_world, gateway, method, path):
    client = quick_client(booking_world.sessions["alice"], HOSTS[A], enforce_csrf=True)
    before = snapshot()

    response = send(client, method, path, booking_world)

    assert response.status_code == 403
    if path.startswith("/api/"):
        assert response.json()["error"]["code"] == "csrf_failed"
    assert snapshot() == before
