"""Tests for the shared gateway plumbing: the HTTP seam, safe errors, pooling and helpers."""

from __future__ import annotations

import logging
import pickle
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from whatsapp.endpoints import EndpointConfig, Secret
from whatsapp.gateways import (
    EvolutionGateway,
    GatewayError,
    WahaGateway,
    close_pooled_sessions,
    gateway_for,
)
from whatsapp.gateways.base import (
    header_value,
    new_http_session,
    parse_retry_after,
    phone_digits,
    phone_from_jid,
    sender_identity,
    short_message_id,
    to_datetime,
    validate_session_name,
)
from whatsapp.tests.support.adapters import CANARY

BASE = "https://wa.example.com"


def endpoint(provider: str = "waha", name: str = "Primary", url: str = BASE) -> EndpointConfig:
    return EndpointConfig(name=name, api_url=url, api_key=Secret(CANARY), provider=provider)


def assert_safe(exc: GatewayError) -> None:
    for text in (str(exc), repr(exc), exc.message, *map(str, exc.args)):
        assert CANARY not in text
        assert "?" not in text  # no query strings
        assert "/api/" not in text  # no paths, host only


@pytest.fixture
def gw() -> WahaGateway:
    return WahaGateway(endpoint(), session=new_http_session())


class TestRequestSeam:
    def test_it_always_passes_a_connect_and_read_timeout(self, rsps, gw):
        rsps.get(f"{BASE}/api/sessions/dev-1", json={"name": "dev-1", "status": "WORKING"})
        gw.session_status("dev-1")
        assert rsps.calls[0].request.req_kwargs["timeout"] == (5.0, 10.0)

    def test_it_sends_the_key_only_as_a_header(self, rsps, gw):
        rsps.get(f"{BASE}/api/sessions/dev-1", json={"name": "dev-1", "status": "WORKING"})
        gw.session_status("dev-1")
        request = rsps.calls[0].request
        assert request.headers["X-Api-Key"] == CANARY
        assert CANARY not in request.url

    def test_it_turns_a_timeout_into_a_transient_error_naming_endpoint_and_host(self, rsps, gw):
        rsps.get(f"{BASE}/api/sessions/dev-1", body=requests.exceptions.ReadTimeout("read"))
        with pytest.raises(GatewayError) as info:
            gw.session_status("dev-1")
        error = info.value
        assert error.permanent is False
        assert error.code == "timeout"
        assert error.message == "Gateway 'Primary' (wa.example.com) did not answer within 10s"
        assert_safe(error)

    def test_it_turns_a_refused_connection_into_a_transient_error_without_the_url(self, rsps, gw):
        cause = requests.exceptions.ConnectionError(
            f"HTTPSConnectionPool: Max retries exceeded with url: /api/sessions?key={CANARY}"
        )
        rsps.get(f"{BASE}/api/sessions/dev-1", body=cause)
        with pytest.raises(GatewayError) as info:
            gw.session_status("dev-1")
        assert info.value.permanent is False
        assert info.value.code == "unreachable"
        assert info.value.__cause__ is None and info.value.__suppress_context__
        assert_safe(info.value)

    def test_it_treats_a_500_as_transient(self, rsps, gw):
        rsps.get(f"{BASE}/api/sessions/dev-1", status=500, json={"message": "engine crashed"})
        with pytest.raises(GatewayError) as info:
            gw.session_status("dev-1")
        assert (info.value.permanent, info.value.status) == (False, 500)
        # The gateway's internal error text never reaches a page.
        assert "engine crashed" not in info.value.message
        assert "answered 500 Internal Server Error" in info.value.message

    def test_it_treats_a_400_as_permanent(self, rsps, gw):
        rsps.get(f"{BASE}/api/sessions/dev-1", status=400, json={"message": "bad"})
        with pytest.raises(GatewayError) as info:
            gw.session_status("dev-1")
        assert (info.value.permanent, info.value.code) == (True, "invalid_request")

    @pytest.mark.parametrize("status", [408, 429, 502, 503, 504])
    def test_it_treats_timeouts_throttling_and_outages_as_transient(self, rsps, gw, status):
        rsps.get(f"{BASE}/api/sessions/dev-1", status=status)
        with pytest.raises(GatewayError) as info:
            gw.session_status("dev-1")
        assert info.value.permanent is False

    def test_it_parses_retry_after_seconds_on_429(self, rsps, gw):
        rsps.get(f"{BASE}/api/sessions/dev-1", status=429, headers={"Retry-After": "17"})
        with pytest.raises(GatewayError) as info:
            gw.session_status("dev-1")
        assert (info.value.code, info.value.retry_after) == ("rate_limited", 17.0)

    def test_it_parses_retry_after_http_date_on_429(self, rsps, gw):
        when = format_datetime(datetime.now(tz=UTC) + timedelta(seconds=120), usegmt=True)
        rsps.get(f"{BASE}/api/sessions/dev-1", status=429, headers={"Retry-After": when})
        with pytest.raises(GatewayError) as info:
            gw.session_status("dev-1")
        assert 100 < info.value.retry_after <= 120

    def test_it_does_not_follow_redirects_that_would_carry_the_key(self, rsps, gw):
        rsps.get(
            f"{BASE}/api/sessions/dev-1",
            status=302,
            headers={"Location": "https://evil.example.net/steal"},
        )
        with pytest.raises(GatewayError) as info:
            gw.session_status("dev-1")
        assert (info.value.permanent, info.value.code) == (True, "redirect")
        assert len(rsps.calls) == 1

    def test_it_redacts_a_key_echoed_back_in_an_error_body(self, rsps, gw):
        echo = {"message": f"invalid header X-Api-Key={CANARY} see https://wa.example.com/x?k=1"}
        rsps.get(f"{BASE}/api/sessions/dev-1", status=400, json=echo)
        with pytest.raises(GatewayError) as info:
            gw.session_status("dev-1")
        assert "***" in info.value.message
        assert_safe(info.value)

    def test_it_never_logs_the_key(self, rsps, gw, caplog):
        caplog.set_level(logging.DEBUG)
        rsps.get(f"{BASE}/api/sessions/dev-1", status=401)
        with pytest.raises(GatewayError):
            gw.session_status("dev-1")
        assert caplog.records
        assert CANARY not in caplog.text

    def test_it_shows_only_the_host_when_the_url_holds_credentials(self, rsps):
        gw = WahaGateway(endpoint(url="https://user:pw@wa.example.com"), session=new_http_session())
        rsps.get(
            "https://user:pw@wa.example.com/api/sessions/dev-1",
            body=requests.exceptions.ConnectTimeout(),
        )
        with pytest.raises(GatewayError) as info:
            gw.session_status("dev-1")
        assert "pw" not in info.value.message
        assert "(wa.example.com)" in info.value.message


