"""The WhatsApp Setup page, the endpoints page and the tenant dashboard, as people see them."""

from __future__ import annotations

import json
import re

import pytest

from core.models import AuditEvent
from tenants.test import CANARY_KEYS, client_for
from whatsapp.models import HealthStatus, TenantWhatsAppConfig

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def setup_url(tenant, action: str = "") -> str:
    """The setup page, or the URL one of its forms posts to (`action`: assign, remove...)."""
    return f"/admin/tenants/{tenant.pk}/whatsapp" + (f"/{action}" if action else "")


def options(page: str) -> list[tuple[str, str]]:
    select = re.search(r'<select name="endpoint_name".*?</select>', page, re.S).group(0)
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def table_rows(page: str) -> list[dict[str, str]]:
    """The first table's body rows as {column header: cell text}."""
    table = re.search(r"<table.*?</table>", page, re.S).group(0)
    headers = [text(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table, re.S)]
    body = re.search(r"<tbody>(.*)</tbody>", table, re.S).group(1)
    return [
        dict(zip(headers, map(text, re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)), strict=True))
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


@pytest.fixture
def root(cast):
    return client_for(cast.superadmin)


class TestSetupPage:
    def test_it_offers_endpoint_names_and_nothing_else(self, root, cast):
        response = root.get(setup_url(cast.tenant_a))

        assert response.status_code == 200
        page = response.content.decode()
        assert "WhatsApp Setup" in page
        assert options(page) == [
            ("", "Choose an endpoint…"),
            ("Primary", "Primary"),
            ("Secondary", "Secondary"),
        ]
        for leak in ("gateway.test", "https://primary", "8443", "apiUrl", "apiKey", *CANARY_KEYS):
            assert leak not in page
        assert "No endpoint assigned yet" in page

    def test_it_assigns_via_htmx_and_swaps_in_the_panel(self, root, cast):
        response = root.post(
            setup_url(cast.tenant_a, "assign"), {"endpoint_name": "Primary"}, **HTMX
        )

        assert response.status_code == 200
        panel = response.content.decode()
        assert panel.lstrip().startswith('<div id="setup-panel">')
        assert "<html" not in panel and "<body" not in panel
        assert "Endpoint Primary assigned to Acme Salon." in panel
        assert "alert-success" in panel
        assert re.search(r'class="assigned-endpoint"><strong>Primary</strong>', panel)
        assert "Save settings" in panel  # the settings form appears once assigned
        assert "endpoint.assigned" in panel  # and the audit trail shows the change
        assert TenantWhatsAppConfig.objects.get(tenant=cast.tenant_a).endpoint_name == "Primary"

    def test_it_assigns_without_javascript_by_redirecting_and_flashing(self, root, cast):
        response = root.post(setup_url(cast.tenant_a, "assign"), {"endpoint_name": "Secondary"})

        assert response.status_code == 302
        assert response["Location"] == setup_url(cast.tenant_a)
        page = root.get(response["Location"]).content.decode()
        assert "Endpoint Secondary assigned to Acme Salon." in page
        assert re.search(r'class="assigned-endpoint"><strong>Secondary</strong>', page)
        assert TenantWhatsAppConfig.objects.get(tenant=cast.tenant_a).endpoint_name == "Secondary"
        # the flash is shown once
        assert (
            "Endpoint Secondary assigned" not in root.get(setup_url(cast.tenant_a)).content.decode()
        )

    def test_it_changes_the_endpoint_and_shows_health_as_unknown(self, root, cast):
        TenantWhatsAppConfig.objects.create(
            tenant=cast.tenant_a, endpoint_name="Primary", health_status=HealthStatus.HEALTHY
        )

        response = root.post(
            setup_url(cast.tenant_a, "assign"), {"endpoint_name": "Secondary"}, **HTMX
        )

        panel = response.content.decode()
        assert "Endpoint Secondary assigned" in panel
        assert "Unknown" in panel
        assert "Healthy" not in panel
        assert TenantWhatsAppConfig.objects.get().health_status == HealthStatus.UNKNOWN

    @pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
    def test_it_refuses_a_name_that_is_not_configured(self, root, cast, headers):
        response = root.post(
            setup_url(cast.tenant_a, "assign"), {"endpoint_name": "primary"}, **headers
        )

        assert response.status_code == (200 if headers else 422)
        page = response.content.decode()
        assert "Endpoint &#x27;primary&#x27; is not configured on this server" in page
        assert "alert-error" in page
        assert not TenantWhatsAppConfig.objects.exists()

    def test_it_saves_settings_without_javascript(self, root, cast):
        TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")

        response = root.post(
            setup_url(cast.tenant_a, "settings"),
            {
                "reconnect_interval": "45",
                "health_check_interval": "120",
                "webhook_retries": "5",
                "message_timeout": "20",
                # auto_reconnect unticked
            },
        )

        assert response.status_code == 302
        config = TenantWhatsAppConfig.objects.get()
        assert config.settings_dict() == {
            "auto_reconnect": False,
            "reconnect_interval": 45,
            "health_check_interval": 120,
            "webhook_retries": 5,
            "message_timeout": 20,
        }
        page = root.get(setup_url(cast.tenant_a)).content.decode()
        assert "Settings saved." in page
        assert 'name="reconnect_interval" value="45"' in page
        event = AuditEvent.objects.get(action="settings.changed")
        assert event.actor == cast.superadmin

    @pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
    def test_it_shows_settings_errors_next_to_the_fields(self, root, cast, headers):
        TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")

        response = root.post(
            setup_url(cast.tenant_a, "settings"),
            {
                "auto_reconnect": "on",
                "reconnect_interval": "5",
                "health_check_interval": "abc",
                "webhook_retries": "3",
                "message_timeout": "30",
            },
            **headers,
        )

        assert response.status_code == (200 if headers else 422)
        page = response.content.decode()
        assert "Please correct the highlighted fields." in page
        assert "Ensure this value is greater than or equal to 10." in page
        assert "Enter a whole number." in page
        assert page.count("has-error") == 2
        assert TenantWhatsAppConfig.objects.get().reconnect_interval == 30
        assert not AuditEvent.objects.exists()

    def test_it_asks_for_an_endpoint_before_settings(self, root, cast):
        response = root.post(
            setup_url(cast.tenant_a, "settings"),
            {
                "reconnect_interval": "45",
                "health_check_interval": "60",
                "webhook_retries": "3",
                "message_timeout": "30",
            },
            **HTMX,
        )

        assert (
            "Assign an endpoint to Acme Salon before changing its settings."
            in response.content.decode()
        )
        assert not TenantWhatsAppConfig.objects.exists()

    def test_it_removes_the_endpoint_after_confirmation(self, root, cast):
        TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")
        page = root.get(setup_url(cast.tenant_a)).content.decode()
        assert "Yes, remove Primary" in page  # the confirmation step

        response = root.post(setup_url(cast.tenant_a, "remove"), {})

        assert response.status_code == 302
        assert not TenantWhatsAppConfig.objects.exists()
        page = root.get(setup_url(cast.tenant_a)).content.decode()
        assert "Endpoint removed from Acme Salon." in page
        assert "No endpoint assigned yet" in page
        assert "endpoint.removed" in page

    def test_it_removes_via_htmx(self, root, cast):
        TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")

        response = root.post(setup_url(cast.tenant_a, "remove"), {}, **HTMX)

        panel = response.content.decode()
        assert response.status_code == 200
        assert "Endpoint removed from Acme Salon." in panel
        assert "Save settings" not in panel

    def test_it_says_there_is_nothing_to_remove(self, root, cast):
        response = root.post(setup_url(cast.tenant_a, "remove"), {})

        assert response.status_code == 422
        assert "Acme Salon has no WhatsApp endpoint assigned." in response.content.decode()

    def test_it_refuses_an_unknown_action(self, root, cast):
        # Each action has its own URL: an unknown one is no URL.
        response = root.post(setup_url(cast.tenant_a, "explode"))
        assert response.status_code == 404

        # The page URL's original form (action=...) names no such action either.
        response = root.post(setup_url(cast.tenant_a), {"action": "explode"})
        assert response.status_code == 422
        assert "Unknown action" in response.content.decode()

        assert not AuditEvent.objects.exists()
        assert not TenantWhatsAppConfig.objects.exists()

    def test_the_page_url_still_takes_each_action_by_name(self, root, cast):
        """DESIGN.md's interface: POST action=... to the page itself, as before the split."""
        page = setup_url(cast.tenant_a)

        assigned = root.post(page, {"action": "assign", "endpoint_name": "Primary"})
        assert assigned.status_code == 302
        assert TenantWhatsAppConfig.objects.get(tenant=cast.tenant_a).endpoint_name == "Primary"

        removed = root.post(page, {"action": "remove"})
        assert removed.status_code == 302
        assert not TenantWhatsAppConfig.objects.filter(tenant=cast.tenant_a).exists()
        assert AuditEvent.objects.count() == 2

    @pytest.mark.parametrize(
        ("value", "cause", "fix"),
        [
            ("", "WHATSAPP_ENDPOINTS is unset or empty", "Set WHATSAPP_ENDPOINTS to a JSON list"),
            ("[{", "WHATSAPP_ENDPOINTS is not valid JSON", "Set WHATSAPP_ENDPOINTS to a JSON list"),
            (
                json.dumps([{"name": "X", "apiUrl": "ftp://x", "apiKey": CANARY_KEYS[0]}]),
                "entry 0 (&#x27;X&#x27;) has an apiUrl that is not a plain http(s) URL",
                "Use a full URL such as https://wa.example.com",
            ),
        ],
    )
    def test_it_says_no_endpoints_are_available_and_why(
        self, root, cast, monkeypatch, value, cause, fix
    ):
        monkeypatch.setenv("WHATSAPP_ENDPOINTS", value)

        response = root.get(setup_url(cast.tenant_a))

        page = response.content.decode()
        assert "No endpoints available" in page
        assert cause in page
        assert fix in page
        assert '<select name="endpoint_name"' not in page
        assert CANARY_KEYS[0] not in page

    def test_it_refuses_assignment_when_no_endpoints_are_available(self, root, cast, monkeypatch):
        monkeypatch.setenv("WHATSAPP_ENDPOINTS", "")

        response = root.post(
            setup_url(cast.tenant_a, "assign"), {"endpoint_name": "Primary"}, **HTMX
        )

        assert "No endpoints available" in response.content.decode()
        assert not TenantWhatsAppConfig.objects.exists()

    def test_it_warns_when_the_assigned_endpoint_is_no_longer_configured(self, root, cast):
        TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Retired")

        page = root.get(setup_url(cast.tenant_a)).content.decode()

        assert "Endpoint not found" in page
        assert "Retired" in page
        assert "WHATSAPP_ENDPOINTS" in page
        # and it can be fixed by picking a configured one
        assert ("Primary", "Primary") in options(page)

    def test_it_answers_404_for_an_unknown_tenant(self, root):
        response = root.get("/admin/tenants/00000000-0000-0000-0000-000000000000/whatsapp")

        assert response.status_code == 404
        assert "Not found" in response.content.decode()

    def test_it_shows_recent_changes_with_who_and_what(self, root, cast):
        root.post(setup_url(cast.tenant_a, "assign"), {"endpoint_name": "Primary"})
        root.post(setup_url(cast.tenant_a, "assign"), {"endpoint_name": "Secondary"})

        page = root.get(setup_url(cast.tenant_a)).content.decode()

        changes = page[page.index("Recent changes") :]
        assert "endpoint.assigned" in changes
        assert "endpoint.changed" in changes
        assert "root" in changes
        assert "Primary → Secondary" in changes

    def test_it_keeps_one_tenants_audit_off_another_tenants_page(self, root, cast):
        root.post(setup_url(cast.tenant_a, "assign"), {"endpoint_name": "Primary"})

        page = root.get(setup_url(cast.tenant_b)).content.decode()

        assert "No changes recorded yet." in page


