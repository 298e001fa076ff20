"""System checks: a broken WHATSAPP_ENDPOINTS stops `manage.py check`; production settings pass."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tenants.test import CANARY_KEYS, CANARY_PRIMARY, ENDPOINTS_JSON


def run_check(*args) -> str:
    err = StringIO()
    call_command("check", *args, stdout=StringIO(), stderr=err)
    return err.getvalue()


@pytest.mark.parametrize(
    ("value", "check_id"),
    [
        ("[{", "whatsapp.E001"),
        ('{"name": "Primary"}', "whatsapp.E002"),
        ('["Primary"]', "whatsapp.E003"),
        (json.dumps([{"name": "Primary", "apiUrl": "https://wa.test"}]), "whatsapp.E004"),
        (
            json.dumps([{"name": "Primary", "apiUrl": "ftp://wa.test", "apiKey": CANARY_PRIMARY}]),
            "whatsapp.E005",
        ),
        (
            json.dumps(
                [
                    {"name": "Primary", "apiUrl": "https://a.test", "apiKey": CANARY_PRIMARY},
                    {"name": "primary", "apiUrl": "https://b.test", "apiKey": "other-key-1"},
                ]
            ),
            "whatsapp.E006",
        ),
        (
            json.dumps(
                [
                    {
                        "name": "Primary",
                        "apiUrl": "https://a.test",
                        "apiKey": CANARY_PRIMARY,
                        "provider": "twilio",
                    }
                ]
            ),
            "whatsapp.E007",
        ),
        (
            json.dumps(
                [{"name": "Primary", "apiUrl": "https://a.test", "apiKey": "${NO_SUCH_VAR}"}]
            ),
            "whatsapp.E008",
        ),
    ],
)
def test_it_fails_the_check_command_when_the_endpoints_are_broken(monkeypatch, value, check_id):
    monkeypatch.setenv("WHATSAPP_ENDPOINTS", value)
    monkeypatch.delenv("NO_SUCH_VAR", raising=False)

    with pytest.raises(SystemCheckError) as error:
        run_check()

    report = str(error.value)
    assert check_id in report
    assert "HINT:" in report
    for key in CANARY_KEYS:
        assert key not in report


def test_it_names_the_broken_entry_in_the_check_report(monkeypatch):
    monkeypatch.setenv(
        "WHATSAPP_ENDPOINTS",
        json.dumps(
            [
                {"name": "Good", "apiUrl": "https://a.test", "apiKey": "k-1111"},
                {"name": "Broken", "apiUrl": "not-a-url", "apiKey": CANARY_PRIMARY},
            ]
        ),
    )

    with pytest.raises(SystemCheckError) as error:
        run_check()

    assert "entry 1 ('Broken') has an apiUrl that is not a plain http(s) URL" in str(error.value)


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_it_only_warns_when_no_endpoints_are_configured(monkeypatch, empty):
    if empty is None:
        monkeypatch.delenv("WHATSAPP_ENDPOINTS")
    else:
        monkeypatch.setenv("WHATSAPP_ENDPOINTS", empty)

    report = run_check()

    assert "whatsapp.W001" in report
    assert "WHATSAPP_ENDPOINTS is unset or empty" in report


def test_it_fails_on_the_warning_with_fail_level_warning(monkeypatch):
    monkeypatch.delenv("WHATSAPP_ENDPOINTS")

    with pytest.raises(SystemCheckError, match=r"whatsapp\.W001"):
        run_check("--fail-level", "WARNING")


def test_it_passes_with_valid_endpoints():
    assert "whatsapp." not in run_check()


def manage(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "WHATSAPP_", "PYTEST", "ALLOWED_HOSTS", "CSRF_"))
    }
    env.update(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64)[:50],
        BASE_DOMAIN="booqing.my.id",
        DJANGO_HTTPS="true",
        WHATSAPP_ENDPOINTS=ENDPOINTS_JSON,
    )
    env.update(overrides)
    return env


def test_it_passes_the_deploy_checks_with_production_settings():
    result = manage(["check", "--deploy", "--fail-level", "WARNING"], production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    for key in CANARY_KEYS:
        assert key not in result.stdout + result.stderr


def test_it_fails_the_deploy_checks_with_the_development_secret_key():
    env = production_env()
    del env["DJANGO_SECRET_KEY"]
    result = manage(["check", "--deploy", "--fail-level", "WARNING"], env)

    assert result.returncode != 0
    assert "security.W009" in result.stderr


def test_it_exits_non_zero_when_the_endpoints_are_broken():
    result = manage(["check"], production_env(WHATSAPP_ENDPOINTS='[{"name": "x"}]'))

    assert result.returncode != 0
    assert "whatsapp.E004" in result.stderr
