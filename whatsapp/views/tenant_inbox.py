"""Tenant inbox pages: the conversation list, a new message, and a thread with its reply box."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError
from tenants.access import member_required
from whatsapp import selectors, services
from whatsapp import selectors_tenant as reads
from whatsapp.forms import NewMessageForm, ReplyForm
from whatsapp.forms_inbox import ContactForm
from whatsapp.inbox_poll import etag, poll_ticket, stamp_for
from whatsapp.models import Conversation
from whatsapp.views.responses import error_status, go_to, page_or_fragment

INBOX_TEMPLATE = "whatsapp/inbox.html"
THREAD_TEMPLATE = "whatsapp/thread.html"
# A thread page shows the latest messages; older ones stay in the API (cursor paging).
THREAD_LIMIT = selectors.THREAD_LIMIT


def _inbox_context(request, *, form=None, error=None) -> dict:
    q = request.GET.get("q", "").strip()[:100]
    show = request.GET.get("show", "all")
    if show not in selectors.INBOX_FILTERS:
        show = "all"
    # The stamp is read first: a change landing during the render shows at the next poll.
    stamp = stamp_for(tenant_id=request.tenant.pk)
    page = selectors.inbox_page(
        tenant=request.tenant, q=q, show=show, cursor=request.GET.get("after", "")[:200]
    )
    devices = list(reads.tenant_devices(tenant=request.tenant))
    return {
        "q": q,
        "show": show,
        "filters": [
            ("all", _("All")),
            ("unread", _("Unread")),
            ("attention", _("Needs attention")),
        ],
        "page": page,
        "conversations": page.conversations,
        "devices": devices,
        "delivery": selectors.delivery_state(tenant=request.tenant),
        "form": form or NewMessageForm(devices=devices),
        "error": error,
        "poll_stamp": stamp,
        "poll_ticket": poll_ticket(tenant=request.tenant),
    }


def _with_stamp(response, stamp: str, *, tenant=None):
    response["ETag"] = etag(stamp)
    if tenant is not None:  # a changed list: the nav badge and tab title follow
        response["X-Unread"] = str(selectors.unread_conversations(tenant_id=tenant.pk))
    return response


@member_required
@require_GET
def inbox(request):
    return render(request, INBOX_TEMPLATE, _inbox_context(request))


@member_required
@require_GET
def inbox_poll(request):
    """The conversation rows when the list changed since the browser's stamp; else a 204."""
    stamp = stamp_for(tenant_id=request.tenant.pk)
    if request.headers.get("If-None-Match") == etag(stamp):
        return _with_stamp(HttpResponse(status=204), stamp)
    context = _inbox_context(request)
    response = render(request, f"{INBOX_TEMPLATE}#conversation-rows", context)
    return _with_stamp(response, context["poll_stamp"], tenant=request.tenant)


@member_required
@require_POST
def message_new(request):
    devices = reads.tenant_devices(tenant=request.tenant)
    form = NewMessageForm(request.POST, devices=devices)
    error, status = None, 422
    if form.is_valid():
        try:
            message, _ = services.message_send(
                tenant=request.tenant,
                to=form.cleaned_data["to"],
                body=form.cleaned_data["body"],
                device_id=form.cleaned_data["device"] or None,
                from_inbox=True,
                actor=request.user,
            )
        except ApplicationError as exc:
            error, status = exc.message, error_status(exc)
        else:
            messages.success(request, "Message queued.")
            url = reverse("whatsapp_thread", kwargs={"conversation_id": message.conversation_id})
            return go_to(request, url)
    context = _inbox_context(request, form=form, error=error)
    return page_or_fragment(request, INBOX_TEMPLATE, "new-message", context, status=status)


def _conversation_for(request, conversation_id) -> Conversation:
    return get_object_or_404(reads.tenant_conversations(tenant=request.tenant), pk=conversation_id)


def _thread_context(
    conversation: Conversation, *, form=None, error=None, replied=False, contact_form=None
) -> dict:
    stamp = stamp_for(tenant_id=conversation.tenant_id, conversation_id=conversation.pk)
    # In the order written: the gateway's whole-second timestamp, then arrival.
    thread = selectors.thread_messages(conversation=conversation, limit=THREAD_LIMIT)
    return {
        "poll_stamp": stamp,
        "poll_ticket": poll_ticket(tenant=conversation.tenant, conversation_id=conversation.pk),
        "contact_form": contact_form or ContactForm(instance=conversation),
        "conversation": conversation,
        "device": conversation.device,
        "delivery": selectors.delivery_state(tenant=conversation.tenant),
        "thread": thread,
        "truncated": len(thread) == THREAD_LIMIT,
        "form": form or ReplyForm(),
        "error": error,
        "replied": replied,
    }


