"""manage.py whatsapp_unassign SUBDOMAIN"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from tenants.models import Tenant
from whatsapp.services import endpoint_remove


class Command(BaseCommand):
    help = "Remove a tenant's WhatsApp endpoint assignment."

    def add_arguments(self, parser):
        parser.add_argument("subdomain")

    def handle(self, *args, subdomain, **options):
        tenant = Tenant.objects.filter(subdomain=subdomain.lower()).first()
        if tenant is None:
            raise CommandError(f"No tenant with subdomain '{subdomain}'.")
        try:
            endpoint_remove(tenant=tenant, actor=None)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"Removed the endpoint from {tenant.subdomain}."))
