"""URLs of tenant hosts (<subdomain>.BASE_DOMAIN): the tenant's WhatsApp pages and the API."""

from __future__ import annotations

from django.urls import path
from django.views.generic import RedirectView

from booqing.urls_common import common_patterns
from tenants import member_views
from whatsapp.views import (
    device_timeline,
    tenant,
    tenant_devices,
    tenant_events,
    tenant_inbox,
    tenant_send_settings,
    tenant_templates,
    tenant_tokens,
)

WA = "admin/whatsapp"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/whatsapp", permanent=False)),
    path(WA, tenant.dashboard, name="whatsapp_dashboard"),
    path(f"{WA}/", RedirectView.as_view(url="/admin/whatsapp", permanent=False)),
    # Devices
    path(f"{WA}/devices/new", tenant.device_add, name="whatsapp_device_add"),
    path(f"{WA}/devices/<uuid:device_id>", tenant_devices.device_detail, name="whatsapp_device"),
    path(
        f"{WA}/devices/<uuid:device_id>/qr",
        tenant_devices.device_action,
        {"action": "qr"},
        name="whatsapp_device_qr",
    ),
    path(
        f"{WA}/devices/<uuid:device_id>/restart",
        tenant_devices.device_action,
        {"action": "restart"},
        name="whatsapp_device_restart",
    ),
    path(
        f"{WA}/devices/<uuid:device_id>/logout",
        tenant_devices.device_action,
        {"action": "logout"},
        name="whatsapp_device_logout",
    ),
    path(
        f"{WA}/devices/<uuid:device_id>/pairing-code",
        tenant_devices.device_pairing_code,
        name="whatsapp_device_pairing_code",
    ),
    path(
        f"{WA}/devices/<uuid:device_id>/timeline",
        device_timeline.device_timeline,
        name="whatsapp_device_timeline",
    ),
    path(
        f"{WA}/devices/<uuid:device_id>/delete",
        tenant_devices.device_delete,
        name="whatsapp_device_delete",
    ),
    # Inbox
    path(f"{WA}/conversations/", tenant_inbox.inbox, name="whatsapp_inbox"),
    path(f"{WA}/conversations", RedirectView.as_view(url="/admin/whatsapp/conversations/")),
    path(f"{WA}/conversations/new", tenant_inbox.message_new, name="whatsapp_message_new"),
    # Live inbox: what changed since the page's stamp (204 when nothing), and contact details.
    path(f"{WA}/conversations/poll", tenant_inbox.inbox_poll, name="whatsapp_inbox_poll"),
    path(
        f"{WA}/conversations/<uuid:conversation_id>/poll",
        tenant_inbox.thread_poll,
        name="whatsapp_thread_poll",
    ),
    path(
        f"{WA}/conversations/<uuid:conversation_id>/contact",
        tenant_inbox.conversation_contact,
        name="whatsapp_conversation_contact",
    ),
    path(
        f"{WA}/conversations/<uuid:conversation_id>",
        tenant_inbox.thread,
        name="whatsapp_thread",
    ),
    path(
        f"{WA}/conversations/<uuid:conversation_id>/reply",
        tenant_inbox.thread_reply,
        name="whatsapp_thread_reply",
    ),
    path(
        f"{WA}/conversations/<uuid:conversation_id>/messages/<uuid:message_id>/retry",
        tenant_inbox.message_retry,
        name="whatsapp_message_retry",
    ),
    path(
        f"{WA}/conversations/<uuid:conversation_id>/messages/<uuid:message_id>/send-again",
        tenant_inbox.message_send_again,
        name="whatsapp_message_send_again",
    ),
    path(
        f"{WA}/conversations/<uuid:conversation_id>/messages/<uuid:message_id>/mark-sent",
        tenant_inbox.message_mark_sent,
        name="whatsapp_message_mark_sent",
    ),
    # API tokens
    path(f"{WA}/api-tokens", tenant_tokens.api_tokens, name="whatsapp_api_tokens"),
    path(f"{WA}/api-tokens/new", tenant_tokens.api_token_create, name="whatsapp_api_token_create"),
    path(
        f"{WA}/api-tokens/<uuid:token_id>/revoke",
        tenant_tokens.api_token_revoke,
        name="whatsapp_api_token_revoke",
    ),
    # Events to the booking product, message templates, quick replies (issue 12)
    path(f"{WA}/event-endpoints", tenant_events.event_endpoints, name="whatsapp_event_endpoints"),
    path(
        f"{WA}/event-endpoints/new",
        tenant_events.event_endpoint_create,
        name="whatsapp_event_endpoint_create",
    ),
    path(
        f"{WA}/event-endpoints/<uuid:endpoint_id>/delete",
        tenant_events.event_endpoint_delete,
        name="whatsapp_event_endpoint_delete",
    ),
    path(
        f"{WA}/event-endpoints/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/replay",
        tenant_events.event_delivery_replay,
        name="whatsapp_event_delivery_replay",
    ),
    path(f"{WA}/settings", tenant_send_settings.send_settings_page, name="whatsapp_send_settings"),
    path(
        f"{WA}/settings/save",
        tenant_send_settings.send_settings_save,
        name="whatsapp_send_settings_save",
    ),
    path(
        f"{WA}/settings/devices/<uuid:device_id>/pacing",
        tenant_send_settings.device_pacing_save,
        name="whatsapp_device_pacing_save",
    ),
    path(f"{WA}/templates", tenant_templates.message_templates, name="whatsapp_templates"),
    path(
        f"{WA}/templates/new",
        tenant_templates.message_template_create,
        name="whatsapp_template_create",
    ),
    path(
        f"{WA}/templates/<slug:name>/edit",
        tenant_templates.message_template_update,
        name="whatsapp_template_update",
    ),
    path(
        f"{WA}/templates/<slug:name>/delete",
        tenant_templates.message_template_delete,
        name="whatsapp_template_delete",
    ),
    path(
        f"{WA}/conversations/<uuid:conversation_id>/quick-reply",
        tenant_templates.quick_reply,
        name="whatsapp_quick_reply",
    ),
    # Members (this workspace's admins)
    path("admin/members/", member_views.members, name="members"),
    path("admin/members/invite", member_views.member_invite, name="member_invite"),
    path("admin/members/<uuid:member_id>/role", member_views.member_role, name="member_role"),
    path("admin/members/<uuid:member_id>/remove", member_views.member_remove, name="member_remove"),
    *common_patterns,
]
