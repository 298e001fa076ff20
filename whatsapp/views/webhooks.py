"""The gateway webhook: verify, store once, answer at once. Processing happens in the scheduler."""

from __future__ import annotations

import logging

from django.db import OperationalError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from whatsapp.json_errors import api_status
from whatsapp.services.timeline import webhook_delivery_recorded
from whatsapp.services.webhooks import MAX_WEBHOOK_BYTES, webhook_ingest

logger = logging.getLogger(__name__)
DATABASE_BUSY_RETRY_AFTER = 5


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


@csrf_exempt  # gateways cannot send our CSRF token; the URL's token (and signature) authenticate
@require_POST
def receive(request, webhook_id, token: str | None = None):
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_WEBHOOK_BYTES:
        return _error(413, "too_large", f"Webhook bodies are limited to {MAX_WEBHOOK_BYTES} bytes.")
    body = request.read(MAX_WEBHOOK_BYTES + 1)
    if len(body) > MAX_WEBHOOK_BYTES:
        return _error(413, "too_large", f"Webhook bodies are limited to {MAX_WEBHOOK_BYTES} bytes.")
    try:
        stored = webhook_ingest(
            webhook_id=webhook_id, body=body, headers=request.headers, token=token
        )
    except ApplicationError as exc:
        logger.info("webhook refused webhook=%s code=%s", webhook_id, exc.code)
        webhook_delivery_recorded(webhook_id=webhook_id, code=exc.code, reason=exc.message)
        return _error(api_status(exc), exc.code, exc.message)
    except OperationalError:
        # Every pooled connection is busy (or PostgreSQL is full): nothing was stored, and the
        # gateway retries a 503 after Retry-After, so the message is delayed, not lost.
        logger.warning("webhook deferred: database busy webhook=%s", webhook_id)
        response = _error(503, "database_busy", "Busy: retry this delivery shortly.")
        response["Retry-After"] = str(DATABASE_BUSY_RETRY_AFTER)
        return response
    webhook_delivery_recorded(webhook_id=webhook_id)
    return JsonResponse({"ok": True, "events": stored})
