"""Template tags and filters for the WhatsApp pages."""
