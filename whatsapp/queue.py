"""How services put work on the task queue without importing the tasks.

tasks.py is an entry point, a layer above services like views and management commands: each
task is a thin wrapper that calls a service, so it imports services at the top. Services in
turn enqueue tasks (a send once its row commits, a delivery's retry, a probe after an
assignment). Importing tasks.py from a service would close a cycle, so services ask this module
for a task by name, and tasks.py registers each task here as it is defined. WhatsAppConfig.ready
imports tasks.py, so every process (web, worker, scheduler, shell) has them before anything
enqueues. The tasks keep their module paths (`whatsapp.tasks.send_message`, ...), which the
queued rows name and the worker imports.
"""

from __future__ import annotations

from django_tasks.base import Task

SEND_MESSAGE = "send_message"
DELIVER_EVENT = "deliver_event"
PROBE_ENDPOINT = "probe_endpoint"

_tasks: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Make `task` available to services under its function's name (a decorator in tasks.py)."""
    _tasks[task.name] = task
    return task


def task(name: str) -> Task:
    try:
        return _tasks[name]
    except KeyError:
        raise LookupError(
            f"No task {name!r}: whatsapp.tasks registers it when imported (WhatsAppConfig.ready)."
        ) from None
