"""The one retry policy (whatsapp/backoff.py) that sends, webhook processing and event
deliveries share."""

from __future__ import annotations

from datetime import timedelta

from whatsapp.backoff import Backoff
from whatsapp.services.events import DELIVERY_BACKOFF
from whatsapp.services.messages import SEND_BACKOFF
from whatsapp.services.webhooks import PROCESS_BACKOFF


def test_the_wait_is_full_jitter_under_a_doubling_ceiling_that_stops_at_the_cap():
    policy = Backoff(base=2, cap=300)
    for attempt, ceiling in [(0, 2), (1, 4), (3, 16), (8, 300), (10_000, 300)]:
        waits = [policy.delay(attempt) for _ in range(200)]
        assert all(timedelta(0) <= w <= timedelta(seconds=ceiling) for w in waits)
        assert len(set(waits)) > 1  # jittered, not a fixed step


def test_retry_after_is_a_floor_capped_only_where_the_policy_says():
    assert Backoff(base=2, cap=300).delay(0, retry_after=900) == timedelta(seconds=900)
    capped = Backoff(base=5, cap=3600, retry_after_cap=3600)
    assert capped.delay(0, retry_after=86_400) == timedelta(seconds=3600)
    assert capped.delay(0, retry_after=None) <= timedelta(seconds=5)


def test_each_retry_loop_keeps_its_own_numbers():
    assert (SEND_BACKOFF.base, SEND_BACKOFF.cap, SEND_BACKOFF.retry_after_cap) == (2, 300, None)
    assert (PROCESS_BACKOFF.base, PROCESS_BACKOFF.cap) == (2, 300)
    assert (DELIVERY_BACKOFF.base, DELIVERY_BACKOFF.cap) == (5, 3600)
    assert DELIVERY_BACKOFF.retry_after_cap == 3600
