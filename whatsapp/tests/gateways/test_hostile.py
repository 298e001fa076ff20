"""A gateway answer of any shape becomes a clear GatewayError (or a result), never a crash."""

from __future__ import annotations

import re

import pytest
import responses

from whatsapp.gateways import GatewayError
from whatsapp.gateways.base import MAX_REPLY_BYTES
from whatsapp.tests.support.adapters import evolution_gateway, waha_gateway

BASE = "http://hostile.example.test"
KEY = "canary-hostile-key-77aa"
BODIES = {
    "html": (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    "empty": (b"", "application/json"),
    "deep": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "deep-object": (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json"),
    "huge": (b'{"message":"' + b"x" * (MAX_REPLY_BYTES + 10) + b'"}', "application/json"),
    "list": (b"[1,2,3]", "application/json"),
    "string": (b'"hello"', "application/json"),
    "null": (b"null", "application/json"),
    "wrong-types": (
        b'{"name":7,"status":[],"me":"x","id":{"_serialized":5},"value":3,"instance":[],'
        b'"message":{"a":1},"response":"x","key":7,"code":[],"base64":5}',
        "application/json",
    ),
    "binary": (bytes(range(256)) * 4, "application/octet-stream"),
}


def gateways():
    return [waha_gateway(BASE, KEY, "W"), evolution_gateway(BASE, KEY, "E")]


CALLS = {
    "create": lambda gw: gw.session_create(
        name="dev-1", webhook_url="https://x/y", webhook_secret="s", webhook_retries=1, metadata={}
    ),
    "configure": lambda gw: gw.session_configure(
        name="dev-1", webhook_url="https://x/y", webhook_secret="s", webhook_retries=1, metadata={}
    ),
    "status": lambda gw: gw.session_status("dev-1"),
    "qr": lambda gw: gw.session_qr("dev-1"),
    "restart": lambda gw: gw.session_restart("dev-1"),
    "logout": lambda gw: gw.session_logout("dev-1"),
    "delete": lambda gw: gw.session_delete("dev-1"),
    "send": lambda gw: gw.send_text(session="dev-1", phone="+6281234567890", text="hi"),
    "health": lambda gw: gw.health(),
    "capabilities": lambda gw: gw.capabilities(),
}


@pytest.mark.parametrize("status", [200, 201, 400, 404, 422, 500, 502])
@pytest.mark.parametrize("shape", sorted(BODIES))
@pytest.mark.parametrize("call", sorted(CALLS))
def test_any_answer_is_a_result_or_a_clear_gateway_error(call, shape, status):
    body, content_type = BODIES[shape]
    for gw in gateways():
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            for method in ("GET", "POST", "PUT", "DELETE"):
                mock.add(
                    method,
                    re.compile(re.escape(BASE) + ".*"),
                    body=body,
                    status=status,
                    content_type=content_type,
                )
            try:
                CALLS[call](gw)
            except GatewayError as exc:
                assert exc.message.startswith(gw.label)
                assert KEY not in exc.message
                assert len(exc.message) < 400
                assert "<html" not in exc.message and "xxxxxxxxxx" not in exc.message


def test_a_huge_reply_is_refused_with_a_readable_reason():
    gw = gateways()[0]
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/api/sessions/dev-1", body=BODIES["huge"][0])
        with pytest.raises(GatewayError) as info:
            gw.session_status("dev-1")
    assert info.value.code == "bad_response"
    assert "larger than" in info.value.message
