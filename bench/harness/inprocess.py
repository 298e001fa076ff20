"""The web benchmarks' breakdowns: the product called in-process through Django's WSGI handler
(no network, no gunicorn), and a step-by-step timing table of such calls."""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Callable, Mapping

from .stats import median


def wsgi_app() -> Callable:
    """Django's WSGI handler for in-process requests; needs django_setup()."""
    # Django is set up only once the benchmark has created and migrated its database.
    from django.core.handlers.wsgi import WSGIHandler

    warnings.simplefilter("ignore")  # whitenoise: "No directory at .../staticfiles/"
    return WSGIHandler()


def wsgi_call(
    app: Callable, method: str, path: str, *, body: bytes = b"", environ: Mapping[str, str] = {}
) -> str:
    """One request through `app`, its body read and closed; its status line ('200 OK')."""
    request = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        **environ,
    }
    status: list[str] = []
    response = app(request, lambda s, headers: status.append(s))
    b"".join(response)
    response.close()
    return status[0]


def time_cases(
    cases: Mapping[str, Callable[[], object]], *, reps: int, calls: int, width: int
) -> list[str]:
    """Each case `calls` times per repetition (after 20 untimed), cases interleaved so drift hits
    them alike; one line a case with its min and median ms per call."""
    timings: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(reps):
        for label, call in cases.items():
            for _ in range(20):
                call()
            started = time.perf_counter()
            for _ in range(calls):
                call()
            timings[label].append((time.perf_counter() - started) / calls * 1000)
    return [
        f"{label:<{width}} min {min(ms):6.3f} ms  median {median(ms):6.3f} ms"
        for label, ms in timings.items()
    ]
