"""manage.py add_tenant_member SUBDOMAIN USERNAME --role admin|staff [--password-env VAR]"""

from __future__ import annotations

import getpass
import os

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from tenants.models import Membership, Tenant
from tenants.services import member_add


class Command(BaseCommand):
    help = "Add a user (created if needed) to a tenant as admin or staff."

    def add_arguments(self, parser):
        parser.add_argument("subdomain")
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Membership.Role.values)
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-env",
            metavar="VAR",
            help="Read the new user's password from this environment variable (non-interactive).",
        )

    def handle(self, *args, subdomain, username, role, email, password_env, **options):
        tenant = Tenant.objects.filter(subdomain=subdomain.lower()).first()
        if tenant is None:
            raise CommandError(
                f"No tenant with subdomain '{subdomain}'. Create it first: "
                f"manage.py create_tenant {subdomain} --name NAME"
            )
        password = self._password(password_env, username, options.get("interactive", True))
        try:
            membership, created = member_add(
                tenant=tenant, username=username, role=role, email=email, password=password
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        verb = "Created user and added" if created else "Added"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} {username} to {tenant.subdomain} as {membership.role}.")
        )

    def _password(self, password_env: str | None, username: str, interactive: bool) -> str | None:
        exists = get_user_model().objects.filter(username=username).exists()
        if password_env:
            password = os.environ.get(password_env, "")
            if not password:
                raise CommandError(f"Environment variable {password_env} is not set or empty.")
        elif exists:
            return None  # keep the existing user's password
        elif os.isatty(0):
            password = getpass.getpass(f"Password for {username}: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        else:
            raise CommandError(
                "No password given: pass --password-env VAR, or run in a terminal to be prompted."
            )
        try:
            validate_password(password)
        except ValidationError as exc:
            raise CommandError("Password rejected: " + " ".join(exc.messages)) from exc
        return password
