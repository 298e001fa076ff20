"""Benchmark: inbox list and thread render time with a big history vs a tiny one, same run.

    .venv/bin/python bench/inbox_scale.py [--conversations 10000] [--messages 200000] [--reps 30]

One fresh PostgreSQL database holds two tenants: "big" (10,000 conversations, 200,000 messages,
bulk inserted; a tenth of the conversations unread, a few hundred failed messages, and one
busy conversation of 5,000 messages) and "small" (100 messages in 50 conversations, 25 of them
with a failed message, so each page of the small tenant is as full as the big one's).
A signed-in member's requests go through the whole Django stack in-process (test Client,
DEBUG off): the inbox list, the "needs attention" filter, a message-text search and the
busiest thread. Each page is timed alternately on both tenants; the result is the median big/small
ratio per page. Target (issue 11, item 8): <= 1.5.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from harness.db import db_create, db_drop
from harness.project import bench_env, django_close, django_setup, migrate
from harness.run import common_args, log, machine_line, run_dir, write_json
from harness.stats import verdict

TARGET = 1.5
DB_NAME = "bench_inbox_scale"
ENDPOINTS = json.dumps([{"name": "Bench", "apiUrl": "http://127.0.0.1:9", "apiKey": "bench-key"}])


def seed_tenant(
    subdomain: str, *, conversations: int, messages: int, busy: int, failed_every: int
) -> dict:
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from tenants.models import Membership, Tenant
    from whatsapp.models import Conversation, Device, Message, MessageStatus
    from whatsapp.services.messages import conversations_attention_rebuild

    tenant = Tenant.objects.create(name=f"{subdomain} salon", subdomain=subdomain)
    user = get_user_model().objects.create_user(f"owner-{subdomain}", None, None)
    Membership.objects.create(user=user, tenant=tenant, role=Membership.Role.ADMIN)
    device = Device.objects.create(
        tenant=tenant, name="Front desk", endpoint_name="Bench", session_name=f"bq-{subdomain}"
    )
    start = timezone.now() - timedelta(days=400)
    convs = Conversation.objects.bulk_create(
        Conversation(
            tenant=tenant,
            device=device,
            contact=f"+62812{i:08d}",
            unread_count=1 if i % 10 == 0 else 0,
        )
        for i in range(conversations)
    )
    # The busiest conversation gets `busy` messages; the rest are spread round-robin.
    seq = Message.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    last: dict = {}
    batch: list = []
    for i in range(messages):
        conv = convs[0] if i < busy else convs[(i - busy) % len(convs)]
        at = start + timedelta(seconds=i * (400 * 86400 // max(messages, 1)))
        seq += 1
        status = MessageStatus.RECEIVED
        direction = "in"
        if i % 2:
            direction, status = "out", MessageStatus.READ
        if i >= busy and (i - busy) % failed_every == 0:
            direction, status = "out", MessageStatus.FAILED
        batch.append(
            Message(
                tenant=tenant,
                device=device,
                conversation=conv,
                direction=direction,
                body=f"Halo, saya mau booking nomor {i}",
                status=status,
                written_at=at,
                seq=seq,
            )
        )
        last[conv.pk] = (at, seq, batch[-1].body)
        if len(batch) >= 5000:
            Message.objects.bulk_create(batch)
            batch = []
    Message.objects.bulk_create(batch)
    for conv in convs:
        if conv.pk in last:
            conv.last_message_at, conv.last_message_seq, conv.last_message_preview = last[conv.pk]
    Conversation.objects.bulk_update(
        convs, ["last_message_at", "last_message_seq", "last_message_preview"], batch_size=2000
    )
    # bulk_create goes around the services that keep the "needs attention" flag.
    conversations_attention_rebuild(tenant=tenant)
    return {"user_id": user.pk, "host": f"{subdomain}.localhost", "busy": str(convs[0].pk)}


def timed(client, path: str, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        started = time.perf_counter()
        response = client.get(path)
        out.append(time.perf_counter() - started)
        if response.status_code not in (200, 204):
            raise SystemExit(f"{path}: {response.status_code}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_args(parser)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=30)
    args = parser.parse_args()
    print(__doc__.split("\n\n")[0])
    print(machine_line())
    results: dict = {"bench": "inbox_scale", "target": TARGET, "args": vars(args), "pages": {}}
    with run_dir("inbox", args.keep) as logdir:
        try:
            url = db_create(args.pg, DB_NAME)
            env = bench_env(url, WHATSAPP_ENDPOINTS=ENDPOINTS)
            migrate(env, logdir)
            django_setup(env)
            from django.conf import settings
            from django.contrib.auth import get_user_model
            from django.db import connection
            from django.test import Client

            # In-process, without collectstatic: plain static URLs (no manifest to read).
            plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
            settings.STORAGES = {**settings.STORAGES, "staticfiles": plain}

            started = time.monotonic()
            big = seed_tenant(
                "big",
                conversations=args.conversations,
                messages=args.messages,
                busy=5000,
                failed_every=997,
            )
            # 100 messages: 51 in the busiest conversation, one in each of the 49 others, every
            # other one of those failed, so the list and the needs-attention filter fill a whole
            # page on both tenants (history, not page size, is what differs).
            small = seed_tenant("small", conversations=50, messages=100, busy=50, failed_every=2)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            log(f"seeded in {time.monotonic() - started:.1f}s")
            clients = {}
            for name, data in (("big", big), ("small", small)):
                client = Client(HTTP_HOST=data["host"], HTTP_ACCEPT_LANGUAGE="id")
                client.force_login(get_user_model().objects.get(pk=data["user_id"]))
                clients[name] = (client, data)
            pages = {
                "inbox list": lambda d: "/admin/whatsapp/conversations/",
                "needs attention": lambda d: "/admin/whatsapp/conversations/?show=attention",
                "search text": lambda d: "/admin/whatsapp/conversations/?q=booking%20nomor%2012",
                "busiest thread": lambda d: f"/admin/whatsapp/conversations/{d['busy']}",
            }
            for label, path_for in pages.items():
                for name in ("big", "small"):  # warm-up
                    client, data = clients[name]
                    timed(client, path_for(data), 3)
                ratios, medians = [], {}
                samples = {"big": [], "small": []}
                for _ in range(args.reps):
                    for name in ("small", "big"):
                        client, data = clients[name]
                        samples[name] += timed(client, path_for(data), 1)
                    ratios.append(samples["big"][-1] / samples["small"][-1])
                for name in samples:
                    medians[name] = statistics.median(samples[name]) * 1000
                ratio = statistics.median(ratios)
                mark = verdict(ratio, TARGET, higher_is_better=False)
                print(
                    f"  {label:<16} big {medians['big']:7.1f} ms  small {medians['small']:7.1f} ms"
                    f"  ratio {ratio:.2f}  target <= {TARGET}  {mark}"
                )
                results["pages"][label] = {"ms": medians, "ratio": ratio, "verdict": mark}
        finally:
            django_close()
            if not args.keep:
                db_drop(args.pg, DB_NAME)
    write_json(args.json, results)
    return 0 if all(p["verdict"] == "PASS" for p in results["pages"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
