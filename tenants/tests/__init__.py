"""Tests for the tenants app."""
