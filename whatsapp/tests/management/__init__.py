"""Tests of the whatsapp management commands."""
