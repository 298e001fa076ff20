"""`python -m gateway_simulator --flavor waha-core`: run the simulator without Django."""

from __future__ import annotations

import argparse
import logging
import sys

from gateway_simulator.cli import add_arguments, knobs_from_options
from gateway_simulator.server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway_simulator",
        description="A gateway simulator: WAHA Core, WAHA Plus or Evolution API.",
    )
    add_arguments(parser)
    options = vars(parser.parse_args(argv))
    if not options["api_key"]:
        parser.error(
            "no API key: pass --api-key KEY or set WAHA_API_KEY (WAHA refuses to run open)"
        )
    try:
        knobs = knobs_from_options(options)
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
