"""Health on the superadmin pages: Test connection, the endpoint list, and the sweep's effects."""

from __future__ import annotations

import pytest
import requests
import responses

from tenants.test import CANARY_KEYS, client_for
from whatsapp import services
from whatsapp.models import EndpointProbe, HealthStatus, TenantWhatsAppConfig

pytestmark = pytest.mark.django_db
PRIMARY = "https://primary.gateway.test"


def healthy_primary(rsps):
    rsps.get(f"{PRIMARY}/ping", json={"message": "pong"})
    rsps.get(f"{PRIMARY}/api/server/version", json={"version": "2026.11.1", "engine": "NOWEB"})


@pytest.fixture
def assigned(cast):
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Primary", actor=cast.superadmin)
    return cast


def test_it_tests_the_connection_and_shows_latency_without_a_reload(assigned):
    cast = assigned
    with responses.RequestsMock() as rsps:
        healthy_primary(rsps)
        response = client_for(cast.superadmin).post(
            f"/admin/tenants/{cast.tenant_a.pk}/whatsapp/test",
            {},
            HTTP_HX_REQUEST="true",
        )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Primary answered in" in html and "healthy" in html
    assert "<html" not in html  # the panel only: htmx swaps it in place
    config = TenantWhatsAppConfig.objects.get(tenant=cast.tenant_a)
    assert config.health_status == HealthStatus.HEALTHY
    assert EndpointProbe.objects.filter(endpoint_name="Primary", ok=True).count() == 1


def test_it_explains_a_failed_connection_test_without_leaking_the_key(assigned):
    cast = assigned
    with responses.RequestsMock() as rsps:
        rsps.get(f"{PRIMARY}/ping", body=requests.ConnectionError("refused"))
        response = client_for(cast.superadmin).post(
            f"/admin/tenants/{cast.tenant_a.pk}/whatsapp/test",
            {},
            HTTP_HX_REQUEST="true",
        )
    html = response.content.decode()
    assert "Test connection failed: Primary" in html
    assert "primary.gateway.test" in html  # the host helps; the key never appears
    assert not any(key in html for key in CANARY_KEYS)
    assert (
        TenantWhatsAppConfig.objects.get(tenant=cast.tenant_a).health_status
        == HealthStatus.UNHEALTHY
    )


def test_it_lists_endpoint_health_latency_and_tenants(assigned):
    cast = assigned
    with responses.RequestsMock() as rsps:
        healthy_primary(rsps)
        # Evolution's health is one verify-creds call (its GET / is too slow to probe).
        rsps.post("https://secondary.gateway.test:8443/verify-creds", status=503)
        probes = services.health_sweep(concurrency=2)
    assert sorted(p.endpoint_name for p in probes) == ["Primary", "Secondary"]
    html = client_for(cast.superadmin).get("/admin/endpoints/").content.decode()
    assert "Healthy" in html and "Unhealthy" in html
    assert " ms</td>" in html
    assert not any(key in html for key in CANARY_KEYS)


def test_it_shows_health_on_the_tenant_dashboard(assigned):
    cast = assigned
    with responses.RequestsMock() as rsps:
        healthy_primary(rsps)
        services.endpoint_probe(endpoint_name="Primary")
    html = client_for(cast.bob, cast.host_a).get("/admin/whatsapp").content.decode()
    assert "Healthy" in html
    assert "checked" in html


def failing_primary(rsps):
    rsps.get(f"{PRIMARY}/ping", body=requests.ConnectionError("refused"))


def test_it_alerts_superadmins_once_after_five_minutes_unhealthy_and_again_on_recovery(
    assigned, settings
):
    from datetime import timedelta

    from django.core import mail
    from django.utils import timezone

    from whatsapp.models import EndpointState

    settings.ADMINS = [("Ops", "ops@booqing.test")]
    start = timezone.now()
    with responses.RequestsMock() as rsps:
        failing_primary(rsps)
        services.endpoint_probe(endpoint_name="Primary", now=start)
        services.endpoint_probe(endpoint_name="Primary", now=start + timedelta(minutes=4))
    assert mail.outbox == []  # four minutes is a blip, not an outage

    with responses.RequestsMock() as rsps:
        failing_primary(rsps)
        services.endpoint_probe(endpoint_name="Primary", now=start + timedelta(minutes=6))
        services.endpoint_probe(endpoint_name="Primary", now=start + timedelta(minutes=7))
    assert len(mail.outbox) == 1  # one page per outage, not one per probe
    alert = mail.outbox[0]
    assert "Primary is unhealthy" in alert.subject
    assert set(alert.to) == {"root@booqing.test", "ops@booqing.test"}
    assert not any(key in alert.body for key in CANARY_KEYS)
    assert EndpointState.objects.get(endpoint_name="Primary").alerted_at is not None

    with responses.RequestsMock() as rsps:
        healthy_primary(rsps)
        services.endpoint_probe(endpoint_name="Primary", now=start + timedelta(minutes=8))
    assert len(mail.outbox) == 2
    assert "Primary recovered" in mail.outbox[1].subject
    state = EndpointState.objects.get(endpoint_name="Primary")
    assert state.alerted_at is None and state.unhealthy_since is None


def test_it_says_just_now_rather_than_zero_minutes(assigned):
    from datetime import timedelta

    from django.utils import timezone

    from whatsapp.templatetags.whatsapp_extras import ago

    now = timezone.now()
    assert ago(now) == "just now"
    assert ago(now - timedelta(minutes=3)) == "3\xa0minutes ago"
    assert ago(None) == ""


def test_it_asks_for_an_endpoint_before_testing_the_connection(cast):
    response = client_for(cast.superadmin).post(
        f"/admin/tenants/{cast.tenant_a.pk}/whatsapp/test", {}, HTTP_HX_REQUEST="true"
    )
    assert "Assign an endpoint before testing the connection." in response.content.decode()
    assert not EndpointProbe.objects.exists()


def test_a_failed_connection_test_reads_in_indonesian_for_an_indonesian_superadmin(assigned):
    cast = assigned
    with responses.RequestsMock() as rsps:
        rsps.get(f"{PRIMARY}/ping", body=requests.ConnectionError("refused"))
        response = client_for(cast.superadmin, language="id").post(
            f"/admin/tenants/{cast.tenant_a.pk}/whatsapp/test", {}, HTTP_HX_REQUEST="true"
        )
    assert "Uji koneksi gagal: Primary" in response.content.decode()
