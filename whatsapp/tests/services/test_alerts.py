"""Tenant admins are told about their devices (e-mail in Indonesian in the tenant zone, a banner,
a device.status event), a silent device is restarted once, and the sending settings page."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from core.models import AuditEvent
from tenants.test import client_for, tenant_host
from whatsapp import services
from whatsapp.models import (
    Device,
    DeviceStatus,
    Message,
    MessageStatus,
)
from whatsapp.models_booking import EventDelivery, EventEndpoint
from whatsapp.services import alerts, silence
from whatsapp.services import devices as device_services
from whatsapp.services.send_settings import pacing_bounds
from whatsapp.tests.support.api import CUSTOMER

pytestmark = pytest.mark.django_db

WIB = ZoneInfo("Asia/Jakarta")


@pytest.fixture
def device(device):
    """Connected two days ago."""
    device.connected_at = timezone.now() - timedelta(days=2)
    device.save(update_fields=["connected_at"])
    return device


@pytest.fixture
def listener(device):
    return EventEndpoint.objects.create(
        tenant=device.tenant,
        url="https://booking.example/hooks",
        events=["device.status"],
        secret="whsec_dGVzdA==",
    )


def device_states(endpoint) -> list[str]:
    deliveries = EventDelivery.objects.filter(endpoint=endpoint).order_by("created_at")
    return [d.payload["data"]["status"] for d in deliveries]


def drop(device, status: str) -> None:
    device_services.device_apply_status_event(
        device=device, status=status, phone=None, push_name=None
    )


def test_a_disconnect_emails_the_tenant_admins_once_in_indonesian(
    cast, device, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        drop(device, DeviceStatus.FAILED)
        drop(Device.objects.get(pk=device.pk), DeviceStatus.STOPPED)  # still down: no 2nd mail
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["alice@acme.test"]  # the admin, not bob (staff), not other tenants
    assert "Front desk" in email.subject
    assert "terputus" in email.subject.lower()  # Indonesian by default
    assert "WIB" in email.body  # the tenant's zone


def test_a_logout_and_a_reconnect_clear_and_renew_the_alert(
    cast, device, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        drop(device, DeviceStatus.SCAN_QR)  # unlinked from the phone
    assert "keluar" in mail.outbox[0].subject.lower()
    assert alerts.tenant_alerts(tenant=cast.tenant_a)[0]["state"] == "logged_out"
    with django_capture_on_commit_callbacks(execute=True):
        drop(Device.objects.get(pk=device.pk), DeviceStatus.CONNECTED)
    assert alerts.tenant_alerts(tenant=cast.tenant_a) == []
    with django_capture_on_commit_callbacks(execute=True):
        drop(Device.objects.get(pk=device.pk), DeviceStatus.FAILED)
    assert len(mail.outbox) == 2  # a new drop is a new e-mail


def test_the_dashboard_shows_a_banner_for_a_dropped_device(cast, device):
    drop(device, DeviceStatus.FAILED)
    page = client_for(cast.bob, tenant_host(cast.tenant_a)).get("/admin/whatsapp")
    assert page.status_code == 200
    assert 'data-testid="device-alert"' in page.content.decode()
    assert "Front desk is disconnected" in page.content.decode()
    indonesian = client_for(cast.bob, tenant_host(cast.tenant_a), language="id")
    assert "Front desk" in indonesian.get("/admin/whatsapp").content.decode()


# -- silent devices ----------------------------------------------------------------------------


def waiting_send(device, *, age: timedelta) -> Message:
    message, _ = services.message_send(tenant=device.tenant, to=CUSTOMER, body="Reminder")
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENT, sent_at=timezone.now() - age
    )
    return message


def test_a_silent_device_is_announced_emailed_and_restarted_once(
    cast, device, listener, monkeypatch, django_capture_on_commit_callbacks
):
    restarts = []
    monkeypatch.setattr(
        device_services, "device_restart", lambda device: restarts.append(device.pk)
    )
    # No inbound today: its rhythm is slow, so silence counts after 6 hours (SILENT_MAX).
    Device.objects.filter(pk=device.pk).update(last_activity_at=timezone.now() - timedelta(hours=8))
    waiting_send(device, age=timedelta(hours=7))

    with django_capture_on_commit_callbacks(execute=True):
        assert silence.devices_check_silent() == 1
        assert silence.devices_check_silent() == 0  # the same silence: nothing more
    assert restarts == [device.pk]
    assert "silent" in device_states(listener)
    assert len(mail.outbox) == 1
    assert "senyap" in mail.outbox[0].subject.lower()
    assert alerts.tenant_alerts(tenant=cast.tenant_a)[0]["state"] == "silent"

    # It answers again (an ack): the mark clears and the product hears it is back.
    moved_on = timezone.now() + timedelta(minutes=5)
    Device.objects.filter(pk=device.pk).update(last_activity_at=moved_on)
    assert silence.devices_check_silent() == 1
    assert device_states(listener)[-1] == "connected"
    assert alerts.tenant_alerts(tenant=cast.tenant_a) == []


def test_a_quiet_device_with_nothing_waiting_is_not_silent(device, monkeypatch):
    monkeypatch.setattr(device_services, "device_restart", lambda device: pytest.fail("restarted"))
    Device.objects.filter(pk=device.pk).update(last_activity_at=timezone.now() - timedelta(days=1))
    assert silence.devices_check_silent() == 0


def test_silence_is_measured_against_the_devices_usual_rhythm(device, monkeypatch):
    monkeypatch.setattr(device_services, "device_restart", lambda device: None)
    # A busy device (an inbound message every ~5 minutes today) is silent after 50 minutes ...
    for i in range(288):
        Message.objects.create(
            tenant=device.tenant,
            device=device,
            conversation=services.message_receive(
                device=device,
                inbound={"message_id": f"IN{i}", "phone": CUSTOMER, "sender": "x", "body": "hi"},
            ).conversation,
            direction=Message.Direction.INBOUND,
            body="hi",
            status=MessageStatus.RECEIVED,
            gateway_message_id=f"BUSY{i}",
        )
    now = timezone.now()
    assert silence._silence_threshold(device, now) == timedelta(minutes=30)
    Device.objects.filter(pk=device.pk).update(last_activity_at=now - timedelta(minutes=50))
    waiting_send(device, age=timedelta(minutes=45))
    assert silence.devices_check_silent(now=now) == 1


def test_the_scheduler_runs_the_silent_step_with_time_moved_forward(device, monkeypatch):
    from whatsapp.management.commands.whatsapp_scheduler import run_steps, slow_steps

    monkeypatch.setattr(device_services, "device_restart", lambda device: None)
    Device.objects.filter(pk=device.pk).update(last_activity_at=timezone.now())
    waiting_send(device, age=timedelta(seconds=1))
    later = timezone.now() + timedelta(hours=8)
    monkeypatch.setattr(timezone, "now", lambda: later)
    steps = [s for s in slow_steps(1) if s.name == "silent_devices"]
    run_steps(steps)
    assert Device.objects.get(pk=device.pk).silent_since == later


# -- sending settings page ---------------------------------------------------------------------


def test_admins_set_quiet_hours_and_expiry_on_the_settings_page(cast, config):
    client = client_for(cast.alice, tenant_host(cast.tenant_a))
    assert client.get("/admin/whatsapp/settings").status_code == 200
    response = client.post(
        "/admin/whatsapp/settings/save",
        {"quiet_hours_start": "21:00", "quiet_hours_end": "07:00", "message_expiry_hours": "6"},
    )
    assert response.status_code == 302
    config.refresh_from_db()
    assert (config.quiet_hours_start.hour, config.quiet_hours_end.hour) == (21, 7)
    assert config.message_expiry_hours == 6
    assert AuditEvent.objects.filter(action="whatsapp.send_settings_updated").exists()
    page = client.get("/admin/whatsapp/settings").content.decode()
    assert 'value="21:00"' in page


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (
            {"quiet_hours_start": "21:00", "quiet_hours_end": "", "message_expiry_hours": "6"},
            "quiet_hours_end",
        ),
        (
            {"quiet_hours_start": "21:00", "quiet_hours_end": "21:00", "message_expiry_hours": "6"},
            "quiet_hours_end",
        ),
    ],
)
def test_half_a_window_is_refused_by_name(cast, config, data, named):
    client = client_for(cast.alice, tenant_host(cast.tenant_a))
    response = client.post("/admin/whatsapp/settings/save", data)
    assert response.status_code == 422
    assert named in response.content.decode()
    config.refresh_from_db()
    assert config.quiet_hours_start is None


def test_admins_set_pacing_within_platform_bounds(cast, device):
    client = client_for(cast.alice, tenant_host(cast.tenant_a))
    url = f"/admin/whatsapp/settings/devices/{device.pk}/pacing"
    ok = client.post(url, {"min_send_gap_ms": "2000", "daily_send_cap": "300"})
    assert ok.status_code == 302
    device.refresh_from_db()
    assert (device.min_send_gap_ms, device.daily_send_cap) == (2000, 300)
    too_fast = client.post(url, {"min_send_gap_ms": "10", "daily_send_cap": "300"})
    assert too_fast.status_code == 422
    assert "min_send_gap_ms" in too_fast.content.decode()
    too_many = client.post(
        url,
        {"min_send_gap_ms": "2000", "daily_send_cap": str(pacing_bounds()["max_daily_cap"] + 1)},
    )
    assert too_many.status_code == 422
    device.refresh_from_db()
    assert (device.min_send_gap_ms, device.daily_send_cap) == (2000, 300)


def test_the_device_card_shows_todays_sends_against_the_cap(cast, device):
    Device.objects.filter(pk=device.pk).update(daily_send_cap=200)
    for i in range(3):
        message, _ = services.message_send(tenant=device.tenant, to=CUSTOMER, body=f"m{i}")
        Message.objects.filter(pk=message.pk).update(
            status=MessageStatus.SENT, sent_at=timezone.now()
        )
    page = client_for(cast.alice, tenant_host(cast.tenant_a)).get("/admin/whatsapp")
    assert "3 of 200 sent today" in page.content.decode()


def test_the_alert_email_reads_the_time_in_the_tenant_zone(cast, device):
    cast.tenant_a.time_zone = "Asia/Jayapura"
    cast.tenant_a.save()
    device.refresh_from_db()
    at = datetime(2026, 12, 2, 20, 0, tzinfo=WIB)
    alerts._send_device_email(device_id=device.pk, state="disconnected", at=at)
    assert "22:00" in mail.outbox[0].body
    assert "WIT" in mail.outbox[0].body
