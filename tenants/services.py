"""Use cases for tenants and their members."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ApplicationError, ErrorKind
from tenants.invitations import invitation_send
from tenants.locale import supported_language
from tenants.models import RESERVED_SUBDOMAINS, Membership, Tenant, UserPreference


def tenant_create(
    *,
    name: str,
    subdomain: str,
    actor=None,
    owner_email: str = "",
    owner_origin: Callable[[Tenant], str] | None = None,
) -> Tenant:
    """Create an active tenant; the subdomain is normalised to lower case.

    With `owner_email`, its owner is invited as admin in the same transaction (the e-mail's link
    starts with `owner_origin(tenant)`), so a tenant never exists without the way in.
    """
    subdomain = (subdomain or "").strip().lower()
    name = (name or "").strip()
    if subdomain in RESERVED_SUBDOMAINS:
        raise ApplicationError(
            _("'%(subdomain)s' is reserved for the platform; choose another subdomain.")
            % {"subdomain": subdomain},
            "subdomain_reserved",
            kind=ErrorKind.INVALID,
        )
    tenant = Tenant(name=name, subdomain=subdomain)
    try:
        # Uniqueness is left to the database (below): it is race-free and says "already taken".
        tenant.full_clean(validate_unique=False)
    except ValidationError as exc:
        parts = [f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()]
        raise ApplicationError("; ".join(parts), "invalid_tenant", kind=ErrorKind.INVALID) from exc
    try:
        with transaction.atomic():
            tenant.save()
            audit_record(actor=actor, tenant=tenant, action="tenant.created", after={"name": name})
            if owner_email:
                origin = owner_origin(tenant) if owner_origin else ""
                member_invite(
                    tenant=tenant,
                    email=owner_email,
                    role=Membership.Role.ADMIN,
                    origin=origin,
                    actor=actor,
                )
    except IntegrityError as exc:
        raise ApplicationError(
            _("The subdomain '%(subdomain)s' is already taken.") % {"subdomain": subdomain},
            "subdomain_taken",
            kind=ErrorKind.INVALID,
        ) from exc
    return tenant


def member_add(
    *, tenant: Tenant, username: str, role: str, email: str = "", password: str | None = None
) -> tuple[Membership, bool]:
    """Add a user (created when missing) to a tenant. Returns (membership, user_created)."""
    if role not in Membership.Role.values:
        raise ApplicationError(
            f"Unknown role '{role}': use admin or staff.", "invalid_role", kind=ErrorKind.INVALID
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
            kind=ErrorKind.INVALID,
        )
    if user is not None and user.is_authenticated:
        UserPreference.objects.update_or_create(user=user, defaults={"language": code})
    return code


def member_invite(
    *, tenant: Tenant, email: str, role: str, origin: str, actor=None
) -> tuple[Membership, bool]:
    """Add the person with this e-mail (created when new) and mail them a set-password link.

    Returns (membership, user_created). An existing account keeps its password and simply
    gains (or changes) its role here; it is still told by e-mail.
    """
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ApplicationError(
            _("'%(email)s' is not an e-mail address; check for typos.") % {"email": email[:80]},
            "invalid_email",
            kind=ErrorKind.INVALID,
        ) from exc
    if role not in Membership.Role.values:
        raise ApplicationError(
            _("Choose a role: admin or staff."), "invalid_role", kind=ErrorKind.INVALID
        )
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).order_by("pk").first()
        created = user is None
        if created:
            user = User(username=_free_username(email), email=email)
            user.set_unusable_password()
            user.save()
        membership, joined = Membership.objects.get_or_create(
            user=user, tenant=tenant, defaults={"role": role}
        )
        if not joined and membership.role != role:
            membership.role = role
            membership.save(update_fields=["role"])
        audit_record(
            actor=actor,
            tenant=tenant,
            action="member.invited",
            after={"user": user.get_username(), "role": role},
        )
        role_label = str(Membership.Role(role).label)
        transaction.on_commit(
            lambda: invitation_send(
                user=user, tenant=tenant, role_label=role_label, origin=origin, inviter=actor
            )
        )
    return membership, created


def _free_username(email: str) -> str:
    """The e-mail itself when free (people remember it), else the e-mail with a number."""
    User = get_user_model()
    base = email.lower()[:140]
    candidate, n = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def member_role_change(*, membership: Membership, role: str, actor=None) -> Membership:
    """Make a member admin or staff; the workspace always keeps at least one admin."""
    if role not in Membership.Role.values:
        raise ApplicationError(
            _("Choose a role: admin or staff."), "invalid_role", kind=ErrorKind.INVALID
        )
    with transaction.atomic():
        locked = Membership.objects.select_for_update().get(pk=membership.pk)
        if locked.role == role:
            return locked
        if locked.role == Membership.Role.ADMIN:
            _keep_an_admin(locked)
        before = locked.role
        locked.role = role
        locked.save(update_fields=["role"])
        audit_record(
            actor=actor,
            tenant=locked.tenant,
            action="member.role_changed",
            before={"user": locked.user.get_username(), "role": before},
            after={"user": locked.user.get_username(), "role": role},
        )
    return locked


def member_remove(*, membership: Membership, actor=None) -> None:
    """Take someone out of the workspace (their account stays for other workspaces)."""
    with transaction.atomic():
        locked = Membership.objects.select_for_update().get(pk=membership.pk)
        if locked.role == Membership.Role.ADMIN:
            _keep_an_admin(locked)
        audit_record(
            actor=actor,
            tenant=locked.tenant,
            action="member.removed",
            before={"user": locked.user.get_username(), "role": locked.role},
        )
        locked.delete()


def _keep_an_admin(membership: Membership) -> None:
    others = (
        Membership.objects.select_for_update()
        .filter(tenant=membership.tenant, role=Membership.Role.ADMIN)
        .exclude(pk=membership.pk)
    )
    if not others.exists():
        raise ApplicationError(
            _(
                "%(name)s is the only admin of this workspace. Make someone else admin first, "
                "so the workspace is never left without one."
            )
            % {"name": membership.user.get_username()},
            "last_admin",
            kind=ErrorKind.CONFLICT,
        )
