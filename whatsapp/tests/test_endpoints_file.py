"""WHATSAPP_ENDPOINTS_FILE: thousands of endpoints from a file (an environment variable holds at
most 128 KiB), the same checks, re-read when the file changes without a restart."""

from __future__ import annotations

import json
import os

import pytest
from django.core import checks

from tenants.test import client_for
from whatsapp import endpoints
from whatsapp.endpoints import registry

pytestmark = pytest.mark.django_db


def write(path, entries) -> None:
    path.write_text(json.dumps(entries))
    # A later write within the same timestamp tick must still count as a change.
    stamp = path.stat().st_mtime_ns + 1_000_000_000 * (write.calls + 1)
    write.calls += 1
    os.utime(path, ns=(stamp, stamp))


write.calls = 0


def many(count: int) -> list[dict]:
    return [
        {
            "name": f"Tenant{i:04d}",
            "apiUrl": f"https://wa-{i:04d}.gateway.test",
            "apiKey": f"key-file-canary-{i:04d}-7a1c9e",
        }
        for i in range(count)
    ]


@pytest.fixture
def endpoints_file(tmp_path, monkeypatch):
    path = tmp_path / "endpoints.json"
    monkeypatch.setenv("WHATSAPP_ENDPOINTS_FILE", str(path))
    monkeypatch.delenv("WHATSAPP_ENDPOINTS", raising=False)
    monkeypatch.setattr(endpoints, "FILE_RECHECK_SECONDS", 0)
    return path


def test_it_reads_two_thousand_endpoints_from_the_file(endpoints_file):
    write(endpoints_file, many(2000))
    assert endpoints_file.stat().st_size > 128 * 1024  # more than one variable may hold
    assert len(registry().names()) == 2000
    assert registry().metadata("Tenant1999").host == "wa-1999.gateway.test"


def test_it_picks_up_a_changed_file_without_a_restart(endpoints_file):
    write(endpoints_file, many(2))
    assert registry().names() == ["Tenant0000", "Tenant0001"]
    write(endpoints_file, [*many(2), {"name": "Added", "apiUrl": "https://x.test", "apiKey": "k"}])
    assert registry().names() == ["Tenant0000", "Tenant0001", "Added"]


def test_it_looks_at_the_file_at_most_once_per_interval(endpoints_file, monkeypatch):
    write(endpoints_file, many(1))
    monkeypatch.setattr(endpoints, "FILE_RECHECK_SECONDS", 3600)
    assert registry().names() == ["Tenant0000"]
    write(endpoints_file, many(3))
    assert registry().names() == ["Tenant0000"]  # the cached list, until the interval passes
    monkeypatch.setattr(endpoints, "FILE_RECHECK_SECONDS", 0)
    assert len(registry().names()) == 3


def test_it_runs_the_same_checks_on_the_file(endpoints_file):
    endpoints_file.write_text('[{"name": "A", "apiUrl": "ftp://x", "apiKey": "k"}, oops')
    ids = {m.id for m in checks.run_checks(tags=["whatsapp"])}
    assert ids == {"whatsapp.E001"}
    write(endpoints_file, [{"name": "A", "apiUrl": "ftp://x", "apiKey": "k"}])
    ids = {m.id for m in checks.run_checks(tags=["whatsapp"])}
    assert ids == {"whatsapp.E005"}


def test_it_says_when_the_file_cannot_be_read(endpoints_file):
    messages = checks.run_checks(tags=["whatsapp"])
    assert [m.id for m in messages] == ["whatsapp.E009"]
    assert "WHATSAPP_ENDPOINTS_FILE" in messages[0].msg
    assert registry().names() == []


def test_the_endpoints_page_shows_file_endpoints_but_never_their_keys(endpoints_file, cast):
    write(endpoints_file, many(3))
    html = client_for(cast.superadmin).get("/admin/endpoints/").content.decode()
    assert "Tenant0002" in html
    assert "key-file-canary" not in html


def rows(html: str) -> list[str]:
    import re

    return re.findall(r"\?endpoint=(Tenant\d{4})", html)


def test_the_endpoints_page_searches_and_pages_through_two_thousand(endpoints_file, cast):
    write(endpoints_file, many(2000))
    client = client_for(cast.superadmin)
    first = client.get("/admin/endpoints/").content.decode()
    assert rows(first) == [f"Tenant{i:04d}" for i in range(50)]
    assert "Page 1 of 40" in first
    last = client.get("/admin/endpoints/?page=40").content.decode()
    assert rows(last)[-1] == "Tenant1999"
    by_name = client.get("/admin/endpoints/?q=tenant19").content.decode()
    assert "100 endpoints matching" in by_name
    assert rows(by_name)[0] == "Tenant1900"
    assert "Page 1 of 2" in by_name
    assert 'href="?q=tenant19&amp;page=2"' in by_name
    by_host = client.get("/admin/endpoints/?q=WA-0042.gateway").content.decode()
    assert rows(by_host) == ["Tenant0042"]
    nothing = client.get("/admin/endpoints/?q=nope&page=zz")
    assert nothing.status_code == 200
    assert "No endpoint name or host contains" in nothing.content.decode()


def options(html: str) -> list[str]:
    import re

    select = re.search(r'<select name="endpoint_name".*?</select>', html, re.S)[0]
    return [v for v in re.findall(r'<option value="([^"]*)"', select) if v]


def test_the_setup_dropdown_searches_and_pages_through_two_thousand(endpoints_file, cast):
    from whatsapp import services

    write(endpoints_file, many(2000))
    services.endpoint_assign(
        tenant=cast.tenant_a, endpoint_name="Tenant1500", actor=cast.superadmin
    )
    client = client_for(cast.superadmin)
    url = f"/admin/tenants/{cast.tenant_a.pk}/whatsapp"
    first = client.get(url).content.decode()
    # The assigned endpoint stays selectable, then the first page of names.
    assert options(first) == ["Tenant1500", *[f"Tenant{i:04d}" for i in range(50)]]
    assert "The list shows 1–50 of 2000." in first
    found = client.get(url + "?endpoint_q=tenant007").content.decode()
    assert options(found) == ["Tenant1500", *[f"Tenant{i:04d}" for i in range(70, 80)]]
    second = client.get(url + "?endpoint_q=&endpoint_page=2").content.decode()
    assert options(second)[1] == "Tenant0050"
    # Any configured name can be assigned, shown on the current page or not.
    response = client.post(f"{url}/assign", {"endpoint_name": "Tenant1999"})
    assert response.status_code == 302
    cast.tenant_a.whatsapp_config.refresh_from_db()
    assert cast.tenant_a.whatsapp_config.endpoint_name == "Tenant1999"
