"""Benchmark: one health sweep over 2,000 tenants on 40 simulator endpoints at 200 ms latency.

    .venv/bin/python bench/health_sweep.py [--concurrency 8] [--endpoints 40] [--tenants 2000]
    .venv/bin/python bench/health_sweep.py --endpoints 2000   # one WAHA Core per tenant

40 WAHA simulators run in one helper process (bench/harness/sim_farm.py; start_simulator_thread
with latency_ms=200, each its own HTTP server and port; more endpoints than --simulators share
them round-robin), WHATSAPP_ENDPOINTS_FILE lists them, and 2,000 tenant configs are spread over
them in a fresh PostgreSQL database. services.health_sweep(concurrency=C) then runs in this
process, making real HTTP calls: once cold (shown, not counted), then --sweeps times, each one
interval later (the median counts). Reported: probes made (must equal the number of endpoints,
not tenants), the HTTP calls the simulators received, the configs updated, the time of each
phase, and the wall time as a ratio to the ideal ceil(endpoints / C) x latency, i.e. one
latency-paying call per probe. Target (issue 3): <= 1.5.

The simulator adds latency_ms only to /api/* paths, so WAHA's /ping answers at once and only
/api/server/version pays the 200 ms; the output says how many calls each probe made and what a
real gateway, where every call pays the latency, would make of that.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from harness import PY, ROOT
from harness.db import db_create, db_drop
from harness.project import bench_env, django_close, django_setup, migrate
from harness.run import common_args, load_line, log, machine_line, run_dir, write_json
from harness.stats import verdict

TARGET = 1.5
# Per process: two runs at once (two developers on one server) must not drop each other's database.
DB_NAME = f"bench_health_sweep_{os.getpid()}"
API_KEY = "bench-health-key"


class SimFarm:
    """The simulators, in one helper process (bench/harness/sim_farm.py) that counts their
    requests."""

    def __init__(self, count: int, latency_ms: int) -> None:
        env = {**os.environ, "WAHA_API_KEY": API_KEY, "PYTHONUNBUFFERED": "1"}
        self.popen = subprocess.Popen(
            [
                PY,
                str(Path(__file__).with_name("harness") / "sim_farm.py"),
                *("--count", str(count), "--latency-ms", str(latency_ms)),
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        line = self.popen.stdout.readline()
        if not line:
            raise SystemExit("the simulator farm did not start")
        self.urls: list[str] = json.loads(line)["urls"]

    def counts(self) -> Counter[str]:
        self.popen.stdin.write("counts\n")
        self.popen.stdin.flush()
        return Counter(json.loads(self.popen.stdout.readline())["calls"])

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.popen.stdin.write("quit\n")
            self.popen.stdin.close()
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


class Phases:
    """Times the sweep's phases by wrapping the module's helpers (bench-side only)."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def wrap(self, module, name: str, label: str, *, wall: bool = False) -> None:
        original = getattr(module, name)
        phases = self

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with phases.lock:
                    phases.seconds[label] += time.perf_counter() - started
                    phases.calls[label] += 1

        setattr(module, name, timed)


def seed(endpoint_names: list[str], tenants: int) -> None:
    from tenants.models import Tenant
    from whatsapp.models import TenantWhatsAppConfig

    rows = Tenant.objects.bulk_create(
        Tenant(name=f"Tenant {i}", subdomain=f"t{i:05d}") for i in range(tenants)
    )
    TenantWhatsAppConfig.objects.bulk_create(
        TenantWhatsAppConfig(
            tenant=t,
            endpoint_name=endpoint_names[i % len(endpoint_names)],
            is_configured=True,
        )
        for i, t in enumerate(rows)
    )


def reference_loop(urls: list[str], concurrency: int) -> float:
    """The same latency-paying call (GET /api/server/version) once per endpoint, from a plain
    thread pool: what C-way concurrency against these simulators costs without the product."""
    import requests

    def call(url: str) -> int:
        with requests.Session() as session:
            session.trust_env = False
            return session.get(
                url + "/api/server/version", headers={"X-Api-Key": API_KEY}, timeout=10
            ).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        statuses = list(pool.map(call, urls))
    seconds = time.perf_counter() - started
    if set(statuses) != {200}:
        raise SystemExit(f"reference loop failed: {Counter(statuses)}")
    return seconds


