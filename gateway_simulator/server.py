"""The simulator's HTTP server: WAHA's /api or Evolution's routes, phone pages, /_sim controls."""

from __future__ import annotations

import base64
import hmac
import logging
import random
import signal
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from gateway_simulator import evolution, history, pages
from gateway_simulator.core import ALREADY_LINKED, PAIRED, Simulator
from gateway_simulator.flavors import DEFAULT_FLAVOR, PLUS_ONLY
from gateway_simulator.persistence import StateFile
from gateway_simulator.routing import (
    ROUTES,
    SEGMENT,
    Request,
    Response,
    error_body,
    render_png,
    route,
)
from gateway_simulator.state import Knobs, SimError, digits_of

logger = logging.getLogger(__name__)

# Paths every flavour serves: the phone and contacts pages and the /_sim controls.
COMMON_PREFIXES = ("/phone/", "/contacts/", "/_sim/")


class Api:
    """Route handlers; each takes a Request and returns a Response (errors raise SimError)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    @route("GET", "/ping")
    def ping(self, req: Request) -> Response:
        return Response.json(200, {"message": "pong"})

    @route("GET", "/health")
    def health(self, req: Request) -> Response:
        # WAHA Core answers 422 here (a Plus feature); clients fall back to /ping and the version.
        if self.sim.flavor.is_core:
            return Response.json(422, error_body(422, PLUS_ONLY))
        return Response.json(200, {"status": "ok", "info": {}, "error": {}, "details": {}})

    @route("GET", "/")
    def index(self, req: Request) -> Response:
        return Response.html(200, pages.index_page(self.sim.snapshot()))

    @route("GET", "/_sim/")
    def sim_index(self, req: Request) -> Response:
        return self.index(req)

    @route("GET", "/api/server/version")
    def version(self, req: Request) -> Response:
        return Response.json(200, self.sim.flavor.version)

    @route("GET", "/api/version")
    def old_version(self, req: Request) -> Response:
        return Response.json(200, self.sim.flavor.version)

    @route("GET", "/api/sessions")
    def sessions(self, req: Request) -> Response:
        return Response.json(200, self.sim.list_sessions())

    @route("POST", "/api/sessions")
    def create(self, req: Request) -> Response:
        return _json_or_empty(201, self.sim.create(req.json()))

    @route("POST", "/api/sessions/start")
    def start_upsert(self, req: Request) -> Response:
        return Response.json(201, self.sim.start_upsert(req.json()))

    @route("GET", f"/api/sessions/{SEGMENT}")
    def session(self, req: Request) -> Response:
        info = self.sim.info(req.params["name"])
        if info is None:
            raise SimError(404, "Session not found")
        return Response.json(200, info)

    @route("PUT", f"/api/sessions/{SEGMENT}")
    def update(self, req: Request) -> Response:
        return Response.json(200, self.sim.update(req.params["name"], req.json()))

    @route("DELETE", f"/api/sessions/{SEGMENT}")
    def delete(self, req: Request) -> Response:
        # WAHA answers 200 with an empty body, gone already or not.
        self.sim.delete(req.params["name"])
        return Response(200, b"")

    @route("POST", f"/api/sessions/{SEGMENT}/(?P<action>start|stop|restart|logout)")
    def lifecycle(self, req: Request) -> Response:
        action = getattr(self.sim, req.params["action"])
        return _json_or_empty(201, action(req.params["name"]))

    @route("GET", f"/api/sessions/{SEGMENT}/me")
    def me(self, req: Request) -> Response:
        with self.sim.lock:
            me = self.sim.running(req.params["name"]).me
        # Nest serialises a null result as an empty body.
        return _json_or_empty(200, me)

    @route("POST", f"/api/{SEGMENT}/auth/request-code")
    def request_code(self, req: Request) -> Response:
        name = req.params["name"]
        phone = req.json().get("phoneNumber")
        if not isinstance(phone, str) or not digits_of(phone):
            raise SimError(400, ["phoneNumber must be a string"])
        self.sim.wait_for(name, "SCAN_QR_CODE")
        code = self.sim.request_code(name, phone)
        return Response.json(201, {"code": f"{code[:4]}-{code[4:]}"})

    @route("GET", f"/api/{SEGMENT}/chats/(?P<chat>[^/]+)/messages")
    def chat_messages(self, req: Request) -> Response:
        try:
            limit = int(req.query.get("limit", "100"))
        except ValueError:
            raise SimError(400, ["limit must be an integer number"]) from None
        messages = self.sim.history(req.params["name"], req.params["chat"], limit)
        return Response.json(200, messages)

    @route("GET", f"/api/{SEGMENT}/auth/qr")
    def qr(self, req: Request) -> Response:
        value = self.sim.qr_value(req.params["name"])
        if req.query.get("format") == "raw":
            return Response.json(200, {"value": value})
        png = render_png(value)
        if png is None:
            raise SimError(501, "QR images need segno; use ?format=raw")
        if "application/json" in (req.headers.get("Accept") or ""):
            data = base64.b64encode(png).decode()
            return Response.json(200, {"mimetype": "image/png", "data": data})
        return Response(200, png, "image/png")

    @route("POST", "/api/sendText")
    def send_text(self, req: Request) -> Response:
        reply = self.sim.send_text(req.json())
        history.after_delivery(self.sim)  # the send faults of tests (history.py)
        # send_reply_shape=empty: some engines answer 201 with no body at all.
        return Response.json(201, reply) if reply else Response(201)

    @route("POST", "/api/(?P<action>sendSeen|startTyping|stopTyping)")
    def presence(self, req: Request) -> Response:
        # Accepted for clients that mimic a human before sending; nothing observable happens.
        with self.sim.lock:
            self.sim.require_working(str(req.json().get("session", "default")))
        return Response.json(201, {})

    @route("GET", "/api/contacts/check-exists")
    def check_exists(self, req: Request) -> Response:
        number = digits_of(req.query.get("phone", ""))
        if not number:
            raise SimError(400, ["phone should not be empty"])
        name = req.query.get("session") or "default"
        self.sim.wait_for(name, "WORKING")
        exists = self.sim.number_exists(number)
        return Response.json(
            200, {"numberExists": exists, "chatId": f"{number}@c.us" if exists else None}
        )

    @route("GET", f"/api/{SEGMENT}/lids/(?:pn/)?(?P<value>[^/]+)")
    def lids(self, req: Request) -> Response:
        return Response.json(200, self.sim.lid_lookup(req.params["name"], req.params["value"]))

    # -- pages --

    @route("GET", f"/phone/{SEGMENT}")
    def phone(self, req: Request) -> Response:
        name, code = req.params["name"], req.query.get("code", "")
        if req.query.get("auto") == "1":
            return self._pair(name, code, req.query.get("phone"))
        with self.sim.lock:
            session = self.sim.sessions.get(name)
            if session is None:
                return Response.html(404, pages.not_found_page(f"No session named {name!r}."))
            if not code:
                return Response.html(200, pages.phone_no_code_page(name))
            if session.status == "WORKING":
                return Response.html(200, pages.phone_already_page(name))
            if code != session.qr_token:
                return Response.html(410, pages.phone_expired_page(name))
        return Response.html(200, pages.phone_link_page(name, code))

    @route("POST", f"/phone/{SEGMENT}")
    def phone_post(self, req: Request) -> Response:
        form = req.form()
        code = form.get("code") or req.query.get("code", "")
        return self._pair(req.params["name"], code, form.get("phone"))

    @route("GET", f"/phone/{SEGMENT}/code")
    def phone_code(self, req: Request) -> Response:
        with self.sim.lock:
            if req.params["name"] not in self.sim.sessions:
                return Response.html(404, pages.not_found_page("No such session."))
        return Response.html(200, pages.phone_code_page(req.params["name"]))

    @route("POST", f"/phone/{SEGMENT}/code")
    def phone_code_post(self, req: Request) -> Response:
        name = req.params["name"]
        if name not in self.sim.sessions:
            return Response.html(404, pages.not_found_page("No such session."))
        outcome = self.sim.pair_with_code(name, req.form().get("code", ""))
        return self._outcome(name, outcome)

    def _pair(self, name: str, code: str, phone: str | None) -> Response:
        if name not in self.sim.sessions:
            return Response.html(404, pages.not_found_page(f"No session named {name!r}."))
        return self._outcome(name, self.sim.pair(name, code, phone=phone))

    def _outcome(self, name: str, outcome: str) -> Response:
        if outcome == PAIRED:
            with self.sim.lock:
                me = self.sim.sessions[name].identity or {"id": ""}
            return Response.html(200, pages.phone_paired_page(name, me["id"]))
        if outcome == ALREADY_LINKED:
            return Response.html(200, pages.phone_already_page(name))
        return Response.html(410, pages.phone_expired_page(name))

    @route("GET", f"/contacts/{SEGMENT}")
    def contacts(self, req: Request) -> Response:
        return self._contacts(req.params["name"], fragment=req.query.get("fragment") == "log")

    @route("POST", f"/contacts/{SEGMENT}")
    def contacts_post(self, req: Request) -> Response:
        form = req.form()
        body = {
            "from": form.get("from"),
            "body": form.get("text", ""),
            "lid": bool(form.get("lid")),
        }
        if form.get("name"):
            body["pushName"] = form["name"]
        try:
            self.sim.inbound(req.params["name"], body)
            notice = "Sent."
        except SimError as exc:
            notice = exc.message
        return self._contacts(req.params["name"], notice=notice, form=form)

    def _contacts(self, name: str, *, fragment: bool = False, **kwargs: Any) -> Response:
        with self.sim.lock:
            session = self.sim.sessions.get(name)
            if session is None:
                return Response.html(404, pages.not_found_page(f"No session named {name!r}."))
            messages, status = list(session.messages), session.status
        if fragment:
            return Response.html(200, pages.message_log(messages))
        return Response.html(200, pages.contacts_page(name, status, messages, **kwargs))

    # -- simulator controls --

    @route("GET", "/_sim/state")
    def state(self, req: Request) -> Response:
        return Response.json(200, self.sim.snapshot())

    @route("GET", "/_sim/webhooks")
    def webhook_log(self, req: Request) -> Response:
        return Response.json(200, {"deliveries": self.sim.webhooks.log()})

    @route("GET", "/_sim/config")
    def config(self, req: Request) -> Response:
        return Response.json(200, self.sim.knobs.as_dict())

    @route("POST", "/_sim/config")
    def configure(self, req: Request) -> Response:
        with self.sim.lock:
            knobs = self.sim.knobs.copy()
            knobs.update(req.json())
            self.sim.knobs = knobs
            return Response.json(200, knobs.as_dict())

    @route("POST", "/_sim/reset")
    def reset(self, req: Request) -> Response:
        self.sim.reset()
        return Response.json(200, {"reset": True})

    @route("POST", f"/_sim/sessions/{SEGMENT}/inbound")
    def inbound(self, req: Request) -> Response:
        return Response.json(200, self.sim.inbound(req.params["name"], req.json()))

    @route("GET", f"/_sim/sessions/{SEGMENT}")
    def sim_session(self, req: Request) -> Response:
        for session in self.sim.snapshot()["sessions"]:
            if session["name"] == req.params["name"]:
                return Response.json(200, session)
        raise SimError(404, f"Session '{req.params['name']}' does not exist")

    @route("POST", f"/_sim/sessions/{SEGMENT}/enter-code")
    def enter_code(self, req: Request) -> Response:
        outcome = self.sim.pair_with_code(req.params["name"], str(req.json().get("code") or ""))
        return Response.json(200 if outcome == PAIRED else 409, {"outcome": outcome})

    @route("POST", f"/_sim/sessions/{SEGMENT}/drop")
    def drop(self, req: Request) -> Response:
        body = req.json()
        status = str(body.get("status") or "STOPPED")
        result = self.sim.drop(req.params["name"], status, logout=bool(body.get("logout")))
        return Response.json(200, result)


def _json_or_empty(status: int, data: Any) -> Response:
    # WAHA answers some calls with no body at all where its handler returned nothing.
    return Response(status, b"") if data is None else Response.json(status, data)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "WAHA-Simulator/1.0"
    # Headers and body go out in separate writes; with Nagle on, keep-alive clients stall ~40 ms.
    disable_nagle_algorithm = True
    server: SimulatorServer

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            logger.info("%s %s", self.address_string(), format % args)

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        query = {key: items[-1] for key, items in parse_qs(parts.query).items()}
        req = Request(method, parts.path, query, self.headers, body)
        try:
            response = self._handle(req)
        except SimError as exc:
            # NotReady and Evolution's errors carry their gateway's own body shape.
            body = getattr(exc, "body", None) or error_body(exc.status, exc.message)
            response = Response.json(exc.status, body)
        except Exception:
            logger.exception("simulator handler failed path=%s", parts.path)
            response = Response.json(500, error_body(500, "Simulator error"))
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(response.body)
        if method != "GET":
            self.server.sim.touch()

    def _handle(self, req: Request) -> Response:
        sim = self.server.sim
        common = req.path.startswith(COMMON_PREFIXES)
        controls = req.path.startswith("/_sim/") and req.method != "GET"
        if controls and not (
            self._key_ok("X-Api-Key", sim.api_key) or self._key_ok("apikey", sim.api_key)
        ):
            raise SimError(401, "Unauthorized")
        if sim.flavor.provider == "evolution" and not common:
            if evolution.is_api_path(req.path):
                self._effects(sim)
            return evolution.dispatch(self.server.evolution_api, req, self.headers)
        if req.path.startswith("/api/"):
            knobs = sim.knobs
            self._effects(sim)
            if knobs.reject_key or (
                not knobs.key_not_enforced and not self._key_ok("X-Api-Key", sim.api_key)
            ):
                raise SimError(401, "Unauthorized")
        allowed = False
        for method, pattern, fn in ROUTES:
            match = pattern.match(req.path)
            if match is None:
                continue
            allowed = True
            if method == req.method:
                req.params = {key: unquote(value) for key, value in match.groupdict().items()}
                return fn(self.server.api, req)
        if allowed:
            raise SimError(405, f"Method {req.method} not allowed on {req.path}")
        raise SimError(404, f"Cannot {req.method} {req.path}")

    @staticmethod
    def _effects(sim: Simulator) -> None:
        knobs = sim.knobs
        if knobs.latency_ms:
            time.sleep(knobs.latency_ms / 1000)
        if knobs.failure_rate and random.random() < knobs.failure_rate:
            raise SimError(500, "Simulated gateway failure")

    def _key_ok(self, header: str, expected: str) -> bool:
        given = self.headers.get(header) or ""
        return hmac.compare_digest(given.encode(), expected.encode())


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        sim: Simulator,
        *,
        verbose: bool = False,
        state_file: StateFile | None = None,
    ) -> None:
        self.sim = sim
        self.api = Api(sim)
        self.evolution_api = evolution.EvolutionApi(sim)
        self.verbose = verbose
        self.state_file = state_file
        super().__init__(address, Handler)

    def server_close(self) -> None:
        super().server_close()
        if self.state_file is not None:
            self.state_file.stop()
        self.sim.close()


def make_server(
    *,
    api_key: str,
    host: str = "127.0.0.1",
    port: int = 3000,
    public_url: str | None = None,
    knobs: Knobs | None = None,
    verbose: bool = False,
    flavor: str = DEFAULT_FLAVOR,
    state_file: str | None = None,
) -> SimulatorServer:
    """Bind the server (port 0 picks a free one); public_url defaults to http://localhost:{port}.

    With `state_file`, sessions are loaded from it (when it exists) and saved to it as they
    change, so they survive a restart as a real gateway's do on a volume."""
    if not api_key:
        raise ValueError("The simulator needs an API key (WAHA_API_KEY), as WAHA does")
    # The public URL is only known once the port is bound, so the simulator gets it afterwards.
    sim = Simulator(api_key=api_key, public_url="", knobs=knobs, flavor=flavor)
    if sim.flavor.provider == "evolution":
        sim.event_sink = evolution.emit
    try:
        server = SimulatorServer((host, port), sim, verbose=verbose)
    except OSError:
        sim.close()
        raise
    sim.public_url = (public_url or f"http://localhost:{server.server_address[1]}").rstrip("/")
    if state_file:
        server.state_file = StateFile(state_file, sim)
        server.state_file.load()
        server.state_file.start()
    return server


def serve(**kwargs: Any) -> None:
    """Run until interrupted (used by `python -m gateway_simulator` and the Django command)."""
    server = make_server(**kwargs)
    host, port = server.server_address[:2]
    print(
        f"Gateway simulator ({server.sim.flavor.name}) listening on http://{host}:{port} "
        f"(QR links: {server.sim.public_url})",
        flush=True,
    )
    # A supervisor or honcho stops us with SIGTERM: save the state file on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
