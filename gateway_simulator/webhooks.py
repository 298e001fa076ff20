"""Outgoing WAHA webhooks: envelope, HMAC signing, background delivery, retries, delivery log."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import logging
import random
import threading
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gateway_simulator.scheduler import Scheduler
from gateway_simulator.state import Knobs, new_event_id, now_ms

logger = logging.getLogger(__name__)

LOG_SIZE = 500
SHUFFLE_MAX_DELAY = 0.25
# Answers Evolution never retries (its webhook controller gives up on them at once).
_FINAL_STATUSES = frozenset({400, 401, 403, 404, 422})


def sign(body: bytes, key: str) -> str:
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def wants(hook: dict[str, Any], event: str) -> bool:
    events = hook.get("events")
    if not events:
        return True
    # Evolution subscribes with MESSAGES_UPSERT and sends "messages.upsert".
    spelled = {event, event.upper().replace(".", "_")}
    return bool(spelled & set(events)) or "*" in events


@dataclass(frozen=True)
class Style:
    """How a gateway delivers: signed and retried (WAHA Plus), bare (Core), or Evolution's way."""

    sign: bool = True
    retries: bool = True
    # WAHA Plus retries any failure; Evolution never retries 400/401/403/404/422.
    retry_client_errors: bool = True
    request_headers: bool = True  # X-Webhook-Request-Id and -Timestamp (WAHA Plus)
    user_agent: str = "WAHA-Simulator/1.0"
    default_attempts: int = 3
    default_delay: float = 2.0


PLUS_STYLE = Style()


@dataclass
class Delivery:
    url: str
    body: bytes
    hmac_key: str | None
    attempts: int
    delay: float
    policy: str
    request_id: str
    entry: dict[str, Any]
    tried: int = 0
    extra_headers: dict[str, str] = field(default_factory=dict)
    style: Style = PLUS_STYLE

    def backoff(self) -> float:
        # tried is 1 after the first failure, so the first retry waits delaySeconds.
        if self.policy == "constant":
            return self.delay
        if self.policy == "linear":
            return self.delay * self.tried
        return self.delay * 2 ** (self.tried - 1)


