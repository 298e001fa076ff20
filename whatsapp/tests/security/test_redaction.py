"""Every configured key is masked in every form it travels in: raw, HTML-escaped, URL-encoded,
JSON-escaped and base64, in logs, error pages, e-mails and stored gateway texts; a crash while
creating a device leaves no orphan row (issue 9, hole 7)."""

from __future__ import annotations

import base64
import html
import json
import logging
from urllib.parse import quote, quote_plus

import pytest
import responses
from django.core import mail
from django.test import override_settings
from django.urls import path

from booqing.urls import urlpatterns as platform_patterns
from tenants.test import client_for
from whatsapp import services
from whatsapp.models import Device, DeviceStatus, TenantWhatsAppConfig
from whatsapp.redaction import redact
from whatsapp.tests.factories import make_device

pytestmark = pytest.mark.django_db

# Characters that each encoding changes: '/', '+', '&', '<', '"', '=', '~', ' ', and a non-ASCII.
KEY = 'Sp3c!al/key+with&chars<"=é~ and space-7f3a9c'
GATEWAY = "https://special.gateway.test"


def forms_of(key: str) -> dict[str, str]:
    """The key as each channel might carry it, inside a larger text."""
    basic = base64.b64encode(f"admin:{key}".encode()).decode()
    return {
        "raw": key,
        "html": html.escape(key),
        "html-noquote": html.escape(key, quote=False),
        "url": quote(key, safe=""),
        "url-lower": quote(key, safe="").lower(),
        "url-path": quote(key),
        "url-plus": quote_plus(key),
        "json": json.dumps(key)[1:-1],
        "json-utf8": json.dumps(key, ensure_ascii=False)[1:-1],
        "base64": base64.b64encode(key.encode()).decode(),
        "base64-urlsafe": base64.urlsafe_b64encode(key.encode()).decode(),
        "base64-basic": basic,
        "base64-offset-1": base64.b64encode(f"x{key}".encode()).decode(),
        "base64-offset-2": base64.b64encode(f"xy{key}".encode()).decode(),
    }


def assert_no_form_of_key(text: str, where: str) -> None:
    # The base64 forms are long: any 12-character run of the key's encodings is a leak.
    assert KEY not in text, where
    for name, form in forms_of(KEY).items():
        if name.startswith("base64"):
            core = form[4:-4]
            assert core[:16] not in text, f"{name} form of the key {where}"
        else:
            assert form not in text, f"{name} form of the key {where}"


@pytest.fixture(autouse=True)
def special_endpoint(monkeypatch):
    endpoints = [{"name": "Primary", "apiUrl": GATEWAY, "apiKey": KEY}]
    monkeypatch.setenv("WHATSAPP_ENDPOINTS", json.dumps(endpoints))


@pytest.mark.parametrize("form", list(forms_of(KEY)))
def test_redact_masks_each_form_of_the_key(form):
    text = f"gateway said: refused {forms_of(KEY)[form]} (HTTP 401)"

    cleaned = redact(text)

    assert_no_form_of_key(cleaned, f"after redacting the {form} form")
    assert cleaned.startswith("gateway said: refused ") and cleaned.endswith("(HTTP 401)")


def test_redact_leaves_other_text_alone():
    assert redact("Hello, this is ordinary text with key and space words.") == (
        "Hello, this is ordinary text with key and space words."
    )


@pytest.mark.parametrize("form", ["url", "url-plus", "html", "json", "base64-basic"])
def test_a_gateway_error_echoing_the_key_is_stored_and_shown_masked(cast, form):
    TenantWhatsAppConfig.objects.create(tenant=cast.tenant_a, endpoint_name="Primary")
    device = make_device(
        tenant=cast.tenant_a, name="Desk", endpoint="Primary", session="bq-desk",
        status=DeviceStatus.CONNECTED, secret="s",
    )  # fmt: skip
    echoed = f"Invalid request to /api/sessions/bq-desk?x-api-key={forms_of(KEY)[form]}"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as gateway:
        gateway.get(f"{GATEWAY}/api/sessions/bq-desk", status=500, body=echoed)
        gateway.get(f"{GATEWAY}/api/sessions/bq-desk", status=500, json={"message": echoed})
        page = client_for(cast.alice, cast.host_a).get(f"/admin/whatsapp/devices/{device.pk}")
        api = client_for(cast.alice, cast.host_a).get(f"/api/whatsapp/devices/{device.pk}")

    device.refresh_from_db()
    assert_no_form_of_key(device.status_detail, "in Device.status_detail")
    assert_no_form_of_key(page.content.decode(), "on the device page")
    assert_no_form_of_key(api.content.decode(), "in the API reply")


def explode(request):
    forms = forms_of(KEY)
    raise RuntimeError(
        f"gateway replied {forms['html']} / {forms['url']} / {forms['json']} / {forms['base64']}"
    )


urlpatterns = [path("test-only/explode-forms", explode), *platform_patterns]


@override_settings(DEBUG=True, ROOT_URLCONF=__name__)
def test_the_debug_page_shows_no_form_of_the_key(console_output):
    client = client_for()
    client.raise_request_exception = False

    response = client.get("/test-only/explode-forms")

    assert response.status_code == 500
    assert "RuntimeError" in response.content.decode()
    assert_no_form_of_key(response.content.decode(), "on the debug page")
    assert_no_form_of_key(console_output.getvalue(), "in the log")


@override_settings(DEBUG=False, ROOT_URLCONF=__name__, ADMINS=[("Ops", "ops@booqing.test")])
def test_the_error_email_shows_no_form_of_the_key(console_output):
    client = client_for()
    client.raise_request_exception = False

    client.get("/test-only/explode-forms")

    assert mail.outbox
    for message in mail.outbox:
        body = message.body + "".join(str(a[0]) for a in getattr(message, "alternatives", []))
        assert_no_form_of_key(body, "in the error e-mail")


@pytest.mark.parametrize("form", list(forms_of(KEY)))
def test_log_lines_show_no_form_of_the_key(console_output, form):
    logging.getLogger("whatsapp.gateways").warning("gateway reply: %s", forms_of(KEY)[form])

    assert "gateway reply: " in console_output.getvalue()
    assert_no_form_of_key(console_output.getvalue(), "in the log")


@pytest.mark.parametrize("crash", [RecursionError, MemoryError, KeyError, RuntimeError])
def test_a_crash_while_creating_a_device_leaves_no_orphan_row(cast, monkeypatch, crash):
    services.endpoint_assign(tenant=cast.tenant_a, endpoint_name="Primary", actor=cast.superadmin)
    from whatsapp.gateways.waha import WahaGateway

    def boom(self, **kwargs):
        raise crash("hostile reply")

    monkeypatch.setattr(WahaGateway, "session_create", boom)

    with pytest.raises(crash):
        services.device_create(tenant=cast.tenant_a, name="Front desk", actor=cast.alice)

    assert not Device.objects.exists()
