"""Errors raised by services when a business rule says no; views and the API answer with them."""

from __future__ import annotations


class ApplicationError(Exception):
    """A rule was broken. `message` is a sentence a person can act on; `code` is for API clients."""

    status = 400

    def __init__(self, message: str, code: str = "invalid", *, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        if status is not None:
            self.status = status


class NotFoundError(ApplicationError):
    status = 404
