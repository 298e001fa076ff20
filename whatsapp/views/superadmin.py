"""Superadmin pages on the platform host: a tenant's WhatsApp setup and the endpoint list."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import ApplicationError, ErrorKind
from tenants import selectors as tenant_selectors
from tenants.access import superadmin_required
from tenants.models import Tenant
from whatsapp import selectors, services
from whatsapp import selectors_tenant as reads
from whatsapp.endpoints import registry
from whatsapp.forms import AssignEndpointForm, SettingsForm
from whatsapp.limits import tenant_usage
from whatsapp.models import TenantWhatsAppConfig
from whatsapp.selectors_endpoints import endpoint_choice_page, endpoint_overview_page
from whatsapp.views.responses import page_or_fragment

SETUP_TEMPLATE = "whatsapp/tenant_setup.html"


def _setup_context(tenant: Tenant, *, settings_form=None, error=None, query=None) -> dict:
    reg = registry()
    config = reads.tenant_config(tenant=tenant)
    state = selectors.endpoint_state(config.endpoint_name) if config else None
    known = config is not None and reg.is_valid(config.endpoint_name)
    query = query or {}
    choices_page, choices = endpoint_choice_page(
        names=reg.names(),
        search=query.get("endpoint_q", "")[:100],
        page=query.get("endpoint_page"),
        current=config.endpoint_name if config else "",
    )
    return {
        "endpoint_choices_page": choices_page,
        "endpoint_search": query.get("endpoint_q", "")[:100],
        "tenant": tenant,
        "config": config,
        "endpoint_known": config is not None and reg.is_valid(config.endpoint_name),
        "endpoint_names": reg.names(),
        "no_endpoints_reason": None if reg.names() else reg.unavailable_reason(),
        "assign_form": AssignEndpointForm(
            endpoint_names=choices,
            initial={"endpoint_name": config.endpoint_name if config else ""},
        ),
        "settings_form": settings_form or SettingsForm(instance=config or TenantWhatsAppConfig()),
        "audit_events": selectors.recent_audit_events(tenant=tenant),
        "endpoint_state": state,
        "capabilities": selectors.capabilities_from_state(state),
        "endpoint_host": reg.metadata(config.endpoint_name).host if known else "",
        "single_session_conflict": config is not None
        and selectors.single_session_conflict(tenant=tenant, endpoint_name=config.endpoint_name),
        "usage": tenant_usage(tenant=tenant),
        "error": error,
    }


def _tenant_or_404(tenant_id) -> Tenant:
    tenant = tenant_selectors.tenant_get(tenant_id=tenant_id)
    if tenant is None:
        raise Http404("There is no such tenant.")
    return tenant


def _answer(request, tenant: Tenant, run) -> HttpResponse:
    """Run one setup action and answer as the page always has.

    `run()` returns (success message, forms to re-render on failure). Success without htmx:
    flash and redirect to the page; otherwise the panel (htmx) or the page with the error.
    """
    try:
        success, forms = run()
        error = None if success else _("Please correct the highlighted fields.")
    except ApplicationError as exc:
        success, forms, error = None, {}, exc.message
    if success and not request.htmx:
        messages.success(request, success)
        return redirect("tenant_setup", tenant_id=tenant.pk)
    context = _setup_context(tenant, error=error, **forms)
    context["success"] = success
    return page_or_fragment(
        request, SETUP_TEMPLATE, "setup-panel", context, status=200 if success else 422
    )


def setup_action(view):
    """A setup action: superadmin only, POST only, on an existing tenant; answers via `_answer`."""

    @superadmin_required
    @require_POST
    @wraps(view)
    def wrapper(request, tenant_id):
        tenant = _tenant_or_404(tenant_id)
        return _answer(request, tenant, lambda: view(request, tenant))

    return wrapper


@superadmin_required
@require_http_methods(["GET", "HEAD", "POST"])
def tenant_setup(request, tenant_id):
    """The page; each form on it posts to its own action URL below.

    A POST with `action=assign|settings|remove|test` is the page URL's original interface
    (DESIGN.md; scripts and outside tests use it): it is handed to that action's own view.
    """
    if request.method == "POST":
        return _forward_to_action(request, tenant_id)
    tenant = _tenant_or_404(tenant_id)
    return render(request, SETUP_TEMPLATE, _setup_context(tenant, query=request.GET))


@setup_action
def tenant_setup_assign(request, tenant: Tenant):
    # The service checks the name against WHATSAPP_ENDPOINTS and says what is wrong.
    name = request.POST.get("endpoint_name", "")
    services.endpoint_assign(tenant=tenant, endpoint_name=name, actor=request.user)
    return _("Endpoint %(endpoint)s assigned to %(tenant)s.") % {
        "endpoint": name,
        "tenant": tenant.name,
    }, {}


@setup_action
def tenant_setup_settings(request, tenant: Tenant):
    form = SettingsForm(
        request.POST, instance=reads.tenant_config(tenant=tenant) or TenantWhatsAppConfig()
    )
    if not form.is_valid():
        return None, {"settings_form": form}
    services.config_update(
        tenant=tenant,
        actor=request.user,
        **{f: form.cleaned_data[f] for f in TenantWhatsAppConfig.SETTING_FIELDS},
    )
    return _("Settings saved."), {}


@setup_action
def tenant_setup_remove(request, tenant: Tenant):
    services.endpoint_remove(tenant=tenant, actor=request.user)
    return _("Endpoint removed from %(tenant)s.") % {"tenant": tenant.name}, {}


@setup_action
def tenant_setup_test(request, tenant: Tenant):
    probe = services.endpoint_connection_test(tenant=tenant)
    return _("%(endpoint)s answered in %(ms)s ms: healthy.") % {
        "endpoint": probe.endpoint_name,
        "ms": probe.latency_ms,
    }, {}


@superadmin_required
@require_GET
def endpoint_list(request):
    search = request.GET.get("q", "")[:100]
    page = endpoint_overview_page(search=search, page=request.GET.get("page"))
    context = {
        "endpoints": page.object_list,
        "page": page,
        "search": search,
        "problems": registry().problems,
    }
    return render(request, "whatsapp/endpoint_list.html", context)


SETUP_ACTIONS = {
    "assign": tenant_setup_assign,
    "settings": tenant_setup_settings,
    "remove": tenant_setup_remove,
    "test": tenant_setup_test,
}


def _forward_to_action(request, tenant_id) -> HttpResponse:
    action = SETUP_ACTIONS.get(request.POST.get("action", ""))
    if action is not None:
        return action(request, tenant_id)
    tenant = _tenant_or_404(tenant_id)

    def refuse():
        raise ApplicationError(
            _("Unknown action '%(action)s'.") % {"action": request.POST.get("action", "")},
            "unknown_action",
            kind=ErrorKind.MALFORMED,
        )

    return _answer(request, tenant, refuse)
