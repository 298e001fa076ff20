"""The gateways the simulator imitates, with the facts that tell them apart (gateways-recorded/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WAHA_CORE = "waha-core"
WAHA_PLUS = "waha-plus"
EVOLUTION = "evolution"
FLAVORS = (WAHA_CORE, WAHA_PLUS, EVOLUTION)
DEFAULT_FLAVOR = WAHA_PLUS

CORE_ONLY_DEFAULT = (
    "WAHA Core support only 'default' session. If you want to run more then one WhatsApp "
    "account - please get WAHA PLUS version. Check this out: https://waha.devlike.pro/"
)
PLUS_ONLY = (
    "The feature is available only in Plus version. Check this out: https://waha.devlike.pro/"
)


@dataclass(frozen=True)
class Flavor:
    name: str
    provider: str  # "waha" or "evolution": the product's `provider` for this endpoint
    version: dict[str, Any] = field(default_factory=dict)
    signs_webhooks: bool = False
    retries_webhooks: bool = False
    envelope_ids: bool = False  # WAHA Plus envelopes carry "id" and "timestamp"; Core's do not
    only_default: bool = False
    hides_hmac_key: bool = False
    user_agent: str = "WAHA-Simulator/1.0"

    @property
    def is_waha(self) -> bool:
        return self.provider == "waha"

    @property
    def is_core(self) -> bool:
        return self.name == WAHA_CORE

    @property
    def engine(self) -> str:
        return str(self.version.get("engine", "SIMULATOR"))

    @property
    def environment(self) -> dict[str, Any]:
        return dict(self.version)


_FLAVORS = {
    WAHA_CORE: Flavor(
        name=WAHA_CORE,
        provider="waha",
        version={
            "version": "2024.10.8",
            "engine": "NOWEB",
            "tier": "CORE",
            "browser": "/usr/bin/chromium",
        },
        only_default=True,
        user_agent="WAHA/2024.10.8",
    ),
    WAHA_PLUS: Flavor(
        name=WAHA_PLUS,
        provider="waha",
        version={"version": "sim-1.0", "engine": "SIMULATOR", "tier": "PLUS"},
        signs_webhooks=True,
        retries_webhooks=True,
        envelope_ids=True,
        hides_hmac_key=True,
    ),
    EVOLUTION: Flavor(
        name=EVOLUTION,
        provider="evolution",
        version={"version": "2.3.6", "clientName": "evolution_exchange"},
        retries_webhooks=True,
        user_agent="axios/1.12.2",
    ),
}


def flavor_named(name: str) -> Flavor:
    try:
        return _FLAVORS[name]
    except KeyError:
        raise ValueError(f"Unknown flavor {name!r}: choose one of {', '.join(FLAVORS)}") from None
