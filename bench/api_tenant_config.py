"""Benchmark: GET /api/whatsapp/tenant-config/<id> under gunicorn vs a bare Django JSON view.

    .venv/bin/python bench/api_tenant_config.py [--workers 2] [--requests 2000] [--rounds 3]

Both apps run under the same gunicorn setup (sync workers, --workers N) on the same fresh
PostgreSQL database. The baseline (bench/baseline_app) is Django with no apps and no middleware
doing one primary-key SELECT of the same tenant_whatsapp_config row and returning it as JSON.
The product is measured with both of its authentications: a tenant API token
(`Authorization: Bearer ...`, what the booking product uses) and a superadmin session cookie.
Rounds are interleaved (baseline, token, session, baseline, ...); each product round is divided
by the baseline round run just before it, and the median of those ratios is the result (this
cancels most drift in background load). Target (issue 2): product / baseline >= 0.8.
--breakdown times each step of the product path in-process; --py-spy DIR samples the product's
gunicorn workers during the measured rounds (figures taken with it attached are perturbed).
"""

from __future__ import annotations

import argparse
import json
import sys

from harness import web
from harness.inprocess import time_cases, wsgi_app, wsgi_call
from harness.load import fetch, http_request
from harness.run import load_line, write_json
from harness.stats import median, ratio_lines

TARGET = 0.8
DB_NAME = "bench_api_tenant_config"
ENDPOINTS = json.dumps([{"name": "Bench", "apiUrl": "http://127.0.0.1:9", "apiKey": "bench-key"}])


PRODUCT_RULES = [
    ("auth: TenantTokenAuth -> api_token_authenticate", "api_token_authenticate"),
    ("auth: SessionAuth (session + user)", "SessionAuth.authenticate"),
    ("view: tenant_for_config_read", "tenant_for_config_read"),
    ("view: config query + config_as_dict", "tenant_config_get"),
    ("django-ninja: routing, checks, response validation, JSON", "ninja/"),
]


def seed(extra_tenants: int) -> dict:
    """The measured tenant (with a config and an API token), a superadmin session, and
    `extra_tenants` other tenants with configs so the tables are not trivially small."""
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore

    from tenants.models import Tenant
    from whatsapp import services
    from whatsapp.models import TenantWhatsAppConfig

    admin = get_user_model().objects.create_superuser("bench-admin", "bench@example.com", None)
    tenant = Tenant.objects.create(name="Bench Salon", subdomain="bench")
    config = services.endpoint_assign(tenant=tenant, endpoint_name="Bench", actor=admin)
    _, token = services.api_token_create(tenant=tenant, name="Booking app", actor=admin)
    others = Tenant.objects.bulk_create(
        Tenant(name=f"Tenant {i}", subdomain=f"t{i:05d}") for i in range(extra_tenants)
    )
    TenantWhatsAppConfig.objects.bulk_create(
        TenantWhatsAppConfig(tenant=t, endpoint_name="Bench", is_configured=True) for t in others
    )
    session = SessionStore()
    session[SESSION_KEY] = str(admin.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = admin.get_session_auth_hash()
    session.create()
    return {
        "tenant_id": str(tenant.pk),
        "config_id": str(config.pk),
        "token": token,
        "session_key": session.session_key,
    }


def breakdown(data: dict, reps: int = 7, calls: int = 200) -> list[str]:
    """In-process cost of each step of the token and session paths (no network, no gunicorn):
    each case `calls` times per repetition, cases interleaved, min and median reported."""
    from django.db import connection

    from whatsapp.models import TenantWhatsAppConfig
    from whatsapp.selectors import config_as_dict
    from whatsapp.services.tokens import api_token_authenticate

    app = wsgi_app()
    path = f"/api/whatsapp/tenant-config/{data['tenant_id']}"

    def wsgi(url: str, **headers: str):
        return lambda: wsgi_call(app, "GET", url, environ=headers)

    def raw_select() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT * FROM tenant_whatsapp_config WHERE id = %s", [data["config_id"]]
            )
            cursor.fetchone()

    def health_check() -> None:
        connection.health_check_done = False  # what request_started does for each request
        with connection.cursor():
            pass

    config = TenantWhatsAppConfig.objects.get(pk=data["config_id"])
    cases = {
        "whole request, token auth": wsgi(path, HTTP_AUTHORIZATION=f"Bearer {data['token']}"),
        "whole request, session auth": wsgi(path, HTTP_COOKIE=f"sessionid={data['session_key']}"),
        "middleware stack + trivial view (/healthz)": wsgi("/healthz"),
        "api_token_authenticate() (1 ORM query)": lambda: api_token_authenticate(data["token"]),
        "TenantWhatsAppConfig.filter(tenant).first()": lambda: TenantWhatsAppConfig.objects.filter(
            tenant_id=data["tenant_id"]
        ).first(),
        "config_as_dict()": lambda: config_as_dict(config),
        "raw SQL: one PK SELECT (the baseline's query)": raw_select,
        "CONN_HEALTH_CHECKS: SELECT 1 once per request": health_check,
    }
    return time_cases(cases, reps=reps, calls=calls, width=48)


