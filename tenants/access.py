"""Access helpers: the first line of every view says who may be here."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django_htmx.http import HttpResponseClientRedirect

from tenants.models import Membership, Tenant


def membership_for(request) -> Membership | None:
    """The viewer's membership of the tenant whose host this is (cached on the request)."""
    if not hasattr(request, "_membership"):
        user = request.user
        request._membership = (
            Membership.objects.filter(user=user, tenant=request.tenant).first()
            if request.tenant is not None and user.is_authenticated
            else None
        )
    return request._membership


def _login_redirect(request):
    if getattr(request, "htmx", False):
        # A polled fragment must not swap the login page into itself: send the whole tab there.
        return HttpResponseClientRedirect(redirect_to_login(request.get_full_path()).url)
    return redirect_to_login(request.get_full_path())


def superadmin_required(view):
    """Platform pages: the platform host only, superusers only."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.tenant is not None:
            raise Http404("Platform pages live on the platform host.")
        if not request.user.is_authenticated:
            return _login_redirect(request)
        if not request.user.is_superuser:
            raise PermissionDenied("This page is for platform administrators.")
        return view(request, *args, **kwargs)

    return wrapper


class TenantRefused(Exception):
    """Why this request may not act for a tenant. Each surface answers it its own way:
    pages with a 404, a login redirect or a 403; the API with its JSON error."""

    NO_TENANT = "no_tenant"  # not on a tenant's host
    LOGIN = "login"  # nobody signed in
    NOT_MEMBER = "not_member"
    NOT_ADMIN = "not_admin"

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def resolve_tenant(request, *, admin: bool = False) -> Tenant:
    """The tenant this signed-in member acts for: the host's tenant (admins only when `admin`).

    Sets `request.membership`. Raises TenantRefused saying why not; API tokens are checked by
    the API before it comes here (tokens exist only there).
    """
    if request.tenant is None:
        raise TenantRefused(TenantRefused.NO_TENANT, "Tenant pages live on the tenant's own host.")
    if not request.user.is_authenticated:
        raise TenantRefused(TenantRefused.LOGIN, "Log in to continue.")
    membership = membership_for(request)
    if membership is None:
        raise TenantRefused(
            TenantRefused.NOT_MEMBER, f"You are not a member of {request.tenant.name}."
        )
    if admin and not membership.is_admin:
        raise TenantRefused(TenantRefused.NOT_ADMIN, "Only this workspace's admins can do that.")
    request.membership = membership
    return request.tenant


def member_required(view=None, *, admin: bool = False):
    """Tenant pages: members of this host's tenant (admins only when `admin=True`)."""

    def decorate(view_func):
        @wraps(view_func)
        def wrapper(request, *args, **kwargs):
            try:
                resolve_tenant(request, admin=admin)
            except TenantRefused as refused:
                if refused.reason == TenantRefused.NO_TENANT:
                    raise Http404(refused.message) from None
                if refused.reason == TenantRefused.LOGIN:
                    return _login_redirect(request)
                raise PermissionDenied(refused.message) from None
            return view_func(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate
