"""The web benchmarks' shared routine: product vs bench/baseline_app under gunicorn, compared."""

# compare() does what every web benchmark does: a fresh database, seeded in-process; gunicorn
# for the product and for the baseline app with the same settings on that database; checks;
# warm-up; the floors; interleaved rounds (baseline first in each) with server CPU metered and
# optional py-spy sampling; teardown. A benchmark supplies a Scenario (what to seed, what to
# send, what to check) and prints its own results from the Comparison it gets back.

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cpu import CpuMeter
from .db import app_database_url, db_create, db_drop
from .load import LoadResult, http_request, run_load
from .processes import Proc, gunicorn
from .project import bench_env, django_close, django_setup, migrate
from .pyspy import Spy, summarise
from .run import common_args, log, machine_line, run_dir
from .stats import cpu_ratios, median, paired_ratios

BASELINE = "baseline"
PRODUCT = "product"  # the variant name of a benchmark that measures the product one way

# For the py-spy summary: only the worker processes count (not the arbiter and its control
# thread), and a sync worker blocked in wait() for the next connection is idle.
WEB_ONLY = "Worker.init_process ("
WEB_IDLE = ("SyncWorker.wait (",)
WEB_CROSS = [
    ("in psycopg: sending queries and waiting for PostgreSQL", "psycopg/"),
    ("Django ORM compiling SQL (SQLCompiler.as_sql)", "SQLCompiler.as_sql"),
]
# What is left once a scenario's own rules (its view's steps) have claimed their stacks.
WEB_RULES = [
    ("Django: middleware and handler outside the view", "django/core/handlers/"),
    ("gunicorn: HTTP parsing and socket I/O", "gunicorn/"),
]


def add_arguments(
    parser: argparse.ArgumentParser,
    *,
    requests: int,
    warmup: int,
    warmup_per: str = "variant",
    breakdown: bool = False,
) -> None:
    """The common flags plus the gunicorn, load and round flags every web benchmark takes."""
    common_args(parser)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per app")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class")
    parser.add_argument("--concurrency", type=int, default=4, help="client connections in flight")
    parser.add_argument("--requests", type=int, default=requests, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--warmup", type=int, default=warmup, help=f"warm-up requests per {warmup_per}"
    )
    if breakdown:
        parser.add_argument(
            "--breakdown",
            action="store_true",
            help="afterwards, time each step of the product path in-process (no gunicorn)",
        )


@dataclass
class Scenario:
    """One web benchmark: what to seed, what to send and what to check; compare() runs it."""

    title: str  # printed first (the script's one-line description)
    name: str  # prefix of the run's log directory
    database: str  # created for the run, dropped afterwards (unless --keep)
    endpoints: str  # WHATSAPP_ENDPOINTS, for seeding and for the product
    variants: Sequence[str]  # how the product is measured; the baseline comes first in a round
    seed: Callable[[], dict]  # in-process, Django set up; returns what the requests need
    # (data, variant or "baseline", tag, count) -> `count` pre-built requests; the tag is
    # "warm" for the warm-up, "r0", "r1", ... for the rounds.
    requests: Callable[[dict, str, str, int], Sequence[bytes]]
    # Before anything is timed: (data, port of each variant and of "baseline"); SystemExit on
    # a wrong answer.
    check: Callable[[dict, dict[str, int]], None]
    verify: Callable[[dict], None] | None = None  # after the rounds, in-process
    breakdown: Callable[[dict], list[str]] | None = None  # with --breakdown, in-process
    spy_rules: Sequence[tuple[str, str | tuple[str, ...]]] = ()  # the view's steps for py-spy
    floors: bool = True  # also measure the floors (baseline /ping, product /healthz)


