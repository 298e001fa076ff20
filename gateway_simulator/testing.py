"""Start the simulator for tests and benchmarks (subprocess or thread); drive it like a person."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gateway_simulator.flavors import DEFAULT_FLAVOR, flavor_named
from gateway_simulator.server import SimulatorServer, make_server
from gateway_simulator.state import Knobs, SimError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 10.0
# The simulator is always local: never route control calls through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class SimulatorError(RuntimeError):
    """The simulator could not be started or answered a control call with an error."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until(
    predicate: Callable[[], Any],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str = "",
) -> Any:
    """Poll `predicate` until it returns something truthy (for asynchronous webhooks)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout}s")
        time.sleep(interval)


def _knobs(values: dict[str, Any]) -> Knobs:
    knobs = Knobs()
    try:
        knobs.update(values)
    except SimError as exc:
        raise ValueError(exc.message) from None
    return knobs


class _PortTaken(Exception):
    pass


class _Client:
    """Control helpers shared by the process and thread flavours."""

    url: str
    api_key: str
    flavor: str = DEFAULT_FLAVOR

    @property
    def provider(self) -> str:
        """The product's `provider` for an endpoint on this simulator: waha or evolution."""
        return flavor_named(self.flavor).provider

    def request(
        self, method: str, path: str, body: Any = None, *, timeout: float = 10.0
    ) -> tuple[int, Any]:
        """One JSON call with the API key; returns (status, parsed body or raw text)."""
        data = json.dumps(body).encode() if body is not None else None
        # Always our own http:// URL, never user input.
        req = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310
        req.add_header("X-Api-Key", self.api_key)
        req.add_header("apikey", self.api_key)  # Evolution's header; WAHA ignores it
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with _OPENER.open(req, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def _ok(self, method: str, path: str, body: Any = None) -> Any:
        status, data = self.request(method, path, body)
        if not 200 <= status < 300:
            raise SimulatorError(f"{method} {path} answered {status}: {data}")
        return data

    def configure(self, **knobs: Any) -> dict[str, Any]:
        return self._ok("POST", "/_sim/config", knobs)

    def state(self) -> dict[str, Any]:
        return self._ok("GET", "/_sim/state")

    def webhooks(self) -> list[dict[str, Any]]:
        return self._ok("GET", "/_sim/webhooks")["deliveries"]

    def reset(self) -> None:
        self._ok("POST", "/_sim/reset", {})

    def session(self, name: str) -> dict[str, Any]:
        """The session in WAHA's terms (status STOPPED..WORKING, me), whatever the flavour."""
        return self._ok("GET", f"/_sim/sessions/{quote(name)}")

    def wait_for_status(self, name: str, status: str, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            session = self.session(name)
            if session["status"] == status:
                return session
            if time.monotonic() > deadline:
                raise SimulatorError(f"session {name} is {session['status']}, not {status}")
            time.sleep(0.02)

    def inbound(self, session: str, from_: str, body: str, **kw: Any) -> str:
        """Deliver a message from a contact (kw: pushName, lid); returns the message id."""
        payload = {"from": from_, "body": body, **kw}
        return self._ok("POST", f"/_sim/sessions/{quote(session)}/inbound", payload)["id"]

    def drop(
        self, session: str, status: str = "STOPPED", *, logout: bool = False
    ) -> dict[str, Any]:
        payload = {"status": status, "logout": logout}
        return self._ok("POST", f"/_sim/sessions/{quote(session)}/drop", payload)

    def not_on_whatsapp(self, *numbers: str) -> None:
        """Make these numbers unknown to WhatsApp (number checks say no, sends are refused)."""
        self.configure(not_on_whatsapp=list(numbers))

    def request_pairing_code(self, session: str, phone: str) -> str:
        """Ask the gateway for a phone-number pairing code, as the product would."""
        if self.provider == "evolution":
            path = f"/instance/connect/{quote(session)}?number={quote(phone)}"
            return self._ok("GET", path)["pairingCode"]
        return self._ok("POST", f"/api/{quote(session)}/auth/request-code", {"phoneNumber": phone})[
            "code"
        ]

    def pair_with_code(self, session: str, code: str, timeout: float = 5.0) -> dict[str, Any]:
        """Type a pairing code into the simulated phone; returns the session once WORKING."""
        self._ok("POST", f"/_sim/sessions/{quote(session)}/enter-code", {"code": code})
        return self.wait_for_status(session, "WORKING", timeout)

    def pair(self, session: str, timeout: float = 5.0) -> dict[str, Any]:
        """Read the QR through the API, open its phone link and press Link; returns the session."""
        self.wait_for_status(session, "SCAN_QR_CODE", timeout)
        if self.provider == "evolution":
            link = self._ok("GET", f"/instance/connect/{quote(session)}")["code"]
        else:
            link = self._ok("GET", f"/api/{quote(session)}/auth/qr?format=raw")["value"]
        # The QR carries the public URL; reach the page through the address we know works.
        path = link[link.index("/phone/") :]
        with _OPENER.open(self.url + path, timeout=10) as page:
            page.read()
        form = urllib.request.Request(self.url + path, data=b"", method="POST")  # noqa: S310
        with _OPENER.open(form, timeout=10) as page:
            page.read()
        return self.wait_for_status(session, "WORKING", timeout)


class SimulatorProcess(_Client):
    """`python -m gateway_simulator` in a subprocess; .stop(), .restart(), context manager."""

    def __init__(
        self,
        *,
        api_key: str,
        port: int = 0,
        host: str = "127.0.0.1",
        public_url: str | None = None,
        flavor: str = DEFAULT_FLAVOR,
        state_file: str | os.PathLike[str] | None = None,
        **knobs: Any,
    ) -> None:
        _knobs(knobs)  # fail fast on a misspelt knob, before spawning anything
        flavor_named(flavor)
        self.flavor = flavor
        self.state_file = str(state_file) if state_file else None
        self.api_key = api_key
        self.host = host
        self.public_url = public_url
        self._auto_port = not port
        self.port = port or free_port(host)
        self.knobs = knobs
        self.url = f"http://{host}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def start(self) -> SimulatorProcess:
        for _ in range(3):
            try:
                return self._spawn()
            except _PortTaken:
                # Someone took the free port we picked; we may pick another only if we chose it.
                if not self._auto_port:
                    raise SimulatorError(f"port {self.port} is in use:\n{self.output()}") from None
                self.port = free_port(self.host)
                self.url = f"http://{self.host}:{self.port}"
        raise SimulatorError(f"no free port found:\n{self.output()}")

    def _spawn(self) -> SimulatorProcess:
        # The key travels in the environment, not argv, so it stays out of `ps`.
        env = {**os.environ, "WAHA_API_KEY": self.api_key, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")])
        )
        # Open for the whole life of the process, so not a `with` block; a file, not a pipe, so a
        # chatty simulator can never block on a full pipe buffer.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        command = [sys.executable, "-m", "gateway_simulator", "--host", self.host]
        command += ["--port", str(self.port), "--knobs", json.dumps(self.knobs)]
        command += ["--flavor", self.flavor]
        if self.state_file:
            command += ["--state-file", self.state_file]
        if self.public_url:
            command += ["--public-url", self.public_url]
        self.process = process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.process = None
                if "Address already in use" in self.output():
                    raise _PortTaken
                raise SimulatorError(f"simulator exited early:\n{self.output()}")
            try:
                with _OPENER.open(self.url + "/_sim/config", timeout=1) as response:
                    response.read()
                # Answered, but maybe by someone else on that port: ours must still be alive.
                time.sleep(0.05)
                if process.poll() is None:
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SimulatorError(f"simulator did not answer within {START_TIMEOUT}s:\n{self.output()}")

    def output(self) -> str:
        """Everything the process printed so far (stdout and stderr)."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def restart(self) -> SimulatorProcess:
        """Stop and start again on the same port; state is lost unless there is a state_file."""
        self.stop()
        return self.start()

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SimulatorThread(_Client):
    """The same server in this process on a background thread (cheap: benchmarks run dozens)."""

    def __init__(self, server: SimulatorServer, api_key: str) -> None:
        self.server = server
        self.sim = server.sim
        self.api_key = api_key
        self.flavor = server.sim.flavor.name
        host, self.port = server.server_address[:2]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_simulator_process(
    *,
    api_key: str,
    port: int = 0,
    public_url: str | None = None,
    flavor: str = DEFAULT_FLAVOR,
    state_file: str | os.PathLike[str] | None = None,
    **knobs: Any,
) -> SimulatorProcess:
    """Launch the simulator subprocess on `port` (a free one when 0) and wait until it answers."""
    return SimulatorProcess(
        api_key=api_key,
        port=port,
        public_url=public_url,
        flavor=flavor,
        state_file=state_file,
        **knobs,
    ).start()


def start_simulator_thread(
    *,
    api_key: str,
    port: int = 0,
    public_url: str | None = None,
    flavor: str = DEFAULT_FLAVOR,
    state_file: str | None = None,
    **knobs: Any,
) -> SimulatorThread:
    """Run the simulator in-process on a background thread; `.stop()` shuts it down."""
    config = _knobs(knobs)
    server = make_server(
        api_key=api_key,
        host="127.0.0.1",
        port=port,
        public_url=public_url,
        knobs=config,
        flavor=flavor,
        state_file=state_file,
    )
    return SimulatorThread(server, api_key)
