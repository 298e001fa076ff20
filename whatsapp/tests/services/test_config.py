"""endpoint_assign, endpoint_remove and config_update: rules, audit trail, atomicity."""

from __future__ import annotations

import sys

import pytest
from django.utils import timezone

from core.errors import ApplicationError
from core.models import AuditEvent
from whatsapp import services
from whatsapp.json_errors import api_status
from whatsapp.models import HealthStatus, TenantWhatsAppConfig

pytestmark = pytest.mark.django_db

DEFAULTS = {
    "auto_reconnect": True,
    "reconnect_interval": 30,
    "health_check_interval": 60,
    "webhook_retries": 3,
    "message_timeout": 30,
}
# The module that holds the use cases, wherever it lives, so its collaborators can be replaced.
config_module = sys.modules[services.endpoint_assign.__module__]


@pytest.fixture
def probes(monkeypatch):
    """The endpoint names whose first health probe was enqueued (after commit)."""
    enqueued: list[str] = []
    monkeypatch.setattr(config_module, "_enqueue_probe", enqueued.append)
    return enqueued


def failing_audit(**kwargs):
    raise RuntimeError("audit table unavailable")


def db_state() -> tuple:
    return (
        sorted(TenantWhatsAppConfig.objects.values_list()),
        sorted(AuditEvent.objects.values_list("id", "action", "before", "after")),
    )


