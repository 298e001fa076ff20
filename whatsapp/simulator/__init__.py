"""A WAHA-compatible WhatsApp gateway simulator (stdlib only), run as its own process."""

from __future__ import annotations

from whatsapp.simulator.state import Knobs

__all__ = ["Knobs"]
