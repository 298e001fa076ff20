"""Login throttling (django-axes): the "too many attempts" page and the superadmins' alert."""

from __future__ import annotations

import logging
import math

from axes.helpers import get_cool_off
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.dispatch import receiver
from django.shortcuts import render

logger = logging.getLogger(__name__)


def lockout_response(request, original_response=None, credentials=None):
    """A page that says what happened and when to try again (429, never a 500)."""
    cool_off = get_cool_off(request)
    minutes = max(1, math.ceil(cool_off.total_seconds() / 60)) if cool_off else None
    context = {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT}
    response = render(request, "tenants/lockout.html", context, status=429)
    if minutes:
        response["Retry-After"] = str(minutes * 60)
    return response


@receiver(user_locked_out, dispatch_uid="tenants.lockouts.notify_superadmins")
def notify_superadmins(sender, request, username, ip_address, **kwargs) -> None:
    """Tell every superadmin with an e-mail address; a failed mail never breaks the login page."""
    recipients = list(
        get_user_model()
        .objects.filter(is_superuser=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    host = request.get_host() if request is not None else "?"
    logger.warning("login locked out host=%s address=%s", host, ip_address)
    if not recipients:
        return
    body = (
        f"Sign-ins were locked after {settings.AXES_FAILURE_LIMIT} failed attempts.\n\n"
        f"Host: {host}\nUsername tried: {username or '(none)'}\nAddress: {ip_address}\n"
        f"Locked for: {settings.AXES_COOLOFF_MINUTES} minutes (each further try restarts it).\n\n"
        "If this was a person who forgot a password, they can try again after the wait. "
        "If not, someone is guessing passwords: consider blocking the address at the proxy."
    )
    try:
        send_mail(
            f"[BooQing WhatsApp] Sign-ins locked on {host}",
            body,
            None,
            recipients,
        )
    except Exception:  # the alert is best effort; the lockout itself stands
        logger.exception("lockout alert mail failed")
