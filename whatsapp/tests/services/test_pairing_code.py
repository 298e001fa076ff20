"""Linking a phone by number (issue 11 item 7): both adapters, the service, the page and the API."""

from __future__ import annotations

import json
import re
from functools import partial

import pytest
from responses import matchers

from core.errors import ApplicationError
from tenants.test import client_for
from whatsapp import services
from whatsapp.gateways import EvolutionGateway, GatewayError, WahaGateway
from whatsapp.gateways.base import pairing_code_from
from whatsapp.json_errors import api_status
from whatsapp.models import DeviceStatus
from whatsapp.tests import factories
from whatsapp.tests.support.adapters import evolution_gateway, waha_gateway

PRIMARY = "https://primary.gateway.test"
WAHA = "https://waha.example.com"
EVO = "https://evo.example.com"
KEY = "canary-key-DO-NOT-LEAK-1234567890"
HTMX = {"HTTP_HX_REQUEST": "true"}


# --- adapters ----------------------------------------------------------------------------------


@pytest.fixture
def waha() -> WahaGateway:
    return waha_gateway(WAHA, KEY)


@pytest.fixture
def evo() -> EvolutionGateway:
    return evolution_gateway(EVO, KEY)


def test_waha_asks_for_a_code_with_the_number_in_digits(waha, rsps):
    rsps.post(
        f"{WAHA}/api/front-desk/auth/request-code",
        match=[matchers.json_params_matcher({"phoneNumber": "6281234567890"})],
        status=201,
        json={"code": "ABCD-EFGH"},
    )

    assert waha.session_pairing_code("front-desk", "+6281234567890") == "ABCD-EFGH"


def test_waha_refusing_the_number_is_an_invalid_phone_error(waha, rsps):
    rsps.post(
        f"{WAHA}/api/front-desk/auth/request-code",
        status=400,
        json={"statusCode": 400, "message": ["phoneNumber must be a string"]},
    )

    with pytest.raises(GatewayError) as caught:
        waha.session_pairing_code("front-desk", "+6281234567890")

    assert (caught.value.code, caught.value.permanent) == ("invalid_phone", True)
    assert KEY not in caught.value.message


def test_waha_on_a_connected_session_says_it_is_already_connected(waha, rsps):
    rsps.post(
        f"{WAHA}/api/front-desk/auth/request-code",
        status=422,
        json={
            "statusCode": 422,
            "message": "Session status is not as expected. Try again later or restart the "
            "session. Session: 'front-desk', status: 'WORKING', expected: 'SCAN_QR_CODE'",
        },
    )

    with pytest.raises(GatewayError) as caught:
        waha.session_pairing_code("front-desk", "+6281234567890")

    assert caught.value.code == "already_connected"


@pytest.mark.parametrize("reply", [{"code": None}, {"pairingCode": "ABCD-EFGH"}, ["ABCD-EFGH"]])
def test_waha_answering_an_unknown_shape_is_a_clear_gateway_error(waha, rsps, reply):
    rsps.post(f"{WAHA}/api/front-desk/auth/request-code", status=201, json=reply)

    with pytest.raises(GatewayError) as caught:
        waha.session_pairing_code("front-desk", "+6281234567890")

    assert caught.value.code == "bad_response"
    assert "8-character 'code'" in caught.value.message


def test_evolution_asks_connect_with_the_number_and_formats_the_code(evo, rsps):
    rsps.get(
        f"{EVO}/instance/connect/front-desk",
        match=[matchers.query_param_matcher({"number": "6281234567890"})],
        json={"pairingCode": "WZYEH1YY", "code": "2@abc,def", "count": 1},
    )

    assert evo.session_pairing_code("front-desk", "+6281234567890") == "WZYE-H1YY"


def test_evolution_before_its_first_qr_is_not_ready_yet(evo, rsps):
    rsps.get(f"{EVO}/instance/connect/front-desk", json={"count": 0})

    with pytest.raises(GatewayError) as caught:
        evo.session_pairing_code("front-desk", "+6281234567890")

    assert (caught.value.code, caught.value.permanent) == ("pairing_code_not_ready", False)


def test_evolution_on_an_open_instance_says_it_is_already_connected(evo, rsps):
    rsps.get(
        f"{EVO}/instance/connect/front-desk",
        json={"instance": {"instanceName": "front-desk", "state": "open"}},
    )

    with pytest.raises(GatewayError) as caught:
        evo.session_pairing_code("front-desk", "+6281234567890")

    assert caught.value.code == "already_connected"


