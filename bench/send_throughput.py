"""Benchmark: messages sent per second through real `manage.py db_worker` processes vs a plain
loop of the same HTTP calls, against the WAHA simulator at 50 ms latency.

    .venv/bin/python bench/send_throughput.py [--workers 2] [--messages 300] [--warmup 20]

Set-up: a simulator process (start_simulator_process; acks and webhooks off, latency 50 ms on
/api/*), a fresh PostgreSQL database, one tenant with one paired device. The device's
min_send_gap_ms is set to 0 for this benchmark: pacing is a product feature that deliberately
slows sends down, and it is not what is measured here.

Product: warm-up + measured messages are queued with services.message_send (row + django-tasks
task, as the API does), then --workers `manage.py db_worker` processes start and send them
(POST /api/sendText). Throughput = measured messages / (sent_at of the last one - sent_at of
the last warm-up one), so process start-up and the first poll are not counted.
Baseline: the same number of POST /api/sendText calls (same body and headers) from --workers
threads with a pooled requests.Session each, timed the same way (completion times), run once
before and once after the product; their mean counts.
Target (issue 4): product / baseline >= 0.6 with 2 workers.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from harness.outbound import (
    drain_with_workers,
    sendtext_baseline,
    simulator_and_database,
    steady_rate,
)
from harness.pyspy import summarise
from harness.run import common_args, load_line, log, machine_line, run_dir, write_json
from harness.stats import verdict

TARGET = 0.6
DB_NAME = "bench_send_throughput"
API_KEY = "bench-send-key"
CONTACTS = [f"+62811000{n:05d}" for n in range(1, 11)]
BODY = "Reminder: your appointment at Bench Salon is tomorrow at 10:00. Reply YES to confirm."


STARTUP = "process start-up and shutdown (outside the timed window)"
WORKER_RULES = [
    (
        "gateway call: WahaGateway.send_text (HTTP incl. the simulated latency)",
        "WahaGateway.send_text",
    ),
    ("message_deliver: its database work (config, claim, reload, mark sent)", "message_deliver ("),
    ("django-tasks-db: run_task bookkeeping (set_successful, signals)", "Worker.run_task"),
    ("django-tasks-db: poll, lock and claim the next task", "Worker.run ("),
]
WORKER_CROSS = [("waiting on PostgreSQL (psycopg Connection.wait)", "Connection.wait (psycopg/")]


def seed(sim) -> dict:
    from django.contrib.auth import get_user_model
    from django_tasks_db.models import DBTaskResult

    from tenants.models import Tenant
    from whatsapp import services
    from whatsapp.models import Device, DeviceStatus

    admin = get_user_model().objects.create_superuser("bench-admin", "bench@example.com", None)
    tenant = Tenant.objects.create(name="Bench Salon", subdomain="bench")
    services.endpoint_assign(tenant=tenant, endpoint_name="Bench", actor=admin)
    device = services.device_create(tenant=tenant, name="Front desk", actor=admin)
    sim.pair(device.session_name)
    device = services.device_refresh_status(device=device)
    if device.status != DeviceStatus.CONNECTED:
        raise SystemExit(f"device did not connect: {device.status} {device.status_detail}")
    # Pacing off: see the module docstring.
    Device.objects.filter(pk=device.pk).update(min_send_gap_ms=0, daily_send_cap=None)
    # Only send tasks in the queue (endpoint_assign enqueued a first health probe).
    DBTaskResult.objects.all().delete()
    return {"tenant": tenant, "session": device.session_name}


def queue_messages(tenant, count: int) -> float:
    from whatsapp import services

    started = time.perf_counter()
    for n in range(count):
        services.message_send(tenant=tenant, to=CONTACTS[n % len(CONTACTS)], body=BODY)
    return time.perf_counter() - started


def baseline(sim_url: str, session: str, total: int, threads: int, warmup: int) -> dict:
    """The same POST /api/sendText calls from `threads` threads, nothing else."""

    def payload(n: int) -> dict:
        chat = f"{CONTACTS[n % len(CONTACTS)].lstrip('+')}@c.us"
        return {"session": session, "chatId": chat, "text": BODY}

    done, wall = sendtext_baseline(sim_url, API_KEY, payload, total=total, threads=threads)
    rate, seconds = steady_rate(done, warmup)
    return {"rate": rate, "seconds": seconds, "wall": wall, "messages": total - warmup}


def product(env, logdir, tenant, args) -> dict:

    from whatsapp.models import Message, MessageStatus

    total = args.warmup + args.messages
    queue_s = queue_messages(tenant, total)
    log(f"queued {total} messages (rows + tasks) in {queue_s:.2f}s")
    sent, wall = drain_with_workers(
        env,
        logdir,
        workers=args.workers,
        total=total,
        timeout=args.timeout,
        poll=0.2,
        py_spy=args.py_spy,
    )
    if sent < total:
        problems = list(
            Message.objects.exclude(status=MessageStatus.SENT).values_list(
                "status", "attempts", "last_error"
            )[:5]
        )
        raise SystemExit(f"only {sent}/{total} sent within {args.timeout}s; e.g. {problems}")
    times = [
        t.timestamp()
        for t in Message.objects.filter(status=MessageStatus.SENT).values_list("sent_at", flat=True)
    ]
    rate, seconds = steady_rate(times, args.warmup)
    attempts = Counter(Message.objects.values_list("attempts", flat=True))
    return {
        "rate": rate,
        "seconds": seconds,
        "wall_from_worker_start": wall,
        "messages": args.messages,
        "queue_seconds": queue_s,
        "attempts": dict(attempts),
        "per_worker": worker_spread(),
    }


def worker_spread() -> dict[str, int]:
    from django_tasks_db.models import DBTaskResult

    spread: Counter[str] = Counter()
    for ids in DBTaskResult.objects.values_list("worker_ids", flat=True):
        for worker_id in ids or ["?"]:
            spread[worker_id] += 1
    return dict(spread)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_args(parser)
    parser.add_argument("--workers", type=int, default=2, help="db_worker processes (and threads)")
    parser.add_argument("--messages", type=int, default=300, help="measured messages")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up messages (not timed)")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=90, help="give up after this long")
    parser.add_argument(
        "--db-name",
        default=DB_NAME,
        help="scratch database (default: %(default)s); use your "
        "own when several people benchmark on one server",
    )
    args = parser.parse_args()
    total = args.warmup + args.messages

    print(__doc__.split("\n\n")[0])
    print(machine_line())

    results: dict = {"bench": "send_throughput", "target": TARGET, "args": vars(args)}
    with (
        run_dir("send", args.keep) as logdir,
        simulator_and_database(args, logdir, api_key=API_KEY) as (sim, env),
    ):
        data = seed(sim)
        sim.configure(latency_ms=args.latency_ms)
        log(
            f"simulator at {sim.url}, latency {args.latency_ms} ms, acks and webhooks off; "
            f"device paired, min_send_gap_ms=0"
        )
        base1 = baseline(sim.url, data["session"], total, args.workers, args.warmup)
        log(f"baseline (before): {base1['rate']:.1f} msg/s over {base1['seconds']:.2f}s")
        prod = product(env, logdir, data["tenant"], args)
        log(f"product: {prod['rate']:.1f} msg/s over {prod['seconds']:.2f}s")
        base2 = baseline(sim.url, data["session"], total, args.workers, args.warmup)
        log(f"baseline (after): {base2['rate']:.1f} msg/s over {base2['seconds']:.2f}s")

    base_rate = (base1["rate"] + base2["rate"]) / 2
    ratio = prod["rate"] / base_rate
    mark = verdict(ratio, TARGET)
    ideal = args.workers / (args.latency_ms / 1000)
    print()
    print(f"RESULTS ({args.messages} measured messages after {args.warmup} warm-up ones)")
    print(
        f"  baseline, {args.workers} threads of POST /api/sendText: {base1['rate']:.1f} and "
        f"{base2['rate']:.1f} msg/s (before/after) -> {base_rate:.1f} msg/s "
        f"(latency-only ceiling {ideal:.0f} msg/s)"
    )
    print(
        f"  product, {args.workers} db_worker processes: {prod['rate']:.1f} msg/s "
        f"({args.messages} in {prod['seconds']:.2f}s; all {total} sent "
        f"{prod['wall_from_worker_start']:.2f}s after the workers started)"
    )
    print(
        f"  time per message per worker: product {args.workers / prod['rate'] * 1000:.1f} ms, "
        f"baseline {args.workers / base_rate * 1000:.1f} ms"
    )
    print(f"  attempts per message: {prod['attempts']}; tasks per worker: {prod['per_worker']}")
    print(f"  ratio {ratio:.2f}  target >= {TARGET}  {mark}")
    print(load_line())
    if args.py_spy:
        print()
        print("Where a db_worker's time goes (py-spy, wall clock incl. waits on sockets):")
        for n in range(args.workers):
            path = Path(args.py_spy) / f"db_worker-{n}.txt"
            for line in summarise(path, WORKER_RULES, cross=WORKER_CROSS, other=STARTUP):
                print("  " + line)
    results.update(baseline=[base1, base2], product=prod, ratio=ratio, verdict=mark)
    write_json(args.json, results)
    return 1 if args.strict and mark == "MISS" else 0


if __name__ == "__main__":
    sys.exit(main())
