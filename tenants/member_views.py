"""Members pages: tenant admins (on their host) and superadmins (on the platform) invite people,
change roles and remove members. One set of views serves both; only the tenant lookup differs."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import ApplicationError
from tenants import selectors, services
from tenants.access import member_required, superadmin_required
from tenants.forms import MemberInviteForm, MemberRoleForm
from tenants.invitations import tenant_address
from tenants.models import Membership, Tenant

MEMBERS_PER_PAGE = 50


def _members_url(request, tenant: Tenant) -> str:
    return (
        "/admin/members/" if request.tenant is not None else f"/admin/tenants/{tenant.pk}/members/"
    )


def _page(request, tenant: Tenant, invite_form: MemberInviteForm, *, status: int = 200):
    page = Paginator(selectors.member_list(tenant=tenant), MEMBERS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "member_tenant": tenant,
        "page": page,
        "form": invite_form,
        "roles": Membership.Role.choices,
        "base_url": _members_url(request, tenant),
        "me": request.user.pk,
    }
    return render(request, "tenants/members.html", context, status=status)


def _invite(request, tenant: Tenant):
    form = MemberInviteForm(request.POST)
    if form.is_valid():
        origin = tenant_address(tenant=tenant, scheme=request.scheme, port=request.get_port())
        try:
            membership, _created = services.member_invite(
                tenant=tenant, origin=origin, actor=request.user, **form.cleaned_data
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                _("Invitation sent to %(email)s. They choose a password from the link in it.")
                % {"email": membership.user.email},
            )
            return redirect(_members_url(request, tenant))
    return _page(request, tenant, form, status=422)


def _role(request, tenant: Tenant, member_id):
    membership = get_object_or_404(selectors.member_list(tenant=tenant), uid=member_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a role: admin or staff."))
        return redirect(_members_url(request, tenant))
    try:
        services.member_role_change(
            membership=membership, role=form.cleaned_data["role"], actor=request.user
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(name)s is now %(role)s.")
            % {
                "name": membership.user.get_username(),
                "role": Membership.Role(form.cleaned_data["role"]).label,
            },
        )
    return redirect(_members_url(request, tenant))


def _remove(request, tenant: Tenant, member_id):
    membership = get_object_or_404(selectors.member_list(tenant=tenant), uid=member_id)
    try:
        services.member_remove(membership=membership, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(name)s no longer has access to %(tenant)s.")
            % {"name": membership.user.get_username(), "tenant": tenant.name},
        )
    if membership.user_id == request.user.pk and request.tenant is not None:
        return redirect("/accounts/login/")
    return redirect(_members_url(request, tenant))


# --- on the tenant's host: its admins ---------------------------------------------------------


@member_required(admin=True)
@require_http_methods(["GET", "HEAD"])
def members(request):
    return _page(request, request.tenant, MemberInviteForm())


@member_required(admin=True)
@require_POST
def member_invite(request):
    return _invite(request, request.tenant)


@member_required(admin=True)
@require_POST
def member_role(request, member_id):
    return _role(request, request.tenant, member_id)


@member_required(admin=True)
@require_POST
def member_remove(request, member_id):
    return _remove(request, request.tenant, member_id)


# --- on the platform host: superadmins, any tenant ------------------------------------------


def _tenant(tenant_id) -> Tenant:
    tenant = selectors.tenant_get(tenant_id=tenant_id)
    if tenant is None:
        raise Http404(_("There is no such tenant."))
    return tenant


@superadmin_required
@require_http_methods(["GET", "HEAD"])
def tenant_members(request, tenant_id):
    return _page(request, _tenant(tenant_id), MemberInviteForm())


@superadmin_required
@require_POST
def tenant_member_invite(request, tenant_id):
    return _invite(request, _tenant(tenant_id))


@superadmin_required
@require_POST
def tenant_member_role(request, tenant_id, member_id):
    return _role(request, _tenant(tenant_id), member_id)


@superadmin_required
@require_POST
def tenant_member_remove(request, tenant_id, member_id):
    return _remove(request, _tenant(tenant_id), member_id)
