"""Reliability under real concurrency and crashes (PostgreSQL, as in production and CI):
a webhook flood with duplicates, a worker SIGKILLed mid-send, a gateway that goes away, and a
gateway that refuses a number."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import quote

import pytest
import requests
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from gateway_simulator.testing import PROJECT_ROOT, wait_until
from whatsapp import services
from whatsapp.models import (
    Conversation,
    Device,
    DeviceStatus,
    Message,
    MessageStatus,
    WebhookEvent,
)
from whatsapp.tests.factories import make_front_desk
from whatsapp.tests.support.flood import (
    CLIENTS,
    SECRET,
    Flood,
    message_envelope,
    process_concurrently,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (real row locks and concurrent writers); run with "
        "DATABASE_URL=postgres://postgres@127.0.0.1:5432/test",
    ),
]

DELIVERIES = 2000
DUPLICATE_SHARE = 0.30


# -- flood -----------------------------------------------------------------------------------------


@pytest.fixture
def flood_device(cast):
    return make_front_desk(
        cast.tenant_a,
        configured=False,
        session="bq-acme-flood",
        secret=SECRET,
        webhook_token="flood-token-" + "f" * 24,
    )


def build_flood(session: str, rng: random.Random) -> tuple[list[list[bytes]], int, int]:
    """Groups of identical deliveries: (groups, unique events, unique messages).

    2,000 deliveries of which 30% are extra copies. Most copies are the gateway retrying the
    same bytes; some are the same message re-emitted under a new envelope id (after a gateway
    restart), which only the message id can dedupe.
    """
    extra = int(DELIVERIES * DUPLICATE_SHARE)  # 600
    unique = DELIVERIES - extra  # 1400
    contacts = [f"6281200{i:06d}" for i in range(50)]
    groups, events = [], unique
    for n in range(unique):
        message_id = f"3EB0{n:08X}{rng.getrandbits(32):08X}"
        body = message_envelope(session, message_id, contacts[n % len(contacts)], n)
        groups.append([body])
    # 450 messages arrive twice, 75 three times: 450 + 2 * 75 = 600 extra deliveries.
    for index, group in enumerate(rng.sample(groups, 525)):
        copies = 2 if index < 75 else 1
        for copy in range(copies):
            if index % 5 == 0 and copy == 0:
                # Re-emitted: same payload, a fresh envelope id.
                envelope = json.loads(group[0])
                envelope["id"] = f"evt_{uuid.uuid4().hex}"
                group.append(json.dumps(envelope, separators=(",", ":")).encode())
                events += 1
            else:
                group.append(group[0])
    assert sum(len(g) for g in groups) == DELIVERIES
    return groups, events, unique


@pytest.mark.parametrize("order", ["shuffled", "burst"])
def test_it_stores_every_unique_message_exactly_once_under_a_duplicate_flood(
    flood_device, live_server, order
):
    rng = random.Random(f"flood-{order}")
    groups, events, unique = build_flood(flood_device.session_name, rng)
    flood = Flood(
        f"{live_server.url}/api/whatsapp/webhooks/{flood_device.webhook_id}/"
        f"{flood_device.webhook_token}"
    )

    getattr(flood, order)(groups, rng)

    assert sum(flood.statuses.values()) == DELIVERIES
    assert not [status for status in flood.statuses if status >= 500], flood.statuses
    assert flood.statuses == {200: DELIVERIES}
    assert WebhookEvent.objects.count() == events

    process_concurrently()

    assert WebhookEvent.objects.filter(status=WebhookEvent.Status.PROCESSED).count() == events
    inbound = Message.objects.filter(direction=Message.Direction.INBOUND)
    assert inbound.count() == unique  # 0 lost, 0 duplicated
    assert inbound.values("gateway_message_id").distinct().count() == unique
    bodies = set(inbound.values_list("body", flat=True))
    assert bodies == {f"flood message {n}" for n in range(unique)}
    assert Conversation.objects.count() == 50
    # Each stored message counted once as unread, duplicates not at all.
    assert Conversation.objects.aggregate(total=Sum("unread_count"))["total"] == unique


def test_it_creates_one_message_when_a_client_retries_with_the_same_key_concurrently(
    flood_device, live_server
):
    _, token = services.api_token_create(tenant=flood_device.tenant, name="Booking", actor=None)
    barrier = threading.Barrier(CLIENTS)
    payload = {"to": "0812-3456-7890", "body": "Your booking #42 is confirmed"}

    def post(_: int) -> tuple[int, str]:
        with requests.Session() as session:
            session.trust_env = False
            barrier.wait(timeout=30)
            response = session.post(
                f"{live_server.url}/api/whatsapp/messages",
                json=payload,
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "booking-42"},
                timeout=30,
            )
        return response.status_code, response.json().get("message", {}).get("id", "")

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(post, range(CLIENTS)))

    assert {status for status, _ in results} == {202}
    message = Message.objects.get()
    assert {message_id for _, message_id in results} == {str(message.pk)}
    assert DBTaskResult.objects.filter(args_kwargs__args=[str(message.pk)]).count() == 1


# -- the outbound queue against a live simulator ------------------------------------------------


def sends_seen_by(simulator, session: str, text: str) -> int:
    """How many times the simulated phone received `text` (its contacts page log)."""
    status, page = simulator.request("GET", f"/contacts/{quote(session)}?fragment=log")
    assert status == 200
    return page.count(text)


@pytest.fixture
def paired_device(cast, simulator):
    """A device paired on the simulator; webhooks are not needed here, so they are off."""
    simulator.configure(webhooks_enabled=False, ack_delays=[])
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Sim", actor=cast.superadmin)
    device = services.device_create(tenant=cast.tenant_a, name="Front desk", actor=cast.alice)
    simulator.pair(device.session_name)
    Device.objects.filter(pk=device.pk).update(status=DeviceStatus.CONNECTED, min_send_gap_ms=0)
    device.refresh_from_db()
    return device


def queue(device: Device, text: str, to: str = "+6281234567890") -> Message:
    with transaction.atomic():
        message, _ = services.message_send(tenant=device.tenant, to=to, body=text)
    return message


def status_of(message: Message) -> str:
    return Message.objects.values_list("status", flat=True).get(pk=message.pk)


def database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """`manage.py db_worker` as a real process against the test database."""

    def __init__(self, *, batch: bool = False) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.1"]
        command += ["--no-startup-delay", "--verbosity", "2"]
        if batch:
            command.append("--batch")
        self.process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"db_worker did not finish:\n{self.output()}") from None


@pytest.mark.integration
@pytest.mark.parametrize("landed", [True, False], ids=["request-landed", "request-lost"])
def test_a_message_whose_worker_was_killed_mid_send_reaches_the_contact_exactly_once(
    paired_device, simulator, landed
):
    text = f"Booking confirmed {uuid.uuid4().hex[:8]}"
    simulator.configure(latency_ms=3000)  # the send is still in flight when the worker dies
    if not landed:
        # The gateway dies with the worker: the request in flight is never carried out.
        simulator.configure(failure_rate=1.0)
    message = queue(paired_device, text)
    first = Worker()
    try:
        wait_until(
            lambda: status_of(message) == MessageStatus.SENDING,
            timeout=30,
            message=f"the worker never claimed the message:\n{first.output()}",
        )
        time.sleep(0.3)  # the request is on the wire
        first.kill()
    finally:
        first.kill()
    assert status_of(message) == MessageStatus.SENDING
    # django-tasks-db leaves the killed task RUNNING forever: the row, not the queue, is the
    # record, and the scheduler is what rescues it.
    send_task = DBTaskResult.objects.get(args_kwargs__args=[str(message.pk)])
    assert send_task.status == "RUNNING"

    simulator.configure(latency_ms=0, failure_rate=0.0)
    Message.objects.filter(pk=message.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert services.messages_requeue_stale() == 1
    # The dead worker's request may have reached the gateway: never simply resent.
    assert status_of(message) == MessageStatus.UNCONFIRMED

    second = Worker(batch=True)
    assert second.wait(timeout=60) == 0, second.output()
    # Whatever is left (a second look at the history, 10 s after a first miss) runs when due.
    deadline = time.monotonic() + 30
    while status_of(message) == MessageStatus.UNCONFIRMED and time.monotonic() < deadline:
        due = Message.objects.get(pk=message.pk).next_attempt_at
        time.sleep(max(0.0, (due - timezone.now()).total_seconds()) + 0.05)
        services.message_deliver(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT, (message.last_error, second.output())
    assert message.lease_until is None
    assert services.messages_requeue_stale() == 0
    time.sleep(3.5)  # let any request still in flight on the simulator finish
    assert sends_seen_by(simulator, paired_device.session_name, text) == 1


@pytest.mark.integration
def test_it_keeps_messages_queued_while_the_gateway_is_down_and_sends_them_when_it_returns(
    paired_device, simulator
):
    text = f"Reminder {uuid.uuid4().hex[:8]}"
    message = queue(paired_device, text)
    simulator.stop()
    now = timezone.now()

    for attempt in (1, 2):
        assert services.message_deliver(message_id=message.pk, now=now) == MessageStatus.QUEUED
        message.refresh_from_db()
        assert message.status == MessageStatus.QUEUED
        assert message.attempts == attempt
        assert "could not be reached" in message.last_error
        assert message.next_attempt_at >= now
        assert message.lease_until is None
        # Not due yet: running its task early does not spend an attempt.
        services.message_deliver(message_id=message.pk, now=now - timedelta(seconds=1))
        assert Message.objects.get(pk=message.pk).attempts == attempt
        now = message.next_attempt_at + timedelta(seconds=1)
    # Each retry has its own trigger waiting for its time.
    triggers = DBTaskResult.objects.filter(args_kwargs__args=[str(message.pk)], status="READY")
    assert triggers.count() == 3

    # The gateway comes back (without its in-memory sessions: re-create and re-pair).
    simulator.restart()
    simulator.configure(webhooks_enabled=False, ack_delays=[])
    device = Device.objects.get(pk=paired_device.pk)
    services.device_restart(device=device)
    simulator.pair(device.session_name)

    assert services.message_deliver(message_id=message.pk, now=now) == MessageStatus.SENT
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (MessageStatus.SENT, 3, "")
    assert sends_seen_by(simulator, device.session_name, text) == 1


@pytest.mark.integration
def test_it_fails_a_number_that_is_not_on_whatsapp_once_with_the_reason(paired_device, simulator):
    simulator.configure(not_on_whatsapp=["6281299990000"])
    message = queue(paired_device, "Hello?", to="0812-9999-0000")
    tasks_before = DBTaskResult.objects.count()

    assert services.message_deliver(message_id=message.pk) == MessageStatus.FAILED

    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.attempts == 1
    assert "not on WhatsApp" in message.last_error
    # No retry storm: nothing re-enqueued, and neither the task nor the scheduler retries it.
    assert DBTaskResult.objects.count() == tasks_before
    later = timezone.now() + timedelta(hours=1)
    assert services.message_deliver(message_id=message.pk, now=later) == MessageStatus.FAILED
    assert services.messages_requeue_stale(now=later) == 0
    assert Message.objects.get(pk=message.pk).attempts == 1
