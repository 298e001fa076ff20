"""Tests of whatsapp/api: the tenant JSON API."""