class TestEndpointAssign:
    def test_it_assigns_with_the_seed_defaults(self, cast, probes):
        config = services.endpoint_assign(
            tenant=cast.tenant_a, endpoint_name="Primary", actor=cast.superadmin
        )

        config.refresh_from_db()
        assert config.endpoint_name == "Primary"
        assert config.is_configured
        assert config.health_status == HealthStatus.UNKNOWN
        assert config.last_health_check is None
        assert config.settings_dict() == DEFAULTS

    def test_it_audits_the_assignment_with_actor_and_after(self, cast, probes):
        services.endpoint_assign(
            tenant=cast.tenant_a, endpoint_name="Primary", actor=cast.superadmin
        )

        event = AuditEvent.objects.get(tenant=cast.tenant_a)
        assert event.action == "endpoint.assigned"
        assert event.actor == cast.superadmin
        assert event.actor_label == "root"
        assert event.before == {}
        assert event.after == {"endpoint_name": "Primary", **DEFAULTS}
        assert event.created_at is not None

    def test_it_enqueues_the_first_health_probe_after_commit(
        self, cast, probes, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            services.endpoint_assign(
                tenant=cast.tenant_a, endpoint_name="Primary", actor=cast.superadmin
            )

        assert probes == ["Primary"]

    def test_it_applies_settings_given_with_the_assignment(self, cast, probes):
        config = services.endpoint_assign(
            tenant=cast.tenant_a,
            endpoint_name="Secondary",
            actor=cast.superadmin,
            settings={"reconnect_interval": 120, "auto_reconnect": False},
        )

        config.refresh_from_db()
        assert config.reconnect_interval == 120
        assert config.auto_reconnect is False
        event = AuditEvent.objects.get()
        assert event.after["reconnect_interval"] == 120

    def test_it_changes_the_endpoint_and_resets_health_to_unknown(
        self, cast, probes, django_capture_on_commit_callbacks
    ):
        services.endpoint_assign(
            tenant=cast.tenant_a, endpoint_name="Primary", actor=cast.superadmin
        )
        TenantWhatsAppConfig.objects.filter(tenant=cast.tenant_a).update(
            health_status=HealthStatus.UNHEALTHY,
            last_health_check=timezone.now(),
            unhealthy_since=timezone.now(),
        )

        with django_capture_on_commit_callbacks(execute=True):
            config = services.endpoint_assign(
                tenant=cast.tenant_a, endpoint_name="Secondary", actor=cast.superadmin
            )

        config.refresh_from_db()
        assert config.endpoint_name == "Secondary"
        assert config.health_status == HealthStatus.UNKNOWN
        assert config.last_health_check is None
        assert config.unhealthy_since is None
        event = AuditEvent.objects.filter(action="endpoint.changed").get()
        assert event.before["endpoint_name"] == "Primary"
        assert event.after["endpoint_name"] == "Secondary"
        assert event.actor == cast.superadmin
        assert probes == ["Secondary"]
        assert TenantWhatsAppConfig.objects.count() == 1

    def test_it_keeps_health_and_writes_no_audit_when_nothing_changes(
        self, cast, probes, django_capture_on_commit_callbacks
    ):
        services.endpoint_assign(
            tenant=cast.tenant_a, endpoint_name="Primary", actor=cast.superadmin
        )
        checked = timezone.now()
        TenantWhatsAppConfig.objects.update(
            health_status=HealthStatus.HEALTHY, last_health_check=checked
        )

        with django_capture_on_commit_callbacks(execute=True):
            config = services.endpoint_assign(
                tenant=cast.tenant_a, endpoint_name="Primary", actor=cast.superadmin
            )

        config.refresh_from_db()
        assert config.health_status == HealthStatus.HEALTHY
        assert config.last_health_check == checked
        assert AuditEvent.objects.count() == 1
        assert probes == []

    def test_it_audits_a_settings_change_made_through_assign(self, cast, probes):
        services.endpoint_assign(
            tenant=cast.tenant_a, endpoint_name="Primary", actor=cast.superadmin
        )

        services.endpoint_assign(
            tenant=cast.tenant_a,
            endpoint_name="Primary",
            actor=cast.superadmin,
            settings={"webhook_retries": 5},
        )

        event = AuditEvent.objects.filter(action="settings.changed").get()
        assert event.before["webhook_retries"] == 3
        assert event.after["webhook_retries"] == 5

    def test_it_records_commands_as_the_system(self, cast, probes):
        services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Primary", actor=None)

        event = AuditEvent.objects.get()
        assert event.actor is None
        assert event.actor_label == "system"

    @pytest.mark.parametrize("name", ["Nope", "primary", "PRIMARY", " Primary", "Primary "])
    def test_it_refuses_an_unknown_endpoint_and_says_what_to_do(self, cast, probes, name):
        with pytest.raises(ApplicationError) as error:
            services.endpoint_assign(
                tenant=cast.tenant_a, endpoint_name=name, actor=cast.superadmin
            )

        assert error.value.code == "endpoint_not_found"
        assert api_status(error.value) == 422
        message = error.value.message
        assert f"Endpoint '{name}' is not configured on this server" in message
        assert "WHATSAPP_ENDPOINTS" in message
        assert "Primary" in message and "Secondary" in message
        assert not TenantWhatsAppConfig.objects.exists()
        assert not AuditEvent.objects.exists()

    @pytest.mark.parametrize("name", ["", "   ", None, 42])
    def test_it_requires_an_endpoint_name(self, cast, probes, name):
        with pytest.raises(ApplicationError) as error:
            services.endpoint_assign(
                tenant=cast.tenant_a, endpoint_name=name, actor=cast.superadmin
            )

        assert error.value.code == "endpoint_required"
        assert not TenantWhatsAppConfig.objects.exists()

    def test_it_explains_that_no_endpoints_are_available(self, cast, probes, monkeypatch):
        monkeypatch.setenv("WHATSAPP_ENDPOINTS", "")

        with pytest.raises(ApplicationError) as error:
            services.endpoint_assign(
                tenant=cast.tenant_a, endpoint_name="Primary", actor=cast.superadmin
            )

        assert error.value.code == "no_endpoints"
        assert "No endpoints available" in error.value.message
        assert "WHATSAPP_ENDPOINTS" in error.value.message
        assert not TenantWhatsAppConfig.objects.exists()

    @pytest.mark.parametrize(
        ("settings", "field"),
        [
            ({"reconnect_interval": 9}, "reconnect_interval"),
            ({"reconnect_interval": 3601}, "reconnect_interval"),
            ({"health_check_interval": 14}, "health_check_interval"),
            ({"webhook_retries": 11}, "webhook_retries"),
            ({"message_timeout": 4}, "message_timeout"),
            ({"message_timeout": "soon"}, "message_timeout"),
        ],
    )
    def test_it_refuses_out_of_bounds_settings_and_saves_nothing(
        self, cast, probes, django_capture_on_commit_callbacks, settings, field
    ):
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(ApplicationError) as error,
        ):
            services.endpoint_assign(
                tenant=cast.tenant_a,
                endpoint_name="Primary",
                actor=cast.superadmin,
                settings=settings,
            )

        assert error.value.code == "invalid_setting"
        assert api_status(error.value) == 422
        assert field in error.value.message
        assert not TenantWhatsAppConfig.objects.exists()
        assert not AuditEvent.objects.exists()
        assert probes == []

    def test_it_rolls_back_everything_when_the_audit_write_fails(
        self, cast, probes, monkeypatch, django_capture_on_commit_callbacks
    ):
        monkeypatch.setattr(config_module, "audit_record", failing_audit)

        with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
            services.endpoint_assign(
                tenant=cast.tenant_a, endpoint_name="Primary", actor=cast.superadmin
            )

        assert not TenantWhatsAppConfig.objects.exists()
        assert probes == []

    def test_it_rolls_back_a_change_when_the_audit_write_fails(self, cast, probes, monkeypatch):
        services.endpoint_assign(
            tenant=cast.tenant_a, endpoint_name="Primary", actor=cast.superadmin
        )
        before = db_state()
        monkeypatch.setattr(config_module, "audit_record", failing_audit)

        with pytest.raises(RuntimeError):
            services.endpoint_assign(
                tenant=cast.tenant_a, endpoint_name="Secondary", actor=cast.superadmin
            )

        assert db_state() == before


