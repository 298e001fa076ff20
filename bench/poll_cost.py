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

from harness import web
from harness.load import fetch, http_request
from harness.run import write_json
from harness.stats import ratio_lines

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
        return http_request("GET", f"/config/{data['config_id']}")
    return http_request(
        "GET",
        f"/admin/whatsapp/conversations/{data['conversation_id']}/poll",
        host="bench.localhost",
        headers={"If-None-Match": f'"{data["stamp"]}"', "X-Poll-Ticket": data["ticket"]},
    )


def check(data: dict, ports: dict[str, int]) -> None:
    status, body = fetch(ports["poll"], requests_for("poll", data))
    if status != 204 or body.split(b"\r\n\r\n", 1)[-1]:
        raise SystemExit(f"poll: expected a bodiless 204, got {status} {body[:300]!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    web.add_arguments(parser, requests=1000, warmup=200)
    parser.add_argument("--messages", type=int, default=500, help="messages in the polled thread")
    args = parser.parse_args()

    run = web.compare(
        web.Scenario(
            title=__doc__.split("\n\n")[0],
            name="poll",
            database=DB_NAME,
            endpoints=ENDPOINTS,
            variants=["poll"],
            seed=lambda: seed(args.messages),
            requests=lambda data, variant, tag, count: [requests_for(variant, data)] * count,
            check=check,
            floors=False,
        ),
        args,
    )

    rps = run.rps()
    run.print_head()
    print(f"  baseline: bare Django, one PK SELECT:     {rps['baseline']:8.1f} req/s")
    print(f"  thread poll, nothing new (204):           {rps['poll']:8.1f} req/s")
    ratio, mark, line = ratio_lines("poll / baseline", run.ratios("poll"), TARGET)
    print(line)
    run.print_details()
    write_json(args.json, {"bench": "poll_cost", "target": TARGET, "rps": rps, "ratio": ratio})
    return 0 if mark == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
