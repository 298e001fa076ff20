"""Every per-process cache of the whatsapp app, and the named `forget_*` calls that drop entries.

Each web process keeps its own copy (see TtlCache), so a change made elsewhere shows after at most
the cache's ttl; the process that makes a change forgets the entry at once by calling the
matching `forget_*` here. Services call the `forget_*` functions; the module that reads a cache
owns how it fills it. Nothing here imports the rest of the app, so any layer may use it.
"""

from __future__ import annotations

from core.caches import TtlCache

# webhook id -> device (a `services.webhooks._WebhookTarget`): the lookup every delivery needs.
# A device's secret and endpoint never change; a deleted device makes the insert fail its
# foreign key (-> 404), and a rotated URL token or a removed device forgets the entry.
webhook_targets = TtlCache("webhook-targets", ttl=30)

# tenant id -> the configuration dict the booking product reads before much of what it does
# (selectors.config_snapshot). Assign, settings, remove and health probes forget it.
config_snapshots = TtlCache("config-snapshots", ttl=2)

# Token checks are on every API call. Each process remembers a valid token for a few seconds;
# a revocation is immediate in the process that made it and takes at most this long elsewhere.
TOKEN_CACHE_SECONDS = 5
# sha256 of a raw API token -> ApiToken
api_tokens = TtlCache("api-tokens", ttl=TOKEN_CACHE_SECONDS)

# tenant id -> [(event endpoint id, events)]: asked on every status change, so cached briefly.
event_subscriptions = TtlCache("event-subscriptions", ttl=5)


def forget_webhook_target(webhook_id) -> None:
    """A device was deleted or its webhook URL token rotated."""
    webhook_targets.delete(webhook_id)


def forget_config_snapshots(tenant_id=None) -> None:
    """A tenant's configuration changed; without a tenant (a health probe ran), every tenant's."""
    if tenant_id is None:
        config_snapshots.clear()
    else:
        config_snapshots.delete(tenant_id)


def forget_api_token(token_hash: str) -> None:
    """A token was revoked."""
    api_tokens.delete(token_hash)


def forget_event_subscriptions(tenant_id) -> None:
    """A tenant's event endpoints were added or removed."""
    event_subscriptions.delete(tenant_id)
