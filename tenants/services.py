"""Use cases for tenants and their members."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from booqing.exceptions import ApplicationError
from tenants.locale import supported_language
from tenants.models import RESERVED_SUBDOMAINS, Membership, Tenant, UserPreference


def tenant_create(*, name: str, subdomain: str, actor=None) -> Tenant:
    """Create an active tenant; the subdomain is normalised to lower case."""
    subdomain = (subdomain or "").strip().lower()
    name = (name or "").strip()
    if subdomain in RESERVED_SUBDOMAINS:
        raise ApplicationError(
            f"'{subdomain}' is reserved for the platform; choose another subdomain.",
            "subdomain_reserved",
            status=422,
        )
    tenant = Tenant(name=name, subdomain=subdomain)
    try:
        # Uniqueness is left to the database (below): it is race-free and says "already taken".
        tenant.full_clean(validate_unique=False)
    except ValidationError as exc:
        parts = [f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()]
        raise ApplicationError("; ".join(parts), "invalid_tenant", status=422) from exc
    try:
        with transaction.atomic():
            tenant.save()
            from whatsapp.services import audit_record

            audit_record(actor=actor, tenant=tenant, action="tenant.created", after={"name": name})
    except IntegrityError as exc:
        raise ApplicationError(
            f"The subdomain '{subdomain}' is already taken.", "subdomain_taken", status=422
        ) from exc
    return tenant


def member_add(
    *, tenant: Tenant, username: str, role: str, email: str = "", password: str | None = None
) -> tuple[Membership, bool]:
    """Add a user (created when missing) to a tenant. Returns (membership, user_created)."""
    if role not in Membership.Role.values:
        raise ApplicationError(
            f"Unknown role '{role}': use admin or staff.", "invalid_role", status=422
        )
    User = get_user_model()
    with transaction.atomic():
        user, created = User.objects.get_or_create(username=username, defaults={"email": email})
        if created:
            if password:
                user.set_password(password)
            else:
                user.set_unusable_password()
            user.save()
        elif password:
            user.set_password(password)
            user.save(update_fields=["password"])
        membership, _ = Membership.objects.update_or_create(
            user=user, tenant=tenant, defaults={"role": role}
        )
    return membership, created


def language_choose(*, user, language: str) -> str:
    """Remember a signed-in person's language; returns the supported code that was stored."""
    code = supported_language(language)
    if code is None:
        raise ApplicationError(
            _(
                "'%(language)s' is not a language this site speaks; "
                "choose Bahasa Indonesia or English."
            )
            % {"language": language[:20]},
            "language_unsupported",
            status=422,
        )
    if user is not None and user.is_authenticated:
        UserPreference.objects.update_or_create(user=user, defaults={"language": code})
    return code
