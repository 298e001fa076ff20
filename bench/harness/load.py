"""The HTTP load generator: pre-built requests over raw sockets, timed, with their results."""

# Raw sockets, one connection per request ("Connection: close", which is what gunicorn's sync
# workers do anyway), pre-built request bytes. The client costs a small, constant amount of CPU
# per request, reported with the results so nobody mistakes it for server time.

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .cpu import CpuMeter


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
