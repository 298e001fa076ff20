"""The tenant API's error shape, and the WAHA session answers its device tests mock."""

from __future__ import annotations

from tenants.test import CANARY_KEYS
from whatsapp.models import Device

GATEWAY = "https://primary.gateway.test"


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
