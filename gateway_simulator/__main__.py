"""`python -m gateway_simulator --flavor waha-core`: run the simulator (no Django needed)."""

from __future__ import annotations

import sys

from gateway_simulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
