"""Benchmark: signed WAHA `message` webhooks under gunicorn vs a bare INSERT ... ON CONFLICT view.

    .venv/bin/python bench/webhook_ingest.py [--workers 2] [--requests 2000] [--rounds 3]

Every request is a distinct WAHA `message` event for one device, signed as WAHA signs it
(X-Webhook-Hmac = HMAC-SHA512 hex of the raw body with the device's webhook secret,
X-Webhook-Timestamp in ms). The product path is POST /api/whatsapp/webhooks/<webhook id>
(verify the signature, parse, store once). The baseline (bench/baseline_app) is Django with no
apps and no middleware that parses the same JSON body and stores it with one
`INSERT ... ON CONFLICT DO NOTHING` into the same table. Both run under the same gunicorn
setup on one fresh PostgreSQL database. Rounds are interleaved; each product round is divided
by the baseline round run just before it and the median of those ratios is the result.
Afterwards every event must be stored exactly once. Target (issue 4): product / baseline >= 0.7.
--breakdown times each step of the product path in-process; --py-spy DIR samples the product's
gunicorn workers during the measured rounds (figures taken with it attached are perturbed).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import secrets
import sys
import time

from harness import web
from harness.inprocess import time_cases, wsgi_app, wsgi_call
from harness.load import fetch, http_request
from harness.run import load_line, log, write_json
from harness.stats import median, ratio_lines

TARGET = 0.7
DB_NAME = "bench_webhook_ingest"
ENDPOINTS = json.dumps([{"name": "Bench", "apiUrl": "http://127.0.0.1:9", "apiKey": "bench-key"}])
SESSION = "bq-bench-0123456789ab"
ME = "6281299990000@c.us"


def seed() -> dict:
    from django.contrib.auth import get_user_model

    from tenants.models import Tenant
    from whatsapp import services
    from whatsapp.models import Device, DeviceStatus

    admin = get_user_model().objects.create_superuser("bench-admin", "bench@example.com", None)
    tenant = Tenant.objects.create(name="Bench Salon", subdomain="bench")
    services.endpoint_assign(tenant=tenant, endpoint_name="Bench", actor=admin)
    device = Device.objects.create(
        tenant=tenant,
        name="Front desk",
        endpoint_name="Bench",
        session_name=SESSION,
        status=DeviceStatus.CONNECTED,
        phone="+6281299990000",
        webhook_secret=secrets.token_urlsafe(32),
    )
    return {
        "device_id": str(device.pk),
        "webhook_id": str(device.webhook_id),
        "secret": device.webhook_secret,
    }


def message_body(event_id: str, n: int) -> bytes:
    """A WAHA `message` webhook envelope, shaped like the simulator's (and WAHA's)."""
    sender = f"62811{n % 100000:08d}@c.us"
    now_ms = int(time.time() * 1000)
    envelope = {
        "id": event_id,
        "timestamp": now_ms,
        "event": "message",
        "session": SESSION,
        "metadata": {"tenant": "bench", "device": "front-desk"},
        "me": {"id": ME, "pushName": "Bench Salon"},
        "engine": "WEBJS",
        "environment": {"version": "2025.1.1", "engine": "WEBJS", "tier": "CORE"},
        "payload": {
            "id": f"false_{sender}_3EB0{n:016X}",
            "timestamp": now_ms // 1000,
            "from": sender,
            "fromMe": False,
            "to": ME,
            "body": "Hello! Can I book a haircut tomorrow at 10:00? Thank you.",
            "hasMedia": False,
            "_data": {"notifyName": f"Customer {n}", "pushName": f"Customer {n}"},
        },
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def signed_requests(path: str, secret: str, prefix: str, count: int) -> list[bytes]:
    """`count` distinct events, signed just before use (the timestamp must be fresh)."""
    out = []
    for n in range(count):
        event_id = f"evt_{prefix}_{n:08d}"
        body = message_body(event_id, n)
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-Request-Id": event_id,
            "X-Webhook-Timestamp": str(int(time.time() * 1000)),
            "X-Webhook-Hmac": hmac.new(secret.encode(), body, hashlib.sha512).hexdigest(),
            "X-Webhook-Hmac-Algorithm": "sha512",
        }
        out.append(http_request("POST", path, headers=headers, body=body))
    return out


PRODUCT_RULES = [
    ("webhook_ingest: Device lookup query", ("webhook_ingest (", "QuerySet.first")),
    ("webhook_ingest: HMAC verify", "verify_webhook"),
    ("webhook_ingest: parse", "parse_webhook"),
    ("webhook_ingest: INSERT ... ON CONFLICT (bulk_create)", "bulk_create"),
    ("webhook_ingest: other", "webhook_ingest ("),
    ("view: read body, reply", "webhooks.py"),
]


def breakdown(data: dict, reps: int = 7, calls: int = 200) -> list[str]:
    """In-process cost of each step of the product's webhook path (no network, no gunicorn):
    each case `calls` times per repetition, cases interleaved, min and median reported."""
    from django.db import connection

    from whatsapp.models import Device, WebhookEvent
    from whatsapp.services.gateway_access import gateway_for_endpoint
    from whatsapp.services.webhooks import _event_payload

    app = wsgi_app()
    path = f"/api/whatsapp/webhooks/{data['webhook_id']}"
    per_case = reps * (calls + 20)
    gateway = gateway_for_endpoint("Bench")
    secret = data["secret"]

    def batch(prefix: str) -> list[tuple[bytes, dict[str, str]]]:
        out = []
        for n in range(per_case):
            body = message_body(f"evt_{prefix}_{n:08d}", n)
            headers = {
                "X-Webhook-Timestamp": str(int(time.time() * 1000)),
                "X-Webhook-Hmac": hmac.new(secret.encode(), body, hashlib.sha512).hexdigest(),
            }
            out.append((body, headers))
        return out

    requests = iter(batch("bdwsgi"))
    inserts = iter(batch("bdorm"))
    raws = iter(batch("bdraw"))
    sample_body, sample_headers = batch("bdsample")[0]
    events = gateway.parse_webhook(sample_body)

    def whole_request() -> None:
        body, headers = next(requests)
        environ = {
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_X_WEBHOOK_TIMESTAMP": headers["X-Webhook-Timestamp"],
            "HTTP_X_WEBHOOK_HMAC": headers["X-Webhook-Hmac"],
        }
        status = wsgi_call(app, "POST", path, body=body, environ=environ)
        if not status.startswith("200"):
            raise SystemExit(f"in-process webhook answered {status}")

    def healthz() -> None:
        wsgi_call(app, "GET", "/healthz")

    def device_lookup() -> None:
        Device.objects.filter(webhook_id=data["webhook_id"]).only(
            "id", "endpoint_name", "webhook_secret"
        ).first()

    def orm_insert() -> None:
        body, _ = next(inserts)
        event = gateway.parse_webhook(body)[0]
        WebhookEvent.objects.bulk_create(
            [
                WebhookEvent(
                    device_id=data["device_id"],
                    event_id=event.event_id,
                    kind="message",
                    payload={"body": event.body},
                )
            ],
            ignore_conflicts=True,
        )

    def raw_insert() -> None:
        body, _ = next(raws)
        event = json.loads(body)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO whatsapp_webhookevent (device_id, event_id, kind, payload, status, "
                "attempts, last_error, received_at) VALUES (%s, %s, 'message', %s::jsonb, "
                "'pending', 0, '', now()) ON CONFLICT (device_id, event_id) DO NOTHING",
                [data["device_id"], event["id"], body.decode()],
            )

    cases = {
        "whole request (verify, parse, store)": whole_request,
        "middleware stack + trivial view (/healthz)": healthz,
        "Device lookup (ORM .only().first())": device_lookup,
        "gateway_for_endpoint()": lambda: gateway_for_endpoint("Bench"),
        "verify_webhook() (HMAC-SHA512)": lambda: gateway.verify_webhook(
            body=sample_body, headers=sample_headers, secret=secret
        ),
        "parse_webhook() + event payload dict": lambda: [
            _event_payload(e) for e in gateway.parse_webhook(sample_body)
        ],
        "parse + bulk_create(ignore_conflicts) of 1 row": orm_insert,
        "json.loads + raw INSERT ON CONFLICT (baseline's)": raw_insert,
    }
    assert events
    return time_cases(cases, reps=reps, calls=calls, width=50)


def stored(prefix: str) -> int:
    from whatsapp.models import WebhookEvent

    return WebhookEvent.objects.filter(event_id__startswith=f"evt_{prefix}_").count()


def path_for(app: str, data: dict) -> str:
    if app == "baseline":
        return f"/webhook/{data['device_id']}"
    return f"/api/whatsapp/webhooks/{data['webhook_id']}"


def check(data: dict, ports: dict[str, int]) -> None:
    """The product accepts a signed event and refuses a tampered signature."""
    good = signed_requests(path_for("product", data), data["secret"], "check", 1)[0]
    status, body = fetch(ports["product"], good)
    if status != 200:
        raise SystemExit(f"product refused a signed webhook: {status} {body[:300]!r}")
    bad = signed_requests(path_for("product", data), data["secret"] + "x", "tampered", 1)[0]
    status, body = fetch(ports["product"], bad)
    if status != 401:
        raise SystemExit(f"product accepted a bad signature: {status} {body[:300]!r}")
    plain = signed_requests(path_for("baseline", data), "", "checkbase", 1)[0]
    status, body = fetch(ports["baseline"], plain)
    if status != 200:
        raise SystemExit(f"baseline failed: {status} {body[:300]!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    web.add_arguments(parser, requests=1500, warmup=300, warmup_per="app", breakdown=True)
    args = parser.parse_args()

    sent: dict[str, int] = {}  # events sent, by event id prefix

    def requests(data: dict, app: str, tag: str, count: int) -> list[bytes]:
        """`count` fresh signed events (the timestamp must be fresh), remembered as sent."""
        prefix = f"{tag}{app}"
        sent[prefix] = count
        return signed_requests(path_for(app, data), data["secret"], prefix, count)

    def verify(data: dict) -> None:
        """Exactly once: every event sent is stored, none twice (UNIQUE makes >1 impossible)."""
        missing = {p: n - stored(p) for p, n in sent.items() if stored(p) != n}
        if missing:
            raise SystemExit(f"events lost: {missing}")
        log(f"stored exactly once: {sum(sent.values())} events")

    results: dict = {"bench": "webhook_ingest", "target": TARGET, "args": vars(args)}
    run = web.compare(
        web.Scenario(
            title=__doc__.split("\n\n")[0],
            name="webhook",
            database=DB_NAME,
            endpoints=ENDPOINTS,
            variants=[web.PRODUCT],
            seed=seed,
            requests=requests,
            check=check,
            verify=verify,
            breakdown=breakdown,
            spy_rules=PRODUCT_RULES,
        ),
        args,
    )

    rps = run.rps()
    ratios = run.ratios("product")
    run.print_head("webhooks")
    print(f"  baseline: bare Django, 1 INSERT ON CONFLICT:          {rps['baseline']:8.1f} /s")
    print(f"  product: verify HMAC, parse, store once:              {rps['product']:8.1f} /s")
    ratio, mark, line = ratio_lines("product / baseline", ratios, TARGET)
    print(line)
    cpu = run.cpu()
    cpu_ratios = run.cpu_ratios("product")
    print(
        "  server CPU per request (gunicorn workers + their PostgreSQL backends), medians: "
        f"baseline {cpu['baseline']:.2f} ms, product {cpu['product']:.2f} ms"
    )
    print(
        f"  CPU-cost ratio baseline/product: {median(cpu_ratios):.2f} (per round: "
        + ", ".join(f"{r:.2f}" for r in cpu_ratios)
        + "); steadier than throughput on a busy machine, same sense"
    )
    print(load_line())
    run.print_details()
    results.update(
        rps=rps | {"floor": run.floor.rps},
        ratio=ratio,
        round_ratios=ratios,
        cpu_ms_per_request=cpu,
        cpu_ratios=cpu_ratios,
        verdict=mark,
    )
    write_json(args.json, results)
    return 1 if args.strict and mark == "MISS" else 0


if __name__ == "__main__":
    sys.exit(main())