class TestEndpointRemove:
    def test_it_removes_the_assignment_and_audits_what_was_there(self, cast, probes):
        services.endpoint_assign(
            tenant=cast.tenant_a,
            endpoint_name="Primary",
            actor=cast.superadmin,
            settings={"message_timeout": 60},
        )

        services.endpoint_remove(tenant=cast.tenant_a, actor=cast.superadmin)

        assert not TenantWhatsAppConfig.objects.filter(tenant=cast.tenant_a).exists()
        event = AuditEvent.objects.get(action="endpoint.removed")
        assert event.actor == cast.superadmin
        assert event.tenant == cast.tenant_a
        assert event.before == {"endpoint_name": "Primary", **DEFAULTS, "message_timeout": 60}
        assert event.after == {}

    def test_it_leaves_other_tenants_alone(self, cast, probes):
        services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Primary", actor=None)
        services.endpoint_assign(tenant=cast.tenant_b, endpoint_name="Primary", actor=None)

        services.endpoint_remove(tenant=cast.tenant_a, actor=cast.superadmin)

        assert TenantWhatsAppConfig.objects.get().tenant == cast.tenant_b

    def test_it_says_when_there_is_nothing_to_remove(self, cast):
        with pytest.raises(ApplicationError) as error:
            services.endpoint_remove(tenant=cast.tenant_a, actor=cast.superadmin)

        assert api_status(error.value) == 404
        assert error.value.code == "not_configured"
        assert "Acme Salon has no WhatsApp endpoint assigned" in error.value.message
        assert not AuditEvent.objects.exists()

    def test_it_rolls_back_the_removal_when_the_audit_write_fails(self, cast, probes, monkeypatch):
        services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Primary", actor=None)
        before = db_state()
        monkeypatch.setattr(config_module, "audit_record", failing_audit)

        with pytest.raises(RuntimeError):
            services.endpoint_remove(tenant=cast.tenant_a, actor=cast.superadmin)

        assert db_state() == before