@pytest.mark.parametrize("reply", [{"pairingCode": "ABC"}, {"hello": "world"}, "ABCD-EFGH"])
def test_evolution_answering_an_unknown_shape_is_a_clear_gateway_error(evo, rsps, reply):
    rsps.get(f"{EVO}/instance/connect/front-desk", json=reply)

    with pytest.raises(GatewayError) as caught:
        evo.session_pairing_code("front-desk", "+6281234567890")

    assert caught.value.code == "bad_response"
    assert "pairingCode" in caught.value.message


def test_an_unknown_instance_is_session_not_found(evo, rsps):
    rsps.get(f"{EVO}/instance/connect/front-desk", status=404, json={"status": 404})

    with pytest.raises(GatewayError) as caught:
        evo.session_pairing_code("front-desk", "+6281234567890")

    assert caught.value.code == "session_not_found"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [("ABCDEFGH", "ABCD-EFGH"), ("abcd-efgh", "ABCD-EFGH"), ("ABCD EFGH", "ABCD-EFGH")],
)
def test_codes_are_shown_in_two_groups_of_four(raw, shown):
    assert pairing_code_from(raw) == shown


@pytest.mark.parametrize(
    "raw", [None, "", "ABCDEFG", "ABCDEFGHI", "ABCD-EFG!", 12345678, "ÄBCDEFGH"]
)
def test_anything_else_is_not_a_code(raw):
    assert pairing_code_from(raw) is None


# --- service, page and API (WAHA endpoint "Primary", HTTP mocked) -------------------------------


@pytest.fixture
def configured(cast):
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Primary", actor=None)
    return cast


# A new device waits for its QR scan (or a pairing code).
make_device = partial(factories.make_device, status=DeviceStatus.SCAN_QR)


def mock_pairing(gateway, device, code="ABCD-EFGH", status=201):
    """The session waits for a QR scan; request-code answers `code`. Returns the call list."""
    gateway.get(
        f"{PRIMARY}/api/sessions/{device.session_name}",
        json={"name": device.session_name, "status": "SCAN_QR_CODE", "me": None},
    )
    gateway.get(f"{PRIMARY}/api/{device.session_name}/auth/qr", json={"value": "2@qr,abc"})
    return gateway.post(
        f"{PRIMARY}/api/{device.session_name}/auth/request-code", status=status, json={"code": code}
    )


@pytest.mark.parametrize("typed", ["0812-3456-7890", "+62 812 3456 7890", "6281234567890"])
def test_the_service_turns_any_way_of_writing_the_number_into_one_request(
    configured, gateway, typed
):
    device = make_device(configured.tenant_a)
    call = mock_pairing(gateway, device)

    code = services.device_pairing_code(device=device, phone=typed, actor=configured.alice)

    assert (code.code, code.phone) == ("ABCD-EFGH", "+6281234567890")
    assert json.loads(call.calls[0].request.body) == {"phoneNumber": "6281234567890"}
    assert code.expires_at > device.created_at


@pytest.mark.parametrize("typed", ["", "hello", "0812", "+1 555"])
def test_a_bad_number_is_refused_before_any_gateway_call(configured, gateway, typed):
    device = make_device(configured.tenant_a)
    call = mock_pairing(gateway, device)

    with pytest.raises(ApplicationError) as caught:
        services.device_pairing_code(device=device, phone=typed, actor=None)

    assert (caught.value.code, api_status(caught.value)) == ("invalid_phone", 422)
    assert call.call_count == 0


def test_a_connected_device_gets_no_code(configured, gateway):
    device = make_device(configured.tenant_a, status=DeviceStatus.CONNECTED)
    call = mock_pairing(gateway, device)

    with pytest.raises(ApplicationError) as caught:
        services.device_pairing_code(device=device, phone="081234567890", actor=None)

    assert (caught.value.code, api_status(caught.value)) == ("already_connected", 409)
    assert call.call_count == 0


