"""Real Chromium through Playwright."""
