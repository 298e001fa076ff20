"""manage.py seed_demo: a superadmin, tenants acme and globex with members, their endpoints."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from tenants.models import Tenant
from tenants.services import member_add, tenant_create
from whatsapp.endpoints import EndpointRegistry, registry
from whatsapp.models import TenantWhatsAppConfig
from whatsapp.services import endpoint_assign

DEMO_PASSWORD = "booqing-demo"
DEMO_MEMBERS = [
    ("acme", "Acme Salon", "alice", "admin"),
    ("acme", "Acme Salon", "bob", "staff"),
    ("globex", "Globex Clinic", "charlie", "admin"),
]
# `make run` gives each tenant its own WAHA Core (one number per server, as the free tier is
# deployed) and one WAHA Plus shared by both; see scripts/run_demo.sh.
DEMO_ENDPOINTS = {"acme": "Acme Core", "globex": "Globex Core"}
SHARED_ENDPOINTS = ("Shared Plus", "Demo")


def demo_endpoint(reg: EndpointRegistry, subdomain: str) -> str | None:
    """The tenant's own demo endpoint when configured, else a shared one, else the first."""
    for name in (DEMO_ENDPOINTS.get(subdomain), *SHARED_ENDPOINTS):
        if name and reg.is_valid(name):
            return name
    return (reg.names() or [None])[0]


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
        assigned: dict[str, str] = {}
        for subdomain, name, username, role in DEMO_MEMBERS:
            tenant = Tenant.objects.filter(subdomain=subdomain).first() or tenant_create(
                name=name, subdomain=subdomain
            )
            if not User.objects.filter(username=username).exists():
                member_add(tenant=tenant, username=username, role=role, password=DEMO_PASSWORD)
            else:
                member_add(tenant=tenant, username=username, role=role)
            endpoint = demo_endpoint(reg, subdomain)
            config = TenantWhatsAppConfig.objects.filter(tenant=tenant).first()
            if endpoint and config is None:
                endpoint_assign(tenant=tenant, endpoint_name=endpoint, actor=None)
                assigned[subdomain] = endpoint
            elif config is not None:
                assigned[subdomain] = config.endpoint_name

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
        if not reg.names():
            self.stdout.write(
                self.style.WARNING(
                    "  No endpoints available: set WHATSAPP_ENDPOINTS to assign one."
                )
            )
            return
        endpoints = sorted(set(assigned.values()))
        if len(endpoints) == 1:
            self.stdout.write(f"  Endpoint '{endpoints[0]}' is assigned to acme and globex.")
        else:
            for subdomain, endpoint in assigned.items():
                self.stdout.write(f"  Endpoint '{endpoint}' is assigned to {subdomain}.")
        self.stdout.write("Gateway endpoints (sessions and phone pages at each URL):")
        for config in reg.configs():
            # Host and provider only: an apiUrl may carry credentials, a key never shows.
            self.stdout.write(
                f"  {config.name.ljust(12)} {config.provider.ljust(9)} http://{config.host}/"
            )
