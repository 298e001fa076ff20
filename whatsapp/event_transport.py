"""HTTP to the booking product's event endpoints: address checks (SSRF) and one short POST.

Kept apart from the gateway seam (gateways/base.py): these URLs are typed by tenants, not by the
operator, so they are checked against private addresses and never followed through redirects.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings

# A slow or dead endpoint costs one events worker at most this long, never a send or a webhook.
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0
MAX_ANSWER_CHARS = 300
_session = requests.Session()


class UnsafeUrl(ValueError):
    """The URL is malformed or points at an address we refuse to call."""


@dataclass(frozen=True)
class Answer:
    ok: bool
    status_code: int | None
    text: str
    duration_ms: int
    retry_after: float | None = None


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def url_check(url: str, *, resolve: bool = True) -> str:
    """The URL if it is an http(s) URL whose host resolves only to public addresses.

    Loopback, private, link-local (cloud metadata) and other non-global addresses are refused
    unless WHATSAPP_EVENTS_ALLOW_PRIVATE_URLS is set (development and tests).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("must be an http:// or https:// URL with a host name")
    if parts.username or parts.password:
        raise UnsafeUrl("must not contain a user name or password")
    if settings.WHATSAPP_EVENTS_ALLOW_PRIVATE_URLS or not resolve:
        return url
    try:
        infos = socket.getaddrinfo(
            parts.hostname,
            port or (443 if parts.scheme == "https" else 80),
            type=socket.SOCK_STREAM,
        )
    except (OSError, UnicodeError):
        raise UnsafeUrl(f"has a host name that does not resolve ({parts.hostname})") from None
    if not infos or any(_is_private(info[4][0]) for info in infos):
        raise UnsafeUrl(
            "points at a private or loopback address; events go only to public addresses"
        )
    return url


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def post_event(url: str, *, body: str, headers: dict[str, str]) -> Answer:
    """One POST; never raises, never follows a redirect, reads at most a short answer."""
    started = time.monotonic()
    try:
        url_check(url)  # checked again now: DNS may have changed since the endpoint was saved
        response = _session.post(
            url,
            data=body.encode(),
            headers={"Content-Type": "application/json", **headers},
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
            stream=True,
        )
        try:
            raw = response.raw.read(MAX_ANSWER_CHARS * 4, decode_content=True) or b""
        finally:
            response.close()
    except UnsafeUrl as exc:
        return Answer(False, None, f"Refused: the URL {exc}.", _ms(started))
    except requests.Timeout:
        return Answer(False, None, "No answer within the timeout.", _ms(started))
    except requests.RequestException as exc:
        return Answer(False, None, f"Could not connect ({type(exc).__name__}).", _ms(started))
    text = raw.decode("utf-8", errors="replace")[:MAX_ANSWER_CHARS]
    return Answer(
        ok=200 <= response.status_code < 300,
        status_code=response.status_code,
        text=text,
        duration_ms=_ms(started),
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
