"""Access helpers: the first line of every view says who may be here."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django_htmx.http import HttpResponseClientRedirect

from tenants.models import Membership


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


def member_required(view=None, *, admin: bool = False):
    """Tenant pages: members of this host's tenant (admins only when `admin=True`)."""

    def decorate(view_func):
        @wraps(view_func)
        def wrapper(request, *args, **kwargs):
            if request.tenant is None:
                raise Http404("Tenant pages live on the tenant's own host.")
            if not request.user.is_authenticated:
                return _login_redirect(request)
            membership = membership_for(request)
            if membership is None:
                raise PermissionDenied(f"You are not a member of {request.tenant.name}.")
            if admin and not membership.is_admin:
                raise PermissionDenied("Only this workspace's admins can do that.")
            request.membership = membership
            return view_func(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate
