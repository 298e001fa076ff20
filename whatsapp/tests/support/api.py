"""The tenant API as a server calls it, its error shape, and the WAHA session answers its device
tests mock."""

from __future__ import annotations

import json

from tenants.test import CANARY_KEYS, client_for, platform_host
from whatsapp.models import Device

API = "/api/whatsapp"
GATEWAY = "https://primary.gateway.test"  # endpoint "Primary" in the test settings
SEND_URL = f"{GATEWAY}/api/sendText"
CUSTOMER = "+6281234567890"  # the booking's customer most tests write to


def bearer(token: str, host: str | None = None):
    """A server calling with a tenant API token (platform host by default): CSRF is enforced."""
    client = client_for(host=host or platform_host(), enforce_csrf=True)
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def post(client, path: str, data: dict):
    """POST `data` as JSON to the API `path` (below /api/whatsapp)."""
    return client.post(API + path, data=json.dumps(data), content_type="application/json")


def assert_error(response, status: int, code: str | None = None) -> str:
    assert response.status_code == status, response.content[:400]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    for key in CANARY_KEYS:
        assert key not in response.content.decode()
    return error["message"]


def waha_session(name: str, status: str, me: dict | None = None) -> dict:
    return {"name": name, "status": status, "me": me, "config": {}, "engine": {"engine": "WEBJS"}}


def session_url(device: Device, suffix: str = "") -> str:
    return f"{GATEWAY}/api/sessions/{device.session_name}{suffix}"
