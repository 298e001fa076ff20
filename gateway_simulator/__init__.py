"""A WhatsApp gateway simulator (WAHA Core, WAHA Plus, Evolution API; stdlib only), run alone."""

from __future__ import annotations

from whatsapp.simulator.state import Knobs

__all__ = ["Knobs"]
