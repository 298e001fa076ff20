"""Host routing: the pure host parser, and the middleware that maps a Host to a tenant or a 404."""

from __future__ import annotations

import pytest
from django.conf import settings

from tenants.hosts import HostMatch, normalise_host, subdomain_from_host
from tenants.models import RESERVED_SUBDOMAINS, Tenant
from tenants.test import PASSWORD, client_for

BASE = "booqing.my.id"
PLATFORM = HostMatch(is_platform=True)
UNKNOWN = HostMatch()


def tenant(subdomain: str) -> HostMatch:
    return HostMatch(subdomain=subdomain)


class TestSubdomainFromHost:
    @pytest.mark.parametrize(
        ("host", "expected"),
        [
            # the platform itself
            ("booqing.my.id", PLATFORM),
            ("BOOQING.MY.ID", PLATFORM),
            ("booqing.my.id.", PLATFORM),
            ("booqing.my.id:8000", PLATFORM),
            ("booqing.my.id.:443", PLATFORM),
            ("  booqing.my.id  ", PLATFORM),
            # a tenant, however the client spells the host
            ("acme.booqing.my.id", tenant("acme")),
            ("ACME.booqing.my.id", tenant("acme")),
            ("Acme.BooQing.My.Id", tenant("acme")),
            ("acme.booqing.my.id.", tenant("acme")),
            ("acme.booqing.my.id:8000", tenant("acme")),
            ("acme.booqing.my.id.:8443", tenant("acme")),
            ("ACME.BOOQING.MY.ID.:80", tenant("acme")),
            ("shop-42.booqing.my.id", tenant("shop-42")),
            ("7.booqing.my.id", tenant("7")),
            # multi-level subdomains are nobody's
            ("a.acme.booqing.my.id", UNKNOWN),
            ("www.acme.booqing.my.id", UNKNOWN),
            ("acme..booqing.my.id", UNKNOWN),
            (".booqing.my.id", UNKNOWN),
            # other domains, and look-alikes of ours
            ("example.com", UNKNOWN),
            ("acme.example.com", UNKNOWN),
            ("evilbooqing.my.id", UNKNOWN),
            ("acme.evilbooqing.my.id", UNKNOWN),
            ("booqing.my.id.evil.com", UNKNOWN),
            ("acme.booqing.my.id.evil.com", UNKNOWN),
            ("my.id", UNKNOWN),
            ("id", UNKNOWN),
            # IP addresses, IPv6 included, are never a tenant
            ("127.0.0.1", UNKNOWN),
            ("127.0.0.1:8000", UNKNOWN),
            ("[::1]", UNKNOWN),
            ("[::1]:8000", UNKNOWN),
            ("::1", UNKNOWN),
            ("[2001:db8::1]:443", UNKNOWN),
            # empty and garbage
            ("", UNKNOWN),
            ("   ", UNKNOWN),
            (":8000", UNKNOWN),
            ("acme.booqing.my.id:80:80", UNKNOWN),
        ],
    )
    def test_it_maps_hosts_to_the_platform_a_tenant_or_nobody(self, host, expected):
        assert subdomain_from_host(host, BASE) == expected

    @pytest.mark.parametrize("reserved", sorted(RESERVED_SUBDOMAINS))
    def test_it_never_routes_a_reserved_name_to_a_tenant(self, reserved):
        match = subdomain_from_host(f"{reserved}.{BASE}", BASE)

        assert match == UNKNOWN
        assert match.is_unknown

    @pytest.mark.parametrize("base", ["BooQing.My.Id", "booqing.my.id.", " booqing.my.id:8000 "])
    def test_it_normalises_the_base_domain_too(self, base):
        assert subdomain_from_host("acme.booqing.my.id", base) == tenant("acme")
        assert subdomain_from_host("booqing.my.id", base) == PLATFORM

    def test_it_works_with_localhost_as_the_base_domain(self):
        assert subdomain_from_host("localhost:8000", "localhost") == PLATFORM
        assert subdomain_from_host("acme.localhost:8000", "localhost") == tenant("acme")
        assert subdomain_from_host("acme.localhost.", "localhost") == tenant("acme")
        assert subdomain_from_host("a.b.localhost", "localhost") == UNKNOWN

    def test_it_treats_an_empty_base_domain_as_matching_nothing(self):
        assert subdomain_from_host("acme.booqing.my.id", "") == UNKNOWN
        assert subdomain_from_host("", "") == UNKNOWN

    def test_it_reports_platform_tenant_and_unknown_exclusively(self):
        assert not PLATFORM.is_unknown
        assert not tenant("acme").is_unknown
        assert UNKNOWN.is_unknown
        assert not UNKNOWN.is_platform and UNKNOWN.subdomain is None

    @pytest.mark.parametrize(
        ("host", "normalised"),
        [
            ("Acme.Localhost:8000", "acme.localhost"),
            ("acme.localhost.", "acme.localhost"),
            ("[::1]:8000", "[::1]"),
            ("[::1]", "[::1]"),
            ("", ""),
        ],
    )
    def test_it_normalises_case_port_and_trailing_dot(self, host, normalised):
        assert normalise_host(host) == normalised


