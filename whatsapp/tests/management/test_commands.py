"""whatsapp_endpoints, whatsapp_assign, whatsapp_unassign and seed_demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

from core.models import AuditEvent
from tenants.models import Membership, Tenant
from whatsapp.models import TenantWhatsAppConfig

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def lines(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()]


class TestWhatsappEndpoints:
    def test_it_lists_names_providers_tenant_counts_and_hosts(self, cast):
        TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")
        TenantWhatsAppConfig.objects.create(tenant=cast.tenant_b, endpoint_name="Primary")

        output = run("whatsapp_endpoints")

        assert lines(output)[:3] == [
            ["NAME", "PROVIDER", "TENANTS", "HOST"],
            ["Primary", "waha", "2", "primary.gateway.test"],
            ["Secondary", "evolution", "0", "secondary.gateway.test:8443"],
        ]

    def test_it_says_when_no_endpoints_are_available(self, monkeypatch):
        monkeypatch.setenv("WHATSAPP_ENDPOINTS", "")

        output = run("whatsapp_endpoints")

        assert "No endpoints available." in output
        assert "whatsapp.W001" in output
        assert "hint:" in output

    def test_it_names_tenants_whose_endpoint_is_not_configured(self, cast):
        TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Retired")

        output = run("whatsapp_endpoints")

        assert "Endpoint not found: 1 tenant(s) use 'Retired'" in output

    def test_it_lists_the_problems_in_the_configuration(self, monkeypatch):
        monkeypatch.setenv(
            "WHATSAPP_ENDPOINTS",
            json.dumps(
                [
                    {"name": "Good", "apiUrl": "https://good.test", "apiKey": "k-1234"},
                    {"name": "Bad", "apiUrl": "ftp://bad.test", "apiKey": "k-5678"},
                ]
            ),
        )

        output = run("whatsapp_endpoints")

        assert "Good" in output
        assert "whatsapp.E005: WHATSAPP_ENDPOINTS entry 1 ('Bad')" in output

    def test_it_passes_the_check_when_the_configuration_is_valid(self):
        run("whatsapp_endpoints", "--check")

    def test_it_passes_the_check_with_only_a_warning(self, monkeypatch):
        monkeypatch.setenv("WHATSAPP_ENDPOINTS", "")

        run("whatsapp_endpoints", "--check")

    def test_it_fails_the_check_when_the_configuration_has_errors(self, monkeypatch):
        monkeypatch.setenv("WHATSAPP_ENDPOINTS", '[{"name": "x"}, 5]')

        with pytest.raises(CommandError, match=r"2 problem\(s\) in WHATSAPP_ENDPOINTS"):
            run("whatsapp_endpoints", "--check")

    def test_it_exits_non_zero_from_the_shell_when_the_check_fails(self, tmp_path):
        """As a deploy script runs it: a fresh process, system checks on, before `migrate`."""

        def shell(value: str) -> subprocess.CompletedProcess:
            env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
            env["WHATSAPP_ENDPOINTS"] = value
            env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'not-migrated-yet.sqlite3'}"
            return subprocess.run(
                [sys.executable, "manage.py", "whatsapp_endpoints", "--check"],
                cwd=settings.BASE_DIR,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )

        broken = shell("not json")
        valid = shell('[{"name": "P", "apiUrl": "https://p.test", "apiKey": "k-1234"}]')

        # The command is the diagnosis, so the failing system check must not stop it first.
        assert broken.returncode == 1
        assert "whatsapp.E001" in broken.stdout
        assert "1 problem(s) in WHATSAPP_ENDPOINTS" in broken.stderr
        assert "Traceback" not in broken.stderr
        assert valid.returncode == 0, valid.stderr
        assert "P" in valid.stdout and "p.test" in valid.stdout


class TestWhatsappAssign:
    def test_it_assigns_an_endpoint_as_the_system(self, cast):
        output = run("whatsapp_assign", "acme", "Secondary")

        assert "Assigned Secondary to acme." in output
        config = TenantWhatsAppConfig.objects.get(tenant=cast.tenant_a)
        assert config.endpoint_name == "Secondary"
        event = AuditEvent.objects.get(action="endpoint.assigned")
        assert event.actor_label == "system"
        assert event.tenant == cast.tenant_a

    def test_it_finds_the_tenant_case_insensitively(self, cast):
        run("whatsapp_assign", "ACME", "Primary")

        assert TenantWhatsAppConfig.objects.get().tenant == cast.tenant_a

    def test_it_changes_an_existing_assignment(self, cast):
        run("whatsapp_assign", "acme", "Primary")

        run("whatsapp_assign", "acme", "Secondary")

        assert TenantWhatsAppConfig.objects.get().endpoint_name == "Secondary"
        assert AuditEvent.objects.filter(action="endpoint.changed").exists()

    def test_it_refuses_an_unknown_tenant(self, cast):
        with pytest.raises(CommandError, match="No tenant with subdomain 'nowhere'"):
            run("whatsapp_assign", "nowhere", "Primary")
        assert not TenantWhatsAppConfig.objects.exists()

    @pytest.mark.parametrize("name", ["Nope", "primary"])
    def test_it_refuses_an_unknown_endpoint_and_lists_the_known_ones(self, cast, name):
        with pytest.raises(CommandError) as error:
            run("whatsapp_assign", "acme", name)

        message = str(error.value)
        assert f"Endpoint '{name}' is not configured on this server" in message
        assert "WHATSAPP_ENDPOINTS" in message
        assert "Primary, Secondary" in message
        assert not TenantWhatsAppConfig.objects.exists()

    def test_it_says_no_endpoints_are_available(self, cast, monkeypatch):
        monkeypatch.setenv("WHATSAPP_ENDPOINTS", "")

        with pytest.raises(CommandError, match="No endpoints available"):
            run("whatsapp_assign", "acme", "Primary")


class TestWhatsappUnassign:
    def test_it_removes_the_assignment(self, cast):
        run("whatsapp_assign", "acme", "Primary")

        output = run("whatsapp_unassign", "acme")

        assert "Removed the endpoint from acme." in output
        assert not TenantWhatsAppConfig.objects.exists()
        assert (
            AuditEvent.objects.get(action="endpoint.removed").before["endpoint_name"] == "Primary"
        )

    def test_it_says_when_nothing_is_assigned(self, cast):
        with pytest.raises(CommandError, match="Acme Salon has no WhatsApp endpoint assigned"):
            run("whatsapp_unassign", "acme")

    def test_it_refuses_an_unknown_tenant(self, cast):
        run("whatsapp_assign", "acme", "Primary")

        with pytest.raises(CommandError, match="No tenant with subdomain 'nowhere'"):
            run("whatsapp_unassign", "nowhere")
        assert TenantWhatsAppConfig.objects.exists()


class TestSeedDemo:
    def state(self) -> tuple:
        User = get_user_model()
        return (
            sorted(User.objects.values_list("username", "is_superuser", "password")),
            sorted(Tenant.objects.values_list("subdomain", "name")),
            sorted(Membership.objects.values_list("user__username", "tenant__subdomain", "role")),
            sorted(TenantWhatsAppConfig.objects.values_list("tenant__subdomain", "endpoint_name")),
            AuditEvent.objects.count(),
        )

    def test_it_creates_the_demo_and_prints_the_logins(self):
        output = run("seed_demo")

        users, tenants, memberships, _, _ = self.state()
        assert [u[:2] for u in users] == [
            ("admin", True),
            ("alice", False),
            ("bob", False),
            ("charlie", False),
        ]
        assert tenants == [("acme", "Acme Salon"), ("globex", "Globex Clinic")]
        assert memberships == [
            ("alice", "acme", "admin"),
            ("bob", "acme", "staff"),
            ("charlie", "globex", "admin"),
        ]
        assert "booqing-demo" in output
        assert "http://acme.localhost:8000/admin/whatsapp" in output
        assert authenticate(username="alice", password="booqing-demo") is not None
        assert authenticate(username="admin", password="booqing-demo").is_superuser

    def test_it_assigns_the_first_configured_endpoint(self):
        output = run("seed_demo")

        assert sorted(
            TenantWhatsAppConfig.objects.values_list("tenant__subdomain", "endpoint_name")
        ) == [
            ("acme", "Primary"),
            ("globex", "Primary"),
        ]
        assert "Endpoint 'Primary' is assigned" in output

    def test_it_prefers_an_endpoint_called_demo(self, monkeypatch):
        monkeypatch.setenv(
            "WHATSAPP_ENDPOINTS",
            json.dumps(
                [
                    {"name": "Other", "apiUrl": "https://o.test", "apiKey": "k-1111"},
                    {"name": "Demo", "apiUrl": "http://localhost:3000", "apiKey": "k-2222"},
                ]
            ),
        )

        run("seed_demo")

        assert set(TenantWhatsAppConfig.objects.values_list("endpoint_name", flat=True)) == {"Demo"}

    def test_it_is_idempotent(self):
        run("seed_demo")
        first = self.state()

        run("seed_demo")

        assert self.state() == first

    def test_it_keeps_changes_made_since_the_last_run(self):
        run("seed_demo")
        alice = get_user_model().objects.get(username="alice")
        alice.set_password("changed-by-alice-123")
        alice.save()
        run("whatsapp_assign", "acme", "Secondary")

        run("seed_demo")

        assert authenticate(username="alice", password="changed-by-alice-123") is not None
        assert (
            TenantWhatsAppConfig.objects.get(tenant__subdomain="acme").endpoint_name == "Secondary"
        )

    def test_it_seeds_without_endpoints_and_says_how_to_add_them(self, monkeypatch):
        monkeypatch.setenv("WHATSAPP_ENDPOINTS", "")

        output = run("seed_demo")

        assert Tenant.objects.count() == 2
        assert not TenantWhatsAppConfig.objects.exists()
        assert "No endpoints available: set WHATSAPP_ENDPOINTS" in output
