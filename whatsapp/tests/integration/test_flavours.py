"""The whole device flow of the product against every simulator flavour (WAHA Core, WAHA Plus,
Evolution API), each a real process that answers as the recorded gateways do: assign, probe, add
a device, pair, send, receive, drop and reconnect twice, delete, add again."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from django.utils import timezone

from whatsapp import services
from whatsapp.models import Device, DeviceStatus, Message, MessageStatus, TenantWhatsAppConfig
from whatsapp.tasks import send_message
from whatsapp.tests.support import live

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CONTACT = "6281100000001"


process_webhooks_until = partial(live.process_webhooks_until, timeout=20.0)


def status_of(device: Device) -> str:
    return Device.objects.values_list("status", flat=True).get(pk=device.pk)


def on_gateway(device: Device, gateway) -> str:
    """The device's session as the gateway names it: WAHA Core only ever has `default`."""
    return "default" if gateway.flavor == "waha-core" else device.session_name


def add_and_pair(tenant, actor, gateway) -> Device:
    device = services.device_create(tenant=tenant, name="Front desk", actor=actor)
    gateway.pair(on_gateway(device, gateway), timeout=15)

    def connected() -> bool:
        if status_of(device) == DeviceStatus.CONNECTED:
            return True
        # A delivery retried late can land after "connected"; the device page reads the
        # gateway's own status as well, so do what it does.
        services.device_refresh_status(device=Device.objects.get(pk=device.pk))
        return status_of(device) == DeviceStatus.CONNECTED

    process_webhooks_until(connected)
    device.refresh_from_db()
    return device


@pytest.fixture
def paired(cast, gateway, webhooks_to_live_server) -> Device:
    """Tenant A on the flavour's endpoint (probed healthy) with one device paired."""
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Sim", actor=cast.superadmin)
    assert services.endpoint_probe(endpoint_name="Sim").ok
    device = add_and_pair(cast.tenant_a, cast.alice, gateway)
    assert device.phone.startswith("+62")
    return device


def test_it_sends_and_receives_on_every_gateway(paired, gateway):
    tenant = paired.tenant
    message, _ = services.message_send(tenant=tenant, to=CONTACT, body="Booking confirmed")
    assert send_message.call(str(message.pk)) == MessageStatus.SENT
    # The contact's phone acks it up to read.
    process_webhooks_until(lambda: Message.objects.get(pk=message.pk).status == MessageStatus.READ)

    gateway.inbound(on_gateway(paired, gateway), CONTACT, "Thank you!", pushName="Budi")
    inbound = process_webhooks_until(
        lambda: Message.objects.filter(direction=Message.Direction.INBOUND).first()
    )
    assert (inbound.body, inbound.conversation.contact) == ("Thank you!", f"+{CONTACT}")
    assert inbound.conversation_id == Message.objects.get(pk=message.pk).conversation_id


def test_it_reconnects_a_device_that_dropped_twice_in_a_row(paired, gateway):
    interval = TenantWhatsAppConfig.objects.get(tenant=paired.tenant).reconnect_interval
    for round_ in range(2):
        gateway.drop(on_gateway(paired, gateway), "STOPPED")
        process_webhooks_until(lambda: status_of(paired) != DeviceStatus.CONNECTED)
        # The second drop comes after the first attempt's reconnect interval.
        later = timezone.now() + timedelta(seconds=(interval + 1) * round_)
        assert services.devices_reconnect_due(now=later) == 1
        gateway.wait_for_status(on_gateway(paired, gateway), "WORKING", timeout=15)
        process_webhooks_until(lambda: status_of(paired) == DeviceStatus.CONNECTED)


def test_a_deleted_device_leaves_the_endpoint_ready_for_the_next(cast, paired, gateway):
    session_name = on_gateway(paired, gateway)
    services.device_delete(device=paired, actor=cast.alice)
    assert not Device.objects.exists()
    status, session = gateway.request("GET", f"/_sim/sessions/{session_name}")
    # The gateway forgets the session (WAHA Core may instead keep `default`, stopped and empty).
    assert status == 404 or (gateway.flavor == "waha-core" and session["status"] == "STOPPED")

    again = add_and_pair(cast.tenant_a, cast.alice, gateway)
    message, _ = services.message_send(tenant=cast.tenant_a, to=CONTACT, body="Welcome back")
    assert send_message.call(str(message.pk)) == MessageStatus.SENT
    assert again.status == DeviceStatus.CONNECTED
