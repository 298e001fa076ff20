"""The gateway simulator's own tests: plain HTTP against real processes, no product code."""
