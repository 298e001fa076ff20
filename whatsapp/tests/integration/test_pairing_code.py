"""Linking a phone by number against the simulator (WAHA Plus and Evolution API flavours, real
processes): the owner asks for a code on the device page, types it on the phone, and the page
shows Connected with that number (issue 11 item 7)."""

from __future__ import annotations

import re

import pytest

from gateway_simulator.testing import wait_until
from tenants.test import client_for
from whatsapp import services
from whatsapp.models import Device, DeviceStatus

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    # WAHA Core has no pairing by code.
    pytest.mark.parametrize("gateway", ["waha-plus", "evolution"], indirect=True),
]

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_the_owner_links_the_business_phone_with_a_code(cast, gateway, webhooks_to_live_server):
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Sim", actor=cast.superadmin)
    device = services.device_create(tenant=cast.tenant_a, name="Front desk", actor=cast.alice)
    gateway.wait_for_status(device.session_name, "SCAN_QR_CODE", timeout=15)
    client = client_for(cast.alice, cast.host_a)
    url = f"/admin/whatsapp/devices/{device.pk}"

    page = client.post(f"{url}/pairing-code", {"phone": "0812-3456-7890"}, **HTMX)

    assert page.status_code == 200
    code = re.search(
        r'data-testid="pairing-code"[^>]*>([A-Z0-9]{4}-[A-Z0-9]{4})<', page.content.decode()
    ).group(1)
    # The phone (0812-3456-7890) types the code into WhatsApp.
    gateway.pair_with_code(device.session_name, code, timeout=15)

    def connected() -> bool:
        services.webhook_events_process_due()
        fragment = client.get(url, **HTMX).content.decode()
        return 'data-status="connected"' in fragment and fragment

    fragment = wait_until(connected, timeout=20)
    assert "0812-3456-7890" in fragment
    assert 'hx-swap-oob="true"' in fragment  # the code leaves the screen
    device = Device.objects.get(pk=device.pk)
    assert (device.status, device.phone) == (DeviceStatus.CONNECTED, "+6281234567890")


def test_a_wrong_code_does_not_link(cast, gateway):
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Sim", actor=cast.superadmin)
    device = services.device_create(tenant=cast.tenant_a, name="Front desk", actor=cast.alice)
    gateway.wait_for_status(device.session_name, "SCAN_QR_CODE", timeout=15)
    services.device_pairing_code(device=device, phone="081234567890", actor=cast.alice)

    status, reply = gateway.request(
        "POST", f"/_sim/sessions/{device.session_name}/enter-code", {"code": "ZZZZ-ZZZZ"}
    )

    assert (status, reply["outcome"]) == (409, "expired")
    services.device_refresh_status(device=device)
    # Still waiting for a phone (Evolution calls it "connecting", WAHA "SCAN_QR_CODE").
    assert device.is_pairing and not device.phone
