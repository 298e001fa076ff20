"""Reply schemas every API module shares: the one error shape, and `{"success": true}`."""

from __future__ import annotations

from ninja import Schema
from pydantic import ConfigDict, Field


class ErrorBody(Schema):
    # Some errors add fields (a validation error's `details`), hence extra="allow".
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="Stable, for programs.")
    message: str = Field(description="A sentence for people.")


class ErrorOut(Schema):
    """Every error reply: `{"error": {"code": "...", "message": "..."}}`."""

    error: ErrorBody


# Every status an error can have (booqing/api.py describes each one in the OpenAPI document).
ERROR_STATUSES = frozenset({400, 401, 403, 404, 405, 409, 413, 422, 429, 502, 503})
# Spread into each route's `response=`: `response={200: DeviceOut, **ERRORS}`.
ERRORS = {ERROR_STATUSES: ErrorOut}


class SuccessOut(Schema):
    success: bool
