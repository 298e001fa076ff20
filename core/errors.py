"""Errors raised by services when a business rule says no. Each carries a kind, never an HTTP
status: the JSON API and the pages each map kinds to what they answer."""

from __future__ import annotations

import enum


class ErrorKind(enum.Enum):
    """What sort of "no" it is; one map per surface turns it into a status."""

    # The request cannot be read as one: a broken cursor or webhook body, a NUL in text, a call
    # without the tenant it needs.
    MALFORMED = "malformed"
    # The caller could not prove who it is (a webhook without a valid signature).
    UNAUTHENTICATED = "unauthenticated"
    # The caller is known but may not do this (a token without the needed scope).
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    # The current state says no: a limit reached, already connected, not configured yet.
    CONFLICT = "conflict"
    # Readable input that breaks a rule: an empty body, a name taken, an unknown endpoint.
    INVALID = "invalid"
    RATE_LIMITED = "rate_limited"
    # The WhatsApp gateway answered with an error or not at all.
    GATEWAY = "gateway"
    # Something we depend on is known to be unhealthy right now: retry later.
    UNAVAILABLE = "unavailable"


class ApplicationError(Exception):
    """A rule was broken. `message` is a sentence a person can act on; `code` is for API clients;
    `kind` says what sort of refusal it is."""

    kind = ErrorKind.INVALID

    def __init__(self, message: str, code: str = "invalid", *, kind: ErrorKind | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        if kind is not None:
            self.kind = kind


class NotFoundError(ApplicationError):
    kind = ErrorKind.NOT_FOUND
