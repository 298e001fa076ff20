"""manage.py seed_demo: a superadmin, tenants acme and globex with members, the demo endpoint."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from tenants.models import Tenant
from tenants.services import member_add, tenant_create
from whatsapp.endpoints import registry
from whatsapp.models import TenantWhatsAppConfig
from whatsapp.services import endpoint_assign

DEMO_PASSWORD = "booqing-demo"
DEMO_MEMBERS = [
    ("acme", "Acme Salon", "alice", "admin"),
    ("acme", "Acme Salon", "bob", "staff"),
    ("globex", "Globex Clinic", "charlie", "admin"),
]


class Command(BaseCommand):
    help = "Create demo data (idempotent). Never run this against production."

    def handle(self, *args, **options):
        User = get_user_model()
        admin, created = User.objects.get_or_create(
            username="admin", defaults={"email": "admin@booqing.local"}
        )
        if created:
            admin.is_superuser = admin.is_staff = True
            admin.set_password(DEMO_PASSWORD)
            admin.save()
        reg = registry()
        endpoint = "Demo" if reg.is_valid("Demo") else (reg.names() or [None])[0]
        for subdomain, name, username, role in DEMO_MEMBERS:
            tenant = Tenant.objects.filter(subdomain=subdomain).first() or tenant_create(
                name=name, subdomain=subdomain
            )
            if not User.objects.filter(username=username).exists():
                member_add(tenant=tenant, username=username, role=role, password=DEMO_PASSWORD)
            else:
                member_add(tenant=tenant, username=username, role=role)
            if endpoint and not TenantWhatsAppConfig.objects.filter(tenant=tenant).exists():
                endpoint_assign(tenant=tenant, endpoint_name=endpoint, actor=None)

        port = options.get("port", 8000)
        base = settings.BASE_DOMAIN
        self.stdout.write(
            self.style.SUCCESS("Demo data ready. Logins (password " + DEMO_PASSWORD + "):")
        )
        self.stdout.write(f"  superadmin admin    http://{base}:{port}/")
        for subdomain, _, username, role in DEMO_MEMBERS:
            self.stdout.write(
                f"  {subdomain} {role.ljust(5)} {username.ljust(7)} http://{subdomain}.{base}:{port}/admin/whatsapp"
            )
        if endpoint is None:
            self.stdout.write(
                self.style.WARNING(
                    "  No endpoints available: set WHATSAPP_ENDPOINTS to assign one."
                )
            )
        else:
            self.stdout.write(f"  Endpoint '{endpoint}' is assigned to acme and globex.")
