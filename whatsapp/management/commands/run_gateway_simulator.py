"""`manage.py run_gateway_simulator [--flavor ...]`: run the gateway simulator (foreground).

A thin wrapper: the options and the run are the `gateway_simulator` package's own CLI."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gateway_simulator import cli


class Command(BaseCommand):
    help = (
        "Run the gateway simulator as WAHA Core, WAHA Plus or Evolution API "
        "(the key defaults to $WAHA_API_KEY)."
    )
    # The simulator never touches the database, so skip the checks that would need it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            cli.run(options)
        except cli.UsageError as exc:
            message = str(exc)  # argparse-style, lower case; Django's errors read as sentences
            raise CommandError(f"{message[:1].upper()}{message[1:]}.") from None