@dataclass
class Comparison:
    """What compare() measured: each variant's rounds, the floors, the breakdown lines."""

    scenario: Scenario
    args: argparse.Namespace
    data: dict[str, Any]
    rounds: dict[str, list[LoadResult]]
    floor: LoadResult | None = None
    stack: LoadResult | None = None
    steps: list[str] | None = field(default=None)

    def rps(self) -> dict[str, float]:
        return {v: median([r.rps for r in rs]) for v, rs in self.rounds.items()}

    def cpu(self) -> dict[str, float]:
        """Median server CPU ms per request of each variant."""
        return {v: median([r.cpu_ms_per_request or 0 for r in rs]) for v, rs in self.rounds.items()}

    def ratios(self, variant: str) -> list[float]:
        return paired_ratios(self.rounds[variant], self.rounds[BASELINE])

    def cpu_ratios(self, variant: str) -> list[float]:
        return cpu_ratios(self.rounds[variant], self.rounds[BASELINE])

    def print_head(self, unit: str = "requests") -> None:
        """The RESULTS heading and, when measured, the floors."""
        print()
        print(
            f"RESULTS ({self.args.rounds} interleaved rounds of {self.args.requests} {unit}; "
            "medians)"
        )
        if self.floor is None or self.stack is None:
            return
        floor, stack = self.floor, self.stack
        print(
            f"  floor: gunicorn + bare Django 'ok' view, no database: {floor.rps:8.1f} req/s "
            f"({floor.cpu_ms_per_request:.2f} ms CPU/req)"
        )
        print(
            f"  product's /healthz (its middleware, no database):     {stack.rps:8.1f} req/s "
            f"({stack.cpu_ms_per_request:.2f} ms CPU/req): the most any product view can do"
        )

    def print_details(self) -> None:
        """The --breakdown table and the --py-spy summaries, if asked for."""
        if self.steps is not None:
            print()
            print("In-process cost per call of each step (Django's WSGI handler, no network):")
            for line in self.steps:
                print("  " + line)
        if not self.args.py_spy:
            return
        rules = [*self.scenario.spy_rules, *WEB_RULES]
        for variant in self.scenario.variants:
            print()
            which = "" if variant == PRODUCT else f", {variant}"
            print(f"Where the product's gunicorn workers spend wall time{which} (py-spy):")
            paths = sorted(Path(self.args.py_spy).glob(_spy_name(variant, "*")))
            for line in summarise(paths, rules, only=WEB_ONLY, idle=WEB_IDLE, cross=WEB_CROSS):
                print("  " + line)


def _spy_name(variant: str, round_: int | str) -> str:
    """The stacks file of one round (a variant named "product" is not named twice)."""
    if variant == PRODUCT:
        return f"gunicorn-product-{round_}.txt"
    return f"gunicorn-product-{variant}-{round_}.txt"


def product_and_baseline(
    url: str, logdir: Path, procs: list, *, workers: int, worker_class: str, endpoints: str
) -> tuple[Proc, int, int, dict]:
    """gunicorn for the product and for bench/baseline_app, same settings, same database.

    Returns (product process, product port, baseline port, CPU meters by side); both processes
    also join `procs`, so the caller's cleanup stops them.
    """
    product, product_port = gunicorn(
        "gunicorn-product",
        "booqing.wsgi:application",
        bench_env(app_database_url(url, "bench-product"), WHATSAPP_ENDPOINTS=endpoints),
        logdir,
        workers=workers,
        worker_class=worker_class,
        ready_path="/healthz",
    )
    procs.append(product)
    baseline, baseline_port = gunicorn(
        "gunicorn-baseline",
        "bench.baseline_app.wsgi:application",
        bench_env(app_database_url(url, "bench-baseline")),
        logdir,
        workers=workers,
        worker_class=worker_class,
        ready_path="/ping",
    )
    procs.append(baseline)
    meters = {
        "product": CpuMeter(product, url, "bench-product"),
        "baseline": CpuMeter(baseline, url, "bench-baseline"),
    }
    return product, product_port, baseline_port, meters


