"""Messages arriving in the team inbox, as the webhook hands them to the service."""

from __future__ import annotations

import uuid

from whatsapp import services
from whatsapp.models import Message


def receive(device, contact: str, body: str, **inbound) -> Message:
    """An inbound message from `contact` with a fresh gateway id; `inbound` adds fields."""
    return services.message_receive(
        device=device,
        inbound={
            "message_id": f"in-{uuid.uuid4().hex}",
            "phone": contact,
            "body": body,
            **inbound,
        },
    )