def requests_for(variant: str, data: dict) -> bytes:
    product_path = f"/api/whatsapp/tenant-config/{data['tenant_id']}"
    if variant == "baseline":
        return http_request("GET", f"/config/{data['config_id']}")
    if variant == "token":
        return http_request(
            "GET", product_path, headers={"Authorization": f"Bearer {data['token']}"}
        )
    if variant == "token-tenant-host":
        return http_request(
            "GET",
            product_path,
            host="bench.localhost",
            headers={"Authorization": f"Bearer {data['token']}"},
        )
    if variant == "session":
        return http_request(
            "GET", product_path, headers={"Cookie": f"sessionid={data['session_key']}"}
        )
    raise ValueError(variant)


def check(data: dict, ports: dict[str, int]) -> None:
    """Both must answer the same row before anything is timed."""
    for variant, port in ports.items():
        status, body = fetch(port, requests_for(variant, data))
        config = json.loads(body or b"null") if status == 200 else None
        if not config or config["config"]["id"] != data["config_id"]:
            raise SystemExit(f"{variant}: unexpected reply {status} {body[:300]!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    web.add_arguments(parser, requests=1000, warmup=200, breakdown=True)
    parser.add_argument("--extra-tenants", type=int, default=200)
    parser.add_argument(
        "--variants",
        default="token,session",
        help="product variants: token, session, token-tenant-host (comma separated)",
    )
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]

    results: dict = {"bench": "api_tenant_config", "target": TARGET, "args": vars(args)}
    run = web.compare(
        web.Scenario(
            title=__doc__.split("\n\n")[0],
            name="api",
            database=DB_NAME,
            endpoints=ENDPOINTS,
            variants=variants,
            seed=lambda: seed(args.extra_tenants),
            requests=lambda data, variant, tag, count: [requests_for(variant, data)] * count,
            check=check,
            breakdown=breakdown,
            spy_rules=PRODUCT_RULES,
        ),
        args,
    )

    rps = run.rps()
    run.print_head()
    print(f"  baseline: bare Django, one PK SELECT:                 {rps['baseline']:8.1f} req/s")
    verdicts = []
    results["rps"] = rps | {"floor": run.floor.rps}
    results["ratios"] = {}
    for variant in variants:
        label = f"product, {variant} auth:"
        print(f"  {label:<52} {rps[variant]:8.1f} req/s")
    for variant in variants:
        ratio, mark, line = ratio_lines(
            f"product ({variant}) / baseline", run.ratios(variant), TARGET
        )
        print(line)
        verdicts.append(mark)
        results["ratios"][variant] = ratio
    print("  server CPU per request (gunicorn workers + their PostgreSQL backends), medians:")
    cpu = run.cpu()
    results["cpu_ms_per_request"] = cpu
    results["cpu_ratios"] = {}
    for variant in ["baseline", *variants]:
        print(f"    {variant:<20} {cpu[variant]:6.2f} ms")
    for variant in variants:
        ratios = run.cpu_ratios(variant)
        ratio = median(ratios)
        results["cpu_ratios"][variant] = ratio
        rounds_text = ", ".join(f"{r:.2f}" for r in ratios)
        print(
            f"  CPU-cost ratio baseline/product ({variant}): {ratio:.2f} (per round: "
            f"{rounds_text}); steadier than throughput on a busy machine, same sense"
        )
    print(load_line())
    run.print_details()
    results["verdicts"] = dict(zip(variants, verdicts, strict=True))
    write_json(args.json, results)
    return 1 if args.strict and "MISS" in verdicts else 0


if __name__ == "__main__":
    sys.exit(main())
