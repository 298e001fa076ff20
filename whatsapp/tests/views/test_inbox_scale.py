"""The inbox at scale: the "needs attention" flag follows status changes, and the filter and the
search stay right while reading indexes instead of the message history (issue 11, item 8)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tenants.test import client_for
from whatsapp import selectors, services
from whatsapp.models import (
    Conversation,
    Message,
    MessageStatus,
)
from whatsapp.services.messages import conversations_attention_rebuild
from whatsapp.tests.support.inbox import receive

pytestmark = pytest.mark.django_db

INBOX = reverse("whatsapp_inbox", urlconf="booqing.urls_tenant")


def send(cast, to: str, body: str = "Besok jam 10") -> Message:
    message, _ = services.message_send(tenant=cast.tenant_a, to=to, body=body, actor=cast.alice)
    return message


def fail_by_ack(device, message: Message, gateway_id: str) -> None:
    """Sent, then WhatsApp reports a delivery error (the webhook's ack path)."""
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENT, gateway_message_id=gateway_id
    )
    services.message_ack_apply(
        device=device, gateway_message_id=gateway_id, status=MessageStatus.FAILED
    )


def stall(message: Message, *, now) -> None:
    """A worker died while sending it: the lease ran out."""
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING, attempts=1, lease_until=now - timedelta(seconds=1)
    )


def flagged(message: Message) -> bool:
    return Conversation.objects.get(pk=message.conversation_id).needs_attention


def listed(client, query: str = "") -> list[str]:
    html = client.get(INBOX + query).content.decode()
    return re.findall(r'id="conversation-([0-9a-f-]{36})"', html)


def test_a_failed_message_flags_its_conversation_until_it_is_retried(cast, device):
    message = send(cast, "+6281100000002")
    other = send(cast, "+6281100000003", "Sampai jumpa")
    alice = client_for(cast.alice, cast.host_a)
    assert not flagged(message) and listed(alice, "?show=attention") == []

    fail_by_ack(device, message, "g-1")

    assert flagged(message) and not flagged(other)
    assert listed(alice, "?show=attention") == [str(message.conversation_id)]

    services.message_retry(message=Message.objects.get(pk=message.pk))

    assert Message.objects.get(pk=message.pk).status == MessageStatus.QUEUED
    assert not flagged(message)
    assert listed(alice, "?show=attention") == []


def test_the_flag_stays_while_another_message_of_the_chat_is_in_trouble(cast, device):
    first = send(cast, "+6281100000002", "Satu")
    second = send(cast, "+6281100000002", "Dua")
    fail_by_ack(device, first, "g-1")
    fail_by_ack(device, second, "g-2")

    services.message_retry(message=Message.objects.get(pk=first.pk))

    assert flagged(first)  # the second one still failed
    services.message_retry(message=Message.objects.get(pk=second.pk))
    assert not flagged(first)


def test_unconfirmed_and_expired_messages_flag_and_a_settled_one_clears(cast, device):
    now = timezone.now()
    unsure = send(cast, "+6281100000002")
    stall(unsure, now=now)

    services.messages_requeue_stale(now=now)

    assert Message.objects.get(pk=unsure.pk).status == MessageStatus.UNCONFIRMED
    assert flagged(unsure)
    services.message_mark_sent(message=Message.objects.get(pk=unsure.pk), actor=cast.alice)
    assert not flagged(unsure)

    late = send(cast, "+6281100000003")
    Message.objects.filter(pk=late.pk).update(expires_at=now - timedelta(minutes=1))
    services.messages_requeue_stale(now=now)

    assert Message.objects.get(pk=late.pk).status == MessageStatus.EXPIRED
    assert flagged(late)


def test_an_ack_that_settles_an_unconfirmed_send_clears_the_flag(cast, device):
    now = timezone.now()
    message = send(cast, "+6281100000002")
    stall(message, now=now)
    services.messages_requeue_stale(now=now)
    Message.objects.filter(pk=message.pk).update(gateway_message_id="g-late")
    assert flagged(message)

    services.message_ack_apply(
        device=device, gateway_message_id="g-late", status=MessageStatus.DELIVERED
    )

    assert not flagged(message)


def test_a_hidden_id_chat_folded_into_the_phone_chat_brings_its_flag(cast, device):
    receive(device, "+6281100000002", "Halo")
    hidden = receive(device, "", "Dari lid", lid="123456789@lid", phone=None)
    # A reply in the hidden-id chat that WhatsApp then reports undeliverable.
    troubled = Message.objects.create(
        tenant=cast.tenant_a,
        device=device,
        conversation_id=hidden.conversation_id,
        direction=Message.Direction.OUTBOUND,
        body="Balasan",
        status=MessageStatus.SENT,
    )
    fail_by_ack(device, troubled, "g-1")
    assert flagged(troubled)

    # The gateway reveals the hidden sender's phone: one chat remains, still flagged.
    receive(device, "+6281100000002", "Lagi", lid="123456789@lid")

    phone_chat = Conversation.objects.get(device=device, contact="+6281100000002")
    assert phone_chat.needs_attention
    assert Message.objects.get(pk=troubled.pk).conversation_id == phone_chat.pk


