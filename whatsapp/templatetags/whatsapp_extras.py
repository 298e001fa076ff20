"""Template filters for the WhatsApp pages."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def ago(value: datetime | None) -> str:
    """'just now' under a minute, otherwise '5 minutes ago' (timesince says '0 minutes')."""
    if not value:
        return ""
    if timezone.now() - value < timedelta(minutes=1):
        return _("just now")
    return _("%(duration)s ago") % {"duration": timesince(value)}
