"""Every answer the real gateways gave (gateways-recorded/) replayed through the adapters."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import responses

from whatsapp.gateways import EvolutionGateway, GatewayError, StatusChange, WahaGateway
from whatsapp.tests.support.adapters import evolution_gateway, waha_gateway
from whatsapp.tests.support.recorded import (
    EVOLUTION,
    WAHA_CORE,
    deliveries,
    read_exchange,
    read_timeline,
    response_files,
)

KEY = "canary-recorded-key-0b9d7"
BASE = "http://gw.example.test:3000"
HOOK = "https://booqing.example/api/whatsapp/webhooks/5b0e/abc"
PLUS_HINT = "WAHA Plus"


def waha() -> WahaGateway:
    return waha_gateway(BASE, KEY, "Core")


def evolution() -> EvolutionGateway:
    return evolution_gateway(BASE, KEY)


class Replay:
    """Registers recorded answers (in order) on a RequestsMock."""

    def __init__(self, mock: responses.RequestsMock, folder: Path):
        self.mock, self.folder = mock, folder

    def add(self, name: str) -> None:
        exchange = read_exchange(self.folder / "responses" / f"{name}.txt")
        self.mock.add(
            exchange.method,
            BASE + exchange.path,
            body=exchange.body,
            status=exchange.status,
            headers=exchange.headers,
        )

    def synthetic(self, method: str, path: str, status: int, body: object) -> None:
        self.mock.add(method, BASE + path, json=body, status=status)


def create(gw, name: str):
    return gw.session_create(
        name=name,
        webhook_url=HOOK,
        webhook_secret="s3cret",
        webhook_retries=3,
        metadata={"tenant": "acme", "device": "42"},
    )


def fails(code: str, *, permanent: bool | None = None, absent: tuple[str, ...] = ()):
    def check(call: Callable[[], object]) -> None:
        with pytest.raises(GatewayError) as info:
            call()
        error = info.value
        assert error.code == code, error
        if permanent is not None:
            assert error.permanent is permanent
        for text in (*absent, KEY, "http://", "https://"):
            assert text not in error.message
        if code == "waha_core_single_session":
            assert PLUS_HINT in error.message

    return check


def returns(expected: Callable[[object], bool] = lambda result: True):
    def check(call: Callable[[], object]) -> None:
        assert expected(call())

    return check


def status_is(status: str, raw: str | None = None):
    return returns(lambda s: s.status == status and (raw is None or s.raw_status == raw))


# --- WAHA Core 2024.10.8 -------------------------------------------------------------------


def _waha_cases() -> dict[str, tuple[Callable, Callable, tuple[str, ...]]]:
    """file -> (call, check, companion files registered after it)."""
    health_ok = returns(lambda h: h.ok and h.version == "2024.10.8")
    core_caps = returns(
        lambda c: (
            (c.tier, c.version, c.engine, c.key_enforced, c.signs_webhooks, c.multi_session)
            == ("CORE", "2024.10.8", "NOWEB", False, False, False)
            and c.summary()
            == "WAHA Core 2024.10.8 (NOWEB) · one number · webhooks unsigned · API key NOT checked"
        )
    )
    status = lambda gw: lambda: gw.session_status("default")  # noqa: E731
    qr = lambda gw: lambda: gw.session_qr("default")  # noqa: E731

    def send(gw):
        return lambda: gw.send_text(session="default", phone="+6281234567890", text="hello")

    delete = lambda gw: lambda: gw.session_delete("default")  # noqa: E731
    restart = lambda gw: lambda: gw.session_restart("default")  # noqa: E731
    logout = lambda gw: lambda: gw.session_logout("default")  # noqa: E731
    create_bq = lambda gw: lambda: create(gw, "bq-acme-0123456789ab")  # noqa: E731
    create_default = lambda gw: lambda: create(gw, "default")  # noqa: E731
    health = lambda gw: gw.health  # noqa: E731
    caps = lambda gw: gw.capabilities  # noqa: E731
    # Routes the product never calls: the seam still reads them (JSON or empty) without error.
    raw = lambda method, path: lambda gw: lambda: gw._request(method, path)  # noqa: E731
    invalid = fails("invalid_request", permanent=True)
    core_limit = fails("waha_core_single_session", permanent=True)
    not_ready = fails("session_not_ready", absent=("POST /api",))
    not_found = fails("session_not_found")
    qr_wait = fails("qr_not_ready", permanent=False)
    configured = returns(lambda s: s.status == "starting")
    return {
        "01_ping": (health, health_ok, ("02_server_version",)),
        "02_server_version": (caps, core_caps, ("04_version_wrongkey",)),
        "03_version_nokey": (caps, core_caps, ("02_server_version",)),  # 03 = the wrong-key call
        "04_version_wrongkey": (caps, core_caps, ("02_server_version",)),
        # /health is Plus-only (422): health never asks it, so Core probes healthy.
        "05_health": (health, health_ok, ("01_ping", "02_server_version")),
        "06_api_version": (
            raw("GET", "/api/version"),
            returns(lambda r: r.data["tier"] == "CORE"),
            (),
        ),
        "07_server_status": (raw("GET", "/api/server/status"), returns(), ()),
        "08_sessions_list": (
            raw("GET", "/api/sessions"),
            returns(lambda r: r.data[0]["status"] == "STOPPED"),
            (),
        ),
        "09_create_nondefault_name": (create_bq, core_limit, ()),
        # The fresh server's STOPPED 'default': PUT our webhook + metadata, then start it.
        "10_create_default_fresh": (create_default, configured, ("PUT", "40_start")),
        "11_get_nondefault": (lambda gw: lambda: gw.session_status("booqing-dev1"), not_found, ()),
        "12_qr_nondefault": (lambda gw: lambda: gw.session_qr("booqing-dev1"), core_limit, ()),
        "13_delete_default_fresh": (delete, returns(lambda r: r is None), ()),
        "14_sessions_list_after_delete": (
            raw("GET", "/api/sessions"),
            returns(lambda r: r.data == []),
            (),
        ),
        "15_get_default_after_delete": (status, not_found, ()),
        "16_qr_default_after_delete": (qr, not_ready, ()),
        "17_create_bad_events": (create_default, invalid, ()),
        "18_create_bad_url": (create_default, invalid, ()),
        "19_create_bad_retry_policy": (create_default, invalid, ()),
        "20_create_unknown_field": (create_default, configured, ()),  # 201, empty body
        "21_list_after_unknown": (raw("GET", "/api/sessions"), returns(lambda r: r.data == []), ()),
        "22_delete_again": (delete, returns(lambda r: r is None), ()),
        "23_create_bad_name": (create_bq, core_limit, ()),
        "24_create_not_json": (create_default, invalid, ()),
        "25_create_default_product_payload": (create_default, configured, ()),
        "26_get_default": (status, status_is("starting", "STARTING"), ()),
        "27_qr_raw": (qr, qr_wait, ()),
        "28_get_default_5s": (status, status_is("starting", "STARTING"), ()),
        "29_qr_raw_5s": (qr, qr_wait, ()),
        "30_qr_image_json": (qr, qr_wait, ()),
        "31_me": (raw("GET", "/api/sessions/default/me"), returns(lambda r: r.data is None), ()),
        "32_sendText_not_connected": (send, not_ready, ()),
        "33_sendText_missing_fields": (send, not_ready, ()),
        "34_restart": (restart, returns(lambda r: r is None), ()),
        "35_logout": (logout, returns(lambda r: r is None), ()),
        "36_stop": (
            raw("POST", "/api/sessions/default/stop"),
            returns(lambda r: r.data["status"] == "STOPPED"),
            (),
        ),
        "37_get_after_stop": (status, status_is("stopped", "STOPPED"), ()),
        "38_qr_after_stop": (qr, not_ready, ()),
        "39_sendText_stopped": (send, not_ready, ()),
        "40_start": (create_default, configured, ("10_create_default_fresh", "PUT")),
        # Already started (a PUT restarts a running session): still configured.
        "41_start_again": (create_default, configured, ("10_create_default_fresh", "PUT")),
        "42_delete": (delete, returns(lambda r: r is None), ()),
        "43_delete_again": (delete, returns(lambda r: r is None), ()),
        # "Session not found": the device service recreates the session.
        "44_restart_after_delete": (restart, not_found, ()),
        "45_logout_after_delete": (logout, not_found, ()),
        "46_unknown_route": (raw("GET", "/api/nope"), fails("not_found", permanent=True), ()),
        "real_a01_ping": (health, health_ok, ("real_a02_version",)),
        "real_a02_version": (caps, core_caps, ("real_a03_version_wrongkey",)),
        "real_a03_version_wrongkey": (caps, core_caps, ("real_a02_version",)),
        "real_a04_version_nokey": (caps, core_caps, ("real_a02_version",)),
        "real_a05_health": (health, health_ok, ("real_a01_ping", "real_a02_version")),
        "real_a06_list": (raw("GET", "/api/sessions"), returns(lambda r: r.data == []), ()),
        "real_a07_delete_default": (delete, returns(lambda r: r is None), ()),
        "real_a08_create_bq": (create_bq, core_limit, ()),
        "real_a09_create_default": (create_default, configured, ()),
        "real_a10_create_default_dup": (create_default, configured, ("PUT", "40_start")),
        "real_a11_bad_events": (create_default, invalid, ()),
        "real_a12_bad_url": (create_default, invalid, ()),
        "real_a13_bad_retry": (create_default, invalid, ()),
        "real_a14_not_json": (create_default, invalid, ()),
        "real_a15_get_default": (status, status_is("starting", "STARTING"), ()),
        "real_a16_qr_raw": (qr, qr_wait, ()),
        "real_a17_qr_image": (qr, qr_wait, ()),
        "real_a18_send_not_ready": (send, not_ready, ()),
        "real_a19_send_missing": (send, not_ready, ()),
        "real_a20_restart": (restart, returns(lambda r: r is None), ()),
        "real_a21_logout": (logout, returns(lambda r: r is None), ()),
        "real_a22_stop": (raw("POST", "/api/sessions/default/stop"), returns(), ()),
        "real_a23_get_stopped": (status, status_is("stopped", "STOPPED"), ()),
        "real_a24_send_stopped": (send, not_ready, ()),
        "real_a25_qr_stopped": (qr, not_ready, ()),
        "real_a26_delete": (delete, returns(lambda r: r is None), ()),
        "real_a27_delete_again": (delete, returns(lambda r: r is None), ()),
        "real_a28_get_deleted": (status, not_found, ()),
        "real_a29_restart_deleted": (restart, not_found, ()),
        "real_a30_logout_deleted": (logout, not_found, ()),
        "real_a31_qr_deleted": (qr, not_ready, ()),
        "real_a32_send_unknown_session": (
            lambda gw: (
                lambda: gw.send_text(
                    session="bq-acme-0123456789ab", phone="+6281234567890", text="x"
                )
            ),
            core_limit,
            (),
        ),
        "real_a33_unknown_route": (raw("GET", "/api/nope"), fails("not_found"), ()),
        "real_a34_get_bq": (
            lambda gw: lambda: gw.session_status("bq-acme-0123456789ab"),
            not_found,
            (),
        ),
        # A non-default session cannot exist on Core: deleting it is done.
        "real_a35_delete_bq": (
            lambda gw: lambda: gw.session_delete("bq-acme-0123456789ab"),
            returns(lambda r: r is None),
            (),
        ),
    }


WAHA_CASES = _waha_cases()


def test_every_recorded_waha_answer_has_a_case():
    assert sorted(WAHA_CASES) == sorted(p.stem for p in response_files(WAHA_CORE))


@pytest.mark.parametrize("name", sorted(WAHA_CASES))
def test_recorded_waha_core_answer(name):
    call, check, companions = WAHA_CASES[name]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        rp = Replay(mock, WAHA_CORE)
        rp.add(name)
        for companion in companions:
            if companion == "PUT":  # not recorded: PUT answers the session, as GET does
                exchange = read_exchange(WAHA_CORE / "responses" / "26_get_default.txt")
                mock.add("PUT", BASE + "/api/sessions/default", body=exchange.body, status=200)
            else:
                rp.add(companion)
        gw = waha()
        check(call(gw))
        if "PUT" in companions:
            put = next(c for c in mock.calls if c.request.method == "PUT")
            sent = json.loads(put.request.body)
            assert sent["config"]["webhooks"][0]["url"] == HOOK
            assert sent["config"]["metadata"] == {"tenant": "acme", "device": "42"}
            assert any(c.request.url.endswith("/api/sessions/default/start") for c in mock.calls)
        if name in ("25_create_default_product_payload", "real_a09_create_default"):
            recorded = json.loads(
                read_exchange(WAHA_CORE / "responses" / f"{name}.txt").request_body
            )
            sent = json.loads(mock.calls[0].request.body)
            assert sorted(sent) == sorted(recorded) and sent["start"] is True
            assert sorted(sent["config"]["webhooks"][0]) == sorted(
                recorded["config"]["webhooks"][0]
            )
        if name in ("05_health", "real_a05_health"):
            assert not any(c.request.url.endswith("/health") for c in mock.calls)
        if name in ("02_server_version", "real_a02_version", "03_version_nokey"):
            wrong = mock.calls[1].request.headers["X-Api-Key"]
            assert wrong != KEY and mock.calls[0].request.headers["X-Api-Key"] == KEY


# --- Evolution API 2.3.6 -------------------------------------------------------------------

INSTANCE = "bq-acme-0123456789ab"
NOQR = "bq-acme-noqr00000001"


def _evolution_cases() -> dict[str, tuple[Callable, Callable, tuple[str, ...]]]:
    def on(name_: str):
        return {
            "status": lambda gw: lambda: gw.session_status(name_),
            "qr": lambda gw: lambda: gw.session_qr(name_),
            "send": lambda gw: (
                lambda: gw.send_text(session=name_, phone="+6281234567890", text="hi")
            ),
            "restart": lambda gw: lambda: gw.session_restart(name_),
            "logout": lambda gw: lambda: gw.session_logout(name_),
            "delete": lambda gw: lambda: gw.session_delete(name_),
            "create": lambda gw: lambda: create(gw, name_),
            "owner": lambda gw: lambda: gw._owner(name_),
            "configure": lambda gw: (
                lambda: gw.session_configure(
                    name=name_, webhook_url=HOOK, webhook_secret="s", webhook_retries=3, metadata={}
                )
            ),
        }

    a, n = on(INSTANCE), on(NOQR)
    done = returns(lambda r: r is None)
    caps_ok = returns(
        lambda c: (
            (c.version, c.key_enforced, c.signs_webhooks, c.multi_session)
            == ("2.3.6", True, True, True)
            and c.summary() == "Evolution API 2.3.6 · many numbers · webhooks signed"
        )
    )
    raw = lambda method, path: lambda gw: lambda: gw._request(method, path)  # noqa: E731
    unauthorized = fails("unauthorized", permanent=True)
    not_found = fails("session_not_found", permanent=True)
    not_ready = fails(
        "session_not_ready", absent=("Connection Closed", "onWhatsApp", "Cannot read")
    )
    qr_wait = fails("qr_not_ready", permanent=False)
    starting = returns(lambda s: s.status == "starting")
    stopped = status_is("stopped", "close")
    return {
        "a01_root_nokey": (lambda gw: gw.capabilities, caps_ok, ("a03_verify_wrongkey",)),
        "a02_verify_nokey": (lambda gw: gw.capabilities, caps_ok, ("a01_root_nokey",)),
        "a03_verify_wrongkey": (lambda gw: gw.capabilities, caps_ok, ("a01_root_nokey",)),
        "a04_verify_rightkey": (lambda gw: gw.health, returns(lambda h: h.ok), ()),
        "a05_fetch_nokey": (raw("GET", "/instance/fetchInstances"), unauthorized, ()),
        "a06_fetch_wrongkey": (raw("GET", "/instance/fetchInstances"), unauthorized, ()),
        # A wrong key on an unknown instance answers 404, not 401.
        "a07_state_unknown_wrongkey": (on("nope-unknown")["status"], not_found, ()),
        "a08_state_unknown_rightkey": (on("nope-unknown")["status"], not_found, ()),
        "a09_create_nokey": (a["create"], unauthorized, ()),
        "a10_create_wrongkey": (a["create"], unauthorized, ()),
        "a11_fetch_empty": (
            raw("GET", "/instance/fetchInstances"),
            returns(lambda r: r.data == []),
            (),
        ),
        "b01_create_product_payload": (a["create"], starting, ()),
        "b02_create_duplicate": (a["create"], fails("session_exists", permanent=True), ()),
        "b03_fetch_by_name": (a["owner"], returns(lambda r: r == (None, None)), ()),
        "b04_state": (a["status"], status_is("starting", "connecting"), ()),
        "b05_connect": (a["qr"], qr_wait, ()),  # {"count":0}: no QR yet
        "b06_webhook_find": (raw("GET", f"/webhook/find/{INSTANCE}"), returns(), ()),
        "b07_state_instance_token": (a["status"], status_is("starting", "connecting"), ()),
        "b08_state_wrongkey": (a["status"], unauthorized, ()),
        "b09_state_later": (a["status"], status_is("starting", "connecting"), ()),
        "b10_sendtext_not_connected": (a["send"], not_ready, ()),
        # A list of lists of messages reads as sentences, not as Python or JSON lists.
        "b11_sendtext_empty_body": (
            a["send"],
            lambda call: _readable_400(call, 'instance requires property "number"'),
            (),
        ),
        "b12_sendtext_unknown_instance": (on("nope-unknown")["send"], not_found, ()),
        "b13_webhook_set": (a["configure"], done, ()),
        "b14_webhook_set_bad_event": (
            a["configure"],
            lambda call: _readable_400(call, "webhook.events[0] is not one of enum values"),
            (),
        ),
        "b15_webhook_find_after_set": (raw("GET", f"/webhook/find/{INSTANCE}"), returns(), ()),
        "b16_restart": (a["restart"], done, ()),
        "b17_state_after_restart": (a["status"], stopped, ()),
        "b18_connect_after_restart": (a["qr"], qr_wait, ()),
        "b19_logout": (a["logout"], done, ()),  # 400 "not connected": nothing to log out
        "b20_state_after_logout": (a["status"], stopped, ()),
        "b21_fetch_after_logout": (a["owner"], returns(lambda r: r == (None, None)), ()),
        "b22_logout_again": (a["logout"], done, ()),
        # {"error": true} is a failure: connect is what starts a closed instance.
        "b23_restart_when_closed": (a["restart"], done, ("b24_connect_when_closed",)),
        "b24_connect_when_closed": (a["restart"], done, ("b23_restart_when_closed",)),
        "b25_state_after_connect": (a["status"], stopped, ()),
        "b26_delete": (a["delete"], done, ()),
        "b27_delete_again": (a["delete"], done, ()),
        "b28_state_after_delete": (a["status"], not_found, ()),
        "b29_fetch_after_delete": (a["owner"], returns(lambda r: r == (None, None)), ()),
        "b30_fetch_all_after_delete": (
            raw("GET", "/instance/fetchInstances"),
            returns(lambda r: r.data == []),
            (),
        ),
        "c01_create_noqr": (n["create"], starting, ()),  # "close" right after create: starting
        "c02_state_noqr": (n["status"], stopped, ()),
        "c03_restart_closed": (n["restart"], done, ("c06_connect_closed",)),
        "c04_logout_closed": (n["logout"], done, ()),
        "c05_sendtext_closed": (n["send"], not_ready, ()),
        "c06_connect_closed": (n["qr"], qr_wait, ()),
        "c07_state_after_connect": (n["status"], stopped, ()),
        "c08_logout_connecting": (n["logout"], done, ()),
        "c09_state_after_logout": (n["status"], stopped, ()),
        "c10_delete": (n["delete"], done, ()),
        "e01_create_fail500": (on("bq-retry-500")["create"], starting, ()),
        "e02_create_fail401": (on("bq-retry-401")["create"], starting, ()),
        "e03_connect_500": (on("bq-retry-500")["qr"], qr_wait, ()),
        "e04_connect_401": (on("bq-retry-401")["qr"], qr_wait, ()),
        "e05_delete_500": (on("bq-retry-500")["delete"], done, ()),
        "e06_delete_401": (on("bq-retry-401")["delete"], done, ()),
        "f01_create": (on("bq-acme-relog0000001")["create"], starting, ()),
        "f02_logout_connecting": (on("bq-acme-relog0000001")["logout"], done, ()),
        "f03_restart_after_logout": (on("bq-acme-relog0000001")["restart"], done, ()),
        "f04_connect_after_logout": (on("bq-acme-relog0000001")["qr"], qr_wait, ()),
        "f05_delete": (on("bq-acme-relog0000001")["delete"], done, ()),
    }


def _readable_400(call, sentence: str) -> None:
    with pytest.raises(GatewayError) as info:
        call()
    assert info.value.code == "invalid_request"
    assert sentence in info.value.message
    assert "[" not in info.value.message.replace("events[0]", "")


EVOLUTION_CASES = _evolution_cases()
TIMELINES = ("d01_state_flapping", "d02_state_right_after_delete")


def test_every_recorded_evolution_answer_has_a_case():
    names = sorted(p.stem for p in response_files(EVOLUTION))
    assert names == sorted([*EVOLUTION_CASES, *TIMELINES])


@pytest.mark.parametrize("name", sorted(EVOLUTION_CASES))
def test_recorded_evolution_answer(name):
    call, check, companions = EVOLUTION_CASES[name]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        rp = Replay(mock, EVOLUTION)
        order = (*companions, name) if name in ("b24_connect_when_closed",) else (name, *companions)
        for file in order:
            rp.add(file)
        gw = evolution()
        check(call(gw))
        if name in ("b23_restart_when_closed", "b24_connect_when_closed", "c03_restart_closed"):
            assert any("/instance/connect/" in c.request.url for c in mock.calls)
        if name in ("b13_webhook_set", "b01_create_product_payload"):
            # What we send has the shape the real gateway accepted.
            recorded = json.loads(
                read_exchange(EVOLUTION / "responses" / f"{name}.txt").request_body
            )
            sent = json.loads(mock.calls[0].request.body)
            assert sorted(sent) == sorted(recorded)
            assert sorted(sent["webhook"]) == sorted(recorded["webhook"])
        if name == "b16_restart":
            assert not any("/instance/connect/" in c.request.url for c in mock.calls)


def test_evolution_health_never_calls_the_slow_root():
    with responses.RequestsMock() as mock:
        Replay(mock, EVOLUTION).add("a04_verify_rightkey")
        assert evolution().health().ok
        assert [c.request.url for c in mock.calls] == [BASE + "/verify-creds"]


def test_evolution_restart_that_cannot_connect_is_a_failure():
    with responses.RequestsMock() as mock:
        rp = Replay(mock, EVOLUTION)
        rp.add("b23_restart_when_closed")
        mock.add("GET", f"{BASE}/instance/connect/{INSTANCE}", status=404, json={})
        with pytest.raises(GatewayError) as info:
            evolution().session_restart(INSTANCE)
        assert info.value.code == "session_not_found"


@pytest.mark.parametrize("name", TIMELINES)
def test_recorded_evolution_state_timeline(name):
    answers = read_timeline(EVOLUTION / "responses" / f"{name}.txt")
    path = f"{BASE}/instance/connectionState/bq-acme-flap00000001"
    with responses.RequestsMock() as mock:
        for status, body in answers:
            mock.add("GET", path, body=body, status=status)
        gw = evolution()
        outcomes = []
        for _ in answers:
            try:
                outcomes.append(gw.session_status("bq-acme-flap00000001").status)
            except GatewayError as exc:
                outcomes.append(exc.code)
    if name == "d01_state_flapping":
        # An unpaired instance flaps between close and connecting: each read says what it saw.
        expected = ["starting" if b'"connecting"' in body else "stopped" for _, body in answers]
        assert outcomes == expected and set(expected) == {"starting", "stopped"}
    else:
        # 100 ms after a delete: 200 without a state (unreadable, transient), then gone.
        assert outcomes[0] == "bad_response"
        assert set(outcomes[1:]) == {"session_not_found"}


# --- recorded deliveries ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "delivery", deliveries(WAHA_CORE), ids=lambda d: f"{d.path.parent.name}/{d.path.name}"
)
def test_recorded_waha_core_delivery_parses(delivery):
    # Core does not sign: no HMAC header, so the signature check says "not signed" and the
    # URL's secret is the proof (see test_webhook_capability_urls).
    assert "X-Webhook-Hmac" not in delivery.headers
    assert waha().verify_webhook(body=delivery.body, headers=delivery.headers, secret="s") is False
    events = waha().parse_webhook(delivery.body)
    assert len(events) == 1 and isinstance(events[0], StatusChange)
    assert events[0].session == "default"
    assert events[0].status in ("starting", "stopped", "failed")


@pytest.mark.parametrize("delivery", deliveries(EVOLUTION), ids=lambda d: d.path.name)
def test_recorded_evolution_delivery_verifies_and_parses(delivery):
    gw = evolution()
    secret = "s3cret-webhook-value"
    assert gw.verify_webhook(body=delivery.body, headers=delivery.headers, secret=secret)
    assert not gw.verify_webhook(body=delivery.body, headers=delivery.headers, secret="other")
    events = gw.parse_webhook(delivery.body)
    assert [(e.session, e.status) for e in events] == [(INSTANCE, "starting")]
