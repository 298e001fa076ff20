"""manage.py whatsapp_endpoints [--check]: list configured endpoints (never their keys)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.db.models import Count

from whatsapp.endpoints import registry
from whatsapp.models import TenantWhatsAppConfig


class Command(BaseCommand):
    help = "List the WhatsApp endpoints from WHATSAPP_ENDPOINTS, and any problems in it."
    # This is the tool for diagnosing a broken WHATSAPP_ENDPOINTS: the system checks it would
    # otherwise run first refuse to start on exactly that problem.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help="Exit non-zero when the configuration has errors (for deploy scripts).",
        )

    def handle(self, *args, check, **options):
        reg = registry()
        try:
            counts = dict(
                TenantWhatsAppConfig.objects.values_list("endpoint_name").annotate(n=Count("id"))
            )
        except DatabaseError:
            # Before `migrate` (a deploy step may run this first) the config table is missing.
            counts = {}
            self.stdout.write(
                self.style.WARNING("Tenant counts unknown: the database is not ready.")
            )
        metas = reg.all_metadata()
        if metas:
            width = max(len(m.name) for m in metas)
            self.stdout.write(f"{'NAME'.ljust(width)}  PROVIDER   TENANTS  HOST")
            for meta in metas:
                self.stdout.write(
                    f"{meta.name.ljust(width)}  {meta.provider.ljust(9)}  "
                    f"{str(counts.get(meta.name, 0)).rjust(7)}  {meta.host}"
                )
        else:
            self.stdout.write("No endpoints available.")
        orphans = sorted(set(counts) - set(reg.names()))
        for name in orphans:
            self.stdout.write(
                self.style.WARNING(
                    f"Endpoint not found: {counts[name]} tenant(s) use '{name}', which is not in "
                    "WHATSAPP_ENDPOINTS."
                )
            )
        errors = [p for p in reg.problems if not p.is_warning]
        for problem in reg.problems:
            style = self.style.WARNING if problem.is_warning else self.style.ERROR
            self.stdout.write(style(f"whatsapp.{problem.code}: {problem.message}"))
            self.stdout.write(f"    hint: {problem.hint}")
        if check and errors:
            raise CommandError(f"{len(errors)} problem(s) in WHATSAPP_ENDPOINTS.")
