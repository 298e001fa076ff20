"""Shared plumbing for the benchmarks: a throwaway PostgreSQL database, real server processes
(gunicorn, db_worker), an in-process Django for seeding, and a lean HTTP load generator.

Every benchmark creates what it needs, measures, prints raw figures and a verdict, and tears
everything down again (processes it started, the database it created), even on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PY = sys.executable
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432"
# Variables from the caller's shell or a .env file that would change what we measure.
_SCRUB = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG", "TESTING")
# Never route benchmark traffic through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


_T0 = time.monotonic()


def _sigterm(signum, frame):
    # A `kill` of the benchmark tears down like Ctrl-C does (the finally blocks run).
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, _sigterm)


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", flush=True)


def common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pg",
        default=os.environ.get("BENCH_PG_URL", DEFAULT_PG),
        help="PostgreSQL server URL without a database name (default: %(default)s)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database and logs for inspection"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when the target is missed"
    )
    parser.add_argument(
        "--py-spy",
        metavar="DIR",
        help="sample the product's processes with py-spy while measured; stacks saved in DIR",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Database


def _admin_connect(pg: str):
    import psycopg

    return psycopg.connect(f"{pg.rstrip('/')}/postgres", autocommit=True)


_DROP_SQL = "DROP DATABASE IF EXISTS {} WITH (FORCE)"


def db_create(pg: str, name: str) -> str:
    """(Re)create an empty database and return its URL."""
    from psycopg import sql

    drop = sql.SQL(_DROP_SQL)
    with _admin_connect(pg) as conn:
        conn.execute(drop.format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{pg.rstrip('/')}/{name}"


def db_drop(pg: str, name: str) -> None:
    from psycopg import sql

    drop = sql.SQL(_DROP_SQL)
    with _admin_connect(pg) as conn:
        conn.execute(drop.format(sql.Identifier(name)))


def bench_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment for every process of a run: production-like settings (DEBUG off)."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update(
        DATABASE_URL=database_url,
        DJANGO_DEBUG="false",
        BASE_DOMAIN="localhost",
        ALLOWED_HOSTS="localhost,.localhost,127.0.0.1",
        DJANGO_HTTPS="false",
        WHATSAPP_WEBHOOK_BASE_URL="http://localhost:9",
        # Benchmarks measure throughput, not the per-token rate limit (empty: no limit).
        WHATSAPP_API_TOKEN_RATE="",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    env.update(extra)
    return env


def migrate(env: dict[str, str], logdir: Path) -> None:
    started = time.monotonic()
    out = logdir / "migrate.log"
    with out.open("wb") as fh:
        result = subprocess.run(
            [PY, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode:
        raise SystemExit(f"migrate failed:\n{out.read_text()[-3000:]}")
    log(f"migrated in {time.monotonic() - started:.1f}s")


def django_setup(env: dict[str, str]) -> None:
    """Configure Django in this process with the run's environment (for seeding and checks)."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "booqing.settings"
    import logging

    import django

    django.setup()
    # This process only seeds and checks; its INFO lines ("message queued ...") are noise here.
    logging.getLogger().setLevel(logging.WARNING)


def django_close() -> None:
    with contextlib.suppress(Exception):
        from django.db import connections

        connections.close_all()


# ---------------------------------------------------------------------------------------------
# Processes


