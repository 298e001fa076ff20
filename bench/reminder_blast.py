"""Benchmark: 10,000 reminders scheduled for the same minute across 100 devices (pacing off) are
all sent, none twice; messages/s through `manage.py db_worker` processes as a ratio to a plain
loop of the same gateway calls in the same run.

    .venv/bin/python bench/reminder_blast.py [--workers 2] [--messages 10000] [--devices 100]

Set-up: a simulator process (acks and webhooks off, --latency-ms on /api/*), a fresh PostgreSQL
database, one tenant with --devices paired devices (min_send_gap_ms=0, no daily cap: pacing is a
product feature that slows sends on purpose, not what is measured).
Product: every reminder is queued with services.message_send(send_at=<a minute an hour ahead>),
as the API does (row `scheduled` + a task with run_after). Then the clock "reaches" that minute:
the rows' next_attempt_at and the tasks' run_after are moved to now in one UPDATE each (what
waiting an hour would do, without waiting). --workers db_worker processes start and send them.
Throughput = measured messages / (sent_at of the last - sent_at of the last warm-up one).
Checks: every message `sent` with exactly one attempt, every gateway id distinct (none twice).
Baseline: the same POST /api/sendText calls (same sessions, chats, body) from --workers threads
with a pooled requests.Session each, timed the same way, once after the product.
Target (issue 12): product / baseline >= 0.6.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import timedelta

from harness.outbound import (
    drain_with_workers,
    sendtext_baseline,
    simulator_and_database,
    steady_rate,
)
from harness.run import common_args, load_line, log, machine_line, run_dir, write_json
from harness.stats import verdict

TARGET = 0.6
DB_NAME = "bench_reminder_blast"
API_KEY = "bench-blast-key"
BODY = "Pengingat: janji Anda di Bench Salon besok pukul 10:00. Balas YA untuk konfirmasi."


def contact(n: int) -> str:
    return f"+62812{n:07d}"


def seed(sim, devices: int) -> dict:
    from django.contrib.auth import get_user_model
    from django_tasks_db.models import DBTaskResult

    from tenants.models import Tenant
    from whatsapp import services
    from whatsapp.models import Device, DeviceStatus

    admin = get_user_model().objects.create_superuser("bench-admin", "bench@example.com", None)
    tenant = Tenant.objects.create(name="Bench Salon", subdomain="bench")
    services.endpoint_assign(tenant=tenant, endpoint_name="Bench", actor=admin)
    rows = []
    for n in range(devices):
        device = services.device_create(tenant=tenant, name=f"Desk {n:03d}", actor=admin)
        sim.pair(device.session_name)
        device = services.device_refresh_status(device=device)
        if device.status != DeviceStatus.CONNECTED:
            raise SystemExit(f"device {n} did not connect: {device.status}")
        rows.append(device)
    Device.objects.filter(tenant=tenant).update(min_send_gap_ms=0, daily_send_cap=None)
    DBTaskResult.objects.all().delete()  # only send tasks in the queue
    return {"tenant": tenant, "devices": rows}


def schedule(tenant, devices, count: int) -> tuple[float, object]:
    from django.utils import timezone

    from whatsapp import services

    minute = (timezone.now() + timedelta(hours=1)).replace(second=0, microsecond=0)
    started = time.perf_counter()
    for n in range(count):
        services.message_send(
            tenant=tenant,
            to=contact(n),
            body=BODY,
            device_id=devices[n % len(devices)].pk,
            send_at=minute,
            idempotency_key=f"reminder-{n}",
        )
    return time.perf_counter() - started, minute


def the_minute_arrives(minute) -> int:
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from whatsapp.models import Message, MessageStatus

    now = timezone.now()
    moved = Message.objects.filter(status=MessageStatus.SCHEDULED, next_attempt_at=minute).update(
        next_attempt_at=now, send_at=now
    )
    DBTaskResult.objects.filter(run_after=minute).update(run_after=now)
    return moved


def product(env, logdir, args) -> dict:

    from whatsapp.models import Message, MessageStatus

    total = args.messages
    sent, wall = drain_with_workers(
        env, logdir, workers=args.workers, total=total, timeout=args.timeout, poll=0.5
    )
    if sent < total:
        left = Counter(
            Message.objects.exclude(status=MessageStatus.SENT).values_list("status", flat=True)
        )
        raise SystemExit(f"only {sent}/{total} sent within {args.timeout}s; others: {dict(left)}")
    rows = list(Message.objects.values_list("sent_at", "attempts", "gateway_message_id"))
    attempts = Counter(a for _, a, _ in rows)
    ids = Counter(g for _, _, g in rows)
    twice = sum(1 for g, c in ids.items() if c > 1 or not g)
    rate, seconds = steady_rate([s.timestamp() for s, _, _ in rows], args.warmup)
    return {
        "rate": rate,
        "seconds": seconds,
        "wall_from_worker_start": wall,
        "attempts": dict(attempts),
        "duplicate_or_missing_gateway_ids": twice,
    }


def baseline(sim_url: str, sessions: list[str], total: int, threads: int, warmup: int) -> dict:
    def payload(n: int) -> dict:
        chat = f"{contact(n).lstrip('+')}@c.us"
        return {"session": sessions[n % len(sessions)], "chatId": chat, "text": BODY}

    done, _ = sendtext_baseline(sim_url, API_KEY, payload, total=total, threads=threads)
    rate, seconds = steady_rate(done, warmup)
    return {"rate": rate, "seconds": seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_args(parser)
    parser.add_argument("--workers", type=int, default=2, help="db_worker processes (and threads)")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=50, help="first sends not timed")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--db-name", default=DB_NAME, help="scratch database (%(default)s)")
    args = parser.parse_args()

    print(__doc__.split("\n\n")[0])
    print(machine_line())

    results: dict = {"bench": "reminder_blast", "target": TARGET, "args": vars(args)}
    setup = {"WHATSAPP_MAX_DEVICES_PER_TENANT": str(max(args.devices, 10))}
    with (
        run_dir("blast", args.keep) as logdir,
        simulator_and_database(args, logdir, api_key=API_KEY, **setup) as (sim, env),
    ):
        data = seed(sim, args.devices)
        sim.configure(latency_ms=args.latency_ms)
        log(f"{args.devices} devices paired on {sim.url}, latency {args.latency_ms} ms")
        queue_s, minute = schedule(data["tenant"], data["devices"], args.messages)
        log(f"scheduled {args.messages} reminders for {minute:%H:%M} in {queue_s:.1f}s")
        moved = the_minute_arrives(minute)
        log(f"the minute arrives: {moved} reminders due")
        prod = product(env, logdir, args)
        log(f"product: {prod['rate']:.1f} msg/s over {prod['seconds']:.1f}s")
        sessions = [d.session_name for d in data["devices"]]
        base = baseline(sim.url, sessions, args.messages, args.workers, args.warmup)
        log(f"baseline: {base['rate']:.1f} msg/s over {base['seconds']:.1f}s")

    ratio = prod["rate"] / base["rate"]
    mark = verdict(ratio, TARGET)
    none_twice = (
        prod["attempts"] == {1: args.messages} and not prod["duplicate_or_missing_gateway_ids"]
    )
    print()
    print(f"RESULTS ({args.messages} reminders, {args.devices} devices, {args.workers} workers)")
    print(
        f"  all sent: yes; none twice: {'yes' if none_twice else 'NO'} "
        f"(attempts {prod['attempts']}, duplicate ids {prod['duplicate_or_missing_gateway_ids']})"
    )
    print(f"  product {prod['rate']:.1f} msg/s, baseline {base['rate']:.1f} msg/s")
    print(f"  ratio {ratio:.2f}  target >= {TARGET}  {mark}")
    print(load_line())
    results.update(product=prod, baseline=base, ratio=ratio, verdict=mark, none_twice=none_twice)
    write_json(args.json, results)
    failed = not none_twice or (args.strict and mark == "MISS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
