"""Members: invitations with a set-password link, roles, removal, and who may do each, where."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from core.models import AuditEvent
from tenants.models import Membership, Tenant
from tenants.test import PASSWORD, client_for, platform_host
from whatsapp.tests.support.authorization import HOSTS, LOGIN, MISSING_ID, ROLES, A, B, P, snapshot
from whatsapp.tests.support.authorization import user_for as cast_user

pytestmark = pytest.mark.django_db

MEMBERS = "/admin/members/"
PLATFORM_MEMBERS = "/admin/tenants/{A}/members/"
INVITE = {"email": "dewi@acme.test", "role": "staff"}

# fmt: off
MATRIX = [
    # method  path                                    host  anon   alice  bob  charlie root
    ("GET",   MEMBERS,                                A,    LOGIN, 200,   403, 403,    403),
    ("POST",  MEMBERS,                                A,    LOGIN, 405,   403, 403,    403),
    ("POST",  f"{MEMBERS}invite",                     A,    LOGIN, 302,   403, 403,    403),
    ("GET",   f"{MEMBERS}invite",                     A,    LOGIN, 405,   403, 403,    403),
    ("POST",  f"{MEMBERS}{{MA}}/role",                A,    LOGIN, 302,   403, 403,    403),
    ("POST",  f"{MEMBERS}{{MA}}/remove",              A,    LOGIN, 302,   403, 403,    403),
    ("POST",  f"{MEMBERS}{{MB}}/role",                A,    LOGIN, 404,   403, 403,    403),
    ("POST",  f"{MEMBERS}{{MB}}/remove",              A,    LOGIN, 404,   403, 403,    403),
    ("POST",  f"{MEMBERS}{{X}}/remove",               A,    LOGIN, 404,   403, 403,    403),
    ("GET",   MEMBERS,                                B,    LOGIN, 403,   403, 200,    403),
    ("POST",  f"{MEMBERS}{{MA}}/remove",              B,    LOGIN, 403,   403, 404,    403),
    ("GET",   MEMBERS,                                P,    404,   404,   404, 404,    404),
    ("GET",   PLATFORM_MEMBERS,                       P,    LOGIN, 403,   403, 403,    200),
    ("POST",  "/admin/tenants/{A}/members/invite",    P,    LOGIN, 403,   403, 403,    302),
    ("POST",  "/admin/tenants/{A}/members/{MA}/role", P,    LOGIN, 403,   403, 403,    302),
    ("POST",  "/admin/tenants/{A}/members/{MA}/remove", P,  LOGIN, 403,   403, 403,    302),
    ("POST",  "/admin/tenants/{A}/members/{MB}/remove", P,  LOGIN, 403,   403, 403,    404),
    ("GET",   "/admin/tenants/{X}/members/",          P,    LOGIN, 403,   403, 403,    404),
    ("GET",   PLATFORM_MEMBERS,                       A,    404,   404,   404, 404,    404),
]
# fmt: on
BODIES = {"invite": INVITE, "role": {"role": "admin"}}


def cases():
    for method, path, host, *expected in MATRIX:
        for role, status in zip(ROLES, expected, strict=True):
            yield pytest.param(
                method, path, host, role, status, id=f"{method} {path} @{host} as {role}"
            )


def fill(path: str, cast) -> str:
    bob = Membership.objects.get(user=cast.bob)
    charlie = Membership.objects.get(user=cast.charlie)
    return path.format(
        A=cast.tenant_a.pk, B=cast.tenant_b.pk, X=MISSING_ID, MA=bob.uid, MB=charlie.uid
    )


@pytest.mark.parametrize(("method", "path", "host", "role", "expected"), list(cases()))
def test_each_role_gets_what_the_matrix_says(cast, method, path, host, role, expected):
    client = client_for(cast_user(cast, role), HOSTS[host])
    before = snapshot()
    body = BODIES.get(path.rsplit("/", 1)[-1], {})

    response = (
        client.generic(method, fill(path, cast))
        if method == "GET"
        else client.post(fill(path, cast), body)
    )

    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    else:
        assert response.status_code == expected, response.content[:300]
    if method == "POST" and expected in (LOGIN, 403, 404, 405):
        assert snapshot() == before, "a denied write changed the database"
        assert not mail.outbox


def set_password_link(message) -> str:
    return re.search(r"https?://\S+/accounts/set-password/\S+/", message.body).group(0)


def test_an_admin_invites_someone_who_then_chooses_a_password_and_signs_in(
    cast, django_capture_on_commit_callbacks
):
    alice = client_for(cast.alice, cast.host_a, language="id")

    with django_capture_on_commit_callbacks(execute=True):
        answer = alice.post(f"{MEMBERS}invite", INVITE, follow=True)

    assert "Undangan terkirim ke dewi@acme.test" in answer.content.decode()
    dewi = get_user_model().objects.get(email="dewi@acme.test")
    assert Membership.objects.get(user=dewi, tenant=cast.tenant_a).role == "staff"
    assert not dewi.has_usable_password()
    [message] = mail.outbox
    assert message.to == ["dewi@acme.test"]
    assert "Acme Salon" in message.subject
    assert "Anda" in message.body  # Indonesian unless the person chose English
    link = set_password_link(message)
    assert link.startswith("http://acme.localhost")
    path = link.split("acme.localhost", 1)[1].split("/", 1)[1]
    visitor = client_for(host=cast.host_a, language="id")
    form_page = visitor.get(f"/{path}", follow=True)
    assert "Pilih kata sandi" in form_page.content.decode()
    saved = visitor.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else f"/{path}",
        {"new_password1": "Sanggul-Melati-2026", "new_password2": "Sanggul-Melati-2026"},
        follow=True,
    )
    assert "Kata sandi tersimpan" in saved.content.decode()
    signed_in = client_for(host=cast.host_a)
    login = signed_in.post(
        "/accounts/login/", {"username": dewi.username, "password": "Sanggul-Melati-2026"}
    )
    assert login.status_code == 302
    assert signed_in.get("/admin/whatsapp").status_code == 200
    # The link works once.
    again = client_for(host=cast.host_a).get(f"/{path}", follow=True)
    assert "already been used or has expired" in again.content.decode()


def test_inviting_an_existing_account_adds_it_without_touching_its_password(
    cast, django_capture_on_commit_callbacks
):
    root = client_for(cast.superadmin, platform_host())

    with django_capture_on_commit_callbacks(execute=True):
        root.post(
            f"/admin/tenants/{cast.tenant_b.pk}/members/invite",
            {"email": "ALICE@acme.test", "role": "staff"},
        )

    assert Membership.objects.get(user=cast.alice, tenant=cast.tenant_b).role == "staff"
    cast.alice.refresh_from_db()
    assert cast.alice.check_password(PASSWORD)
    assert get_user_model().objects.filter(email__iexact="alice@acme.test").count() == 1
    assert len(mail.outbox) == 1


def test_creating_a_tenant_invites_its_owner_as_admin(cast, django_capture_on_commit_callbacks):
    root = client_for(cast.superadmin, platform_host())

    with django_capture_on_commit_callbacks(execute=True):
        root.post(
            "/admin/tenants/",
            {"name": "Kopi Kenangan Spa", "subdomain": "kopispa", "owner_email": "owner@kopi.test"},
        )

    tenant = Tenant.objects.get(subdomain="kopispa")
    owner = Membership.objects.get(tenant=tenant)
    assert owner.role == "admin" and owner.user.email == "owner@kopi.test"
    [message] = mail.outbox
    assert set_password_link(message).startswith("http://kopispa.localhost")
    assert AuditEvent.objects.filter(tenant=tenant, action="member.invited").exists()


def test_a_bad_email_is_refused_next_to_its_field(cast):
    alice = client_for(cast.alice, cast.host_a)

    answer = alice.post(f"{MEMBERS}invite", {"email": "dewi@", "role": "staff"})

    assert answer.status_code == 422
    html = answer.content.decode()
    assert 'aria-invalid="true"' in html
    described = re.search(
        r'id="id_email"[^>]*aria-describedby="([^"]+)"|aria-describedby="([^"]+)"[^>]*id="id_email"',
        html,
    )
    ids = (described.group(1) or described.group(2)).split()
    for target in ids:
        assert f'id="{target}"' in html, f"aria-describedby points at a missing id {target}"
    assert not mail.outbox


def test_the_last_admin_can_be_neither_demoted_nor_removed(cast):
    alice_membership = Membership.objects.get(user=cast.alice)
    alice = client_for(cast.alice, cast.host_a)

    demote = alice.post(f"{MEMBERS}{alice_membership.uid}/role", {"role": "staff"}, follow=True)
    remove = alice.post(f"{MEMBERS}{alice_membership.uid}/remove", follow=True)

    assert "only admin of this workspace" in demote.content.decode()
    assert "only admin of this workspace" in remove.content.decode()
    assert Membership.objects.get(pk=alice_membership.pk).role == "admin"


def test_an_admin_promotes_staff_then_steps_down_and_is_removed(cast):
    bob_membership = Membership.objects.get(user=cast.bob)
    alice_membership = Membership.objects.get(user=cast.alice)
    alice = client_for(cast.alice, cast.host_a)

    alice.post(f"{MEMBERS}{bob_membership.uid}/role", {"role": "admin"})
    bob = client_for(cast.bob, cast.host_a)
    bob.post(f"{MEMBERS}{alice_membership.uid}/remove")

    assert Membership.objects.get(pk=bob_membership.pk).role == "admin"
    assert not Membership.objects.filter(pk=alice_membership.pk).exists()
    assert client_for(cast.alice, cast.host_a).get("/admin/whatsapp").status_code == 403
    actions = AuditEvent.objects.filter(tenant=cast.tenant_a).values_list("action", flat=True)
    assert sorted(actions) == ["member.removed", "member.role_changed"]


def test_the_members_page_lists_everyone_with_their_role(cast):
    page = client_for(cast.alice, cast.host_a).get(MEMBERS).content.decode()

    assert page.count('data-testid="member-row"') == 2
    assert "alice@acme.test" in page and "bob@acme.test" in page
    assert "charlie" not in page
