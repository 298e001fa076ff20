"""A WhatsApp gateway simulator (WAHA Core, WAHA Plus, Evolution API; stdlib only), run alone."""

from __future__ import annotations

from gateway_simulator.state import Knobs

__all__ = ["Knobs"]
