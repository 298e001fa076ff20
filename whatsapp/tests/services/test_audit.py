"""The audit trail names who acted: a person, the booking product's API token, or the system."""

from __future__ import annotations

import re

import pytest
import responses

from core.models import AuditEvent
from tenants.test import client_for
from whatsapp import services
from whatsapp.tests.support.api import GATEWAY

pytestmark = pytest.mark.django_db


def test_it_names_the_api_token_that_created_a_device(cast):
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Primary", actor=cast.superadmin)
    # (device management needs the `devices` scope since issue 9)
    _token, raw = services.api_token_create(
        tenant=cast.tenant_a, name="Booking app", actor=cast.alice, scopes=["devices"]
    )
    with responses.RequestsMock() as rsps:
        rsps.post(f"{GATEWAY}/api/sessions", json={"name": "x", "status": "STARTING"}, status=201)
        # The new device is starting: the reply asks for its QR, which is not ready yet.
        rsps.get(re.compile(rf"{GATEWAY}/api/[^/]+/auth/qr.*"), status=422)
        response = client_for(host=cast.host_a).post(
            "/api/whatsapp/devices",
            {"name": "Reception"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
    assert response.status_code == 201
    event = AuditEvent.objects.get(action="device.created")
    assert event.actor is None
    assert event.actor_label == "API token Booking app"


def test_it_names_the_person_and_the_system(cast):
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Primary", actor=cast.superadmin)
    services.endpoint_remove(tenant=cast.tenant_a, actor=None)
    labels = list(
        AuditEvent.objects.filter(tenant=cast.tenant_a)
        .order_by("created_at")
        .values_list("actor_label", flat=True)
    )
    assert labels == ["root", "system"]
