"""Bounded database connections (issue 9, hole 9): a saturated database answers 503 with
Retry-After, never 500; on PostgreSQL a burst of 1,000 signed webhooks from 50 concurrent
clients (30% duplicates) against the threaded server `make run` uses, and against gunicorn,
gets no 5xx and stores exactly the unique messages."""

from __future__ import annotations

import logging
import os
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
from django.conf import settings
from django.db import OperationalError, connection

from gateway_simulator.testing import PROJECT_ROOT, free_port
from tenants.test import client_for
from whatsapp.models import Device, Message, TenantWhatsAppConfig, WebhookEvent
from whatsapp.tests.factories import make_device
from whatsapp.tests.support import waha_webhooks as waha
from whatsapp.tests.support.flood import (
    SECRET,
    Flood,
    message_envelope,
    process_concurrently,
)
from whatsapp.tests.support.waha_webhooks import url


@pytest.fixture
def no_error_logs(caplog):
    caplog.set_level(logging.WARNING)
    yield
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors


def busy(*args, **kwargs):
    raise OperationalError("couldn't get a connection after 10.00 sec")


@pytest.mark.django_db
def test_a_webhook_answers_503_with_retry_after_when_the_database_is_busy(
    cast, monkeypatch, no_error_logs
):
    TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")
    device = make_device(cast.tenant_a, "Front desk", secret=SECRET)
    monkeypatch.setattr("whatsapp.views.webhooks.webhook_ingest", busy)
    body = waha.encode(waha.inbound_message(device.session_name))

    response = client_for(enforce_csrf=True).post(
        url(device),
        body,
        content_type="application/json",
        headers=waha.signed_headers(body, SECRET),
    )

    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "database_busy"


@pytest.mark.django_db
def test_the_api_answers_503_with_retry_after_when_the_database_is_busy(
    cast, monkeypatch, no_error_logs
):
    monkeypatch.setattr("whatsapp.api.devices.acting_tenant", busy)

    response = client_for(cast.alice, cast.host_a).get("/api/whatsapp/devices")

    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "database_busy"


@pytest.mark.django_db
def test_a_page_answers_503_with_retry_after_when_the_database_is_busy(
    cast, monkeypatch, no_error_logs
):
    monkeypatch.setattr("whatsapp.views.tenant_inbox.selectors.inbox_page", busy)

    response = client_for(cast.alice, cast.host_a).get("/admin/whatsapp/conversations/")

    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert "try again in a few seconds" in response.content.decode()


def test_postgresql_uses_a_bounded_pool_per_process():
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("SQLite has no connection pool")
    pool = settings.DATABASES["default"]["OPTIONS"]["pool"]
    assert 1 <= pool["max_size"] <= 20 and pool["timeout"] > 0
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] == 0


def _raw_connection():
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db["PASSWORD"],
        dbname=db["NAME"],
        autocommit=True,
    )


# -- a burst against live servers on PostgreSQL ------------------------------------------------

BURST_CLIENTS = 50
BURST_DELIVERIES = 1000
BURST_UNIQUE = 700  # + 300 duplicate deliveries (30%)

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (the pool is PostgreSQL's)"
)


def burst_deliveries(session: str, rng: random.Random) -> list[bytes]:
    contacts = [f"6281300{i:06d}" for i in range(40)]
    unique = [
        message_envelope(session, f"3EB1{n:08X}{rng.getrandbits(32):08X}", contacts[n % 40], n)
        for n in range(BURST_UNIQUE)
    ]
    deliveries = unique + rng.choices(unique, k=BURST_DELIVERIES - BURST_UNIQUE)
    rng.shuffle(deliveries)
    return deliveries


SERVERS = {
    # what `make run` serves (scripts/run_demo.sh): Django's threaded development server
    "runserver": ["manage.py", "runserver", "--noreload", "127.0.0.1:{port}"],
    # what Procfile serves in production
    "gunicorn": ["-m", "gunicorn", "booqing.wsgi:application", "--bind", "127.0.0.1:{port}",
                 "--workers", "2", "--threads", "8", "--log-level", "warning"],
}  # fmt: skip


SERVER_APP_NAME = "booqing-test-server"


def start_server(kind: str, port: int) -> subprocess.Popen:
    """The server as a separate process on the test database, each with its own pools."""
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "DJANGO_DEBUG": "false",
        "DJANGO_HTTPS": "false",
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "TESTING": "true",
        # libpq names the server's connections, so a test can find them in pg_stat_activity.
        "PGAPPNAME": SERVER_APP_NAME,
    }
    args = [sys.executable, *(a.format(port=port) for a in SERVERS[kind])]
    process = subprocess.Popen(
        args, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise AssertionError(f"{kind} did not start")


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_server_replaces_pooled_connections_the_database_closed_while_idle(request):
    """A PostgreSQL restart or failover closes every idle connection: the next requests are
    served on fresh ones, not answered 503."""
    port = free_port()
    process = start_server("gunicorn", port)
    request.addfinalizer(process.kill)
    ready = f"http://127.0.0.1:{port}/readyz"
    platform = {"Host": "localhost"}
    for _ in range(10):
        assert requests.get(ready, headers=platform, timeout=10).status_code == 200

    killer = _raw_connection()
    try:
        killed = killer.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [SERVER_APP_NAME],
        ).fetchone()[0]
    finally:
        killer.close()
    assert killed >= 1
    time.sleep(0.2)

    statuses = [requests.get(ready, headers=platform, timeout=10).status_code for _ in range(10)]
    assert statuses == [200] * 10


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("server", list(SERVERS))
def test_a_burst_of_webhooks_gets_no_5xx_and_stores_every_unique_message_once(
    cast, request, server
):
    TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")
    device = make_device(cast.tenant_a, "Front desk", secret=SECRET)
    Device.objects.filter(pk=device.pk).update(session_name="bq-acme-burst")
    deliveries = burst_deliveries("bq-acme-burst", random.Random(server))
    port = free_port()
    process = start_server(server, port)
    request.addfinalizer(process.kill)
    base = f"http://127.0.0.1:{port}"
    flood = Flood(f"{base}/api/whatsapp/webhooks/{device.webhook_id}")
    barrier = threading.Barrier(BURST_CLIENTS)

    def client(index: int) -> None:
        barrier.wait(timeout=30)  # all 50 clients start together
        for body in deliveries[index::BURST_CLIENTS]:
            flood.post(body)

    with ThreadPoolExecutor(BURST_CLIENTS) as pool:
        list(pool.map(client, range(BURST_CLIENTS)))

    assert sum(flood.statuses.values()) == BURST_DELIVERIES
    assert not [s for s in flood.statuses if s >= 500], flood.statuses
    assert flood.statuses == {200: BURST_DELIVERIES}
    process_concurrently()
    assert WebhookEvent.objects.exclude(status=WebhookEvent.Status.PROCESSED).count() == 0
    inbound = Message.objects.filter(direction=Message.Direction.INBOUND)
    assert inbound.count() == BURST_UNIQUE
    assert inbound.values("gateway_message_id").distinct().count() == BURST_UNIQUE
