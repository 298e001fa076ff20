"""Tests of whatsapp/views: the pages as people see them."""