def test_the_attention_filter_reads_no_message_history(cast, device):
    for n in range(3):
        fail_by_ack(device, send(cast, f"+628110000001{n}"), f"g-{n}")
    alice = client_for(cast.alice, cast.host_a)

    with CaptureQueriesContext(connection) as queries:
        assert len(listed(alice, "?show=attention")) == 3

    page = [q["sql"] for q in queries if "LIMIT 26" in q["sql"]]
    assert page and all('"whatsapp_message"' not in sql for sql in page)


def test_filter_and_search_pages_cost_the_same_queries_with_more_history(cast, device):
    alice = client_for(cast.alice, cast.host_a)

    def queries_for(query: str) -> int:
        alice.get(INBOX + query)  # warm per-process caches
        with CaptureQueriesContext(connection) as ctx:
            alice.get(INBOX + query)
        return len(ctx)

    fail_by_ack(device, send(cast, "+6281100000001", "booking satu"), "g-0")
    before = {q: queries_for(q) for q in ("?show=attention", "?q=booking", "?q=0811")}
    for n in range(20):  # still one page: a full page skips the (empty chats) second query
        receive(device, f"+62811000002{n:02d}", f"booking nomor {n}")
        fail_by_ack(device, send(cast, f"+62811000002{n:02d}", "gagal"), f"g-{n + 1}")

    assert {q: queries_for(q) for q in before} == before


def test_search_matches_text_names_and_numbers_as_before(cast, device):
    creambath = receive(device, "+6281100000001", "Saya mau CREAMBATH hari Sabtu")
    receive(device, "+6281100000001", "Terima kasih")
    percent = receive(device, "+6281100000002", "Diskon 50% untuk_member!")
    named = receive(device, "+6281100000003", "Halo", push_name="Ibu Siti Nurhaliza")
    alice = client_for(cast.alice, cast.host_a)

    assert listed(alice, "?q=creambath") == [str(creambath.conversation_id)]
    assert listed(alice, "?q=50%25") == [str(percent.conversation_id)]
    assert listed(alice, "?q=_member") == [str(percent.conversation_id)]
    assert listed(alice, "?q=siti") == [str(named.conversation_id)]
    assert listed(alice, "?q=0811-0000-0003") == [str(named.conversation_id)]
    assert listed(alice, "?q=%2B62811 0000 0002") == [str(percent.conversation_id)]
    assert listed(alice, "?q=tidak ada") == []


def test_search_combines_with_the_attention_filter_and_pages(cast, device):
    for n in range(27):
        message = send(cast, f"+62811000003{n:02d}", f"janji temu {n}")
        if n % 2 == 0:
            fail_by_ack(device, message, f"g-{n}")
    alice = client_for(cast.alice, cast.host_a)

    troubled = listed(alice, "?q=janji&show=attention")
    first = alice.get(INBOX + "?q=janji").content.decode()
    older = re.search(r'href="([^"]*after=[^"]*)"', first).group(1).replace("&amp;", "&")
    rest = listed(alice, older)

    assert len(troubled) == 14
    assert len(re.findall(r'id="conversation-[0-9a-f-]{36}"', first)) == 25 and len(rest) == 2


def test_text_search_reads_only_the_latest_messages(cast, device, monkeypatch):
    monkeypatch.setattr(selectors, "SEARCH_RECENT_MESSAGES", 2)
    old = receive(device, "+6281100000001", "pedikur minggu lalu")
    receive(device, "+6281100000002", "Halo")
    receive(device, "+6281100000003", "Halo juga")
    alice = client_for(cast.alice, cast.host_a)

    assert listed(alice, "?q=pedikur") == []
    receive(device, "+6281100000001", "pedikur lagi")
    assert listed(alice, "?q=pedikur") == [str(old.conversation_id)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes: PostgreSQL only")
def test_postgresql_has_the_trigram_indexes_for_the_contact_search():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'whatsapp_conversation'"
        )
        indexes = dict(cursor.fetchall())
    for name in ("conversation_contact_trgm", "conversation_name_trgm", "conversation_lid_trgm"):
        assert "gin_trgm_ops" in indexes[name]


def test_a_rebuild_flags_rows_written_around_the_services(cast, device):
    message = send(cast, "+6281100000002")
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED)  # a bulk import
    assert not flagged(message)

    conversations_attention_rebuild(tenant=cast.tenant_a)

    assert flagged(message)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENT)
    conversations_attention_rebuild()
    assert not flagged(message)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the touch trigger: PostgreSQL")
def test_postgresql_stamps_every_write_so_a_thread_poll_reads_one_index_entry(cast, device):
    message = send(cast, "+6281100000002")
    before = selectors.thread_stamp(conversation_id=message.conversation_id)

    # How statuses move: QuerySet.update(), which Django's auto_now leaves alone.
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.DELIVERED)

    assert selectors.thread_stamp(conversation_id=message.conversation_id) != before
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + selectors._NEWEST_CHANGE_SQL, [message.conversation_id])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "message_thread_changes" in plan
    assert "Sort" not in plan


def test_the_inbox_poll_wakes_when_a_conversation_is_flagged_and_when_it_clears(cast, device):
    message = send(cast, "+6281100000002")
    before = selectors.inbox_stamp(tenant_id=cast.tenant_a.pk)

    fail_by_ack(device, message, "wamid.FLAG1")
    flagged_stamp = selectors.inbox_stamp(tenant_id=cast.tenant_a.pk)
    assert flagged_stamp != before

    services.message_retry(message=Message.objects.get(pk=message.pk))
    assert selectors.inbox_stamp(tenant_id=cast.tenant_a.pk) != flagged_stamp
