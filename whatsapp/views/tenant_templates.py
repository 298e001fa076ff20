"""Tenant pages for message templates (admins) and quick replies from them in a thread."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError
from tenants.access import member_required
from whatsapp import selectors_tenant as reads
from whatsapp import services
from whatsapp.services import templates as template_services
from whatsapp.views.responses import error_status

TEMPLATES_TEMPLATE = "whatsapp/message_templates.html"


def _context(request, *, error=None, name="", body="") -> dict:
    templates = list(reads.tenant_templates(tenant=request.tenant))
    for template in templates:
        template.variables = template_services.template_variables(template.body)
    return {"templates": templates, "error": error, "name": name, "body": body}


@member_required(admin=True)
@require_GET
def message_templates(request):
    return render(request, TEMPLATES_TEMPLATE, _context(request))


@member_required(admin=True)
@require_POST
def message_template_create(request):
    name, body = request.POST.get("name", ""), request.POST.get("body", "")
    try:
        template = template_services.template_create(
            tenant=request.tenant, name=name, body=body, actor=request.user
        )
    except ApplicationError as exc:
        context = _context(request, error=exc.message, name=name, body=body)
        return render(request, TEMPLATES_TEMPLATE, context, status=error_status(exc))
    messages.success(request, _("Template “%(name)s” created.") % {"name": template.name})
    return redirect("whatsapp_templates")


@member_required(admin=True)
@require_POST
def message_template_update(request, name):
    template = get_object_or_404(reads.tenant_templates(tenant=request.tenant), name=name)
    try:
        template = template_services.template_update(
            template=template, body=request.POST.get("body", ""), actor=request.user
        )
    except ApplicationError as exc:
        return render(
            request,
            TEMPLATES_TEMPLATE,
            _context(request, error=exc.message),
            status=error_status(exc),
        )
    messages.success(request, _("Template “%(name)s” saved.") % {"name": template.name})
    return redirect("whatsapp_templates")


@member_required(admin=True)
@require_POST
def message_template_delete(request, name):
    template = get_object_or_404(reads.tenant_templates(tenant=request.tenant), name=name)
    template_services.template_delete(template=template, actor=request.user)
    messages.success(request, _("Template “%(name)s” deleted.") % {"name": template.name})
    return redirect("whatsapp_templates")


@member_required
@require_POST
def quick_reply(request, conversation_id):
    """Send a template (its variables filled in on the thread page) as a reply."""
    conversation = get_object_or_404(
        reads.tenant_conversations(tenant=request.tenant), pk=conversation_id
    )
    thread_url = reverse("whatsapp_thread", kwargs={"conversation_id": conversation.pk})
    variables = {
        key.removeprefix("var_"): value.strip()
        for key, value in request.POST.items()
        if key.startswith("var_")
    }
    try:
        body = template_services.template_render(
            tenant=request.tenant, name=request.POST.get("template", ""), variables=variables
        )
        services.message_send(
            tenant=request.tenant,
            to=conversation.contact,
            body=body,
            device_id=conversation.device_id,
            from_inbox=True,
            actor=request.user,
        )
    except ApplicationError as exc:
        messages.error(request, f"Quick reply not sent: {exc.message}")
        return redirect(thread_url)
    messages.success(request, "Quick reply queued.")
    return redirect(thread_url)
