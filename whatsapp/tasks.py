"""Background tasks (django-tasks): thin wrappers that load ids and call services.

An entry point above services (like views): services never import this module, they enqueue
through whatsapp.queue, where each task below registers itself by name. The module paths
(`whatsapp.tasks.<name>`) are what queued rows store and the worker imports: keep them.
"""

from __future__ import annotations

from django_tasks import task

from core.request_context import request_context
from whatsapp import queue
from whatsapp.services.events import event_delivery_attempt
from whatsapp.services.health import endpoint_probe
from whatsapp.services.messages import message_deliver


@queue.register
@task()
def probe_endpoint(endpoint_name: str, request_id: str = "") -> bool:
    """Probe one endpoint now (enqueued when a tenant is assigned to it)."""
    with request_context(request_id):
        return endpoint_probe(endpoint_name=endpoint_name).ok


@queue.register
@task()
def send_message(message_id: str, request_id: str = "") -> str:
    """Deliver one queued message (the row holds the state; this is only the trigger)."""
    # The request that queued the message lends its id to the send's log lines.
    with request_context(request_id):
        return message_deliver(message_id=message_id)


@queue.register
@task(queue_name="events")
def deliver_event(delivery_id: str) -> str:
    """One attempt to deliver an event to the booking product. Its own queue (and worker), so a
    slow endpoint never holds up sends."""
    return event_delivery_attempt(delivery_id=delivery_id)
