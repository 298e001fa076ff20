"""Devices and health against a live simulator process, with webhooks posted to a live server."""

from __future__ import annotations

import pytest
from django.core import mail

from core.errors import ApplicationError
from whatsapp import services
from whatsapp.models import (
    Device,
    DeviceStatus,
    EndpointProbe,
    EndpointState,
    HealthStatus,
    TenantWhatsAppConfig,
    WebhookEvent,
)
from whatsapp.tests.support.live import pair_front_desk, process_webhooks_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_it_pairs_a_device_through_the_phone_link_and_sees_connected_via_webhook(
    acme, cast, simulator
):
    device = services.device_create(tenant=acme, name="Front desk", actor=cast.alice)
    simulator.wait_for_status(device.session_name, "SCAN_QR_CODE")

    services.device_refresh_status(device=device)
    qr = services.device_qr(device=device)
    assert device.status == DeviceStatus.SCAN_QR
    assert qr is not None
    assert f":{simulator.port}/phone/{device.session_name}?code=" in qr.value

    simulator.pair(device.session_name)

    def connected():
        device.refresh_from_db()
        return device.status == DeviceStatus.CONNECTED

    process_webhooks_until(connected)
    assert device.phone.startswith("+62")
    assert device.connected_at is not None
    event = WebhookEvent.objects.filter(device=device, kind="status").latest("id")
    assert event.status == WebhookEvent.Status.PROCESSED


def test_it_restarts_a_dropped_device_when_auto_reconnect_is_on(acme, cast, simulator):
    device = pair_front_desk(simulator, acme, cast.alice)

    simulator.drop(device.session_name, "STOPPED")
    process_webhooks_until(lambda: Device.objects.get(pk=device.pk).status == DeviceStatus.STOPPED)

    assert services.devices_reconnect_due() == 1
    simulator.wait_for_status(device.session_name, "WORKING")
    process_webhooks_until(lambda: Device.objects.get(pk=device.pk).is_connected)
    # The claim pushed the next attempt out, so a second scheduler does not restart it again.
    assert services.devices_reconnect_due() == 0


def test_it_leaves_a_dropped_device_alone_when_auto_reconnect_is_off(acme, cast, simulator):
    TenantWhatsAppConfig.objects.filter(tenant=acme).update(auto_reconnect=False)
    device = pair_front_desk(simulator, acme, cast.alice)
    simulator.drop(device.session_name, "STOPPED")
    process_webhooks_until(lambda: Device.objects.get(pk=device.pk).status == DeviceStatus.STOPPED)

    assert services.devices_reconnect_due() == 0
    assert simulator.session(device.session_name)["status"] == "STOPPED"


def test_it_marks_the_endpoint_unhealthy_when_the_gateway_stops_and_healthy_when_it_returns(
    acme, cast, simulator, settings
):
    settings.ADMINS = [("Ops", "ops@booqing.test")]
    probe = services.endpoint_probe(endpoint_name="Sim")
    assert probe.ok
    config = TenantWhatsAppConfig.objects.get(tenant=acme)
    assert config.health_status == HealthStatus.HEALTHY
    assert config.last_health_check is not None

    simulator.stop()
    probe = services.endpoint_probe(endpoint_name="Sim")
    assert not probe.ok
    assert probe.error
    assert TenantWhatsAppConfig.objects.get(tenant=acme).health_status == HealthStatus.UNHEALTHY

    simulator.restart()
    assert services.endpoint_probe(endpoint_name="Sim").ok
    assert TenantWhatsAppConfig.objects.get(tenant=acme).health_status == HealthStatus.HEALTHY
    assert EndpointProbe.objects.filter(endpoint_name="Sim").count() == 3
    assert mail.outbox == []  # recovered within 5 minutes: nobody was paged


def test_it_reports_why_device_creation_failed_and_leaves_nothing_behind(acme, cast, simulator):
    simulator.configure(reject_key=True)
    with pytest.raises(ApplicationError) as error:
        services.device_create(tenant=acme, name="Front desk", actor=cast.alice)
    assert "Failed to create device" in error.value.message
    assert "apiKey" in error.value.message or "key" in error.value.message.lower()
    assert not Device.objects.exists()

    simulator.configure(reject_key=False)
    device = services.device_create(tenant=acme, name="Front desk", actor=cast.alice)
    assert Device.objects.filter(pk=device.pk).exists()


def test_it_probes_each_endpoint_once_per_sweep_however_many_tenants_use_it(acme, cast, simulator):
    services.endpoint_assign(tenant=cast.tenant_b, endpoint_name="Sim", actor=cast.superadmin)
    probes = services.health_sweep()
    assert [p.endpoint_name for p in probes] == ["Sim"]
    # A second sweep straight after finds nothing due: the claim moved next_probe_at forward.
    assert services.health_sweep() == []
    state = EndpointState.objects.get(endpoint_name="Sim")
    assert state.health_status == HealthStatus.HEALTHY
    healthy = TenantWhatsAppConfig.objects.filter(health_status=HealthStatus.HEALTHY)
    assert healthy.count() == 2


def test_it_logs_out_and_shows_a_fresh_qr(acme, cast, simulator):
    device = pair_front_desk(simulator, acme, cast.alice)

    device.refresh_from_db()
    services.device_logout(device=device, actor=cast.alice)
    simulator.wait_for_status(device.session_name, "SCAN_QR_CODE")
    services.device_refresh_status(device=device)
    assert device.status == DeviceStatus.SCAN_QR
    assert device.phone == ""
    assert services.device_qr(device=device) is not None


def test_it_deletes_the_gateway_session_with_the_device(acme, cast, simulator):
    device = services.device_create(tenant=acme, name="Front desk", actor=cast.alice)
    services.device_delete(device=device, actor=cast.alice)
    assert not Device.objects.exists()
    status, _ = simulator.request("GET", f"/api/sessions/{device.session_name}")
    assert status == 404
