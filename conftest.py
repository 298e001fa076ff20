"""Project-wide pytest fixtures: canary endpoints in the environment and the test cast."""

from __future__ import annotations

import pytest

from tenants.test import ENDPOINTS_JSON, build_cast


@pytest.fixture(autouse=True)
def canary_endpoints(monkeypatch):
    """Every test runs with the two canary endpoints configured (tests may override)."""
    monkeypatch.setenv("WHATSAPP_ENDPOINTS", ENDPOINTS_JSON)
    return ENDPOINTS_JSON


@pytest.fixture
def cast(db):
    return build_cast()
