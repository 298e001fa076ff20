"""Integration tests of the WAHA gateway simulator: a real subprocess, spoken to over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from gateway_simulator.testing import (
    PROJECT_ROOT,
    SimulatorProcess,
    start_simulator_process,
    start_simulator_thread,
)

pytestmark = pytest.mark.integration

API_KEY = "sim-test-key"
HMAC_KEY = "whsec-canary-7f3a"
FAST = {"start_delay": 0.05, "ack_delays": [0.05, 0.15, 0.3]}


@dataclass
class Hit:
    headers: dict[str, str]
    raw: bytes
    status: int

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.raw)


class Receiver:
    """A tiny webhook endpoint that records every delivery; can answer 500 to the first N."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.fail_next = 0
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._cond:
                    status = 500 if receiver.fail_next > 0 else 200
                    receiver.fail_next = max(0, receiver.fail_next - 1)
                    receiver.hits.append(Hit(dict(self.headers), raw, status))
                    receiver._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/waha"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def wait_for(
        self, predicate: Callable[[Hit], bool], count: int = 1, timeout: float = 5.0
    ) -> list[Hit]:
        with self._cond:
            self._cond.wait_for(
                lambda: len([hit for hit in self.hits if predicate(hit)]) >= count, timeout
            )
            found = [hit for hit in self.hits if predicate(hit)]
        assert len(found) >= count, f"expected {count} webhooks, got {[h.data for h in self.hits]}"
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def event(name: str, status: str | None = None) -> Callable[[Hit], bool]:
    def matches(hit: Hit) -> bool:
        data = hit.data
        return data["event"] == name and (status is None or data["payload"].get("status") == status)

    return matches