class TestEndpointsPage:
    def test_it_lists_name_host_provider_and_tenant_count(self, root, cast):
        TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")
        TenantWhatsAppConfig.objects.create(tenant=cast.tenant_b, endpoint_name="Primary")

        response = root.get("/admin/endpoints/")

        assert response.status_code == 200
        rows = table_rows(response.content.decode())
        assert [(r["Name"], r["Host"], r["Provider"], r["Health"], r["Tenants"]) for r in rows] == [
            ("Primary", "primary.gateway.test", "waha", "Unknown", "2"),
            ("Secondary", "secondary.gateway.test:8443", "evolution", "Unknown", "0"),
        ]

    def test_it_never_shows_a_key(self, root, cast):
        page = root.get("/admin/endpoints/").content.decode()

        for key in CANARY_KEYS:
            assert key not in page
        assert "keys are never shown" in page

    def test_it_lists_configuration_problems_with_their_ids(self, root, monkeypatch):
        monkeypatch.setenv(
            "WHATSAPP_ENDPOINTS",
            json.dumps(
                [
                    {"name": "Good", "apiUrl": "https://good.test", "apiKey": CANARY_KEYS[0]},
                    {"name": "Bad", "apiUrl": "ftp://bad.test", "apiKey": CANARY_KEYS[1]},
                ]
            ),
        )

        page = root.get("/admin/endpoints/").content.decode()

        assert "Good" in page and "good.test" in page
        assert "whatsapp.E005" in page
        assert "entry 1 (&#x27;Bad&#x27;)" in page
        for key in CANARY_KEYS:
            assert key not in page

    def test_it_says_no_endpoints_are_available(self, root, monkeypatch):
        monkeypatch.setenv("WHATSAPP_ENDPOINTS", "")

        page = root.get("/admin/endpoints/").content.decode()

        assert "No endpoints available." in page
        assert "whatsapp.W001" in page


