"""The JSON surfaces' map from an ApplicationError's kind to its HTTP status (the API and the
webhook receiver answer with it)."""

from __future__ import annotations

from core.errors import ApplicationError, ErrorKind

API_STATUS: dict[ErrorKind, int] = {
    ErrorKind.MALFORMED: 400,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.INVALID: 422,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.GATEWAY: 502,
    ErrorKind.UNAVAILABLE: 503,
}


def api_status(exc: ApplicationError) -> int:
    return API_STATUS[exc.kind]
