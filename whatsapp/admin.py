"""Django admin registrations for the WhatsApp tables (read-mostly; use the pages for changes)."""

from django.contrib import admin

from whatsapp.models import (
    ApiToken,
    Device,
    EndpointState,
    Message,
    TenantWhatsAppConfig,
    WebhookEvent,
)
from whatsapp.services.webhooks import webhook_event_retry


@admin.register(TenantWhatsAppConfig)
class TenantWhatsAppConfigAdmin(admin.ModelAdmin):
    list_display = ["tenant", "endpoint_name", "health_status", "last_health_check"]
    list_filter = ["health_status", "endpoint_name"]
    search_fields = ["tenant__name", "tenant__subdomain", "endpoint_name"]


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "endpoint_name", "status", "phone", "last_event_at"]
    list_filter = ["status", "endpoint_name"]
    search_fields = ["name", "phone", "session_name", "tenant__subdomain"]
    # Pacing is an operator's lever against bans; everything else comes from the gateway.
    fields = ["name", "min_send_gap_ms", "daily_send_cap"]
    list_select_related = ["tenant"]

    def has_add_permission(self, request):
        return False  # devices are created through the gateway, on the tenant's page


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "device", "kind", "status", "attempts", "last_error"]
    list_filter = ["status", "kind"]
    search_fields = ["event_id", "device__name"]
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]
    actions = ["retry_events"]
    list_select_related = ["device"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Process the selected failed events again")
    def retry_events(self, request, queryset):
        for event in queryset.filter(status=WebhookEvent.Status.FAILED):
            webhook_event_retry(event=event)
        self.message_user(request, "Queued again; the scheduler processes them within seconds.")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "tenant", "direction", "status", "attempts", "last_error"]
    list_filter = ["status", "direction"]
    search_fields = ["body", "gateway_message_id", "conversation__contact"]
    readonly_fields = [f.name for f in Message._meta.fields]
    list_select_related = ["tenant"]

    def has_add_permission(self, request):
        return False


@admin.register(EndpointState)
class EndpointStateAdmin(admin.ModelAdmin):
    list_display = ["endpoint_name", "health_status", "last_latency_ms", "last_probe_at"]
    readonly_fields = [f.name for f in EndpointState._meta.fields]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = [f.name for f in ApiToken._meta.fields]

    def has_add_permission(self, request):
        return False