class Proc:
    """A child process in its own process group, with its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], logdir: Path):
        self.name = name
        self.log_path = logdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            list(argv),
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self, tail: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-tail:]
        return ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        # Whatever is left in the group we created (e.g. gunicorn workers) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        self._log.close()


def wait_http(url: str, *, proc: Proc | None = None, timeout: float = 30.0, host=None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise SystemExit(f"{proc.name} exited early:\n{proc.output()}")
        try:
            req = urllib.request.Request(url)
            if host:
                req.add_header("Host", host)
            with _OPENER.open(req, timeout=2) as response:
                response.read()
                return
        except urllib.error.HTTPError:
            return  # it answered: the server is up
        except OSError as exc:
            last = exc
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout}s ({last})")


def gunicorn(
    name: str,
    app: str,
    env: dict[str, str],
    logdir: Path,
    *,
    workers: int,
    worker_class: str = "sync",
    threads: int = 1,
    ready_path: str = "/",
) -> tuple[Proc, int]:
    port = free_port()
    argv = [PY, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}"]
    argv += ["--workers", str(workers), "--worker-class", worker_class, "--threads", str(threads)]
    argv += ["--chdir", str(ROOT), "--log-level", "warning", "--backlog", "2048"]
    proc = Proc(name, argv, env, logdir)
    wait_http(f"http://127.0.0.1:{port}{ready_path}", proc=proc, host="localhost")
    return proc, port


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


@contextlib.contextmanager
def run_dir(prefix: str, keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"bench-{prefix}-"))
    try:
        yield path
    finally:
        if keep:
            log(f"logs kept in {path}")
        else:
            for child in path.iterdir():
                with contextlib.suppress(OSError):
                    child.unlink()
            with contextlib.suppress(OSError):
                path.rmdir()


# ---------------------------------------------------------------------------------------------
# CPU accounting: the CPU seconds an app's gunicorn workers AND its PostgreSQL backends used.
# Throughput on a shared 2-core machine swings with the neighbours' load; CPU spent per request
# barely does, so it is reported next to the throughput as a steadier view of the same cost.

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def app_database_url(url: str, app: str) -> str:
    """The database URL tagged with an application_name, so its backends can be found."""
    return f"{url}?application_name={app}"


class CpuMeter:
    """CPU seconds used by a gunicorn master's workers and by the PostgreSQL backends whose
    application_name is `app` (set with app_database_url)."""

    def __init__(self, master: Proc, database_url: str, app: str) -> None:
        import psycopg

        self.master = master
        self.app = app
        self.conn = psycopg.connect(database_url, autocommit=True)

    def _backends(self) -> list[int]:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [self.app]
        ).fetchall()
        return [pid for (pid,) in rows]

    def sample(self) -> dict[int, float]:
        pids = _children(self.master.pid) + self._backends()
        return {pid: _proc_cpu(pid) for pid in pids}

    @staticmethod
    def used(before: dict[int, float], after: dict[int, float]) -> float:
        # A process that appeared during the interval counts from zero.
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


# ---------------------------------------------------------------------------------------------
# Load generation: raw sockets, one connection per request ("Connection: close", which is what
# gunicorn's sync workers do anyway), pre-built request bytes. The client costs a small, constant
# amount of CPU per request, reported with the results so nobody mistakes it for server time.


def http_request(
    method: str,
    path: str,
    *,
    host: str = "localhost",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _send(addr: tuple[str, int], payload: bytes) -> tuple[int, bytes]:
    with socket.create_connection(addr, timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(payload)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    try:
        status = int(data[9:12])
    except ValueError:
        status = 0
    head, _, rest = data.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        rest = _dechunk(rest)
    return status, rest


def _dechunk(data: bytes) -> bytes:
    out, pos = [], 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            break
        size = int(data[pos:end].split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out.append(data[end + 2 : end + 2 + size])
        pos = end + 2 + size + 2
    return b"".join(out)


def fetch(port: int, payload: bytes) -> tuple[int, bytes]:
    """One request (for checks before measuring); returns (status, body)."""
    return _send(("127.0.0.1", port), payload)


@dataclass
class LoadResult:
    label: str
    requests: int
    seconds: float
    statuses: dict[int, int]
    latencies_ms: list[float] = field(repr=False)
    client_cpu_s: float
    server_cpu_s: float | None = None

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.server_cpu_s is None or not self.requests:
            return None
        return self.server_cpu_s / self.requests * 1000

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))] if data else 0.0

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def line(self) -> str:
        cpu = self.cpu_ms_per_request
        server = f"  server CPU {cpu:5.2f} ms/req" if cpu is not None else ""
        return (
            f"{self.label:<26} {self.requests:>5} req {self.seconds:6.2f}s "
            f"{self.rps:7.1f} req/s  p50 {self.pct(0.5):5.1f} ms  p99 {self.pct(0.99):6.1f} ms  "
            f"non-2xx {self.errors}  client CPU {self.client_cpu_s / self.seconds:4.0%}{server}"
        )


def run_load(
    label: str,
    port: int,
    payloads: Sequence[bytes],
    *,
    concurrency: int,
    meter: CpuMeter | None = None,
) -> LoadResult:
    """Send every pre-built request once, `concurrency` at a time; time the whole batch (and,
    with a meter, the server-side CPU it cost)."""
    total = len(payloads)
    addr = ("127.0.0.1", port)
    lock = threading.Lock()
    cursor = iter(range(total))
    statuses: dict[int, int] = {}
    latencies: list[float] = []

    def worker() -> None:
        local_status: dict[int, int] = {}
        local_lat: list[float] = []
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            started = time.perf_counter()
            try:
                status, _ = _send(addr, payloads[i])
            except OSError:
                status = 0
            local_lat.append((time.perf_counter() - started) * 1000)
            local_status[status] = local_status.get(status, 0) + 1
        with lock:
            latencies.extend(local_lat)
            for k, v in local_status.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    server0 = meter.sample() if meter is not None else None
    cpu0, t0 = time.process_time(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    server = CpuMeter.used(server0, meter.sample()) if meter is not None else None
    return LoadResult(label, total, seconds, statuses, latencies, cpu, server)


# ---------------------------------------------------------------------------------------------
# Reporting


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def paired_ratios(product: Sequence[LoadResult], baseline: Sequence[LoadResult]) -> list[float]:
    """Per-round ratios: each product round against the baseline round run just before it,
    which cancels most of the drift in background load on a shared machine."""
    return [p.rps / b.rps for p, b in zip(product, baseline, strict=True)]


def cpu_ratios(product: Sequence[LoadResult], baseline: Sequence[LoadResult]) -> list[float]:
    """Per-round baseline CPU per request / product CPU per request (same sense as the
    throughput ratio: 1.0 = as cheap as the baseline)."""
    return [
        b.cpu_ms_per_request / p.cpu_ms_per_request
        for p, b in zip(product, baseline, strict=True)
        if p.cpu_ms_per_request and b.cpu_ms_per_request
    ]


def ratio_lines(label: str, ratios: Sequence[float], target: float) -> tuple[float, str, str]:
    ratio = median(ratios)
    mark = verdict(ratio, target)
    rounds = ", ".join(f"{r:.2f}" for r in ratios)
    return (
        ratio,
        mark,
        f"  {label}: ratio {ratio:.2f} (per round: {rounds})  target >= {target}  {mark}",
    )


def verdict(ratio: float, target: float, *, higher_is_better: bool = True) -> str:
    ok = ratio >= target if higher_is_better else ratio <= target
    return "PASS" if ok else "MISS"


def write_json(path: str | None, data: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=2, default=str))
        log(f"results written to {path}")


def machine_line() -> str:
    import platform

    return (
        f"host: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; {load_line()}"
    )


def load_line() -> str:
    """The load average: other work on the machine skews every figure, so print it."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load average unknown"
    warning = "  (busy machine: figures are noisy)" if one > (os.cpu_count() or 1) * 0.5 else ""
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min){warning}"