def measure_floors(
    baseline_port: int, product_port: int, meters: dict, *, requests: int, concurrency: int
) -> tuple[LoadResult, LoadResult]:
    """What any view can reach: bare gunicorn + Django (baseline /ping) and the product's
    middleware with no database (/healthz). Printed, and returned for the summary."""
    results = []
    for label, port, path, side in (
        ("floor (baseline /ping)", baseline_port, "/ping", "baseline"),
        ("product /healthz", product_port, "/healthz", "product"),
    ):
        result = run_load(
            label,
            port,
            [http_request("GET", path)] * requests,
            concurrency=concurrency,
            meter=meters[side],
        )
        print("  " + result.line())
        results.append(result)
    return results[0], results[1]


def compare(scenario: Scenario, args: argparse.Namespace) -> Comparison:
    """Run `scenario` against the product and the baseline app under gunicorn (flags from
    add_arguments) and return the rounds; everything it started is stopped, and the database
    dropped, before it returns or raises."""
    print(scenario.title)
    print(machine_line())
    procs: list[Proc] = []
    meters: dict[str, CpuMeter] = {}
    variants = [BASELINE, *scenario.variants]
    rounds: dict[str, list[LoadResult]] = {v: [] for v in variants}
    floor = stack = None
    steps = None
    with run_dir(scenario.name, args.keep) as logdir:
        try:
            url = db_create(args.pg, scenario.database)
            env = bench_env(url, WHATSAPP_ENDPOINTS=scenario.endpoints)
            migrate(env, logdir)
            django_setup(env)
            data = scenario.seed()
            django_close()
            product, product_port, baseline_port, meters = product_and_baseline(
                url,
                logdir,
                procs,
                workers=args.workers,
                worker_class=args.worker_class,
                endpoints=scenario.endpoints,
            )
            ports = {v: product_port for v in scenario.variants} | {BASELINE: baseline_port}
            scenario.check(data, ports)
            log(
                f"gunicorn --workers {args.workers} --worker-class {args.worker_class}; client "
                f"concurrency {args.concurrency}; {args.requests} requests x {args.rounds} rounds"
            )
            for variant in variants:
                warm = run_load(
                    f"warm-up {variant}",
                    ports[variant],
                    scenario.requests(data, variant, "warm", args.warmup),
                    concurrency=args.concurrency,
                )
                print("  " + warm.line())
            if scenario.floors:
                floor, stack = measure_floors(
                    baseline_port,
                    product_port,
                    meters,
                    requests=args.requests,
                    concurrency=args.concurrency,
                )
            for n in range(args.rounds):
                for variant in variants:
                    payloads = scenario.requests(data, variant, f"r{n}", args.requests)
                    spy = None
                    if args.py_spy and variant != BASELINE:
                        out = Path(args.py_spy) / _spy_name(variant, n + 1)
                        spy = Spy(product.pid, out, idle=True)
                    result = run_load(
                        f"round {n + 1} {variant}",
                        ports[variant],
                        payloads,
                        concurrency=args.concurrency,
                        meter=meters[BASELINE if variant == BASELINE else PRODUCT],
                    )
                    if spy is not None:
                        spy.stop()
                    print("  " + result.line())
                    rounds[variant].append(result)
                    if result.errors:
                        raise SystemExit(f"{variant}: {result.statuses} (non-2xx answers)")
            if scenario.verify is not None:
                django_setup(env)
                scenario.verify(data)
                django_close()
            for proc in procs:
                proc.stop()
            if getattr(args, "breakdown", False) and scenario.breakdown is not None:
                django_setup(env)
                steps = scenario.breakdown(data)
                django_close()
        finally:
            for meter in meters.values():
                meter.close()
            for proc in procs:
                proc.stop()
            django_close()
            if not args.keep:
                db_drop(args.pg, scenario.database)
    return Comparison(scenario, args, data, rounds, floor, stack, steps)
