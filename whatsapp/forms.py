"""Forms for the WhatsApp setup pages; the rules themselves live in the services and models."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from whatsapp.models import TenantWhatsAppConfig, TokenScope


class AssignEndpointForm(forms.Form):
    endpoint_name = forms.ChoiceField(label=_("Endpoint"), choices=())

    def __init__(self, *args, endpoint_names: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        # Names only: URLs and keys never reach a page.
        self.fields["endpoint_name"].choices = [("", _("Choose an endpoint…"))] + [
            (name, name) for name in endpoint_names
        ]


class SettingsForm(forms.ModelForm):
    class Meta:
        model = TenantWhatsAppConfig
        fields = list(TenantWhatsAppConfig.SETTING_FIELDS)
        labels = {
            "auto_reconnect": _("Reconnect dropped devices automatically"),
            "reconnect_interval": _("Reconnect interval (seconds)"),
            "health_check_interval": _("Health check interval (seconds)"),
            "webhook_retries": _("Webhook retries"),
            "message_timeout": _("Message timeout (seconds)"),
        }


class DeviceForm(forms.Form):
    name = forms.CharField(
        label=_("Device name"),
        max_length=60,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. Front desk"), "autocomplete": "off"}),
    )


class NewMessageForm(forms.Form):
    to = forms.CharField(
        label="To",
        max_length=40,
        widget=forms.TextInput(
            attrs={"placeholder": "+6281234567890 or 081234567890", "inputmode": "tel"}
        ),
    )
    body = forms.CharField(label="Message", widget=forms.Textarea(attrs={"rows": 3}))
    device = forms.ChoiceField(label="Send from", required=False, choices=())

    def __init__(self, *args, devices=(), **kwargs):
        super().__init__(*args, **kwargs)
        # A choice only matters when there is more than one number to send from.
        self.fields["device"].choices = [
            (str(d.pk), f"{d.name} ({d.get_status_display()})") for d in devices
        ]
        self.show_device = len(self.fields["device"].choices) > 1


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Reply",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Write a reply…"}),
    )


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label="Token name",
        max_length=80,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Booking app", "autocomplete": "off"}),
    )
    scopes = forms.MultipleChoiceField(
        label="Scopes",
        choices=TokenScope.choices,
        initial=[TokenScope.MESSAGES],
        widget=forms.CheckboxSelectMultiple,
        # None ticked (or an older form): the default scope, messages.
        required=False,
        help_text="Give a token only what its app needs: the booking app needs Messages.",
    )
