"""Fixtures shared by the whatsapp tests: a live simulator and server, console log, scheduler,
the booking app's API client and its events listener."""

from __future__ import annotations

import contextlib
import logging
import threading
from io import StringIO

import pytest
import responses

from gateway_simulator.testing import start_simulator_process
from whatsapp.models import TokenScope
from whatsapp.security import RedactSecretsFilter
from whatsapp.tests.factories import make_token
from whatsapp.tests.support.api import bearer
from whatsapp.tests.support.listener import Listener
from whatsapp.tests.support.live import SIM_KEY, sim_endpoints


@pytest.fixture
def rsps(request):
    """HTTP to the gateways mocked at the requests seam; every mocked answer must be asked for.

    A module or test relaxes that with `@pytest.mark.responses(assert_all_requests_are_fired=False)`
    (the marker's keywords go to `responses.RequestsMock`).
    """
    marker = request.node.get_closest_marker("responses")
    with responses.RequestsMock(**(marker.kwargs if marker else {})) as mock:
        yield mock


@pytest.fixture
def gateway():
    """The gateway behind endpoint "Primary", mocked over HTTP; a test mocks only what it needs."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def api(cast):
    """The booking app calling the tenant API with tenant A's token (messages scope only)."""
    return bearer(make_token(cast.tenant_a, scopes=(TokenScope.MESSAGES,)))


@pytest.fixture
def listener():
    """A real HTTP listener for events (test_alerts and test_quiet_hours mean an EventEndpoint)."""
    server = Listener()
    yield server
    server.stop()


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