def test_the_page_shows_the_code_large_with_the_steps(configured, gateway):
    device = make_device(configured.tenant_a)
    mock_pairing(gateway, device)
    client = client_for(configured.alice, configured.host_a)

    response = client.post(
        f"/admin/whatsapp/devices/{device.pk}/pairing-code", {"phone": "0812-3456-7890"}, **HTMX
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'data-testid="pairing-code"[^>]*>ABCD-EFGH<', page)
    assert "Link with phone number instead" in page
    assert "0812-3456-7890" in page
    # Copy button with a live region for "Copied"; the status keeps polling for Connected.
    assert 'data-copy-target="#pairing-code"' in page
    assert 'hx-trigger="every 2s"' in page


def test_the_page_speaks_indonesian(configured, gateway):
    device = make_device(configured.tenant_a)
    mock_pairing(gateway, device)
    client = client_for(configured.alice, configured.host_a, language="id")

    page = client.get(f"/admin/whatsapp/devices/{device.pk}").content.decode()
    coded = client.post(
        f"/admin/whatsapp/devices/{device.pk}/pairing-code", {"phone": "081234567890"}, **HTMX
    ).content.decode()

    assert "Tautkan dengan nomor telepon" in page
    assert "Salin" in coded
    assert "Ketik kode" in coded


def test_a_bad_number_is_an_error_tied_to_the_field(configured, gateway):
    device = make_device(configured.tenant_a)
    call = mock_pairing(gateway, device)
    client = client_for(configured.alice, configured.host_a)

    response = client.post(
        f"/admin/whatsapp/devices/{device.pk}/pairing-code", {"phone": "12ab"}, **HTMX
    )

    page = response.content.decode()
    assert response.status_code == 200  # htmx swaps 2xx only: the error travels in the fragment
    field = re.search(r'<input type="tel"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in field
    assert "pair-phone-error" in field
    assert 'id="pair-phone-error"' in page
    assert "Enter the WhatsApp number of the phone" in page
    assert 'value="12ab"' in field  # what was typed stays, to correct it
    assert call.call_count == 0
    plain = client.post(f"/admin/whatsapp/devices/{device.pk}/pairing-code", {"phone": "12ab"})
    assert plain.status_code == 422


def test_a_gateway_failure_reaches_the_owner_without_the_gateway_host(configured, gateway):
    device = make_device(configured.tenant_a)
    mock_pairing(gateway, device, status=500)
    client = client_for(configured.alice, configured.host_a)

    page = client.post(
        f"/admin/whatsapp/devices/{device.pk}/pairing-code", {"phone": "081234567890"}, **HTMX
    ).content.decode()

    assert 'data-testid="pairing-error"' in page
    assert "The WhatsApp service is not answering right now" in page
    assert "primary.gateway.test" not in page
    assert "Gateway '" not in page


def test_the_status_poll_clears_the_code_once_connected(configured, gateway):
    device = make_device(configured.tenant_a)
    gateway.get(
        f"{PRIMARY}/api/sessions/{device.session_name}",
        json={"name": device.session_name, "status": "WORKING", "me": {"id": "6281234567890@c.us"}},
    )
    client = client_for(configured.alice, configured.host_a)

    fragment = client.get(f"/admin/whatsapp/devices/{device.pk}", **HTMX).content.decode()

    assert 'data-status="connected"' in fragment
    assert re.search(r'<div id="pairing-panel" hx-swap-oob="true"', fragment)


def test_staff_see_no_pairing_form(configured, gateway):
    device = make_device(configured.tenant_a)
    mock_pairing(gateway, device)

    page = client_for(configured.bob, configured.host_a).get(f"/admin/whatsapp/devices/{device.pk}")

    assert page.status_code == 200
    assert 'data-testid="pairing-panel"' not in page.content.decode()


def test_the_api_returns_the_code(configured, gateway):
    device = make_device(configured.tenant_a)
    mock_pairing(gateway, device, code="WZYEH1YY")
    _, raw = services.api_token_create(
        tenant=configured.tenant_a, name="Setup", actor=None, scopes=["devices"]
    )
    client = client_for(None, configured.host_a)

    response = client.post(
        f"/api/whatsapp/devices/{device.pk}/pairing-code",
        {"phone": "081234567890"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["code"], body["phone"]) == ("WZYE-H1YY", "+6281234567890")
    assert body["expires_at"]


def test_the_api_refuses_a_bad_number_with_the_error_shape(configured, gateway):
    device = make_device(configured.tenant_a)
    mock_pairing(gateway, device)

    response = client_for(configured.alice, configured.host_a).post(
        f"/api/whatsapp/devices/{device.pk}/pairing-code",
        {"phone": "not a number"},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_phone"
