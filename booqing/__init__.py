"""BooQing WhatsApp: the Django project package (settings, URL configurations, WSGI/ASGI)."""
