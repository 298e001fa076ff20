"""Canary keys never leak: pages, API replies, logs, error pages, e-mails, dumps, commands."""

from __future__ import annotations

import json
import logging
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.utils.log import AdminEmailHandler

from booqing.security import REDACTED, RedactSecretsFilter
from booqing.test import CANARY_PRIMARY, CANARY_SECONDARY, ENDPOINTS_JSON, client_for
from whatsapp import services
from whatsapp.endpoints import EndpointRegistry, registry
from whatsapp.models import TenantWhatsAppConfig
from whatsapp.tests.security.test_authorization import MATRIX, send
from whatsapp.tests.support.authorization import HOSTS, ROLES, resolve, user_for
from whatsapp.tests.support.secrets import assert_no_canary, response_text

pytestmark = pytest.mark.django_db

ERRORS_URLCONF = "whatsapp.tests.support.urls_errors"
EXPLODE = "/test-only/explode"
# What a runserver process or a careless proxy puts into request.META.
LEAKY_META = {
    "WHATSAPP_ENDPOINTS": ENDPOINTS_JSON,
    "GATEWAY_SETTINGS": f"url=https://primary.gateway.test key={CANARY_SECONDARY}",
    "HTTP_X_UPSTREAM": f"Bearer {CANARY_PRIMARY}",
}


@pytest.fixture
def assigned(cast):
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Primary", actor=cast.superadmin)
    services.endpoint_assign(tenant=cast.tenant_b, endpoint_name="Secondary", actor=cast.superadmin)
    return cast


class TestPagesAndApi:
    @pytest.mark.parametrize("role", ROLES)
    def test_it_shows_no_key_on_any_url_of_the_matrix(self, assigned, role):
        for method, path, host, *_ in MATRIX:
            client = client_for(user_for(assigned, role), HOSTS[host])
            response = send(client, method, resolve(path, assigned), path)
            assert_no_canary(response_text(response), f"in {method} {path} @{host} as {role}")

    def test_it_shows_no_key_on_the_setup_page_after_each_action(self, assigned):
        root = client_for(assigned.superadmin)
        url = f"/admin/tenants/{assigned.tenant_a.pk}/whatsapp"
        for data in (
            {"action": "assign", "endpoint_name": "Secondary"},
            {"action": "assign", "endpoint_name": "Nope"},
            {"action": "settings", "reconnect_interval": "1"},
            {"action": "remove"},
            {"action": "remove"},
        ):
            for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
                response = root.post(url, data, follow=True, **headers)
                assert_no_canary(response_text(response), f"after {data}")

    def test_it_shows_no_key_when_the_configuration_is_broken(self, cast, monkeypatch):
        monkeypatch.setenv(
            "WHATSAPP_ENDPOINTS",
            json.dumps(
                [
                    {"name": "Ok", "apiUrl": "https://ok.test", "apiKey": CANARY_PRIMARY},
                    {"name": "Ok", "apiUrl": "https://dup.test", "apiKey": CANARY_SECONDARY},
                    {"name": "Bad", "apiUrl": f"ftp://{CANARY_SECONDARY}@x", "apiKey": "k-99999"},
                ]
            ),
        )
        root = client_for(cast.superadmin)

        for url in (
            "/admin/endpoints/",
            f"/admin/tenants/{cast.tenant_a.pk}/whatsapp",
            "/api/whatsapp/available-endpoints",
        ):
            assert_no_canary(response_text(root.get(url)), f"on {url}")

    def test_it_shows_no_key_read_through_a_reference(self, cast, monkeypatch):
        monkeypatch.setenv("WAHA_PROD_KEY", CANARY_PRIMARY)
        monkeypatch.setenv(
            "WHATSAPP_ENDPOINTS",
            json.dumps(
                [{"name": "Ref", "apiUrl": "https://ref.test", "apiKey": "${WAHA_PROD_KEY}"}]
            ),
        )
        root = client_for(cast.superadmin)
        root.post(
            f"/admin/tenants/{cast.tenant_a.pk}/whatsapp",
            {"action": "assign", "endpoint_name": "Ref"},
        )

        for url in (
            "/admin/endpoints/",
            f"/admin/tenants/{cast.tenant_a.pk}/whatsapp",
            "/admin/tenants/",
        ):
            assert_no_canary(response_text(root.get(url)), f"on {url}")

    def test_it_answers_an_unexpected_api_error_without_details(
        self, cast, monkeypatch, console_output
    ):
        def broken_names(self):
            raise RuntimeError(f"registry exploded with {CANARY_PRIMARY}")

        monkeypatch.setattr(EndpointRegistry, "names", broken_names)

        response = client_for(cast.superadmin).get("/api/whatsapp/available-endpoints")

        assert response.status_code == 500
        assert response.json()["error"]["code"] == "server_error"
        assert_no_canary(response_text(response))
        logged = console_output.getvalue()
        assert "registry exploded" in logged
        assert REDACTED in logged
        assert_no_canary(logged, "in the console log")


