"""Tests against a live gateway simulator process and a live server."""
