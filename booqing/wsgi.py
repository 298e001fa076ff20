"""WSGI entry point (gunicorn booqing.wsgi; `runserver` loads it too)."""

import os

from django.core.servers import basehttp
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "booqing.settings")
application = get_wsgi_application()

# `runserver` (what `make run` serves) listens with a backlog of 10: a burst of 50 gateway
# connections overflowed it and connections were reset before Django saw them. runserver builds
# its server after loading this module, so a longer queue set here applies (gunicorn has its own
# --backlog, 2048 by default).
basehttp.WSGIServer.request_queue_size = 128
