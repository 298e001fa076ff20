"""Fixtures shared by the view tests."""

from __future__ import annotations

import pytest

from whatsapp.tests.factories import make_front_desk


@pytest.fixture
def device(cast):
    """Tenant A's connected front desk on a configured "Primary" (a module may define its own)."""
    return make_front_desk(cast.tenant_a)
