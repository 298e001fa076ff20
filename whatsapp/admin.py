"""Django admin registrations for the WhatsApp tables (read-mostly; use the pages for changes)."""

from django.contrib import admin

from whatsapp.models import AuditEvent, TenantWhatsAppConfig


@admin.register(TenantWhatsAppConfig)
class TenantWhatsAppConfigAdmin(admin.ModelAdmin):
    list_display = ["tenant", "endpoint_name", "health_status", "last_health_check"]
    list_filter = ["health_status", "endpoint_name"]
    search_fields = ["tenant__name", "tenant__subdomain", "endpoint_name"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_label", "tenant", "action"]
    list_filter = ["action"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