class TestLogs:
    def test_it_logs_no_key_during_everyday_work(self, assigned, caplog):
        caplog.set_level(logging.DEBUG)
        root = client_for(assigned.superadmin)

        services.endpoint_assign(tenant=assigned.tenant_a, endpoint_name="Secondary", actor=None)
        services.config_update(tenant=assigned.tenant_a, actor=None, webhook_retries=4)
        services.endpoint_remove(tenant=assigned.tenant_a, actor=None)
        root.post(
            f"/admin/tenants/{assigned.tenant_a.pk}/whatsapp",
            {"action": "assign", "endpoint_name": "Primary"},
        )
        root.get("/admin/endpoints/")
        call_command("whatsapp_endpoints", stdout=StringIO())
        call_command("check", stdout=StringIO(), stderr=StringIO())

        assert caplog.records, "expected the flows above to log something"
        for record in caplog.records:
            assert_no_canary(record.getMessage(), f"in log record {record.name}")
            assert_no_canary(record.exc_text or "", f"in log traceback {record.name}")
        assert_no_canary(caplog.text)

    def test_it_masks_a_key_in_a_message_its_args_and_a_traceback(self):
        stream = StringIO()
        handler = logging.StreamHandler(stream)
        handler.addFilter(RedactSecretsFilter())
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        logger = logging.getLogger("booqing.tests.redaction")
        logger.addHandler(handler)
        logger.propagate = False
        try:
            logger.warning(f"calling gateway with key {CANARY_PRIMARY}")
            logger.warning(
                "calling gateway key=%s other=%r", CANARY_SECONDARY, {"k": CANARY_PRIMARY}
            )
            logger.warning("mapping %(key)s", {"key": CANARY_PRIMARY})
            try:
                raise ValueError(f"gateway rejected {CANARY_SECONDARY}")
            except ValueError:
                logger.exception("send failed")
        finally:
            logger.removeHandler(handler)
            logger.propagate = True

        output = stream.getvalue()
        assert output.count(REDACTED) >= 5
        assert "calling gateway with key" in output
        assert "ValueError: gateway rejected" in output
        assert_no_canary(output)

    def test_it_masks_a_key_that_came_from_a_reference(self, monkeypatch):
        monkeypatch.setenv("WAHA_PROD_KEY", "referenced-key-5be1c9a7")
        monkeypatch.setenv(
            "WHATSAPP_ENDPOINTS",
            json.dumps(
                [{"name": "Ref", "apiUrl": "https://ref.test", "apiKey": "${WAHA_PROD_KEY}"}]
            ),
        )
        stream = StringIO()
        handler = logging.StreamHandler(stream)
        handler.addFilter(RedactSecretsFilter())
        record = logging.LogRecord(
            "x", logging.INFO, __file__, 1, "key %s", ("referenced-key-5be1c9a7",), None
        )

        handler.handle(record)

        assert "referenced-key-5be1c9a7" not in stream.getvalue()
        assert REDACTED in stream.getvalue()

    def test_it_configures_the_filter_on_every_log_handler(self):
        handlers = {
            h
            for name in ("", "django", "django.request")
            for h in logging.getLogger(name).handlers
            if not type(h).__module__.startswith("_pytest")  # pytest's own capture handlers
        }
        assert handlers
        for handler in handlers:
            assert any(isinstance(f, RedactSecretsFilter) for f in handler.filters), handler

    def test_it_masks_keys_in_the_configured_console_log(self, console_output):
        logging.getLogger("whatsapp.gateways").error("gateway said: bad key %s", CANARY_PRIMARY)

        assert "gateway said: bad key" in console_output.getvalue()
        assert_no_canary(console_output.getvalue())