class TestTenantDashboard:
    def test_it_shows_the_assigned_endpoint_and_its_health_to_members(self, cast):
        TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")

        response = client_for(cast.bob, cast.host_a).get("/admin/whatsapp")

        assert response.status_code == 200
        page = response.content.decode()
        assert "Acme Salon" in page
        assert "WhatsApp server" in page
        assert "Primary" not in page  # the endpoint's name is the platform operator's business
        assert "Health status unknown" in page
        for leak in ("gateway.test", *CANARY_KEYS):
            assert leak not in page

    def test_it_says_whatsapp_is_not_set_up_yet(self, cast):
        page = client_for(cast.alice, cast.host_a).get("/admin/whatsapp").content.decode()

        assert "WhatsApp is not set up for Acme Salon yet" in page

    def test_it_warns_when_the_endpoint_is_no_longer_configured(self, cast):
        TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Retired")

        page = client_for(cast.alice, cast.host_a).get("/admin/whatsapp").content.decode()

        assert "is not available any more" in page
        assert "Retired" not in page  # the endpoint's name is the platform operator's business

    def test_it_shows_only_its_own_tenants_endpoint(self, cast):
        TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")
        TenantWhatsAppConfig.objects.create(tenant=cast.tenant_b, endpoint_name="Secondary")

        page = client_for(cast.charlie, cast.host_b).get("/admin/whatsapp").content.decode()

        assert "WhatsApp server" in page
        assert "Secondary" not in page  # tenant users never see endpoint names
        assert "Primary" not in page
        assert "Acme Salon" not in page