class WebhookDispatcher:
    def __init__(
        self, scheduler: Scheduler, knobs: Callable[[], Knobs], *, workers: int = 8
    ) -> None:
        self._scheduler = scheduler
        self._knobs = knobs
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sim-webhook")
        self._lock = threading.Lock()
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self._local = threading.local()
        self._closed = False

    def emit(
        self,
        *,
        hooks: list[dict[str, Any]],
        event: str,
        session: str,
        metadata: Any = None,
        me: Any = None,
        payload: dict[str, Any] | None = None,
        envelope: dict[str, Any] | None = None,
        style: Style = PLUS_STYLE,
    ) -> str | None:
        """Queue one event to every subscribed webhook; returns the envelope id, if it has one.

        Without `envelope`, a WAHA Plus envelope is built around `payload`."""
        if envelope is None:
            envelope = {
                "id": new_event_id(),
                "timestamp": now_ms(),
                "event": event,
                "session": session,
                "metadata": metadata,
                "me": me,
                "engine": "SIMULATOR",
                "environment": {"version": "sim-1.0", "engine": "SIMULATOR", "tier": "PLUS"},
                "payload": payload,
            }
        # Serialised once: the HMAC covers these exact bytes, duplicates and retries included.
        body = json.dumps(envelope, separators=(",", ":")).encode()
        knobs = self._knobs()
        event_id = envelope.get("id") if isinstance(envelope.get("id"), str) else None
        for hook in hooks:
            if not wants(hook, event):
                continue
            copies = 2 if random.random() < knobs.duplicate_rate else 1
            for copy in range(1, copies + 1):
                self._queue(hook, body, event, session, event_id, copy, knobs, style)
        return event_id

    def _queue(
        self,
        hook: dict[str, Any],
        body: bytes,
        event: str,
        session: str,
        event_id: str | None,
        copy: int,
        knobs: Knobs,
        style: Style,
    ) -> None:
        retries = hook.get("retries") if isinstance(hook.get("retries"), dict) else {}
        hmac_conf = hook.get("hmac") if isinstance(hook.get("hmac"), dict) else {}
        headers = {}
        for item in hook.get("customHeaders") or []:
            if isinstance(item, dict) and item.get("name"):
                headers[str(item["name"])] = str(item.get("value", ""))
        entry = {
            "event_id": event_id,
            "event": event,
            "session": session,
            "url": hook["url"],
            "copy": copy,
            "state": "pending",
            "status_code": None,
            "attempts": 0,
            "error": None,
            "created_at": now_ms(),
        }
        delivery = Delivery(
            url=str(hook["url"]),
            body=body,
            hmac_key=(hmac_conf.get("key") or None) if style.sign else None,
            attempts=(
                max(1, int(_number(retries.get("attempts"), style.default_attempts)))
                if style.retries
                else 1
            ),
            delay=max(0.0, _number(retries.get("delaySeconds"), style.default_delay)),
            policy=str(retries.get("policy") or "exponential"),
            request_id=str(uuid.uuid4()),
            entry=entry,
            extra_headers=headers,
            style=style,
        )
        with self._lock:
            self._log.append(entry)
        if not knobs.webhooks_enabled:
            entry["state"] = "suppressed"
            return
        delay = random.uniform(0, SHUFFLE_MAX_DELAY) if knobs.shuffle_webhooks else 0.0
        if delay:
            self._scheduler.call_later(delay, self._submit, delivery)
        else:
            self._submit(delivery)

    def _submit(self, delivery: Delivery) -> None:
        if self._closed:
            return
        with contextlib.suppress(RuntimeError):  # the pool is shutting down
            self._pool.submit(self._attempt, delivery)

    def _attempt(self, delivery: Delivery) -> None:
        delivery.tried += 1
        status, error = self._post(delivery)
        with self._lock:
            entry = delivery.entry
            entry["attempts"] = delivery.tried
            entry["status_code"] = status
            entry["error"] = error
            ok = status is not None and 200 <= status < 300
            retry = not ok and delivery.tried < delivery.attempts
            if retry and not delivery.style.retry_client_errors and status in _FINAL_STATUSES:
                retry = False
            if ok:
                entry["state"] = "delivered"
            elif retry:
                entry["state"] = "retrying"
            else:
                entry["state"] = "failed"
        if retry:
            self._scheduler.call_later(delivery.backoff(), self._submit, delivery)
        elif not ok:
            logger.warning(
                "webhook gave up event=%s url=%s status=%s error=%s",
                delivery.entry["event"],
                _safe_url(delivery.url),
                status,
                error,
            )

    def _post(self, delivery: Delivery) -> tuple[int | None, str | None]:
        parts = urlsplit(delivery.url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"Content-Type": "application/json", "User-Agent": delivery.style.user_agent}
        if delivery.style.request_headers:
            headers["X-Webhook-Request-Id"] = delivery.request_id
            headers["X-Webhook-Timestamp"] = str(now_ms())
        headers.update(delivery.extra_headers)
        if delivery.hmac_key:
            headers["X-Webhook-Hmac"] = sign(delivery.body, delivery.hmac_key)
            headers["X-Webhook-Hmac-Algorithm"] = "sha512"
        # A kept-alive connection may have been closed by the receiver meanwhile: one fresh retry.
        for fresh in (False, True):
            conn = self._connection(parts.scheme, parts.netloc, fresh=fresh)
            try:
                conn.request("POST", path, body=delivery.body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.will_close:
                    self._drop(parts.scheme, parts.netloc)
                return response.status, None
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(parts.scheme, parts.netloc)
                if fresh:
                    return None, type(exc).__name__
            except (OSError, http.client.HTTPException) as exc:
                self._drop(parts.scheme, parts.netloc)
                return None, f"{type(exc).__name__}: {exc}"
        return None, "unreachable"

    def _connection(self, scheme: str, netloc: str, *, fresh: bool) -> http.client.HTTPConnection:
        conns: dict[tuple[str, str], http.client.HTTPConnection] = getattr(self._local, "conns", {})
        self._local.conns = conns
        key = (scheme, netloc)
        if fresh or key not in conns:
            self._drop(scheme, netloc)
            timeout = self._knobs().webhook_timeout
            cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            conns[key] = cls(netloc, timeout=timeout)
        return conns[key]

    def _drop(self, scheme: str, netloc: str) -> None:
        conns = getattr(self._local, "conns", {})
        conn = conns.pop((scheme, netloc), None)
        if conn is not None:
            conn.close()

    def log(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._log]

    def reset(self) -> None:
        with self._lock:
            self._log.clear()

    def close(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)


def _number(value: Any, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _safe_url(url: str) -> str:
    # Receivers may carry a per-device token in the path or query: log the origin only.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}"
