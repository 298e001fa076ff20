"""Minimal request/response objects and a decorator-based route table for the simulator."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from gateway_simulator.state import SimError


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Any
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            data = json.loads(self.body)
        except ValueError:
            raise SimError(400, "Request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise SimError(400, "Request body must be a JSON object")
        return data

    def form(self) -> dict[str, str]:
        values = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: items[-1] for key, items in values.items()}


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, data: Any) -> Response:
        return cls(status, json.dumps(data).encode())

    @classmethod
    def html(cls, status: int, text: str) -> Response:
        return cls(status, text.encode(), "text/html; charset=utf-8")


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"statusCode": status, "message": message, "error": HTTPStatus(status).phrase}


Route = tuple[str, "re.Pattern[str]", Callable[..., Response]]
ROUTES: list[Route] = []
SEGMENT = r"(?P<name>[^/]+)"


def route(
    method: str, pattern: str
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    def register(fn: Callable[..., Response]) -> Callable[..., Response]:
        ROUTES.append((method, re.compile(f"^{pattern}$"), fn))
        return fn

    return register


def render_png(value: str) -> bytes | None:
    try:
        import segno  # optional: the server itself is stdlib only
    except ImportError:
        return None
    buffer = io.BytesIO()
    segno.make(value, error="m").save(buffer, kind="png", scale=6, border=2)
    return buffer.getvalue()
