"""Forms for the WhatsApp setup pages; the rules themselves live in the services and models."""

from __future__ import annotations

from django import forms

from whatsapp.models import TenantWhatsAppConfig


class AssignEndpointForm(forms.Form):
    endpoint_name = forms.ChoiceField(label="Endpoint", choices=())

    def __init__(self, *args, endpoint_names: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        # Names only: URLs and keys never reach a page.
        self.fields["endpoint_name"].choices = [("", "Choose an endpoint…")] + [
            (name, name) for name in endpoint_names
        ]


class SettingsForm(forms.ModelForm):
    class Meta:
        model = TenantWhatsAppConfig
        fields = list(TenantWhatsAppConfig.SETTING_FIELDS)
        labels = {
            "auto_reconnect": "Reconnect dropped devices automatically",
            "reconnect_interval": "Reconnect interval (seconds)",
            "health_check_interval": "Health check interval (seconds)",
            "webhook_retries": "Webhook retries",
            "message_timeout": "Message timeout (seconds)",
        }
