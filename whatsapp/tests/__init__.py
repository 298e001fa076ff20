"""Tests for the whatsapp app."""
