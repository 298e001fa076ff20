"""With REDIS_URL set, tasks go through RQ on Redis and a real `rqworker` runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from urllib.parse import quote

import pytest
from django.db import connection

from gateway_simulator.testing import PROJECT_ROOT
from whatsapp.models import EndpointProbe

pytestmark = pytest.mark.django_db(transaction=True)
REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_is_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def manage(*args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": REDIS_URL,
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def redis():
    if not redis_is_up():
        if os.environ.get("CI"):
            pytest.fail("Redis is not running on 127.0.0.1:6379 (CI starts it; see .ci/run)")
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    flushed = manage("shell", "-c", "import django_rq; django_rq.get_connection().flushdb()")
    assert flushed.returncode == 0, flushed.stderr
    yield


def test_it_runs_a_task_enqueued_on_redis_in_a_real_rqworker(redis):
    enqueued = manage(
        "shell",
        "-c",
        "from whatsapp.tasks import probe_endpoint; probe_endpoint.enqueue('Primary')",
    )
    assert enqueued.returncode == 0, enqueued.stderr
    assert not EndpointProbe.objects.exists()  # queued on Redis, not run yet

    worker = manage("rqworker", "--job-class", "django_tasks_rq.Job", "default", "--burst")

    assert worker.returncode == 0, worker.stderr
    probe = EndpointProbe.objects.get(endpoint_name="Primary")
    assert not probe.ok  # the canary endpoint does not exist: the probe ran and said so
    assert "canary" not in worker.stdout + worker.stderr
