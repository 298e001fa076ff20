"""Tenant API tokens page (admins): create a token (shown once), list and revoke tokens."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError
from tenants.access import member_required
from whatsapp import selectors_tenant as reads
from whatsapp import services
from whatsapp.forms import ApiTokenForm
from whatsapp.models import TokenScope
from whatsapp.views.responses import error_status, page_or_fragment

TOKENS_TEMPLATE = "whatsapp/api_tokens.html"
# Active tokens first; a page stays small however many revoked tokens pile up.
TOKENS_PER_PAGE = 25
# What each scope lets an app do, in words an owner understands (the table shows these, not
# the API's scope names).
SCOPE_WORDS = {
    TokenScope.MESSAGES: gettext_lazy("Send and read messages"),
    TokenScope.DEVICES: gettext_lazy("Manage devices (add, link, restart, log out, delete)"),
}


def _tokens_context(request, *, form=None, error=None, created=None, raw=None) -> dict:
    tokens = reads.tenant_api_tokens(tenant=request.tenant)
    page = Paginator(tokens, TOKENS_PER_PAGE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    for token in rows:
        token.scope_words = [SCOPE_WORDS.get(scope, scope) for scope in token.scope_list]
    return {
        "page": page,
        "tokens": rows,
        "form": form or ApiTokenForm(),
        "error": error,
        "created": created,
        "raw": raw,
        "created_scope_words": [SCOPE_WORDS.get(s, s) for s in created.scope_list]
        if created
        else [],
        "api_url": request.build_absolute_uri("/api/whatsapp/messages"),
    }


@member_required(admin=True)
@require_GET
def api_tokens(request):
    return render(request, TOKENS_TEMPLATE, _tokens_context(request))


@never_cache  # the reply carries the token's only copy: no cache may keep it
@member_required(admin=True)
@require_POST
def api_token_create(request):
    form = ApiTokenForm(request.POST)
    error, status = None, 422
    if form.is_valid():
        try:
            token, raw = services.api_token_create(
                tenant=request.tenant,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"] or [TokenScope.MESSAGES],
                actor=request.user,
            )
        except ApplicationError as exc:
            error, status = exc.message, error_status(exc)
        else:
            # Rendered, not redirected: the plain token exists only in this one response.
            context = _tokens_context(request, created=token, raw=raw)
            return page_or_fragment(request, TOKENS_TEMPLATE, "tokens-panel", context, status=201)
    context = _tokens_context(request, form=form, error=error)
    return page_or_fragment(request, TOKENS_TEMPLATE, "tokens-panel", context, status=status)


@member_required(admin=True)
@require_POST
def api_token_revoke(request, token_id):
    token = get_object_or_404(reads.tenant_api_tokens(tenant=request.tenant), pk=token_id)
    services.api_token_revoke(token=token, actor=request.user)
    success = _("Token “%(name)s” revoked: requests using it are refused from now on.") % {
        "name": token.name
    }
    if not request.htmx:
        messages.success(request, success)
        return redirect("whatsapp_api_tokens")
    context = _tokens_context(request)
    context["success"] = success
    return render(request, f"{TOKENS_TEMPLATE}#tokens-panel", context)
