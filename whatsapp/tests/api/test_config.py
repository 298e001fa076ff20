"""The tenant-config JSON API: reply shapes, error shapes, CSRF, and no 500 for bad input."""

from __future__ import annotations

import json
import uuid

import pytest
from django.conf import settings
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core.models import AuditEvent
from tenants.test import client_for
from whatsapp.models import HealthStatus, TenantWhatsAppConfig

pytestmark = pytest.mark.django_db

AVAILABLE = "/api/whatsapp/available-endpoints"
CONFIG_KEYS = {
    "id",
    "tenant_id",
    "endpoint_name",
    "auto_reconnect",
    "reconnect_interval",
    "health_check_interval",
    "webhook_retries",
    "message_timeout",
    "is_configured",
    "health_status",
    "last_health_check",
    "created_at",
    "updated_at",
}


def config_url(tenant_or_id) -> str:
    return f"/api/whatsapp/tenant-config/{getattr(tenant_or_id, 'pk', tenant_or_id)}"


def post_json(client: Client, url: str, body, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url, data, content_type="application/json", **extra)


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The reply is JSON {"error": {"code", "message"}} with `status`; returns the error."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    return error


@pytest.fixture
def root(cast):
    return client_for(cast.superadmin)


class TestReplyShapes:
    def test_it_lists_available_endpoint_names_and_count(self, root):
        response = root.get(AVAILABLE)

        assert response.status_code == 200
        assert response.json() == {"endpoints": ["Primary", "Secondary"], "count": 2}

    def test_it_lists_no_endpoints_when_none_are_configured(self, root, monkeypatch):
        monkeypatch.setenv("WHATSAPP_ENDPOINTS", "")

        assert root.get(AVAILABLE).json() == {"endpoints": [], "count": 0}

    def test_it_answers_null_config_when_nothing_is_assigned(self, root, cast):
        response = root.get(config_url(cast.tenant_a))

        assert response.status_code == 200
        assert response.json() == {"config": None}

    def test_it_assigns_and_answers_the_whole_config(self, root, cast):
        response = post_json(root, config_url(cast.tenant_a), {"endpoint_name": "Primary"})

        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"config"}
        config = body["config"]
        assert set(config) == CONFIG_KEYS
        saved = TenantWhatsAppConfig.objects.get(tenant=cast.tenant_a)
        assert config == {
            "id": str(saved.id),
            "tenant_id": str(cast.tenant_a.pk),
            "endpoint_name": "Primary",
            "auto_reconnect": True,
            "reconnect_interval": 30,
            "health_check_interval": 60,
            "webhook_retries": 3,
            "message_timeout": 30,
            "is_configured": True,
            "health_status": "unknown",
            "last_health_check": None,
            "created_at": saved.created_at.isoformat(),
            "updated_at": saved.updated_at.isoformat(),
        }

    def test_it_reads_back_what_was_assigned(self, root, cast):
        posted = post_json(
            root,
            config_url(cast.tenant_a),
            {"endpoint_name": "Secondary", "reconnect_interval": 45, "auto_reconnect": False},
        ).json()

        fetched = root.get(config_url(cast.tenant_a)).json()

        assert fetched == posted
        assert fetched["config"]["reconnect_interval"] == 45
        assert fetched["config"]["auto_reconnect"] is False

    def test_it_accepts_the_seeds_camel_case_names(self, root, cast):
        response = post_json(
            root,
            config_url(cast.tenant_a),
            {"endpointName": "Primary", "healthCheckInterval": 120, "messageTimeout": 10},
        )

        assert response.status_code == 200
        config = response.json()["config"]
        assert (config["health_check_interval"], config["message_timeout"]) == (120, 10)

    def test_it_reports_health_with_its_last_check_time(self, root, cast):
        post_json(root, config_url(cast.tenant_a), {"endpoint_name": "Primary"})
        TenantWhatsAppConfig.objects.update(health_status=HealthStatus.HEALTHY)

        assert root.get(config_url(cast.tenant_a)).json()["config"]["health_status"] == "healthy"

    def test_it_removes_and_answers_success(self, root, cast):
        post_json(root, config_url(cast.tenant_a), {"endpoint_name": "Primary"})

        response = root.delete(config_url(cast.tenant_a))

        assert response.status_code == 200
        assert response.json() == {"success": True}
        assert root.get(config_url(cast.tenant_a)).json() == {"config": None}
        assert AuditEvent.objects.filter(action="endpoint.removed", actor=cast.superadmin).exists()

    def test_it_answers_404_when_removing_nothing(self, root, cast):
        error = assert_error(root.delete(config_url(cast.tenant_a)), 404, "not_configured")

        assert "Acme Salon has no WhatsApp endpoint assigned" in error["message"]


