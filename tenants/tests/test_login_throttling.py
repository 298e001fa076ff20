"""Login throttling (issue 9, hole 4): after AXES_FAILURE_LIMIT wrong passwords for a username
or from an address, every login form answers a clear "too many attempts" page, even for the
right password, until the cool-off ends; superadmins get an e-mail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core import mail
from django.utils import timezone

from tenants.test import PASSWORD, client_for

pytestmark = pytest.mark.django_db

FORMS = {
    "tenant": ("acme", "/accounts/login/", "alice"),
    "platform": (None, "/accounts/login/", "root"),
    "django-admin": (None, "/django-admin/login/", "root"),
}


def host_for(cast, which: str | None) -> str | None:
    return cast.host_a if which == "acme" else None


def attempt(cast, form: str, username: str, password: str, *, address: str = "203.0.113.7"):
    which, path, _ = FORMS[form]
    client = client_for(host=host_for(cast, which))
    return client.post(
        path, {"username": username, "password": password}, REMOTE_ADDR=address
    ), client


def signed_in(client) -> bool:
    return settings.SESSION_COOKIE_NAME in client.cookies and bool(
        client.cookies[settings.SESSION_COOKIE_NAME].value
    )


@pytest.mark.parametrize("form", FORMS)
def test_sixty_wrong_passwords_then_the_right_one_does_not_sign_in(cast, form):
    _, _, username = FORMS[form]
    for _ in range(60):
        attempt(cast, form, username, "wrong-guess")

    response, client = attempt(cast, form, username, PASSWORD)

    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many sign-in attempts" in page
    assert f"Try again in {settings.AXES_COOLOFF_MINUTES} minutes" in page
    assert response["Retry-After"] == str(settings.AXES_COOLOFF_MINUTES * 60)
    assert not signed_in(client)


@pytest.mark.parametrize("form", FORMS)
def test_a_few_wrong_passwords_still_let_the_right_one_in(cast, form):
    _, _, username = FORMS[form]
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response, _ = attempt(cast, form, username, "wrong-guess")
        assert response.status_code == 200  # the form again, with its error

    response, client = attempt(cast, form, username, PASSWORD)

    assert response.status_code == 302
    assert signed_in(client)


def test_a_username_is_locked_whatever_address_the_guesses_come_from(cast):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(cast, "tenant", "alice", "wrong", address=f"198.51.100.{n + 1}")

    response, _ = attempt(cast, "tenant", "alice", PASSWORD, address="192.0.2.200")

    assert response.status_code == 429
    # another account is unaffected from a fresh address
    other, client = attempt(cast, "tenant", "bob", PASSWORD, address="192.0.2.201")
    assert other.status_code == 302 and signed_in(client)


def test_an_address_is_locked_whatever_usernames_it_tries(cast):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(cast, "tenant", f"guess{n}", "wrong", address="198.51.100.9")

    response, _ = attempt(cast, "tenant", "alice", PASSWORD, address="198.51.100.9")

    assert response.status_code == 429
    allowed, _ = attempt(cast, "tenant", "alice", PASSWORD, address="198.51.100.10")
    assert allowed.status_code == 302


def test_the_lock_ends_after_the_cool_off(cast):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(cast, "platform", "root", "wrong")
    assert attempt(cast, "platform", "root", PASSWORD)[0].status_code == 429

    past = timezone.now() - timedelta(minutes=settings.AXES_COOLOFF_MINUTES + 1)
    AccessAttempt.objects.update(attempt_time=past)

    response, client = attempt(cast, "platform", "root", PASSWORD)
    assert response.status_code == 302
    assert signed_in(client)


def test_superadmins_are_told_by_mail_once_an_account_is_locked(cast):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(cast, "tenant", "alice", "wrong")

    assert len(mail.outbox) >= 1
    alert = mail.outbox[0]
    assert alert.to == ["root@booqing.test"]
    assert "locked" in alert.subject.lower()
    assert "alice" in alert.body and cast.host_a in alert.body
    assert "wrong" not in alert.body  # never the password tried