class TestCsrf:
    def test_it_refuses_a_setup_post_without_the_csrf_token_on_a_friendly_page(self, cast):
        client = client_for(cast.superadmin, enforce_csrf=True)

        response = client.post(setup_url(cast.tenant_a, "assign"), {"endpoint_name": "Primary"})

        assert response.status_code == 403
        assert "This form has expired" in response.content.decode()
        assert not TenantWhatsAppConfig.objects.exists()

    def test_it_accepts_the_token_from_the_page(self, cast):
        client = client_for(cast.superadmin, enforce_csrf=True)
        page = client.get(setup_url(cast.tenant_a)).content.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

        response = client.post(
            setup_url(cast.tenant_a, "assign"),
            {"endpoint_name": "Primary", "csrfmiddlewaretoken": token},
        )

        assert response.status_code == 302
        assert TenantWhatsAppConfig.objects.get().endpoint_name == "Primary"

    def test_it_gives_htmx_the_token_in_a_header(self, cast):
        client = client_for(cast.superadmin, enforce_csrf=True)
        page = client.get(setup_url(cast.tenant_a)).content.decode()
        token = re.search(r"hx-headers='\{\"x-csrftoken\": \"([^\"]+)\"\}'", page).group(1)

        response = client.post(
            setup_url(cast.tenant_a, "assign"),
            {"endpoint_name": "Primary"},
            HTTP_X_CSRFTOKEN=token,
            **HTMX,
        )

        assert response.status_code == 200
        assert "Endpoint Primary assigned" in response.content.decode()
