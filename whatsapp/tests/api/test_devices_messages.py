"""The tenant JSON API: devices (gateway mocked with `responses`), messages, conversations,
token and session authentication, tenant isolation and the one error shape."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import responses
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tenants.test import client_for, platform_host
from whatsapp import services
from whatsapp.models import (
    ApiToken,
    Conversation,
    Device,
    DeviceStatus,
    Message,
    MessageStatus,
    TenantWhatsAppConfig,
)
from whatsapp.tests.factories import make_device, make_token
from whatsapp.tests.support.api import (
    API,
    CUSTOMER,
    GATEWAY,
    assert_error,
    bearer,
    session_url,
    waha_session,
)

pytestmark = pytest.mark.django_db

CSRF = "k" * 32


@pytest.fixture
def config_a(cast):
    return TenantWhatsAppConfig.objects.create(
        tenant=cast.tenant_a, endpoint_name="Primary", is_configured=True, webhook_retries=4
    )


@pytest.fixture
def device_a(config_a):
    return make_device(config_a.tenant, "Front desk", phone="+6281100000000")


@pytest.fixture
def device_b(cast):
    TenantWhatsAppConfig.objects.create(tenant=cast.tenant_b, endpoint_name="Primary")
    return make_device(cast.tenant_b, "Clinic desk")


@pytest.fixture
def token_a(cast):
    return make_token(cast.tenant_a)


@pytest.fixture
def token_b(cast):
    return make_token(cast.tenant_b)


@pytest.fixture
def api_a(token_a):
    return bearer(token_a)


@pytest.fixture
def alice(cast):
    return client_for(cast.alice, cast.host_a)


def post(client, path: str, data=None, **headers):
    return client.post(
        API + path, data=json.dumps(data or {}), content_type="application/json", headers=headers
    )


# -- devices --------------------------------------------------------------------------------------


def test_it_lists_only_the_tenants_devices(cast, device_a, device_b, alice, api_a):
    for client in (alice, client_for(cast.bob, cast.host_a), api_a):
        response = client.get(f"{API}/devices")
        assert response.status_code == 200
        devices = response.json()["devices"]
        assert [d["name"] for d in devices] == ["Front desk"]
        assert devices[0]["status"] == "connected"
        assert devices[0]["phone"] == "+6281100000000"
    for key in ("webhook_secret", "session_name", "webhook_id"):
        assert key not in devices[0]


def test_it_creates_a_device_with_our_signed_webhook_and_returns_its_qr(
    cast, config_a, alice, rsps, settings
):
    settings.WHATSAPP_WEBHOOK_BASE_URL = "https://hooks.booqing.test"

    def create(request):
        body = json.loads(request.body)
        return 201, {}, json.dumps(waha_session(body["name"], "SCAN_QR_CODE"))

    rsps.add_callback(responses.POST, f"{GATEWAY}/api/sessions", callback=create)
    rsps.get(re.compile(rf"{GATEWAY}/api/[a-z0-9_-]+/auth/qr"), json={"value": "2@pairme,abc"})

    response = post(alice, "/devices", {"name": "Front desk"})

    assert response.status_code == 201, response.content
    data = response.json()["device"]
    device = Device.objects.get(tenant=cast.tenant_a)
    assert data["id"] == str(device.pk)
    assert (data["name"], data["status"]) == ("Front desk", "scan_qr")
    assert data["qr"]["value"] == "2@pairme,abc"
    assert data["qr"]["svg"].startswith("<svg")
    assert data["qr"]["expires_at"]
    sent = json.loads(rsps.calls[0].request.body)
    assert sent["start"] is True
    hook = sent["config"]["webhooks"][0]
    # The URL carries the device's secret token (a capability URL, issue 7).
    assert hook["url"] == (
        f"https://hooks.booqing.test/api/whatsapp/webhooks/{device.webhook_id}/"
        f"{device.webhook_token}"
    )
    assert len(device.webhook_token) >= 22
    assert hook["hmac"] == {"key": device.webhook_secret}
    assert hook["retries"]["attempts"] == 4


def test_it_lets_only_admins_create_devices(cast, config_a, rsps):
    response = post(client_for(cast.bob, cast.host_a), "/devices", {"name": "Front desk"})
    assert_error(response, 403, "forbidden")
    assert not Device.objects.exists()


def test_it_explains_a_failed_create_and_leaves_no_device(config_a, alice, rsps):
    rsps.post(f"{GATEWAY}/api/sessions", status=500, json={"message": "engine crashed"})

    message = assert_error(post(alice, "/devices", {"name": "Front desk"}), 502)

    assert "Failed to create device" in message
    # A 5xx body is the gateway's internal error text: it never reaches a page (issue 7).
    assert "engine crashed" not in message
    assert "internal error on the gateway" in message
    assert not Device.objects.exists()


def test_it_explains_what_to_do_when_no_endpoint_is_assigned(cast):
    client = client_for(cast.charlie, cast.host_b)
    message = assert_error(post(client, "/devices", {"name": "Desk"}), 409, "not_configured")
    assert "connect a WhatsApp server" in message


@pytest.mark.parametrize("payload", [{}, {"name": ""}, {"name": "x" * 61}, {"name": 7}])
def test_it_refuses_a_device_without_a_usable_name(config_a, alice, payload):
    assert_error(post(alice, "/devices", payload), 422)
    assert not Device.objects.exists()


def test_it_refreshes_a_pairing_device_from_the_gateway(config_a, alice, rsps):
    device = make_device(config_a.tenant, "Front desk", status=DeviceStatus.SCAN_QR)
    me = {"id": "6281122334455@c.us", "pushName": "Acme"}
    rsps.get(session_url(device), json=waha_session(device.session_name, "WORKING", me))

    response = alice.get(f"{API}/devices/{device.pk}")

    assert response.status_code == 200
    data = response.json()["device"]
    assert (data["status"], data["phone"], data["qr"]) == ("connected", "+6281122334455", None)


def test_it_shows_a_connected_device_without_calling_the_gateway(device_a, alice, rsps):
    response = alice.get(f"{API}/devices/{device_a.pk}")
    assert response.json()["device"]["status"] == "connected"
    assert len(rsps.calls) == 0


def test_it_deletes_a_device_with_its_gateway_session(device_a, alice, rsps):
    rsps.delete(session_url(device_a), json={})
    response = alice.delete(f"{API}/devices/{device_a.pk}")
    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert not Device.objects.exists()


def test_it_keeps_the_device_when_the_gateway_cannot_delete_its_session(device_a, alice, rsps):
    rsps.delete(session_url(device_a), status=503)
    message = assert_error(alice.delete(f"{API}/devices/{device_a.pk}"), 502)
    assert "try again" in message
    assert Device.objects.filter(pk=device_a.pk).exists()


def test_it_restarts_a_stopped_device_for_a_new_qr(config_a, alice, rsps):
    device = make_device(config_a.tenant, "Front desk", status=DeviceStatus.STOPPED)
    rsps.post(session_url(device, "/restart"), status=201, json={})
    rsps.get(session_url(device), json=waha_session(device.session_name, "SCAN_QR_CODE"))
    rsps.get(f"{GATEWAY}/api/{device.session_name}/auth/qr", json={"value": "2@fresh"})

    response = post(alice, f"/devices/{device.pk}/qr")

    assert response.status_code == 200, response.content
    data = response.json()["device"]
    assert data["status"] == "scan_qr"
    assert data["qr"]["value"] == "2@fresh"


def test_it_refuses_a_new_qr_for_a_connected_device(device_a, alice):
    message = assert_error(post(alice, f"/devices/{device_a.pk}/qr"), 409, "already_connected")
    assert "log it out first" in message


def test_it_restarts_a_device(device_a, alice, rsps):
    rsps.post(session_url(device_a, "/restart"), status=201, json={})
    rsps.get(session_url(device_a), json=waha_session(device_a.session_name, "STARTING"))
    response = post(alice, f"/devices/{device_a.pk}/restart")
    assert response.status_code == 200
    assert response.json()["device"]["status"] == "starting"


def test_it_logs_a_device_out_and_forgets_its_phone(device_a, alice, rsps):
    rsps.post(session_url(device_a, "/logout"), status=201, json={})
    rsps.get(session_url(device_a), json=waha_session(device_a.session_name, "STARTING"))
    response = post(alice, f"/devices/{device_a.pk}/logout")
    assert response.status_code == 200
    data = response.json()["device"]
    assert (data["status"], data["phone"]) == ("starting", None)


@pytest.mark.parametrize("action", ["qr", "restart", "logout"])
def test_it_lets_only_admins_act_on_devices(cast, device_a, action):
    response = post(client_for(cast.bob, cast.host_a), f"/devices/{device_a.pk}/{action}")
    assert_error(response, 403, "forbidden")


def test_it_hides_another_tenants_devices(cast, device_a, token_b, rsps):
    for client in (bearer(token_b), client_for(cast.charlie, cast.host_b)):
        assert_error(client.get(f"{API}/devices/{device_a.pk}"), 404, "not_found")
        assert_error(client.delete(f"{API}/devices/{device_a.pk}"), 404, "not_found")
        assert_error(post(client, f"/devices/{device_a.pk}/restart"), 404, "not_found")
    assert Device.objects.filter(pk=device_a.pk).exists()
    assert len(rsps.calls) == 0


# -- sending ---------------------------------------------------------------------------------------


def send(client, data: dict, key: str | None = None):
    headers = {"Idempotency-Key": key} if key else {}
    return post(client, "/messages", data, **headers)


def test_it_queues_a_message_and_answers_202(device_a, api_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = send(api_a, {"to": "0812-3456-7890", "body": "See you at 10:00"})

    assert response.status_code == 202, response.content
    data = response.json()["message"]
    message = Message.objects.get()
    assert data["id"] == str(message.pk)
    assert data["status"] == "queued"
    assert data["direction"] == "out"
    assert data["contact"] == CUSTOMER
    assert data["body"] == "See you at 10:00"
    assert data["device_id"] == str(device_a.pk)
    # Its send task was enqueued when the row committed, with the id as its only argument.
    task = DBTaskResult.objects.get()
    assert task.args_kwargs["args"] == [data["id"]]


def test_it_returns_the_same_message_for_a_repeated_idempotency_key(
    device_a, api_a, django_capture_on_commit_callbacks
):
    payload = {"to": CUSTOMER, "body": "Reminder: tomorrow 10:00"}
    with django_capture_on_commit_callbacks(execute=True):
        first = send(api_a, payload, key="booking-42-reminder")
        second = send(api_a, payload, key="booking-42-reminder")

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["message"]["id"] == second.json()["message"]["id"]
    assert Message.objects.count() == 1
    assert DBTaskResult.objects.count() == 1


@pytest.mark.parametrize(
    "changed",
    [{"body": "Reminder: tomorrow 11:00"}, {"to": "+6281299998888"}],
    ids=["body", "to"],
)
def test_it_refuses_a_reused_idempotency_key_with_a_different_message(device_a, api_a, changed):
    payload = {"to": CUSTOMER, "body": "Reminder: tomorrow 10:00"}
    assert send(api_a, payload, key="booking-42").status_code == 202

    message = assert_error(
        send(api_a, {**payload, **changed}, key="booking-42"), 422, "idempotency_key_reused"
    )

    assert "new key" in message
    assert Message.objects.count() == 1


def test_it_treats_the_same_key_as_the_same_message_in_another_number_format(device_a, api_a):
    first = send(api_a, {"to": "081234567890", "body": "Hi"}, key="k1")
    second = send(api_a, {"to": "+62 812-3456-7890", "body": "Hi"}, key="k1")
    assert first.json()["message"]["id"] == second.json()["message"]["id"]


def test_it_scopes_idempotency_keys_to_the_tenant(device_a, device_b, api_a, token_b):
    payload = {"to": CUSTOMER, "body": "Hi"}
    a = send(api_a, payload, key="shared-key").json()["message"]
    b = send(bearer(token_b), payload, key="shared-key").json()["message"]
    assert a["id"] != b["id"]
    assert (a["device_id"], b["device_id"]) == (str(device_a.pk), str(device_b.pk))


@pytest.mark.parametrize("to", ["12345", "hello", "+1 555", "", "0812"])
def test_it_refuses_an_invalid_phone_number_and_says_how_to_write_it(device_a, api_a, to):
    message = assert_error(send(api_a, {"to": to, "body": "Hi"}), 422)
    assert "+6281234567890" in message
    assert not Message.objects.exists()


def test_it_files_different_spellings_of_a_number_under_one_conversation(device_a, api_a):
    for to in ("081234567890", "+62 812-3456-7890", "6281234567890", "+6281234567890"):
        assert send(api_a, {"to": to, "body": f"via {to}"}).status_code == 202

    conversation = Conversation.objects.get()
    assert conversation.contact == CUSTOMER
    assert conversation.messages.count() == 4


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"to": CUSTOMER, "body": ""}, "empty_body"),
        ({"to": CUSTOMER, "body": "   "}, "empty_body"),
        ({"to": CUSTOMER, "body": "x" * 4097}, "body_too_long"),
        ({"to": CUSTOMER}, "validation_error"),
        ({"body": "Hi"}, "validation_error"),
        ({"to": CUSTOMER, "body": "Hi", "device_id": "nope"}, "validation_error"),
    ],
)
def test_it_refuses_a_message_it_cannot_send(device_a, api_a, payload, code):
    assert_error(send(api_a, payload), 422, code)
    assert not Message.objects.exists()


def test_it_sends_from_the_chosen_device_and_not_another_tenants(device_a, device_b, api_a, cast):
    second = make_device(cast.tenant_a, "Back office")
    response = send(api_a, {"to": CUSTOMER, "body": "Hi", "device_id": str(second.pk)})
    assert response.json()["message"]["device_id"] == str(second.pk)

    response = send(api_a, {"to": CUSTOMER, "body": "Hi", "device_id": str(device_b.pk)})
    assert_error(response, 404, "device_not_found")


def test_it_explains_that_a_device_is_needed_first(config_a, api_a):
    message = assert_error(send(api_a, {"to": CUSTOMER, "body": "Hi"}), 409, "no_device")
    assert "scan its QR code" in message


def test_it_answers_400_for_a_body_that_is_not_json(device_a, api_a):
    response = api_a.post(f"{API}/messages", data="{not json", content_type="application/json")
    assert_error(response, 400)


# -- reading ---------------------------------------------------------------------------------------


def test_it_shows_one_message_to_its_tenant_only(cast, device_a, api_a, token_b):
    sent = send(api_a, {"to": CUSTOMER, "body": "Hi"}).json()["message"]

    response = api_a.get(f"{API}/messages/{sent['id']}")
    assert response.status_code == 200
    assert response.json()["message"]["status"] == "queued"
    assert response.json()["message"]["contact"] == CUSTOMER

    assert_error(bearer(token_b).get(f"{API}/messages/{sent['id']}"), 404, "not_found")
    client = client_for(cast.charlie, cast.host_b)
    assert_error(client.get(f"{API}/messages/{sent['id']}"), 404, "not_found")
    missing = "00000000-0000-0000-0000-000000000000"
    assert_error(api_a.get(f"{API}/messages/{missing}"), 404, "not_found")
    assert_error(api_a.get(f"{API}/messages/not-a-uuid"), 422)


def walk(client, path: str, **params) -> list[dict]:
    """Follow `next` until the end; every page is requested exactly once."""
    results, cursor, pages = [], None, 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(f"{API}{path}", query)
        assert response.status_code == 200, response.content
        data = response.json()
        assert set(data) == {"results", "next"}
        results += data["results"]
        cursor, pages = data["next"], pages + 1
        assert pages < 100
        if cursor is None:
            return results


@pytest.fixture
def history(cast, device_a):
    """23 outbound messages to two contacts; several share one created_at, as a burst would."""
    ids = []
    base = timezone.now() - timedelta(hours=1)
    for i in range(23):
        to = CUSTOMER if i % 2 else "+6281299998888"
        message, _ = services.message_send(tenant=cast.tenant_a, to=to, body=f"message {i}")
        # Groups of three share a (whole-second) timestamp: the arrival sequence breaks ties.
        Message.objects.filter(pk=message.pk).update(
            written_at=(base + timedelta(seconds=i // 3)).replace(microsecond=0)
        )
        ids.append(str(message.pk))
    Message.objects.filter(pk__in=ids[:5]).update(status=MessageStatus.READ)
    return ids


def test_it_pages_through_every_message_exactly_once_newest_first(api_a, history):
    results = walk(api_a, "/messages", limit=4)

    ids = [m["id"] for m in results]
    assert sorted(ids) == sorted(history)
    assert len(ids) == len(set(ids)) == 23
    # Newest first as written: timestamp, then the order they arrived in.
    keys = [(m["written_at"], m["sequence"]) for m in results]
    assert keys == sorted(keys, reverse=True)
    assert [m["body"] for m in results] == [f"message {i}" for i in reversed(range(23))]


def test_it_keeps_paging_stable_while_new_messages_arrive(cast, api_a, history):
    first = api_a.get(f"{API}/messages", {"limit": 10}).json()
    services.message_send(tenant=cast.tenant_a, to=CUSTOMER, body="arrived meanwhile")
    rest = walk(api_a, "/messages", limit=10, cursor=first["next"])

    ids = [m["id"] for m in first["results"] + rest]
    assert sorted(ids) == sorted(history)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "read"}, 5),
        ({"status": "queued"}, 18),
        ({"direction": "out"}, 23),
        ({"direction": "in"}, 0),
        ({"contact": "0812 3456 7890"}, 11),
        ({"contact": "+62 812-9999-8888"}, 12),
    ],
)
def test_it_filters_messages(api_a, history, params, expected):
    assert len(walk(api_a, "/messages", limit=3, **params)) == expected


def test_it_filters_messages_by_conversation_and_device(cast, api_a, history, device_a):
    conversation = Conversation.objects.get(contact=CUSTOMER)
    results = walk(api_a, "/messages", conversation_id=str(conversation.pk))
    assert {m["contact"] for m in results} == {CUSTOMER}
    assert len(results) == 11
    assert len(walk(api_a, "/messages", device_id=str(device_a.pk))) == 23


def test_it_never_lists_another_tenants_messages(api_a, history, token_b):
    assert walk(bearer(token_b), "/messages") == []
    assert walk(bearer(token_b), "/conversations") == []


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"cursor": "not-a-cursor"}, 400),
        ({"cursor": "W10"}, 400),
        ({"limit": 0}, 422),
        ({"limit": 201}, 422),
        ({"status": "lost"}, 422),
        ({"contact": "hello"}, 422),
    ],
)
def test_it_explains_bad_list_parameters(api_a, history, params, status):
    assert_error(api_a.get(f"{API}/messages", params), status)


def test_it_lists_conversations_newest_first_with_search_and_paging(cast, device_a, api_a):
    now = timezone.now()
    names = ["Budi Santoso", "Siti Aminah", "Agus", "Dewi", "Rina"]
    for i, name in enumerate(names):
        Conversation.objects.create(
            tenant=cast.tenant_a,
            device=device_a,
            contact=f"+62812000000{i:02d}",
            contact_name=name,
            last_message_at=now - timedelta(minutes=i) if i < 4 else None,
        )

    results = walk(api_a, "/conversations", limit=2)
    assert [c["contact_name"] for c in results] == names

    budi = walk(api_a, "/conversations", q="budi")
    assert [c["contact_name"] for c in budi] == ["Budi Santoso"]
    for number in ("0001", "812 0000 0001", "0812-0000-0001", "+62 812 0000 0001"):
        by_number = walk(api_a, "/conversations", q=number)
        assert [c["contact_name"] for c in by_number] == ["Siti Aminah"], number


# -- authentication and isolation ------------------------------------------------------------------


def test_it_accepts_a_token_on_the_platform_host_and_on_its_tenants_host(cast, device_a, token_a):
    for host in (platform_host(), cast.host_a):
        response = send(bearer(token_a, host), {"to": CUSTOMER, "body": f"from {host}"})
        assert response.status_code == 202, response.content
    assert ApiToken.objects.get().last_used_at is not None


def test_it_refuses_a_token_on_another_tenants_host(cast, device_a, token_b):
    client = bearer(token_b, cast.host_a)
    assert_error(client.get(f"{API}/messages"), 403, "forbidden")
    assert_error(send(client, {"to": CUSTOMER, "body": "Hi"}), 403, "forbidden")
    assert not Message.objects.exists()


def test_it_refuses_a_revoked_token(cast, device_a):
    token, raw = services.api_token_create(tenant=cast.tenant_a, name="Old app", actor=cast.alice)
    assert bearer(raw).get(f"{API}/messages").status_code == 200

    services.api_token_revoke(token=token, actor=cast.alice)

    assert_error(bearer(raw).get(f"{API}/messages"), 401, "unauthorized")
    assert_error(send(bearer(raw), {"to": CUSTOMER, "body": "Hi"}), 401, "unauthorized")
    assert not Message.objects.exists()


def test_it_refuses_a_token_of_an_inactive_tenant(cast, device_a, token_a):
    cast.tenant_a.is_active = False
    cast.tenant_a.save()
    assert_error(bearer(token_a).get(f"{API}/messages"), 401, "unauthorized")


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer bqw_wrong", "Bearer " + "x" * 5000, "Basic YWxpY2U6cHc=", "bqw_"],
)
def test_it_answers_401_without_valid_credentials(device_a, authorization):
    client = client_for(enforce_csrf=True)
    headers = {"Authorization": authorization} if authorization else {}
    assert_error(client.get(f"{API}/messages", headers=headers), 401, "unauthorized")
    response = client.post(
        f"{API}/messages",
        data=json.dumps({"to": CUSTOMER, "body": "Hi"}),
        content_type="application/json",
        headers=headers,
    )
    assert_error(response, 401, "unauthorized")
    assert not Message.objects.exists()


def test_it_needs_csrf_for_a_session_post(cast, device_a):
    client = client_for(cast.alice, cast.host_a, enforce_csrf=True)
    payload = {"to": CUSTOMER, "body": "Hi"}

    assert_error(send(client, payload), 403, "csrf_failed")
    assert not Message.objects.exists()

    client.cookies["csrftoken"] = CSRF
    response = post(client, "/messages", payload, **{"X-CSRFToken": CSRF})
    assert response.status_code == 202, response.content
    assert Message.objects.get().created_by == cast.alice


def test_it_lets_staff_send_and_read_messages(cast, device_a):
    bob = client_for(cast.bob, cast.host_a)
    assert send(bob, {"to": CUSTOMER, "body": "Hi"}).status_code == 202
    assert len(walk(bob, "/messages")) == 1


def test_it_refuses_members_of_other_tenants_and_asks_for_a_tenant_on_the_platform_host(
    cast, device_a
):
    charlie_on_a = client_for(cast.charlie, cast.host_a)
    assert_error(charlie_on_a.get(f"{API}/messages"), 403, "forbidden")
    assert_error(send(charlie_on_a, {"to": CUSTOMER, "body": "Hi"}), 403, "forbidden")
    root = client_for(cast.superadmin)
    assert_error(root.get(f"{API}/messages"), 400, "tenant_required")
    assert not Message.objects.exists()


def test_it_answers_unknown_api_paths_with_the_error_shape(api_a):
    assert_error(api_a.get(f"{API}/nothing-here"), 404, "not_found")
    assert_error(api_a.put(f"{API}/messages"), 405, "method_not_allowed")
