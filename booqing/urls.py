"""URLs of the platform host (BASE_DOMAIN): superadmin pages, Django admin, API."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from booqing.urls_common import common_patterns
from tenants import member_views
from tenants import views as tenant_views
from whatsapp.views import operations, superadmin

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/tenants/", permanent=False)),
    path("admin/tenants/", tenant_views.tenant_list, name="tenant_list"),
    path("admin/tenants/<uuid:tenant_id>/whatsapp", superadmin.tenant_setup, name="tenant_setup"),
    # One URL per action on the setup page (each form posts to its own).
    path(
        "admin/tenants/<uuid:tenant_id>/whatsapp/assign",
        superadmin.tenant_setup_assign,
        name="tenant_setup_assign",
    ),
    path(
        "admin/tenants/<uuid:tenant_id>/whatsapp/settings",
        superadmin.tenant_setup_settings,
        name="tenant_setup_settings",
    ),
    path(
        "admin/tenants/<uuid:tenant_id>/whatsapp/remove",
        superadmin.tenant_setup_remove,
        name="tenant_setup_remove",
    ),
    path(
        "admin/tenants/<uuid:tenant_id>/whatsapp/test",
        superadmin.tenant_setup_test,
        name="tenant_setup_test",
    ),
    path(
        "admin/tenants/<uuid:tenant_id>/members/",
        member_views.tenant_members,
        name="tenant_members",
    ),
    path(
        "admin/tenants/<uuid:tenant_id>/members/invite",
        member_views.tenant_member_invite,
        name="tenant_member_invite",
    ),
    path(
        "admin/tenants/<uuid:tenant_id>/members/<uuid:member_id>/role",
        member_views.tenant_member_role,
        name="tenant_member_role",
    ),
    path(
        "admin/tenants/<uuid:tenant_id>/members/<uuid:member_id>/remove",
        member_views.tenant_member_remove,
        name="tenant_member_remove",
    ),
    path(
        "admin/tenants/<uuid:tenant_id>/whatsapp/",
        RedirectView.as_view(pattern_name="tenant_setup", permanent=False),
    ),
    path("admin/endpoints/", superadmin.endpoint_list, name="endpoint_list"),
    path("admin/operations/", operations.operations, name="operations"),
    path(
        "admin/operations/charts/<slug:chart_key>.svg",
        operations.operations_chart,
        name="operations_chart",
    ),
    # The audit log moved from the whatsapp app to core (issue 10): old bookmarks still land.
    path(
        "django-admin/whatsapp/auditevent/",
        RedirectView.as_view(url="/django-admin/core/auditevent/", query_string=True),
    ),
    path("django-admin/", admin.site.urls),
    *common_patterns,
]
