"""Forms for login, tenant creation and members."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from tenants.models import Membership, Tenant


class TenantLoginForm(AuthenticationForm):
    """On a tenant host only that tenant's members may sign in; elsewhere anyone may."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        tenant = getattr(self.request, "tenant", None)
        if tenant is not None and not Membership.objects.filter(user=user, tenant=tenant).exists():
            raise forms.ValidationError(
                _(
                    "This account is not a member of %(name)s. Sign in on your own "
                    "workspace's address, or ask its admin to add you."
                )
                % {"name": tenant.name},
                code="not_a_member",
            )


class TenantCreateForm(forms.Form):
    name = forms.CharField(max_length=120, label=_("Business name"))
    subdomain = forms.CharField(max_length=63, label=_("Subdomain"))
    owner_email = forms.EmailField(
        required=False,
        label=_("Owner's e-mail"),
        help_text=_("The owner gets an invitation to choose a password and becomes its admin."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subdomain"].help_text = _(
            "Lowercase letters, digits and hyphens: the address becomes <subdomain>.%(domain)s."
        ) % {"domain": settings.BASE_DOMAIN}

    def clean_subdomain(self) -> str:
        # Checked here as well as in the service so the error sits on the field (aria-invalid).
        value = self.cleaned_data["subdomain"].strip().lower()
        try:
            Tenant._meta.get_field("subdomain").run_validators(value)
        except forms.ValidationError:
            raise forms.ValidationError(
                _("Use 1-63 lowercase letters, digits or hyphens; no hyphen at either end."),
                code="invalid_subdomain",
            ) from None
        return value


class MemberInviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    role = forms.ChoiceField(
        label=_("Role"),
        choices=Membership.Role.choices,
        initial=Membership.Role.STAFF,
        help_text=_("Admins manage devices, members and API tokens; staff answer messages."),
    )


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)