def sweep(health, phases: Phases, farm: SimFarm, concurrency: int, now) -> dict:
    """One health_sweep(); its probes, wall time, phase times and the HTTP calls it caused."""
    from whatsapp.models import EndpointProbe

    phases.seconds.clear()
    phases.calls.clear()
    rows_before = EndpointProbe.objects.count()
    before = farm.counts()
    started = time.perf_counter()
    probes = health.health_sweep(now=now, concurrency=concurrency)
    wall = time.perf_counter() - started
    return {
        "probes": len(probes),
        "probe_rows": EndpointProbe.objects.count() - rows_before,
        "wall": wall,
        "calls": farm.counts() - before,
        "phases": {k: (v, phases.calls[k]) for k, v in phases.seconds.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_args(parser)
    parser.add_argument("--concurrency", type=int, default=8, help="health_sweep(concurrency=)")
    parser.add_argument("--endpoints", type=int, default=40)
    parser.add_argument(
        "--simulators", type=int, default=40, help="simulator servers the endpoints share"
    )
    parser.add_argument("--tenants", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument(
        "--sweeps", type=int, default=3, help="measured sweeps after the first; median counts"
    )
    args = parser.parse_args()
    latency = args.latency_ms / 1000

    print(__doc__.split("\n\n")[0])
    print(machine_line())
    farm = None
    results: dict = {"bench": "health_sweep", "target": TARGET, "args": vars(args)}
    with run_dir("health", args.keep) as logdir:
        try:
            # Thousands of simulators (a thread pool and a port each) in one process would
            # measure that process's scheduling, not the sweep: endpoints share --simulators
            # servers (each request still pays the latency; each endpoint its own session).
            farm = SimFarm(min(args.endpoints, args.simulators), args.latency_ms)
            names = [f"Sim{i:04d}" for i in range(args.endpoints)]
            endpoint_urls = [farm.urls[i % len(farm.urls)] for i in range(args.endpoints)]
            endpoints = [
                {"name": name, "apiUrl": url, "apiKey": API_KEY, "provider": "waha"}
                for name, url in zip(names, endpoint_urls, strict=True)
            ]
            log(
                f"{len(farm.urls)} simulators up in one helper process "
                f"(latency {args.latency_ms} ms on /api/*)"
            )
            url = db_create(args.pg, DB_NAME)
            # A file, not the variable: 2,000 endpoints are more than one variable may hold.
            endpoints_file = logdir / "endpoints.json"
            endpoints_file.write_text(json.dumps(endpoints))
            env = bench_env(url, WHATSAPP_ENDPOINTS_FILE=str(endpoints_file), LOG_LEVEL="WARNING")
            migrate(env, logdir)
            django_setup(env)
            seed(names, args.tenants)
            log(f"seeded {args.tenants} tenants on {args.endpoints} endpoints")

            from django.db import connection
            from django.db.models import Max
            from django.utils import timezone

            from whatsapp.models import HealthStatus, TenantWhatsAppConfig
            from whatsapp.services import health

            phases = Phases()
            phases.wrap(health, "_claim_due", "claim due endpoints (DB)")
            phases.wrap(health, "_probe_network", "probe HTTP (sum over threads)")
            phases.wrap(health, "_record", "record results (DB)")
            connection.ensure_connection()  # the scheduler's connection is already open

            # The first sweep of a fresh scheduler: new HTTP connections, new EndpointState rows.
            cold = sweep(health, phases, farm, args.concurrency, timezone.now())
            log(f"first (cold) sweep: {cold['probes']} probes in {cold['wall']:.3f}s")
            # The measured ones: each one interval after the last, as the scheduler's loop runs
            # them (health_sweep(now=...) claims what is due at that time).
            interval = TenantWhatsAppConfig.objects.aggregate(m=Max("health_check_interval"))["m"]
            warms = []
            for n in range(1, args.sweeps + 1):
                later = timezone.now() + timedelta(seconds=n * (interval + 1))
                warms.append(sweep(health, phases, farm, args.concurrency, later))
                log(f"measured sweep {n}: {warms[-1]['probes']} probes in {warms[-1]['wall']:.3f}s")
            warm = sorted(warms, key=lambda s: s["wall"])[len(warms) // 2]
            healthy = TenantWhatsAppConfig.objects.filter(
                health_status=HealthStatus.HEALTHY, last_health_check__isnull=False
            ).count()
            django_close()
            reference = reference_loop(endpoint_urls, args.concurrency)
        finally:
            if farm is not None:
                farm.stop()
            django_close()
            if not args.keep:
                db_drop(args.pg, DB_NAME)

    waves = math.ceil(args.endpoints / args.concurrency)
    ideal = waves * latency
    calls = warm["calls"]
    api_calls = sum(n for path, n in calls.items() if path.startswith("/api/"))
    all_calls = sum(calls.values())
    per_probe = api_calls / max(warm["probes"], 1)
    calls_per_probe = all_calls / max(warm["probes"], 1)
    ratio = warm["wall"] / ideal
    mark = verdict(ratio, TARGET, higher_is_better=False)
    ok_probes = all(s["probes"] == s["probe_rows"] == args.endpoints for s in (cold, warm))

    print()
    print(f"RESULTS (concurrency {args.concurrency})")
    shown = [("first (cold) sweep, not counted", cold)]
    shown += [(f"measured sweep {n}", s) for n, s in enumerate(warms, 1)]
    for label, s in shown:
        print(
            f"  {label}: {s['probes']} probes ({s['probe_rows']} EndpointProbe rows), "
            f"wall {s['wall']:.3f}s = {s['wall'] / ideal:.2f} x ideal"
        )
        print(
            "    HTTP calls received by the simulators: "
            + ", ".join(f"{path} x{n}" for path, n in sorted(s["calls"].items()))
        )
        for phase, (seconds, n) in s["phases"].items():
            print(f"    phase {phase:<32} {seconds:6.3f}s over {n} calls")
    print(
        f"  probes per sweep: expected {args.endpoints} (one per endpoint, not one per each of "
        f"{args.tenants} tenants): {'OK' if ok_probes else 'WRONG'}"
    )
    print(f"  tenant configs marked healthy: {healthy} / {args.tenants}")
    print(
        f"  HTTP calls per probe: {calls_per_probe:g}, of which latency-paying (/api/*): "
        f"{per_probe:g} (WAHA health() = GET /ping, then GET /api/server/version; the "
        "simulator delays only /api/*)"
    )
    print(
        f"  reference: a plain {args.concurrency}-thread loop of GET /api/server/version, one "
        f"per endpoint (new connections): {reference:.3f}s = {reference / ideal:.2f} x ideal"
    )
    print(
        f"  ideal = ceil({args.endpoints}/{args.concurrency}) x {latency:g}s = {ideal:.3f}s, "
        "assuming ONE latency-paying call per probe"
    )
    if calls_per_probe != per_probe:
        print(
            f"  note: against a real gateway every call pays the network latency, so the "
            f"{calls_per_probe:g} calls per probe would make the floor "
            f"{waves * calls_per_probe * latency:.3f}s = {calls_per_probe:g} x this ideal"
        )
    walls = ", ".join(f"{s['wall']:.3f}s" for s in warms)
    print(f"  measured sweeps: {walls}; median {warm['wall']:.3f}s")
    print(f"  ratio median sweep / ideal = {ratio:.2f}  target <= {TARGET}  {mark}")
    print(load_line())
    results.update(
        cold=cold,
        measured=warms,
        healthy_configs=healthy,
        calls_per_probe=calls_per_probe,
        latency_calls_per_probe=per_probe,
        reference_s=reference,
        ideal_s=ideal,
        ratio=ratio,
        verdict=mark,
    )
    write_json(args.json, results)
    if not ok_probes:
        return 1
    return 1 if args.strict and mark == "MISS" else 0


if __name__ == "__main__":
    sys.exit(main())
