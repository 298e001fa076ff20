"""Pages of the WhatsApp integration: superadmin (platform host), tenant hosts, webhooks."""
