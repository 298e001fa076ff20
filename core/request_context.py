"""The current request id (and tenant) for log lines, carried into gateway calls and tasks."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_tenant: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="")
# The request itself: its tenant is only known once the tenant middleware ran, later than us.
_request: contextvars.ContextVar[object | None] = contextvars.ContextVar("request", default=None)

# An incoming X-Request-ID is kept only when it looks like an id: it goes into every log line,
# so it must not be a way to inject text (or a newline) into the logs.
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def new_request_id(incoming: str | None = None) -> str:
    if incoming and _SAFE_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def current_request_id() -> str:
    return _request_id.get()


def current_tenant() -> str:
    tenant = getattr(_request.get(), "tenant", None)
    return getattr(tenant, "subdomain", None) or _tenant.get()


@contextlib.contextmanager
def request_context(request_id: str = "", tenant: str = "", request=None) -> Iterator[str]:
    """Run a block (a request, a task) under a request id; a blank one gets a fresh id."""
    rid = new_request_id(request_id)
    tokens = (_request_id.set(rid), _tenant.set(tenant or ""), _request.set(request))
    try:
        yield rid
    finally:
        _request_id.reset(tokens[0])
        _tenant.reset(tokens[1])
        _request.reset(tokens[2])


def task_kwargs() -> dict[str, str]:
    """Extra task arguments that carry the current request id to the work it enqueues (an id,
    like every task argument; nothing when there is no request)."""
    rid = _request_id.get()
    return {"request_id": rid} if rid else {}


class RequestContextFilter(logging.Filter):
    """Adds `request_id` and `tenant` to every record (blank outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = _request_id.get() or "-"
        if not getattr(record, "tenant", ""):
            record.tenant = current_tenant() or "-"
        return True


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line (LOG_FORMAT=json): what log shippers parse without rules."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)