class TestErrors:
    def test_it_answers_401_json_to_anonymous_callers(self, cast):
        anonymous = client_for()

        for response in (
            anonymous.get(AVAILABLE),
            anonymous.get(config_url(cast.tenant_a)),
            post_json(anonymous, config_url(cast.tenant_a), {"endpoint_name": "Primary"}),
            anonymous.delete(config_url(cast.tenant_a)),
        ):
            error = assert_error(response, 401, "unauthorized")
            assert "log in" in error["message"]

    def test_it_answers_403_json_to_a_tenant_admin_writing(self, cast):
        alice = client_for(cast.alice, cast.host_a)

        assert_error(
            post_json(alice, config_url(cast.tenant_a), {"endpoint_name": "Primary"}),
            403,
            "forbidden",
        )
        assert_error(alice.delete(config_url(cast.tenant_a)), 403, "forbidden")
        assert not TenantWhatsAppConfig.objects.exists()

    def test_it_answers_404_json_for_an_unknown_tenant(self, root):
        missing = uuid.uuid4()

        for response in (
            root.get(config_url(missing)),
            post_json(root, config_url(missing), {"endpoint_name": "Primary"}),
            root.delete(config_url(missing)),
        ):
            assert_error(response, 404, "not_found")

    @pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "0" * 33, "%00", "'; drop table x"])
    def test_it_refuses_an_invalid_tenant_id(self, root, bad_id):
        for response in (
            root.get(config_url(bad_id)),
            post_json(root, config_url(bad_id), {"endpoint_name": "Primary"}),
            root.delete(config_url(bad_id)),
        ):
            error = assert_error(response, 422, "validation_error")
            assert "tenant_id" in error["message"]

    @pytest.mark.parametrize(
        "body", ["{not json", "", b"\xff\xfe", "{'endpoint_name': 'Primary'}", "[1, 2", "nul\x00l"]
    )
    def test_it_answers_400_to_malformed_json(self, root, cast, body):
        if body == "":
            # An empty body is a missing payload, not malformed JSON.
            assert_error(post_json(root, config_url(cast.tenant_a), body), 422)
            return
        error = assert_error(post_json(root, config_url(cast.tenant_a), body), 400, "bad_request")
        assert "not valid JSON" in error["message"]
        assert not TenantWhatsAppConfig.objects.exists()

    def test_it_answers_422_to_an_unknown_endpoint_and_says_what_to_do(self, root, cast):
        response = post_json(root, config_url(cast.tenant_a), {"endpoint_name": "primary"})

        error = assert_error(response, 422, "endpoint_not_found")
        assert "Endpoint 'primary' is not configured on this server" in error["message"]
        assert "WHATSAPP_ENDPOINTS" in error["message"]
        assert not TenantWhatsAppConfig.objects.exists()

    def test_it_answers_422_when_no_endpoints_are_configured(self, root, cast, monkeypatch):
        monkeypatch.setenv("WHATSAPP_ENDPOINTS", "")

        error = assert_error(
            post_json(root, config_url(cast.tenant_a), {"endpoint_name": "Primary"}),
            422,
            "no_endpoints",
        )
        assert "No endpoints available" in error["message"]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("reconnect_interval", 9),
            ("reconnect_interval", 10**30),
            ("health_check_interval", 3601),
            ("webhook_retries", -1),
            ("message_timeout", 121),
        ],
    )
    def test_it_answers_422_to_an_out_of_bounds_setting(self, root, cast, field, value):
        response = post_json(
            root, config_url(cast.tenant_a), {"endpoint_name": "Primary", field: value}
        )

        error = assert_error(response, 422, "invalid_setting")
        assert field in error["message"]
        assert not TenantWhatsAppConfig.objects.exists()
        assert not AuditEvent.objects.exists()

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"endpoint_name": "Primary", "apiKey": "x"}, "apiKey"),
            ({"endpoint_name": "Primary", "api_url": "https://evil.test"}, "api_url"),
            ({"endpoint_name": "Primary", "tenant_id": str(uuid.uuid4())}, "tenant_id"),
            ({"endpoint_name": "Primary", "health_status": "healthy"}, "health_status"),
            ({}, "endpoint_name"),
            ({"endpoint_name": 5}, "endpoint_name"),
            ({"endpoint_name": "Primary", "reconnect_interval": "soon"}, "reconnect_interval"),
            ({"endpoint_name": "Primary", "reconnect_interval": 30.5}, "reconnect_interval"),
            ({"endpoint_name": "Primary", "auto_reconnect": "maybe"}, "auto_reconnect"),
        ],
    )
    def test_it_answers_422_naming_an_unknown_or_mistyped_field(self, root, cast, body, field):
        error = assert_error(
            post_json(root, config_url(cast.tenant_a), body), 422, "validation_error"
        )

        assert field in error["message"]
        assert not TenantWhatsAppConfig.objects.exists()

    @pytest.mark.parametrize("body", [[], ["Primary"], "Primary", 42, None, True])
    def test_it_answers_422_to_a_body_that_is_not_an_object(self, root, cast, body):
        response = post_json(root, config_url(cast.tenant_a), json.dumps(body))

        assert_error(response, 422, "validation_error")

    def test_it_answers_400_to_a_form_encoded_body(self, root, cast):
        response = root.post(config_url(cast.tenant_a), {"endpoint_name": "Primary"})

        assert_error(response, 400, "bad_request")

    @pytest.mark.parametrize("method", ["put", "patch"])
    def test_it_answers_405_json_to_an_unsupported_method(self, root, cast, method):
        response = getattr(root, method)(
            config_url(cast.tenant_a), "{}", content_type="application/json"
        )

        error = assert_error(response, 405, "method_not_allowed")
        assert "GET" in response["Allow"]
        assert method.upper() in error["message"]

    @pytest.mark.parametrize(
        "path",
        [
            "/api/nope",
            "/api/whatsapp/",
            "/api/whatsapp/tenant-config/",
            "/api/whatsapp/available-endpoints/",
        ],
    )
    def test_it_answers_unknown_api_paths_with_json_404(self, root, path):
        assert_error(root.get(path), 404, "not_found")
        assert_error(root.post(path), 404, "not_found")

    def test_it_answers_unknown_api_paths_with_json_404_even_without_csrf(self, cast):
        client = client_for(cast.superadmin, enforce_csrf=True)

        assert_error(client.post("/api/nope"), 404, "not_found")

    @given(
        body=st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
            lambda children: (
                st.lists(children, max_size=3)
                | st.dictionaries(
                    st.sampled_from(
                        [
                            "endpoint_name",
                            "reconnect_interval",
                            "auto_reconnect",
                            "message_timeout",
                            "webhook_retries",
                            "health_check_interval",
                            "x",
                        ]
                    )
                    | st.text(max_size=5),
                    children,
                    max_size=4,
                )
            ),
            max_leaves=10,
        )
    )
    @hypothesis_settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    def test_it_never_answers_500_to_any_json_body(self, root, cast, body):
        response = post_json(root, config_url(cast.tenant_a), body)

        assert response.status_code in (200, 400, 404, 422), response.content
        if response.status_code != 200:
            assert_error(response, response.status_code)

    @given(raw=st.binary(max_size=200))
    @hypothesis_settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    def test_it_never_answers_500_to_any_bytes(self, root, cast, raw):
        response = post_json(root, config_url(cast.tenant_a), raw)

        assert response.status_code in (200, 400, 422), response.content


