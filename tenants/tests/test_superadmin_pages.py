"""The superadmin's tenant list (search, paging, create) and the sign-in pages."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import AuditEvent
from tenants.models import Membership, Tenant
from tenants.test import PASSWORD, client_for
from tenants.views import TENANTS_PER_PAGE
from whatsapp.models import HealthStatus, TenantWhatsAppConfig

pytestmark = pytest.mark.django_db


def tenant_names(response) -> list[str]:
    """The tenant names in the list's table, in order."""
    return re.findall(r"<td[^>]*><strong>([^<]+)</strong>", response.content.decode())


def make_tenants(count: int, *, start: int = 0) -> None:
    """`count` tenants; every other one has an endpoint, every third a member."""
    tenants = Tenant.objects.bulk_create(
        Tenant(name=f"Shop {i:03d}", subdomain=f"shop{i:03d}") for i in range(start, start + count)
    )
    TenantWhatsAppConfig.objects.bulk_create(
        TenantWhatsAppConfig(
            tenant=t,
            endpoint_name="Primary",
            is_configured=True,
            health_status=HealthStatus.HEALTHY,
        )
        for t in tenants[::2]
    )
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.get_or_create(username="owner")[0]
    Membership.objects.bulk_create(Membership(user=owner, tenant=t) for t in tenants[::3])


class TestTenantList:
    def test_it_lists_tenants_with_address_members_endpoint_and_health(self, cast):
        TenantWhatsAppConfig.objects.create(
            tenant=cast.tenant_a, endpoint_name="Primary", health_status=HealthStatus.HEALTHY
        )

        response = client_for(cast.superadmin).get("/admin/tenants/")

        assert response.status_code == 200
        page = response.content.decode()
        assert tenant_names(response) == ["Acme Salon", "Globex Clinic"]
        assert "acme.localhost" in page
        assert "globex.localhost" in page
        acme_row = page[page.index("Acme Salon") : page.index("Globex Clinic")]
        assert '<td data-label="Members">2</td>' in acme_row  # alice and bob
        assert "Primary" in acme_row
        assert "Healthy" in acme_row
        assert f"/admin/tenants/{cast.tenant_a.pk}/whatsapp" in acme_row
        globex_row = page[page.index("Globex Clinic") :]
        assert "not assigned" in globex_row

    def test_it_marks_inactive_tenants(self, cast):
        Tenant.objects.filter(pk=cast.tenant_b.pk).update(is_active=False)

        page = client_for(cast.superadmin).get("/admin/tenants/").content.decode()

        globex_row = page[page.index("Globex Clinic") :]
        assert "inactive" in globex_row

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("glob", ["Globex Clinic"]),
            ("GLOBEX", ["Globex Clinic"]),
            ("acme", ["Acme Salon"]),
            ("salon", ["Acme Salon"]),
            ("primary", ["Acme Salon"]),  # by endpoint name
            ("  acme  ", ["Acme Salon"]),
            ("", ["Acme Salon", "Globex Clinic"]),
        ],
    )
    def test_it_searches_name_subdomain_and_endpoint(self, cast, query, expected):
        TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")

        response = client_for(cast.superadmin).get("/admin/tenants/", {"q": query})

        assert tenant_names(response) == expected

    def test_it_says_when_nothing_matches_and_keeps_the_query_in_the_box(self, cast):
        response = client_for(cast.superadmin).get("/admin/tenants/", {"q": "zebra"})

        page = response.content.decode()
        assert tenant_names(response) == []
        assert "No tenant matches “zebra”" in page
        assert 'value="zebra"' in page

    def test_it_escapes_the_search_text(self, cast):
        response = client_for(cast.superadmin).get("/admin/tenants/", {"q": "<script>x</script>"})

        assert "<script>x</script>" not in response.content.decode()

    def test_it_pages_through_many_tenants(self, cast):
        make_tenants(30)  # plus acme and globex: 32
        client = client_for(cast.superadmin)

        first = client.get("/admin/tenants/")
        second = client.get("/admin/tenants/", {"page": 2})

        assert len(tenant_names(first)) == TENANTS_PER_PAGE
        assert "Page 1 of 2 (32 tenants)" in first.content.decode()
        assert "?q=&page=2" in first.content.decode()
        assert len(tenant_names(second)) == 32 - TENANTS_PER_PAGE
        assert "Page 2 of 2 (32 tenants)" in second.content.decode()
        assert set(tenant_names(first)).isdisjoint(tenant_names(second))

    def test_it_keeps_the_search_while_paging(self, cast):
        make_tenants(30)

        response = client_for(cast.superadmin).get("/admin/tenants/", {"q": "shop", "page": 2})

        page = response.content.decode()
        assert "Page 2 of 2 (30 tenants)" in page
        assert "?q=shop&page=1" in page
        assert all(name.startswith("Shop") for name in tenant_names(response))

    @pytest.mark.parametrize(("page_param", "shown"), [("abc", 1), ("999", 2), ("-1", 2), ("0", 2)])
    def test_it_survives_a_bad_page_number(self, cast, page_param, shown):
        make_tenants(30)

        response = client_for(cast.superadmin).get("/admin/tenants/", {"page": page_param})

        assert response.status_code == 200
        assert f"Page {shown} of 2" in response.content.decode()

    def test_it_renders_with_the_same_number_of_queries_for_5_and_200_tenants(
        self, cast, django_assert_num_queries
    ):
        client = client_for(cast.superadmin)
        make_tenants(3)  # plus acme and globex: 5
        client.get("/admin/tenants/")  # warm up: content types, session, ...
        with CaptureQueriesContext(connection) as five:
            response = client.get("/admin/tenants/")
        assert len(tenant_names(response)) == 5

        make_tenants(195, start=3)
        with django_assert_num_queries(len(five.captured_queries)):
            response = client.get("/admin/tenants/")

        assert len(tenant_names(response)) == TENANTS_PER_PAGE
        assert "(200 tenants)" in response.content.decode()


