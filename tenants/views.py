"""Sign-in pages and the superadmin's tenant list."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import ApplicationError
from tenants import selectors, services
from tenants.access import superadmin_required
from tenants.forms import TenantCreateForm, TenantLoginForm
from tenants.invitations import tenant_address
from tenants.locale import SESSION_KEY

TENANTS_PER_PAGE = 25


class LoginView(auth_views.LoginView):
    form_class = TenantLoginForm
    template_name = "tenants/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """The invitation link: an invited person chooses a password, then signs in."""

    template_name = "tenants/password_set.html"
    success_url = "/accounts/login/"
    post_reset_login = False

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(
            self.request,
            _("Password saved. Sign in with your user name %(name)s and the new password.")
            % {"name": form.user.get_username()},
        )
        return response


@superadmin_required
@require_http_methods(["GET", "HEAD", "POST"])
def tenant_list(request):
    form = TenantCreateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                tenant = services.tenant_create(
                    actor=request.user,
                    owner_origin=lambda t: tenant_address(
                        tenant=t, scheme=request.scheme, port=request.get_port()
                    ),
                    **form.cleaned_data,
                )
            except ApplicationError as exc:
                # A taken or reserved subdomain is that field's error, announced with it.
                field = "subdomain" if exc.code.startswith("subdomain_") else None
                form.add_error(field, exc.message)
            else:
                done = _("Created %(name)s at %(address)s.") % {
                    "name": tenant.name,
                    "address": tenant.subdomain,
                }
                if form.cleaned_data["owner_email"]:
                    done += " " + _("An invitation went to %(email)s.") % {
                        "email": form.cleaned_data["owner_email"]
                    }
                messages.success(request, done)
                return redirect("tenant_setup", tenant_id=tenant.pk)
        status = 422
    # PostgreSQL refuses a NUL in a query's text: search past it instead of failing.
    search = request.GET.get("q", "").replace("\x00", "")
    page = Paginator(selectors.tenant_list(search=search), TENANTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {"page": page, "search": search, "form": form}
    return render(request, "tenants/tenant_list.html", context, status=status)


@require_POST
def language_set(request):
    """Switch the language for this browser and, when signed in, for the person everywhere."""
    fallback = "/admin/whatsapp" if getattr(request, "tenant", None) else "/"
    target = request.POST.get("next") or request.META.get("HTTP_REFERER") or fallback
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = fallback
    try:
        language = request.POST.get("language", "")
        code = services.language_choose(user=request.user, language=language)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(target)
    request.session[SESSION_KEY] = code
    response = redirect(target)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=request.is_secure(),
        httponly=True,
    )
    return response