class TestErrorPages:
    def explode(self, **extra):
        client = Client(raise_request_exception=False, HTTP_HOST=HOSTS["platform"])
        return client.get(EXPLODE, **LEAKY_META, **extra)

    @override_settings(DEBUG=True, ROOT_URLCONF=ERRORS_URLCONF)
    def test_it_hides_keys_on_the_debug_page(self, console_output):
        response = self.explode()

        assert response.status_code == 500
        page = response.content.decode()
        assert "RuntimeError" in page  # it is Django's technical page ...
        assert "WHATSAPP_ENDPOINTS" in page  # ... listing request.META ...
        assert "refused key" in page  # ... and the exception and the local variables
        assert_no_canary(page, "on the debug page")
        assert "primary.gateway.test" not in page.split("WHATSAPP_ENDPOINTS", 1)[1][:500]
        assert_no_canary(console_output.getvalue(), "in the console log")

    @override_settings(DEBUG=True, ROOT_URLCONF=ERRORS_URLCONF)
    def test_it_hides_keys_on_the_plain_text_debug_page(self):
        response = self.explode(HTTP_ACCEPT="text/plain")

        assert response.status_code == 500
        assert response["Content-Type"].startswith("text/plain")
        text = response.content.decode()
        assert "RuntimeError" in text
        assert "WHATSAPP_ENDPOINTS" in text
        assert_no_canary(text, "on the text debug page")

    @override_settings(DEBUG=False, ROOT_URLCONF=ERRORS_URLCONF)
    def test_it_shows_a_friendly_page_without_debug(self, console_output):
        response = self.explode()

        assert response.status_code == 500
        page = response.content.decode()
        assert "Something went wrong" in page
        assert "Traceback" not in page
        assert "RuntimeError" not in page
        assert_no_canary(page)
        assert "RuntimeError: gateway Primary refused key" in console_output.getvalue()
        assert_no_canary(console_output.getvalue(), "in the console log")

    @override_settings(
        DEBUG=False, ROOT_URLCONF=ERRORS_URLCONF, ADMINS=[("Ops", "ops@booqing.test")]
    )
    def test_it_hides_keys_in_the_error_email(self):
        self.explode()

        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["ops@booqing.test"]
        assert "RuntimeError" in message.body
        assert "WHATSAPP_ENDPOINTS" in message.body
        assert_no_canary(message.subject, "in the e-mail subject")
        assert_no_canary(message.body, "in the e-mail body")
        for content, _ in getattr(message, "alternatives", []):
            assert_no_canary(content, "in the e-mail's HTML part")

    @override_settings(
        DEBUG=False, ROOT_URLCONF=ERRORS_URLCONF, ADMINS=[("Ops", "ops@booqing.test")]
    )
    def test_it_hides_keys_in_an_html_error_email_too(self):
        handler = AdminEmailHandler(include_html=True)
        handler.setLevel(logging.ERROR)
        request_logger = logging.getLogger("django.request")
        request_logger.addHandler(handler)
        try:
            self.explode()
        finally:
            request_logger.removeHandler(handler)

        html_parts = [
            c
            for m in mail.outbox
            for c, kind in getattr(m, "alternatives", [])
            if kind == "text/html"
        ]
        assert html_parts, "expected the HTML e-mail"
        for html in html_parts:
            assert "RuntimeError" in html
            assert_no_canary(html, "in the HTML e-mail")


class TestDumpsAndCommands:
    def test_it_keeps_keys_out_of_dumpdata(self, assigned, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            # enqueues the first health probe too, so the task table has a row to dump
            services.endpoint_assign(
                tenant=assigned.tenant_a, endpoint_name="Secondary", actor=None
            )
        out = StringIO()

        call_command("dumpdata", stdout=out)

        dump = out.getvalue()
        assert "tenant_whatsapp_config" in dump or "whatsapp.tenantwhatsappconfig" in dump
        assert "Secondary" in dump
        assert_no_canary(dump, "in dumpdata")
        assert "gateway.test" not in dump

    def test_it_keeps_keys_out_of_whatsapp_endpoints(self, assigned):
        out = StringIO()

        call_command("whatsapp_endpoints", stdout=out)

        assert "Primary" in out.getvalue() and "primary.gateway.test" in out.getvalue()
        assert_no_canary(out.getvalue())

    def test_it_keeps_keys_out_of_whatsapp_endpoints_check_on_broken_config(
        self, cast, monkeypatch
    ):
        monkeypatch.setenv(
            "WHATSAPP_ENDPOINTS",
            json.dumps(
                [
                    {"name": "A", "apiUrl": "ftp://a.test", "apiKey": CANARY_PRIMARY},
                    {
                        "name": "B",
                        "apiUrl": "https://b.test",
                        "apiKey": CANARY_SECONDARY,
                        "provider": "x",
                    },
                ]
            ),
        )
        out = StringIO()

        with pytest.raises(CommandError) as error:
            call_command("whatsapp_endpoints", "--check", stdout=out)

        assert "whatsapp.E005" in out.getvalue()
        assert_no_canary(out.getvalue() + str(error.value))

    @pytest.mark.parametrize("args", [[], ["--all"], ["--output", "unified"]])
    def test_it_keeps_keys_out_of_diffsettings(self, args):
        out = StringIO()

        call_command("diffsettings", *args, stdout=out)

        assert "BASE_DOMAIN" in out.getvalue()
        assert_no_canary(out.getvalue(), "in diffsettings")

    def test_it_keeps_keys_out_of_the_registry_objects_reprs(self):
        reg = registry()
        objects = [
            reg,
            reg.configs(),
            reg.all_metadata(),
            reg.problems,
            *(reg.config(name) for name in reg.names()),
            *(reg.config(name).api_key for name in reg.names()),
            *(reg.metadata(name) for name in reg.names()),
        ]

        for obj in objects:
            assert_no_canary(repr(obj), f"in repr({type(obj).__name__})")
            assert_no_canary(str(obj), f"in str({type(obj).__name__})")

    def test_it_keeps_keys_out_of_the_database(self, assigned):
        configs = json.dumps(list(TenantWhatsAppConfig.objects.values()), default=str)

        assert_no_canary(configs)
        field_names = {f.name for f in TenantWhatsAppConfig._meta.get_fields()}
        assert not field_names & {"api_url", "api_key", "apiUrl", "apiKey", "url", "key"}
