"""manage.py whatsapp_scheduler [--once]: the loop that does periodic work (safe to run several).

Two loops share the process: a fast one (webhook events, stale messages) that must never wait
for a slow gateway, and a slow one (health probes, reconnects, pruning). Every step claims its
rows atomically, so several schedulers never do the same work twice.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection
from django.utils import timezone

from core.request_context import request_context
from whatsapp.services.devices import devices_reconnect_due
from whatsapp.services.events import event_deliveries_enqueue_due, event_deliveries_prune
from whatsapp.services.health import health_sweep, probes_prune
from whatsapp.services.messages import messages_requeue_stale
from whatsapp.services.silence import devices_check_silent
from whatsapp.services.webhooks import webhook_events_process_due, webhook_events_prune

logger = logging.getLogger(__name__)


@dataclass
class Step:
    name: str
    run: Callable[[], object]
    every: float
    last_run: float = field(default=-1e18)

    def due(self, clock: float) -> bool:
        return clock - self.last_run >= self.every


def fast_steps() -> list[Step]:
    return [
        Step("webhook_events", lambda: webhook_events_process_due(limit=200), every=0.0),
        Step("stale_messages", messages_requeue_stale, every=5.0),
        Step("event_deliveries", event_deliveries_enqueue_due, every=5.0),
    ]


def slow_steps(concurrency: int) -> list[Step]:
    return [
        Step("health_sweep", lambda: health_sweep(concurrency=concurrency), every=1.0),
        Step("reconnect", devices_reconnect_due, every=2.0),
        Step("silent_devices", devices_check_silent, every=60.0),
        Step("prune_probes", probes_prune, every=3600.0),
        Step("prune_webhook_events", webhook_events_prune, every=3600.0),
        Step("prune_event_deliveries", event_deliveries_prune, every=3600.0),
    ]


def run_steps(steps: list[Step]) -> bool:
    """Run every due step once. A step that raises is logged and retried next time: one bad row
    (or an unreachable gateway) never wedges the loop. Returns True if any step did work."""
    did_work = False
    clock = time.monotonic()
    for step in steps:
        if not step.due(clock):
            continue
        step.last_run = clock
        if not connection.in_atomic_block:  # inside a transaction (tests) the link must stay
            close_old_connections()
        try:
            # Each step run gets its own id: its gateway calls and the tasks it enqueues share it.
            rid = f"sched-{step.name.replace(' ', '-')[:30]}-{uuid.uuid4().hex[:12]}"
            with request_context(rid):
                result = step.run()
        except Exception:
            logger.exception("scheduler step failed step=%s", step.name)
            continue
        did_work = did_work or bool(result)
    return did_work


class Command(BaseCommand):
    help = "Process webhooks, re-queue stale messages, probe endpoints and reconnect devices."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run every step once and exit.")
        parser.add_argument(
            "--concurrency", type=int, default=8, help="Endpoints probed at the same time."
        )
        parser.add_argument(
            "--idle-sleep", type=float, default=0.5, help="Seconds to wait when there was no work."
        )

    def handle(self, *args, once: bool, concurrency: int, idle_sleep: float, **options):
        fast, slow = fast_steps(), slow_steps(concurrency)
        if once:
            run_steps(slow)
            while run_steps(fast[:1]):  # drain the webhook queue
                pass
            run_steps(fast[1:])
            return
        self.stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
        self.stdout.write(f"whatsapp_scheduler started at {timezone.now():%H:%M:%S}")
        slow_thread = threading.Thread(
            target=self._loop, args=(slow, 1.0), name="scheduler-slow", daemon=True
        )
        slow_thread.start()
        self._loop(fast, idle_sleep)
        slow_thread.join(timeout=10)
        self.stdout.write("whatsapp_scheduler stopped")

    def _loop(self, steps: list[Step], idle_sleep: float) -> None:
        while not self.stop.is_set():
            if not run_steps(steps):
                self.stop.wait(idle_sleep)
        close_old_connections()
