"""Authorisation matrix, secrets, redaction, webhook signatures and hostile input."""
