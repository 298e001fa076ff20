"""manage.py whatsapp_assign SUBDOMAIN ENDPOINT"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from tenants.models import Tenant
from whatsapp.services import endpoint_assign


class Command(BaseCommand):
    help = "Assign a WhatsApp endpoint (by name) to a tenant."

    def add_arguments(self, parser):
        parser.add_argument("subdomain")
        parser.add_argument("endpoint")

    def handle(self, *args, subdomain, endpoint, **options):
        tenant = Tenant.objects.filter(subdomain=subdomain.lower()).first()
        if tenant is None:
            raise CommandError(f"No tenant with subdomain '{subdomain}'.")
        try:
            endpoint_assign(tenant=tenant, endpoint_name=endpoint, actor=None)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"Assigned {endpoint} to {tenant.subdomain}."))
