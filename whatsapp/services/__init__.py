"""Use cases of the WhatsApp integration, one module per area; import them from here."""

from whatsapp.services.config import (
    audit_record,
    config_update,
    endpoint_assign,
    endpoint_remove,
    validate_endpoint_name,
)
from whatsapp.services.devices import (
    QrInfo,
    device_apply_status_event,
    device_create,
    device_delete,
    device_logout,
    device_pairing_start,
    device_qr,
    device_refresh_status,
    device_restart,
    devices_reconnect_due,
)
from whatsapp.services.health import (
    endpoint_connection_test,
    endpoint_probe,
    health_sweep,
    probes_prune,
)
from whatsapp.services.messages import (
    conversation_mark_read,
    message_ack_apply,
    message_deliver,
    message_receive,
    message_retry,
    message_send,
    messages_requeue_stale,
    normalise_phone,
)
from whatsapp.services.tokens import api_token_authenticate, api_token_create, api_token_revoke
from whatsapp.services.webhooks import (
    webhook_event_process,
    webhook_event_retry,
    webhook_events_process_due,
    webhook_ingest,
)

__all__ = [
    "QrInfo",
    "api_token_authenticate",
    "api_token_create",
    "api_token_revoke",
    "audit_record",
    "config_update",
    "conversation_mark_read",
    "device_apply_status_event",
    "device_create",
    "device_delete",
    "device_logout",
    "device_pairing_start",
    "device_qr",
    "device_refresh_status",
    "device_restart",
    "devices_reconnect_due",
    "endpoint_assign",
    "endpoint_connection_test",
    "endpoint_probe",
    "endpoint_remove",
    "health_sweep",
    "message_ack_apply",
    "message_deliver",
    "message_receive",
    "message_retry",
    "message_send",
    "messages_requeue_stale",
    "normalise_phone",
    "probes_prune",
    "validate_endpoint_name",
    "webhook_event_process",
    "webhook_event_retry",
    "webhook_events_process_due",
    "webhook_ingest",
]
