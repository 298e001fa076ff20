"""Forms for login and tenant creation."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm

from tenants.models import Membership


class TenantLoginForm(AuthenticationForm):
    """On a tenant host only that tenant's members may sign in; elsewhere anyone may."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        tenant = getattr(self.request, "tenant", None)
        if tenant is not None and not Membership.objects.filter(user=user, tenant=tenant).exists():
            raise forms.ValidationError(
                f"This account is not a member of {tenant.name}. Sign in on your own "
                "workspace's address, or ask its admin to add you.",
                code="not_a_member",
            )


class TenantCreateForm(forms.Form):
    name = forms.CharField(max_length=120, label="Business name")
    subdomain = forms.CharField(max_length=63)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subdomain"].help_text = (
            f"Lowercase letters, digits and hyphens: the address becomes "
            f"<subdomain>.{settings.BASE_DOMAIN}."
        )
