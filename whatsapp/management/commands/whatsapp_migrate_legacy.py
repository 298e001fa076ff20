"""manage.py whatsapp_migrate_legacy: legacy per-tenant gateway URLs and keys become names.

Older installations kept each tenant's gateway URL and API key in a database table. Here the
database holds only an endpoint *name*; URLs and keys live in WHATSAPP_ENDPOINTS. This command
reads the legacy rows, finds the configured endpoint with the same URL (and key), assigns it to
the tenant (keeping the legacy settings), and reports every row it could not match without ever
printing a key. `--purge` then blanks the legacy URL and key columns.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.db.utils import DatabaseError

from core.errors import ApplicationError
from tenants.models import Tenant
from whatsapp.endpoints import registry
from whatsapp.models import TenantWhatsAppConfig
from whatsapp.services.config import endpoint_assign

SETTING_COLUMNS = TenantWhatsAppConfig.SETTING_FIELDS
SOURCE_ALIAS = "legacy_source"


def normalise_url(url: str) -> str:
    parts = urlsplit((url or "").strip())
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return (
        f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}{parts.path.rstrip('/')}"
    )


class Command(BaseCommand):
    help = "Assign endpoints by name to tenants whose legacy rows hold a gateway URL and key."

    def add_arguments(self, parser):
        parser.add_argument("--source-url", help="Database URL of the legacy data (default: ours).")
        parser.add_argument("--table", default="legacy_tenant_whatsapp", help="Legacy table name.")
        parser.add_argument("--dry-run", action="store_true", help="Report only; change nothing.")
        parser.add_argument(
            "--purge", action="store_true", help="Blank the legacy URL/key columns afterwards."
        )

    def handle(self, *args, source_url, table, dry_run, purge, **options):
        if not table.replace("_", "").isalnum():
            raise CommandError("--table must be a plain table name.")
        connection = self._source(source_url)
        rows = self._rows(connection, table)
        by_url = {normalise_url(c.api_url): c for c in registry().configs()}
        migrated = unmatched = 0
        for row in rows:
            tenant = self._tenant(row)
            label = row.get("subdomain") or row.get("tenant_id")
            if tenant is None:
                self.stdout.write(self.style.WARNING(f"skip {label}: no such tenant here"))
                unmatched += 1
                continue
            endpoint = by_url.get(normalise_url(row.get("api_url") or ""))
            if endpoint is None:
                host = urlsplit(row.get("api_url") or "").netloc.rsplit("@", 1)[-1] or "?"
                self.stdout.write(
                    self.style.WARNING(
                        f"skip {tenant.subdomain}: no endpoint in WHATSAPP_ENDPOINTS has the URL "
                        f"of host {host}; add one (with its key) and run this again"
                    )
                )
                unmatched += 1
                continue
            legacy_key = row.get("api_key") or ""
            if legacy_key and not hmac.compare_digest(legacy_key, endpoint.api_key.reveal()):
                self.stdout.write(
                    self.style.WARNING(
                        f"skip {tenant.subdomain}: endpoint {endpoint.name} has the same URL but "
                        "a different key; check which key is current"
                    )
                )
                unmatched += 1
                continue
            settings = {c: row[c] for c in SETTING_COLUMNS if row.get(c) is not None}
            verb = "would assign" if dry_run else "assigned"
            if not dry_run:
                try:
                    endpoint_assign(
                        tenant=tenant, endpoint_name=endpoint.name, actor=None, settings=settings
                    )
                except ApplicationError as exc:
                    self.stdout.write(self.style.WARNING(f"skip {tenant.subdomain}: {exc.message}"))
                    unmatched += 1
                    continue
            self.stdout.write(f"{verb} {endpoint.name} to {tenant.subdomain}")
            migrated += 1
        if purge and not dry_run:
            with connection.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET api_url = NULL, api_key = NULL")  # noqa: S608
            self.stdout.write("Blanked the legacy api_url and api_key columns.")
        summary = f"{migrated} migrated, {unmatched} need attention"
        style = self.style.SUCCESS if not unmatched else self.style.WARNING
        self.stdout.write(style(summary + (" (dry run)" if dry_run else "")))

    def _source(self, source_url: str | None):
        if not source_url:
            return connections["default"]
        connections.databases[SOURCE_ALIAS] = {
            **connections.databases["default"],
            **environ.Env.db_url_config(source_url),
        }
        return connections[SOURCE_ALIAS]

    def _rows(self, connection, table: str) -> list[dict]:
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 (name checked above)
                names = [c[0] for c in cursor.description]
                return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
        except DatabaseError as exc:
            raise CommandError(f"Cannot read the legacy table '{table}': {exc}") from exc

    def _tenant(self, row: dict) -> Tenant | None:
        if row.get("subdomain"):
            return Tenant.objects.filter(subdomain=str(row["subdomain"]).lower()).first()
        if row.get("tenant_id"):
            try:
                return Tenant.objects.filter(pk=row["tenant_id"]).first()
            except (ValueError, TypeError, ValidationError):
                return None
        return None
