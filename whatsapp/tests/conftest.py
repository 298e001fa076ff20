"""Fixtures for tests that talk to a live gateway simulator process and a live Django server."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from io import StringIO
from pathlib import Path

import pytest

from gateway_simulator.testing import start_simulator_process
from gateway_simulator.testing import wait_until as wait_until  # the product's tests import it here
from whatsapp.security import RedactSecretsFilter

SIM_KEY = "canary-SIMULATOR-key-5d1e0c7b9a2f4e63"


def sim_endpoints(*sims, name_prefix: str = "Sim") -> str:
    entries = [
        {"name": f"{name_prefix}{'' if i == 0 else i + 1}", "apiUrl": s.url, "apiKey": s.api_key}
        for i, s in enumerate(sims)
    ]
    return json.dumps(entries)


@pytest.fixture
def console_output():
    """What the console handler from settings.LOGGING (redaction filter and all) writes."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler)
        and any(isinstance(f, RedactSecretsFilter) for f in h.filters)
    )
    stream = StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


@pytest.fixture
def simulator(monkeypatch):
    """A WAHA-compatible simulator in its own process, configured as endpoint "Sim"."""
    sim = start_simulator_process(api_key=SIM_KEY, start_delay=0.05, ack_delays=[0.1, 0.2, 0.3])
    monkeypatch.setenv("WHATSAPP_ENDPOINTS", sim_endpoints(sim))
    yield sim
    sim.stop()


@pytest.fixture
def webhooks_to_live_server(live_server, settings):
    """Gateways post webhooks to the live test server."""
    settings.WHATSAPP_WEBHOOK_BASE_URL = live_server.url
    return live_server


# --- Browser tests (Playwright driving real Chromium) ----------------------------------------
# Playwright's sync API runs an event loop in the test thread; the ORM calls a test makes around
# it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
# The README's screenshots are refreshed with `UPDATE_SCREENSHOTS=1 make test`; an ordinary run
# writes them to a scratch folder so it never dirties the working tree.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "booqing-screenshots"
)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    args = {
        **browser_type_launch_args,
        "args": [
            "--no-sandbox",
            "--disable-background-networking",
            "--disable-gpu",
            "--disable-dev-shm-usage",
        ],
    }
    if DEBIAN_CHROMIUM.exists():
        args["executable_path"] = str(DEBIAN_CHROMIUM)
    return args


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # The existing browser tests read English texts; Indonesian visitors get their own tests.
    return {**browser_context_args, "locale": "en-US"}


@pytest.fixture
def background_scheduler():
    """The scheduler's webhook step in a thread, as `whatsapp_scheduler` runs it in production."""
    from django.db import close_old_connections

    from whatsapp.services.webhooks import webhook_events_process_due

    stop = threading.Event()

    def loop():
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a busy database: try again next tick
                webhook_events_process_due()
            stop.wait(0.2)
        close_old_connections()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=5)


def login(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
