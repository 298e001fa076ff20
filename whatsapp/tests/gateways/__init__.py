"""Tests of whatsapp/gateways: the adapters against recorded and hostile answers."""