class TestConfigUpdate:
    @pytest.fixture
    def assigned(self, cast, probes):
        return services.endpoint_assign(
            tenant=cast.tenant_a, endpoint_name="Primary", actor=cast.superadmin
        )

    def test_it_changes_settings_and_audits_before_and_after(self, cast, assigned):
        config = services.config_update(
            tenant=cast.tenant_a,
            actor=cast.superadmin,
            auto_reconnect=False,
            reconnect_interval=60,
            health_check_interval=300,
            webhook_retries=0,
            message_timeout=120,
        )

        config.refresh_from_db()
        expected = {
            "auto_reconnect": False,
            "reconnect_interval": 60,
            "health_check_interval": 300,
            "webhook_retries": 0,
            "message_timeout": 120,
        }
        assert config.settings_dict() == expected
        event = AuditEvent.objects.get(action="settings.changed")
        assert event.before == DEFAULTS
        assert event.after == expected
        assert event.actor == cast.superadmin
        assert [field for field, _, _ in event.changes()] == sorted(expected)

    def test_it_keeps_the_endpoint_and_its_health(self, cast, assigned):
        TenantWhatsAppConfig.objects.update(health_status=HealthStatus.HEALTHY)

        config = services.config_update(tenant=cast.tenant_a, actor=None, webhook_retries=5)

        config.refresh_from_db()
        assert config.endpoint_name == "Primary"
        assert config.health_status == HealthStatus.HEALTHY

    def test_it_writes_no_audit_event_when_nothing_changes(self, cast, assigned):
        services.config_update(tenant=cast.tenant_a, actor=cast.superadmin, reconnect_interval=30)

        assert not AuditEvent.objects.filter(action="settings.changed").exists()

    @pytest.mark.parametrize(
        ("field", "lowest", "highest"),
        [
            ("reconnect_interval", 10, 3600),
            ("health_check_interval", 15, 3600),
            ("webhook_retries", 0, 10),
            ("message_timeout", 5, 120),
        ],
    )
    def test_it_accepts_the_bounds_and_refuses_beyond_them(
        self, cast, assigned, field, lowest, highest
    ):
        for value in (lowest, highest):
            config = services.config_update(tenant=cast.tenant_a, actor=None, **{field: value})
            config.refresh_from_db()
            assert getattr(config, field) == value

        saved = db_state()
        for value in (lowest - 1, highest + 1):
            with pytest.raises(ApplicationError) as error:
                services.config_update(tenant=cast.tenant_a, actor=None, **{field: value})
            assert error.value.code == "invalid_setting"
            assert field in error.value.message
            assert db_state() == saved

    def test_it_reports_every_bad_field_at_once(self, cast, assigned):
        with pytest.raises(ApplicationError) as error:
            services.config_update(
                tenant=cast.tenant_a, actor=None, reconnect_interval=1, message_timeout=1000
            )

        assert "reconnect_interval" in error.value.message
        assert "message_timeout" in error.value.message

    def test_it_refuses_an_unknown_setting(self, cast, assigned):
        saved = db_state()

        with pytest.raises(ApplicationError) as error:
            services.config_update(tenant=cast.tenant_a, actor=None, endpoint_name="Secondary")

        assert error.value.code == "invalid_setting"
        assert "endpoint_name" in error.value.message
        assert db_state() == saved

    def test_it_asks_for_an_endpoint_before_settings(self, cast):
        with pytest.raises(ApplicationError) as error:
            services.config_update(tenant=cast.tenant_a, actor=None, webhook_retries=5)

        assert error.value.code == "not_configured"
        assert "Assign an endpoint to Acme Salon" in error.value.message
        assert not TenantWhatsAppConfig.objects.exists()

    def test_it_rolls_back_when_the_audit_write_fails(self, cast, assigned, monkeypatch):
        saved = db_state()
        monkeypatch.setattr(config_module, "audit_record", failing_audit)

        with pytest.raises(RuntimeError):
            services.config_update(tenant=cast.tenant_a, actor=None, webhook_retries=5)

        assert db_state() == saved
