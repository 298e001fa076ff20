"""Tenant API tokens page (admins): create a token (shown once), list and revoke tokens."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from booqing.exceptions import ApplicationError
from tenants.access import member_required
from whatsapp import services
from whatsapp.forms import ApiTokenForm
from whatsapp.models import ApiToken, TokenScope
from whatsapp.views.responses import error_status, page_or_fragment

TOKENS_TEMPLATE = "whatsapp/api_tokens.html"
# Active tokens first; a page stays small however many revoked tokens pile up.
TOKENS_PER_PAGE = 25


def _tokens_context(request, *, form=None, error=None, created=None, raw=None) -> dict:
    tokens = (
        ApiToken.objects.filter(tenant=request.tenant)
        .select_related("created_by")
        .order_by(F("revoked_at").asc(nulls_first=True), "-created_at", "-id")
    )
    page = Paginator(tokens, TOKENS_PER_PAGE).get_page(request.GET.get("page"))
    return {
        "page": page,
        "tokens": page.object_list,
        "form": form or ApiTokenForm(),
        "error": error,
        "created": created,
        "raw": raw,
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
    token = get_object_or_404(ApiToken, pk=token_id, tenant=request.tenant)
    services.api_token_revoke(token=token, actor=request.user)
    success = f"Token “{token.name}” revoked: requests using it are refused from now on."
    if not request.htmx:
        messages.success(request, success)
        return redirect("whatsapp_api_tokens")
    context = _tokens_context(request)
    context["success"] = success
    return render(request, f"{TOKENS_TEMPLATE}#tokens-panel", context)
