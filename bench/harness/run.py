"""A benchmark run's frame: common flags, log lines, log directory, host line, JSON output."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432"

_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", flush=True)


def common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pg",
        default=os.environ.get("BENCH_PG_URL", DEFAULT_PG),
        help="PostgreSQL server URL without a database name (default: %(default)s)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database and logs for inspection"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when the target is missed"
    )
    parser.add_argument(
        "--py-spy",
        metavar="DIR",
        help="sample the product's processes with py-spy while measured; stacks saved in DIR",
    )


@contextlib.contextmanager
def run_dir(prefix: str, keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"bench-{prefix}-"))
    try:
        yield path
    finally:
        if keep:
            log(f"logs kept in {path}")
        else:
            for child in path.iterdir():
                with contextlib.suppress(OSError):
                    child.unlink()
            with contextlib.suppress(OSError):
                path.rmdir()


def write_json(path: str | None, data: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=2, default=str))
        log(f"results written to {path}")


def machine_line() -> str:
    import platform

    return (
        f"host: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; {load_line()}"
    )


def load_line() -> str:
    """The load average: other work on the machine skews every figure, so print it."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load average unknown"
    warning = "  (busy machine: figures are noisy)" if one > (os.cpu_count() or 1) * 0.5 else ""
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min){warning}"
