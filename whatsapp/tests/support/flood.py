"""A webhook flood: many keep-alive clients posting signed WAHA deliveries, and several
processors draining the queue at once (the reliability and connection-pool tests share it)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests
from django.db import connections

from whatsapp import services
from whatsapp.tests.support import waha_webhooks as waha

SECRET = "flood-device-secret"
CLIENTS = 20


def message_envelope(session: str, message_id: str, contact: str, n: int) -> bytes:
    return waha.encode(
        waha.inbound_message(
            session,
            contact=contact,
            text=f"flood message {n}",
            message_id=message_id,
            push_name=f"Contact {contact[-4:]}",
        )
    )


def signed(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", **waha.signed_headers(body, SECRET)}


class Flood:
    """20 clients, each with its own keep-alive requests.Session, posting to the live server."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.local = threading.local()
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()

    def post(self, body: bytes, barrier: threading.Barrier | None = None) -> None:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
            session.trust_env = False  # never through a proxy from the environment
        if barrier is not None:
            barrier.wait(timeout=30)
        try:
            status = session.post(self.url, data=body, headers=signed(body), timeout=30).status_code
        except requests.RequestException:
            status = 599  # a dropped connection counts as a server failure
        with self.lock:
            self.statuses[status] += 1

    def shuffled(self, groups: list[list[bytes]], rng: random.Random) -> None:
        deliveries = [body for group in groups for body in group]
        rng.shuffle(deliveries)
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(self.post, deliveries))

    def burst(self, groups: list[list[bytes]], rng: random.Random) -> None:
        # Every copy of an event is released at once by a barrier, so they race on the insert.
        # Copies are queued next to each other; the pool has more threads than any group, so
        # every group's copies are running together and no barrier waits forever.
        groups = list(groups)
        rng.shuffle(groups)
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = []
            for group in groups:
                barrier = threading.Barrier(len(group)) if len(group) > 1 else None
                futures += [pool.submit(self.post, body, barrier) for body in group]
            for future in futures:
                future.result()


def process_concurrently(processors: int = 4) -> None:
    """Drain the webhook queue with several processors at once, as several schedulers would."""

    def drain() -> None:
        try:
            idle = 0
            while idle < 3:
                if services.webhook_events_process_due(limit=50):
                    idle = 0
                else:
                    idle += 1
                    time.sleep(0.05)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=drain) for _ in range(processors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)
