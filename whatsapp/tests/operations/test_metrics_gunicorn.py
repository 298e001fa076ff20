"""/metrics through two gunicorn workers: whichever worker answers, it reports every worker's
requests (prometheus-client multiprocess mode via gunicorn.conf.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from gateway_simulator.testing import free_port

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "metrics-token-gunicorn"
GUNICORN = (
    sys.executable,
    "-m",
    "gunicorn",
    "booqing.wsgi",
    "--workers",
    "2",
    "--log-level",
    "warning",
)
# This test process's own metrics directory (and its owner mark) must not leak into gunicorn.
SCRUB = ("DJANGO_SETTINGS_MODULE", "TESTING", "BOOQING_METRICS_DIR_OWNER")
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

pytestmark = pytest.mark.django_db(transaction=True)


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": "localhost", **(headers or {})})
    with _OPENER.open(request, timeout=10) as response:
        return response.status, response.read().decode()


def _healthz_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "booqing_http_request_duration_seconds_count"
                and sample.labels.get("route") == "healthz"
            ):
                return sample.value
    return 0.0


@pytest.fixture
def two_workers(tmp_path):
    # A transactional test: gunicorn's workers read the rows this test's database commits.
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    env = {
        **{k: v for k, v in os.environ.items() if k not in SCRUB},
        "DATABASE_URL": _database_url(),
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "BASE_DOMAIN": "localhost",
        "DJANGO_DEBUG": "false",
    }
    env.pop("ALLOWED_HOSTS", None)
    metrics_dir.mkdir()
    proc = subprocess.Popen(
        [*GUNICORN, "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "gunicorn.log", "wb"),  # noqa: SIM115
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            _get(f"{base}/healthz")
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError((tmp_path / "gunicorn.log").read_text()) from None
            time.sleep(0.1)
    try:
        yield base, metrics_dir
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)


def test_every_worker_reports_the_requests_of_both(two_workers):
    base, metrics_dir = two_workers
    sent = 1  # the readiness check above
    with ThreadPoolExecutor(max_workers=8) as pool:
        # Until both workers have answered some (the kernel picks who accepts), within bounds.
        for _ in range(20):
            statuses = list(pool.map(lambda _: _get(f"{base}/healthz")[0], range(16)))
            assert statuses == [200] * 16
            sent += 16
            writers = {p.name.rsplit("_", 1)[1] for p in metrics_dir.glob("histogram_*.db")}
            if len(writers) >= 2:
                break
    assert len(writers) == 2, "both workers should have served requests"

    auth = {"Authorization": f"Bearer {TOKEN}"}
    counts = {_healthz_count(_get(f"{base}/metrics", auth)[1]) for _ in range(6)}
    assert counts == {float(sent)}
