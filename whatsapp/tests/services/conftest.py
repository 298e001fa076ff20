"""Fixtures shared by the service tests.

test_messages and test_events sign webhooks with the device's session and secret: they keep them
as SESSION and SECRET, which must stay the values below.
"""

from __future__ import annotations

import pytest

from whatsapp.tests.factories import make_config, make_device


@pytest.fixture
def config(cast):
    """Tenant A's configured "Primary" endpoint."""
    return make_config(cast.tenant_a)


@pytest.fixture
def device(cast, config):
    """Tenant A's connected front desk with a phone and no pacing (a module may define its own)."""
    return make_device(
        cast.tenant_a,
        session="bq-acme-frontdesk",
        phone="+6281100000000",
        secret="per-device-secret-front-desk",
        min_send_gap_ms=0,
    )
