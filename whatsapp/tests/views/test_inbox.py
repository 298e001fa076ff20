"""The live team inbox: cheap polls, constant queries, paging, filters, senders and contacts."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tenants.test import client_for, platform_host
from whatsapp import services
from whatsapp.models import (
    Conversation,
    Message,
    MessageStatus,
)
from whatsapp.tests.support.inbox import receive

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs) -> str:
    return reverse(name, kwargs=kwargs, urlconf="booqing.urls_tenant")


def poll_attrs(html: str, element_id: str) -> tuple[str, str, str]:
    tag = re.search(rf'<[^>]*id="{element_id}"[^>]*>', html, re.S).group(0)
    pick = {k: re.search(rf'{k}="([^"]*)"', tag).group(1) for k in ("url", "ticket", "stamp")}
    return (
        pick["url"].replace("&amp;", "&"),
        pick["ticket"],
        pick["stamp"],
    )


def thread_of(client, conversation) -> str:
    return client.get(url("whatsapp_thread", conversation_id=conversation.pk)).content.decode()


def test_a_poll_with_nothing_new_is_a_bodiless_204_after_one_query(cast, device):
    message = receive(device, "+6281100000001", "Halo, bisa booking jam 3?")
    alice = client_for(cast.alice, cast.host_a)
    poll_url, ticket, stamp = poll_attrs(thread_of(alice, message.conversation), "thread-messages")

    with CaptureQueriesContext(connection) as queries:
        answer = alice.get(poll_url, HTTP_IF_NONE_MATCH=f'"{stamp}"', HTTP_X_POLL_TICKET=ticket)

    assert answer.status_code == 204
    assert answer.content == b""
    assert len(queries) == 1


def test_a_new_message_answers_the_poll_with_only_the_message_list(cast, device):
    message = receive(device, "+6281100000001", "Halo")
    alice = client_for(cast.alice, cast.host_a)
    poll_url, ticket, stamp = poll_attrs(thread_of(alice, message.conversation), "thread-messages")
    receive(device, "+6281100000001", "Jam 3 sore ya")

    answer = alice.get(poll_url, HTTP_IF_NONE_MATCH=f'"{stamp}"', HTTP_X_POLL_TICKET=ticket)

    html = answer.content.decode()
    assert answer.status_code == 200
    assert "Jam 3 sore ya" in html
    assert "reply-box" not in html and "<textarea" not in html  # the draft is never replaced
    assert answer["ETag"] != f'"{stamp}"'
    # The new stamp is quiet again.
    _, _, fresh = poll_attrs(html, "thread-messages")
    again = alice.get(poll_url, HTTP_IF_NONE_MATCH=f'"{fresh}"', HTTP_X_POLL_TICKET=ticket)
    assert again.status_code == 204


def test_a_status_change_written_by_update_wakes_the_poll(cast, device):
    sent, _ = services.message_send(
        tenant=cast.tenant_a, to="+6281100000001", body="Jadi ya", actor=cast.alice
    )
    alice = client_for(cast.alice, cast.host_a)
    poll_url, ticket, stamp = poll_attrs(thread_of(alice, sent.conversation), "thread-messages")
    Message.objects.filter(pk=sent.pk).update(status=MessageStatus.FAILED, last_error="No route")

    answer = alice.get(poll_url, HTTP_IF_NONE_MATCH=f'"{stamp}"', HTTP_X_POLL_TICKET=ticket)

    assert answer.status_code == 200
    assert "No route" in answer.content.decode()


def test_a_ticket_from_one_tenant_gets_nothing_on_another(cast, device):
    message = receive(device, "+6281100000001", "Halo")
    alice = client_for(cast.alice, cast.host_a)
    poll_url, ticket, stamp = poll_attrs(thread_of(alice, message.conversation), "thread-messages")
    stranger = client_for(cast.charlie, cast.host_b)

    answer = stranger.get(poll_url, HTTP_IF_NONE_MATCH=f'"{stamp}"', HTTP_X_POLL_TICKET=ticket)

    assert answer.status_code in (403, 404)
    # And no ticket at all never gets the fast answer either.
    anonymous = client_for(None, cast.host_a).get(poll_url, HTTP_IF_NONE_MATCH=f'"{stamp}"')
    assert anonymous.status_code == 302


def test_the_inbox_list_poll_brings_a_new_conversation(cast, device):
    receive(device, "+6281100000001", "Halo")
    alice = client_for(cast.alice, cast.host_a)
    poll_url, ticket, stamp = poll_attrs(
        alice.get(url("whatsapp_inbox")).content.decode(), "conversation-rows"
    )
    assert (
        alice.get(poll_url, HTTP_IF_NONE_MATCH=f'"{stamp}"', HTTP_X_POLL_TICKET=ticket).status_code
        == 204
    )
    receive(device, "+6281100000002", "Mau potong rambut")

    answer = alice.get(poll_url, HTTP_IF_NONE_MATCH=f'"{stamp}"', HTTP_X_POLL_TICKET=ticket)

    assert answer.status_code == 200
    assert "Mau potong rambut" in answer.content.decode()
    assert answer["X-Unread"] == "2"


def seed(device, conversations: int, messages_each: int) -> None:
    for i in range(conversations):
        contact = f"+62811{i:08d}"
        for j in range(messages_each):
            receive(device, contact, f"message {j} from {i}")


def queries_for(client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_list_and_thread_take_the_same_queries_at_two_sizes(
    cast, device, django_assert_max_num_queries
):
    alice = client_for(cast.alice, cast.host_a)
    seed(device, 2, 2)
    small_list = queries_for(alice, url("whatsapp_inbox"))
    small_thread = queries_for(
        alice, url("whatsapp_thread", conversation_id=Conversation.objects.first().pk)
    )
    seed(device, 30, 4)
    busy = Conversation.objects.order_by("-last_message_at").first()
    with django_assert_max_num_queries(small_list):
        alice.get(url("whatsapp_inbox"))
    with django_assert_max_num_queries(small_thread):
        alice.get(url("whatsapp_thread", conversation_id=busy.pk))


def test_keyset_pages_cover_every_conversation_once(cast, device):
    seed(device, 30, 1)
    alice = client_for(cast.alice, cast.host_a)
    first = alice.get(url("whatsapp_inbox")).content.decode()
    older = re.search(r'href="([^"]*after=[^"]*)"', first).group(1).replace("&amp;", "&")
    second = alice.get(url("whatsapp_inbox") + older).content.decode()

    def ids(html):
        return re.findall(r'id="conversation-([0-9a-f-]{36})"', html)

    assert len(ids(first)) == 25
    assert len(ids(second)) == 5
    assert set(ids(first)) | set(ids(second)) == {str(c.pk) for c in Conversation.objects.all()}
    assert " of " not in second.split('aria-label="Pages"')[1].split("</nav>")[0]


def test_needs_attention_marks_and_filters_failed_messages(cast, device):
    receive(device, "+6281100000001", "Halo")
    failed, _ = services.message_send(
        tenant=cast.tenant_a, to="+6281100000002", body="Besok jam 10", actor=cast.alice
    )
    # Sent, then WhatsApp reports a delivery error: the status change goes through the service
    # that keeps the conversation's needs-attention flag.
    Message.objects.filter(pk=failed.pk).update(status=MessageStatus.SENT, gateway_message_id="g1")
    services.message_ack_apply(device=device, gateway_message_id="g1", status=MessageStatus.FAILED)
    alice = client_for(cast.alice, cast.host_a)

    everything = alice.get(url("whatsapp_inbox")).content.decode()
    attention = alice.get(url("whatsapp_inbox") + "?show=attention").content.decode()
    unread = alice.get(url("whatsapp_inbox") + "?show=unread").content.decode()

    assert everything.count('data-testid="conversation"') == 2
    assert everything.count('data-testid="attention"') == 1
    assert attention.count('data-testid="conversation"') == 1 and "Besok jam 10" in attention
    assert unread.count('data-testid="conversation"') == 1 and "Halo" in unread


def test_search_finds_words_inside_messages(cast, device):
    receive(device, "+6281100000001", "Saya mau creambath hari Sabtu")
    receive(device, "+6281100000001", "Terima kasih")  # the preview no longer shows it
    receive(device, "+6281100000002", "Potong rambut")
    alice = client_for(cast.alice, cast.host_a)

    found = alice.get(url("whatsapp_inbox") + "?q=creambath").content.decode()

    assert found.count('data-testid="conversation"') == 1
    assert "0811-0000-0001" in found


def test_each_outgoing_bubble_names_its_sender(cast, device):
    services.message_send(
        tenant=cast.tenant_a, to="+6281100000001", body="From alice", actor=cast.alice
    )
    token = services.api_token_create(tenant=cast.tenant_a, name="Booking app", actor=None)[1]
    api = client_for(host=platform_host())
    api.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    sent = api.post(
        "/api/whatsapp/messages",
        data=json.dumps({"to": "+6281100000001", "body": "From the API"}),
        content_type="application/json",
    )
    assert sent.status_code == 202
    conversation = Conversation.objects.get()

    html = thread_of(client_for(cast.alice, cast.host_a), conversation)

    senders = re.findall(r'data-testid="sender">([^<]*)<', html)
    assert senders == ["alice", "API: Booking app"]


def test_a_contact_gets_a_name_and_a_note_shown_in_the_list(cast, device):
    message = receive(device, "+6281100000001", "Halo")
    alice = client_for(cast.alice, cast.host_a)

    saved = alice.post(
        url("whatsapp_conversation_contact", conversation_id=message.conversation_id),
        {"contact_name": "Bu Sari", "contact_note": "Suka jam sore, alergi cat rambut"},
    )
    listed = alice.get(url("whatsapp_inbox")).content.decode()

    assert saved.status_code == 302
    assert "Bu Sari" in listed and "alergi cat rambut" in listed
    too_long = alice.post(
        url("whatsapp_conversation_contact", conversation_id=message.conversation_id),
        {"contact_name": "x" * 101, "contact_note": ""},
    )
    assert too_long.status_code == 422
    assert Conversation.objects.get().contact_name == "Bu Sari"


def test_the_nav_and_tab_title_count_unread_conversations(cast, device):
    receive(device, "+6281100000001", "Halo")
    receive(device, "+6281100000002", "Halo juga")
    html = client_for(cast.alice, cast.host_a).get(url("whatsapp_dashboard")).content.decode()

    assert re.search(r"<title>\(2\) ", html)
    assert re.search(r'data-testid="nav-unread"[^>]*>2<', html)


def test_an_indonesian_thread_has_day_dividers_zoned_times_and_national_numbers(cast, device):
    message = receive(device, "+6281100000001", "Halo")
    html = thread_of(client_for(cast.alice, cast.host_a, language="id"), message.conversation)

    assert 'data-testid="day-divider"><span>Hari ini<' in html
    assert re.search(r"<time [^>]*>\d\d:\d\d WIB</time>", html)
    assert "0811-0000-0001" in html
    assert "Kotak masuk" in html
