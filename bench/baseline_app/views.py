"""Baseline views: the least Django can do for each benchmarked request, with one SQL statement."""

from __future__ import annotations

import json

from django.db import connection
from django.http import HttpResponse, JsonResponse

CONFIG_COLUMNS = (
    "id",
    "tenant_id",
    "endpoint_name",
    "auto_reconnect",
    "reconnect_interval",
    "health_check_interval",
    "webhook_retries",
    "message_timeout",
    "is_configured",
    "health_status",
    "last_health_check",
    "created_at",
    "updated_at",
)
CONFIG_SQL = f"SELECT {', '.join(CONFIG_COLUMNS)} FROM tenant_whatsapp_config WHERE id = %s"
INSERT_SQL = (
    "INSERT INTO whatsapp_webhookevent "
    "(device_id, event_id, kind, payload, status, attempts, last_error, received_at) "
    "VALUES (%s, %s, %s, %s::jsonb, 'pending', 0, '', now()) "
    "ON CONFLICT (device_id, event_id) DO NOTHING"
)


def _jsonable(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)


def ping(request):
    return HttpResponse("ok")


def config_by_pk(request, config_id):
    """GET: one primary-key SELECT, the row as JSON (same fields as the product's reply)."""
    with connection.cursor() as cursor:
        cursor.execute(CONFIG_SQL, [config_id])
        row = cursor.fetchone()
    if row is None:
        return JsonResponse({"config": None}, status=404)
    config = {k: _jsonable(v) for k, v in zip(CONFIG_COLUMNS, row, strict=True)}
    return JsonResponse({"config": config})


def webhook_insert(request, device_id):
    """POST: parse the JSON body and store it with one INSERT ... ON CONFLICT DO NOTHING."""
    body = request.body
    event = json.loads(body)
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT_SQL, [device_id, str(event["id"])[:200], str(event["event"])[:30], body.decode()]
        )
    return JsonResponse({"ok": True, "events": 1})
