"""Template filters that show times and numbers the way people in the tenant's region read them."""

from __future__ import annotations

from datetime import datetime, timedelta

import phonenumbers
from django import template
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from tenants.models import TIME_ZONE_ABBREVIATIONS

register = template.Library()

HOME_REGION = "ID"


def zone_label(moment: datetime) -> str:
    """'WIB', 'WITA', 'WIT' for Indonesia's zones; otherwise the UTC offset ('UTC+02:00')."""
    name = getattr(timezone.get_current_timezone(), "key", "")
    if name in TIME_ZONE_ABBREVIATIONS:
        return TIME_ZONE_ABBREVIATIONS[name]
    offset = moment.strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"


@register.filter
def clock(value: datetime | None) -> str:
    """'15:31 WIB': the time in the active (tenant's) zone, labelled so nobody guesses."""
    if not value:
        return ""
    local = timezone.localtime(value)
    return f"{local:%H:%M} {zone_label(local)}"


@register.filter
def day_label(value: datetime | None) -> str:
    """'Today', 'Yesterday' or the date, in the active zone and language (thread dividers)."""
    if not value:
        return ""
    day = timezone.localtime(value).date()
    today = timezone.localdate()
    if day == today:
        return _("Today")
    if day == today - timedelta(days=1):
        return _("Yesterday")
    return formats.date_format(day, "j F Y")


@register.filter
def phone(value: str | None) -> str:
    """Indonesian numbers as people dial them ('0811-0000-0001'); others in international form."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, HOME_REGION)
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_possible_number(number):
        return value
    if phonenumbers.region_code_for_number(number) == HOME_REGION:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