def eventually(fetch: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll until fetch() returns something truthy (state settles after the observable effect)."""
    deadline = time.monotonic() + timeout
    while not (result := fetch()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return result


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with start_simulator_process(api_key=API_KEY, **FAST) as process:
        yield process


@pytest.fixture(autouse=True)
def clean(sim: SimulatorProcess) -> None:
    sim.reset()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def api(sim: SimulatorProcess) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never send local calls through a proxy from the environment
    session.headers["X-Api-Key"] = API_KEY
    return session


def create(api: requests.Session, sim: SimulatorProcess, receiver: Receiver, name: str, **hook):
    webhook = {
        "url": receiver.url,
        "events": ["message", "message.ack", "session.status"],
        "hmac": {"key": HMAC_KEY},
        "retries": {"policy": "exponential", "delaySeconds": 0.05, "attempts": 3},
        **hook,
    }
    body = {
        "name": name,
        "start": True,
        "config": {"metadata": {"device": name}, "webhooks": [webhook]},
    }
    response = api.post(f"{sim.url}/api/sessions", json=body, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()


def assert_signed(hit: Hit) -> None:
    expected = hmac.new(HMAC_KEY.encode(), hit.raw, hashlib.sha512).hexdigest()
    assert hmac.compare_digest(hit.headers["X-Webhook-Hmac"], expected)
    assert hit.headers["X-Webhook-Hmac-Algorithm"] == "sha512"
    assert hit.headers["X-Webhook-Request-Id"]
    assert abs(int(hit.headers["X-Webhook-Timestamp"]) - time.time() * 1000) < 60_000
    assert hit.headers["Content-Type"] == "application/json"


class TestSimulator:
    def test_it_requires_the_api_key_except_for_ping(self, sim, api):
        assert requests.get(f"{sim.url}/api/sessions", timeout=5).status_code == 401
        wrong = requests.get(f"{sim.url}/api/sessions", headers={"X-Api-Key": "nope"}, timeout=5)
        assert wrong.status_code == 401
        assert wrong.json()["message"] == "Unauthorized"
        assert requests.get(f"{sim.url}/ping", timeout=5).json() == {"message": "pong"}
        assert api.get(f"{sim.url}/api/server/version", timeout=5).json() == {
            "version": "sim-1.0",
            "engine": "SIMULATOR",
            "tier": "PLUS",
        }
        # /health is a WAHA Plus feature (Core answers 422, see test_simulator_flavors.py).
        assert requests.get(f"{sim.url}/health", timeout=5).status_code == 200

    def test_it_creates_a_session_that_waits_for_a_scan(self, sim, api, receiver):
        created = create(api, sim, receiver, "shop-1")
        assert created["name"] == "shop-1"
        assert created["status"] in ("STARTING", "SCAN_QR_CODE")
        session = sim.wait_for_status("shop-1", "SCAN_QR_CODE")
        assert session["me"] is None
        assert session["config"]["metadata"] == {"device": "shop-1"}
        duplicate = api.post(f"{sim.url}/api/sessions", json={"name": "shop-1"}, timeout=5)
        assert duplicate.status_code == 422
        for bad in ("Shop", "a" * 55, "a b", ""):
            answer = api.post(f"{sim.url}/api/sessions", json={"name": bad}, timeout=5)
            assert answer.status_code == 422, bad
        assert api.get(f"{sim.url}/api/sessions/nobody", timeout=5).status_code == 404
        for path in ("/api/sessions", "/api/sessions/shop-1", "/_sim/state"):
            assert HMAC_KEY not in api.get(f"{sim.url}{path}", timeout=5).text
        receiver.wait_for(event("session.status", "SCAN_QR_CODE"))

    def test_it_pairs_when_the_phone_page_link_button_is_pressed(self, sim, api, receiver):
        create(api, sim, receiver, "shop-1")
        sim.wait_for_status("shop-1", "SCAN_QR_CODE")
        value = api.get(f"{sim.url}/api/shop-1/auth/qr?format=raw", timeout=5).json()["value"]
        assert value.startswith(f"http://localhost:{sim.port}/phone/shop-1?code=")
        link = sim.url + value[value.index("/phone/") :]
        page = requests.get(link, timeout=5)
        assert page.status_code == 200
        assert "Link device" in page.text and "shop-1" in page.text
        linked = requests.post(link, timeout=5)
        assert "Device linked" in linked.text
        session = sim.wait_for_status("shop-1", "WORKING")
        assert re.fullmatch(r"62812\d{8}@c\.us", session["me"]["id"])
        assert session["me"]["pushName"] == "Simulated Phone"
        [hit] = receiver.wait_for(event("session.status", "WORKING"))
        assert_signed(hit)
        envelope = hit.data
        assert envelope["id"].startswith("evt_")
        assert envelope["session"] == "shop-1"
        assert envelope["metadata"] == {"device": "shop-1"}
        assert envelope["me"] == session["me"]
        assert envelope["engine"] == "SIMULATOR"
        assert envelope["payload"]["name"] == "shop-1"
        assert api.get(f"{sim.url}/api/shop-1/auth/qr?format=raw", timeout=5).status_code == 422

    def test_it_serves_the_qr_as_a_png(self, sim, api, receiver):
        create(api, sim, receiver, "shop-1")
        sim.wait_for_status("shop-1", "SCAN_QR_CODE")
        answer = api.get(
            f"{sim.url}/api/shop-1/auth/qr", headers={"Accept": "application/json"}, timeout=5
        ).json()
        assert answer["mimetype"] == "image/png"
        assert answer["data"].startswith("iVBOR")  # base64 of the PNG signature

    def test_it_rotates_the_qr_and_fails_after_the_last_one(self, sim, api, receiver):
        sim.configure(qr_first_ttl=0.4, qr_next_ttl=0.15)
        create(api, sim, receiver, "shop-1")
        sim.wait_for_status("shop-1", "SCAN_QR_CODE")
        first = api.get(f"{sim.url}/api/shop-1/auth/qr?format=raw", timeout=5).json()["value"]
        receiver.wait_for(event("session.status", "SCAN_QR_CODE"), count=2)
        second = api.get(f"{sim.url}/api/shop-1/auth/qr?format=raw", timeout=5).json()
        if "value" in second:  # the session may already have failed on a slow machine
            assert second["value"] != first
        expired = requests.post(sim.url + first[first.index("/phone/") :], timeout=5)
        assert expired.status_code == 410
        assert "This QR code has expired, scan the new one" in expired.text
        receiver.wait_for(event("session.status", "FAILED"))
        assert len(receiver.wait_for(event("session.status", "SCAN_QR_CODE"), count=6)) == 6
        assert sim.session("shop-1")["status"] == "FAILED"
        assert api.get(f"{sim.url}/api/shop-1/auth/qr?format=raw", timeout=5).status_code == 422

    def test_it_sends_text_and_reports_acks_in_order(self, sim, api, receiver):
        create(api, sim, receiver, "shop-1")
        me = sim.pair("shop-1")["me"]["id"]
        body = {"session": "shop-1", "chatId": "6281234567890@c.us", "text": "Your booking is set"}
        sent = api.post(f"{sim.url}/api/sendText", json=body, timeout=5)
        assert sent.status_code == 201
        reply = sent.json()
        assert re.fullmatch(r"true_6281234567890@c\.us_3EB0[0-9A-F]{16}", reply["id"])
        assert isinstance(reply["timestamp"], int)
        acks = receiver.wait_for(event("message.ack"), count=3)
        assert [hit.data["payload"]["ackName"] for hit in acks] == ["SERVER", "DEVICE", "READ"]
        for hit, level in zip(acks, (1, 2, 3), strict=True):
            payload = hit.data["payload"]
            assert payload == {
                "id": reply["id"],
                "from": me,
                "to": "6281234567890@c.us",
                "fromMe": True,
                "ack": level,
                "ackName": payload["ackName"],
            }
            assert_signed(hit)
        assert "Your booking is set" in requests.get(f"{sim.url}/contacts/shop-1", timeout=5).text

    def test_it_refuses_to_send_unless_the_session_is_working(self, sim, api, receiver):
        create(api, sim, receiver, "shop-1")
        sim.wait_for_status("shop-1", "SCAN_QR_CODE")
        body = {"session": "shop-1", "chatId": "6281234567890@c.us", "text": "hi"}
        assert api.post(f"{sim.url}/api/sendText", json=body, timeout=5).status_code == 422
        sim.pair("shop-1")
        bad_chat = {**body, "chatId": "6281234567890"}
        assert api.post(f"{sim.url}/api/sendText", json=bad_chat, timeout=5).status_code == 400
        sim.configure(not_on_whatsapp=["6281234567890"])
        refused = api.post(f"{sim.url}/api/sendText", json=body, timeout=5)
        assert refused.status_code == 400
        assert refused.json()["message"] == "number not on WhatsApp"

    def test_it_delivers_inbound_messages_as_signed_webhooks(self, sim, api, receiver):
        create(api, sim, receiver, "shop-1")
        sim.pair("shop-1")
        message_id = sim.inbound("shop-1", "6281100000001", "Can I book at 3pm?", pushName="Budi")
        [hit] = receiver.wait_for(event("message"))
        assert_signed(hit)
        payload = hit.data["payload"]
        assert payload["id"] == message_id
        assert message_id.startswith("false_6281100000001@c.us_")
        assert payload["from"] == "6281100000001@c.us"
        assert payload["fromMe"] is False
        assert payload["body"] == "Can I book at 3pm?"
        assert payload["hasMedia"] is False
        assert isinstance(payload["timestamp"], int)
        sim.inbound("shop-1", "6281100000002", "hidden", lid=True)
        hidden = receiver.wait_for(event("message"), count=2)[1].data["payload"]
        assert re.fullmatch(r"\d+@lid", hidden["from"])
        lookup = api.get(f"{sim.url}/api/shop-1/lids/{hidden['from']}", timeout=5).json()
        assert lookup["pn"] == "6281100000002@c.us"

    def test_it_sends_inbound_messages_from_the_contacts_page(self, sim, api, receiver):
        create(api, sim, receiver, "shop-1")
        sim.pair("shop-1")
        form = {"from": "6281100000001", "name": "Siti", "text": "Hello from the page"}
        page = requests.post(f"{sim.url}/contacts/shop-1", data=form, timeout=5)
        assert page.status_code == 200 and "Hello from the page" in page.text
        [hit] = receiver.wait_for(event("message"))
        assert hit.data["payload"]["body"] == "Hello from the page"

    def test_it_delivers_each_webhook_twice_with_duplicate_rate_one(self, sim, api, receiver):
        create(api, sim, receiver, "shop-1")
        sim.pair("shop-1")
        sim.configure(duplicate_rate=1)
        sim.inbound("shop-1", "6281100000001", "twice")
        first, second = receiver.wait_for(event("message"), count=2)
        assert first.data["id"] == second.data["id"]
        assert first.raw == second.raw

    def test_it_retries_a_webhook_after_the_receiver_answers_500(self, sim, api, receiver):
        create(api, sim, receiver, "shop-1")
        sim.pair("shop-1")
        receiver.wait_for(event("session.status", "WORKING"))  # nothing else is in flight now
        receiver.fail_next = 1
        sim.inbound("shop-1", "6281100000001", "retry me")
        failed, delivered = receiver.wait_for(event("message"), count=2)
        assert (failed.status, delivered.status) == (500, 200)
        assert failed.data["id"] == delivered.data["id"]
        assert_signed(delivered)
        # The receiver sees the POST a moment before the simulator records its answer.
        [entry] = eventually(
            lambda: [
                e for e in sim.webhooks() if e["event"] == "message" and e["state"] != "retrying"
            ]
        )
        assert entry["state"] == "delivered" and entry["attempts"] == 2

    def test_it_rejects_every_key_when_asked(self, sim, api):
        sim.configure(reject_key=True)
        assert api.get(f"{sim.url}/api/server/version", timeout=5).status_code == 401
        assert requests.get(f"{sim.url}/ping", timeout=5).status_code == 200
        sim.configure(reject_key=False)
        assert api.get(f"{sim.url}/api/server/version", timeout=5).status_code == 200

    def test_it_still_answers_with_latency(self, sim, api):
        sim.configure(latency_ms=50)
        assert api.get(f"{sim.url}/api/server/version", timeout=5).status_code == 200

    def test_it_answers_500_at_failure_rate_one(self, sim, api):
        sim.configure(failure_rate=1)
        assert api.get(f"{sim.url}/api/sessions", timeout=5).status_code == 500

    def test_it_drops_a_session_like_a_phone_would(self, sim, api, receiver):
        create(api, sim, receiver, "shop-1")
        sim.pair("shop-1")
        assert sim.drop("shop-1")["status"] == "STOPPED"
        receiver.wait_for(event("session.status", "STOPPED"))
        assert api.post(f"{sim.url}/api/sessions/shop-1/start", timeout=5).status_code == 201
        sim.wait_for_status("shop-1", "WORKING")  # still paired: no new scan needed
        sim.drop("shop-1", status="FAILED")
        receiver.wait_for(event("session.status", "FAILED"))
        assert sim.session("shop-1")["status"] == "FAILED"

    def test_it_restarts_paired_sessions_and_logs_out_to_a_fresh_qr(self, sim, api, receiver):
        create(api, sim, receiver, "shop-1")
        sim.pair("shop-1")
        api.post(f"{sim.url}/api/sessions/shop-1/restart", timeout=5)
        sim.wait_for_status("shop-1", "WORKING")
        api.post(f"{sim.url}/api/sessions/shop-1/logout", timeout=5)
        session = sim.wait_for_status("shop-1", "SCAN_QR_CODE")
        assert session["me"] is None
        assert api.get(f"{sim.url}/api/shop-1/auth/qr?format=raw", timeout=5).status_code == 200
        api.post(f"{sim.url}/api/sessions/shop-1/stop", timeout=5)
        assert sim.session("shop-1")["status"] == "STOPPED"

    def test_it_deletes_sessions_idempotently(self, sim, api, receiver):
        create(api, sim, receiver, "shop-1")
        assert api.delete(f"{sim.url}/api/sessions/shop-1", timeout=5).status_code == 200
        assert api.delete(f"{sim.url}/api/sessions/shop-1", timeout=5).status_code == 200
        assert api.get(f"{sim.url}/api/sessions/shop-1", timeout=5).status_code == 404
        assert api.get(f"{sim.url}/api/sessions", timeout=5).json() == []

    def test_it_lists_sessions_on_its_index_page(self, sim, api, receiver):
        create(api, sim, receiver, "shop-1")
        sim.wait_for_status("shop-1", "SCAN_QR_CODE")
        page = requests.get(f"{sim.url}/", timeout=5).text
        assert "shop-1" in page and "/phone/shop-1?code=" in page and "/contacts/shop-1" in page

    def test_it_runs_in_a_thread_for_benchmarks(self, receiver):
        with start_simulator_thread(api_key="thread-key", **FAST) as threaded:
            threaded.request(
                "POST",
                "/api/sessions",
                {
                    "name": "bench-1",
                    "config": {"webhooks": [{"url": receiver.url, "events": ["session.status"]}]},
                },
            )
            assert threaded.pair("bench-1")["status"] == "WORKING"
            receiver.wait_for(event("session.status", "WORKING"))

    def test_it_comes_back_on_the_same_port_after_a_restart(self, sim):
        port = sim.port
        sim.restart()
        assert sim.port == port
        assert requests.get(f"{sim.url}/ping", timeout=5).status_code == 200

    def test_it_refuses_to_start_without_a_key(self):
        env = {key: value for key, value in os.environ.items() if key != "WAHA_API_KEY"}
        result = subprocess.run(
            [sys.executable, "-m", "gateway_simulator", "--port", "0"],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert result.returncode != 0
        assert "no API key" in result.stderr
