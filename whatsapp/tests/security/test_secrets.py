"""Canary keys never leak: pages, API replies, logs, error pages, e-mails, dumps, commands,
and from devices, the inbox, API tokens, the tenant API, webhooks and probes.

First every request of CONFIG_MATRIX (tests/security/test_authorization.py), then logs, error
pages, e-mails, dumps and commands; then every request of DEVICES_MATRIX (each role, each token,
pages also as htmx fragments), then every page and API reply built on a failing gateway that
echoes the key it was sent, in its body and its headers, for both providers; plus the rows, log
records and console output those failures leave behind.
"""

from __future__ import annotations

import json
import logging
import re
from io import StringIO

import pytest
import responses
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client, override_settings
from django.utils.log import AdminEmailHandler

from tenants.test import CANARY_KEYS, CANARY_PRIMARY, CANARY_SECONDARY, ENDPOINTS_JSON, client_for
from whatsapp import services
from whatsapp.endpoints import EndpointRegistry, registry
from whatsapp.models import Device, HealthStatus, Message, MessageStatus, TenantWhatsAppConfig
from whatsapp.security import REDACTED, RedactSecretsFilter
from whatsapp.tests.security.test_authorization import (
    API,
    CONFIG_MATRIX,
    DEV,
    DEVICES_MATRIX,
    INBOX,
    TOKEN_COLUMNS,
    TOKEN_HOSTS,
    TOKEN_MATRIX,
    TOKENS,
    WA,
    World,
    gateway_fixture,  # noqa: F401 (the `gateway` fixture)
    send,
    send_config,
    snapshot,
    world_fixture,  # noqa: F401 (the `world` fixture)
)
from whatsapp.tests.support.authorization import HOSTS, ROLES, A, P, resolve, user_for
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
        for method, path, host, *_ in CONFIG_MATRIX:
            client = client_for(user_for(assigned, role), HOSTS[host])
            response = send_config(client, method, resolve(path, assigned), path)
            assert_no_canary(response_text(response), f"in {method} {path} @{host} as {role}")

    def test_it_shows_no_key_on_the_setup_page_after_each_action(self, assigned):
        root = client_for(assigned.superadmin)
        url = f"/admin/tenants/{assigned.tenant_a.pk}/whatsapp"
        for action, data in (
            ("assign", {"endpoint_name": "Secondary"}),
            ("assign", {"endpoint_name": "Nope"}),
            ("settings", {"reconnect_interval": "1"}),
            ("remove", {}),
            ("remove", {}),
        ):
            for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
                response = root.post(f"{url}/{action}", data, follow=True, **headers)
                assert_no_canary(response_text(response), f"after {action} {data}")

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
            f"/admin/tenants/{cast.tenant_a.pk}/whatsapp/assign",
            {"endpoint_name": "Ref"},
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
            f"/admin/tenants/{assigned.tenant_a.pk}/whatsapp/assign",
            {"endpoint_name": "Primary"},
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


# =================================================================================================
# Devices, the inbox, API tokens, the tenant API, webhooks and probes (DEVICES_MATRIX)
# =================================================================================================
HTMX = {"HTTP_HX_REQUEST": "true"}
GATEWAYS = re.compile(r"https://(primary|secondary)\.gateway\.test(:8443)?/.*")


def sent(client, method: str, path: str, world: World, **headers):
    """One request whose effects are rolled back, so every request sees the same data."""
    with transaction.atomic():
        if headers:
            client.defaults.update(headers)
        response = send(client, method, path, world)
        transaction.set_rollback(True)
    return response


@pytest.mark.parametrize("role", ROLES)
def test_it_shows_no_key_on_any_url_of_the_matrix(world, role):
    for method, path, host, *_ in DEVICES_MATRIX:
        where = f"in {method} {path} @{host} as {role}"
        assert_no_canary(response_text(sent(world.client(role, host), method, path, world)), where)
        if not path.startswith("/api/"):
            response = sent(world.client(role, host), method, path, world, **HTMX)
            assert_no_canary(response_text(response), f"{where} (htmx)")


def test_it_shows_no_key_on_any_url_to_a_tenant_token(world):
    for method, path, *_ in TOKEN_MATRIX:
        for column, host in zip(TOKEN_COLUMNS, TOKEN_HOSTS, strict=True):
            raw = world.revoked_a if column.startswith("revoked") else world.token_a
            response = sent(world.bearer(raw, host), method, path, world)
            assert_no_canary(response_text(response), f"in {method} {path} with token {column}")


# --- a failing gateway that echoes the key it was sent ---------------------------------------


def echo_the_key(status: int):
    """A gateway error reply that repeats every request header (the key among them) in every
    place an error message is read from: message, error, response.message, and its headers."""

    def reply(request):
        sent_headers = "; ".join(f"{name}: {value}" for name, value in request.headers.items())
        body = {
            "statusCode": status,
            "message": f"Invalid request with headers {sent_headers}",
            "error": f"Unauthorized {sent_headers}",
            "response": {"message": [f"apikey {sent_headers} rejected"]},
        }
        return status, {"X-Echo": sent_headers, "WWW-Authenticate": sent_headers}, json.dumps(body)

    return reply


