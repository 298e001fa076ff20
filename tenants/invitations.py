"""Invitation e-mails: a set-password link on the tenant's own address, in the owner's language."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tenants.models import Tenant


def tenant_address(*, tenant: Tenant, scheme: str, port: str = "") -> str:
    """The tenant's own origin, e.g. https://acme.booqing.my.id (the port kept for the demo)."""
    suffix = f":{port}" if port and port not in ("80", "443") else ""
    return f"{scheme}://{tenant.subdomain}.{settings.BASE_DOMAIN}{suffix}"


def set_password_link(*, user, origin: str) -> str:
    """A one-use link (Django's password-reset token: void once the password is set)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("password_set", kwargs={"uidb64": uid, "token": token})
    return f"{origin}{path}"


def invitation_send(*, user, tenant: Tenant, role_label: str, origin: str, inviter=None) -> None:
    """Mail the invitation; Indonesian unless the person chose English before."""
    preference = getattr(user, "preference", None)
    language = (preference.language if preference else "") or settings.TENANT_DEFAULT_LANGUAGE
    context = {
        "tenant": tenant,
        "user": user,
        "role": role_label,
        "link": set_password_link(user=user, origin=origin),
        "login": f"{origin}{reverse('login')}",
        "inviter": inviter.get_username() if inviter is not None else "",
        "days": settings.PASSWORD_RESET_TIMEOUT // 86400,
    }
    with translation.override(language):
        subject = render_to_string("tenants/email/invitation_subject.txt", context).strip()
        body = render_to_string("tenants/email/invitation.txt", context)
    send_mail(subject, body, None, [user.email])