class TestCsrf:
    def csrf_client(self, cast) -> tuple[Client, str]:
        client = client_for(cast.superadmin, enforce_csrf=True)
        client.get("/admin/tenants/")  # a page that sets the CSRF cookie
        return client, client.cookies[settings.CSRF_COOKIE_NAME].value

    def test_it_refuses_a_session_post_without_the_token(self, cast):
        client, _ = self.csrf_client(cast)

        response = post_json(client, config_url(cast.tenant_a), {"endpoint_name": "Primary"})

        error = assert_error(response, 403, "csrf_failed")
        assert "X-CSRFToken" in error["message"]
        assert not TenantWhatsAppConfig.objects.exists()

    def test_it_refuses_a_session_delete_without_the_token(self, cast):
        TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")
        client, _ = self.csrf_client(cast)

        assert_error(client.delete(config_url(cast.tenant_a)), 403, "csrf_failed")
        assert TenantWhatsAppConfig.objects.filter(tenant=cast.tenant_a).exists()

    def test_it_refuses_a_wrong_token(self, cast):
        client, _ = self.csrf_client(cast)

        response = post_json(
            client,
            config_url(cast.tenant_a),
            {"endpoint_name": "Primary"},
            HTTP_X_CSRFTOKEN="x" * 32,
        )

        assert_error(response, 403, "csrf_failed")
        assert not TenantWhatsAppConfig.objects.exists()

    def test_it_accepts_a_session_post_with_the_token(self, cast):
        client, token = self.csrf_client(cast)

        response = post_json(
            client, config_url(cast.tenant_a), {"endpoint_name": "Primary"}, HTTP_X_CSRFTOKEN=token
        )

        assert response.status_code == 200
        assert client.delete(config_url(cast.tenant_a), HTTP_X_CSRFTOKEN=token).json() == {
            "success": True
        }

    def test_it_does_not_need_the_token_to_read(self, cast):
        client = client_for(cast.superadmin, enforce_csrf=True)

        assert client.get(AVAILABLE).status_code == 200
        assert client.get(config_url(cast.tenant_a)).status_code == 200


class TestSchema:
    def test_it_publishes_the_openapi_schema_with_the_paths(self):
        response = client_for().get("/api/openapi.json")

        assert response.status_code == 200
        paths = response.json()["paths"]
        assert "get" in paths["/api/whatsapp/available-endpoints"]
        assert {"get", "post", "delete"} <= set(paths["/api/whatsapp/tenant-config/{tenant_id}"])

    def test_it_serves_the_api_docs_without_a_cdn(self):
        response = client_for().get("/api/docs")

        assert response.status_code == 200
        page = response.content.decode()
        assert "swagger" in page.lower()
        assert "cdn.jsdelivr.net" not in page
        assert "https://" not in page
