"""`manage.py run_gateway_simulator [--flavor ...]`: run the gateway simulator (foreground)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gateway_simulator.cli import add_arguments, knobs_from_options
from gateway_simulator.server import serve


class Command(BaseCommand):
    help = (
        "Run the gateway simulator as WAHA Core, WAHA Plus or Evolution API "
        "(the key defaults to $WAHA_API_KEY)."
    )
    # The simulator never touches the database, so skip the checks that would need it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["api_key"]:
            raise CommandError(
                "No API key: pass --api-key KEY or set WAHA_API_KEY (the simulator, like WAHA, "
                "refuses to run without one)."
            )
        try:
            knobs = knobs_from_options(options)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        try:
            serve(
                api_key=options["api_key"],
                host=options["host"],
                port=options["port"],
                public_url=options["public_url"],
                knobs=knobs,
                verbose=options["verbose"],
                flavor=options["flavor"],
                state_file=options["state_file"],
            )
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {options['host']}:{options['port']}: {exc}"
            ) from None