@pytest.mark.django_db
class TestTenantMiddleware:
    NO_WORKSPACE = "There is no BooQing workspace at this address."

    def test_it_serves_the_tenant_sign_in_page_on_the_tenant_host(self, cast):
        response = client_for(host=cast.host_a).get("/accounts/login/")

        assert response.status_code == 200
        assert "Acme Salon" in response.content.decode()

    def test_it_serves_the_platform_sign_in_page_on_the_base_domain(self, cast):
        response = client_for().get("/accounts/login/")

        assert response.status_code == 200
        page = response.content.decode()
        assert "to the BooQing platform" in page
        assert "Acme Salon" not in page

    @pytest.mark.parametrize(
        "host",
        ["ACME.localhost", "acme.LOCALHOST:8000", "acme.localhost.", "acme.localhost.:8000"],
    )
    def test_it_finds_the_tenant_however_the_host_is_spelled(self, cast, host):
        response = client_for(host=host).get("/accounts/login/")

        assert response.status_code == 200
        assert "Acme Salon" in response.content.decode()

    @pytest.mark.parametrize(
        "host",
        [
            "nobody.localhost",  # no such tenant
            "a.acme.localhost",  # multi-level
            "www.localhost",  # reserved
            "admin.localhost:8000",  # reserved, with a port
            "testserver",  # not under BASE_DOMAIN at all
        ],
    )
    @pytest.mark.parametrize(
        "path", ["/", "/accounts/login/", "/admin/whatsapp", "/api/openapi.json"]
    )
    def test_it_answers_404_for_hosts_that_are_no_workspace(self, cast, host, path):
        response = client_for(host=host).get(path)

        assert response.status_code == 404
        assert self.NO_WORKSPACE in response.content.decode()

    def test_it_answers_404_for_an_inactive_tenant(self, cast):
        Tenant.objects.filter(pk=cast.tenant_a.pk).update(is_active=False)

        response = client_for(cast.alice, cast.host_a).get("/admin/whatsapp")

        assert response.status_code == 404
        assert self.NO_WORKSPACE in response.content.decode()

    def test_it_keeps_one_tenants_pages_off_another_tenants_host(self, cast):
        response = client_for(cast.alice, cast.host_b).get("/admin/whatsapp")

        assert response.status_code == 403
        assert "Acme Salon" not in response.content.decode()

    def test_it_renders_the_404_page_as_a_friendly_page(self, cast):
        response = client_for(host="nobody.localhost").get("/")

        page = response.content.decode()
        assert "<h1>Not found</h1>" in page
        assert "Traceback" not in page


@pytest.mark.django_db
class TestCookiesAndOrigins:
    def test_it_sets_host_only_session_and_csrf_cookies(self, cast):
        client = client_for(host=cast.host_a)
        client.get("/accounts/login/")
        response = client.post(
            "/accounts/login/", {"username": "alice", "password": PASSWORD}, follow=False
        )

        assert response.status_code == 302
        session_cookie = response.cookies[settings.SESSION_COOKIE_NAME]
        assert session_cookie["domain"] == ""  # host-only: never sent to globex.*
        assert session_cookie["httponly"]
        csrf_cookie = client.cookies[settings.CSRF_COOKIE_NAME]
        assert csrf_cookie["domain"] == ""

    def test_it_never_trusts_a_wildcard_csrf_origin(self):
        assert all("*" not in origin for origin in settings.CSRF_TRUSTED_ORIGINS)
        assert settings.SESSION_COOKIE_DOMAIN is None
        assert settings.CSRF_COOKIE_DOMAIN is None