class TestGatewayError:
    def test_it_keeps_the_message_as_str_and_shows_its_fields_in_repr(self):
        error = GatewayError("Gateway 'P' (h) is down", permanent=False, status=503, code="x")
        assert str(error) == "Gateway 'P' (h) is down"
        assert "code='x'" in repr(error) and "status=503" in repr(error)

    def test_it_survives_pickling_for_task_backends(self):
        error = GatewayError("m", permanent=True, status=429, retry_after=3.0, code="rate_limited")
        copy = pickle.loads(pickle.dumps(error))
        assert (copy.message, copy.permanent, copy.status, copy.retry_after, copy.code) == (
            "m",
            True,
            429,
            3.0,
            "rate_limited",
        )


class TestGatewayFor:
    def setup_method(self):
        close_pooled_sessions()

    def test_it_picks_the_adapter_by_provider(self):
        assert isinstance(gateway_for(endpoint("waha")), WahaGateway)
        assert isinstance(gateway_for(endpoint("evolution", name="Evo")), EvolutionGateway)

    def test_it_applies_the_requested_timeout(self):
        assert gateway_for(endpoint(), timeout=3).timeout == 3
        assert gateway_for(endpoint()).timeout == 10.0

    def test_it_shares_one_pooled_session_per_endpoint_across_threads(self):
        seen = []
        threads = [
            threading.Thread(target=lambda: seen.append(gateway_for(endpoint()).http))
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len({id(s) for s in seen}) == 1
        assert gateway_for(endpoint(name="Other")).http is not seen[0]
        adapter = seen[0].get_adapter(BASE)
        assert adapter._pool_maxsize == 20
        assert adapter.max_retries.total == 0

    def test_it_rejects_an_unknown_provider(self):
        with pytest.raises(ValueError, match="unknown provider"):
            gateway_for(endpoint("twilio"))

    def test_it_keeps_the_key_out_of_the_gateway_repr(self):
        assert CANARY not in repr(gateway_for(endpoint()))


class TestHelpers:
    @pytest.mark.parametrize(
        ("jid", "phone"),
        [
            ("6281234567890@c.us", "+6281234567890"),
            ("6281234567890@s.whatsapp.net", "+6281234567890"),
            ("6281234567890:12@s.whatsapp.net", "+6281234567890"),
            ("123456789012345@lid", None),
            ("120363025246125486@g.us", None),
            ("not-a-number@c.us", None),
            (None, None),
            ("", None),
        ],
    )
    def test_it_derives_e164_phones_from_jids(self, jid, phone):
        assert phone_from_jid(jid) == phone

    def test_it_keeps_a_phone_for_a_hidden_sender_only_when_the_gateway_gave_one(self):
        assert sender_identity("1@lid") == (None, "1@lid")
        assert sender_identity("1@lid", None, "628123456789@s.whatsapp.net") == (
            "+628123456789",
            "1@lid",
        )
        assert sender_identity("628123456789@c.us") == ("+628123456789", None)

    @pytest.mark.parametrize("bad", ["0812345", "+62 812", "62812abc", "+1234", "", "+" + "9" * 16])
    def test_it_rejects_phones_that_are_not_e164(self, bad):
        with pytest.raises(ValueError, match=r"E\.164"):
            phone_digits(bad)

    def test_it_accepts_e164_phones(self):
        assert phone_digits("+6281234567890") == "6281234567890"

    @pytest.mark.parametrize("bad", ["Dev-1", "a" * 55, "../admin", "dev 1", "", "dév"])
    def test_it_rejects_session_names_gateways_cannot_take(self, bad):
        with pytest.raises(ValueError):
            validate_session_name(bad)

    def test_it_accepts_a_54_character_session_name(self):
        assert validate_session_name("a" * 54) == "a" * 54

    @pytest.mark.parametrize(
        ("raw", "short"),
        [
            ("true_6281234567890@c.us_3EB0ABC", "3EB0ABC"),
            ("false_1203@g.us_3EB0ABC_628123@c.us", "3EB0ABC"),
            ("3EB0ABC", "3EB0ABC"),
        ],
    )
    def test_it_shortens_serialized_message_ids(self, raw, short):
        assert short_message_id(raw) == short

    def test_it_reads_seconds_and_milliseconds_timestamps(self):
        expected = datetime(2026, 1, 1, tzinfo=UTC)
        assert to_datetime(1767225600) == expected
        assert to_datetime("1767225600000") == expected
        assert to_datetime("soon") is None

    def test_it_finds_headers_case_insensitively_and_in_django_meta_form(self):
        assert header_value({"x-webhook-hmac": "a"}, "X-Webhook-Hmac") == "a"
        assert header_value({"HTTP_X_WEBHOOK_HMAC": "b"}, "x-webhook-hmac") == "b"
        assert header_value({}, "x-webhook-hmac") is None

    def test_it_ignores_unparseable_retry_after(self):
        assert parse_retry_after("soon") is None
        assert parse_retry_after(None) is None
        assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
