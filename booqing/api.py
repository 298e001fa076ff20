"""The JSON API object: its routers, its authentication, and one error shape for every failure."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.db import OperationalError
from django.http import Http404, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.http.request import RawPostDataException
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from core.errors import ApplicationError, ErrorKind
from whatsapp.api import router as whatsapp_router
from whatsapp.api.auth import SessionAuth, TenantTokenAuth
from whatsapp.json_errors import api_status
from whatsapp.limits import RateLimited
from whatsapp.text import has_unstorable

logger = logging.getLogger(__name__)
# Seconds a client should wait before retrying when the database had no connection to spare.
DATABASE_BUSY_RETRY_AFTER = 5


def error_response(status: int, code: str, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, **extra}}, status=status)


def _validation_message(errors: list[dict]) -> str:
    parts = []
    for error in errors[:5]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "payload"))
        parts.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    return "Invalid request. " + "; ".join(parts)


class UnstorableText(ApplicationError):
    """A NUL or an unpaired surrogate in the caller's input: no database column can hold it."""

    kind = ErrorKind.MALFORMED

    def __init__(self, where: str):
        super().__init__(
            f"The {where} contains a NUL character or an unpaired UTF-16 surrogate (such as "
            "\\u0000 or \\ud800), which cannot be stored. Remove it and send again.",
            "invalid_text",
        )


class StrictJsonParser(Parser):
    """JSON bodies only, with text a database can store; query strings checked the same way."""

    def parse_body(self, request):
        if request.content_type and request.content_type != "application/json":
            # Multipart and form bodies are not part of this API. Reading them would also
            # consume the stream that the JSON parser needs (RawPostDataException).
            raise UnsupportedBody(request.content_type)
        data = json.loads(request.body)
        if has_unstorable(data):
            raise UnstorableText("request body")
        return data

    def parse_querydict(self, data, list_fields, request):
        result = super().parse_querydict(data, list_fields, request)
        if has_unstorable(result):
            raise UnstorableText("query string")
        return result


class UnsupportedBody(Exception):
    def __init__(self, content_type: str):
        super().__init__(content_type)
        self.content_type = content_type


SCOPE_TEXT = {
    "messages": "a token with the `messages` scope (the default)",
    "devices": "a token with the `devices` scope",
    "any": "a token with any scope",
    "none": "no token (a superadmin's session only)",
}
SESSION_TEXT = {
    "admin": "a workspace admin's session",
    "superadmin": "a superadmin's session",
    None: "a workspace member's session",
}


class BooqingAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI schema says who may call each operation (session and token scope)."""

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if not isinstance(operation, dict) or "operationId" not in operation:
                    continue
                scope = operation.setdefault("x-token-scope", "messages")
                role = operation.get("x-session-role")
                who = f"**Who may call:** {SESSION_TEXT[role]}, or {SCOPE_TEXT[scope]}."
                if scope == "none":
                    who = f"**Who may call:** {SESSION_TEXT[role]} (API tokens are refused)."
                if who not in (operation.get("description") or ""):  # (ninja may reuse it)
                    operation["description"] = "\n\n".join(
                        part for part in (operation.get("description"), who) if part
                    )
                _document_errors(operation)
        bearer = schema.get("components", {}).get("securitySchemes", {}).get("TenantTokenAuth")
        if bearer is not None:
            bearer["description"] = TOKEN_DESCRIPTION
        return schema


# Every error any operation can answer (each route declares them with ErrorOut, the one shape:
# whatsapp/api/schemas.py); the OpenAPI document says when each one happens.
ERRORS = {
    "400": "Bad request: a body that is not JSON (or not application/json), a NUL or lone "
    "surrogate in text (invalid_text), an invalid cursor, or no tenant for a session on the "
    "platform host (tenant_required).",
    "401": "No valid session or API token.",
    "403": "Not allowed: not a member, not an admin, a token of another workspace or without the "
    "needed scope (insufficient_scope), or a session write without its CSRF token.",
    "404": "No such object in this workspace.",
    "405": "Method not allowed.",
    "409": "Conflict with the current state, e.g. a per-tenant limit reached.",
    "413": "Request body over the size limit (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB by default).",
    "422": "Invalid input; `details` lists each field's problem.",
    "429": "Too many requests with this API token; see Retry-After.",
    "502": "The WhatsApp gateway answered with an error or not at all.",
    "503": "The gateway or the database is busy or unhealthy; see Retry-After where present.",
}


def _document_errors(operation: dict) -> None:
    responses = operation.setdefault("responses", {})
    for status, text in ERRORS.items():
        # ninja keys the statuses each route declares as ints; JSON makes every key a string.
        response = responses.pop(int(status), None) or responses.get(status)
        response = response or {
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
        }
        response["description"] = text  # ninja's is the bare reason phrase
        responses[status] = response


TOKEN_DESCRIPTION = (
    "A tenant API token (`bqw_...`), created by a workspace admin on the API tokens page. "
    "Scopes: `messages` (the default) sends and reads messages and conversations; `devices` "
    "adds, pairs, restarts, logs out and deletes devices. Each operation names the scope it needs."
)


api = BooqingAPI(
    title="BooQing WhatsApp API",
    version="1.0",
    description=(
        "Tenant WhatsApp configuration, devices and messages. Bodies are JSON "
        "(Content-Type: application/json) of at most 2.5 MB; text may not contain NUL or unpaired "
        'surrogate characters. Every error is `{"error": {"code", "message"}}`.'
    ),
    urls_namespace="api",
    auth=[TenantTokenAuth(), SessionAuth()],
    docs_url="/docs",
    openapi_url="/openapi.json",
    parser=StrictJsonParser(),
)


@api.exception_handler(ValidationError)
def _on_validation_error(request, exc: ValidationError):
    safe = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors]
    return error_response(422, "validation_error", _validation_message(exc.errors), details=safe)


@api.exception_handler(AuthenticationError)
def _on_authentication_error(request, exc):
    return error_response(
        401,
        "unauthorized",
        "Authentication required: log in, or send 'Authorization: Bearer <tenant API token>'.",
    )


@api.exception_handler(HttpError)
def _on_http_error(request, exc: HttpError):
    if exc.status_code == 403 and "CSRF" in str(exc):
        return error_response(
            403, "csrf_failed", "CSRF check failed: send the X-CSRFToken header with the cookie."
        )
    cause = exc.__cause__
    if isinstance(cause, UnsupportedBody):
        # 400 (not 415) like any other body that is not JSON: one answer for clients to handle.
        return error_response(
            400,
            "bad_request",
            f"Bodies must be JSON (Content-Type: application/json), not {cause.content_type}.",
        )
    if isinstance(cause, ApplicationError):
        return _on_application_error(request, cause)
    if exc.status_code == 400:
        return error_response(400, "bad_request", "The request body is not valid JSON.")
    return error_response(exc.status_code, "http_error", str(exc))


@api.exception_handler(ApplicationError)
def _on_application_error(request, exc: ApplicationError):
    return error_response(api_status(exc), exc.code, exc.message)


@api.exception_handler(RateLimited)
def _on_rate_limited(request, exc: RateLimited):
    response = error_response(429, exc.code, exc.message)
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(Http404)
def _on_not_found(request, exc):
    return error_response(404, "not_found", str(exc) or "Not found.")


@api.exception_handler(PermissionDenied)
def _on_forbidden(request, exc):
    return error_response(403, "forbidden", str(exc) or "You may not do that.")


@api.exception_handler(RequestDataTooBig)
def _on_too_big(request, exc):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_response(413, "request_too_large", f"Request bodies are limited to {limit} bytes.")


@api.exception_handler(SuspiciousOperation)
@api.exception_handler(MultiPartParserError)
@api.exception_handler(UnreadablePostError)
@api.exception_handler(RawPostDataException)
def _on_unreadable_body(request, exc):
    # Django raises these while reading a body it cannot parse (a form or multipart body read
    # by the CSRF check, too many fields, a broken boundary): the client's mistake, not ours.
    logger.info("api unreadable body path=%s error=%s", request.path, type(exc).__name__)
    return error_response(
        400,
        "bad_request",
        "The request body could not be read: send JSON with Content-Type: application/json.",
    )


@api.exception_handler(OperationalError)
def _on_database_busy(request, exc):
    # The pool had no free connection in time (or PostgreSQL refused one): a retryable 503.
    logger.warning("api database busy path=%s error=%s", request.path, type(exc).__name__)
    response = error_response(503, "database_busy", "The service is busy; retry in a few seconds.")
    response["Retry-After"] = str(DATABASE_BUSY_RETRY_AFTER)
    return response


@api.exception_handler(Exception)
def _on_unexpected(request, exc):
    # Never return a traceback (ninja's DEBUG default would): it could contain a gateway key.
    logger.exception("api error path=%s", request.path)
    return error_response(500, "server_error", "Something went wrong on our side; it was logged.")


@csrf_exempt  # a 404 has no effect to protect; without this a POST got an HTML CSRF page
def api_not_found(request, path: str = ""):
    """Unknown /api/ URLs answer JSON too."""
    return error_response(404, "not_found", f"No API endpoint at /api/{path}.")


class ApiErrorMiddleware:
    """Turns django-ninja's plain-text 405 ("Method not allowed") into our JSON error shape."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 405
            and request.path.startswith("/api/")
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            allowed = response.get("Allow", "")
            replacement = error_response(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed here; use {allowed or 'another method'}.",
            )
            if allowed:
                replacement["Allow"] = allowed
            return replacement
        return response


api.add_router("/whatsapp/", whatsapp_router)
