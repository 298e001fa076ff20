"""The simulator's command line: `python -m gateway_simulator` runs `main`; the product's
`manage.py run_gateway_simulator` is a thin wrapper over `add_arguments` and `run`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
from typing import Any

from gateway_simulator.flavors import DEFAULT_FLAVOR, FLAVORS
from gateway_simulator.server import serve
from gateway_simulator.state import Knobs, SimError

_HELP = {
    "latency_ms": "milliseconds added to every /api/* response",
    "failure_rate": "fraction (0..1) of /api/* calls answered 500",
    "reject_key": "answer 401 to every /api/* call",
    "duplicate_rate": "fraction (0..1) of webhooks delivered twice",
    "shuffle_webhooks": "deliver webhooks after small random delays, so order may change",
    "ack_delays": "comma-separated seconds after a send for SERVER,DEVICE,READ acks ('' = none)",
    "qr_first_ttl": "seconds the first QR code lives",
    "qr_next_ttl": "seconds each later QR code lives",
    "qr_max": "QR codes shown before the session goes FAILED",
    "start_delay": "seconds from STARTING to SCAN_QR_CODE (or WORKING when paired)",
    "not_on_whatsapp": "comma-separated numbers that sendText refuses with 400",
    "webhook_timeout": "seconds before a webhook POST times out",
    "webhooks_enabled": "deliver webhooks at all (off simulates a gateway gone silent)",
    "send_reply_shape": "sendText reply: string | object | key | empty (engine differences)",
    "not_ready_delay": "seconds a call waits for a session that is not ready before its 422",
    "stop_delay": "seconds WAHA pauses after stopping a session (real: about 3)",
    "create_delay": "seconds Evolution's instance create blocks (real: 5 to 7)",
    "key_not_enforced": "accept any API key or none (WAHA Core 2024.10.8 did)",
    "reply_delay_ms": "milliseconds a send waits after delivering before it answers",
    "fail_after_send_rate": "fraction (0..1) of sends answered 500 after delivering",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options common to both entry points; every knob gets its own --flag."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="port (default 3000; 0 = any free)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("WAHA_API_KEY", ""),
        help="the X-Api-Key clients must send (default: $WAHA_API_KEY)",
    )
    parser.add_argument(
        "--public-url",
        default=None,
        help="base URL of the phone pages in QR codes (default http://localhost:PORT)",
    )
    parser.add_argument(
        "--flavor",
        choices=FLAVORS,
        default=DEFAULT_FLAVOR,
        help=f"which real gateway to imitate (default {DEFAULT_FLAVOR})",
    )
    parser.add_argument(
        "--state-file",
        default=None,
        help="keep sessions in this JSON file so they survive a restart (like a gateway's volume)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument("--knobs", default=None, help="all knobs at once, as a JSON object")
    for item in dataclasses.fields(Knobs):
        flag = "--" + item.name.replace("_", "-")
        if item.type in ("bool", bool):
            parser.add_argument(
                flag,
                dest=item.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=_HELP.get(item.name),
            )
        else:
            parser.add_argument(flag, dest=item.name, default=None, help=_HELP.get(item.name))


def knobs_from_options(options: dict[str, Any]) -> Knobs:
    """Build Knobs from parsed options: --knobs JSON first, then the individual flags."""
    knobs = Knobs()
    try:
        if options.get("knobs"):
            values = json.loads(options["knobs"])
            if not isinstance(values, dict):
                raise SimError(400, "--knobs must be a JSON object")
            knobs.update(values)
        names = [item.name for item in dataclasses.fields(Knobs)]
        knobs.update({name: options[name] for name in names if options.get(name) is not None})
    except json.JSONDecodeError as exc:
        raise ValueError(f"--knobs is not valid JSON: {exc}") from None
    except SimError as exc:
        raise ValueError(exc.message) from None
    return knobs


class UsageError(Exception):
    """Options the simulator cannot run with; each entry point reports it in its own way."""


def run(options: dict[str, Any]) -> None:
    """Serve with parsed options (from `add_arguments`) until interrupted."""
    if not options["api_key"]:
        raise UsageError(
            "no API key: pass --api-key KEY or set WAHA_API_KEY (the simulator, like WAHA, "
            "refuses to run without one)"
        )
    try:
        knobs = knobs_from_options(options)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
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
        # The message keeps the OS's words ("Address already in use"): testing.py looks for them.
        raise UsageError(f"cannot listen on {options['host']}:{options['port']}: {exc}") from None


def main(argv: list[str] | None = None, prog: str = "python -m gateway_simulator") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="A gateway simulator: WAHA Core, WAHA Plus or Evolution API.",
    )
    add_arguments(parser)
    try:
        run(vars(parser.parse_args(argv)))
    except UsageError as exc:
        parser.error(str(exc))
    return 0
