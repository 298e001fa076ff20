"""Benchmark: an open thread's "anything new?" poll (nothing new) vs a bare one-SELECT view.

    .venv/bin/python bench/poll_cost.py [--workers 2] [--requests 2000] [--rounds 5]

The browser polls GET /admin/whatsapp/conversations/<id>/poll every two seconds with the page's
version stamp (If-None-Match) and signed poll ticket (X-Poll-Ticket); with nothing new the
product answers 204 with no body after one indexed query. Both apps run under the same gunicorn
setup on the same fresh PostgreSQL database; the baseline (bench/baseline_app) is Django with no
apps and no middleware doing one primary-key SELECT. Rounds are interleaved and each product
round is divided by the baseline round just before it; the median ratio is the result.
Target (issue 11): poll / baseline >= 0.8.
"""

from __future__ import annotations

import argparse
import json
import sys

import _harness as h

TARGET = 0.8
DB_NAME = "bench_poll_cost"
ENDPOINTS = json.dumps([{"name": "Bench", "apiUrl": "http://127.0.0.1:9", "apiKey": "bench-key"}])


def seed(messages: int) -> dict:
    """A tenant with a conversation of `messages` messages (a busy thread) and its poll ticket."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from tenants.models import Tenant
    from whatsapp import services
    from whatsapp.inbox_poll import poll_ticket, stamp_for
    from whatsapp.models import Conversation, Device, Message, MessageStatus

    root = get_user_model().objects.create_superuser("bench-admin", "bench@example.com", None)
    tenant = Tenant.objects.create(name="Bench Salon", subdomain="bench")
    config = services.endpoint_assign(tenant=tenant, endpoint_name="Bench", actor=root)
    device = Device.objects.create(
        tenant=tenant, name="Front desk", endpoint_name="Bench", session_name="bq-bench-front"
    )
    now = timezone.now()
    conversation = Conversation.objects.create(
        tenant=tenant, device=device, contact="+6281100000001", last_message_at=now
    )
    Message.objects.bulk_create(
        Message(
            tenant=tenant,
            device=device,
            conversation=conversation,
            direction="in",
            body=f"message {i}",
            status=MessageStatus.RECEIVED,
            written_at=now,
            seq=i + 1,
        )
        for i in range(messages)
    )
    return {
        "config_id": str(config.pk),
        "conversation_id": str(conversation.pk),
        "ticket": poll_ticket(tenant=tenant, conversation_id=conversation.pk),
        "stamp": stamp_for(tenant_id=tenant.pk, conversation_id=conversation.pk),
    }


def requests_for(variant: str, data: dict) -> bytes:
    if variant == "baseline":
        return h.http_request("GET", f"/config/{data['config_id']}")
    return h.http_request(
        "GET",
        f"/admin/whatsapp/conversations/{data['conversation_id']}/poll",
        host="bench.localhost",
        headers={"If-None-Match": f'"{data["stamp"]}"', "X-Poll-Ticket": data["ticket"]},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    h.common_args(parser)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per app")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class")
    parser.add_argument("--concurrency", type=int, default=4, help="client connections in flight")
    parser.add_argument("--requests", type=int, default=1000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests per variant")
    parser.add_argument("--messages", type=int, default=500, help="messages in the polled thread")
    args = parser.parse_args()

    print(__doc__.split("\n\n")[0])
    print(h.machine_line())
    procs: list[h.Proc] = []
    meters: dict[str, h.CpuMeter] = {}
    with h.run_dir("poll", args.keep) as logdir:
        try:
            url = h.db_create(args.pg, DB_NAME)
            env = h.bench_env(url, WHATSAPP_ENDPOINTS=ENDPOINTS)
            h.migrate(env, logdir)
            h.django_setup(env)
            data = seed(args.messages)
            h.django_close()
            _, product_port, baseline_port, meters = h.product_and_baseline(
                url,
                logdir,
                procs,
                workers=args.workers,
                worker_class=args.worker_class,
                endpoints=ENDPOINTS,
            )
            ports = {"poll": product_port, "baseline": baseline_port}
            payloads = {v: requests_for(v, data) for v in ("baseline", "poll")}
            status, body = h.fetch(product_port, payloads["poll"])
            if status != 204 or body.split(b"\r\n\r\n", 1)[-1]:
                raise SystemExit(f"poll: expected a bodiless 204, got {status} {body[:300]!r}")
            for variant, payload in payloads.items():
                warm = h.run_load(
                    f"warm-up {variant}",
                    ports[variant],
                    [payload] * args.warmup,
                    concurrency=args.concurrency,
                )
                print("  " + warm.line())
            rounds: dict[str, list[h.LoadResult]] = {v: [] for v in payloads}
            for n in range(args.rounds):
                for variant, payload in payloads.items():
                    result = h.run_load(
                        f"round {n + 1} {variant}",
                        ports[variant],
                        [payload] * args.requests,
                        concurrency=args.concurrency,
                        meter=meters["baseline" if variant == "baseline" else "product"],
                    )
                    print("  " + result.line())
                    rounds[variant].append(result)
                    if result.errors:
                        raise SystemExit(f"{variant}: {result.statuses} (non-2xx answers)")
        finally:
            for meter in meters.values():
                meter.close()
            for proc in procs:
                proc.stop()
            h.django_close()
            if not args.keep:
                h.db_drop(args.pg, DB_NAME)

    rps = {v: h.median([r.rps for r in rs]) for v, rs in rounds.items()}
    print()
    print(f"RESULTS ({args.rounds} interleaved rounds of {args.requests} requests; medians)")
    print(f"  baseline: bare Django, one PK SELECT:     {rps['baseline']:8.1f} req/s")
    print(f"  thread poll, nothing new (204):           {rps['poll']:8.1f} req/s")
    ratio, mark, line = h.ratio_lines(
        "poll / baseline", h.paired_ratios(rounds["poll"], rounds["baseline"]), TARGET
    )
    print(line)
    h.write_json(args.json, {"bench": "poll_cost", "target": TARGET, "rps": rps, "ratio": ratio})
    return 0 if mark == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
