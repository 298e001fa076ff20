"""Tenants: businesses on their own subdomains, their members, and the host-to-tenant routing."""
