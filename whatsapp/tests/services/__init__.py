"""Tests of whatsapp/services: the use cases, gateway HTTP mocked."""
