"""Sign-in pages and the superadmin's tenant list."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from booqing.exceptions import ApplicationError
from tenants import selectors, services
from tenants.access import superadmin_required
from tenants.forms import TenantCreateForm, TenantLoginForm

TENANTS_PER_PAGE = 25


class LoginView(auth_views.LoginView):
    form_class = TenantLoginForm
    template_name = "tenants/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


@superadmin_required
@require_http_methods(["GET", "HEAD", "POST"])
def tenant_list(request):
    form = TenantCreateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                tenant = services.tenant_create(actor=request.user, **form.cleaned_data)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Created {tenant.name} at {tenant.subdomain}.")
                return redirect("tenant_setup", tenant_id=tenant.pk)
        status = 422
    # PostgreSQL refuses a NUL in a query's text: search past it instead of failing.
    search = request.GET.get("q", "").replace("\x00", "")
    page = Paginator(selectors.tenant_list(search=search), TENANTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {"page": page, "search": search, "form": form}
    return render(request, "tenants/tenant_list.html", context, status=status)
