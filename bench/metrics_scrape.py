"""Benchmark: /metrics scrape time with 1,000,000 stored messages vs 1,000, same run.

    .venv/bin/python bench/metrics_scrape.py [--large 1000000] [--small 1000] [--scrapes 200]

Two fresh PostgreSQL databases get the same tenants, devices, endpoints and queue backlog; they
differ only in history: --small vs --large outbound messages (and a tenth as many processed
webhook events), bulk-inserted with INSERT ... SELECT generate_series. One gunicorn (one sync
worker, production settings) serves each database; the scrapes alternate between the two, so
both see the same machine load. Reported: the median and p95 scrape time of each and the ratio
large / small. Target (issue 13): <= 1.5, i.e. a scrape costs the same whatever the history.
For contrast it also times, on the large database, the GROUP BY over every message that the
previous /metrics ran at each scrape.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from harness import PY, ROOT
from harness.db import db_create, db_drop
from harness.processes import Proc, gunicorn
from harness.project import bench_env, django_setup, migrate
from harness.run import common_args, log, machine_line, run_dir

TARGET = 1.5
TOKEN = "bench-metrics-token"
ENDPOINTS = json.dumps(
    [
        {"name": f"Bench{i}", "apiUrl": f"http://127.0.0.1:9/{i}", "apiKey": "bench-key"}
        for i in range(20)
    ]
)
BACKLOG = 20  # queued messages and pending webhook events, the same in both databases


def seed(count: int) -> None:
    """Runs in a child process whose DATABASE_URL is the database to fill."""
    from django.db import connection
    from django.utils import timezone

    from tenants.models import Tenant
    from whatsapp.models import (
        Conversation,
        Device,
        EndpointState,
        Message,
        TenantWhatsAppConfig,
        WebhookEvent,
    )

    devices = []
    for t in range(100):
        tenant = Tenant.objects.create(name=f"Tenant {t}", subdomain=f"t{t}")
        TenantWhatsAppConfig.objects.create(tenant=tenant, endpoint_name=f"Bench{t % 20}")
        if t < 50:
            devices.append(
                Device.objects.create(
                    tenant=tenant,
                    name="Front desk",
                    endpoint_name=f"Bench{t % 20}",
                    session_name=f"bq-t{t}-bench",
                    status="connected",
                    webhook_secret="s",
                )
            )
    for i in range(20):
        EndpointState.objects.create(
            endpoint_name=f"Bench{i}",
            health_status="healthy",
            next_probe_at=timezone.now(),
            last_latency_ms=40 + i,
        )
    chats = [
        Conversation.objects.create(tenant=d.tenant, device=d, contact=f"+62811000{i:05d}")
        for d in devices
        for i in range(10)
    ]
    with connection.cursor() as cursor:
        _fill(cursor, Message, count, chats, "message")
        _fill(cursor, WebhookEvent, count // 10, chats, "event")
        cursor.execute("VACUUM ANALYZE")
    print(json.dumps({"messages": Message.objects.count(), "events": WebhookEvent.objects.count()}))


def _fill(cursor, model, count: int, chats, what: str) -> None:
    """INSERT ... SELECT over generate_series: every column from the model's own metadata, the
    ones that matter computed per row, the rest their model default (so new columns still fit)."""
    from django.db import connection

    chat_ids = ", ".join(f"'{c.pk}'::uuid" for c in chats)
    tenant_ids = ", ".join(f"'{c.tenant_id}'::uuid" for c in chats)
    device_ids = ", ".join(f"'{c.device_id}'::uuid" for c in chats)
    n = len(chats)
    pick = f"(g %% {n}) + 1"
    backlog = f"g <= {BACKLOG}"
    computed = {
        "message": {
            "id": "gen_random_uuid()",
            "tenant_id": f"(ARRAY[{tenant_ids}])[{pick}]",
            "device_id": f"(ARRAY[{device_ids}])[{pick}]",
            "conversation_id": f"(ARRAY[{chat_ids}])[{pick}]",
            "direction": "'out'",
            "body": "'Reminder ' || g",
            "status": f"CASE WHEN {backlog} THEN 'queued' WHEN g %% 10 = 0 THEN 'failed' "
            "WHEN g %% 3 = 0 THEN 'delivered' ELSE 'read' END",
            "created_at": "now() - g * interval '2 seconds'",
            "updated_at": "now() - g * interval '2 seconds'",
            "sent_at": f"CASE WHEN {backlog} THEN NULL ELSE now() - g * interval '2 seconds' END",
        },
        "event": {
            "device_id": f"(ARRAY[{device_ids}])[{pick}]",
            "event_id": "'evt_' || g",
            "kind": "'ack'",
            "payload": "'{}'::jsonb",
            "status": f"CASE WHEN {backlog} THEN 'pending' ELSE 'processed' END",
            "received_at": "now() - g * interval '20 seconds'",
            "processed_at": f"CASE WHEN {backlog} THEN NULL ELSE now() - g * interval '20 seconds'"
            " + interval '1 second' END",
        },
    }[what]
    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.name not in computed and what == "event":
            continue  # bigserial
        columns.append(connection.ops.quote_name(field.column))
        if field.column in computed:
            values.append(computed[field.column])
        else:
            values.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    started = time.monotonic()
    cursor.execute(
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM generate_series(1, %s) AS g",
        [*params, count],
    )
    log(f"inserted {count:,} {model._meta.db_table} rows in {time.monotonic() - started:.1f}s")


def scrape(port: int) -> float:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics",
        headers={"Host": "localhost", "Authorization": f"Bearer {TOKEN}"},
    )
    started = time.perf_counter()
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request) as response:
        body = response.read()
    elapsed = time.perf_counter() - started
    if b"booqing_whatsapp_endpoints_configured 20.0" not in body:
        raise SystemExit(f"unexpected scrape: {body[:300]!r}")
    return elapsed * 1000


def old_group_by_ms(url: str) -> float:
    import psycopg

    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        conn.execute(
            "SELECT direction, status, COUNT(id) FROM whatsapp_message GROUP BY 1, 2"
        ).fetchall()
        return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_args(parser)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--scrapes", type=int, default=200, help="timed scrapes of each")
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)  # the child's job
    args = parser.parse_args()
    if args.seed is not None:
        django_setup(dict(os.environ))
        seed(args.seed)
        return 0

    print(__doc__.split("\n\n")[0])
    print(machine_line())
    procs: list[Proc] = []
    results: dict = {"bench": "metrics_scrape", "target": TARGET, "args": vars(args)}
    with run_dir("metrics", args.keep) as logdir:
        urls = {}
        try:
            ports = {}
            for side, count in (("small", args.small), ("large", args.large)):
                url = db_create(args.pg, f"bench_metrics_{side}_{os.getpid()}")
                urls[side] = url
                env = bench_env(url, WHATSAPP_ENDPOINTS=ENDPOINTS, METRICS_TOKEN=TOKEN)
                migrate(env, logdir)
                started = time.monotonic()
                out = subprocess.run(
                    [PY, __file__, "--seed", str(count)],
                    env=env,
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if out.returncode:
                    raise SystemExit(f"seeding {side} failed:\n{out.stdout}\n{out.stderr}")
                log(f"{side}: seeded {out.stdout.strip()} in {time.monotonic() - started:.1f}s")
                env["PROMETHEUS_MULTIPROC_DIR"] = str(logdir / f"prom-{side}")
                Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir()
                proc, ports[side] = gunicorn(
                    f"gunicorn-{side}",
                    "booqing.wsgi",
                    env,
                    logdir,
                    workers=1,
                    ready_path="/healthz",
                )
                procs.append(proc)
            for port in ports.values():  # warm-up: connections, caches, imports
                for _ in range(20):
                    scrape(port)
            times: dict[str, list[float]] = {"small": [], "large": []}
            for _ in range(args.scrapes):
                for side in ("small", "large"):
                    times[side].append(scrape(ports[side]))
            for side, values in times.items():
                values.sort()
                median = statistics.median(values)
                p95 = values[int(len(values) * 0.95) - 1]
                results[side] = {"median_ms": round(median, 2), "p95_ms": round(p95, 2)}
                print(
                    f"  {side:5} ({getattr(args, side):>9,} messages): median {median:6.2f} ms"
                    f"  p95 {p95:6.2f} ms"
                )
            ratio = results["large"]["median_ms"] / results["small"]["median_ms"]
            results["ratio"] = round(ratio, 3)
            old = statistics.median(old_group_by_ms(urls["large"]) for _ in range(3))
            results["previous_group_by_ms"] = round(old, 1)
            print(f"  ratio large/small: {ratio:.2f} (target <= {TARGET})")
            print(
                f"  for contrast, the previous scrape's GROUP BY over every message: {old:.0f} ms"
            )
            verdict = "PASS" if ratio <= TARGET else "MISS"
            print(f"  {verdict}")
        finally:
            for proc in procs:
                proc.stop()
            if not args.keep:
                for url in urls.values():
                    db_drop(args.pg, url.rsplit("/", 1)[1])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 1 if args.strict and results.get("ratio", 99) > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
