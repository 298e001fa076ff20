"""WSGI entry point (gunicorn booqing.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "booqing.settings")
application = get_wsgi_application()
