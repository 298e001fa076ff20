"""whatsapp_migrate_legacy: legacy per-tenant URL/key rows become endpoint names."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from core.models import AuditEvent
from tenants.test import CANARY_PRIMARY, CANARY_SECONDARY
from whatsapp.models import TenantWhatsAppConfig

pytestmark = pytest.mark.django_db


@pytest.fixture
def legacy_rows(cast):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE legacy_tenant_whatsapp (subdomain varchar(63), api_url varchar(200), "
            "api_key varchar(200), reconnect_interval integer, webhook_retries integer)"
        )
        cursor.executemany(
            "INSERT INTO legacy_tenant_whatsapp VALUES (%s, %s, %s, %s, %s)",
            [
                ("acme", "https://PRIMARY.gateway.test/", CANARY_PRIMARY, 45, 5),
                ("globex", "https://primary.gateway.test", CANARY_SECONDARY, 30, 3),
                ("ghost", "https://primary.gateway.test", CANARY_PRIMARY, 30, 3),
            ],
        )
    return cast


def run(*args) -> str:
    out = StringIO()
    call_command("whatsapp_migrate_legacy", *args, stdout=out)
    return out.getvalue()


def test_it_assigns_the_endpoint_with_the_same_url_and_key_keeping_settings(legacy_rows):
    output = run()
    config = TenantWhatsAppConfig.objects.get(tenant=legacy_rows.tenant_a)
    assert config.endpoint_name == "Primary"
    assert (config.reconnect_interval, config.webhook_retries) == (45, 5)
    assert AuditEvent.objects.filter(tenant=legacy_rows.tenant_a).exists()
    assert "assigned Primary to acme" in output
    # Same URL, other key: reported for a person to decide, never printed.
    assert "skip globex" in output and "different key" in output
    assert "skip ghost: no such tenant" in output
    assert CANARY_PRIMARY not in output and CANARY_SECONDARY not in output
    assert not TenantWhatsAppConfig.objects.filter(tenant=legacy_rows.tenant_b).exists()


def test_it_changes_nothing_on_a_dry_run(legacy_rows):
    output = run("--dry-run")
    assert "would assign Primary to acme" in output
    assert not TenantWhatsAppConfig.objects.exists()


def test_it_blanks_legacy_keys_when_purging(legacy_rows):
    run("--purge")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM legacy_tenant_whatsapp WHERE api_key IS NOT NULL")
        assert cursor.fetchone()[0] == 0
