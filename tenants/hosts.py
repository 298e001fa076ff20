"""Pure functions that turn a request's Host header into a tenant subdomain."""

from __future__ import annotations

from dataclasses import dataclass

from tenants.models import RESERVED_SUBDOMAINS


@dataclass(frozen=True)
class HostMatch:
    """`is_platform` for the bare base domain; `subdomain` for a tenant host; neither = not ours."""

    is_platform: bool = False
    subdomain: str | None = None

    @property
    def is_unknown(self) -> bool:
        return not self.is_platform and self.subdomain is None


def normalise_host(host: str) -> str:
    """Lower-case, strip the port (IPv6-aware) and a trailing dot."""
    host = (host or "").strip().lower()
    if host.startswith("["):
        host = host.split("]", 1)[0] + "]"
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def subdomain_from_host(host: str, base_domain: str) -> HostMatch:
    """`acme.booqing.my.id` -> subdomain "acme"; the base domain itself -> platform.

    Multi-level subdomains (`a.b.booqing.my.id`), reserved names and anything outside the base
    domain are unknown, and the middleware answers 404 for them.
    """
    host = normalise_host(host)
    base = normalise_host(base_domain)
    if not host or not base:
        return HostMatch()
    if host == base:
        return HostMatch(is_platform=True)
    suffix = "." + base
    if not host.endswith(suffix):
        return HostMatch()
    label = host[: -len(suffix)]
    if not label or "." in label or label in RESERVED_SUBDOMAINS:
        return HostMatch()
    return HostMatch(subdomain=label)
