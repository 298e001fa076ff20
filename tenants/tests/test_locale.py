"""Language and time zone per request, labelled times and numbers as Indonesians dial them."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.commands import makemessages
from django.test import Client, override_settings
from django.test.signals import template_rendered
from django.utils import timezone, translation

from tenants.models import Tenant, TimeZone, UserPreference
from tenants.templatetags.local import clock, day_label, phone
from tenants.test import PASSWORD, client_for, platform_host

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)


def html_lang(response) -> str:
    text = response.content.decode()
    start = text.index('<html lang="') + len('<html lang="')
    return text[start : text.index('"', start)]


def test_a_tenant_host_speaks_indonesian_to_a_browser_without_a_preference(cast):
    response = client_for(host=cast.host_a, language="").get("/accounts/login/")

    assert html_lang(response) == "id"
    assert response["Content-Language"] == "id"


def test_an_indonesian_browser_gets_indonesian_navigation(cast):
    response = client_for(cast.alice, cast.host_a, language="id-ID,id;q=0.9,en;q=0.5").get(
        "/admin/whatsapp"
    )

    assert html_lang(response) == "id"
    assert "Kotak masuk" in response.content.decode()
    assert "Keluar" in response.content.decode()


def test_an_english_browser_gets_english_on_a_tenant_host(cast):
    response = client_for(cast.alice, cast.host_a, language="en-US,en;q=0.9").get("/admin/whatsapp")

    assert html_lang(response) == "en"
    assert ">Inbox<" in response.content.decode()


def test_the_platform_host_falls_back_to_english(cast):
    response = client_for(host=platform_host(), language="").get("/accounts/login/")

    assert html_lang(response) == "en"


def test_a_malformed_accept_language_header_falls_back_to_the_hosts_default(cast):
    response = client_for(host=cast.host_a, language="\x00;;q=zz,,*").get("/accounts/login/")

    assert response.status_code == 200
    assert html_lang(response) == "id"


def test_choosing_a_language_persists_for_the_browser_and_follows_the_person(cast):
    browser = client_for(cast.alice, cast.host_a, language="id")

    answer = browser.post(
        "/accounts/language/",
        {"language": "en"},
        HTTP_REFERER=f"http://{cast.host_a}/admin/whatsapp",
    )

    assert answer.status_code == 302 and answer["Location"].endswith("/admin/whatsapp")
    assert html_lang(browser.get("/admin/whatsapp")) == "en"
    assert UserPreference.objects.get(user=cast.alice).language == "en"
    # A new phone (Indonesian browser, no cookie) signing in gets the language alice chose.
    phone_browser = Client(HTTP_HOST=cast.host_a, HTTP_ACCEPT_LANGUAGE="id")
    phone_browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert html_lang(phone_browser.get("/admin/whatsapp")) == "en"


def test_an_unknown_language_is_refused_with_a_message_and_changes_nothing(cast):
    browser = client_for(cast.alice, cast.host_a, language="")

    answer = browser.post("/accounts/language/", {"language": "klingon"}, follow=True)

    assert "bukan bahasa yang tersedia di sini" in answer.content.decode()
    assert not UserPreference.objects.filter(user=cast.alice).exists()
    assert html_lang(answer) == "id"


def test_the_language_switch_never_redirects_to_another_site(cast):
    answer = client_for(host=cast.host_a).post(
        "/accounts/language/", {"language": "en", "next": "https://evil.example/phish"}
    )

    assert answer.status_code == 302
    assert answer["Location"] == "/admin/whatsapp"


@pytest.mark.parametrize(
    ("zone", "expected"),
    [(TimeZone.WIB, "15:31 WIB"), (TimeZone.WITA, "16:31 WITA"), (TimeZone.WIT, "17:31 WIT")],
)
def test_times_are_labelled_in_the_tenants_zone(zone, expected):
    moment = datetime(2026, 12, 2, 8, 31, tzinfo=UTC)

    with timezone.override(zone.value):
        assert clock(moment) == expected


def test_a_zone_outside_indonesia_is_labelled_by_its_offset():
    with timezone.override("Europe/Amsterdam"):
        assert clock(datetime(2026, 12, 2, 8, 31, tzinfo=UTC)) == "09:31 UTC+01:00"


def test_day_dividers_say_today_and_yesterday_in_indonesian():
    now = timezone.now()
    with translation.override("id"), timezone.override("Asia/Jakarta"):
        assert day_label(now) == "Hari ini"
        assert day_label(now - timedelta(days=1)) == "Kemarin"
        assert day_label(datetime(2026, 8, 17, 5, 0, tzinfo=UTC)) == "17 Agustus 2026"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("+6281100000001", "0811-0000-0001"),
        ("+6281234567890", "0812-3456-7890"),
        ("+14155550123", "+1 415-555-0123"),
        ("not a number", "not a number"),
        ("", ""),
    ],
)
def test_numbers_show_as_people_dial_them(raw, shown):
    assert phone(raw) == shown


def test_a_tenant_starts_in_jakarta_time_and_pages_use_its_zone(cast):
    assert Tenant.objects.get(pk=cast.tenant_a.pk).time_zone == "Asia/Jakarta"
    Tenant.objects.filter(pk=cast.tenant_a.pk).update(time_zone=TimeZone.WITA)

    zones_while_rendering = []

    def record(**kwargs):
        zones_while_rendering.append(timezone.get_current_timezone_name())

    template_rendered.connect(record, dispatch_uid="tz-capture")
    try:
        client_for(cast.alice, cast.host_a).get("/admin/whatsapp")
    finally:
        template_rendered.disconnect(dispatch_uid="tz-capture")
    assert zones_while_rendering and set(zones_while_rendering) == {"Asia/Makassar"}


class _MakeMessagesIntoCopy(makemessages.Command):
    """makemessages that writes into `locale_dir` only: left to itself it picks the locale/ folder
    nearest each source file, which is the project's own catalogue, whatever LOCALE_PATHS says."""

    def __init__(self, *, locale_dir):
        super().__init__()
        self.copy_dir = str(locale_dir)

    def find_files(self, root):
        return [
            makemessages.TranslatableFile(found.dirpath, found.file, self.copy_dir)
            for found in super().find_files(root)
        ]


def test_every_text_marked_for_translation_has_an_indonesian_translation(tmp_path):
    """Collect the texts afresh (as `make messages-update` does) against a copy of the catalogue:
    a new English text without its Indonesian, or an emptied one, fails here."""
    catalogue = tmp_path / "id" / "LC_MESSAGES" / "django.po"
    catalogue.parent.mkdir(parents=True)
    shutil.copy(ROOT / "locale" / "id" / "LC_MESSAGES" / "django.po", catalogue)
    with override_settings(LOCALE_PATHS=[tmp_path]):
        call_command(
            _MakeMessagesIntoCopy(locale_dir=tmp_path),
            locale=["id"],
            ignore_patterns=["node_modules", "bench", "staticfiles", "gateway_simulator/*"],
            no_obsolete=True,
            verbosity=0,
        )
    stats = subprocess.run(
        ["msgfmt", "--statistics", "-o", "/dev/null", str(catalogue)],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    untranslated = subprocess.run(
        ["msgattrib", "--untranslated", "--no-obsolete", str(catalogue)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fuzzy = subprocess.run(
        ["msgattrib", "--only-fuzzy", "--no-obsolete", str(catalogue)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "untranslated" not in stats, untranslated
    assert "fuzzy" not in stats, fuzzy