FAILING_PAGES = [
    ("GET", WA),
    ("POST", f"{DEV}/new"),
    ("GET", f"{DEV}/{{DA}}"),
    ("POST", f"{DEV}/{{DA}}/qr"),
    ("POST", f"{DEV}/{{DA}}/restart"),
    ("POST", f"{DEV}/{{DA}}/logout"),
    ("POST", f"{DEV}/{{DA}}/delete"),
    ("GET", f"{INBOX}/"),
    ("POST", f"{INBOX}/new"),
    ("GET", f"{INBOX}/{{CA}}"),
    ("POST", f"{INBOX}/{{CA}}/reply"),
    ("POST", f"{INBOX}/{{CA}}/messages/{{MA}}/retry"),
    ("GET", TOKENS),
]
FAILING_API = [
    ("GET", f"{API}/devices"),
    ("POST", f"{API}/devices"),
    ("GET", f"{API}/devices/{{DA}}"),
    ("DELETE", f"{API}/devices/{{DA}}"),
    ("POST", f"{API}/devices/{{DA}}/qr"),
    ("POST", f"{API}/devices/{{DA}}/restart"),
    ("POST", f"{API}/devices/{{DA}}/logout"),
    ("POST", f"{API}/messages"),
    ("GET", f"{API}/messages"),
    ("GET", f"{API}/messages/{{MA}}"),
    ("GET", f"{API}/conversations"),
    ("GET", f"{API}/tenant-config/{{A}}"),
]


@pytest.mark.parametrize("status", [401, 422, 500])
@pytest.mark.parametrize("endpoint", ["Primary", "Secondary"])  # WAHA, Evolution
def test_it_shows_no_key_when_the_gateway_echoes_it_in_an_error(
    world, gateway, console_output, caplog, endpoint, status
):
    caplog.set_level(logging.INFO)
    tenant = world.cast.tenant_a
    TenantWhatsAppConfig.objects.filter(tenant=tenant).update(endpoint_name=endpoint)
    Device.objects.filter(tenant=tenant).update(endpoint_name=endpoint)
    gateway.reset()
    for method in (responses.GET, responses.POST, responses.PUT, responses.DELETE):
        gateway.add_callback(method, GATEWAYS, callback=echo_the_key(status))
    alice, token = world.client("alice", A), world.bearer(world.token_a, P)
    replies = []

    def ask(client, method, path, **headers):
        client.defaults.update(headers)
        response = send(client, method, path, world)
        replies.append((f"{method} {path} {headers or ''}", response))
        return response

    for method, path in FAILING_PAGES:
        ask(alice, method, path)
        ask(world.client("alice", A), method, path, **HTMX)
    for method, path in FAILING_API:
        ask(alice, method, path)
        ask(token, method, path)
    # An unhealthy endpoint is probed before a device is created: its answer is shown too.
    TenantWhatsAppConfig.objects.filter(tenant=tenant).update(health_status=HealthStatus.UNHEALTHY)
    ask(alice, "POST", f"{DEV}/new")
    ask(token, "POST", f"{API}/devices")
    # The worker sends the queued messages; the failure reason reaches the thread and the API.
    for message_id in Message.objects.filter(
        tenant=tenant, status=MessageStatus.QUEUED
    ).values_list("pk", flat=True):
        services.message_deliver(message_id=message_id)
    for method, path in [
        ("GET", f"{INBOX}/{{CA}}"),
        ("GET", f"{DEV}/{{DA}}"),
        ("GET", WA),
        ("GET", f"{API}/messages"),
        ("GET", f"{API}/messages/{{MA}}"),
        ("GET", f"{API}/devices"),
    ]:
        ask(alice, method, path)
        ask(token, method, path)
    for message in Message.objects.filter(tenant=tenant, status=MessageStatus.QUEUED):
        ask(alice, "GET", f"{INBOX}/{message.conversation_id}")

    # The gateway really was asked (with the key) and really failed the requests.
    echoed = [c for c in gateway.calls if any(k in str(c.request.headers) for k in CANARY_KEYS)]
    assert len(echoed) >= 10, "the failing gateway was not reached"
    assert any(response.status_code >= 400 for _, response in replies)
    assert Message.objects.filter(tenant=tenant).exclude(last_error="").exists()
    for label, response in replies:
        assert_no_canary(response_text(response), f"in {label}")
    assert_no_canary(repr(snapshot()), "in the database")
    for record in caplog.records:
        assert_no_canary(record.getMessage(), f"in log record {record.name}")
        assert_no_canary(record.exc_text or "", f"in a logged traceback {record.name}")
    assert_no_canary(console_output.getvalue(), "in the console log")
