"""Signal receivers: a new tenant (from any path: command, page, admin) gets starter templates."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from tenants.models import Tenant
from whatsapp.services.templates import templates_seed


@receiver(post_save, sender=Tenant, dispatch_uid="whatsapp.starter_templates")
def _seed_templates(sender, instance: Tenant, created: bool, raw: bool = False, **kwargs) -> None:
    # A signal because tenants may not import whatsapp (dependencies point whatsapp -> tenants);
    # the rule itself lives in the service.
    if created and not raw:
        templates_seed(tenant=instance)
