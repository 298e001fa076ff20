"""WhatsApp gateway adapters: pick one by the endpoint's provider with `gateway_for()`."""

from __future__ import annotations

from whatsapp.endpoints import EndpointConfig
from whatsapp.gateways.base import (
    DEFAULT_TIMEOUT,
    Ack,
    Event,
    Gateway,
    GatewayError,
    Health,
    HttpGateway,
    InboundMessage,
    QrCode,
    SentMessage,
    SessionStatus,
    StatusChange,
    WebhookParseError,
    close_pooled_sessions,
    pooled_session,
)
from whatsapp.gateways.evolution import EvolutionGateway
from whatsapp.gateways.waha import WahaGateway

GATEWAYS: dict[str, type[HttpGateway]] = {
    WahaGateway.provider: WahaGateway,
    EvolutionGateway.provider: EvolutionGateway,
}


def gateway_for(endpoint: EndpointConfig, *, timeout: float | None = None) -> Gateway:
    """The adapter for an endpoint, sharing one pooled HTTP session per endpoint name."""
    try:
        cls = GATEWAYS[endpoint.provider]
    except KeyError:
        raise ValueError(
            f"Endpoint '{endpoint.name}' has unknown provider {endpoint.provider!r}; "
            f"use one of: {', '.join(GATEWAYS)}."
        ) from None
    return cls(
        endpoint,
        timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
        session=pooled_session(endpoint.name),
    )


__all__ = [
    "GATEWAYS",
    "Ack",
    "Event",
    "EvolutionGateway",
    "Gateway",
    "GatewayError",
    "Health",
    "InboundMessage",
    "QrCode",
    "SentMessage",
    "SessionStatus",
    "StatusChange",
    "WahaGateway",
    "WebhookParseError",
    "close_pooled_sessions",
    "gateway_for",
]