class TestCreateTenant:
    def test_it_creates_a_tenant_and_opens_its_whatsapp_setup(self, cast):
        client = client_for(cast.superadmin)

        response = client.post("/admin/tenants/", {"name": "Initech", "subdomain": "initech"})

        tenant = Tenant.objects.get(subdomain="initech")
        assert tenant.name == "Initech"
        assert response.status_code == 302
        assert response["Location"] == f"/admin/tenants/{tenant.pk}/whatsapp"
        page = client.get(response["Location"]).content.decode()
        assert "Created Initech at initech." in page

    def test_it_audits_who_created_the_tenant(self, cast):
        client_for(cast.superadmin).post(
            "/admin/tenants/", {"name": "Initech", "subdomain": "initech"}
        )

        event = AuditEvent.objects.get(action="tenant.created")
        assert event.actor == cast.superadmin
        assert event.tenant.subdomain == "initech"

    def test_it_lower_cases_the_subdomain(self, cast):
        client_for(cast.superadmin).post(
            "/admin/tenants/", {"name": "Initech", "subdomain": "IniTech"}
        )

        assert Tenant.objects.filter(subdomain="initech").exists()

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (
                {"name": "Acme Two", "subdomain": "acme"},
                "The subdomain &#x27;acme&#x27; is already taken.",
            ),
            (
                {"name": "Acme Two", "subdomain": "ACME"},
                "The subdomain &#x27;acme&#x27; is already taken.",
            ),
            (
                {"name": "Sneaky", "subdomain": "www"},
                "&#x27;www&#x27; is reserved for the platform",
            ),
            (
                {"name": "Sneaky", "subdomain": "admin"},
                "&#x27;admin&#x27; is reserved for the platform",
            ),
            (
                {"name": "Bad", "subdomain": "bad_name"},
                "Use 1-63 lowercase letters, digits or hyphens",
            ),
            ({"name": "Bad", "subdomain": "-bad"}, "Use 1-63 lowercase letters, digits or hyphens"),
            ({"name": "Bad", "subdomain": "a.b"}, "Use 1-63 lowercase letters, digits or hyphens"),
            ({"name": "Bad", "subdomain": "x" * 64}, "at most 63 characters"),
            ({"name": "", "subdomain": "fresh"}, "This field is required."),
            ({"name": "Fresh", "subdomain": ""}, "This field is required."),
        ],
    )
    def test_it_explains_why_a_tenant_cannot_be_created(self, cast, data, message):
        before = set(Tenant.objects.values_list("subdomain", flat=True))

        response = client_for(cast.superadmin).post("/admin/tenants/", data)

        assert response.status_code == 422
        assert message in response.content.decode()
        assert set(Tenant.objects.values_list("subdomain", flat=True)) == before
        assert not AuditEvent.objects.filter(action="tenant.created").exists()

    def test_it_keeps_the_typed_values_after_an_error(self, cast):
        response = client_for(cast.superadmin).post(
            "/admin/tenants/", {"name": "Acme Two", "subdomain": "acme"}
        )

        assert 'value="Acme Two"' in response.content.decode()


class TestSignIn:
    def test_it_signs_a_superadmin_in_on_the_platform_host(self, cast):
        client = client_for()

        response = client.post("/accounts/login/", {"username": "root", "password": PASSWORD})

        assert response.status_code == 302
        assert client.get("/admin/tenants/").status_code == 200

    def test_it_signs_a_member_in_on_their_tenants_host(self, cast):
        client = client_for(host=cast.host_a)

        response = client.post(
            "/accounts/login/?next=/admin/whatsapp", {"username": "bob", "password": PASSWORD}
        )

        assert response.status_code == 302
        assert response["Location"] == "/admin/whatsapp"
        assert client.get("/admin/whatsapp").status_code == 200

    def test_it_refuses_a_member_of_another_tenant_with_a_helpful_message(self, cast):
        client = client_for(host=cast.host_b)

        response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})

        assert response.status_code == 200
        page = response.content.decode()
        assert "This account is not a member of Globex Clinic" in page
        assert "_auth_user_id" not in client.session

    def test_it_refuses_a_wrong_password_without_saying_which_part_was_wrong(self, cast):
        response = client_for().post("/accounts/login/", {"username": "root", "password": "nope"})

        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()

    def test_it_signs_out_with_a_post(self, cast):
        client = client_for(cast.superadmin)

        response = client.post("/accounts/logout/")

        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/"
        assert client.get("/admin/tenants/").status_code == 302