# ---------------------------------------------------------------------------------------------
# Profiling (optional, --py-spy DIR): sample real server processes while they are measured.


class Spy:
    """`py-spy record` attached to a running process (and its children) until stop()."""

    def __init__(self, pid: int, out: Path, *, idle: bool, rate: int = 100) -> None:
        exe = Path(PY).with_name("py-spy")
        if not exe.exists():
            raise SystemExit("--py-spy needs py-spy: .venv/bin/pip install py-spy")
        self.out = out
        out.parent.mkdir(parents=True, exist_ok=True)
        argv = [str(exe), "record", "--pid", str(pid), "--subprocesses", "--format", "raw"]
        argv += ["--rate", str(rate), "--output", str(out), "--nonblocking"]
        if idle:
            argv.append("--idle")
        self._log = out.with_suffix(".spy.log").open("wb")
        self.popen = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)
        time.sleep(0.5)  # let it attach before the measured work starts
        log(f"py-spy attached to pid {pid} (figures measured now are perturbed by sampling)")

    def stop(self) -> Path:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return self.out


# Shared by the two gunicorn benchmarks.
# Only the worker processes count (not the arbiter and its control thread), and a sync worker
# blocked in wait() for the next connection is idle.
WEB_ONLY = "Worker.init_process ("
WEB_IDLE = ("SyncWorker.wait (",)
WEB_CROSS = [
    ("in psycopg: sending queries and waiting for PostgreSQL", "psycopg/"),
    ("Django ORM compiling SQL (SQLCompiler.as_sql)", "SQLCompiler.as_sql"),
]


def read_stacks(path: Path) -> list[tuple[list[str], int]]:
    """py-spy's raw (collapsed) format: `frame;frame;... count` per line."""
    stacks = []
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks.append((stack.split(";"), int(count)))
    return stacks


def summarise(
    paths: Path | Sequence[Path],
    rules: Sequence[tuple[str, str | tuple[str, ...]]],
    *,
    only: str = "",
    idle: Sequence[str] = (),
    cross: Sequence[tuple[str, str]] = (),
    other: str = "other",
    top: int = 12,
) -> list[str]:
    """Where the samples went. Each stack goes to the first rule whose text (or every text of
    a tuple) occurs in it;
    stacks matching an `idle` text (a worker waiting for work) are left out of the shares;
    `cross` rules are counted independently (e.g. "waiting on PostgreSQL" inside any step);
    with `only`, stacks without that text (other processes or threads) are ignored."""
    paths = [paths] if isinstance(paths, Path) else list(paths)
    name = ", ".join(p.name for p in paths)
    stacks = [(f, n) for p in paths for f, n in read_stacks(p) if only in ";".join(f)]
    busy = [(f, n) for f, n in stacks if not any(t in ";".join(f) for t in idle)]
    total = sum(n for _, n in busy)
    idle_n = sum(n for _, n in stacks) - total
    if not total:
        return [f"no samples in {name}"]
    buckets: dict[str, int] = {label: 0 for label, _ in rules}
    buckets[other] = 0
    crossed: dict[str, int] = {label: 0 for label, _ in cross}
    leaves: dict[str, int] = {}
    for frames, n in busy:
        text = ";".join(frames)
        for label, needle in rules:
            needles = (needle,) if isinstance(needle, str) else needle
            if all(part in text for part in needles):
                buckets[label] += n
                break
        else:
            buckets[other] += n
        for label, needle in cross:
            if needle in text:
                crossed[label] += n
        leaves[frames[-1]] = leaves.get(frames[-1], 0) + n
    lines = [f"py-spy {name}: {total} busy samples" + (f" (+{idle_n} idle)" if idle else "")]
    lines += [f"  {n / total:6.1%}  {label}" for label, n in buckets.items() if n]
    lines += [f"  {n / total:6.1%}  (across all steps) {label}" for label, n in crossed.items()]
    lines.append("  busiest leaf frames:")
    for frame, n in sorted(leaves.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"    {n / total:6.1%}  {frame[:110]}")
    return lines
