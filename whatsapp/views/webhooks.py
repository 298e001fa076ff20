"""The gateway webhook: verify, store once, answer at once. Processing happens in the scheduler."""

from __future__ import annotations

import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from booqing.exceptions import ApplicationError
from whatsapp.services.timeline import webhook_delivery_recorded
from whatsapp.services.webhooks import MAX_WEBHOOK_BYTES, webhook_ingest

logger = logging.getLogger(__name__)


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


@csrf_exempt  # gateways cannot send our CSRF token; the per-device signature authenticates them
@require_POST
def receive(request, webhook_id):
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
        stored = webhook_ingest(webhook_id=webhook_id, body=body, headers=request.headers)
    except ApplicationError as exc:
        logger.info("webhook refused webhook=%s code=%s", webhook_id, exc.code)
        webhook_delivery_recorded(webhook_id=webhook_id, code=exc.code, reason=exc.message)
        return _error(exc.status, exc.code, exc.message)
    webhook_delivery_recorded(webhook_id=webhook_id)
    return JsonResponse({"ok": True, "events": stored})
