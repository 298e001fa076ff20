"""manage.py create_tenant SUBDOMAIN --name NAME"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant reachable at <SUBDOMAIN>.<BASE_DOMAIN>."

    def add_arguments(self, parser):
        parser.add_argument("subdomain")
        parser.add_argument("--name", required=True, help="The business's display name.")

    def handle(self, *args, subdomain, name, **options):
        try:
            tenant = tenant_create(name=name, subdomain=subdomain)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        address = f"{tenant.subdomain}.{settings.BASE_DOMAIN}"
        self.stdout.write(
            self.style.SUCCESS(f"Created tenant {tenant.name} ({tenant.pk}) at {address}")
        )
