"""The outbound-send benchmarks' shared parts (send_throughput.py, reminder_blast.py): db_worker
processes draining the queue, the plain POST /api/sendText baseline, and the steady rate."""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from gateway_simulator.testing import SimulatorProcess, start_simulator_process

from . import PY
from .db import db_create, db_drop
from .processes import Proc
from .project import bench_env, django_close, django_setup, migrate
from .pyspy import Spy


@contextmanager
def simulator_and_database(
    args: argparse.Namespace, logdir: Path, *, api_key: str, **env: str
) -> Iterator[tuple[SimulatorProcess, dict]]:
    """A WAHA simulator process (acks and webhooks off) as endpoint 'Bench', and a fresh migrated
    database (args.pg, args.db_name) with Django set up on it; (simulator, product environment).
    Both are torn down afterwards, the database kept with args.keep."""
    sim = None
    try:
        sim = start_simulator_process(api_key=api_key, ack_delays=[], webhooks_enabled=False)
        endpoints = [{"name": "Bench", "apiUrl": sim.url, "apiKey": api_key}]
        url = db_create(args.pg, args.db_name)
        product_env = bench_env(url, WHATSAPP_ENDPOINTS=json.dumps(endpoints), **env)
        migrate(product_env, logdir)
        django_setup(product_env)
        yield sim, product_env
    finally:
        if sim is not None:
            sim.stop()
        django_close()
        if not args.keep:
            db_drop(args.pg, args.db_name)


def steady_rate(times: list[float], warmup: int) -> tuple[float, float]:
    """(messages/s, seconds) over the completions after the warm-up ones."""
    times = sorted(times)
    measured = len(times) - warmup
    seconds = times[-1] - times[warmup - 1]
    return measured / seconds, seconds


def drain_with_workers(
    env: dict,
    logdir: Path,
    *,
    workers: int,
    total: int,
    timeout: float,
    poll: float,
    py_spy: str | None = None,
) -> tuple[int, float]:
    """Start `workers` `manage.py db_worker` processes and wait until `total` messages are sent,
    one has failed, or `timeout` passes; (messages sent, wall seconds from worker start).

    The workers (and py-spy, if asked for) are stopped whatever happens. Needs django_setup().
    """
    # Django is set up only once the benchmark has created and migrated its database.
    from django.db.models import Count

    from whatsapp.models import Message, MessageStatus

    procs: list[Proc] = []
    spies: list[Spy] = []
    try:
        started = time.perf_counter()
        for n in range(workers):
            procs.append(Proc(f"db_worker-{n}", [PY, "manage.py", "db_worker"], env, logdir))
        if py_spy:
            spies = [Spy(p.pid, Path(py_spy) / f"{p.name}.txt", idle=True) for p in procs]
        deadline = started + timeout
        sent = 0
        while time.perf_counter() < deadline:
            counts = dict(Message.objects.values_list("status").annotate(n=Count("id")).order_by())
            sent = counts.get(MessageStatus.SENT, 0)
            if sent >= total or counts.get(MessageStatus.FAILED):
                break
            for proc in procs:
                if not proc.alive():
                    raise SystemExit(f"{proc.name} died:\n{proc.output()}")
            time.sleep(poll)  # the timing comes from sent_at, not from this poll
        wall = time.perf_counter() - started
    finally:
        for spy in spies:
            spy.stop()
        for proc in procs:
            proc.stop()
    return sent, wall


def sendtext_baseline(
    sim_url: str, api_key: str, payload: Callable[[int], dict], *, total: int, threads: int
) -> tuple[list[float], float]:
    """`total` plain POST /api/sendText calls (body `payload(n)`) from `threads` threads with a
    pooled requests.Session each; (completion times, wall seconds). Anything but 201 stops."""
    lock = threading.Lock()
    cursor = iter(range(total))
    done: list[float] = []
    statuses: Counter[int] = Counter()

    def worker() -> None:
        with requests.Session() as http:
            http.trust_env = False
            while True:
                with lock:
                    n = next(cursor, None)
                if n is None:
                    return
                response = http.post(
                    sim_url + "/api/sendText",
                    json=payload(n),
                    headers={"Accept": "application/json", "X-Api-Key": api_key},
                    timeout=30,
                )
                response.json()
                with lock:
                    done.append(time.perf_counter())
                    statuses[response.status_code] += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - started
    if set(statuses) != {201}:
        raise SystemExit(f"baseline sends failed: {dict(statuses)}")
    return done, wall
