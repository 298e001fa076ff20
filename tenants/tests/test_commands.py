"""The create_tenant and add_tenant_member management commands."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

from tenants.models import Membership, Tenant

STRONG_PASSWORD = "plum-orbit-cactus-91"


def run(*args, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


@pytest.fixture
def no_terminal(monkeypatch):
    """Pretend stdin is not a terminal, so the command cannot prompt."""
    monkeypatch.setattr("tenants.management.commands.add_tenant_member.os.isatty", lambda fd: False)


@pytest.mark.django_db
class TestCreateTenant:
    def test_it_creates_an_active_tenant_and_prints_its_address(self):
        output = run("create_tenant", "acme", "--name", "Acme Salon")

        tenant = Tenant.objects.get(subdomain="acme")
        assert tenant.name == "Acme Salon"
        assert tenant.is_active
        assert "acme.localhost" in output
        assert str(tenant.pk) in output

    def test_it_lower_cases_the_subdomain(self):
        run("create_tenant", "Globex", "--name", "Globex Clinic")

        assert Tenant.objects.filter(subdomain="globex").exists()

    def test_it_refuses_a_subdomain_that_is_taken(self):
        run("create_tenant", "acme", "--name", "Acme Salon")

        with pytest.raises(CommandError, match="'acme' is already taken"):
            run("create_tenant", "ACME", "--name", "Another Acme")
        assert Tenant.objects.filter(subdomain="acme").count() == 1
        assert Tenant.objects.get(subdomain="acme").name == "Acme Salon"

    @pytest.mark.parametrize("reserved", ["www", "admin", "api"])
    def test_it_refuses_a_reserved_subdomain(self, reserved):
        with pytest.raises(CommandError, match="reserved"):
            run("create_tenant", reserved, "--name", "Sneaky")
        assert not Tenant.objects.exists()

    @pytest.mark.parametrize(
        "subdomain", ["under_score", "-edge", "edge-", "dot.ted", "x" * 64, ""]
    )
    def test_it_refuses_an_invalid_subdomain_with_the_rule(self, subdomain):
        with pytest.raises(CommandError, match="subdomain"):
            run("create_tenant", subdomain, "--name", "Bad")
        assert not Tenant.objects.exists()

    def test_it_refuses_an_empty_name(self):
        with pytest.raises(CommandError, match="name"):
            run("create_tenant", "acme", "--name", "  ")
        assert not Tenant.objects.exists()

    def test_it_requires_a_name(self):
        with pytest.raises(CommandError, match="--name"):
            run("create_tenant", "acme")


@pytest.mark.django_db
class TestAddTenantMember:
    @pytest.fixture
    def acme(self):
        return Tenant.objects.create(name="Acme Salon", subdomain="acme")

    def test_it_creates_the_user_with_the_password_from_the_environment(self, acme, monkeypatch):
        monkeypatch.setenv("NEW_MEMBER_PASSWORD", STRONG_PASSWORD)

        output = run(
            "add_tenant_member",
            "acme",
            "dina",
            "--role",
            "admin",
            "--email",
            "dina@acme.test",
            "--password-env",
            "NEW_MEMBER_PASSWORD",
        )

        assert "Created user and added dina to acme as admin" in output
        user = authenticate(username="dina", password=STRONG_PASSWORD)
        assert user is not None
        assert user.email == "dina@acme.test"
        assert not user.is_superuser
        assert Membership.objects.get(user=user, tenant=acme).role == "admin"

    def test_it_never_prints_the_password(self, acme, monkeypatch):
        monkeypatch.setenv("NEW_MEMBER_PASSWORD", STRONG_PASSWORD)

        output = run(
            "add_tenant_member",
            "acme",
            "dina",
            "--role",
            "staff",
            "--password-env",
            "NEW_MEMBER_PASSWORD",
        )

        assert STRONG_PASSWORD not in output

    def test_it_adds_an_existing_user_and_keeps_their_password(self, acme, no_terminal):
        get_user_model().objects.create_user("erin", password=STRONG_PASSWORD)

        output = run("add_tenant_member", "acme", "erin", "--role", "staff")

        assert "Added erin to acme as staff" in output
        assert authenticate(username="erin", password=STRONG_PASSWORD) is not None
        assert Membership.objects.get(user__username="erin", tenant=acme).role == "staff"

    def test_it_changes_the_role_of_an_existing_member_without_duplicating(self, acme, no_terminal):
        user = get_user_model().objects.create_user("erin", password=STRONG_PASSWORD)
        Membership.objects.create(user=user, tenant=acme, role="staff")

        run("add_tenant_member", "acme", "erin", "--role", "admin")

        assert list(Membership.objects.filter(user=user).values_list("role", flat=True)) == [
            "admin"
        ]

    def test_it_finds_the_tenant_case_insensitively(self, acme, monkeypatch):
        monkeypatch.setenv("NEW_MEMBER_PASSWORD", STRONG_PASSWORD)

        run(
            "add_tenant_member",
            "ACME",
            "dina",
            "--role",
            "staff",
            "--password-env",
            "NEW_MEMBER_PASSWORD",
        )

        assert Membership.objects.filter(user__username="dina", tenant=acme).exists()

    def test_it_says_how_to_create_an_unknown_tenant(self, monkeypatch):
        monkeypatch.setenv("NEW_MEMBER_PASSWORD", STRONG_PASSWORD)

        with pytest.raises(CommandError) as error:
            run(
                "add_tenant_member",
                "nowhere",
                "dina",
                "--role",
                "admin",
                "--password-env",
                "NEW_MEMBER_PASSWORD",
            )

        assert "No tenant with subdomain 'nowhere'" in str(error.value)
        assert "create_tenant nowhere" in str(error.value)
        assert not get_user_model().objects.filter(username="dina").exists()

    def test_it_refuses_an_unknown_role(self, acme, monkeypatch):
        monkeypatch.setenv("NEW_MEMBER_PASSWORD", STRONG_PASSWORD)

        with pytest.raises(CommandError, match="invalid choice: 'owner'"):
            run(
                "add_tenant_member",
                "acme",
                "dina",
                "--role",
                "owner",
                "--password-env",
                "NEW_MEMBER_PASSWORD",
            )
        assert not Membership.objects.exists()

    def test_it_requires_a_role(self, acme):
        with pytest.raises(CommandError, match="--role"):
            run("add_tenant_member", "acme", "dina")

    @pytest.mark.parametrize(
        ("password", "reason"),
        [
            ("Zq9!x", "too short"),
            ("password123", "too common"),
            ("84729163058", "entirely numeric"),
        ],
    )
    def test_it_rejects_a_weak_password_and_creates_nobody(
        self, acme, monkeypatch, password, reason
    ):
        monkeypatch.setenv("NEW_MEMBER_PASSWORD", password)

        with pytest.raises(CommandError) as error:
            run(
                "add_tenant_member",
                "acme",
                "dina",
                "--role",
                "admin",
                "--password-env",
                "NEW_MEMBER_PASSWORD",
            )

        assert "Password rejected" in str(error.value)
        assert reason in str(error.value)
        assert password not in str(error.value)
        assert not get_user_model().objects.filter(username="dina").exists()
        assert not Membership.objects.exists()

    @pytest.mark.parametrize("value", [None, ""])
    def test_it_names_a_missing_or_empty_password_variable(self, acme, monkeypatch, value):
        if value is None:
            monkeypatch.delenv("NEW_MEMBER_PASSWORD", raising=False)
        else:
            monkeypatch.setenv("NEW_MEMBER_PASSWORD", value)

        with pytest.raises(CommandError, match="NEW_MEMBER_PASSWORD is not set or empty"):
            run(
                "add_tenant_member",
                "acme",
                "dina",
                "--role",
                "admin",
                "--password-env",
                "NEW_MEMBER_PASSWORD",
            )
        assert not get_user_model().objects.filter(username="dina").exists()

    def test_it_will_not_create_a_user_without_a_password_when_it_cannot_prompt(
        self, acme, no_terminal
    ):
        with pytest.raises(CommandError, match="--password-env"):
            run("add_tenant_member", "acme", "dina", "--role", "admin")
        assert not get_user_model().objects.filter(username="dina").exists()

    def test_it_prompts_for_a_password_in_a_terminal(self, acme, monkeypatch):
        monkeypatch.setattr(
            "tenants.management.commands.add_tenant_member.os.isatty", lambda fd: True
        )
        monkeypatch.setattr(
            "tenants.management.commands.add_tenant_member.getpass.getpass",
            lambda prompt="": STRONG_PASSWORD,
        )

        run("add_tenant_member", "acme", "dina", "--role", "staff")

        assert authenticate(username="dina", password=STRONG_PASSWORD) is not None

    def test_it_refuses_mismatched_prompted_passwords(self, acme, monkeypatch):
        answers = iter([STRONG_PASSWORD, STRONG_PASSWORD + "x"])
        monkeypatch.setattr(
            "tenants.management.commands.add_tenant_member.os.isatty", lambda fd: True
        )
        monkeypatch.setattr(
            "tenants.management.commands.add_tenant_member.getpass.getpass",
            lambda prompt="": next(answers),
        )

        with pytest.raises(CommandError, match="do not match"):
            run("add_tenant_member", "acme", "dina", "--role", "staff")
        assert not get_user_model().objects.filter(username="dina").exists()
