"""A real HTTP listener for event deliveries, and the task backend that delivers at once."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

IMMEDIATE = {
    "default": {
        "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        "QUEUES": ["default", "events"],
    }
}


class Listener:
    """A real HTTP server in a thread on a free port, answering with the next queued status."""

    def __init__(self):
        self.received: list[tuple[dict, bytes]] = []
        self.statuses: list[int] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                listener.received.append((dict(self.headers.items()), body))
                status = listener.statuses.pop(0) if listener.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"no")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/booqing/events"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def events(self, secret: str) -> list[dict]:
        """Every delivery, verified with the standardwebhooks library itself."""
        return [Webhook(secret).verify(body, headers) for headers, body in self.received]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
