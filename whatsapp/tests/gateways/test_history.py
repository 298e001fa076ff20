"""Reading a chat's recent history from each gateway (to reconcile sends whose outcome is
unknown), telling a request that may have landed from one that never left, and ordering
messages stamped in the same second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
from responses import matchers
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from whatsapp.endpoints import EndpointConfig, Secret
from whatsapp.gateways import EvolutionGateway, GatewayError, WahaGateway
from whatsapp.gateways.base import (
    HistoryMessage,
    new_http_session,
    refined_time,
    request_may_have_reached,
)
from whatsapp.tests.support.adapters import evolution_gateway, waha_gateway

CANARY = "canary-key-DO-NOT-LEAK-history-0042"
WAHA = "https://waha.example.com"
EVO = "https://evo.example.com"
SESSION = "bq-acme-frontdesk"
PHONE = "+6281234567890"
SINCE = datetime(2026, 12, 2, 10, 42, 0, 500_000, tzinfo=UTC)
T = int(SINCE.timestamp())  # 10:42:00, the whole second the send started in


def waha() -> WahaGateway:
    return waha_gateway(WAHA, CANARY)


def evolution() -> EvolutionGateway:
    return evolution_gateway(EVO, CANARY)


# -- WAHA: GET /api/{session}/chats/{chatId}/messages -------------------------------------------

WAHA_HISTORY = f"{WAHA}/api/{SESSION}/chats/6281234567890@c.us/messages"


def waha_message(short_id: str, body: str, at: int, *, from_me: bool = True) -> dict:
    side = "true" if from_me else "false"
    return {
        "id": f"{side}_6281234567890@c.us_{short_id}",
        "timestamp": at,
        "from": "6281100000000@c.us" if from_me else "6281234567890@c.us",
        "fromMe": from_me,
        "to": "6281234567890@c.us" if from_me else "6281100000000@c.us",
        "body": body,
        "hasMedia": False,
        "ack": 2,
        "ackName": "DEVICE",
    }


def test_waha_history_lists_our_own_messages_since_the_attempt_newest_first(rsps):
    rsps.get(
        WAHA_HISTORY,
        match=[
            matchers.query_param_matcher({"limit": "50", "downloadMedia": "false"}),
            matchers.header_matcher({"X-Api-Key": CANARY}),
        ],
        json=[
            waha_message("3EB0NEWER", "Second reminder", T + 5),
            waha_message("3EB0THEIRS", "Thanks!", T + 3, from_me=False),
            waha_message("3EB0SAMESEC", "Your booking is confirmed", T),
            waha_message("3EB0OLD", "Your booking is confirmed", T - 60),
            # Engines that give the id as an object.
            {
                **waha_message("x", "Object id", T + 1),
                "id": {"_serialized": "true_6281@c.us_3EB0OBJ"},
            },
            {"id": None, "body": "no id", "fromMe": True, "timestamp": T + 2},
        ],
    )

    history = waha().recent_outgoing(session=SESSION, phone=PHONE, since=SINCE)

    assert history == [
        HistoryMessage("3EB0NEWER", True, "Second reminder", datetime.fromtimestamp(T + 5, UTC)),
        HistoryMessage("3EB0OBJ", True, "Object id", datetime.fromtimestamp(T + 1, UTC)),
        # Same whole second as the attempt's start: WhatsApp has no finer time, so it counts.
        HistoryMessage(
            "3EB0SAMESEC", True, "Your booking is confirmed", SINCE.replace(microsecond=0)
        ),
    ]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"message": ["store is not enabled for NOWEB"]}),
        (404, {"message": "Session not found"}),
        (422, {"error": "Session status is not as expected", "status": "STOPPED"}),
        (501, {"message": "Not implemented in this engine"}),
    ],
)
def test_waha_history_that_cannot_be_read_is_a_permanent_error_without_the_key(rsps, status, body):
    rsps.get(WAHA_HISTORY, status=status, json=body)

    with pytest.raises(GatewayError) as caught:
        waha().recent_outgoing(session=SESSION, phone=PHONE, since=SINCE)

    assert caught.value.permanent
    assert caught.value.code == "history_unavailable"
    assert "cannot show its chat history" in caught.value.message
    assert CANARY not in caught.value.message


def test_waha_history_that_is_not_a_list_is_a_transient_error(rsps):
    rsps.get(WAHA_HISTORY, status=200, json={"unexpected": True})

    with pytest.raises(GatewayError) as caught:
        waha().recent_outgoing(session=SESSION, phone=PHONE, since=SINCE)

    assert not caught.value.permanent
    assert caught.value.code == "bad_response"


def test_waha_history_while_the_gateway_is_down_is_transient(rsps):
    rsps.get(WAHA_HISTORY, status=503, json={"message": "busy"})

    with pytest.raises(GatewayError) as caught:
        waha().recent_outgoing(session=SESSION, phone=PHONE, since=SINCE)

    assert not caught.value.permanent


# -- Evolution: POST /chat/findMessages/{instance} ----------------------------------------------

EVO_HISTORY = f"{EVO}/chat/findMessages/{SESSION}"


def evo_record(key_id: str, at: int, *, text: str | None = None, extended: str | None = None):
    message = {"conversation": text} if text is not None else {}
    if extended is not None:
        message = {"extendedTextMessage": {"text": extended}}
    return {
        "id": f"row-{key_id}",
        "key": {"id": key_id, "fromMe": True, "remoteJid": "6281234567890@s.whatsapp.net"},
        "pushName": "",
        "messageType": "conversation",
        "message": message,
        "messageTimestamp": at,
        "instanceId": "b7c0",
        "source": "web",
        "MessageUpdate": [{"status": "SERVER_ACK"}],
    }


def test_evolution_history_reads_the_paged_records_of_our_own_messages(rsps):
    rsps.post(
        EVO_HISTORY,
        match=[
            matchers.json_params_matcher(
                {
                    "where": {"key": {"remoteJid": "6281234567890@s.whatsapp.net", "fromMe": True}},
                    "page": 1,
                    "offset": 50,
                }
            ),
            matchers.header_matcher({"apikey": CANARY}),
        ],
        json={
            "messages": {
                "total": 3,
                "pages": 1,
                "currentPage": 1,
                "records": [
                    evo_record("3EB0EVO2", T + 4, extended="Your booking is confirmed"),
                    evo_record("3EB0EVO1", T, text="Reminder"),
                    evo_record("3EB0EVOOLD", T - 120, text="Reminder"),
                ],
            }
        },
    )

    history = evolution().recent_outgoing(session=SESSION, phone=PHONE, since=SINCE)

    assert [(m.message_id, m.body, m.from_me) for m in history] == [
        ("3EB0EVO2", "Your booking is confirmed", True),
        ("3EB0EVO1", "Reminder", True),
    ]
    assert history[0].timestamp == datetime.fromtimestamp(T + 4, UTC)


def test_evolution_history_as_a_bare_list_is_read_too(rsps):
    rsps.post(EVO_HISTORY, json=[evo_record("3EB0BARE", T + 1, text="Hi")])

    history = evolution().recent_outgoing(session=SESSION, phone=PHONE, since=SINCE)

    assert [m.message_id for m in history] == ["3EB0BARE"]


def test_evolution_history_of_an_unknown_instance_cannot_be_read(rsps):
    rsps.post(EVO_HISTORY, status=404, json={"status": 404, "error": "Not Found"})

    with pytest.raises(GatewayError) as caught:
        evolution().recent_outgoing(session=SESSION, phone=PHONE, since=SINCE)

    assert (caught.value.permanent, caught.value.code) == (True, "history_unavailable")
    assert CANARY not in str(caught.value)


def test_evolution_history_during_a_500_is_transient(rsps):
    rsps.post(EVO_HISTORY, status=500, json={"response": {"message": "Connection Closed"}})

    with pytest.raises(GatewayError) as caught:
        evolution().recent_outgoing(session=SESSION, phone=PHONE, since=SINCE)

    assert not caught.value.permanent


# -- did a failed send reach the gateway? --------------------------------------------------------

SEND = f"{WAHA}/api/sendText"


def failed_send(rsps, **reply) -> GatewayError:
    rsps.post(SEND, **reply)
    with pytest.raises(GatewayError) as caught:
        waha().send_text(session=SESSION, phone=PHONE, text="Hello")
    return caught.value


@pytest.mark.parametrize(
    ("reply", "reached"),
    [
        ({"status": 500, "json": {"message": "boom"}}, True),
        ({"status": 502, "body": "Bad gateway"}, True),
        ({"status": 504, "body": ""}, True),
        ({"body": requests.exceptions.ReadTimeout()}, True),
        ({"body": requests.ConnectionError("Connection aborted.")}, True),
        ({"status": 408, "body": ""}, False),
        ({"status": 429, "json": {"message": "slow down"}}, False),
        ({"body": requests.exceptions.ConnectTimeout()}, False),
        (
            {
                "body": requests.ConnectionError(
                    MaxRetryError(None, "/", NewConnectionError(None, "Connection refused"))
                )
            },
            False,
        ),
        (
            {"body": requests.ConnectionError(MaxRetryError(None, "/", ConnectTimeoutError()))},
            False,
        ),
        ({"body": requests.exceptions.SSLError()}, False),
    ],
    ids=[
        "500",
        "502",
        "504",
        "read-timeout",
        "reset-after-write",
        "408",
        "429",
        "connect-timeout",
        "refused",
        "connect-timeout-wrapped",
        "tls",
    ],
)
def test_it_tells_a_send_that_may_have_landed_from_one_that_never_left(rsps, reply, reached):
    assert request_may_have_reached(failed_send(rsps, **reply)) is reached


def test_a_real_refused_connection_never_reached_the_gateway():
    config = EndpointConfig(
        name="Down", api_url="http://127.0.0.1:9", api_key=Secret(CANARY), provider="waha"
    )
    with pytest.raises(GatewayError) as caught:
        WahaGateway(config, session=new_http_session()).send_text(
            session=SESSION, phone=PHONE, text="Hello", timeout=2
        )
    assert caught.value.code == "unreachable"
    assert request_may_have_reached(caught.value) is False


# -- ordering within one second ------------------------------------------------------------------


def test_the_event_time_orders_messages_written_in_the_same_second():
    second = 1_796_200_000
    times = [
        refined_time(second, (second * 1000) + 120),
        refined_time(second, (second * 1000) + 480),
        # Emitted just after the second turned: still after its siblings, still in its second.
        refined_time(second, (second * 1000) + 1_050),
        refined_time(second + 1, (second * 1000) + 1_060),
    ]
    assert times == sorted(times)
    assert times[2] == datetime.fromtimestamp(second, UTC) + timedelta(microseconds=999_999)
    assert times[0] == datetime.fromtimestamp(second + 0.12, UTC)


def test_missing_or_unreadable_event_times_fall_back_to_the_whole_second():
    second = 1_796_200_000
    iso = datetime.fromtimestamp(second + 0.221, UTC).isoformat().replace("+00:00", "Z")
    assert refined_time(second, iso) == datetime.fromtimestamp(second + 0.221, UTC)
    assert refined_time(second, None) == datetime.fromtimestamp(second, UTC)
    assert refined_time(second, "not a time") == datetime.fromtimestamp(second, UTC)
    assert refined_time(None, None) is None
