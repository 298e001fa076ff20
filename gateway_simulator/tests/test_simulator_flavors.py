"""The simulator's flavours against a real process: WAHA Core and Evolution as they were recorded
(../shared/gateways-recorded/), and what every flavour offers (pairing codes, number checks,
chat history, a state file that survives a restart)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from gateway_simulator.flavors import CORE_ONLY_DEFAULT
from gateway_simulator.testing import (
    PROJECT_ROOT,
    SimulatorProcess,
    free_port,
    start_simulator_process,
    wait_until,
)
from gateway_simulator.tests.test_simulator import Hit, Receiver

pytestmark = pytest.mark.integration

API_KEY = "flavor-test-key"
FAST = {"start_delay": 0.05, "ack_delays": [0.05, 0.1, 0.15]}
NOT_FOUND_STOPPED = (
    "We didn't find a session with name 'default'.\n"
    "Please start it first by using POST /api/sessions/default/start request"
)
CONTACT = "6281100000001"


def http(sim: SimulatorProcess, key: str | None = API_KEY) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    if key is not None:
        session.headers["X-Api-Key" if sim.provider == "waha" else "apikey"] = key
    return session


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


def waha_config(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    return {
        "metadata": {"device": "dev-1"},
        "webhooks": [
            {
                "url": receiver.url,
                "events": ["message", "message.ack", "session.status"],
                "hmac": {"key": "hmac-canary"},
                "retries": {"policy": "constant", "delaySeconds": 0.05, "attempts": 3},
                **extra,
            }
        ],
    }


def evolution_create(api: requests.Session, sim: SimulatorProcess, receiver: Receiver, name: str):
    body = {
        "instanceName": name,
        "integration": "WHATSAPP-BAILEYS",
        "qrcode": True,
        "token": f"tok-{name}",
        "webhook": {
            "url": receiver.url,
            "byEvents": False,
            "base64": False,
            "headers": {"X-Webhook-Secret": "secret-canary"},
            "events": ["MESSAGES_UPSERT", "MESSAGES_UPDATE", "CONNECTION_UPDATE", "QRCODE_UPDATED"],
        },
    }
    return api.post(f"{sim.url}/instance/create", json=body, timeout=10)


def status_event(status: str):
    return lambda hit: (
        hit.data.get("event") == "session.status" and (hit.data["payload"]["status"] == status)
    )


# --- WAHA Core ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def core() -> Iterator[SimulatorProcess]:
    with start_simulator_process(api_key=API_KEY, flavor="waha-core", **FAST) as process:
        yield process


@pytest.fixture
def core_api(core: SimulatorProcess) -> requests.Session:
    core.reset()
    return http(core)


def start_default(api: requests.Session, core: SimulatorProcess, receiver: Receiver) -> None:
    update = api.put(
        f"{core.url}/api/sessions/default", json={"config": waha_config(receiver)}, timeout=5
    )
    assert update.status_code == 200, update.text
    assert api.post(f"{core.url}/api/sessions/default/start", timeout=5).status_code == 201


class TestWahaCore:
    def test_a_fresh_server_has_only_a_stopped_default_session(self, core, core_api):
        assert core_api.get(f"{core.url}/api/sessions?all=true", timeout=5).json() == [
            {"name": "default", "status": "STOPPED", "config": None, "me": None}
        ]
        version = core_api.get(f"{core.url}/api/server/version", timeout=5).json()
        assert version["tier"] == "CORE" and version["version"] == "2024.10.8"
        health = core_api.get(f"{core.url}/health", timeout=5)
        assert health.status_code == 422 and "only in Plus" in health.json()["message"]

    def test_every_other_session_name_is_refused_naming_waha_plus(self, core, core_api):
        body = {"name": "bq-acme-1", "start": True, "config": {}}
        calls = [
            core_api.post(f"{core.url}/api/sessions", json=body, timeout=5),
            core_api.get(f"{core.url}/api/bq-acme-1/auth/qr?format=raw", timeout=5),
            core_api.post(f"{core.url}/api/sessions/bq-acme-1/restart", timeout=5),
            core_api.post(f"{core.url}/api/sessions/bq-acme-1/logout", timeout=5),
            core_api.delete(f"{core.url}/api/sessions/bq-acme-1", timeout=5),
            core_api.post(
                f"{core.url}/api/sendText",
                json={"session": "bq-acme-1", "chatId": f"{CONTACT}@c.us", "text": "x"},
                timeout=5,
            ),
        ]
        for answer in calls:
            assert answer.status_code == 422
            assert answer.json() == {
                "statusCode": 422,
                "message": CORE_ONLY_DEFAULT,
                "error": "Unprocessable Entity",
            }
        # Reading it is a plain 404, as recorded (11_get_nondefault).
        assert core_api.get(f"{core.url}/api/sessions/bq-acme-1", timeout=5).status_code == 404

    def test_default_is_updated_with_put_and_started_not_created(self, core, core_api, receiver):
        body = {"name": "default", "start": True, "config": waha_config(receiver)}
        duplicate = core_api.post(f"{core.url}/api/sessions", json=body, timeout=5)
        assert duplicate.status_code == 422
        assert duplicate.json()["message"] == (
            "Session 'default' already exists. Use PUT to update it."
        )
        start_default(core_api, core, receiver)
        again = core_api.post(f"{core.url}/api/sessions/default/start", timeout=5)
        assert again.status_code == 422
        assert again.json()["message"] == "Session 'default' is already started."
        session = core.wait_for_status("default", "SCAN_QR_CODE")
        # Core echoes the webhook's HMAC key in plain text (recorded in real_a15).
        info = core_api.get(f"{core.url}/api/sessions/default", timeout=5).json()
        assert info["config"]["webhooks"][0]["hmac"] == {"key": "hmac-canary"}
        assert info["engine"] == {"engine": "NOWEB"}
        assert session["status"] == "SCAN_QR_CODE"

    def test_webhooks_are_unsigned_id_less_and_carry_the_metadata(self, core, core_api, receiver):
        start_default(core_api, core, receiver)
        [hit] = receiver.wait_for(status_event("STARTING"))
        assert set(hit.data) == {
            "event",
            "session",
            "metadata",
            "me",
            "payload",
            "engine",
            "environment",
        }
        assert hit.data["metadata"] == {"device": "dev-1"}
        assert hit.data["payload"] == {"name": "default", "status": "STARTING"}
        assert hit.data["environment"]["tier"] == "CORE"
        for header in ("X-Webhook-Hmac", "X-Webhook-Request-Id", "X-Webhook-Timestamp"):
            assert header not in hit.headers
        assert hit.headers["User-Agent"] == "WAHA/2024.10.8"

    def test_a_failed_delivery_is_not_retried(self, core, core_api, receiver):
        start_default(core_api, core, receiver)
        core.pair("default")
        receiver.wait_for(status_event("WORKING"))
        receiver.fail_next = 1
        core.inbound("default", CONTACT, "only once")
        receiver.wait_for(lambda hit: hit.data["event"] == "message")
        core.inbound("default", CONTACT, "next one")
        hits = receiver.wait_for(lambda hit: hit.data["event"] == "message", count=2)
        assert [hit.data["payload"]["body"] for hit in hits] == ["only once", "next one"]
        assert [hit.status for hit in hits] == [500, 200]

    def test_a_stopped_session_answers_404_to_send_and_qr(self, core, core_api, receiver):
        start_default(core_api, core, receiver)
        assert core_api.post(f"{core.url}/api/sessions/default/stop", timeout=5).status_code == 201
        send = core_api.post(
            f"{core.url}/api/sendText",
            json={"session": "default", "chatId": f"{CONTACT}@c.us", "text": "hi"},
            timeout=5,
        )
        qr = core_api.get(f"{core.url}/api/default/auth/qr?format=raw", timeout=5)
        for answer in (send, qr):
            assert answer.status_code == 404
            assert answer.json()["message"] == NOT_FOUND_STOPPED

    def test_not_ready_answers_have_the_recorded_shape_and_wait_first(self, core, core_api):
        core.configure(start_delay=30, not_ready_delay=0.1)
        core_api.put(f"{core.url}/api/sessions/default", json={"config": {}}, timeout=5)
        core_api.post(f"{core.url}/api/sessions/default/start", timeout=5)
        # Status is checked before the body: no chatId or text, still the status 422.
        send = core_api.post(f"{core.url}/api/sendText", json={"session": "default"}, timeout=5)
        assert send.status_code == 422
        assert send.json() == {
            "error": "Session status is not as expected. Try again later or restart the session",
            "session": "default",
            "status": "STARTING",
            "expected": ["WORKING"],
        }
        # A session that becomes ready while the request waits is served.
        core.configure(start_delay=0.3, not_ready_delay=5)
        core_api.post(f"{core.url}/api/sessions/default/restart", timeout=5)
        qr = core_api.get(f"{core.url}/api/default/auth/qr?format=raw", timeout=10)
        assert qr.status_code == 200 and "/phone/default?code=" in qr.json()["value"]

    def test_validation_errors_and_deletes_answer_as_recorded(self, core, core_api):
        bad = {
            "name": "default",
            "config": {
                "webhooks": [
                    {"url": "not a url", "events": ["nope.event"], "retries": {"policy": "x"}}
                ]
            },
        }
        answer = core_api.post(f"{core.url}/api/sessions", json=bad, timeout=5)
        assert answer.status_code == 400
        messages = answer.json()["message"]
        assert "config.webhooks.0.url must be a URL address" in messages
        assert any("each value in events must be one of" in m for m in messages)
        assert any("retries.policy must be one of" in m for m in messages)
        for _ in range(2):
            gone = core_api.delete(f"{core.url}/api/sessions/default", timeout=5)
            assert (gone.status_code, gone.content) == (200, b"")
        assert core_api.get(f"{core.url}/api/sessions?all=true", timeout=5).json() == []
        # After a delete, create without start answers 201 with no body and creates nothing.
        lazy = core_api.post(
            f"{core.url}/api/sessions", json={"name": "default", "start": False}, timeout=5
        )
        assert (lazy.status_code, lazy.content) == (201, b"")
        assert core_api.get(f"{core.url}/api/sessions?all=true", timeout=5).json() == []
        created = core_api.post(
            f"{core.url}/api/sessions", json={"name": "default", "start": True}, timeout=5
        )
        assert created.status_code == 201 and created.json()["status"] == "STARTING"

    def test_the_key_is_enforced_unless_the_flag_says_not(self, core, core_api):
        wrong = http(core, key="wrong")
        nokey = http(core, key=None)
        assert wrong.get(f"{core.url}/api/server/version", timeout=5).status_code == 401
        core.configure(key_not_enforced=True)
        assert wrong.get(f"{core.url}/api/server/version", timeout=5).status_code == 200
        assert nokey.get(f"{core.url}/api/sessions", timeout=5).status_code == 200


def test_the_key_not_enforced_flag_works_from_the_command_line():
    port = free_port()
    env = {**os.environ, "WAHA_API_KEY": API_KEY}
    command = [sys.executable, "-m", "gateway_simulator", "--flavor", "waha-core"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--key-not-enforced"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        session = requests.Session()
        session.trust_env = False
        url = f"http://127.0.0.1:{port}/api/sessions"

        def answered():
            try:
                return session.get(url, headers={"X-Api-Key": "wrong"}, timeout=1)
            except requests.ConnectionError:
                return None

        answer = wait_until(answered, timeout=15)
        assert answer.status_code == 200  # a wrong key, and Core serves it anyway
        assert session.get(url, timeout=5).json()[0]["name"] == "default"  # no key at all
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- Evolution ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def evo() -> Iterator[SimulatorProcess]:
    with start_simulator_process(api_key=API_KEY, flavor="evolution", **FAST) as process:
        yield process


@pytest.fixture
def evo_api(evo: SimulatorProcess) -> requests.Session:
    evo.reset()
    return http(evo)


def evo_event(name: str, **data: Any):
    def matches(hit: Hit) -> bool:
        body = hit.data
        return body["event"] == name and all(body["data"].get(k) == v for k, v in data.items())

    return matches


class TestEvolution:
    def test_the_key_is_enforced_but_an_unknown_instance_is_404_first(self, evo, evo_api):
        assert http(evo, key=None).get(f"{evo.url}/instance/fetchInstances").status_code == 401
        wrong = http(evo, key="wrong")
        assert wrong.post(f"{evo.url}/verify-creds", timeout=5).json()["response"] == {
            "message": "Unauthorized"
        }
        unknown = wrong.get(f"{evo.url}/instance/connectionState/nope", timeout=5)
        assert unknown.status_code == 404
        assert unknown.json() == {
            "status": 404,
            "error": "Not Found",
            "response": {"message": ['The "nope" instance does not exist']},
        }
        assert evo_api.get(f"{evo.url}/", timeout=5).json()["version"] == "2.3.6"

    def test_create_duplicate_and_the_instance_token(self, evo, evo_api, receiver):
        created = evolution_create(evo_api, evo, receiver, "bq-acme-1")
        assert created.status_code == 201
        reply = created.json()
        assert reply["instance"]["status"] == "connecting"
        assert reply["hash"] == "tok-bq-acme-1"
        assert reply["webhook"]["webhookHeaders"] == {"X-Webhook-Secret": "secret-canary"}
        duplicate = evolution_create(evo_api, evo, receiver, "bq-acme-1")
        assert duplicate.status_code == 403
        assert duplicate.json()["response"]["message"] == [
            'This name "bq-acme-1" is already in use.'
        ]
        by_token = http(evo, key="tok-bq-acme-1")
        state = by_token.get(f"{evo.url}/instance/connectionState/bq-acme-1", timeout=5)
        assert state.json() == {"instance": {"instanceName": "bq-acme-1", "state": "connecting"}}

    def test_connect_answers_count_zero_before_a_qr(self, evo, evo_api, receiver):
        evo.configure(start_delay=30)
        evolution_create(evo_api, evo, receiver, "bq-acme-1")
        connect = evo_api.get(f"{evo.url}/instance/connect/bq-acme-1", timeout=5)
        assert connect.json() == {"count": 0}

    def test_restart_of_a_closed_instance_does_nothing_and_connect_starts_it(
        self, evo, evo_api, receiver
    ):
        body = {"instanceName": "bq-closed", "qrcode": False}
        assert evo_api.post(f"{evo.url}/instance/create", json=body, timeout=5).status_code == 201
        send = evo_api.post(
            f"{evo.url}/message/sendText/bq-closed", json={"number": CONTACT, "text": "x"}
        )
        assert send.status_code == 500
        assert send.json()["response"]["message"] == (
            "Cannot read properties of undefined (reading 'onWhatsApp')"
        )
        restart = evo_api.post(f"{evo.url}/instance/restart/bq-closed", timeout=5)
        assert restart.json() == {"error": True, "message": "[object Object]"}
        assert evo.session("bq-closed")["status"] == "STOPPED"
        logout = evo_api.delete(f"{evo.url}/instance/logout/bq-closed", timeout=5)
        assert logout.status_code == 400
        assert logout.json()["response"]["message"] == ['The "bq-closed" instance is not connected']
        connect = evo_api.get(f"{evo.url}/instance/connect/bq-closed", timeout=5).json()
        assert connect["code"].startswith(f"http://localhost:{evo.port}/phone/bq-closed?code=")
        assert connect["base64"].startswith("data:image/png;base64,")
        send = evo_api.post(
            f"{evo.url}/message/sendText/bq-closed", json={"number": CONTACT, "text": "x"}
        )
        assert (send.status_code, send.json()["response"]["message"]) == (500, "Connection Closed")
        empty = evo_api.post(f"{evo.url}/message/sendText/bq-closed", json={}, timeout=5)
        assert empty.status_code == 400
        assert empty.json()["response"]["message"] == [
            ['instance requires property "number"', 'instance requires property "text"']
        ]
        deleted = evo_api.delete(f"{evo.url}/instance/delete/bq-closed", timeout=5)
        assert deleted.json()["response"] == {"message": "Instance deleted"}
        assert evo_api.delete(f"{evo.url}/instance/delete/bq-closed").status_code == 404

    def test_pair_send_and_receive_with_secret_header_webhooks(self, evo, evo_api, receiver):
        evolution_create(evo_api, evo, receiver, "bq-acme-1")
        [qr] = receiver.wait_for(evo_event("qrcode.updated"))
        assert qr.headers["X-Webhook-Secret"] == "secret-canary"
        assert qr.data["apikey"] == "tok-bq-acme-1"
        assert "/phone/bq-acme-1?code=" in qr.data["data"]["qrcode"]["code"]
        evo.pair("bq-acme-1")
        [opened] = receiver.wait_for(evo_event("connection.update", state="open"))
        wuid = opened.data["data"]["wuid"]
        assert wuid.endswith("@s.whatsapp.net")
        rows = evo_api.get(f"{evo.url}/instance/fetchInstances?instanceName=bq-acme-1").json()
        assert rows[0]["ownerJid"] == wuid and rows[0]["connectionStatus"] == "open"
        sent = evo_api.post(
            f"{evo.url}/message/sendText/bq-acme-1", json={"number": CONTACT, "text": "Booked"}
        )
        assert sent.status_code == 201
        key = sent.json()["key"]
        acks = receiver.wait_for(evo_event("messages.update", keyId=key["id"]), count=3)
        assert [hit.data["data"]["status"] for hit in acks] == [
            "SERVER_ACK",
            "DELIVERY_ACK",
            "READ",
        ]
        evo.inbound("bq-acme-1", CONTACT, "Thanks!", pushName="Budi")
        [upsert] = receiver.wait_for(evo_event("messages.upsert"))
        data = upsert.data["data"]
        assert data["key"]["remoteJid"] == f"{CONTACT}@s.whatsapp.net"
        assert (data["pushName"], data["message"]) == ("Budi", {"conversation": "Thanks!"})
        logout = evo_api.delete(f"{evo.url}/instance/logout/bq-acme-1", timeout=5)
        assert logout.status_code == 200
        receiver.wait_for(evo_event("connection.update", state="close", statusReason=401))


# --- every flavour -----------------------------------------------------------------------------

FLAVORS = ["waha-core", "waha-plus", "evolution"]


def open_session(sim: SimulatorProcess, api: requests.Session, receiver: Receiver) -> str:
    """A session (instance) waiting for a scan, however the flavour names and creates it."""
    if sim.flavor == "evolution":
        assert evolution_create(api, sim, receiver, "bq-shop").status_code == 201
        name = "bq-shop"
    elif sim.flavor == "waha-core":
        start_default(api, sim, receiver)
        name = "default"
    else:
        body = {"name": "bq-shop", "start": True, "config": waha_config(receiver)}
        assert api.post(f"{sim.url}/api/sessions", json=body, timeout=5).status_code == 201
        name = "bq-shop"
    sim.wait_for_status(name, "SCAN_QR_CODE")
    return name


def send(sim: SimulatorProcess, api: requests.Session, name: str, text: str) -> requests.Response:
    if sim.flavor == "evolution":
        body = {"number": CONTACT, "text": text}
        return api.post(f"{sim.url}/message/sendText/{name}", json=body, timeout=5)
    body = {"session": name, "chatId": f"{CONTACT}@c.us", "text": text}
    return api.post(f"{sim.url}/api/sendText", json=body, timeout=5)


def history(sim: SimulatorProcess, api: requests.Session, name: str) -> list[tuple[bool, str]]:
    """(fromMe, body) of the chat with CONTACT, newest first."""
    if sim.flavor == "evolution":
        body = {"where": {"key": {"remoteJid": f"{CONTACT}@s.whatsapp.net"}}, "offset": 10}
        answer = api.post(f"{sim.url}/chat/findMessages/{name}", json=body, timeout=5)
        records = answer.json()["messages"]["records"]
        return [(r["key"]["fromMe"], r["message"]["conversation"]) for r in records]
    path = f"/api/{name}/chats/{CONTACT}@c.us/messages?limit=10&downloadMedia=false"
    return [(m["fromMe"], m["body"]) for m in api.get(sim.url + path, timeout=5).json()]


@pytest.fixture(params=FLAVORS)
def any_sim(request, tmp_path) -> Iterator[SimulatorProcess]:
    state = tmp_path / "state.json"
    with start_simulator_process(
        api_key=API_KEY, flavor=request.param, state_file=state, **FAST
    ) as process:
        yield process


class TestEveryFlavor:
    def test_a_phone_pairs_with_a_pairing_code_for_its_number(self, any_sim, receiver):
        api = http(any_sim)
        name = open_session(any_sim, api, receiver)
        code = any_sim.request_pairing_code(name, "+62 812-3456-7890")
        assert len(code.replace("-", "")) == 8
        session = any_sim.pair_with_code(name, code)
        assert session["me"]["id"] == "6281234567890@c.us"

    def test_a_wrong_pairing_code_links_nothing(self, any_sim, receiver):
        api = http(any_sim)
        name = open_session(any_sim, api, receiver)
        any_sim.request_pairing_code(name, "6281234567890")
        status, answer = any_sim.request(
            "POST", f"/_sim/sessions/{name}/enter-code", {"code": "AAAA-AAAA"}
        )
        assert (status, answer) == (409, {"outcome": "expired"})
        assert any_sim.session(name)["status"] == "SCAN_QR_CODE"

    def test_the_number_check_knows_who_is_not_on_whatsapp(self, any_sim, receiver):
        api = http(any_sim)
        name = open_session(any_sim, api, receiver)
        any_sim.pair(name)
        any_sim.not_on_whatsapp("6289999999999")
        if any_sim.flavor == "evolution":
            body = {"numbers": [CONTACT, "6289999999999"]}
            answer = api.post(f"{any_sim.url}/chat/whatsappNumbers/{name}", json=body, timeout=5)
            assert answer.json() == [
                {"jid": f"{CONTACT}@s.whatsapp.net", "exists": True, "number": CONTACT},
                {"jid": "6289999999999@s.whatsapp.net", "exists": False, "number": "6289999999999"},
            ]
        else:
            check = f"{any_sim.url}/api/contacts/check-exists?session={name}&phone="
            assert api.get(check + CONTACT, timeout=5).json() == {
                "numberExists": True,
                "chatId": f"{CONTACT}@c.us",
            }
            assert api.get(check + "6289999999999", timeout=5).json() == {
                "numberExists": False,
                "chatId": None,
            }

    def test_chat_history_lists_what_was_sent_and_received_newest_first(self, any_sim, receiver):
        api = http(any_sim)
        name = open_session(any_sim, api, receiver)
        any_sim.pair(name)
        assert send(any_sim, api, name, "Your booking is at 10:00").status_code == 201
        any_sim.inbound(name, CONTACT, "See you then")
        assert send(any_sim, api, name, "Great").status_code == 201
        assert history(any_sim, api, name) == [
            (True, "Great"),
            (False, "See you then"),
            (True, "Your booking is at 10:00"),
        ]

    def test_sessions_survive_a_restart_with_the_state_file(self, any_sim, receiver):
        api = http(any_sim)
        name = open_session(any_sim, api, receiver)
        me = any_sim.pair(name)["me"]
        assert send(any_sim, api, name, "Before the restart").status_code == 201
        any_sim.restart()
        # A paired phone reconnects by itself, as on a gateway with a volume.
        session = any_sim.wait_for_status(name, "WORKING")
        assert session["me"] == me
        assert history(any_sim, api, name) == [(True, "Before the restart")]
        receiver.wait_for(
            (lambda hit: hit.data.get("data", {}).get("state") == "open")
            if any_sim.flavor == "evolution"
            else status_event("WORKING"),
            count=2,
        )

    def test_a_send_can_reach_the_contact_and_still_fail_or_answer_late(self, any_sim, receiver):
        api = http(any_sim)
        name = open_session(any_sim, api, receiver)
        any_sim.pair(name)
        any_sim.configure(fail_after_send_rate=1)
        assert send(any_sim, api, name, "Answered 500").status_code == 500
        any_sim.configure(fail_after_send_rate=0, reply_delay_ms=1500)
        with pytest.raises(requests.Timeout):
            if any_sim.flavor == "evolution":
                body = {"number": CONTACT, "text": "Answered late"}
                api.post(f"{any_sim.url}/message/sendText/{name}", json=body, timeout=0.3)
            else:
                body = {"session": name, "chatId": f"{CONTACT}@c.us", "text": "Answered late"}
                api.post(f"{any_sim.url}/api/sendText", json=body, timeout=0.3)
        any_sim.configure(reply_delay_ms=0)
        # Both reached the contact: the gateway's history is what reconciliation reads.
        assert history(any_sim, api, name) == [(True, "Answered late"), (True, "Answered 500")]
