"""Background tasks (django-tasks): thin wrappers that load ids and call services."""

from __future__ import annotations

import logging

from django_tasks import task

from core.request_context import request_context, task_kwargs

logger = logging.getLogger(__name__)


@task()
def probe_endpoint(endpoint_name: str, request_id: str = "") -> bool:
    """Probe one endpoint now (enqueued when a tenant is assigned to it)."""
    from whatsapp.services.health import endpoint_probe

    with request_context(request_id):
        return endpoint_probe(endpoint_name=endpoint_name).ok


def enqueue_endpoint_probe(endpoint_name: str) -> None:
    try:
        probe_endpoint.enqueue(endpoint_name, **task_kwargs())
    except Exception:
        # The scheduler probes every endpoint anyway; a queue hiccup must not fail the assignment.
        logger.exception("could not enqueue probe endpoint=%s", endpoint_name)


@task()
def send_message(message_id: str, request_id: str = "") -> str:
    """Deliver one queued message (the row holds the state; this is only the trigger)."""
    from whatsapp.services.messages import message_deliver

    # The request that queued the message lends its id to the send's log lines.
    with request_context(request_id):
        return message_deliver(message_id=message_id)


@task(queue_name="events")
def deliver_event(delivery_id: str) -> str:
    """One attempt to deliver an event to the booking product. Its own queue (and worker), so a
    slow endpoint never holds up sends."""
    from whatsapp.services.events import event_delivery_attempt

    return event_delivery_attempt(delivery_id=delivery_id)
