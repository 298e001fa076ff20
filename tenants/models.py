"""Tenants (businesses on their own subdomain) and their members."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

SUBDOMAIN_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
# Names that would shadow the platform itself or common infrastructure hosts.
RESERVED_SUBDOMAINS = frozenset({"www", "api", "admin", "static", "mail", "app", "platform"})


class TimeZone(models.TextChoices):
    """Indonesia's three zones: a salon in Bali or Papua reads its own clock, not Jakarta's."""

    WIB = "Asia/Jakarta", _("WIB (Jakarta, Sumatra, Java, West/Central Kalimantan)")
    WITA = "Asia/Makassar", _("WITA (Bali, Nusa Tenggara, Sulawesi, East/South Kalimantan)")
    WIT = "Asia/Jayapura", _("WIT (Maluku, Papua)")


# The short label people write after a time ("15:31 WITA"); other zones fall back to the offset.
TIME_ZONE_ABBREVIATIONS = {choice.value: choice.name for choice in TimeZone}


class Tenant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    subdomain = models.CharField(
        max_length=63,
        unique=True,
        validators=[
            RegexValidator(
                SUBDOMAIN_PATTERN,
                "Use 1-63 lowercase letters, digits or hyphens; no hyphen at either end.",
            )
        ],
    )
    is_active = models.BooleanField(default=True)
    time_zone = models.CharField(
        max_length=40,
        choices=TimeZone.choices,
        default=TimeZone.WIB,
        help_text=_("Times on this tenant's pages, e-mails and messages are shown in this zone."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.subdomain})"


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", _("Admin")
        STAFF = "staff", _("Staff")

    # Pages address a membership by this, never by the sequential primary key.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.STAFF)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="unique_membership_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.tenant.subdomain}"

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN


class UserPreference(models.Model):
    """A person's own choices that follow them across tenants and devices (today: the language)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    language = models.CharField(max_length=10, choices=settings.LANGUAGES, blank=True)

    def __str__(self) -> str:
        return f"{self.user} prefers {self.language or 'the default language'}"