@member_required
@require_GET
def thread(request, conversation_id):
    conversation = _conversation_for(request, conversation_id)
    # Opening the thread (and each poll while it is open) means the person has seen it.
    services.conversation_mark_read(conversation=conversation)
    context = _thread_context(conversation)
    return page_or_fragment(request, THREAD_TEMPLATE, "thread-messages", context)


@member_required
@require_GET
def thread_poll(request, conversation_id):
    """The message list when it changed since the browser's stamp; else a bodiless 204.

    Only the list is sent (never the reply box), so a poll cannot touch what someone types.
    """
    conversation = _conversation_for(request, conversation_id)
    stamp = stamp_for(tenant_id=request.tenant.pk, conversation_id=conversation.pk)
    if request.headers.get("If-None-Match") == etag(stamp):
        return _with_stamp(HttpResponse(status=204), stamp)
    services.conversation_mark_read(conversation=conversation)
    context = _thread_context(conversation)
    response = render(request, f"{THREAD_TEMPLATE}#thread-messages", context)
    return _with_stamp(response, context["poll_stamp"], tenant=request.tenant)


@member_required
@require_POST
def conversation_contact(request, conversation_id):
    """Name a contact and keep a note about them; both show in the inbox list."""
    conversation = _conversation_for(request, conversation_id)
    form = ContactForm(request.POST, instance=conversation)
    if form.is_valid():
        services.conversation_contact_save(
            conversation=conversation,
            name=form.cleaned_data["contact_name"],
            note=form.cleaned_data["contact_note"],
        )
        messages.success(request, _("Contact saved."))
        return go_to(
            request, reverse("whatsapp_thread", kwargs={"conversation_id": conversation.pk})
        )
    context = _thread_context(conversation, contact_form=form)
    return page_or_fragment(request, THREAD_TEMPLATE, "contact-form", context, status=422)


@member_required
@require_POST
def thread_reply(request, conversation_id):
    conversation = _conversation_for(request, conversation_id)
    form = ReplyForm(request.POST)
    error, status = None, 422
    if form.is_valid():
        try:
            services.message_send(
                tenant=request.tenant,
                to=conversation.contact,
                body=form.cleaned_data["body"],
                device_id=conversation.device_id,
                from_inbox=True,
                actor=request.user,
            )
        except ApplicationError as exc:
            error, status = exc.message, error_status(exc)
        else:
            if not request.htmx:
                return redirect("whatsapp_thread", conversation_id=conversation.pk)
            return render(
                request,
                f"{THREAD_TEMPLATE}#thread-panel",
                _thread_context(conversation, replied=True),
            )
    context = _thread_context(conversation, form=form, error=error)
    return page_or_fragment(request, THREAD_TEMPLATE, "thread-panel", context, status=status)


def _message_action(request, conversation_id, message_id, action, done: str):
    conversation = _conversation_for(request, conversation_id)
    message = get_object_or_404(
        reads.conversation_messages(conversation=conversation), pk=message_id
    )
    error, status = None, 200
    try:
        action(message)
    except ApplicationError as exc:
        error, status = exc.message, error_status(exc)
    if error is None and not request.htmx:
        messages.success(request, done)
        return redirect("whatsapp_thread", conversation_id=conversation.pk)
    context = _thread_context(conversation, error=error)
    return page_or_fragment(request, THREAD_TEMPLATE, "thread-panel", context, status=status)


@member_required
@require_POST
def message_retry(request, conversation_id, message_id):
    """Retry: an unconfirmed (or maybe-sent) message is looked up in the history first."""
    return _message_action(
        request,
        conversation_id,
        message_id,
        lambda message: services.message_retry(message=message),
        "Sending the message again (after checking it did not already go out).",
    )


@member_required
@require_POST
def message_send_again(request, conversation_id, message_id):
    return _message_action(
        request,
        conversation_id,
        message_id,
        lambda message: services.message_send_again(message=message),
        "Sending the message again.",
    )


@member_required
@require_POST
def message_mark_sent(request, conversation_id, message_id):
    return _message_action(
        request,
        conversation_id,
        message_id,
        lambda message: services.message_mark_sent(message=message, actor=request.user),
        "Marked as sent.",
    )
