"""The product under test: its environment, `migrate`, and in-process Django for seeding."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path

from . import PY, ROOT
from .run import log

# Variables from the caller's shell or a .env file that would change what we measure.
_SCRUB = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG", "TESTING")


def bench_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment for every process of a run: production-like settings (DEBUG off)."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update(
        DATABASE_URL=database_url,
        DJANGO_DEBUG="false",
        BASE_DOMAIN="localhost",
        ALLOWED_HOSTS="localhost,.localhost,127.0.0.1",
        DJANGO_HTTPS="false",
        WHATSAPP_WEBHOOK_BASE_URL="http://localhost:9",
        # Benchmarks measure throughput, not the per-token rate limit (empty: no limit).
        WHATSAPP_API_TOKEN_RATE="",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    env.update(extra)
    return env


def migrate(env: dict[str, str], logdir: Path) -> None:
    started = time.monotonic()
    out = logdir / "migrate.log"
    with out.open("wb") as fh:
        result = subprocess.run(
            [PY, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode:
        raise SystemExit(f"migrate failed:\n{out.read_text()[-3000:]}")
    log(f"migrated in {time.monotonic() - started:.1f}s")


def django_setup(env: dict[str, str]) -> None:
    """Configure Django in this process with the run's environment (for seeding and checks)."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "booqing.settings"
    import logging

    import django

    django.setup()
    # This process only seeds and checks; its INFO lines ("message queued ...") are noise here.
    logging.getLogger().setLevel(logging.WARNING)


def django_close() -> None:
    with contextlib.suppress(Exception):
        from django.db import connections

        connections.close_all()
