"""Forms of the team inbox that are not about sending: a contact's name and note."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from whatsapp.models import Conversation


class ContactForm(forms.ModelForm):
    class Meta:
        model = Conversation
        fields = ["contact_name", "contact_note"]
        labels = {"contact_name": _("Name"), "contact_note": _("Note for the team")}
        widgets = {
            "contact_name": forms.TextInput(attrs={"autocomplete": "off"}),
            "contact_note": forms.TextInput(attrs={"autocomplete": "off"}),
        }
